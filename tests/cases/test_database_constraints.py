"""The database itself refuses bad data, whatever code path writes it (an update, a bulk load,
a future bug). Each write below bypasses every form and service on purpose."""

import datetime

import pytest
from django.db import IntegrityError, connection, transaction

from cases.models import Case, CaseExternalReference, CaseOffender
from institutions.models import Institution, User
from tests.factories import CaseFactory, InstitutionFactory, OffenderFactory, VictimFactory
from victims.models import CaseVictim, Victim

pytestmark = pytest.mark.django_db

D = datetime.date


def refused(constraint: str, write) -> None:
    with pytest.raises(IntegrityError) as error, transaction.atomic():
        write()
    assert constraint in str(error.value)


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"ruc": "23-123"}, "case_ruc_format"),
        ({"ruc": "2300123456-X"}, "case_ruc_format"),
        ({"status": "archivada"}, "case_status_valid"),
        ({"purpose": "otro"}, "case_purpose_valid"),
        ({"region_detected": "CL-XX"}, "case_region_valid"),
        ({"fiscalia_regional": "FR-XX"}, "case_fiscalia_valid"),
        ({"status": "terminada"}, "case_termination_exactly_when_closed"),
        ({"status": "terminada", "termination_type": "condenatoria"}, "case_termination_exactly_when_closed"),
        ({"status": "terminada", "termination_date": D(2024, 1, 1)}, "case_termination_exactly_when_closed"),
        ({"termination_type": "absolutoria"}, "case_termination_exactly_when_closed"),
        ({"termination_date": D(2024, 1, 1)}, "case_termination_exactly_when_closed"),
        ({"status": "terminada", "termination_type": "inventado", "termination_date": D(2024, 1, 1)},
         "case_termination_exactly_when_closed"),
        ({"status": "terminada", "termination_type": "condenatoria", "termination_date": D(2020, 1, 1)},
         "case_termination_after_intake"),
        ({"is_formalised": True}, "case_formalised_date_with_flag"),
        ({"formalised_date": D(2023, 5, 1)}, "case_formalised_date_with_flag"),
        ({"is_formalised": True, "formalised_date": D(2023, 5, 1)}, "case_formalised_has_investigation_start"),
        ({"is_formalised": True, "formalised_date": D(2023, 5, 1), "investigation_start_date": D(2023, 6, 1)},
         "case_formalised_after_investigation_start"),
        ({"is_formalised": True, "formalised_date": D(2023, 5, 1), "investigation_start_date": D(2023, 4, 1),
          "status": "terminada", "termination_type": "otro", "termination_date": D(2023, 4, 20)},
         "case_termination_after_formalisation"),
        ({"version": 0}, "case_version_positive"),
    ],
)  # fmt: skip
def test_database_refuses_an_inconsistent_case(changes, constraint):
    case = CaseFactory(intake_date=D(2023, 3, 1))
    refused(constraint, lambda: Case.objects.filter(pk=case.pk).update(**changes))


def test_database_refuses_two_cases_with_the_same_ruc():
    CaseFactory(ruc="2300000001-5")
    refused("cases_case_ruc_key", lambda: CaseFactory(ruc="2300000001-5"))


def test_cases_without_ruc_are_many():
    CaseFactory(ruc=None)
    CaseFactory(ruc=None)
    assert Case.objects.filter(ruc__isnull=True).count() == 2


def test_database_refuses_a_reference_used_twice_by_one_source():
    first, second = CaseFactory(), CaseFactory()
    CaseExternalReference.objects.create(case=first, source="pdi-parte", reference="1234/2023")
    CaseExternalReference.objects.create(case=second, source="carabineros-parte", reference="1234/2023")
    refused(
        "external_reference_unique_per_source",
        lambda: CaseExternalReference.objects.create(case=second, source="pdi-parte", reference="1234/2023"),
    )


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"source": "sistema-x", "reference": "1"}, "external_reference_source_valid"),
        ({"source": "pdi-parte", "reference": ""}, "external_reference_not_blank"),
    ],
)
def test_database_refuses_a_malformed_external_reference(values, constraint):
    case = CaseFactory()
    refused(constraint, lambda: CaseExternalReference.objects.bulk_create([CaseExternalReference(case=case, **values)]))


@pytest.mark.parametrize(
    ("changes", "constraint"),
    [
        ({"age_status": "conocida"}, "case_victim_age_exactly_when_known"),
        ({"age_status": "conocida", "age_at_facts": 121}, "case_victim_age_exactly_when_known"),
        ({"age_status": "menor_sin_edad", "age_at_facts": 12}, "case_victim_age_exactly_when_known"),
        ({"age_status": "desconocida", "age_at_facts": 30}, "case_victim_age_exactly_when_known"),
        ({"age_status": "adulta"}, "case_victim_age_status_valid"),
        ({"purpose": "mendicidad"}, "case_victim_purpose_valid"),
        ({"region_detected": "Tarapacá"}, "case_victim_region_valid"),
    ],
)
def test_database_refuses_an_inconsistent_victim_in_a_case(changes, constraint):
    link = CaseVictim.objects.create(case=CaseFactory(), victim=VictimFactory())
    refused(constraint, lambda: CaseVictim.objects.filter(pk=link.pk).update(**changes))


def test_database_refuses_linking_the_same_victim_twice_to_a_case():
    case, victim = CaseFactory(), VictimFactory()
    CaseVictim.objects.create(case=case, victim=victim)
    refused("case_victim_unique", lambda: CaseVictim.objects.create(case=case, victim=victim))


@pytest.mark.parametrize(
    ("age_status", "age", "is_minor"),
    [("conocida", 0, True), ("conocida", 17, True), ("conocida", 18, False), ("conocida", 120, False),
     ("menor_sin_edad", None, True), ("desconocida", None, None)],
)  # fmt: skip
def test_nna_is_derived_by_the_database_from_the_age_at_the_facts(age_status, age, is_minor):
    link = CaseVictim.objects.create(
        case=CaseFactory(), victim=VictimFactory(), age_status=age_status, age_at_facts=age
    )
    link.refresh_from_db()
    assert link.is_minor is is_minor


@pytest.mark.parametrize(
    ("sql_set", "constraint"),
    [
        ("sex = 'otro'", "victim_sex_valid"),
        ("nationality = 'B1'", "victim_nationality_code"),
        ("nationality = 'bo'", "victim_nationality_code"),
        ("age_at_identification = 121", "victim_age_at_identification_range"),
        ("birth_year = 1850", "victim_birth_year_range"),
        ("code = 'V-24-1'", "victim_code_format"),
        ("document_index = NULL", "victim_document_complete"),
        ("document_number = NULL", "victim_document_complete"),
        ("version = 0", "victim_version_positive"),
    ],
)
def test_database_refuses_an_inconsistent_victim(sql_set, constraint):
    victim = VictimFactory()

    def write():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE victims_victim SET {sql_set} WHERE id = %s", [victim.pk])  # noqa: S608

    refused(constraint, write)


def test_unknown_nationality_is_an_empty_code_not_a_missing_value():
    victim = VictimFactory(nationality="")
    assert Victim.objects.get(pk=victim.pk).nationality.code == ""


def test_database_refuses_two_victims_with_the_same_code():
    victim = VictimFactory()
    refused("victims_victim_code_key", lambda: VictimFactory(code=victim.code))


@pytest.mark.parametrize(
    ("sql_set", "constraint"),
    [
        ("sex = 'x'", "offender_sex_valid"),
        ("nationality = '1X'", "offender_nationality_code"),
        ("code = 'imputado'", "offender_code_format"),
    ],
)
def test_database_refuses_an_inconsistent_offender(sql_set, constraint):
    offender = OffenderFactory()

    def write():
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE cases_offender SET {sql_set} WHERE id = %s", [offender.pk])  # noqa: S608

    refused(constraint, write)


@pytest.mark.parametrize("changes", [{"is_convicted": True}, {"sentence_date": D(2024, 5, 1)}])
def test_database_refuses_a_conviction_without_its_sentence_date_and_the_reverse(changes):
    link = CaseOffender.objects.create(case=CaseFactory(), offender=OffenderFactory())
    refused("case_offender_sentence_with_conviction", lambda: CaseOffender.objects.filter(pk=link.pk).update(**changes))


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"kind": "club"}, "institution_kind_valid"),
        ({"region": "CL-XX"}, "institution_region_valid"),
        ({"short_name": ""}, "institution_names_not_blank"),
    ],
)
def test_database_refuses_an_inconsistent_institution(values, constraint):
    institution = InstitutionFactory()
    refused(constraint, lambda: Institution.objects.filter(pk=institution.pk).update(**values))


@pytest.mark.parametrize(
    "values",
    [
        {"institution": None, "role": "", "is_staff": False},  # a member of nothing
        {"role": ""},  # an institution but no role
        {"role": "jefe"},  # an unknown role
        {"institution": None, "role": "oficial", "is_staff": True},  # a role in no institution
    ],
)
def test_database_refuses_a_user_without_exactly_one_institution_and_role(values):
    user = User.objects.create(username="u", institution=InstitutionFactory(), role="lector")
    refused("user_institution_and_role_together", lambda: User.objects.filter(pk=user.pk).update(**values))
