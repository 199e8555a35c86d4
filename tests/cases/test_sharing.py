"""Sharing a case, taking it back, the duplicate check and access requests (cases.sharing).

Who may share, what each level gives, what is refused and why, and that the guardian rows
always mirror exactly the active shares. Real PostgreSQL, no mocks.
"""

import datetime
from dataclasses import dataclass

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404

from cases.access import user_case_permissions
from cases.constants import AccessRequestStatus, CasePermission
from cases.models import AccessRequest, Case, CaseGroupObjectPermission, CaseShare
from cases.selectors import access_requests_for_lead, access_requests_of_institution, case_get, case_list
from cases.sharing import access_request_create, access_request_decide, case_share, case_unshare
from institutions.constants import Role
from institutions.models import Institution, User
from kernel.constants import AccessAction
from kernel.errors import DomainError
from kernel.models import AccessEvent
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, VictimFactory
from victims.consent import consent_record, consent_withdraw
from victims.models import Victim, VictimConsent
from victims.selectors import document_registered_elsewhere
from victims.services import victim_link_to_case

pytestmark = pytest.mark.django_db

VIEW, IDENTITY, COLLABORATE = CasePermission.VIEW, CasePermission.VIEW_IDENTITY, CasePermission.COLLABORATE
LEGAL_BASIS = "Orden del fiscal adjunto de Iquique, 12 de marzo de 2024"
CONSENT_DATE = datetime.date(2024, 1, 15)


@dataclass
class World:
    lead: Institution
    grantee: Institution
    third: Institution
    stranger: Institution
    lead_officer: User
    lead_reader: User
    lead_admin: User
    grantee_officer: User
    grantee_reader: User
    third_officer: User
    stranger_officer: User
    superuser: User
    staff: User
    case: Case
    victims: list[Victim]

    def user(self, name: str) -> User:
        return getattr(self, name)


@pytest.fixture
def world(db) -> World:
    lead = InstitutionFactory(name="Fiscalía Regional de Tarapacá", short_name="FR-TARAPACA")
    grantee = InstitutionFactory(name="Servicio Nacional de Migraciones", short_name="SERMIG")
    third = InstitutionFactory(name="Corporación Anide", short_name="ANIDE")
    stranger = InstitutionFactory(name="Carabineros de Chile", short_name="CARABINEROS")
    case = CaseFactory(lead_institution=lead, ruc="2300987654-3")
    victims = [
        VictimFactory(registering_institution=lead, given_names="Florinda", surnames="Quispe Mamani"),
        VictimFactory(registering_institution=lead, given_names="Gumercinda", surnames="Condori"),
    ]
    for victim in victims:
        victim_link_to_case(actor=None, victim=victim, case=case)
    return World(
        lead=lead,
        grantee=grantee,
        third=third,
        stranger=stranger,
        lead_officer=UserFactory(username="oficial.fiscalia", institution=lead),
        lead_reader=UserFactory(username="lector.fiscalia", institution=lead, role=Role.READER),
        lead_admin=UserFactory(username="admin.fiscalia", institution=lead, role=Role.INSTITUTION_ADMIN),
        grantee_officer=UserFactory(username="oficial.sermig", institution=grantee),
        grantee_reader=UserFactory(username="lector.sermig", institution=grantee, role=Role.READER),
        third_officer=UserFactory(username="oficial.anide", institution=third),
        stranger_officer=UserFactory(username="oficial.carabineros", institution=stranger),
        superuser=UserFactory(username="raiz", institution=None, role="", is_staff=True, is_superuser=True),
        staff=UserFactory(username="soporte", institution=None, role="", is_staff=True),
        case=case,
        victims=victims,
    )


def share(world: World, **overrides) -> CaseShare:
    arguments = {
        "actor": world.lead_officer,
        "case_id": world.case.pk,
        "institution": world.grantee,
        "reason": "Coordinación de la investigación con la institución",
    }
    return case_share(**{**arguments, **overrides})


def record_consent(world: World, victim: Victim, actor: User | None = None) -> VictimConsent:
    return consent_record(
        actor=actor or world.lead_officer,
        victim_id=victim.pk,
        given_on=CONSENT_DATE,
        scope="Compartir su identidad con instituciones de la MITP para su protección",
    )


def share_permissions(share: CaseShare) -> set[str]:
    return (
        {VIEW}
        | ({IDENTITY} if share.can_view_identity else set())
        | ({COLLABORATE} if share.can_collaborate else set())
    )


def assert_guardian_rows_match_active_shares(case: Case) -> None:
    """The grant table holds exactly the lead's four permissions and each active share's, no more."""
    rows = list(
        CaseGroupObjectPermission.objects.filter(content_object=case).values_list(
            "group__institution__id", "permission__codename"
        )
    )
    expected = {(case.lead_institution_id, codename) for codename in CasePermission.LEAD}
    for active in CaseShare.objects.filter(case=case, revoked_at__isnull=True):
        expected |= {(active.institution_id, codename) for codename in share_permissions(active)}
    assert len(rows) == len(set(rows)), "duplicate guardian rows"
    assert set(rows) == expected


def all_rows_with_guardian_state() -> tuple:
    return (
        CaseShare.objects.count(),
        sorted(CaseGroupObjectPermission.objects.values_list("group_id", "permission_id", "content_object_id")),
        AccessEvent.objects.filter(action=AccessAction.SHARE).count(),
    )


# --- sharing: what each level gives ------------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "expected_permissions"),
    [
        ("ver", {VIEW}),
        ("ver_identidad_fundamento_legal", {VIEW, IDENTITY}),
        ("ver_identidad_consentimientos", {VIEW, IDENTITY}),
        ("colaborar", {VIEW, COLLABORATE}),
        ("colaborar_con_identidad", {VIEW, IDENTITY, COLLABORATE}),
    ],
)
def test_the_lead_officer_shares_a_case_and_the_grantee_holds_exactly_what_the_level_gives(
    world, level, expected_permissions
):
    assert world.case not in case_list(user=world.grantee_officer)
    consents = []
    arguments = {}
    if level == "ver_identidad_fundamento_legal":
        arguments = {"can_view_identity": True, "legal_basis": LEGAL_BASIS}
    elif level == "ver_identidad_consentimientos":
        consents = [record_consent(world, victim) for victim in world.victims]
        arguments = {"can_view_identity": True, "consent_ids": [consent.pk for consent in consents]}
    elif level == "colaborar":
        arguments = {"can_collaborate": True}
    elif level == "colaborar_con_identidad":
        arguments = {"can_collaborate": True, "can_view_identity": True, "legal_basis": LEGAL_BASIS}

    created = share(world, **arguments)

    created.refresh_from_db()
    assert created.is_active and created.granted_by == world.lead_officer
    assert created.reason == "Coordinación de la investigación con la institución"
    assert set(created.consents.all()) == set(consents)
    assert created.legal_basis == (LEGAL_BASIS if arguments.get("legal_basis") else "")
    assert user_case_permissions(world.grantee_officer, world.case.pk) == expected_permissions
    assert user_case_permissions(world.grantee_reader, world.case.pk) == expected_permissions
    assert world.case in case_list(user=world.grantee_officer)
    assert world.case in case_list(user=world.grantee_reader)
    assert case_get(user=world.grantee_officer, case_id=world.case.pk) == world.case
    assert world.case not in case_list(user=world.stranger_officer)
    assert_guardian_rows_match_active_shares(world.case)


def test_a_share_stating_a_legal_basis_does_not_need_consents(world):
    created = share(world, can_view_identity=True, legal_basis=f"  {LEGAL_BASIS}  ")
    assert created.legal_basis == LEGAL_BASIS
    assert not created.consents.exists()


def test_a_legal_basis_without_identity_is_not_kept(world):
    created = share(world, legal_basis=LEGAL_BASIS)
    assert created.legal_basis == "" and not created.can_view_identity
    assert user_case_permissions(world.grantee_officer, world.case.pk) == {VIEW}


# --- sharing: what is refused, field by field ---------------------------------------------------


@pytest.mark.parametrize("refusal", ["one_victim_without_consent", "consent_withdrawn", "consent_of_another_case"])
def test_identity_by_consent_is_refused_unless_every_victim_of_the_case_has_an_active_consent(world, refusal):
    first, second = world.victims
    consents = [record_consent(world, first)]
    if refusal == "consent_withdrawn":
        withdrawn = record_consent(world, second)
        consent_withdraw(actor=world.lead_officer, victim_id=withdrawn.victim_id, consent_id=withdrawn.pk)
        consents.append(withdrawn)
    elif refusal == "consent_of_another_case":
        other_case = CaseFactory(lead_institution=world.lead)
        outsider = VictimFactory(registering_institution=world.lead)
        victim_link_to_case(actor=None, victim=outsider, case=other_case)
        consents.append(record_consent(world, outsider))
    before = all_rows_with_guardian_state()

    with pytest.raises(ValidationError) as refused:
        share(world, can_view_identity=True, consent_ids=[consent.pk for consent in consents])

    assert "consents" in refused.value.message_dict
    assert all_rows_with_guardian_state() == before
    assert world.case not in case_list(user=world.grantee_officer)


def test_identity_by_consent_is_refused_when_a_consent_does_not_exist(world):
    consents = [record_consent(world, victim) for victim in world.victims]
    with pytest.raises(ValidationError) as refused:
        share(world, can_view_identity=True, consent_ids=[consents[0].pk, consents[1].pk, 987_654_321])
    assert "consents" in refused.value.message_dict
    assert not CaseShare.objects.exists()


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_share_without_a_reason_is_refused_on_the_reason_field(world, reason):
    before = all_rows_with_guardian_state()
    with pytest.raises(ValidationError) as refused:
        share(world, reason=reason)
    assert "reason" in refused.value.message_dict
    assert all_rows_with_guardian_state() == before


@pytest.mark.parametrize("target", ["lead_itself", "inactive_institution"])
def test_sharing_with_the_lead_itself_or_an_inactive_institution_is_refused_on_the_institution_field(world, target):
    institution = world.lead if target == "lead_itself" else InstitutionFactory(is_active=False)
    before = all_rows_with_guardian_state()
    with pytest.raises(ValidationError) as refused:
        share(world, institution=institution)
    assert "institution" in refused.value.message_dict
    assert all_rows_with_guardian_state() == before


@pytest.mark.parametrize("legal_basis", ["", "   "])
def test_identity_without_consent_or_legal_basis_is_refused_on_the_legal_basis_field(world, legal_basis):
    before = all_rows_with_guardian_state()
    with pytest.raises(ValidationError) as refused:
        share(world, can_view_identity=True, legal_basis=legal_basis)
    assert "legal_basis" in refused.value.message_dict
    assert all_rows_with_guardian_state() == before


def test_every_missing_field_is_reported_at_once(world):
    with pytest.raises(ValidationError) as refused:
        share(world, institution=world.lead, reason="", can_view_identity=True)
    assert {"reason", "institution", "legal_basis"} <= set(refused.value.message_dict)


@pytest.mark.parametrize(
    "second",
    [{}, {"can_collaborate": True}, {"can_view_identity": True, "legal_basis": LEGAL_BASIS}],
    ids=["ver", "colaborar", "identidad"],
)
def test_sharing_twice_with_the_same_institution_is_refused(world, second):
    share(world)
    before = all_rows_with_guardian_state()
    with pytest.raises(DomainError):
        share(world, **second)
    assert all_rows_with_guardian_state() == before
    assert user_case_permissions(world.grantee_officer, world.case.pk) == {VIEW}


def test_after_an_unshare_the_case_can_be_shared_again_at_another_level(world):
    first = share(world)
    case_unshare(actor=world.lead_officer, share_id=first.pk, reason="Fin de la coordinación")
    share(world, can_collaborate=True)
    assert user_case_permissions(world.grantee_officer, world.case.pk) == {VIEW, COLLABORATE}
    assert_guardian_rows_match_active_shares(world.case)


# --- who may share and unshare ------------------------------------------------------------------

REFUSED_SHARERS = [
    ("lead_reader", PermissionDenied),
    ("lead_admin", PermissionDenied),
    ("grantee_officer", PermissionDenied),  # even with colaborar: sharing needs administrar
    ("grantee_reader", PermissionDenied),
    ("stranger_officer", Http404),
    ("superuser", Http404),
    ("staff", Http404),
]


@pytest.mark.parametrize(("actor", "error"), REFUSED_SHARERS)
def test_only_an_officer_of_the_lead_institution_may_share(world, actor, error):
    share(world, can_collaborate=True, can_view_identity=True, legal_basis=LEGAL_BASIS)
    before = all_rows_with_guardian_state()
    with pytest.raises(error):
        share(world, actor=world.user(actor), institution=world.third)
    assert all_rows_with_guardian_state() == before
    assert world.case not in case_list(user=world.third_officer)


@pytest.mark.parametrize(("actor", "error"), REFUSED_SHARERS)
def test_only_an_officer_of_the_lead_institution_may_unshare(world, actor, error):
    granted = share(world, can_collaborate=True)
    with pytest.raises(error):
        case_unshare(actor=world.user(actor), share_id=granted.pk, reason="Ya no corresponde")
    granted.refresh_from_db()
    assert granted.is_active
    assert world.case in case_list(user=world.grantee_officer)


@pytest.mark.parametrize("reason", ["", "  ", None])
def test_an_unshare_without_a_reason_is_refused_on_the_reason_field(world, reason):
    granted = share(world)
    with pytest.raises(ValidationError) as refused:
        case_unshare(actor=world.lead_officer, share_id=granted.pk, reason=reason)
    assert "reason" in refused.value.message_dict
    assert world.case in case_list(user=world.grantee_officer)


def test_unsharing_twice_is_refused_and_an_unknown_share_is_not_found(world):
    granted = share(world)
    case_unshare(actor=world.lead_officer, share_id=granted.pk, reason="Fin de la coordinación")
    with pytest.raises(DomainError):
        case_unshare(actor=world.lead_officer, share_id=granted.pk, reason="Otra vez")
    with pytest.raises(Http404):
        case_unshare(actor=world.lead_officer, share_id=granted.pk + 10_000, reason="No existe")


# --- revocation is immediate --------------------------------------------------------------------


@pytest.mark.parametrize(
    "level",
    [{}, {"can_collaborate": True}, {"can_view_identity": True, "legal_basis": LEGAL_BASIS}],
    ids=["ver", "colaborar", "identidad"],
)
def test_after_an_unshare_the_grantees_next_request_answers_404(world, client, level):
    granted = share(world, **level)
    client.force_login(world.grantee_officer)
    victim = world.victims[0]
    urls = [
        f"/causas/{world.case.pk}/",
        f"/api/v1/cases/{world.case.pk}/",
        f"/api/v1/cases/{world.case.pk}/victims/",
        f"/victimas/{victim.pk}/",
        f"/api/v1/victims/{victim.pk}/",
    ]
    assert [client.get(url).status_code for url in urls] == [200] * len(urls)
    assert world.case.ruc in client.get("/causas/").content.decode()

    case_unshare(actor=world.lead_officer, share_id=granted.pk, reason="Fin de la coordinación")

    assert [client.get(url).status_code for url in urls] == [404] * len(urls)
    assert client.post(f"/victimas/{victim.pk}/identidad/").status_code == 404
    assert world.case.ruc not in client.get("/causas/").content.decode()
    assert client.get("/api/v1/cases/").json()["results"] == []
    assert world.case not in case_list(user=world.grantee_officer)
    assert user_case_permissions(world.grantee_officer, world.case.pk) == frozenset()
    assert_guardian_rows_match_active_shares(world.case)
    assert not CaseGroupObjectPermission.objects.filter(group__institution=world.grantee).exists()


def test_the_lead_officer_unshares_over_http_and_the_grantee_loses_the_case(world, client):
    granted = share(world, can_collaborate=True)
    grantee = client.__class__()
    grantee.force_login(world.grantee_officer)
    assert grantee.get(f"/causas/{world.case.pk}/").status_code == 200

    client.force_login(world.lead_officer)
    response = client.post(
        f"/causas/{world.case.pk}/compartir/{granted.pk}/revocar/", {"reason": "Término de la colaboración"}
    )

    assert response.status_code == 302
    granted.refresh_from_db()
    assert not granted.is_active and granted.revoked_by == world.lead_officer
    assert granted.revoke_reason == "Término de la colaboración"
    assert grantee.get(f"/causas/{world.case.pk}/").status_code == 404
    assert grantee.get(f"/api/v1/cases/{world.case.pk}/").status_code == 404


def test_the_lead_officer_shares_over_http(world, client):
    client.force_login(world.lead_officer)
    response = client.post(
        f"/causas/{world.case.pk}/compartir/",
        {
            "institution": world.grantee.pk,
            "reason": "Coordinación",
            "can_view_identity": "on",
            "legal_basis": LEGAL_BASIS,
        },
    )
    assert response.status_code == 302
    assert user_case_permissions(world.grantee_officer, world.case.pk) == {VIEW, IDENTITY}
    assert_guardian_rows_match_active_shares(world.case)


@pytest.mark.parametrize(
    ("actor", "get_status", "post_status"),
    [
        ("lead_reader", 200, 403),  # the lead's readers see who the case is shared with, but never share
        ("lead_admin", 200, 403),
        ("grantee_officer", 403, 403),
        ("grantee_reader", 403, 403),
        ("stranger_officer", 404, 404),
        ("superuser", 404, 404),
        ("staff", 404, 404),
    ],
)
def test_the_share_page_refuses_with_403_who_sees_the_case_and_404_who_does_not(
    world, client, actor, get_status, post_status
):
    share(world, can_collaborate=True)
    client.force_login(world.user(actor))
    assert client.get(f"/causas/{world.case.pk}/compartir/").status_code == get_status
    response = client.post(f"/causas/{world.case.pk}/compartir/", {"institution": world.third.pk, "reason": "X"})
    assert response.status_code == post_status
    assert world.case not in case_list(user=world.third_officer)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"can_view_identity": "on"}, "legal_basis"),
    ],
)
def test_a_refused_share_over_http_answers_400_and_names_the_field(world, client, data, field):
    client.force_login(world.lead_officer)
    response = client.post(
        f"/causas/{world.case.pk}/compartir/", {"institution": world.grantee.pk, "reason": "Coordinación", **data}
    )
    assert response.status_code == 400
    assert field in response.context["errors"]
    assert not CaseShare.objects.exists()


# --- guardian rows mirror the active shares -----------------------------------------------------


def test_guardian_rows_match_the_active_shares_after_every_change(world):
    assert_guardian_rows_match_active_shares(world.case)
    consents = [record_consent(world, victim) for victim in world.victims]
    steps = [
        lambda: share(world),
        lambda: share(world, institution=world.third, can_view_identity=True, consent_ids=[c.pk for c in consents]),
        lambda: share(
            world, institution=world.stranger, can_collaborate=True, can_view_identity=True, legal_basis=LEGAL_BASIS
        ),
        lambda: consent_withdraw(actor=world.lead_officer, victim_id=consents[0].victim_id, consent_id=consents[0].pk),
        lambda: case_unshare(
            actor=world.lead_officer, share_id=CaseShare.objects.get(institution=world.grantee).pk, reason="Fin"
        ),
        lambda: share(world, can_collaborate=True),
        lambda: case_unshare(
            actor=world.lead_officer,
            share_id=CaseShare.objects.get(institution=world.stranger, revoked_at__isnull=True).pk,
            reason="Fin",
        ),
        lambda: case_unshare(
            actor=world.lead_officer,
            share_id=CaseShare.objects.get(institution=world.third, revoked_at__isnull=True).pk,
            reason="Fin",
        ),
        lambda: case_unshare(
            actor=world.lead_officer,
            share_id=CaseShare.objects.get(institution=world.grantee, revoked_at__isnull=True).pk,
            reason="Fin",
        ),
    ]
    for step in steps:
        step()
        assert_guardian_rows_match_active_shares(world.case)
    assert not CaseShare.objects.filter(revoked_at__isnull=True).exists()
    assert set(
        CaseGroupObjectPermission.objects.filter(content_object=world.case).values_list(
            "group__institution__id", flat=True
        )
    ) == {world.lead.pk}


def test_withdrawing_a_consent_leaves_the_grantee_at_ver(world):
    consents = [record_consent(world, victim) for victim in world.victims]
    granted = share(world, can_view_identity=True, consent_ids=[c.pk for c in consents])
    consent_withdraw(actor=world.lead_officer, victim_id=consents[1].victim_id, consent_id=consents[1].pk)
    granted.refresh_from_db()
    assert granted.is_active and not granted.can_view_identity
    assert user_case_permissions(world.grantee_officer, world.case.pk) == {VIEW}
    assert_guardian_rows_match_active_shares(world.case)


# --- duplicate check: only institution names leave -----------------------------------------------

PERSON_RUN = "15.000.005-K"  # check digit K, so the lower-case spelling is exercised too


@pytest.fixture
def hidden_person(world) -> Victim:
    victim = world.victims[0]
    victim.document_number = PERSON_RUN
    victim.phone = "+56 9 8765 4321"
    victim.email = "florinda.quispe@example.org"
    victim.address = "Pasaje Los Aromos 1234, Alto Hospicio"
    victim.save()
    return victim


def test_the_duplicate_check_names_only_the_lead_institution(world, hidden_person):
    names = document_registered_elsewhere(user=world.stranger_officer, document_type="run", document_number="15000005k")
    assert names == [world.lead.name]


@pytest.mark.parametrize(
    "spelling", ["15.000.005-K", "15000005-K", "15000005K", "15000005k", "015.000.005-k", " 15 000 005 K "]
)
def test_differently_formatted_runs_find_the_same_person(world, hidden_person, spelling):
    assert document_registered_elsewhere(
        user=world.stranger_officer, document_type="run", document_number=spelling
    ) == [world.lead.name]


def test_the_duplicate_check_page_shows_the_institution_name_and_nothing_else(world, hidden_person, client):
    client.force_login(world.stranger_officer)
    response = client.post("/victimas/duplicados/", {"tipo": "run", "numero": "15000005k"})
    assert response.status_code == 200
    body = response.content.decode()
    assert world.lead.name in body
    leaks = [
        world.case.ruc,
        f"/causas/{world.case.pk}/",
        hidden_person.code,
        str(hidden_person.pk),
        "Florinda",
        "Quispe",
        PERSON_RUN,
        "15.000.005",
        "+56 9 8765 4321",
        "florinda.quispe@example.org",
        "Los Aromos",
        "1995-05-17",  # the factory's birth date, in the forms a page could show it
        "17-05-1995",
        "17/05/1995",
        world.victims[1].code,
        "Gumercinda",
    ]
    assert [leak for leak in leaks if leak.lower() in body.lower()] == []


def test_the_duplicate_check_answers_nothing_for_an_unknown_person(world, hidden_person, client):
    assert (
        document_registered_elsewhere(user=world.stranger_officer, document_type="run", document_number="15000013-0")
        == []
    )
    client.force_login(world.stranger_officer)
    body = client.post("/victimas/duplicados/", {"tipo": "run", "numero": "15000013-0"}).content.decode()
    assert world.lead.name not in body


@pytest.mark.parametrize("viewer", ["lead_officer", "lead_reader", "grantee_officer", "grantee_reader"])
def test_a_user_who_already_sees_the_case_gets_an_empty_list(world, hidden_person, viewer):
    share(world)
    assert document_registered_elsewhere(user=world.user(viewer), document_type="run", document_number=PERSON_RUN) == []


@pytest.mark.parametrize("viewer", ["superuser", "staff"])
def test_the_duplicate_check_tells_system_administrators_nothing(world, hidden_person, viewer):
    assert document_registered_elsewhere(user=world.user(viewer), document_type="run", document_number=PERSON_RUN) == []


def test_a_person_in_two_hidden_cases_names_both_leads(world, hidden_person):
    other_case = CaseFactory(lead_institution=world.third)
    victim_link_to_case(actor=None, victim=hidden_person, case=other_case)
    names = document_registered_elsewhere(user=world.stranger_officer, document_type="run", document_number=PERSON_RUN)
    assert names == sorted([world.lead.name, world.third.name])


def test_a_person_in_a_visible_case_and_in_a_hidden_case_names_the_hidden_cases_lead(world, hidden_person):
    # The stranger leads a case with this person; the lead institution's case stays hidden from it.
    own_case = CaseFactory(lead_institution=world.stranger)
    victim_link_to_case(actor=None, victim=hidden_person, case=own_case)
    names = document_registered_elsewhere(user=world.stranger_officer, document_type="run", document_number=PERSON_RUN)
    assert names == [world.lead.name]


def test_a_person_in_a_visible_case_and_in_a_hidden_case_can_be_asked_for_from_the_hidden_cases_lead(
    world, hidden_person
):
    own_case = CaseFactory(lead_institution=world.stranger)
    victim_link_to_case(actor=None, victim=hidden_person, case=own_case)
    (request,) = access_request_create(
        actor=world.stranger_officer, document_type="run", document_number=PERSON_RUN, reason="Misma persona"
    )
    assert request.case == world.case and request.case.lead_institution == world.lead


def test_a_person_registered_without_a_case_names_the_registering_institution(world):
    VictimFactory(registering_institution=world.third, document_number="15.000.019-K")
    names = document_registered_elsewhere(user=world.stranger_officer, document_type="run", document_number="15000019K")
    assert names == [world.third.name]


def test_a_malformed_document_is_refused(world):
    with pytest.raises(ValidationError):
        document_registered_elsewhere(user=world.stranger_officer, document_type="run", document_number="15000005-1")


# --- access requests ----------------------------------------------------------------------------


def request_access_over_http(client, world: World, reason: str = "La persona está en nuestro programa"):
    client.force_login(world.stranger_officer)
    return client.post("/solicitudes/nueva/", {"tipo": "run", "numero": "15000005k", "reason": reason})


def test_requesting_access_over_http_creates_one_pending_request_to_the_lead(world, hidden_person, client):
    response = request_access_over_http(client, world)
    assert response.status_code == 200
    body = response.content.decode()
    assert world.case.ruc not in body and hidden_person.code not in body

    request = AccessRequest.objects.get()
    assert (request.case, request.institution, request.requested_by, request.status) == (
        world.case,
        world.stranger,
        world.stranger_officer,
        AccessRequestStatus.PENDING,
    )
    assert request_access_over_http(client, world).status_code == 200
    assert AccessRequest.objects.count() == 1, "only one pending request per case and institution"

    assert list(access_requests_for_lead(user=world.lead_officer)) == [request]
    assert list(access_requests_for_lead(user=world.lead_reader)) == [request]
    assert list(access_requests_for_lead(user=world.stranger_officer)) == []
    assert list(access_requests_for_lead(user=world.grantee_officer)) == []
    assert list(access_requests_of_institution(user=world.stranger_officer)) == [request]
    assert world.case not in case_list(user=world.stranger_officer)


def test_an_access_request_needs_a_reason(world, hidden_person, client):
    assert request_access_over_http(client, world, reason="  ").status_code == 400
    assert not AccessRequest.objects.exists()
    with pytest.raises(ValidationError) as refused:
        access_request_create(actor=world.stranger_officer, document_type="run", document_number=PERSON_RUN, reason="")
    assert "reason" in refused.value.message_dict


def test_a_grantee_already_seeing_the_case_creates_no_request(world, hidden_person):
    share(world)
    created = access_request_create(
        actor=world.grantee_officer, document_type="run", document_number=PERSON_RUN, reason="Duplicado"
    )
    assert created == [] and not AccessRequest.objects.exists()


def pending_request(world: World) -> AccessRequest:
    (request,) = access_request_create(
        actor=world.stranger_officer, document_type="run", document_number=PERSON_RUN, reason="Misma persona"
    )
    return request


def test_approving_a_request_shares_the_case_at_ver(world, hidden_person):
    request = pending_request(world)
    decided = access_request_decide(actor=world.lead_officer, request_id=request.pk, approve=True, note="Procede")
    decided.refresh_from_db()
    assert decided.status == AccessRequestStatus.APPROVED
    assert decided.decided_by == world.lead_officer and decided.decided_at is not None
    granted = CaseShare.objects.get(case=world.case, institution=world.stranger)
    assert granted.is_active and not granted.can_view_identity and not granted.can_collaborate
    assert user_case_permissions(world.stranger_officer, world.case.pk) == {VIEW}
    assert world.case in case_list(user=world.stranger_officer)
    assert_guardian_rows_match_active_shares(world.case)
    assert (
        document_registered_elsewhere(user=world.stranger_officer, document_type="run", document_number=PERSON_RUN)
        == []
    )


def test_approving_a_request_over_http_shares_the_case(world, hidden_person, client):
    request = pending_request(world)
    client.force_login(world.lead_officer)
    response = client.post(f"/solicitudes/{request.pk}/resolver/", {"decision": "aprobar", "note": "Procede"})
    assert response.status_code == 302
    assert world.case in case_list(user=world.stranger_officer)


def test_declining_a_request_leaves_the_case_hidden(world, hidden_person):
    request = pending_request(world)
    decided = access_request_decide(actor=world.lead_officer, request_id=request.pk, approve=False, note="No procede")
    decided.refresh_from_db()
    assert decided.status == AccessRequestStatus.DECLINED and decided.decision_note == "No procede"
    assert not CaseShare.objects.exists()
    assert world.case not in case_list(user=world.stranger_officer)
    with pytest.raises(Http404):
        case_get(user=world.stranger_officer, case_id=world.case.pk)
    assert_guardian_rows_match_active_shares(world.case)


@pytest.mark.parametrize("first", [True, False], ids=["aprobada", "rechazada"])
@pytest.mark.parametrize("second", [True, False], ids=["aprobar", "rechazar"])
def test_deciding_a_request_twice_is_refused(world, hidden_person, first, second):
    request = pending_request(world)
    access_request_decide(actor=world.lead_officer, request_id=request.pk, approve=first)
    shares_before = CaseShare.objects.count()
    with pytest.raises(DomainError):
        access_request_decide(actor=world.lead_officer, request_id=request.pk, approve=second)
    request.refresh_from_db()
    assert request.status == (AccessRequestStatus.APPROVED if first else AccessRequestStatus.DECLINED)
    assert CaseShare.objects.count() == shares_before


@pytest.mark.parametrize(
    ("actor", "error"),
    [
        ("lead_reader", PermissionDenied),
        ("lead_admin", PermissionDenied),
        ("stranger_officer", Http404),
        ("grantee_officer", Http404),
        ("superuser", Http404),
    ],
)
@pytest.mark.parametrize("approve", [True, False], ids=["aprobar", "rechazar"])
def test_only_an_officer_of_the_lead_decides_a_request(world, hidden_person, actor, error, approve):
    request = pending_request(world)
    with pytest.raises(error):
        access_request_decide(actor=world.user(actor), request_id=request.pk, approve=approve)
    request.refresh_from_db()
    assert request.status == AccessRequestStatus.PENDING
    assert world.case not in case_list(user=world.stranger_officer)


def test_after_a_decline_the_institution_may_ask_again(world, hidden_person):
    request = pending_request(world)
    access_request_decide(actor=world.lead_officer, request_id=request.pk, approve=False)
    again = pending_request(world)
    assert again.pk != request.pk and again.status == AccessRequestStatus.PENDING
