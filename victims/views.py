"""Victim pages: pseudonym and statistics by default; identity only through an audited action."""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.access import is_case_officer
from cases.sharing import access_request_create
from institutions.models import Institution
from kernel.client_ip import client_ip
from kernel.errors import DomainError
from kernel.identity_documents import DocumentType
from kernel.web import confidential, refused_input
from victims.consent import consent_record, consent_withdraw
from victims.constants import VictimPermission
from victims.identity import duplicate_check, identity_rows, victim_identity_reveal
from victims.models import Victim
from victims.selectors import caseless_victim_permissions, victim_get, victim_identity_allowed, victim_shares
from victims.sharing import share_permissions, victim_share, victim_unshare


@require_GET
@login_required
@confidential
def victim_detail_view(request, victim_id):
    victim = victim_get(user=request.user, victim_id=victim_id)
    identity_allowed = victim_identity_allowed(user=request.user, victim=victim)
    context = {
        "victim": victim,
        "identity_allowed": identity_allowed,
        # The same rule as victims.consent: identity access and a case officer's role.
        "can_manage_consent": identity_allowed and is_case_officer(request.user),
        "consents": victim.consents.order_by("-given_on"),
        **_sharing_section(request, victim),
    }
    return render(request, "victims/victim_detail.html", context)


def _sharing_section(request, victim: Victim) -> dict:
    """A victim with no case, seen by its registering institution: who it is shared with (no
    query for anyone else)."""
    if victim.registering_institution_id != request.user.institution_id:
        return {"can_share": False}
    if VictimPermission.ADMINISTER not in caseless_victim_permissions(user=request.user, victim=victim):
        return {"can_share": False}
    active = victim.shares.filter(revoked_at__isnull=True).select_related("institution").order_by("-created_at")
    return {"can_share": True, "active_shares": active}


@require_POST
@login_required
@confidential
def victim_identity_view(request, victim_id):
    """'Mostrar identidad': a POST, because reading identity is an audited act, not a page view."""
    identity = victim_identity_reveal(user=request.user, victim_id=victim_id, ip_address=client_ip(request))
    context = {
        "title": _("Identidad de la víctima"),
        "rows": identity_rows(Victim, identity),
        "back_url": reverse("victims:detail", args=[victim_id]),
        "back_label": _("Volver a la víctima"),
    }
    return render(request, "cases/identity.html", context)


def _date_or_none(value: str | None) -> datetime.date | None:
    # An unreadable date becomes None: the service checks permission first, then reports the
    # missing date on its field, so the answer never depends on input the user may not send.
    try:
        return datetime.date.fromisoformat(value or "")
    except ValueError:
        return None


@require_POST
@login_required
@refused_input
def consent_record_view(request, victim_id):
    consent_record(
        actor=request.user,
        victim_id=victim_id,
        given_on=_date_or_none(request.POST.get("given_on")),
        scope=request.POST.get("scope", ""),
    )
    return redirect("victims:detail", victim_id=victim_id)


@require_POST
@login_required
@refused_input
def consent_withdraw_view(request, victim_id, consent_id: int):
    consent_withdraw(actor=request.user, victim_id=victim_id, consent_id=consent_id)
    return redirect("victims:detail", victim_id=victim_id)


@require_http_methods(["GET", "POST"])
@login_required
@confidential
@refused_input
def duplicate_check_view(request):
    """'¿Ya está registrada esta persona?' — answers only with institution names.

    The document number travels in the body of a POST, never in the URL (URLs end up in server
    logs and browser history)."""
    document_type = request.POST.get("tipo", DocumentType.RUN)
    number = request.POST.get("numero", "") if request.method == "POST" else ""
    institutions = (
        duplicate_check(user=request.user, document_type=document_type, document_number=number) if number else []
    )
    return render(
        request,
        "victims/duplicate_check.html",
        {"institutions": institutions, "document_type": document_type, "number": number, "types": DocumentType},
    )


@require_POST
@login_required
@refused_input(labels={"reason": gettext_lazy("Motivo")})
def access_request_create_view(request):
    requests = access_request_create(
        actor=request.user,
        document_type=request.POST.get("tipo", ""),
        document_number=request.POST.get("numero", ""),
        reason=request.POST.get("reason", ""),
    )
    return render(request, "victims/access_requested.html", {"count": len(requests)})


# --- sharing a victim with no case (victims.sharing) --------------------------------------------


def _share_form_input(request) -> dict:
    consent = request.POST.get("consent", "")
    return {
        "institution": request.POST.get("institution", ""),
        "reason": request.POST.get("reason", ""),
        "can_view_identity": request.POST.get("can_view_identity") == "on",
        "can_collaborate": request.POST.get("can_collaborate") == "on",
        "legal_basis": request.POST.get("legal_basis", ""),
        "consent": int(consent) if consent.isdigit() else None,
    }


def _field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """Field name → messages; errors of no field under "general" (templates cannot read "__all__")."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
    return {("general" if name == NON_FIELD_ERRORS else name): texts for name, texts in errors.items()}


@require_http_methods(["GET", "POST"])
@login_required
@confidential
@refused_input
def victim_share_view(request, victim_id):
    """Compartir a victim with no case: its grants and the form to share it, for the registering
    institution (404 unless the victim is visible, 403 for a grantee or once it has a case). A
    refused share comes back on this page with the errors next to their fields and what was typed
    kept (400), or the rule it broke (409); nothing is saved then."""
    victim, shares = victim_shares(user=request.user, victim_id=victim_id)
    submitted, errors, status = {}, {}, 200
    if request.method == "POST":
        submitted = _share_form_input(request)
        institution_id = submitted["institution"]
        institution = Institution.objects.filter(pk=institution_id).first() if institution_id.isdigit() else None
        try:
            victim_share(
                actor=request.user,
                victim_id=victim.pk,
                institution=institution,
                reason=submitted["reason"],
                can_view_identity=submitted["can_view_identity"],
                can_collaborate=submitted["can_collaborate"],
                legal_basis=submitted["legal_basis"],
                consent_id=submitted["consent"],
            )
        except ValidationError as exc:
            errors, status = _field_errors(exc), 400
        except DomainError as exc:
            errors, status = {"general": [exc.message]}, 409
        else:
            messages.success(request, _("La víctima quedó compartida."))
            return redirect("victims:share", victim_id=victim.pk)
    shares = list(shares)
    for share in shares:
        share.permission_labels = [PERMISSION_LABELS[name] for name in share_permissions(share)]
    context = {
        "victim": victim,
        "shares": shares,
        "institutions": Institution.objects.filter(is_active=True)
        .exclude(pk=victim.registering_institution_id)
        .order_by("name"),
        "consents": victim.consents.filter(withdrawn_on__isnull=True).order_by("-given_on", "-id"),
        "submitted": submitted,
        "errors": errors,
        "can_write": is_case_officer(request.user),
    }
    return render(request, "victims/victim_share.html", context, status=status)


PERMISSION_LABELS = {
    VictimPermission.VIEW: gettext_lazy("ver"),
    VictimPermission.VIEW_IDENTITY: gettext_lazy("ver identidad"),
    VictimPermission.COLLABORATE: gettext_lazy("colaborar"),
}


@require_POST
@login_required
@refused_input(labels={"reason": gettext_lazy("Motivo de la revocación")})
def victim_unshare_view(request, victim_id, share_id: int):
    victim_unshare(actor=request.user, victim_id=victim_id, share_id=share_id, reason=request.POST.get("reason", ""))
    messages.success(request, _("El acceso quedó revocado."))
    return redirect("victims:share", victim_id=victim_id)
