"""Recording and withdrawing a victim's consent to share their identity."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.access import NOT_FOUND_MESSAGE, is_case_officer
from cases.sharing import shares_drop_identity_resting_on
from institutions.models import User
from kernel.audit import audit_record
from kernel.constants import AccessAction
from kernel.errors import DomainError
from kernel.validation import validate_instance
from victims.models import Victim, VictimConsent
from victims.selectors import victim_get, victim_identity_allowed
from victims.sharing import victim_shares_drop_identity_resting_on


def _require_consent_officer(user: User, victim: Victim) -> None:
    # Consent is taken from the person: only an institution that knows who they are records it.
    if not victim_identity_allowed(user=user, victim=victim):
        raise PermissionDenied(
            _("Solo una institución con acceso a la identidad de la víctima registra su consentimiento.")
        )
    if not is_case_officer(user):
        raise PermissionDenied(_("Su rol no permite registrar consentimientos."))


@transaction.atomic
def consent_record(*, actor: User, victim_id, given_on: datetime.date | None, scope: str) -> VictimConsent:
    victim = victim_get(user=actor, victim_id=victim_id)
    _require_consent_officer(actor, victim)
    consent = VictimConsent(
        victim=victim,
        given_on=given_on,
        scope=(scope or "").strip(),
        recorded_by=actor,
        recorded_by_institution_id=actor.institution_id,
    )
    validate_instance(consent)
    consent.save()
    audit_record(
        AccessAction.CONSENT_RECORDED, actor=actor, victim_code=victim.code, details={"consent_id": consent.pk}
    )
    return consent


@transaction.atomic
def consent_withdraw(
    *, actor: User, victim_id, consent_id: int, withdrawn_on: datetime.date | None = None
) -> VictimConsent:
    """Withdraw a victim's consent; every identity permission resting on it (case shares and
    victim shares) ends in this transaction. Http404 unless the consent is that (visible) victim's."""
    consent = (
        VictimConsent.objects.select_for_update()
        .select_related("victim")
        .filter(pk=consent_id, victim_id=victim_id)
        .first()
    )
    if consent is None:
        raise Http404(NOT_FOUND_MESSAGE)
    victim = victim_get(user=actor, victim_id=consent.victim_id)
    _require_consent_officer(actor, victim)
    if not consent.is_active:
        raise DomainError(_("Este consentimiento ya fue retirado."))
    consent.withdrawn_on, consent.withdrawn_by = withdrawn_on or timezone.localdate(), actor
    validate_instance(consent)
    consent.save(update_fields=["withdrawn_on", "withdrawn_by", "updated_at"])
    shares = shares_drop_identity_resting_on(consent=consent, actor=actor)
    victim_shares = victim_shares_drop_identity_resting_on(consent=consent, actor=actor)
    details = {"consent_id": consent.pk, "identity_access_removed_from_shares": [share.pk for share in shares]}
    if victim_shares:  # a victim with no case, shared on this consent (victims.sharing)
        details["identity_access_removed_from_victim_shares"] = [share.pk for share in victim_shares]
    audit_record(AccessAction.CONSENT_WITHDRAWN, actor=actor, victim_code=victim.code, details=details)
    return consent
