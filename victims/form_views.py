"""Register a victim into a case, and edit one. Same shape as cases.form_views: a form parses,
one service writes, its ValidationError goes back onto the fields (400, nothing saved), an edit
from a stale version answers 409 with the current values.

Who may: a case officer whose institution holds *colaborar* on the case. Identity fields are
offered only to those who may write them (victims.services.victim_register_in_case): on
registration the lead or a grantee with identity access on a legal basis; on an edit, those who
may read this victim's identity, and only after "Mostrar y corregir la identidad" (a POST,
audited like every reveal).

Registration warns about a possible duplicate before saving: as soon as the document is typed
(htmx, duplicate_warning_view) and again on submit, which works without JavaScript. The check
is victims.identity.duplicate_check: audited, answering with institution names only. Saving
anyway takes an explicit "Registrar de todas formas".
"""

from __future__ import annotations

from functools import partial

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from cases.access import is_case_officer, require_case_permission
from cases.constants import CasePermission
from cases.models import Case
from cases.person_edit import PersonEditPage
from cases.selectors import case_get
from kernel.forms import initial_values, render_form
from kernel.web import confidential
from victims.forms import DUPLICATE_WARNING_ID, VictimCreateForm, VictimEditForm
from victims.identity import duplicate_check, victim_identity_reveal
from victims.models import CaseVictim
from victims.selectors import case_identity_allowed, victim_identity_allowed
from victims.services import CASE_VICTIM_EDITABLE_FIELDS, victim_register_in_case, victim_update

VICTIM_FORM = "victims/forms/victim_form.html"
DUPLICATE_WARNING = "victims/forms/_duplicate_warning.html"
VICTIM_STATISTICAL_FIELDS = ("sex", "nationality", "birth_year", "age_at_identification")


def _victims_page(case: Case) -> HttpResponse:
    return redirect("cases:victims", case_id=case.pk)


def _holders(user, document_type: str, document_number: str) -> list[str]:
    """Institutions holding this document in records the user cannot see ([] for a malformed
    document: its error is reported on the field when the form is saved)."""
    try:
        return duplicate_check(user=user, document_type=document_type, document_number=document_number)
    except ValidationError:
        return []


@require_POST
@login_required
@confidential
def duplicate_warning_view(request):
    """The warning region of the registration form, refreshed by htmx when the document changes.

    POST only: the document number travels in the body, never in a URL. Answers 200 with an
    empty region when there is nothing to say, so htmx always swaps it in.
    """
    if not is_case_officer(request.user):
        raise PermissionDenied(_("Su rol no permite registrar víctimas."))
    document_type = request.POST.get("document_type", "")
    document_number = request.POST.get("document_number", "").strip()
    holders = _holders(request.user, document_type, document_number) if document_type and document_number else []
    return render(request, DUPLICATE_WARNING, {"holders": holders})


@require_http_methods(["GET", "POST"])
@login_required
@confidential
def victim_create_view(request, case_id: int):
    require_case_permission(request.user, case_id, CasePermission.COLLABORATE, write=True)
    case = case_get(user=request.user, case_id=case_id)
    identity = case_identity_allowed(user=request.user, case=case)
    context = {"case": case, "creating": True, "warning_id": DUPLICATE_WARNING_ID}
    if request.method == "GET":
        initial = {"purpose": case.purpose, "region_detected": case.region_detected}
        return render_form(request, VICTIM_FORM, VictimCreateForm(identity=identity, initial=initial), context)
    form = VictimCreateForm(request.POST, identity=identity)
    if form.is_valid():
        data = form.cleaned_data
        holders = (
            _holders(request.user, data["document_type"], data["document_number"])
            if form.wants_duplicate_check()
            else []
        )
        if holders:
            # Nothing saved: the officer confirms, or looks for the person first.
            return render(request, VICTIM_FORM, {"form": form, "holders": holders, **context}, status=409)
        try:
            link = victim_register_in_case(
                actor=request.user, case_id=case.pk, data=form.person_data(), link_data=form.link_data()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Víctima %(code)s registrada en la causa.") % {"code": link.victim.code})
            return _victims_page(case)
    return render_form(request, VICTIM_FORM, form, context)


def _victim_initial(link: CaseVictim) -> dict:
    return {
        **initial_values(link.victim, VICTIM_STATISTICAL_FIELDS),
        **initial_values(link, CASE_VICTIM_EDITABLE_FIELDS),
        "version": link.victim.version,
    }


VICTIM_EDIT = PersonEditPage(
    person="victim",
    form_class=VictimEditForm,
    template=VICTIM_FORM,
    initial=_victim_initial,
    saved_message=gettext_lazy("Cambios de la víctima %(code)s guardados."),
    done_url="cases:victims",
)


@require_http_methods(["GET", "POST"])
@login_required
@confidential
def victim_edit_view(request, case_id: int, victim_id):
    require_case_permission(request.user, case_id, CasePermission.COLLABORATE, write=True)
    case = case_get(user=request.user, case_id=case_id)
    link = get_object_or_404(CaseVictim.objects.select_related("victim"), case_id=case.pk, victim_id=victim_id)
    context = {
        "case": case,
        "victim": link.victim,
        "creating": False,
        "identity_allowed": victim_identity_allowed(user=request.user, victim=link.victim),
    }
    return VICTIM_EDIT.respond(
        request,
        link=link,
        context=context,
        reveal=partial(
            victim_identity_reveal,
            user=request.user,
            victim_id=link.victim_id,
            ip_address=request.META.get("REMOTE_ADDR"),
        ),
        update=partial(victim_update, actor=request.user, case_id=case.pk, victim_id=link.victim_id),
    )
