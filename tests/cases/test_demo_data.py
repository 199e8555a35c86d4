"""The demo set (`seed_demo`) and the benchmark generator (`generate_dataset`)."""

import datetime
import io
from collections import Counter

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.db import transaction
from django.db.models import Count, F, Max, Min, Q
from django.test import RequestFactory, override_settings
from django.utils import timezone

from cases import demo_data
from cases.constants import CasePermission, CaseStatus, TerminationType, TraffickingPurpose
from cases.demo_data import DEMO_PASSWORD, DEMO_USERS, build_demo_plan, build_share_plan, sharing_usernames
from cases.models import Case, CaseExternalReference, CaseGroupObjectPermission, CaseOffender, CaseShare, Offender
from cases.selectors import case_list
from institutions.constants import InstitutionKind, Role
from institutions.models import Institution, User
from kernel.choices import Region, Sex
from kernel.constants import AccessAction
from kernel.identity_documents import DocumentType, document_blind_index, normalise_run
from kernel.models import AccessEvent
from protocol.constants import (
    RESIDENCE_REMINDER_DAYS,
    ActivationState,
    ReferralState,
    ResidenceState,
    ServiceType,
)
from protocol.demo_data import build_protocol_plan
from protocol.models import (
    ProtocolActivation,
    ProtocolTransition,
    Referral,
    ReferralTransition,
    ResidenceApplication,
    ResidenceTransition,
)
from protocol.referrals import provider_inbox
from protocol.residence import has_sermig_capability, residence_queue
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
        for model in (
            Institution,
            User,
            Case,
            CaseExternalReference,
            Victim,
            CaseVictim,
            Offender,
            CaseOffender,
            CaseShare,
            CaseGroupObjectPermission,
            ProtocolActivation,
            ProtocolTransition,
            Referral,
            ReferralTransition,
            ResidenceApplication,
            ResidenceTransition,
        )
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
    shared_with = {
        share.institution for share in build_share_plan(build_demo_plan(today=timezone.localdate())) if share.ruc == ruc
    }
    assert set(CaseShare.objects.filter(case__ruc=ruc).values_list("institution__short_name", flat=True)) == (
        shared_with
    )  # its shares are granted again too
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
    request = RequestFactory().post("/ingresar/")  # django-axes needs the request
    assert authenticate(request, username=username, password="demo-mitp-2026") is not None
    assert authenticate(request, username=username, password="otra-clave-cualquiera") is None


@pytest.mark.slow
def test_seed_demo_prints_every_demo_login_with_its_password(demo_output):
    for user in DEMO_USERS:
        line = next(line for line in demo_output.splitlines() if line.split()[:1] == [user.username])
        assert DEMO_PASSWORD in line
        assert (user.institution or "-") in line


def share_permissions(share: CaseShare) -> set[str]:
    expected = {CasePermission.VIEW}
    expected |= {CasePermission.VIEW_IDENTITY} if share.can_view_identity else set()
    expected |= {CasePermission.COLLABORATE} if share.can_collaborate else set()
    return expected


@pytest.mark.slow
def test_seed_demo_shares_about_a_fifth_of_the_cases_with_one_or_two_institutions(demo_output):
    shares = list(CaseShare.objects.select_related("case", "granted_by"))
    per_case = Counter(share.case_id for share in shares)

    assert 0.17 <= len(per_case) / Case.objects.count() <= 0.23
    assert set(per_case.values()) == {1, 2}
    assert 3 <= sum(share.can_collaborate for share in shares) <= len(shares) / 4
    assert 3 <= sum(share.can_view_identity for share in shares) <= len(shares) / 4
    for share in shares:
        assert share.is_active and share.reason
        assert share.institution_id != share.case.lead_institution_id
        # Shared by a case officer of the lead institution, as only they may.
        assert share.granted_by.institution_id == share.case.lead_institution_id
        assert share.granted_by.role == Role.CASE_OFFICER
        if share.can_view_identity:
            assert share.legal_basis.startswith("Orden del fiscal")
        else:
            assert share.legal_basis == ""


@pytest.mark.slow
def test_seed_demo_shares_grant_exactly_their_levels_and_are_in_the_access_log(demo_output):
    shares = list(CaseShare.objects.select_related("case"))
    grants = grants_by_case({share.case_id for share in shares})

    for share in shares:
        assert grants[share.case_id][share.institution_id] == share_permissions(share)
        assert grants[share.case_id][share.case.lead_institution_id] == set(CasePermission.LEAD)
    events = AccessEvent.objects.filter(action=AccessAction.SHARE)
    assert events.count() == len(shares)  # one event per share: the real service wrote them
    assert events.filter(rests_on_legal_basis=True).count() == sum(share.can_view_identity for share in shares)


@pytest.mark.slow
def test_demo_officers_see_the_cases_shared_with_their_institution(demo_output):
    officers = {short_name: User.objects.get(username=name) for short_name, name in sharing_usernames().items()}
    received = CaseShare.objects.filter(institution__short_name__in=officers).select_related("institution")
    assert received.exists()
    for share in received:
        assert case_list(user=officers[share.institution.short_name]).filter(pk=share.case_id).exists()


@pytest.mark.slow
def test_seed_demo_does_not_share_again_a_case_whose_share_was_revoked(demo_output):
    share = CaseShare.objects.select_related("granted_by").order_by("id").first()
    CaseShare.objects.filter(pk=share.pk).update(
        revoked_at=timezone.now(), revoked_by=share.granted_by, revoke_reason="Fin de la coordinación."
    )

    output = io.StringIO()
    call_command("seed_demo", stdout=output)

    assert "nothing was created" in output.getvalue()
    assert not CaseShare.objects.filter(case_id=share.case_id, institution_id=share.institution_id).exclude(pk=share.pk)


# --- the Protocolo de Atención in the demo ------------------------------------------------------


@pytest.mark.slow
def test_seed_demo_shows_protocol_activations_in_every_state_each_with_its_timeline(demo_output):
    activations = ProtocolActivation.objects.annotate(moves=Count("transitions"))
    assert set(activations.values_list("state", flat=True)) == set(ActivationState.values)
    for activation in activations:
        # Reached through the transition services: a timeline entry per move after the request.
        assert activation.moves == activation.version
        assert activation.institution.users.filter(role=Role.CASE_OFFICER).exists()
        if activation.state in (ActivationState.ACTIVE, ActivationState.CLOSED):
            assert activation.consent_on and activation.consent_recorded_by_id
    rejected = activations.get(state=ActivationState.REJECTED)
    assert rejected.outcome_reason
    third_party = activations.get(state=ActivationState.REQUESTED)
    assert third_party.requester_name and third_party.requester_contact


@pytest.mark.slow
def test_seed_demo_registers_one_person_with_the_protocol_alone(demo_output):
    (person,) = Victim.objects.filter(case_links=None, protocol_activations__isnull=False)
    activation = person.protocol_activations.get()
    assert activation.state == ActivationState.ACTIVE
    assert person.registering_institution_id == activation.institution_id
    assert activation.institution.short_name == "RAICES"
    assert person.given_names and person.document_number  # identity encrypted, and it decrypts
    assert person.residence_applications.get().state == ResidenceState.DERIVED


@pytest.mark.slow
def test_seed_demo_refers_victims_in_every_referral_state_to_varied_providers_one_shelter_overdue(demo_output):
    referrals = Referral.objects.select_related("provider", "activation")
    assert set(referrals.values_list("state", flat=True)) == set(ReferralState.values)
    assert referrals.values("provider").distinct().count() >= 5
    assert referrals.values("service_type").distinct().count() >= 6
    now = timezone.now()
    (overdue,) = referrals.filter(state=ReferralState.PENDING, response_due_at__lt=now)
    assert overdue.service_type == ServiceType.SHELTER
    for referral in referrals:
        assert referral.provider_id != referral.activation.institution_id
        assert referral.transitions.count() == referral.version
    # The provider's inbox shows the delay first.
    shelter_officer = User.objects.get(username="oficial.sernameg")
    assert provider_inbox(user=shelter_officer).first() == overdue


@pytest.mark.slow
def test_seed_demo_fills_sermigs_queue_with_every_state_a_permit_about_to_expire_and_a_renewal(demo_output):
    sermig = User.objects.select_related("institution").get(username="sermig.oficial")
    assert has_sermig_capability(sermig)
    assert sermig.institution.kind == InstitutionKind.MIGRATION
    queue = residence_queue(user=sermig)
    assert set(queue.values_list("state", flat=True)) == set(ResidenceState.values)
    (renewal,) = queue.exclude(renews=None)
    assert renewal.renews.state == ResidenceState.GRANTED
    horizon = timezone.localdate() + datetime.timedelta(days=RESIDENCE_REMINDER_DAYS)
    expiring = queue.filter(state=ResidenceState.GRANTED, valid_until__lte=horizon).exclude(renewals__isnull=False)
    assert expiring.count() == 1
    (permit,) = expiring
    assert permit.permit_number.startswith("RTH-") and permit.valid_from < permit.valid_until
    rejected = queue.get(state=ResidenceState.REJECTED)
    assert rejected.rejection_reason
    for application in queue:
        assert application.transitions.count() == application.version


@pytest.mark.slow
def test_seed_demo_run_again_adds_no_activation_referral_or_application(demo_output):
    before = (ProtocolActivation.objects.count(), Referral.objects.count(), ResidenceApplication.objects.count())
    output = io.StringIO()

    call_command("seed_demo", stdout=output)

    assert (ProtocolActivation.objects.count(), Referral.objects.count(), ResidenceApplication.objects.count()) == (
        before
    )
    assert "nothing was created" in output.getvalue()


def test_demo_protocol_plan_is_the_same_whatever_day_it_is_built():
    first = build_protocol_plan(build_demo_plan(today=datetime.date(2026, 11, 28)))
    later = build_protocol_plan(build_demo_plan(today=datetime.date(2031, 1, 1)))
    assert first == later
    victims = [spec.victim for spec in first.activations] + [spec.victim for spec in first.residence]
    assert len(set(victims)) == len(victims) - 1  # the person without a case has both


def test_demo_share_plan_is_the_same_whatever_day_it_is_built_and_only_leads_with_officers_share():
    first = build_share_plan(build_demo_plan(today=datetime.date(2026, 11, 28)))
    later = build_share_plan(build_demo_plan(today=datetime.date(2031, 1, 1)))
    assert first == later
    assert {share.lead for share in first} <= set(sharing_usernames())
    assert all(share.institution != share.lead for share in first)


class AllZeros:
    """A generator that draws the first choice every time: "0" for a digit."""

    def choice(self, values):
        return values[0]


@pytest.mark.parametrize("shape", ["9999999", "999999999", "999-9999999-9", "AA9999999"])
def test_a_drawn_document_number_that_comes_out_all_zeros_is_still_a_valid_document(shape):
    number = demo_data._shaped(AllZeros(), shape)
    assert len(document_blind_index(DocumentType.FOREIGN_ID, number)) > 0  # raises if malformed


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


def grants_by_case(case_ids) -> dict[int, dict[int, set[str]]]:
    """case id -> institution id -> permission codenames its group holds on the case."""
    grants: dict[int, dict[int, set[str]]] = {}
    rows = CaseGroupObjectPermission.objects.filter(content_object_id__in=case_ids).values_list(
        "content_object_id", "group__institution__id", "permission__codename"
    )
    for case_id, institution_id, codename in rows:
        grants.setdefault(case_id, {}).setdefault(institution_id, set()).add(codename)
    return grants


def test_generate_dataset_gives_every_lead_institution_exactly_its_four_permissions():
    existing = set(Case.objects.values_list("id", flat=True))
    generate(200, seed=13)

    new_cases = dict(Case.objects.exclude(id__in=existing).values_list("id", "lead_institution_id"))
    grants = grants_by_case(new_cases)
    assert len(new_cases) == 200
    for case_id, lead_id in new_cases.items():
        assert grants[case_id][lead_id] == set(CasePermission.LEAD)
    lead_rows = CaseGroupObjectPermission.objects.filter(
        content_object_id__in=new_cases, group__institution__led_cases=F("content_object_id")
    )
    assert lead_rows.count() == 4 * 200


def test_generate_dataset_shares_cases_and_each_active_share_grants_exactly_what_its_flags_say():
    existing = set(Case.objects.values_list("id", flat=True))
    generate(200, seed=17)

    new_cases = dict(Case.objects.exclude(id__in=existing).values_list("id", "lead_institution_id"))
    grants = grants_by_case(new_cases)
    shares = list(CaseShare.objects.filter(case_id__in=new_cases).select_related("granted_by"))
    per_case = Counter(share.case_id for share in shares)
    assert 0.9 <= len(shares) / 200 <= 1.6 and max(per_case.values()) <= 3
    assert 0 < sum(not share.is_active for share in shares) < 0.15 * len(shares)
    for share in shares:
        lead_id = new_cases[share.case_id]
        assert share.institution_id != lead_id
        assert share.granted_by.institution_id == lead_id and share.granted_by.role == Role.CASE_OFFICER
        assert share.reason
        held = grants[share.case_id].get(share.institution_id, set())
        if not share.is_active:
            assert held == set()  # a revoked share grants nothing
            assert share.revoked_at >= share.created_at and share.revoked_by_id == share.granted_by_id
            continue
        expected = {CasePermission.VIEW}
        expected |= {CasePermission.VIEW_IDENTITY} if share.can_view_identity else set()
        expected |= {CasePermission.COLLABORATE} if share.can_collaborate else set()
        assert held == expected
        assert bool(share.legal_basis) == share.can_view_identity  # identity rests on a stated legal basis
    active = [share for share in shares if share.is_active]
    assert any(share.can_view_identity for share in active) and any(share.can_collaborate for share in active)
    assert any(not share.can_view_identity and not share.can_collaborate for share in active)
    for case_id, lead_id in new_cases.items():
        sharing = {share.institution_id for share in active if share.case_id == case_id}
        assert set(grants[case_id]) == {lead_id} | sharing  # nobody else holds anything
