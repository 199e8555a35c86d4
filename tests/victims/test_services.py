import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from kernel.identity_documents import document_blind_index
from tests.factories import CaseFactory, VictimFactory
from victims.constants import AgeStatus
from victims.models import CaseVictim, Victim
from victims.services import victim_link_to_case, victim_register

pytestmark = pytest.mark.django_db

TOMORROW = timezone.localdate() + datetime.timedelta(days=1)


def test_a_victim_is_registered_with_a_pseudonymous_code_and_a_blind_index(officer, institution):
    victim = victim_register(
        actor=officer,
        institution=institution,
        given_names="Rosa",
        surnames="Mamani",
        document_type="run",
        document_number="12.345.678-5",
        sex="femenino",
        nationality="BO",
    )
    assert victim.code.startswith(f"V-{timezone.localdate().year}-")
    assert Victim.objects.get(document_index=document_blind_index("run", "123456785")) == victim


def test_two_victims_get_different_codes(officer, institution):
    codes = {victim_register(actor=officer, institution=institution, sex="femenino").code for _ in range(3)}
    assert len(codes) == 3


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"document_type": "run", "document_number": "12.345.678-4"}, "document_number", "dígito verificador"),
        ({"document_type": "run", "document_number": "12345"}, "document_number", "dígito verificador"),
        ({"document_type": "run", "document_number": "doce millones"}, "document_number", "formato"),
        ({"document_type": "run"}, "document_number", "tipo y el número"),
        ({"document_number": "12.345.678-5"}, "document_type", "tipo y el número"),
        ({"document_type": "cedula", "document_number": "1"}, "document_type", "no es una opción válida"),
        ({"document_type": "pasaporte", "document_number": "A1"}, "document_number", "entre 3 y 30"),
        ({"birth_date": TOMORROW}, "birth_date", "posterior a hoy"),
        ({"birth_date": "31-02-2001"}, "birth_date", "fecha válida"),
        ({"age_at_identification": 121}, "age_at_identification", "menor o igual a 120"),
        ({"age_at_identification": -1}, "age_at_identification", "mayor o igual a 0"),
        ({"birth_year": timezone.localdate().year + 1}, "birth_year", "posterior al año en curso"),
        ({"birth_year": 1850}, "birth_year", "mayor a 120"),
        ({"birth_year": 1990, "birth_date": datetime.date(1991, 3, 1)}, "birth_year", "no coincide"),
        ({"sex": "x"}, "sex", "no es una opción válida"),
        ({"nationality": "Chile"}, "nationality", "no es una opción válida"),
        ({"email": "a" * 255}, "email", "menos de 254"),
    ],
)
def test_bad_victim_input_is_refused_naming_the_field_and_nothing_is_saved(
    officer, institution, values, field, message
):
    before = Victim.objects.count()
    with pytest.raises(ValidationError) as error:
        victim_register(actor=officer, institution=institution, **{"sex": "femenino", **values})
    assert field in error.value.message_dict, error.value.message_dict
    assert any(message in text for text in error.value.message_dict[field]), error.value.message_dict
    assert Victim.objects.count() == before


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"age_status": AgeStatus.KNOWN}, "age_at_facts"),
        ({"age_status": AgeStatus.KNOWN, "age_at_facts": 121}, "age_at_facts"),
        ({"age_status": AgeStatus.MINOR_UNKNOWN, "age_at_facts": 15}, "age_at_facts"),
        ({"age_status": "adolescente"}, "age_status"),
        ({"purpose": "mendicidad"}, "purpose"),
        ({"region_detected": "CL-ZZ"}, "region_detected"),
        ({"identified_date": TOMORROW}, "identified_date"),
    ],
)
def test_bad_case_link_input_is_refused_naming_the_field(officer, values, field):
    with pytest.raises(ValidationError) as error:
        victim_link_to_case(
            actor=officer,
            victim=VictimFactory(),
            case=CaseFactory(lead_institution=officer.institution),
            **values,
        )
    assert field in error.value.message_dict
    assert not CaseVictim.objects.exists()


def test_a_victim_can_be_in_several_cases_with_a_different_age_in_each(officer):
    victim = VictimFactory()
    first, second = (
        CaseFactory(lead_institution=officer.institution),
        CaseFactory(lead_institution=officer.institution),
    )
    victim_link_to_case(actor=officer, victim=victim, case=first, age_status=AgeStatus.KNOWN, age_at_facts=16)
    victim_link_to_case(actor=officer, victim=victim, case=second, age_status=AgeStatus.KNOWN, age_at_facts=19)
    assert set(victim.cases.all()) == {first, second}
    assert dict(victim.case_links.values_list("case_id", "is_minor")) == {first.pk: True, second.pk: False}


def test_linking_the_same_victim_twice_is_refused_with_a_clear_message(officer):
    victim, case = (
        VictimFactory(),
        CaseFactory(lead_institution=officer.institution),
    )
    victim_link_to_case(actor=officer, victim=victim, case=case)
    with pytest.raises(ValidationError, match="ya está vinculada"):
        victim_link_to_case(actor=officer, victim=victim, case=case)


def test_a_link_takes_the_case_purpose_and_region_by_default(officer):
    case = CaseFactory(lead_institution=officer.institution, purpose="trabajo_forzoso", region_detected="CL-MA")
    link = victim_link_to_case(actor=officer, victim=VictimFactory(), case=case)
    assert (link.purpose, link.region_detected) == ("trabajo_forzoso", "CL-MA")
