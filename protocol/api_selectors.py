"""Lists the API needs beyond the ones protocol.referrals and protocol.residence offer, built only
from their own visibility rules (nothing here decides who sees what anew).

- ``activation_referrals``: an activation's referrals, as the caller sees them
  (protocol.referrals.referral_visible_to: every one for the activating institution; for a
  provider that also sees the victim, only the ones it provides).
- ``referrals_sent``: the referrals of the protocols the caller's institution activated, while it
  still sees the victim (the other half of referral_visible_to; the provider's half is
  protocol.referrals.provider_inbox).
- ``residence_list``: Sermig's queue for Sermig (protocol.residence.residence_queue), the
  applications an institution derived for anyone else (protocol.residence.residence_visible).
"""

from __future__ import annotations

from django.db.models import F, QuerySet

from institutions.models import User
from protocol.models import Referral, ResidenceApplication
from protocol.referrals import referral_visible_to
from protocol.residence import has_sermig_capability, residence_queue, residence_visible
from victims.identity import IDENTITY_FIELDS


def _member(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.institution_id is not None)


def activation_referrals(*, user: User, activation_id) -> QuerySet[Referral]:
    """Callers check the activation first (protocol.selectors.activation_get)."""
    if not _member(user):
        return Referral.objects.none()
    return Referral.objects.filter(referral_visible_to(user), activation_id=activation_id).order_by(
        "requested_at", "id"
    )


def referrals_sent(*, user: User) -> QuerySet[Referral]:
    """Newest first."""
    if not _member(user):
        return Referral.objects.none()
    return Referral.objects.filter(referral_visible_to(user), activation__institution_id=user.institution_id).order_by(
        "-requested_at", "-id"
    )


def residence_list(*, user: User) -> QuerySet[ResidenceApplication]:
    """Open applications first, oldest first (the order of Sermig's queue), for everyone."""
    if has_sermig_capability(user):
        return residence_queue(user=user).order_by(F("decided_at").asc(nulls_first=True), "derived_at", "id")
    return (
        residence_visible(user=user)
        .select_related("victim", "derived_by_institution")
        .defer(*(f"victim__{name}" for name in IDENTITY_FIELDS))
        .order_by(F("decided_at").asc(nulls_first=True), "derived_at", "id")
    )
