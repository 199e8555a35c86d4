"""Holes a review found in the protocol's services, each closed: a grantee at *ver* cannot
read a victim's identity by referring the victim to itself; an institution that loses sight
of the victim loses the activation; a delay with nobody to tell stays to be told."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from cases.sharing import case_share, case_unshare
from kernel.choices import Sex
from protocol.constants import ActivationAction, RequestedBy, ServiceType
from protocol.models import Referral, ReferralOverdueAlert
from protocol.referrals import overdue_referrals_notify, referral_create, referral_victim_for_provider
from protocol.selectors import activation_get
from protocol.services import activation_open, activation_transition
from tests.factories import CaseFactory, InstitutionFactory, UserFactory
from tests.protocol.referral_helpers import active_activation, ensure_service_deadlines
from victims.services import victim_link_to_case, victim_register

pytestmark = pytest.mark.django_db
TODAY = datetime.date(2024, 5, 2)


@pytest.fixture
def shared_at_ver(officer, institution):
    """A case led by ``institution`` with a victim, shared at *ver* with another institution."""
    ensure_service_deadlines()
    case = CaseFactory(lead_institution=institution)
    victim = victim_register(
        actor=officer, institution=institution, sex=Sex.FEMALE, given_names="Secreta", surnames="Reservada"
    )
    victim_link_to_case(actor=None, victim=victim, case=case)
    grantee = InstitutionFactory(short_name="GRANTEE")
    share = case_share(actor=officer, case_id=case.pk, institution=grantee, reason="Coordinación")
    return victim, UserFactory(institution=grantee), share


def _active_by(actor, victim):
    activation = activation_open(
        actor=actor, victim_id=victim.pk, requested_by=RequestedBy.INSTITUTION, requested_on=TODAY, consent_on=TODAY
    )
    activation_transition(actor=actor, activation_id=activation.pk, action=ActivationAction.EVALUATE)
    return activation_transition(actor=actor, activation_id=activation.pk, action=ActivationAction.ACTIVATE)


def test_a_grantee_at_ver_cannot_refer_the_victim_to_itself_to_read_the_identity(shared_at_ver):
    victim, grantee_officer, _share = shared_at_ver
    activation = _active_by(grantee_officer, victim)

    with pytest.raises(PermissionDenied, match="identidad"):
        referral_create(
            actor=grantee_officer,
            activation_id=activation.pk,
            service_type=ServiceType.SHELTER,
            provider_id=grantee_officer.institution_id,
        )
    assert not Referral.objects.exists()


def test_an_institution_that_loses_sight_of_the_victim_loses_the_activation(shared_at_ver, officer):
    victim, grantee_officer, share = shared_at_ver
    activation = _active_by(grantee_officer, victim)
    case_unshare(actor=officer, share_id=share.pk, reason="Fin de la coordinación")

    with pytest.raises(Http404):
        activation_get(user=grantee_officer, activation_id=activation.pk)
    with pytest.raises(Http404):
        activation_transition(
            actor=grantee_officer, activation_id=activation.pk, action=ActivationAction.CLOSE, note="x"
        )


def test_a_delay_with_nobody_to_tell_is_told_once_someone_is_there(officer, institution):
    ensure_service_deadlines()
    provider = InstitutionFactory(short_name="CASA")
    activation = active_activation(institution=institution, officer=officer)
    referral = referral_create(
        actor=officer, activation_id=activation.pk, service_type=ServiceType.SHELTER, provider_id=provider.pk
    )
    later = timezone.now() + datetime.timedelta(hours=30)

    assert overdue_referrals_notify(now=later) == 0
    assert not ReferralOverdueAlert.objects.exists()
    UserFactory(institution=provider)
    assert overdue_referrals_notify(now=later) == 1
    assert ReferralOverdueAlert.objects.filter(referral=referral).count() == 1


def test_a_provider_id_that_is_not_a_number_is_a_field_error(officer, institution):
    from django.core.exceptions import ValidationError

    ensure_service_deadlines()
    activation = active_activation(institution=institution, officer=officer)
    with pytest.raises(ValidationError) as refused:
        referral_create(actor=officer, activation_id=activation.pk, service_type=ServiceType.SHELTER, provider_id="x")
    assert "provider" in refused.value.message_dict


def test_the_provider_reads_the_minimum_data_of_a_referral_the_lead_made(officer, institution):
    ensure_service_deadlines()
    provider_officer = UserFactory(institution=InstitutionFactory(short_name="SALUD"))
    activation = active_activation(institution=institution, officer=officer)
    referral = referral_create(
        actor=officer,
        activation_id=activation.pk,
        service_type=ServiceType.HEALTH,
        provider_id=provider_officer.institution_id,
    )
    data = referral_victim_for_provider(user=provider_officer, referral_id=referral.pk)
    assert data["code"] == activation.victim.code


def test_the_consent_says_who_recorded_it_and_when(officer, institution):
    from protocol.services import activation_record_consent
    from tests.protocol.referral_helpers import open_activation

    activation = open_activation(institution=institution, officer=officer, consent=False)
    assert activation.consent_recorded_by is None and activation.consent_recorded_at is None
    recorded = activation_record_consent(actor=officer, activation_id=activation.pk, consent_on=activation.requested_on)
    assert recorded.consent_recorded_by == officer and recorded.consent_recorded_at is not None


def test_a_consent_without_a_date_is_a_field_error(officer, institution):
    from django.core.exceptions import ValidationError

    from protocol.services import activation_record_consent
    from tests.protocol.referral_helpers import open_activation

    activation = open_activation(institution=institution, officer=officer, consent=False)
    with pytest.raises(ValidationError) as refused:
        activation_record_consent(actor=officer, activation_id=activation.pk, consent_on=None)
    assert "consent_on" in refused.value.message_dict


def test_a_stale_version_refuses_a_referral_move(officer, institution):
    from protocol.constants import ReferralAction
    from protocol.referrals import referral_transition
    from protocol.services import IllegalTransition

    ensure_service_deadlines()
    provider_officer = UserFactory(institution=InstitutionFactory(short_name="ACOGIDA"))
    activation = active_activation(institution=institution, officer=officer)
    referral = referral_create(
        actor=officer,
        activation_id=activation.pk,
        service_type=ServiceType.SHELTER,
        provider_id=provider_officer.institution_id,
    )
    with pytest.raises(IllegalTransition):
        referral_transition(
            actor=provider_officer,
            referral_id=referral.pk,
            action=ReferralAction.ACCEPT,
            expected_version=referral.version + 1,
        )
    moved = referral_transition(
        actor=provider_officer, referral_id=referral.pk, action=ReferralAction.ACCEPT, expected_version=referral.version
    )
    assert moved.version == referral.version + 1
