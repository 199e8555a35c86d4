"""What the victim's protocol page shows a user: the activations of the victim, each with its
timeline and the referrals the user's institution may see, and the residence applications it
may see. Each part through the selector that decides its visibility, never a wider query."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Prefetch

from institutions.models import User
from protocol.constants import OPEN_RESIDENCE_STATES
from protocol.models import ProtocolActivation, Referral, ResidenceApplication
from protocol.referrals import referral_visible_to
from protocol.residence import residence_visible
from protocol.selectors import victim_activations
from victims.models import Victim


@dataclass(frozen=True)
class VictimProtocol:
    victim: Victim
    activations: list[ProtocolActivation]  # newest first; .visible_referrals on each
    applications: list[ResidenceApplication]  # newest first, with their timelines

    @property
    def open_activation(self) -> ProtocolActivation | None:
        return next((activation for activation in self.activations if activation.is_open), None)

    @property
    def open_application(self) -> ResidenceApplication | None:
        return next((a for a in self.applications if a.state in OPEN_RESIDENCE_STATES), None)


def victim_protocol(*, user: User, victim: Victim) -> VictimProtocol:
    """Callers check that the user sees the victim first (victims.selectors.victim_get)."""
    referrals = (
        Referral.objects.filter(referral_visible_to(user))
        .select_related("provider")
        .prefetch_related("transitions__actor", "transitions__institution")
        .order_by("requested_at")
    )
    activations = list(
        victim_activations(user=user, victim_id=victim.pk).prefetch_related(
            "transitions__actor",
            "transitions__institution",
            Prefetch("referrals", queryset=referrals, to_attr="visible_referrals"),
        )
    )
    applications = list(
        residence_visible(user=user)
        .filter(victim_id=victim.pk)
        .select_related("derived_by_institution")
        .defer("permit_number")
        .prefetch_related("transitions__actor", "transitions__institution")
        .order_by("-derived_at")
    )
    return VictimProtocol(victim=victim, activations=activations, applications=applications)
