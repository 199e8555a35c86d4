"""Case pages. Thin: parse input, call one selector or service, render.

Visibility comes from cases.selectors / cases.access: a case the user's institution may not see
answers 404 on every page; a visible case the user may not act on answers 403.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.access import is_case_officer, user_case_permissions
from cases.constants import CasePermission
from cases.filters import SORT_LABELS, CaseDocumentSearchForm, CaseFilterForm
from cases.models import Case, Offender
from cases.selectors import (
    access_requests_for_lead,
    case_access_history_page,
    case_access_requests,
    case_change_history_page,
    case_consents,
    case_get,
    case_history_access_scope,
    case_list_page,
    case_offender_identity_allowed,
    case_shares,
    case_victim_ids_with_identity,
    lead_institution_choices,
)
from cases.sharing import access_request_decide, case_share, case_unshare
from institutions.models import Institution
from kernel.client_ip import client_ip
from kernel.errors import DomainError
from kernel.web import confidential, refused_input
from victims.identity import (
    case_search_by_document,
    case_victims_identity_reveal,
    identity_rows,
    offender_identity_reveal,
)
from victims.selectors import case_victims

PAGE_SIZE = 25
LIST_TARGET = "listado"  # the element an htmx filter or page request replaces


# The list's columns in display order: a sort key (cases.filters.SORT_COLUMNS), or None.
LIST_COLUMNS = (
    ("ruc", SORT_LABELS["ruc"]),
    ("ingreso", SORT_LABELS["ingreso"]),
    ("estado", SORT_LABELS["estado"]),
    (None, gettext_lazy("Fin de explotación")),
    ("institucion", SORT_LABELS["institucion"]),
    ("actualizacion", SORT_LABELS["actualizacion"]),
)


def _list_headers(form: CaseFilterForm) -> list[dict]:
    """Each column header: for a sortable one, the link that sorts by it (filters kept; a
    second click reverses the order) and its aria-sort."""
    current = form.cleaned_data.get("orden", "")
    kept = form.kept_parameters(without=("orden",))
    headers = []
    for key, label in LIST_COLUMNS:
        if key is None:
            headers.append({"label": label})
            continue
        direction = {key: "ascending", f"-{key}": "descending"}.get(current, "")
        # Dates open newest first; text columns A to Z; a sorted column flips.
        first = f"-{key}" if key in ("actualizacion", "ingreso") else key
        target = {"ascending": f"-{key}", "descending": key}.get(direction, first)
        query = f"{kept}&orden={target}" if kept else f"orden={target}"
        headers.append({"label": label, "aria_sort": direction, "query": query, "sortable": True})
    return headers


@require_http_methods(["GET", "POST"])
@login_required
@confidential
def case_list_view(request):
    """Causas: search, filters and sort by GET (bookmarkable, kept in the page links); the
    search by a victim's document number by POST (cases.filters.CaseDocumentSearchForm says
    why). With htmx, a filter or page request targeting the results gets only the results.
    """
    form = CaseFilterForm(request.GET, institutions=lead_institution_choices())
    form.is_valid()  # errors are shown next to their fields; valid filters still apply
    document_form = CaseDocumentSearchForm(request.POST if request.method == "POST" else None)
    document_rows = None
    if request.method == "POST" and document_form.is_valid():
        document_rows = case_search_by_document(
            user=request.user,
            document_type=document_form.cleaned_data["tipo"],
            document_number=document_form.cleaned_data["numero"],
        )
    criteria = form.criteria()
    # A document search answers with its own results only: the listing is not read for it.
    page = None
    if request.method == "GET":
        page = case_list_page(user=request.user, number=request.GET.get("pagina"), size=PAGE_SIZE, **criteria)
    context = {
        "form": form,
        "document_form": document_form,
        "document_rows": document_rows,
        "page": page,
        "kept": form.kept_parameters(),
        "headers": _list_headers(form),
        "filtered": bool(criteria["query"] or criteria["filters"]),
        "list_target": LIST_TARGET,
        "can_create": is_case_officer(request.user),
    }
    partial = request.htmx and request.htmx.target == LIST_TARGET and request.method == "GET"
    template = "cases/_case_list_results.html" if partial else "cases/case_list.html"
    status = 400 if request.method == "POST" and not document_form.is_valid() else 200
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


# --- the case page and its tabs -----------------------------------------------------------------

TABS = (
    ("detail", gettext_lazy("Resumen"), None),
    ("victims", gettext_lazy("Víctimas"), None),
    ("offenders", gettext_lazy("Imputados"), None),
    ("share", gettext_lazy("Compartir"), CasePermission.ADMINISTER),
    ("history", gettext_lazy("Historial"), None),
)


def _case_tabs(case: Case, permissions: frozenset[str], current: str) -> list[dict]:
    """The tabs this user has: "compartir" is the lead's (administrar); the others, everyone's
    who sees the case."""
    return [
        {"label": label, "url": reverse(f"cases:{name}", args=[case.pk]), "current": name == current}
        for name, label, needs in TABS
        if needs is None or needs in permissions
    ]


def _case_context(request, case_id: int, tab: str) -> dict:
    """The case (404 unless visible), what the institution holds on it, and the tab bar."""
    case = case_get(user=request.user, case_id=case_id)
    permissions = user_case_permissions(request.user, case.pk)
    return {
        "case": case,
        "permissions": permissions,
        "tabs": _case_tabs(case, permissions, tab),
        "can_edit": CasePermission.COLLABORATE in permissions and is_case_officer(request.user),
    }


@require_GET
@login_required
@confidential
def case_detail_view(request, case_id: int):
    """Resumen: the case's facts, its references and who is in it, by pseudonym."""
    context = _case_context(request, case_id, "detail")
    case = context["case"]
    context["victim_links"] = case_victims(user=request.user, case_id=case.pk).order_by("victim__code")
    context["offender_links"] = case.offender_links.select_related("offender").order_by("offender__code")
    context["external_references"] = case.external_references.order_by("source", "reference")
    return render(request, "cases/case_detail.html", context)


@require_GET
@login_required
@confidential
def case_victims_view(request, case_id: int):
    """Víctimas: pseudonym and statistical fields; "Mostrar identidad" (an audited POST to
    victims:identity) only for the victims whose identity the user may read."""
    context = _case_context(request, case_id, "victims")
    context["victim_links"] = case_victims(user=request.user, case_id=case_id).order_by("victim__code")
    context["identity_ids"] = case_victim_ids_with_identity(user=request.user, case_id=case_id)
    return render(request, "cases/case_victims.html", context)


@require_POST
@login_required
@confidential
def case_victims_identity_view(request, case_id: int):
    """ "Mostrar la identidad de todas": the víctimas tab with every readable identity shown,
    each read recorded in the access log (victims.identity.case_victims_identity_reveal)."""
    identities = case_victims_identity_reveal(user=request.user, case_id=case_id, ip_address=client_ip(request))
    context = _case_context(request, case_id, "victims")
    links = list(case_victims(user=request.user, case_id=case_id).order_by("victim__code"))
    for link in links:
        link.identity = identities.get(link.victim_id)
    context["victim_links"] = links
    context["identity_ids"] = set(identities)
    context["identities_shown"] = True
    return render(request, "cases/case_victims.html", context)


@require_GET
@login_required
@confidential
def case_offenders_view(request, case_id: int):
    """Imputados: pseudonym and statistical fields; identity through cases:offender_identity."""
    context = _case_context(request, case_id, "offenders")
    case = context["case"]
    context["offender_links"] = case.offender_links.select_related("offender").order_by("offender__code")
    context["identity_allowed"] = case_offender_identity_allowed(
        user=request.user, case=case, permissions=context["permissions"]
    )
    return render(request, "cases/case_offenders.html", context)


@require_GET
@login_required
@confidential
def case_history_view(request, case_id: int):
    """Historial: the changes to the case and its links (pghistory), and the access log about
    the case and its victims (identity reveals, shares, requests).

    Who sees it: everyone whose institution sees the case, as the changes are case facts. The
    access log is the lead's to oversee (administrar): the lead sees every institution's events,
    reveals by grantees included; a grantee sees only its own institution's.
    """
    context = _case_context(request, case_id, "history")
    case = context["case"]
    scope = case_history_access_scope(user=request.user, permissions=context["permissions"])
    context["changes"] = case_change_history_page(case=case, number=request.GET.get("pagina_cambios"))
    context["accesses"] = case_access_history_page(
        case=case, institution_id=scope, number=request.GET.get("pagina_accesos")
    )
    context["all_institutions"] = scope is None
    # Each list's page links keep the other list's page.
    context["changes_links_keep"] = f"pagina_accesos={context['accesses'].number}"
    context["accesses_links_keep"] = f"pagina_cambios={context['changes'].number}"
    return render(request, "cases/case_history.html", context)


def _share_form_input(request) -> dict:
    return {
        "institution": request.POST.get("institution", ""),
        "reason": request.POST.get("reason", ""),
        "can_view_identity": request.POST.get("can_view_identity") == "on",
        "can_collaborate": request.POST.get("can_collaborate") == "on",
        "legal_basis": request.POST.get("legal_basis", ""),
        "consents": [int(value) for value in request.POST.getlist("consents") if value.isdigit()],
    }


def _share_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Field name → messages; errors of no field under "general" (templates cannot read "__all__")."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
    return {("general" if name == NON_FIELD_ERRORS else name): texts for name, texts in errors.items()}


@require_http_methods(["GET", "POST"])
@login_required
@confidential
@refused_input
def case_share_view(request, case_id: int):
    """Compartir: the grants of the case, the consents of its victims and the access requests
    about it; the lead shares from here. A refused share comes back on this page with the
    errors next to their fields and what was typed kept (400), or the rule it broke (409)."""
    shares = case_shares(user=request.user, case_id=case_id)  # 404 / 403 unless the lead's
    submitted, errors, status = {"consents": []}, {}, 200
    if request.method == "POST":
        submitted = _share_form_input(request)
        institution_id = submitted["institution"]
        institution = Institution.objects.filter(pk=institution_id).first() if institution_id.isdigit() else None
        try:
            case_share(
                actor=request.user,
                case_id=case_id,
                institution=institution,
                reason=submitted["reason"],
                can_view_identity=submitted["can_view_identity"],
                can_collaborate=submitted["can_collaborate"],
                legal_basis=submitted["legal_basis"],
                consent_ids=submitted["consents"],
            )
        except ValidationError as exc:
            errors, status = _share_errors(exc), 400
        except DomainError as exc:
            errors, status = {"general": [exc.message]}, 409
        else:
            messages.success(request, _("La causa quedó compartida."))
            return redirect("cases:share", case_id=case_id)
    context = _case_context(request, case_id, "share")
    case = context["case"]
    context.update(
        {
            "shares": shares.prefetch_related("consents__victim"),
            "institutions": Institution.objects.filter(is_active=True).exclude(pk=case.lead_institution_id),
            "consents": case_consents(case_id=case.pk),
            "victim_links": case_victims(user=request.user, case_id=case.pk).order_by("victim__code"),
            "access_requests": case_access_requests(case_id=case.pk),
            "submitted": submitted,
            "errors": errors,
            "can_write": is_case_officer(request.user),
        }
    )
    return render(request, "cases/case_share.html", context, status=status)


@require_POST
@login_required
@refused_input(labels={"reason": gettext_lazy("Motivo de la revocación")})
def case_unshare_view(request, case_id: int, share_id: int):
    get_object_or_404(case_shares(user=request.user, case_id=case_id), pk=share_id)  # 404/403 unless the lead's
    case_unshare(actor=request.user, share_id=share_id, reason=request.POST.get("reason", ""))
    return redirect("cases:share", case_id=case_id)


@require_POST
@login_required
@confidential
@refused_input
def offender_identity_view(request, case_id: int, offender_id):
    identity = offender_identity_reveal(
        user=request.user, case_id=case_id, offender_id=offender_id, ip_address=client_ip(request)
    )
    context = {
        "title": _("Identidad del imputado"),
        "rows": identity_rows(Offender, identity),
        "back_url": reverse("cases:offenders", args=[case_id]),
        "back_label": _("Volver a los imputados de la causa"),
    }
    return render(request, "cases/identity.html", context)


@require_GET
@login_required
@confidential  # requests name people by document-derived matches and free-text reasons
def access_request_list_view(request):
    return render(request, "cases/access_requests.html", {"requests": access_requests_for_lead(user=request.user)})


@require_POST
@login_required
@refused_input(labels={"decision": gettext_lazy("Decisión"), "note": gettext_lazy("Nota de la decisión")})
def access_request_decide_view(request, request_id: int):
    get_object_or_404(access_requests_for_lead(user=request.user), pk=request_id)
    access_request_decide(
        actor=request.user,
        request_id=request_id,
        approve={"aprobar": True, "rechazar": False}.get(request.POST.get("decision", "")),
        note=request.POST.get("note", ""),
        can_view_identity=request.POST.get("can_view_identity") == "on",
        legal_basis=request.POST.get("legal_basis", ""),
    )
    return redirect("cases:access_requests")
