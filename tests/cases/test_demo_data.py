"""The demo set (`seed_demo`) and the benchmark generator (`generate_dataset`)."""

import datetime
import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count, Max, Min, Q
from django.test import override_settings
from django.utils import timezone

from cases.constants import CaseStatus, TerminationType, TraffickingPurpose
from cases.demo_data import DEMO_PASSWORD, DEMO_USERS, build_demo_plan
from cases.models import Case, CaseExternalReference, CaseOffender, Offender
from institutions.constants import InstitutionKind, Role
from institutions.models import Institution, User
from kernel.choices import Region, Sex
from kernel.identity_documents import DocumentType, document_blind_index, normalise_run
from victims.constants import AgeStatus
from victims.models import CaseVictim, Victim

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def demo_output(django_db_setup, django_db_blocker):
    """Seed once for the whole module inside a transaction that is rolled back at the end, so no
    other test module ever sees the demo rows. Each test's own transaction nests inside it."""
    with django_db_blocker.unblock(), transaction.atomic():
        output = io.StringIO()
        call_command("seed_demo", stdout=output)
        yield output.getvalue()
        transaction.set_rollback(True)


def counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Institution, User, Case, CaseExternalReference, Victim, CaseVictim, Offender, CaseOffender)
    }


def generate(cases: int, *, seed: int) -> str:
    output = io.StringIO()
    call_command("generate_dataset", cases=cases, seed=seed, batch_size=150, stdout=output)
    return output.getvalue()


# --- seed_demo ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_seed_demo_is_idempotent_a_second_run_creates_and_changes_nothing(demo_output):
    before = counts()
    last_change = [model.objects.aggregate(last=Max("updated_at"))["last"] for model in (Institution, Case, Victim)]
    passwords = dict(User.objects.values_list("username", "password"))
    output = io.StringIO()

    call_command("seed_demo", stdout=output)

    assert counts() == before
    assert [model.objects.aggregate(last=Max("updated_at"))["last"] for model in (Institution, Case, Victim)] == (
        last_change
    )
    assert dict(User.objects.values_list("username", "password")) == passwords
    assert "nothing was created" in output.getvalue()
    assert "oficial.pdi" in output.getvalue()


@pytest.mark.slow
def test_seed_demo_recreates_a_deleted_case_and_links_its_returning_victim_again(demo_output):
    returning = Victim.objects.annotate(n=Count("case_links")).filter(n=2).first()
    second_link = returning.case_links.select_related("case").order_by("-case__intake_date", "-id").first()
    ruc = second_link.case.ruc
    second_link.case.delete()
    victims_before = Victim.objects.count()

    call_command("seed_demo", stdout=io.StringIO())

    assert Case.objects.filter(ruc=ruc).exists()
    assert returning.case_links.filter(case__ruc=ruc).exists()  # found again, not registered twice
    assert returning.case_links.count() == 2
    (plan,) = [case for case in build_demo_plan(today=timezone.localdate()) if case.ruc == ruc]
    assert Victim.objects.count() - victims_before == sum(slot.first_seen is None for slot in plan.victims)


@pytest.mark.slow
def test_seed_demo_creates_the_mitp_institutions_with_their_kinds(demo_output):
    kinds = dict(Institution.objects.values_list("short_name", "kind"))
    assert len(kinds) >= 20
    assert kinds["PDI"] == kinds["CARABINEROS"] == InstitutionKind.POLICE
    assert kinds["FISCALIA"] == InstitutionKind.PROSECUTION
    assert kinds["SERMIG"] == InstitutionKind.MIGRATION
    assert kinds["PJUD"] == InstitutionKind.JUDICIARY
    assert kinds["OIM"] == kinds["ACNUR"] == InstitutionKind.INTERNATIONAL
    assert kinds["RAICES"] == InstitutionKind.NGO
    assert kinds["MEJORNINEZ"] == InstitutionKind.CHILD_PROTECTION
    assert Institution.objects.filter(is_mitp_member=True).count() >= 20


@pytest.mark.slow
def test_seed_demo_creates_about_300_cases_across_intake_years_2011_to_2025(demo_output):
    years = Case.objects.aggregate(first=Min("intake_date__year"), last=Max("intake_date__year"), n=Count("id"))
    assert years == {"first": 2011, "last": 2025, "n": 300}
    assert Case.objects.values("intake_date__year").distinct().count() == 15


@pytest.mark.slow
def test_seed_demo_covers_every_region_status_and_termination_type(demo_output):
    assert set(Case.objects.values_list("region_detected", flat=True)) == set(Region.values)
    assert set(Case.objects.values_list("status", flat=True)) == set(CaseStatus.values)
    closed = Case.objects.filter(status=CaseStatus.CLOSED)
    assert set(closed.values_list("termination_type", flat=True)) == set(TerminationType.values)


@pytest.mark.slow
def test_seed_demo_covers_sexual_labour_organ_removal_and_unknown_purposes(demo_output):
    by_purpose = dict(Case.objects.values_list("purpose").annotate(n=Count("id")))
    assert set(by_purpose) == set(TraffickingPurpose.values)
    assert by_purpose[TraffickingPurpose.SEXUAL] > 100 and by_purpose[TraffickingPurpose.LABOUR] > 100


@pytest.mark.slow
def test_seed_demo_victims_come_from_at_least_twenty_nationalities_and_some_unknown(demo_output):
    nationalities = set(Victim.objects.values_list("nationality", flat=True))
    assert len(nationalities - {""}) >= 20
    assert "" in nationalities
    assert {"BO", "PE", "PY", "CO", "VE", "DO", "HT", "CN", "CL"} <= nationalities


@pytest.mark.slow
def test_seed_demo_victims_are_mostly_female_but_labour_victims_mostly_male(demo_output):
    by_sex = dict(Victim.objects.values_list("sex").annotate(n=Count("id")))
    assert set(by_sex) == set(Sex.values)
    assert 0.55 <= by_sex[Sex.FEMALE] / sum(by_sex.values()) <= 0.65
    labour = CaseVictim.objects.filter(purpose=TraffickingPurpose.LABOUR).aggregate(
        male=Count("id", filter=Q(victim__sex=Sex.MALE)), female=Count("id", filter=Q(victim__sex=Sex.FEMALE))
    )
    assert labour["male"] > 2 * labour["female"]


@pytest.mark.slow
def test_seed_demo_includes_minors_with_and_without_a_known_age(demo_output):
    links = CaseVictim.objects.aggregate(
        total=Count("id"),
        minors=Count("id", filter=Q(is_minor=True)),
        minors_known_age=Count("id", filter=Q(is_minor=True, age_status=AgeStatus.KNOWN)),
        minors_unknown_age=Count("id", filter=Q(age_status=AgeStatus.MINOR_UNKNOWN)),
        age_unknown=Count("id", filter=Q(age_status=AgeStatus.UNKNOWN)),
    )
    assert 0.10 <= links["minors"] / links["total"] <= 0.15
    assert links["minors_known_age"] and links["minors_unknown_age"] and links["age_unknown"]


@pytest.mark.slow
def test_seed_demo_cases_have_one_to_three_victims_and_some_victims_are_in_two_cases(demo_output):
    per_case = list(Case.objects.annotate(n=Count("victim_links")).values_list("n", flat=True))
    assert min(per_case) >= 1 and max(per_case) <= 3
    assert 2.3 <= sum(per_case) / len(per_case) <= 2.7
    assert Victim.objects.annotate(n=Count("case_links")).filter(n=2).count() >= 5


@pytest.mark.slow
def test_seed_demo_case_dates_and_formalisation_are_consistent(demo_output):
    today = timezone.localdate()
    cases = list(Case.objects.all())
    for case in cases:
        assert case.ruc[:2] == f"{case.intake_date.year % 100:02d}"
        dates = [case.intake_date, case.investigation_start_date, case.formalised_date, case.termination_date]
        assert all(d <= today for d in dates if d)
        if case.is_formalised:
            assert case.intake_date <= case.investigation_start_date <= case.formalised_date
        if case.termination_date:
            assert case.termination_date >= max(d for d in dates[:3] if d)
    formalised_share = sum(case.is_formalised for case in cases) / len(cases)
    assert 0.5 <= formalised_share <= 0.7
    assert CaseExternalReference.objects.filter(source__in=["pdi-parte", "carabineros-parte"]).count() > 50


@pytest.mark.slow
def test_seed_demo_convicts_offenders_only_in_cases_ended_by_conviction(demo_output):
    convicted = CaseOffender.objects.filter(is_convicted=True).select_related("case")
    assert convicted.exists()
    for link in convicted:
        assert link.case.termination_type == TerminationType.CONVICTION
        assert link.sentence_date == link.case.termination_date
    assert not Case.objects.filter(termination_type=TerminationType.CONVICTION).exclude(
        offender_links__is_convicted=True
    )
    per_case = Case.objects.annotate(n=Count("offender_links")).aggregate(low=Min("n"), high=Max("n"))
    assert per_case == {"low": 1, "high": 3}


@pytest.mark.slow
def test_seed_demo_victim_identity_is_encrypted_decrypts_and_runs_have_valid_check_digits(demo_output):
    victims = list(Victim.objects.exclude(document_index=None))
    assert len(victims) > 300
    runs = 0
    for victim in victims:
        assert victim.given_names and victim.surnames
        assert bytes(victim.document_index) == document_blind_index(victim.document_type, victim.document_number)
        if victim.document_type == DocumentType.RUN:
            normalise_run(victim.document_number)  # raises on a wrong check digit
            runs += 1
    assert runs > 20
    assert {DocumentType.PASSPORT, DocumentType.FOREIGN_ID} <= {v.document_type for v in victims}
    assert Victim.objects.filter(document_index=None).exists()  # people without a known document too


@pytest.mark.slow
def test_demo_users_have_the_promised_roles_and_capabilities(demo_output):
    users = {user.username: user for user in User.objects.select_related("institution")}
    sysadmin = users["sysadmin"]
    assert sysadmin.is_staff and sysadmin.is_superuser and sysadmin.institution is None and sysadmin.role == ""
    assert users["secretaria.mitp"].is_mitp_secretariat and users["secretaria.mitp"].institution.short_name == "SUBINT"
    assert users["sermig.oficial"].is_sermig_officer and users["sermig.oficial"].institution.short_name == "SERMIG"
    assert users["oficial.ong"].institution.kind == InstitutionKind.NGO
    member_roles = {(u.institution.short_name, u.role) for u in users.values() if u.institution}
    assert {("PDI", Role.CASE_OFFICER), ("PDI", Role.INSTITUTION_ADMIN), ("FISCALIA", Role.READER)} <= member_roles
    assert {role for _, role in member_roles} == set(Role.values)


@pytest.mark.slow
@pytest.mark.parametrize("username", [user.username for user in DEMO_USERS])
def test_demo_user_signs_in_with_the_documented_password(demo_output, username):
    assert DEMO_PASSWORD == "demo-mitp-2026"
    assert authenticate(username=username, password="demo-mitp-2026") is not None
    assert authenticate(username=username, password="otra-clave-cualquiera") is None


@pytest.mark.slow
def test_seed_demo_prints_every_demo_login_with_its_password(demo_output):
    for user in DEMO_USERS:
        line = next(line for line in demo_output.splitlines() if line.split()[:1] == [user.username])
        assert DEMO_PASSWORD in line
        assert (user.institution or "-") in line


def test_demo_plan_is_the_same_whatever_day_it_is_built():
    first = build_demo_plan(today=datetime.date(2026, 11, 28))
    later = build_demo_plan(today=datetime.date(2031, 1, 1))
    assert [case.ruc for case in first] == [case.ruc for case in later]
    assert [case.data for case in first] == [case.data for case in later]


@override_settings(SETTINGS_MODULE="config.settings.production")
@pytest.mark.parametrize("command", ["seed_demo", "generate_dataset"])
def test_demo_and_synthetic_data_are_refused_with_production_settings(command):
    before = counts()
    with pytest.raises(CommandError, match="production"):
        call_command(command, *(["--cases", "1"] if command == "generate_dataset" else []))
    assert counts() == before


# --- generate_dataset ---------------------------------------------------------------------------
# These measure differences: the demo set of the tests above may still be in the database.


def test_generate_dataset_creates_cases_and_victims_whose_identity_decrypts():
    before, existing = counts(), set(Victim.objects.values_list("id", flat=True))
    output = generate(200, seed=7)

    after = counts()
    assert after["Case"] - before["Case"] == 200
    assert 440 <= after["Victim"] - before["Victim"] <= 560
    assert after["CaseVictim"] - before["CaseVictim"] >= after["Victim"] - before["Victim"]
    assert after["Offender"] - before["Offender"] >= 200
    assert "cases/s" in output and "victims/s" in output
    new_victims = Victim.objects.exclude(id__in=existing).prefetch_related("case_links")
    for victim in new_victims:
        assert victim.given_names and victim.surnames
        assert victim.document_index is not None
        assert bytes(victim.document_index) == document_blind_index(victim.document_type, victim.document_number)
        if any(link.age_status == AgeStatus.KNOWN for link in victim.case_links.all()):
            assert victim.birth_date and victim.birth_date.year == victim.birth_year


def test_generate_dataset_cases_respect_the_case_rules():
    existing = set(Case.objects.values_list("id", flat=True))
    generate(200, seed=11)

    new_cases = Case.objects.exclude(id__in=existing)
    for case in new_cases:
        case.full_clean()  # the same validation the services run
        assert case.ruc[:2] == f"{case.intake_date.year % 100:02d}" and case.ruc[2] == "9"
    convicted = CaseOffender.objects.filter(case__in=new_cases, is_convicted=True).select_related("case")
    assert convicted.exists()
    for link in convicted:
        assert link.case.termination_type == TerminationType.CONVICTION
        assert link.sentence_date == link.case.termination_date


def test_generate_dataset_run_twice_adds_another_batch_without_collisions():
    before = counts()
    generate(200, seed=3)
    generate(200, seed=3)  # same seed: the same people again, but new cases, RUCs and codes

    after = counts()
    assert after["Case"] - before["Case"] == 400
    assert Case.objects.values("ruc").distinct().count() == after["Case"]
    assert 880 <= after["Victim"] - before["Victim"] <= 1120
    assert Victim.objects.values("code").distinct().count() == after["Victim"]


def test_generate_dataset_spreads_cases_over_forty_institutions_adding_synthetic_ones():
    active_before = Institution.objects.filter(is_active=True).count()
    existing = set(Case.objects.values_list("id", flat=True))
    generate(200, seed=5)

    assert Institution.objects.filter(is_active=True).count() == max(40, active_before)
    synthetic = Institution.objects.filter(name__startswith="Institución sintética").count()
    assert synthetic == max(0, 40 - active_before)
    leads = Case.objects.exclude(id__in=existing).values("lead_institution").distinct().count()
    assert leads >= 25
