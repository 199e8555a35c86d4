"""A person with no case enters the protocol in one act; protocol entries are countable by
year, purpose, sex and nationality for the statistics, unknowns included."""

from __future__ import annotations

import datetime

import pytest
from django.core.exceptions import ValidationError

from cases.constants import TraffickingPurpose
from kernel.choices import Sex
from protocol.constants import ActivationAction, ActivationState, RequestedBy
from protocol.models import ProtocolActivation
from protocol.services import activation_open, activation_open_for_new_person, activation_transition
from protocol.statistics import protocol_entries_by
from tests.factories import CaseFactory
from victims.models import Victim
from victims.selectors import victim_get, victim_identity_allowed
from victims.services import victim_link_to_case, victim_register

pytestmark = pytest.mark.django_db

DAY = datetime.date(2024, 3, 1)


def enter(officer, victim_id, *, on=DAY) -> ProtocolActivation:
    activation = activation_open(
        actor=officer, victim_id=victim_id, requested_by=RequestedBy.VICTIM, requested_on=on, consent_on=on
    )
    activation_transition(actor=officer, activation_id=activation.pk, action=ActivationAction.EVALUATE)
    return activation_transition(actor=officer, activation_id=activation.pk, action=ActivationAction.ACTIVATE)


def test_a_person_without_a_case_enters_the_protocol_registered_by_the_activating_institution(officer):
    activation = activation_open_for_new_person(
        actor=officer,
        person={"given_names": "Rosa", "document_type": "pasaporte", "document_number": "AB123456", "sex": Sex.FEMALE},
        requested_by=RequestedBy.VICTIM,
        requested_on=DAY,
    )
    victim = activation.victim
    assert activation.state == ActivationState.REQUESTED and activation.institution_id == officer.institution_id
    assert victim.registering_institution_id == officer.institution_id and not victim.case_links.exists()
    assert victim_get(user=officer, victim_id=victim.pk) == victim
    assert victim_identity_allowed(user=officer, victim=victim)


def test_a_refused_person_or_activation_leaves_nothing(officer):
    with pytest.raises(ValidationError):
        activation_open_for_new_person(
            actor=officer,
            person={"document_type": "run", "document_number": "12.345.678-0", "sex": Sex.FEMALE},  # wrong check digit
            requested_by=RequestedBy.VICTIM,
            requested_on=DAY,
        )
    with pytest.raises(ValidationError):
        activation_open_for_new_person(
            actor=officer,
            person={"sex": Sex.FEMALE},
            requested_by=RequestedBy.THIRD_PARTY,  # without the requester's name
            requested_on=DAY,
        )
    assert not Victim.objects.exists() and not ProtocolActivation.objects.exists()


def test_entries_are_counted_by_year_purpose_sex_and_nationality_with_unknowns_kept(officer, institution):
    case = CaseFactory(lead_institution=institution, purpose=TraffickingPurpose.LABOUR)
    linked = victim_register(actor=officer, institution=institution, sex=Sex.FEMALE, nationality="VE")
    victim_link_to_case(actor=None, victim=linked, case=case)
    caseless = victim_register(actor=officer, institution=institution, sex=Sex.UNKNOWN)
    later = victim_register(actor=officer, institution=institution, sex=Sex.MALE, nationality="BO")
    never_active = victim_register(actor=officer, institution=institution, sex=Sex.MALE)
    enter(officer, linked.pk)
    enter(officer, caseless.pk)
    enter(officer, later.pk, on=datetime.date(2025, 1, 5))
    activation_open(actor=officer, victim_id=never_active.pk, requested_by=RequestedBy.VICTIM, requested_on=DAY)

    rows = protocol_entries_by(year_from=2024, year_to=2025)

    one = {"entries": 1, "persons": 1}
    assert rows == [
        {"year": 2024, "purpose": "sin_informacion", "sex": "sin_informacion", "nationality": "", **one},
        {"year": 2024, "purpose": "trabajo_forzoso", "sex": "femenino", "nationality": "VE", **one},
        {"year": 2025, "purpose": "sin_informacion", "sex": "masculino", "nationality": "BO", **one},
    ]
    assert protocol_entries_by(year_from=2025, year_to=2025) == rows[2:]


def close(officer, activation):
    return activation_transition(
        actor=officer, activation_id=activation.pk, action=ActivationAction.CLOSE, note="Egreso."
    )


def test_a_person_who_enters_again_is_one_person_in_the_year_of_the_first_entry_in_the_range(officer, institution):
    person = victim_register(actor=officer, institution=institution, sex=Sex.FEMALE, nationality="PE")
    close(officer, enter(officer, person.pk, on=datetime.date(2023, 6, 1)))
    close(officer, enter(officer, person.pk, on=datetime.date(2024, 2, 1)))
    third = enter(officer, person.pk, on=datetime.date(2024, 9, 1))
    # Reactivating the same activation is not a new entry.
    close(officer, third)
    activation_transition(actor=officer, activation_id=third.pk, action=ActivationAction.REACTIVATE)

    key = {"purpose": "sin_informacion", "sex": "femenino", "nationality": "PE"}
    assert protocol_entries_by(year_from=2023, year_to=2024) == [
        {"year": 2023, **key, "entries": 1, "persons": 1},
        {"year": 2024, **key, "entries": 2, "persons": 0},
    ]
    # Entries before the range do not count: for 2024 alone, the February entry is the first.
    assert protocol_entries_by(year_from=2024, year_to=2024) == [{"year": 2024, **key, "entries": 2, "persons": 1}]


def test_of_two_entries_requested_the_same_day_exactly_one_is_the_first(officer, institution):
    person = victim_register(actor=officer, institution=institution, sex=Sex.MALE)
    close(officer, enter(officer, person.pk))
    enter(officer, person.pk)
    [row] = protocol_entries_by(year_from=2024, year_to=2024)
    assert (row["entries"], row["persons"]) == (2, 1)


def test_a_link_of_unknown_purpose_counts_with_its_cases_purpose_as_in_the_victim_tables(officer, institution):
    """Review: the protocol tables said «sin información» for a person the victim tables counted
    under their case's purpose."""
    case = CaseFactory(lead_institution=institution, purpose=TraffickingPurpose.LABOUR)
    person = victim_register(actor=officer, institution=institution, sex=Sex.FEMALE)
    victim_link_to_case(actor=None, victim=person, case=case)  # the link's own purpose: unknown
    enter(officer, person.pk)
    [row] = protocol_entries_by(year_from=2024, year_to=2024)
    assert row["purpose"] == TraffickingPurpose.LABOUR
