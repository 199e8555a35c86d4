"""Bad input gets a Spanish error naming the field, and nothing is saved."""

import datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from cases.models import Case, CaseExternalReference, CaseOffender, Offender
from cases.services import ConcurrentUpdateError, case_create, case_update, offender_link_to_case, offender_register
from tests.factories import CaseFactory, InstitutionFactory, OffenderFactory

pytestmark = pytest.mark.django_db

TOMORROW = timezone.localdate() + datetime.timedelta(days=1)
VALID = {"ruc": "2300123456-7", "intake_date": datetime.date(2023, 5, 2), "purpose": "explotacion_sexual"}


def assert_refused(call, field: str, message_part: str) -> None:
    before = (Case.objects.count(), CaseExternalReference.objects.count(), Offender.objects.count())
    with pytest.raises(ValidationError) as error:
        call()
    assert field in error.value.message_dict, error.value.message_dict
    assert any(message_part in message for message in error.value.message_dict[field]), error.value.message_dict
    assert (Case.objects.count(), CaseExternalReference.objects.count(), Offender.objects.count()) == before


def test_a_valid_case_is_registered_with_its_external_references(officer, institution):
    case = case_create(
        actor=officer,
        lead_institution=institution,
        data=VALID,
        external_references=[("pdi-parte", "4455/2023"), ("tribunal-rit", "O-123-2023")],
    )
    assert case.version == 1 and case.lead_institution == institution and case.created_by == officer
    assert sorted(case.external_references.values_list("source", flat=True)) == ["pdi-parte", "tribunal-rit"]


def test_ruc_is_normalised_to_upper_case_without_dots(officer, institution):
    case = case_create(actor=officer, lead_institution=institution, data={**VALID, "ruc": " 2300123456-k "})
    assert case.ruc == "2300123456-K"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ruc": "23-0012345"}, "ruc", "diez dígitos"),
        ({"ruc": "2300123456"}, "ruc", "diez dígitos"),
        ({"ruc": "9900123456-1"}, "ruc", "aún no llega"),
        ({"intake_date": TOMORROW}, "intake_date", "no puede ser posterior a hoy"),
        ({"investigation_start_date": TOMORROW}, "investigation_start_date", "no puede ser posterior a hoy"),
        ({"termination_type": "condenatoria"}, "termination_type", "Solo una causa terminada"),
        ({"termination_date": datetime.date(2024, 1, 1)}, "termination_date", "Solo una causa terminada"),
        ({"status": "terminada"}, "termination_type", "debe indicar el tipo de término"),
        ({"status": "terminada", "termination_type": "condenatoria"}, "termination_date", "debe indicar la fecha"),
        (
            {"status": "terminada", "termination_type": "otro", "termination_date": datetime.date(2022, 1, 1)},
            "termination_date",
            "anterior a la fecha de ingreso",
        ),
        ({"is_formalised": True}, "formalised_date", "debe indicar la fecha de formalización"),
        (
            {"is_formalised": True, "formalised_date": datetime.date(2023, 6, 1)},
            "investigation_start_date",
            "debe indicar la fecha de inicio de la investigación",
        ),
        (
            {
                "is_formalised": True,
                "investigation_start_date": datetime.date(2023, 7, 1),
                "formalised_date": datetime.date(2023, 6, 1),
            },
            "formalised_date",
            "anterior al inicio de la investigación",
        ),
        (
            {
                "is_formalised": True,
                "investigation_start_date": datetime.date(2023, 5, 3),
                "formalised_date": datetime.date(2023, 9, 1),
                "status": "terminada",
                "termination_type": "otro",
                "termination_date": datetime.date(2023, 8, 1),
            },
            "termination_date",
            "anterior a la formalización",
        ),
        ({"formalised_date": datetime.date(2023, 6, 1)}, "formalised_date", "Solo una causa formalizada"),
        ({"status": "cerrada"}, "status", "no es una opción válida"),
        ({"purpose": "mendicidad"}, "purpose", "no es una opción válida"),
        ({"region_detected": "Arica"}, "region_detected", "no es una opción válida"),
        ({"fiscalia_regional": "FR-XX"}, "fiscalia_regional", "no es una opción válida"),
        ({"lead_institution": 1}, "lead_institution", "no se puede modificar"),
        ({"version": 7}, "version", "no se puede modificar"),
        ({"created_at": TOMORROW}, "created_at", "no se puede modificar"),
    ],
)
def test_bad_case_input_is_refused_naming_the_field(officer, institution, changes, field, message):
    assert_refused(
        lambda: case_create(actor=officer, lead_institution=institution, data={**VALID, **changes}), field, message
    )


def test_a_duplicate_ruc_is_refused_naming_the_field(officer, institution):
    case_create(actor=officer, lead_institution=institution, data=VALID)
    assert_refused(lambda: case_create(actor=officer, lead_institution=institution, data=VALID), "ruc", "RUC")


def test_a_bad_external_reference_saves_neither_the_case_nor_any_reference(officer, institution):
    assert_refused(
        lambda: case_create(
            actor=officer,
            lead_institution=institution,
            data=VALID,
            external_references=[("pdi-parte", "1/2023"), ("sistema-x", "9")],
        ),
        "external_references[1].source",
        "no es una opción válida",
    )


def test_a_reference_already_used_by_another_case_is_refused(officer, institution):
    other = CaseFactory(lead_institution=officer.institution)
    CaseExternalReference.objects.create(case=other, source="pdi-parte", reference="77/2023")
    assert_refused(
        lambda: case_create(
            actor=officer, lead_institution=institution, data=VALID, external_references=[("pdi-parte", "77/2023")]
        ),
        "external_references[0].__all__",
        "Otra causa ya tiene esta referencia",
    )


def test_closing_a_case_with_its_termination_bumps_the_version(officer):
    case = CaseFactory(lead_institution=officer.institution, intake_date=datetime.date(2023, 1, 10))
    updated = case_update(
        actor=officer,
        case_id=case.pk,
        expected_version=1,
        data={"status": "terminada", "termination_type": "condenatoria", "termination_date": datetime.date(2024, 8, 1)},
    )
    assert updated.version == 2
    assert Case.objects.get(pk=case.pk).termination_type == "condenatoria"


def test_an_update_from_a_stale_version_is_refused_and_changes_nothing(officer):
    case = CaseFactory(lead_institution=officer.institution, purpose="explotacion_sexual")
    case_update(actor=officer, case_id=case.pk, expected_version=1, data={"region_detected": "CL-AN"})
    with pytest.raises(ConcurrentUpdateError) as error:
        case_update(actor=officer, case_id=case.pk, expected_version=1, data={"purpose": "trabajo_forzoso"})
    assert "Otra persona modificó esta causa" in error.value.message
    fresh = Case.objects.get(pk=case.pk)
    assert (fresh.purpose, fresh.region_detected, fresh.version) == ("explotacion_sexual", "CL-AN", 2)


def test_an_invalid_update_changes_nothing(officer):
    case = CaseFactory(lead_institution=officer.institution)
    with pytest.raises(ValidationError):
        case_update(actor=officer, case_id=case.pk, expected_version=1, data={"status": "terminada"})
    fresh = Case.objects.get(pk=case.pk)
    assert (fresh.status, fresh.version) == ("vigente", 1)


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"document_type": "run", "document_number": "12.345.678-9"}, "document_number", "dígito verificador"),
        ({"sex": "otro"}, "sex", "no es una opción válida"),
        ({"nationality": "XX"}, "nationality", "no es una opción válida"),
    ],
)
def test_bad_offender_input_is_refused_naming_the_field(officer, values, field, message):
    assert_refused(lambda: offender_register(actor=officer, **{"sex": "masculino", **values}), field, message)


def test_a_conviction_needs_a_sentence_date(officer):
    case, offender = (
        CaseFactory(lead_institution=officer.institution),
        OffenderFactory(),
    )
    with pytest.raises(ValidationError) as error:
        offender_link_to_case(actor=officer, offender=offender, case=case, is_convicted=True)
    assert "sentence_date" in error.value.message_dict
    assert not CaseOffender.objects.exists()


def test_a_future_sentence_date_is_refused(officer):
    with pytest.raises(ValidationError) as error:
        offender_link_to_case(
            actor=officer,
            offender=OffenderFactory(),
            case=CaseFactory(lead_institution=officer.institution),
            is_convicted=True,
            sentence_date=TOMORROW,
        )
    assert "sentence_date" in error.value.message_dict


def test_the_offender_gets_a_pseudonymous_code_of_this_year(officer):
    offender = offender_register(actor=officer, sex="masculino", given_names="Hugo")
    assert offender.code.startswith(f"I-{timezone.localdate().year}-")
    assert str(offender) == offender.code


def test_cases_of_unrelated_institutions_do_not_share_references(officer):
    first = case_create(
        actor=officer, lead_institution=InstitutionFactory(), data=VALID, external_references=[("pdi-parte", "1")]
    )
    second = case_create(
        actor=officer,
        lead_institution=InstitutionFactory(),
        data={**VALID, "ruc": None},
        external_references=[("carabineros-parte", "1")],
    )
    assert first.external_references.get().source != second.external_references.get().source
