"""Data for the referral tests: an active protocol of one institution, a provider institution
and the people around them, and a referral brought to any state by the services themselves."""

from __future__ import annotations

import dataclasses

from django.utils import timezone

from institutions.constants import Role
from institutions.models import Institution, User
from protocol.constants import (
    DEFAULT_RESPONSE_HOURS,
    PROVIDER,
    REFERRAL_TRANSITIONS,
    ActivationAction,
    ReferralAction,
    ReferralState,
    RequestedBy,
    ServiceType,
)
from protocol.models import ProtocolActivation, Referral, ServiceDeadline
from protocol.referrals import referral_create, referral_transition
from protocol.services import activation_open, activation_transition
from tests.factories import InstitutionFactory, UserFactory, VictimFactory

# How the services bring a new referral (pendiente) to each state.
PATH_TO = {
    ReferralState.PENDING: [],
    ReferralState.ACCEPTED: [ReferralAction.ACCEPT],
    ReferralState.REJECTED: [ReferralAction.REJECT],
    ReferralState.IN_PROGRESS: [ReferralAction.ACCEPT, ReferralAction.START],
    ReferralState.COMPLETED: [ReferralAction.ACCEPT, ReferralAction.START, ReferralAction.COMPLETE],
    ReferralState.CANCELLED: [ReferralAction.CANCEL],
}


def ensure_service_deadlines() -> None:
    """The rows migration 0002 seeds. A transactional test that ran earlier flushed the tables
    (data migrations are not replayed by a flush), so a transactional test puts them back."""
    for service_type, hours in DEFAULT_RESPONSE_HOURS.items():
        ServiceDeadline.objects.get_or_create(service_type=service_type, defaults={"response_hours": hours})


def open_activation(*, institution: Institution, officer: User, consent: bool = True) -> ProtocolActivation:
    """A victim registered by ``institution`` with no case, and its protocol *solicitada*."""
    victim = VictimFactory(registering_institution=institution)
    today = timezone.localdate()
    return activation_open(
        actor=officer,
        victim_id=victim.pk,
        requested_by=RequestedBy.VICTIM,
        requested_on=today,
        consent_on=today if consent else None,
    )


def active_activation(*, institution: Institution, officer: User) -> ProtocolActivation:
    activation = open_activation(institution=institution, officer=officer)
    activation_transition(actor=officer, activation_id=activation.pk, action=ActivationAction.EVALUATE)
    return activation_transition(actor=officer, activation_id=activation.pk, action=ActivationAction.ACTIVATE)


@dataclasses.dataclass
class World:
    referrer: Institution
    referrer_officer: User
    referrer_reader: User
    provider: Institution
    provider_officer: User
    provider_reader: User
    unrelated: Institution
    unrelated_officer: User
    activation: ProtocolActivation

    def actor_for(self, action: str) -> User:
        """The officer who may take ``action``: the provider's, or the referring institution's."""
        return self.provider_officer if REFERRAL_TRANSITIONS[action][2] == PROVIDER else self.referrer_officer

    def refer(self, service_type: str = ServiceType.SHELTER, note: str = "", provider=None) -> Referral:
        return referral_create(
            actor=self.referrer_officer,
            activation_id=self.activation.pk,
            service_type=service_type,
            provider_id=(provider or self.provider).pk,
            note=note,
        )

    def referral_in(self, state: str, service_type: str = ServiceType.SHELTER) -> Referral:
        referral = self.refer(service_type)
        for action in PATH_TO[state]:
            referral = referral_transition(
                actor=self.actor_for(action), referral_id=referral.pk, action=action, note=f"Motivo: {action}"
            )
        assert referral.state == state
        return referral


def make_world() -> World:
    referrer = InstitutionFactory(short_name="PDI-R", name="Policía de Investigaciones (deriva)")
    provider = InstitutionFactory(short_name="SERNAMEG-P", name="Casa de acogida (presta)")
    unrelated = InstitutionFactory(short_name="OTRA", name="Institución sin relación")
    referrer_officer = UserFactory(institution=referrer, email="oficial@deriva.cl")
    world = World(
        referrer=referrer,
        referrer_officer=referrer_officer,
        referrer_reader=UserFactory(institution=referrer, role=Role.READER, email="lector@deriva.cl"),
        provider=provider,
        provider_officer=UserFactory(institution=provider, email="oficial@presta.cl"),
        provider_reader=UserFactory(institution=provider, role=Role.READER, email="lector@presta.cl"),
        unrelated=unrelated,
        unrelated_officer=UserFactory(institution=unrelated, email="oficial@otra.cl"),
        activation=active_activation(institution=referrer, officer=referrer_officer),
    )
    return world
