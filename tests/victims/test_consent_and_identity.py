"""Who reads decrypted identity, what consent gives and what withdrawing it takes away at once,
and that being a system administrator opens nothing (victims.identity, victims.consent,
victims.selectors). Real PostgreSQL, no mocks."""

import datetime
import threading
import time
from dataclasses import dataclass

import psycopg
import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, connections
from django.http import Http404

from cases.access import user_case_permissions
from cases.constants import CasePermission
from cases.models import Case, CaseShare, Offender
from cases.selectors import case_get, case_list
from cases.services import offender_link_to_case
from cases.sharing import case_share
from institutions.constants import Role
from institutions.models import Institution, User
from kernel.errors import DomainError
from tests.factories import CaseFactory, InstitutionFactory, OffenderFactory, UserFactory, VictimFactory
from victims.consent import consent_record, consent_withdraw
from victims.identity import offender_identity_reveal, victim_identity_reveal
from victims.models import Victim, VictimConsent
from victims.selectors import victim_get, victim_identity_allowed, victim_list
from victims.services import victim_link_to_case

pytestmark = pytest.mark.django_db

LEGAL_BASIS = "Resolución del Juzgado de Garantía de Iquique, RIT 1234-2024"
CONSENT_DATE = datetime.date(2024, 2, 1)
FIRST_NAME, FIRST_SURNAMES, FIRST_RUN = "Florinda", "Quispe Mamani", "15.000.022-K"
SECOND_NAME = "Gumercinda"
OFFENDER_NAME, OFFENDER_PASSPORT = "Teodoro", "PX4455667"


@dataclass
class World:
    lead: Institution
    legal: Institution  # identity shared on a stated legal basis
    consented: Institution  # identity shared resting on the victims' consents
    viewer: Institution  # shared at ver
    collaborator: Institution  # shared at colaborar, without identity
    stranger: Institution
    case: Case
    victims: list[Victim]
    offender: Offender
    consents: list[VictimConsent]
    users: dict[str, User]

    def user(self, name: str) -> User:
        return self.users[name]


def record_consent(actor: User, victim: Victim) -> VictimConsent:
    return consent_record(
        actor=actor, victim_id=victim.pk, given_on=CONSENT_DATE, scope="Compartir su identidad para su protección"
    )


@pytest.fixture
def world(db) -> World:
    institutions = {
        key: InstitutionFactory(name=name, short_name=short)
        for key, name, short in [
            ("lead", "Policía de Investigaciones de Chile", "PDI"),
            ("legal", "Ministerio Público — Fiscalía Nacional", "FISCALIA"),
            ("consented", "Servicio Nacional de Migraciones", "SERMIG"),
            ("viewer", "Subsecretaría de Prevención del Delito", "SPD"),
            ("collaborator", "Carabineros de Chile", "CARABINEROS"),
            ("stranger", "Organización Internacional para las Migraciones", "OIM"),
        ]
    }
    users = {
        "lead_officer": UserFactory(username="oficial.pdi", institution=institutions["lead"]),
        "lead_reader": UserFactory(username="lector.pdi", institution=institutions["lead"], role=Role.READER),
        "lead_admin": UserFactory(username="admin.pdi", institution=institutions["lead"], role=Role.INSTITUTION_ADMIN),
        "superuser": UserFactory(username="raiz", institution=None, role="", is_staff=True, is_superuser=True),
        "staff": UserFactory(username="soporte", institution=None, role="", is_staff=True),
    }
    for key in ("legal", "consented", "viewer", "collaborator", "stranger"):
        users[f"{key}_officer"] = UserFactory(username=f"oficial.{key}", institution=institutions[key])
        users[f"{key}_reader"] = UserFactory(username=f"lector.{key}", institution=institutions[key], role=Role.READER)
    case = CaseFactory(lead_institution=institutions["lead"], ruc="2400111222-7")
    victims = [
        VictimFactory(
            registering_institution=institutions["lead"],
            given_names=FIRST_NAME,
            surnames=FIRST_SURNAMES,
            document_number=FIRST_RUN,
            phone="+56 9 1122 3344",
            email="florinda@example.org",
        ),
        VictimFactory(registering_institution=institutions["lead"], given_names=SECOND_NAME, surnames="Condori"),
    ]
    for victim in victims:
        victim_link_to_case(actor=None, victim=victim, case=case)
    offender = OffenderFactory(
        given_names=OFFENDER_NAME, surnames="Villablanca", document_type="pasaporte", document_number=OFFENDER_PASSPORT
    )
    offender_link_to_case(actor=None, offender=offender, case=case)
    lead_officer = users["lead_officer"]
    consents = [record_consent(lead_officer, victim) for victim in victims]

    def share(key: str, **arguments) -> CaseShare:
        return case_share(
            actor=lead_officer, case_id=case.pk, institution=institutions[key], reason="Coordinación", **arguments
        )

    share("legal", can_view_identity=True, legal_basis=LEGAL_BASIS)
    share("consented", can_view_identity=True, consent_ids=[consent.pk for consent in consents])
    share("viewer")
    share("collaborator", can_collaborate=True)
    return World(case=case, victims=victims, offender=offender, consents=consents, users=users, **institutions)


READS_IDENTITY = [
    "lead_officer",
    "lead_reader",
    "lead_admin",
    "legal_officer",
    "legal_reader",
    "consented_officer",
    "consented_reader",
]
SEES_BUT_NO_IDENTITY = ["viewer_officer", "viewer_reader", "collaborator_officer", "collaborator_reader"]
SEES_NOTHING = ["stranger_officer", "stranger_reader", "superuser", "staff"]


def identity_url(victim: Victim) -> str:
    return f"/victimas/{victim.pk}/identidad/"


def offender_url(world: World) -> str:
    return f"/causas/{world.case.pk}/imputados/{world.offender.pk}/identidad/"


# --- victim identity ----------------------------------------------------------------------------


@pytest.mark.parametrize("reader", READS_IDENTITY)
def test_victim_identity_is_readable_by_the_lead_and_by_grantees_with_a_legal_basis_or_consent(world, reader):
    user = world.user(reader)
    victim = world.victims[0]
    assert victim_identity_allowed(user=user, victim=victim)
    identity = victim_identity_reveal(user=user, victim_id=victim.pk)
    assert identity["given_names"] == FIRST_NAME and identity["surnames"] == FIRST_SURNAMES
    assert identity["document_number"] == FIRST_RUN and identity["phone"] == "+56 9 1122 3344"
    assert victim_identity_reveal(user=user, victim_id=world.victims[1].pk)["given_names"] == SECOND_NAME


@pytest.mark.parametrize("reader", SEES_BUT_NO_IDENTITY)
def test_victim_identity_is_refused_with_403_to_a_grantee_without_identity_access(world, reader):
    user = world.user(reader)
    victim = world.victims[0]
    assert victim_get(user=user, victim_id=victim.pk) == victim
    assert not victim_identity_allowed(user=user, victim=victim)
    with pytest.raises(PermissionDenied):
        victim_identity_reveal(user=user, victim_id=victim.pk)


@pytest.mark.parametrize("reader", SEES_NOTHING)
def test_victim_identity_is_not_found_for_who_cannot_see_the_victim(world, reader):
    user = world.user(reader)
    victim = world.victims[0]
    assert not victim_identity_allowed(user=user, victim=victim)
    with pytest.raises(Http404):
        victim_identity_reveal(user=user, victim_id=victim.pk)
    with pytest.raises(Http404):
        victim_get(user=user, victim_id=victim.pk)


@pytest.mark.parametrize(
    ("reader", "status"),
    [(name, 200) for name in READS_IDENTITY]
    + [(name, 403) for name in SEES_BUT_NO_IDENTITY]
    + [(name, 404) for name in SEES_NOTHING],
)
def test_victim_identity_over_http_answers_by_access(world, client, reader, status):
    client.force_login(world.user(reader))
    victim = world.victims[0]
    page = client.post(identity_url(victim))
    api = client.get(f"/api/v1/victims/{victim.pk}/identity/")
    assert (page.status_code, api.status_code) == (status, status)
    for response in (page, api):
        body = response.content.decode()
        assert (FIRST_NAME in body) is (status == 200)
        assert (FIRST_RUN in body) is (status == 200)
    assert client.get(f"/victimas/{victim.pk}/").status_code == (404 if status == 404 else 200)


@pytest.mark.parametrize("reader", SEES_BUT_NO_IDENTITY)
def test_the_victim_page_of_a_grantee_without_identity_shows_only_the_pseudonym(world, client, reader):
    client.force_login(world.user(reader))
    victim = world.victims[0]
    body = client.get(f"/victimas/{victim.pk}/").content.decode()
    assert victim.code in body
    assert FIRST_NAME not in body and FIRST_RUN not in body and "Mostrar identidad" not in body
    case_body = client.get(f"/causas/{world.case.pk}/").content.decode()
    assert victim.code in case_body and FIRST_NAME not in case_body and SECOND_NAME not in case_body


# --- consent withdrawal -------------------------------------------------------------------------


def test_withdrawing_a_consent_ends_the_grantees_identity_access_on_its_very_next_request(world, client):
    grantee = client.__class__()
    grantee.force_login(world.user("consented_officer"))
    victim = world.victims[0]
    assert grantee.post(identity_url(victim)).status_code == 200

    client.force_login(world.user("lead_officer"))
    withdrawn = client.post(f"/victimas/{victim.pk}/consentimientos/{world.consents[0].pk}/retirar/")
    assert withdrawn.status_code == 302

    response = grantee.post(identity_url(victim))
    assert response.status_code == 403 and FIRST_NAME not in response.content.decode()
    assert grantee.get(f"/api/v1/victims/{victim.pk}/identity/").status_code == 403
    assert grantee.get(f"/causas/{world.case.pk}/").status_code == 200
    assert grantee.get(f"/api/v1/cases/{world.case.pk}/").status_code == 200
    assert grantee.get(f"/victimas/{victim.pk}/").status_code == 200
    share = CaseShare.objects.get(institution=world.consented)
    assert share.is_active and not share.can_view_identity
    assert user_case_permissions(world.user("consented_officer"), world.case.pk) == {CasePermission.VIEW}
    consent = VictimConsent.objects.get(pk=world.consents[0].pk)
    assert consent.withdrawn_by == world.user("lead_officer") and consent.withdrawn_on is not None


@pytest.mark.parametrize("reader", ["legal_officer", "legal_reader", "lead_officer", "lead_reader"])
def test_a_share_with_a_legal_basis_and_the_lead_keep_identity_access_after_a_withdrawal(world, client, reader):
    victim = world.victims[0]
    consent_withdraw(
        actor=world.user("lead_officer"), victim_id=world.consents[0].victim_id, consent_id=world.consents[0].pk
    )
    client.force_login(world.user(reader))
    assert client.post(identity_url(victim)).status_code == 200
    assert victim_identity_reveal(user=world.user(reader), victim_id=victim.pk)["given_names"] == FIRST_NAME
    assert CaseShare.objects.get(institution=world.legal).can_view_identity


def test_withdrawing_a_consent_ends_every_share_resting_on_it_in_every_case(world):
    victim = world.victims[0]
    lead_officer = world.user("lead_officer")
    second_case = CaseFactory(lead_institution=world.lead)
    victim_link_to_case(actor=None, victim=victim, case=second_case)
    case_share(
        actor=lead_officer,
        case_id=second_case.pk,
        institution=world.viewer,
        reason="Atención de la víctima",
        can_view_identity=True,
        consent_ids=[world.consents[0].pk],
    )
    assert victim_identity_allowed(user=world.user("viewer_officer"), victim=victim)

    consent_withdraw(actor=lead_officer, victim_id=world.consents[0].victim_id, consent_id=world.consents[0].pk)

    for reader in ("viewer_officer", "consented_officer"):
        with pytest.raises(PermissionDenied):
            victim_identity_reveal(user=world.user(reader), victim_id=victim.pk)
    assert not CaseShare.objects.filter(consents=world.consents[0], can_view_identity=True).exists()
    assert second_case in case_list(user=world.user("viewer_officer"))


def test_withdrawing_a_consent_twice_is_refused(world):
    consent_withdraw(
        actor=world.user("lead_officer"), victim_id=world.consents[0].victim_id, consent_id=world.consents[0].pk
    )
    with pytest.raises(DomainError):
        consent_withdraw(
            actor=world.user("lead_officer"), victim_id=world.consents[0].victim_id, consent_id=world.consents[0].pk
        )


def test_a_withdrawal_dated_before_the_consent_is_refused(world):
    with pytest.raises(ValidationError) as refused:
        consent_withdraw(
            actor=world.user("lead_officer"),
            victim_id=world.consents[0].victim_id,
            consent_id=world.consents[0].pk,
            withdrawn_on=CONSENT_DATE - datetime.timedelta(days=1),
        )
    assert "withdrawn_on" in refused.value.message_dict
    assert CaseShare.objects.get(institution=world.consented).can_view_identity


# --- a victim added after a consent-based share -------------------------------------------------


def test_a_victim_added_after_a_consent_based_share_is_not_covered_by_it(world, client):
    newcomer = VictimFactory(registering_institution=world.lead, given_names="Rigoberta", surnames="Huanca")
    victim_link_to_case(actor=world.user("lead_officer"), victim=newcomer, case=world.case)
    record_consent(world.user("lead_officer"), newcomer)  # a later consent is not part of the share

    grantee = world.user("consented_officer")
    assert victim_get(user=grantee, victim_id=newcomer.pk) == newcomer
    with pytest.raises(PermissionDenied):
        victim_identity_reveal(user=grantee, victim_id=newcomer.pk)
    client.force_login(grantee)
    response = client.post(identity_url(newcomer))
    assert response.status_code == 403 and "Rigoberta" not in response.content.decode()
    assert client.post(identity_url(world.victims[0])).status_code == 200
    # The lead and a legal-basis grantee read the newcomer.
    assert victim_identity_reveal(user=world.user("legal_officer"), victim_id=newcomer.pk)["given_names"] == "Rigoberta"
    assert victim_identity_reveal(user=world.user("lead_reader"), victim_id=newcomer.pk)["given_names"] == "Rigoberta"


# --- offender identity --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reader", "expected"),
    [
        ("lead_officer", None),
        ("lead_reader", None),
        ("legal_officer", None),
        ("legal_reader", None),
        ("consented_officer", PermissionDenied),  # a victim's consent never covers an offender
        ("consented_reader", PermissionDenied),
        ("viewer_officer", PermissionDenied),
        ("collaborator_officer", PermissionDenied),
        ("stranger_officer", Http404),
        ("superuser", Http404),
        ("staff", Http404),
    ],
)
def test_offender_identity_is_for_the_lead_and_legal_basis_grantees_only(world, client, reader, expected):
    user = world.user(reader)
    if expected is None:
        identity = offender_identity_reveal(user=user, case_id=world.case.pk, offender_id=world.offender.pk)
        assert identity["given_names"] == OFFENDER_NAME and identity["document_number"] == OFFENDER_PASSPORT
    else:
        with pytest.raises(expected):
            offender_identity_reveal(user=user, case_id=world.case.pk, offender_id=world.offender.pk)
    client.force_login(user)
    response = client.post(offender_url(world))
    assert response.status_code == {None: 200, PermissionDenied: 403, Http404: 404}[expected]
    assert (OFFENDER_NAME in response.content.decode()) is (expected is None)


def test_an_offender_of_another_case_is_not_found_through_this_case(world):
    other = OffenderFactory(given_names="Ajeno")
    offender_link_to_case(actor=None, offender=other, case=CaseFactory(lead_institution=world.lead))
    with pytest.raises(Http404):
        offender_identity_reveal(user=world.user("legal_officer"), case_id=world.case.pk, offender_id=other.pk)


# --- recording consent --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("lead_officer", None),
        ("legal_officer", None),
        ("consented_officer", None),
        ("lead_reader", PermissionDenied),
        ("lead_admin", PermissionDenied),
        ("legal_reader", PermissionDenied),
        ("consented_reader", PermissionDenied),
        ("viewer_officer", PermissionDenied),  # no identity access: cannot know whose consent it is
        ("collaborator_officer", PermissionDenied),
        ("stranger_officer", Http404),
        ("superuser", Http404),
        ("staff", Http404),
    ],
)
def test_recording_a_consent_needs_identity_access_and_the_officer_role(world, client, actor, expected):
    user = world.user(actor)
    victim = world.victims[1]
    before = VictimConsent.objects.count()
    if expected is None:
        consent = record_consent(user, victim)
        assert consent.recorded_by == user and consent.recorded_by_institution_id == user.institution_id
        assert consent.is_active and consent.given_on == CONSENT_DATE
    else:
        with pytest.raises(expected):
            record_consent(user, victim)
        assert VictimConsent.objects.count() == before
    client.force_login(user)
    response = client.post(
        f"/victimas/{victim.pk}/consentimientos/", {"given_on": "2024-03-01", "scope": "Atención psicosocial"}
    )
    assert response.status_code == {None: 302, PermissionDenied: 403, Http404: 404}[expected]


@pytest.mark.parametrize(
    ("actor", "expected"),
    [
        ("lead_reader", PermissionDenied),
        ("lead_admin", PermissionDenied),
        ("viewer_officer", PermissionDenied),
        ("collaborator_officer", PermissionDenied),
        ("stranger_officer", Http404),
        ("superuser", Http404),
    ],
)
def test_withdrawing_a_consent_needs_identity_access_and_the_officer_role(world, actor, expected):
    with pytest.raises(expected):
        consent_withdraw(
            actor=world.user(actor), victim_id=world.consents[0].victim_id, consent_id=world.consents[0].pk
        )
    assert VictimConsent.objects.get(pk=world.consents[0].pk).is_active
    assert CaseShare.objects.get(institution=world.consented).can_view_identity


@pytest.mark.parametrize(
    ("values", "field"),
    [({"scope": "  "}, "scope"), ({"given_on": datetime.date.today() + datetime.timedelta(days=2)}, "given_on")],
)
def test_a_consent_without_scope_or_dated_in_the_future_is_refused(world, values, field):
    arguments = {"given_on": CONSENT_DATE, "scope": "Compartir identidad", **values}
    with pytest.raises(ValidationError) as refused:
        consent_record(actor=world.user("lead_officer"), victim_id=world.victims[1].pk, **arguments)
    assert field in refused.value.message_dict


# --- a victim registered without a case ---------------------------------------------------------


def test_a_victim_registered_without_a_case_belongs_to_the_registering_institution(world):
    alone = VictimFactory(registering_institution=world.lead, given_names="Sin Causa")
    assert victim_identity_reveal(user=world.user("lead_reader"), victim_id=alone.pk)["given_names"] == "Sin Causa"
    for reader in ("legal_officer", "consented_officer", "viewer_officer", "stranger_officer", "superuser"):
        with pytest.raises(Http404):
            victim_identity_reveal(user=world.user(reader), victim_id=alone.pk)
        assert alone not in victim_list(user=world.user(reader))


# --- superuser blindness ------------------------------------------------------------------------


@pytest.mark.parametrize("admin", ["superuser", "staff"])
def test_a_system_administrator_sees_no_case_and_no_victim(world, admin):
    user = world.user(admin)
    assert user.institution_id is None
    assert list(case_list(user=user)) == []
    assert list(victim_list(user=user)) == []
    assert user_case_permissions(user, world.case.pk) == frozenset()
    with pytest.raises(Http404):
        case_get(user=user, case_id=world.case.pk)
    for victim in world.victims:
        with pytest.raises(Http404):
            victim_get(user=user, victim_id=victim.pk)
        assert not victim_identity_allowed(user=user, victim=victim)


@pytest.mark.parametrize("admin", ["superuser", "staff"])
def test_a_system_administrator_gets_404_on_every_case_and_victim_page_and_endpoint(world, client, admin):
    client.force_login(world.user(admin))
    case, victim = world.case, world.victims[0]
    share = CaseShare.objects.filter(case=case).first()
    gets = [
        f"/causas/{case.pk}/",
        f"/causas/{case.pk}/compartir/",
        f"/causas/{case.pk}/historial/",
        f"/api/v1/cases/{case.pk}/",
        f"/api/v1/cases/{case.pk}/victims/",
        f"/api/v1/cases/{case.pk}/shares/",
        f"/victimas/{victim.pk}/",
        f"/api/v1/victims/{victim.pk}/",
        f"/api/v1/victims/{victim.pk}/identity/",
    ]
    posts = [
        identity_url(victim),
        offender_url(world),
        f"/victimas/{victim.pk}/consentimientos/",
        f"/victimas/{victim.pk}/consentimientos/{world.consents[0].pk}/retirar/",
        f"/causas/{case.pk}/compartir/{share.pk}/revocar/",
    ]
    assert {url: client.get(url).status_code for url in gets} == dict.fromkeys(gets, 404)
    valid = {"reason": "Revisión", "given_on": "2024-03-01", "scope": "Atención"}  # valid input: only access decides
    assert {url: client.post(url, valid).status_code for url in posts} == dict.fromkeys(posts, 404)
    listing = client.get("/causas/")
    assert listing.status_code == 200 and case.ruc not in listing.content.decode()
    assert client.get("/api/v1/cases/").json()["results"] == []
    assert CaseShare.objects.get(pk=share.pk).is_active


def test_there_are_no_model_level_grants_of_case_permissions(world):
    case_permissions = Permission.objects.filter(content_type__app_label="cases", content_type__model="case")
    assert set(case_permissions.values_list("codename", flat=True)) == set(CasePermission.LEAD)
    # No add/change/delete/view permission exists for any model holding case or victim content.
    every = Permission.objects.filter(content_type__app_label__in=["cases", "victims"])
    assert set(every.values_list("codename", flat=True)) == set(CasePermission.LEAD)
    assert not Group.permissions.through.objects.filter(permission__content_type__app_label="cases").exists()
    assert not User.user_permissions.through.objects.filter(permission__content_type__app_label="cases").exists()
    granted = Permission.objects.filter(content_type__app_label__in=["cases", "victims"])
    assert not Group.objects.filter(permissions__in=granted).exists()
    assert not User.objects.filter(user_permissions__in=granted).exists()


@pytest.mark.parametrize("admin", ["superuser", "staff"])
def test_even_a_model_level_grant_would_open_no_case(world, admin):
    user = world.user(admin)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label__in=["cases", "victims"])
    )  # a misconfiguration: model-level permissions mean nothing to the selectors
    user = User.objects.get(pk=user.pk)
    assert list(case_list(user=user)) == [] and list(victim_list(user=user)) == []
    with pytest.raises(Http404):
        victim_identity_reveal(user=user, victim_id=world.victims[0].pk)


def test_a_superuser_member_of_an_institution_sees_only_what_the_institution_may(world):
    user = world.user("stranger_officer")
    User.objects.filter(pk=user.pk).update(is_superuser=True, is_staff=True)
    user = User.objects.get(pk=user.pk)
    assert list(case_list(user=user)) == []
    with pytest.raises(Http404):
        case_get(user=user, case_id=world.case.pk)
    with pytest.raises(Http404):
        victim_identity_reveal(user=user, victim_id=world.victims[0].pk)


# --- the consent pages check visibility and ownership before anything else ----------------------


@pytest.mark.parametrize("actor", ["stranger_officer", "superuser"])
def test_recording_a_consent_for_an_invisible_victim_answers_404_whatever_the_input(world, client, actor):
    client.force_login(world.user(actor))
    response = client.post(f"/victimas/{world.victims[0].pk}/consentimientos/", {"given_on": "no es fecha"})
    assert response.status_code == 404


def test_a_consent_cannot_be_withdrawn_through_another_victims_address(world, client):
    second = world.victims[1]  # the consent below is the first victim's
    client.force_login(world.user("lead_officer"))
    response = client.post(f"/victimas/{second.pk}/consentimientos/{world.consents[0].pk}/retirar/")
    assert response.status_code == 404
    assert VictimConsent.objects.get(pk=world.consents[0].pk).is_active
    assert CaseShare.objects.get(institution=world.consented).can_view_identity


# --- a withdrawal racing a share that rests on the same consent ---------------------------------


def _waiting_on_locks() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0]


def _wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for the other transactions"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_a_consent_withdrawn_while_a_share_resting_on_it_is_being_made_leaves_no_identity_access():
    """The share reads the consent as active; before it commits, the withdrawal commits.

    A third session holds an uncommitted share row for the same case and institution, so the
    share service, having validated the consent, waits on the unique index while the
    withdrawal runs. Whatever the interleaving, no identity access may rest on a withdrawn
    consent afterwards.
    """
    lead, grantee = InstitutionFactory(), InstitutionFactory()
    officer = UserFactory(institution=lead)
    case = CaseFactory(lead_institution=lead)
    victim = VictimFactory(registering_institution=lead)
    victim_link_to_case(actor=None, victim=victim, case=case)
    consent = record_consent(officer, victim)
    outcomes: dict[str, object] = {}

    def run(name: str, action) -> None:
        try:
            outcomes[name] = action()
        except Exception as exc:  # inspected below
            outcomes[name] = exc
        finally:
            connections.close_all()

    params = {k: v for k, v in connection.get_connection_params().items() if k not in {"cursor_factory", "context"}}
    blocker = psycopg.connect(**params)
    try:
        blocker.execute(
            "INSERT INTO cases_caseshare (created_at, updated_at, case_id, institution_id, can_view_identity,"
            " can_collaborate, reason, legal_basis, granted_by_id, revoke_reason)"
            " VALUES (now(), now(), %s, %s, false, false, 'bloqueo', '', %s, '')",
            [case.pk, grantee.pk, officer.pk],
        )
        sharer = threading.Thread(
            target=run,
            args=(
                "share",
                lambda: case_share(
                    actor=officer,
                    case_id=case.pk,
                    institution=grantee,
                    reason="Atención de la víctima",
                    can_view_identity=True,
                    consent_ids=[consent.pk],
                ),
            ),
        )
        sharer.start()
        _wait_until(lambda: _waiting_on_locks() >= 1)  # consent validated, insert waiting on the blocker
        withdrawer = threading.Thread(
            target=run,
            args=(
                "withdraw",
                lambda: consent_withdraw(actor=officer, victim_id=consent.victim_id, consent_id=consent.pk),
            ),
        )
        withdrawer.start()
        _wait_until(lambda: not withdrawer.is_alive() or _waiting_on_locks() >= 2)
    finally:
        blocker.rollback()
        blocker.close()
    sharer.join(timeout=30)
    withdrawer.join(timeout=30)

    assert isinstance(outcomes["withdraw"], VictimConsent), outcomes
    assert not VictimConsent.objects.get(pk=consent.pk).is_active
    grantee_user = UserFactory(institution=grantee)
    assert CasePermission.VIEW_IDENTITY not in user_case_permissions(grantee_user, case.pk), outcomes
    assert not CaseShare.objects.filter(
        revoked_at__isnull=True, can_view_identity=True, legal_basis="", consents=consent
    ).exists()
    assert not victim_identity_allowed(user=grantee_user, victim=victim)
