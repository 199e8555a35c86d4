"""Victim pages: pseudonym and statistics by default; identity only through an audited action."""

from __future__ import annotations

import datetime

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from cases.access import is_case_officer
from cases.sharing import access_request_create
from kernel.client_ip import client_ip
from kernel.identity_documents import DocumentType
from kernel.web import confidential, refused_input
from victims.consent import consent_record, consent_withdraw
from victims.identity import duplicate_check, identity_rows, victim_identity_reveal
from victims.models import Victim
from victims.selectors import victim_get, victim_identity_allowed


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
    }
    return render(request, "victims/victim_detail.html", context)


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
