"""The access log and the change history (kernel.audit, kernel.models.AccessEvent, pghistory).

An event for every action that must leave one, with who and from which institution; never any
identity; a hash chain that ``audit_verify`` proves intact or names the first broken event;
and tables the database itself refuses to UPDATE or DELETE. Real PostgreSQL, no mocks.
"""

import datetime
import itertools
import json
import threading
from dataclasses import dataclass
from io import StringIO

import psycopg
import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db import DatabaseError, connection, connections, transaction
from django.db.models import Model
from django.forms.models import model_to_dict
from pghistory.models import Context, Event

from cases.constants import CaseStatus
from cases.models import Case, CaseGroupObjectPermission, CaseShare, Offender
from cases.services import case_create, offender_link_to_case
from cases.sharing import access_request_create, access_request_decide, case_share, case_unshare
from institutions.constants import Role
from institutions.models import Institution, User
from kernel.audit import GENESIS_HASH, audit_record, audit_verify, event_hash
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from tests.factories import CaseFactory, InstitutionFactory, OffenderFactory, UserFactory, VictimFactory
from victims.consent import consent_record, consent_withdraw
from victims.identity import IDENTITY_FIELDS, offender_identity_reveal, victim_identity_reveal
from victims.models import Victim, VictimConsent
from victims.services import victim_link_to_case

pytestmark = pytest.mark.django_db

PASSWORD = "clave-de-prueba-segura"  # tests.factories.UserFactory
LEGAL_BASIS = "Orden de la Fiscalía Regional de Antofagasta del 3 de abril de 2024"
VICTIM_RUN, OFFENDER_PASSPORT = "15.000.036-K", "QZ7788991"
VICTIM_IDENTITY = {
    "given_names": "Eduviges",
    "surnames": "Choque Huarachi",
    "document_number": VICTIM_RUN,
    "birth_date": datetime.date(1994, 11, 23),
    "phone": "+56 9 5566 7788",
    "email": "eduviges.choque@example.org",
    "address": "Calle Bolívar 455, Antofagasta",
    "notes": "Refiere amenazas del empleador",
}
PLANTED = [
    "Eduviges",
    "Choque",
    "Huarachi",
    VICTIM_RUN,
    "15000036",
    "1994-11-23",
    "+56 9 5566 7788",
    "eduviges.choque",
    "Bolívar",
    "amenazas",
    "Segismundo",
    "Cárcamo",
    OFFENDER_PASSPORT,
    PASSWORD,
]


@dataclass
class World:
    lead: Institution
    grantee: Institution
    stranger: Institution
    lead_officer: User
    lead_reader: User
    grantee_officer: User
    stranger_officer: User
    case: Case
    victim: Victim
    offender: Offender


@pytest.fixture
def world(db) -> World:
    lead = InstitutionFactory(name="Fiscalía Regional de Antofagasta", short_name="FR-ANTOFAGASTA")
    grantee = InstitutionFactory(name="Servicio Nacional de Migraciones", short_name="SERMIG")
    stranger = InstitutionFactory(name="Corporación Raíces", short_name="RAICES")
    case = CaseFactory(lead_institution=lead, ruc="2400555666-1")
    victim = VictimFactory(registering_institution=lead, **VICTIM_IDENTITY)
    victim_link_to_case(actor=None, victim=victim, case=case)
    offender = OffenderFactory(
        given_names="Segismundo", surnames="Cárcamo", document_type="pasaporte", document_number=OFFENDER_PASSPORT
    )
    offender_link_to_case(actor=None, offender=offender, case=case)
    return World(
        lead=lead,
        grantee=grantee,
        stranger=stranger,
        lead_officer=UserFactory(username="oficial.fiscalia", institution=lead),
        lead_reader=UserFactory(username="lector.fiscalia", institution=lead, role=Role.READER),
        grantee_officer=UserFactory(username="oficial.sermig", institution=grantee),
        stranger_officer=UserFactory(username="oficial.raices", institution=stranger),
        case=case,
        victim=victim,
        offender=offender,
    )


def share(world: World, **arguments) -> CaseShare:
    return case_share(
        actor=world.lead_officer,
        case_id=world.case.pk,
        institution=world.grantee,
        reason="Regularización migratoria de la víctima",
        **arguments,
    )


def record_consent(world: World) -> VictimConsent:
    return consent_record(
        actor=world.lead_officer,
        victim_id=world.victim.pk,
        given_on=datetime.date(2024, 4, 1),
        scope="Compartir su identidad con Sermig para su permiso de residencia",
    )


def only_event(action: str, **filters) -> AccessEvent:
    (event,) = AccessEvent.objects.filter(action=action, **filters)
    return event


def assert_by(event: AccessEvent, user: User) -> None:
    assert (event.actor_id, event.actor_username, event.institution_id) == (
        user.pk,
        user.username,
        user.institution_id,
    )


def assert_no_identity_in_any_event() -> None:
    for event in AccessEvent.objects.all():
        row = model_to_dict(event, exclude=["hash", "previous_hash"])  # hex digests: cannot carry a name
        text = json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False)
        text_ascii = json.dumps(row, cls=DjangoJSONEncoder)
        found = [value for value in PLANTED if value in text or value in text_ascii]
        assert found == [], f"event {event.id} ({event.action}) carries identity: {found}"


# --- an event for each action -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reader", "share_arguments", "rests_on_legal_basis"),
    [
        ("lead_officer", None, False),
        ("lead_reader", None, False),
        ("grantee_officer", {"can_view_identity": True, "legal_basis": LEGAL_BASIS}, True),
        ("grantee_officer", "consent", False),
    ],
    ids=["lead-officer", "lead-reader", "grantee-legal-basis", "grantee-consent"],
)
def test_reading_a_victims_identity_writes_an_event(world, reader, share_arguments, rests_on_legal_basis):
    if share_arguments == "consent":
        share(world, can_view_identity=True, consent_ids=[record_consent(world).pk])
    elif share_arguments:
        share(world, **share_arguments)
    user = getattr(world, reader)

    victim_identity_reveal(user=user, victim_id=world.victim.pk, ip_address="10.1.2.3")

    event = only_event(AccessAction.IDENTITY_READ)
    assert_by(event, user)
    assert event.victim_code == world.victim.code
    assert event.rests_on_legal_basis is rests_on_legal_basis
    assert event.ip_address == "10.1.2.3"
    assert set(event.details["fields"]) == set(IDENTITY_FIELDS)
    assert_no_identity_in_any_event()


def test_reading_a_victims_identity_over_http_writes_an_event_with_the_address(world, client):
    client.force_login(world.lead_reader)
    assert client.post(f"/victimas/{world.victim.pk}/identidad/").status_code == 200
    assert client.get(f"/api/v1/victims/{world.victim.pk}/identity/").status_code == 200
    events = list(AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ))
    assert len(events) == 2
    for event in events:
        assert_by(event, world.lead_reader)
        assert event.victim_code == world.victim.code and event.ip_address == "127.0.0.1"
    assert_no_identity_in_any_event()


def test_a_refused_identity_read_writes_no_read_event(world, client):
    share(world)  # ver only
    client.force_login(world.grantee_officer)
    assert client.post(f"/victimas/{world.victim.pk}/identidad/").status_code == 403
    client.force_login(world.stranger_officer)
    assert client.post(f"/victimas/{world.victim.pk}/identidad/").status_code == 404
    assert not AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).exists()


@pytest.mark.parametrize(
    ("reader", "rests_on_legal_basis"),
    [("lead_officer", False), ("lead_reader", False), ("grantee_officer", True)],
)
def test_reading_an_offenders_identity_writes_an_event(world, reader, rests_on_legal_basis):
    share(world, can_view_identity=True, legal_basis=LEGAL_BASIS)
    user = getattr(world, reader)

    offender_identity_reveal(user=user, case_id=world.case.pk, offender_id=world.offender.pk)

    event = only_event(AccessAction.IDENTITY_READ)
    assert_by(event, user)
    assert event.case_id == world.case.pk
    assert event.details == {"offender_code": world.offender.code}
    assert event.rests_on_legal_basis is rests_on_legal_basis
    assert_no_identity_in_any_event()


@pytest.mark.parametrize(
    ("arguments", "permissions", "rests_on_legal_basis"),
    [
        ({}, ["view_case"], False),
        ({"can_collaborate": True}, ["view_case", "collaborate_case"], False),
        ({"can_view_identity": True, "legal_basis": LEGAL_BASIS}, ["view_case", "view_identity"], True),
    ],
    ids=["ver", "colaborar", "identidad-fundamento-legal"],
)
def test_sharing_and_unsharing_write_events(world, arguments, permissions, rests_on_legal_basis):
    granted = share(world, **arguments)
    shared = only_event(AccessAction.SHARE)
    assert_by(shared, world.lead_officer)
    assert shared.case_id == world.case.pk
    assert shared.details["share_id"] == granted.pk
    assert shared.details["grantee_institution_id"] == world.grantee.pk
    assert sorted(shared.details["permissions"]) == sorted(permissions)
    assert shared.rests_on_legal_basis is rests_on_legal_basis

    case_unshare(actor=world.lead_officer, share_id=granted.pk, reason="Trámite concluido")
    unshared = only_event(AccessAction.UNSHARE)
    assert_by(unshared, world.lead_officer)
    assert unshared.case_id == world.case.pk and unshared.id > shared.id
    assert unshared.details == {"share_id": granted.pk, "grantee_institution_id": world.grantee.pk}
    assert_no_identity_in_any_event()


def test_sharing_on_consent_names_the_consents_in_the_event(world):
    consent = record_consent(world)
    share(world, can_view_identity=True, consent_ids=[consent.pk])
    event = only_event(AccessAction.SHARE)
    assert event.details["consent_ids"] == [consent.pk] and event.rests_on_legal_basis is False


def test_recording_and_withdrawing_a_consent_write_events(world):
    consent = record_consent(world)
    recorded = only_event(AccessAction.CONSENT_RECORDED)
    assert_by(recorded, world.lead_officer)
    assert recorded.victim_code == world.victim.code and recorded.details == {"consent_id": consent.pk}

    granted = share(world, can_view_identity=True, consent_ids=[consent.pk])
    consent_withdraw(actor=world.lead_officer, victim_id=consent.victim_id, consent_id=consent.pk)

    withdrawn = only_event(AccessAction.CONSENT_WITHDRAWN)
    assert_by(withdrawn, world.lead_officer)
    assert withdrawn.victim_code == world.victim.code
    assert withdrawn.details == {"consent_id": consent.pk, "identity_access_removed_from_shares": [granted.pk]}
    dropped = only_event(AccessAction.UNSHARE)
    assert_by(dropped, world.lead_officer)
    assert dropped.case_id == world.case.pk
    assert dropped.details["because_consent_withdrawn"] == consent.pk
    assert dropped.details["permissions_removed"] == ["view_identity"]
    assert_no_identity_in_any_event()


@pytest.mark.parametrize("approve", [True, False], ids=["aprobada", "rechazada"])
def test_asking_for_access_and_deciding_write_events(world, approve):
    (request,) = access_request_create(
        actor=world.stranger_officer, document_type="run", document_number="15000036k", reason="Misma persona"
    )
    requested = only_event(AccessAction.ACCESS_REQUESTED)
    assert_by(requested, world.stranger_officer)
    assert requested.case_id == world.case.pk
    assert requested.details == {"request_id": request.pk, "addressed_to_institution_id": world.lead.pk}

    access_request_decide(actor=world.lead_officer, request_id=request.pk, approve=approve)

    decided = only_event(AccessAction.ACCESS_APPROVED if approve else AccessAction.ACCESS_DECLINED)
    assert_by(decided, world.lead_officer)
    assert decided.case_id == world.case.pk
    assert decided.details == {"request_id": request.pk, "requesting_institution_id": world.stranger.pk}
    assert AccessEvent.objects.filter(action=AccessAction.SHARE).count() == (1 if approve else 0)
    assert_no_identity_in_any_event()


def test_login_logout_and_failed_login_write_events(world, client):
    user = world.grantee_officer
    assert client.post("/ingresar/", {"username": user.username, "password": PASSWORD}).status_code == 302
    login = only_event(AccessAction.LOGIN)
    assert_by(login, user)
    assert login.ip_address == "127.0.0.1"

    assert client.post("/salir/").status_code in (200, 302)
    logout = only_event(AccessAction.LOGOUT)
    assert_by(logout, user)
    assert logout.id > login.id

    wrong = "contrasena-equivocada"
    assert client.post("/ingresar/", {"username": user.username, "password": wrong}).status_code == 200
    failed = only_event(AccessAction.LOGIN_FAILED)
    assert failed.details == {"username": user.username}
    assert failed.ip_address == "127.0.0.1"
    assert wrong not in json.dumps(model_to_dict(failed), cls=DjangoJSONEncoder)
    assert_no_identity_in_any_event()


def test_logging_out_through_get_is_not_possible_and_writes_nothing(world, client):
    client.force_login(world.lead_officer)
    before = AccessEvent.objects.count()
    assert client.get("/salir/").status_code == 405
    assert AccessEvent.objects.count() == before


def full_scenario(world: World, client) -> None:
    """Every audited action once, through services and HTTP."""
    client.post("/ingresar/", {"username": world.lead_officer.username, "password": "no-es-la-clave"})
    client.post("/ingresar/", {"username": world.lead_officer.username, "password": PASSWORD})
    consent = record_consent(world)
    granted = share(world, can_view_identity=True, consent_ids=[consent.pk])
    victim_identity_reveal(user=world.grantee_officer, victim_id=world.victim.pk)
    offender_identity_reveal(user=world.lead_officer, case_id=world.case.pk, offender_id=world.offender.pk)
    client.post(f"/victimas/{world.victim.pk}/identidad/")
    consent_withdraw(actor=world.lead_officer, victim_id=consent.victim_id, consent_id=consent.pk)
    case_unshare(actor=world.lead_officer, share_id=granted.pk, reason="Fin del trámite")
    (request,) = access_request_create(
        actor=world.stranger_officer, document_type="run", document_number=VICTIM_RUN, reason="Misma persona"
    )
    access_request_decide(actor=world.lead_officer, request_id=request.pk, approve=False)
    (request,) = access_request_create(
        actor=world.stranger_officer, document_type="run", document_number=VICTIM_RUN, reason="Nuevos antecedentes"
    )
    access_request_decide(actor=world.lead_officer, request_id=request.pk, approve=True)
    client.post("/salir/")


def test_the_full_scenario_leaves_every_kind_of_event_and_no_identity_anywhere(world, client):
    full_scenario(world, client)
    actions = set(AccessEvent.objects.values_list("action", flat=True))
    assert actions >= {
        AccessAction.LOGIN_FAILED,
        AccessAction.LOGIN,
        AccessAction.CONSENT_RECORDED,
        AccessAction.SHARE,
        AccessAction.IDENTITY_READ,
        AccessAction.CONSENT_WITHDRAWN,
        AccessAction.UNSHARE,
        AccessAction.ACCESS_REQUESTED,
        AccessAction.ACCESS_DECLINED,
        AccessAction.ACCESS_APPROVED,
        AccessAction.LOGOUT,
    }
    assert_no_identity_in_any_event()


# --- the hash chain -----------------------------------------------------------------------------


def test_every_event_points_to_the_hash_of_the_one_before(world, client):
    full_scenario(world, client)
    events = list(AccessEvent.objects.order_by("id"))
    assert len(events) >= 15
    assert events[0].previous_hash == GENESIS_HASH
    for previous, event in itertools.pairwise(events):
        assert event.previous_hash == previous.hash, f"event {event.id}"
    assert all(event_hash(event) == event.hash for event in events)
    assert len({event.hash for event in events}) == len(events)


def run_audit_verify() -> str:
    out = StringIO()
    call_command("audit_verify", stdout=out)
    return out.getvalue()


def test_audit_verify_succeeds_on_a_clean_chain(world, client):
    assert "0 events verified" in run_audit_verify()
    full_scenario(world, client)
    assert f"{AccessEvent.objects.count()} events verified" in run_audit_verify()


def as_superuser_without_triggers(sql: str, params: list) -> None:
    """What someone with a superuser SQL session could do: switch triggers off and write."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
            assert cursor.rowcount == 1
        finally:
            cursor.execute("SET session_replication_role = origin")


@pytest.fixture
def chain(world) -> list[AccessEvent]:
    for number in range(5):
        audit_record(AccessAction.EXPORT, actor=world.lead_officer, details={"export": number})
    return list(AccessEvent.objects.order_by("id"))


@pytest.mark.parametrize("position", [0, 2, 4], ids=["first", "middle", "last"])
@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("details", '{"export": 99}'),
        ("actor_username", "otro.usuario"),
        ("occurred_at", "2020-01-01T00:00:00+00:00"),
        ("rests_on_legal_basis", "true"),
        ("action", "identidad_leida"),
    ],
)
def test_audit_verify_names_an_altered_event(chain, position, column, value):
    altered = chain[position]
    as_superuser_without_triggers(f"UPDATE kernel_accessevent SET {column} = %s WHERE id = %s", [value, altered.id])  # noqa: S608
    with pytest.raises(CommandError, match=rf"event {altered.id}\b"):
        run_audit_verify()
    checked, broken = audit_verify()
    assert (checked, broken.event_id) == (position, altered.id)


def test_re_hashing_an_altered_event_moves_the_break_to_the_next_event(chain):
    altered = chain[2]
    altered.details = {"export": 99}
    forged_hash = event_hash(altered)
    as_superuser_without_triggers(
        "UPDATE kernel_accessevent SET details = %s, hash = %s WHERE id = %s",
        ['{"export": 99}', forged_hash, altered.id],
    )
    with pytest.raises(CommandError, match=rf"event {chain[3].id}\b"):
        run_audit_verify()


@pytest.mark.parametrize(("deleted", "named"), [(0, 1), (2, 3), (3, 4)], ids=["first", "middle", "second-to-last"])
def test_audit_verify_names_the_event_after_a_deleted_one(chain, deleted, named):
    as_superuser_without_triggers("DELETE FROM kernel_accessevent WHERE id = %s", [chain[deleted].id])
    with pytest.raises(CommandError, match=rf"event {chain[named].id}\b"):
        run_audit_verify()


def test_new_events_after_a_tampering_do_not_hide_it(chain, world):
    as_superuser_without_triggers(
        "UPDATE kernel_accessevent SET details = %s WHERE id = %s", ['{"export": 42}', chain[1].id]
    )
    for _ in range(3):
        audit_record(AccessAction.EXPORT, actor=world.lead_officer)
    with pytest.raises(CommandError, match=rf"event {chain[1].id}\b"):
        run_audit_verify()


# --- the database refuses UPDATE and DELETE -----------------------------------------------------


def refused(sql: str, params: list) -> str:
    with pytest.raises(DatabaseError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(error.value)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE kernel_accessevent SET details = '{}' WHERE id = %s",
        "UPDATE kernel_accessevent SET hash = previous_hash WHERE id = %s",
        "DELETE FROM kernel_accessevent WHERE id = %s",
    ],
)
def test_plain_update_and_delete_on_the_access_log_raise(chain, sql):
    message = refused(sql, [chain[2].id])
    assert "kernel_accessevent" in message
    assert AccessEvent.objects.get(pk=chain[2].id).hash == chain[2].hash
    assert "5 events verified" in run_audit_verify()


def test_the_orm_cannot_update_or_delete_access_events_either(chain):
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessEvent.objects.filter(pk=chain[0].pk).update(actor_username="otro")
    with pytest.raises(DatabaseError), transaction.atomic():
        AccessEvent.objects.all().delete()
    event = AccessEvent.objects.get(pk=chain[1].pk)
    event.details = {"export": 7}
    with pytest.raises(DatabaseError), transaction.atomic():
        event.save()
    assert AccessEvent.objects.count() == 5
    assert "5 events verified" in run_audit_verify()


def event_models() -> list[type[Model]]:
    return [model for model in apps.get_models() if issubclass(model, Event)]


@pytest.fixture
def history(world) -> None:
    """At least one row in each history table used below."""
    consent = record_consent(world)
    granted = share(world, can_view_identity=True, consent_ids=[consent.pk])
    (request,) = access_request_create(
        actor=world.stranger_officer, document_type="run", document_number=VICTIM_RUN, reason="Misma persona"
    )
    access_request_decide(actor=world.lead_officer, request_id=request.pk, approve=False)
    case_unshare(actor=world.lead_officer, share_id=granted.pk, reason="Fin")


HISTORY_TABLES = [
    "cases_caseevent",
    "cases_caseshareevent",
    "cases_casegroupobjectpermissionevent",
    "cases_accessrequestevent",
    "cases_offenderevent",
    "cases_caseoffenderevent",
    "victims_victimevent",
    "victims_casevictimevent",
    "victims_victimconsentevent",
]


@pytest.mark.parametrize("table", HISTORY_TABLES)
@pytest.mark.parametrize("operation", ["update", "delete"])
def test_plain_update_and_delete_on_history_tables_raise(history, table, operation):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), min(pgh_id) FROM {table}")  # noqa: S608
        count, some_id = cursor.fetchone()
    assert count > 0, f"{table} should hold history for this test"
    if operation == "update":
        sql = f"UPDATE {table} SET pgh_label = 'falsificado' WHERE pgh_id = %s"  # noqa: S608
    else:
        sql = f"DELETE FROM {table} WHERE pgh_id = %s"  # noqa: S608
    assert table in refused(sql, [some_id])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), count(*) FILTER (WHERE pgh_label = 'falsificado') FROM {table}")  # noqa: S608
        assert cursor.fetchone() == (count, 0)


def test_every_history_table_is_append_only_in_the_database():
    tables = sorted(model._meta.db_table for model in event_models())
    assert set(HISTORY_TABLES) <= set(tables)
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT c.relname, t.tgtype
            FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
            WHERE NOT t.tgisinternal AND t.tgenabled <> 'D' AND t.tgname LIKE %s
            """,
            ["pgtrigger_append_only_%"],
        )
        protected = {}
        for table, tgtype in cursor.fetchall():
            protected[table] = protected.get(table, 0) | tgtype
    update_bit, delete_bit = 16, 8  # pg_trigger.tgtype: TRIGGER_TYPE_UPDATE, TRIGGER_TYPE_DELETE
    unprotected = [
        table
        for table in [*tables, "kernel_accessevent"]
        if not (protected.get(table, 0) & update_bit and protected.get(table, 0) & delete_bit)
    ]
    assert unprotected == []


# --- change history (pghistory) -----------------------------------------------------------------


def history_of(model: type[Model], pk, label: str | None = None):
    events = model.pgh_event_model.objects.filter(pgh_obj_id=pk)
    return events.filter(pgh_label=label) if label else events


def test_creating_a_case_records_an_insert_event(world):
    case = case_create(
        actor=world.lead_officer,
        lead_institution=world.lead,
        data={"ruc": "2400777888-5", "intake_date": datetime.date(2024, 5, 2), "purpose": "trabajo_forzoso"},
    )
    (event,) = history_of(Case, case.pk, "insert")
    assert (event.ruc, event.purpose, event.lead_institution_id) == ("2400777888-5", "trabajo_forzoso", world.lead.pk)
    grants = CaseGroupObjectPermission.pgh_event_model.objects.filter(content_object_id=case.pk, pgh_label="insert")
    assert grants.count() == 4  # the lead's view, view identity, collaborate and administer


def test_a_bulk_update_records_an_update_event_per_row(world):
    other = CaseFactory(lead_institution=world.lead)
    Case.objects.filter(pk__in=[world.case.pk, other.pk]).update(status=CaseStatus.SUSPENDED)
    for case in (world.case, other):
        (event,) = history_of(Case, case.pk, "update")
        assert event.status == CaseStatus.SUSPENDED


def test_deleting_a_share_row_records_a_delete_event(world):
    granted = share(world, can_collaborate=True)
    CaseShare.objects.filter(pk=granted.pk).delete()
    (event,) = history_of(CaseShare, granted.pk, "delete")
    assert (event.institution_id, event.can_collaborate, event.reason) == (
        world.grantee.pk,
        True,
        "Regularización migratoria de la víctima",
    )


def test_an_unshare_records_the_share_update_and_each_removed_grant(world):
    granted = share(world, can_view_identity=True, legal_basis=LEGAL_BASIS)
    case_unshare(actor=world.lead_officer, share_id=granted.pk, reason="Fin")
    (update,) = history_of(CaseShare, granted.pk, "update")
    assert update.revoked_by_id == world.lead_officer.pk and update.revoke_reason == "Fin"
    removed = CaseGroupObjectPermission.pgh_event_model.objects.filter(
        content_object_id=world.case.pk, pgh_label="delete", group_id=world.grantee.group_id
    )
    assert sorted(removed.values_list("permission__codename", flat=True)) == ["view_case", "view_identity"]


def test_a_change_through_a_request_records_the_user_and_institution(world, client):
    client.force_login(world.lead_officer)
    response = client.post(
        f"/causas/{world.case.pk}/compartir/",
        {"institution": world.grantee.pk, "reason": "Coordinación", "can_collaborate": "on"},
    )
    assert response.status_code == 302
    granted = CaseShare.objects.get(case=world.case, institution=world.grantee)
    (event,) = history_of(CaseShare, granted.pk, "insert")
    metadata = event.pgh_context.metadata
    assert metadata["user"] == world.lead_officer.pk
    assert metadata["institution"] == world.lead.pk
    assert metadata["url"] == f"/causas/{world.case.pk}/compartir/"
    grants = CaseGroupObjectPermission.pgh_event_model.objects.filter(
        content_object_id=world.case.pk, group_id=Institution.objects.get(pk=world.grantee.pk).group_id
    )
    assert grants.count() == 2
    assert {grant.pgh_context_id for grant in grants} == {event.pgh_context_id}
    assert Context.objects.filter(pk=event.pgh_context_id).exists()


def test_a_change_outside_a_request_has_no_invented_context(world):
    granted = share(world)
    (event,) = history_of(CaseShare, granted.pk, "insert")
    assert event.pgh_context_id is None


def test_victim_history_rows_hold_no_encrypted_identity_columns(world):
    victim = Victim.objects.get(pk=world.victim.pk)
    victim.phone = "+56 9 0000 1111"
    victim.save()
    event_model = Victim.pgh_event_model
    with connection.cursor() as cursor:
        columns = {
            column.name for column in connection.introspection.get_table_description(cursor, "victims_victimevent")
        }
        cursor.execute(
            "SELECT given_names, surnames, document_number, phone FROM victims_victim WHERE id = %s", [victim.pk]
        )
        ciphertexts = [value for value in cursor.fetchone() if value]
        cursor.execute("SELECT row_to_json(e)::text FROM victims_victimevent e WHERE pgh_obj_id = %s", [victim.pk])
        rows = [row for (row,) in cursor.fetchall()]
    forbidden = {*IDENTITY_FIELDS, "document_index"}
    assert columns & forbidden == set()
    assert {field.name for field in event_model._meta.get_fields()} & forbidden == set()
    assert sorted(history_of(Victim, victim.pk).values_list("pgh_label", flat=True)) == ["insert", "update"]
    for row in rows:
        assert [value for value in [*PLANTED, "0000 1111"] if value in row] == []
        assert [value for value in ciphertexts if str(value) in row] == []
    offender_columns = {field.name for field in Offender.pgh_event_model._meta.get_fields()}
    assert offender_columns & {"given_names", "surnames", "document_type", "document_number", "document_index"} == set()


# --- appends from many connections, and tampering from another session --------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_keep_one_unbroken_chain():
    user = UserFactory(username="oficial.concurrente")
    start = threading.Barrier(4)
    errors: list[Exception] = []

    def append(worker: int) -> None:
        try:
            start.wait(timeout=10)
            for number in range(5):
                audit_record(AccessAction.EXPORT, actor=user, details={"worker": worker, "number": number})
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    workers = [threading.Thread(target=append, args=(worker,)) for worker in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    assert errors == []
    assert AccessEvent.objects.count() == 20
    assert audit_verify() == (20, None)


@pytest.mark.django_db(transaction=True)
def test_a_row_altered_from_another_superuser_session_is_named():
    user = UserFactory(username="oficial.auditado", institution=InstitutionFactory())
    events = [audit_record(AccessAction.EXPORT, actor=user, details={"n": n}) for n in range(4)]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    with psycopg.connect(**params, autocommit=True) as intruder:
        with pytest.raises(psycopg.errors.RaiseException):
            intruder.execute("UPDATE kernel_accessevent SET details = '{}' WHERE id = %s", [events[1].id])
        intruder.execute("SET session_replication_role = replica")
        intruder.execute("UPDATE kernel_accessevent SET details = '{\"n\": 9}' WHERE id = %s", [events[1].id])
        intruder.execute("SET session_replication_role = origin")
    with pytest.raises(CommandError, match=rf"event {events[1].id}\b"):
        run_audit_verify()


def test_a_duplicate_check_that_finds_the_person_writes_an_event_without_the_document(world, client):
    client.force_login(world.stranger_officer)
    response = client.post("/victimas/duplicados/", {"tipo": "run", "numero": "15.000.036-K"})
    assert world.lead.name in response.content.decode()
    event = only_event(AccessAction.DUPLICATE_FOUND)
    assert_by(event, world.stranger_officer)
    assert event.details == {"institutions": [world.lead.name]}
    assert "15000036" not in str(event.details)


def test_a_duplicate_check_that_finds_nobody_writes_no_event(world, client):
    client.force_login(world.stranger_officer)
    client.post("/victimas/duplicados/", {"tipo": "run", "numero": "11.111.111-1"})
    assert not AccessEvent.objects.filter(action=AccessAction.DUPLICATE_FOUND).exists()


def test_a_failed_login_is_attributed_to_the_accounts_institution(world, client):
    client.post("/ingresar/", {"username": world.grantee_officer.username, "password": "incorrecta"})
    event = only_event(AccessAction.LOGIN_FAILED)
    assert event.institution_id == world.grantee.pk
    assert event.actor_id is None
