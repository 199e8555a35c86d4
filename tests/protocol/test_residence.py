"""Sermig humanitarian residence: who derives a victim to Sermig, renewals, every move of an
application for every role, the database trigger behind the transition table, what Sermig sees
(the identity a permit needs, audited; nothing of the criminal case), the encrypted permit
number, and the reminder 60 days before a permit expires."""

from __future__ import annotations

import dataclasses
import datetime
import itertools

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from cases.access import grant_permissions
from cases.constants import CasePermission
from cases.models import Case, CaseOffender
from cases.selectors import case_get, case_list
from institutions.constants import InstitutionKind, Role
from institutions.models import Institution, User
from kernel.constants import AccessAction
from kernel.fields import Sealed
from kernel.models import AccessEvent
from protocol.constants import (
    ALLOWED_RESIDENCE_STATE_PAIRS,
    RESIDENCE_TRANSITIONS,
    ReferralState,
    ResidenceAction,
    ResidenceState,
)
from protocol.models import (
    Notification,
    Referral,
    ResidenceApplication,
    ResidenceExpiryReminder,
    ResidenceTransition,
)
from protocol.referrals import provider_inbox, referral_get, referral_victim_for_provider
from protocol.residence import (
    residence_derive,
    residence_expiry_remind,
    residence_get,
    residence_identity_reveal,
    residence_queue,
    residence_transition,
)
from protocol.selectors import activation_get, activation_list
from protocol.services import IllegalTransition
from tests.factories import CaseFactory, InstitutionFactory, OffenderFactory, UserFactory, VictimFactory
from tests.protocol.referral_helpers import World, make_world
from victims.identity import offender_identity_reveal, victim_identity_reveal
from victims.models import CaseVictim, Victim
from victims.selectors import victim_get, victim_list

pytestmark = pytest.mark.django_db

S, A = ResidenceState, ResidenceAction
PERMIT_NUMBER = "RTH-2024-0007731"
TODAY = datetime.date(2024, 6, 1)  # the reminder is computed for a given day
VALID_FROM = datetime.date(2024, 1, 15)
VALID_UNTIL = datetime.date(2025, 1, 15)


@dataclasses.dataclass
class Scene:
    lead: Institution
    lead_officer: User
    lead_reader: User
    grantee: Institution
    grantee_officer: User
    registrar: Institution
    registrar_officer: User
    secretariat: Institution
    secretariat_officer: User
    secretariat_reader: User
    sermig: Institution
    sermig_officer: User
    sermig_reader: User
    unrelated_officer: User
    case: Case
    victim: Victim  # in a case led by ``lead``, shared with ``grantee`` and ``secretariat``
    victim_without_case: Victim  # registered by ``registrar``

    def derive(self, victim: Victim | None = None, **kwargs) -> ResidenceApplication:
        return residence_derive(actor=self.lead_officer, victim_id=(victim or self.victim).pk, **kwargs)

    def move(self, application, action: str, actor: User | None = None, **kwargs) -> ResidenceApplication:
        return residence_transition(
            actor=actor or self.sermig_officer, application_id=application.pk, action=action, **kwargs
        )


def grant_kwargs(valid_from=VALID_FROM, valid_until=VALID_UNTIL, permit_number=PERMIT_NUMBER) -> dict:
    return {"permit_number": permit_number, "valid_from": valid_from, "valid_until": valid_until}


# How Sermig brings a new application (derivada) to each state, with what each move needs.
PATH_TO = {
    S.DERIVED: [],
    S.RECEIVED: [A.RECEIVE],
    S.PROCESSING: [A.RECEIVE, A.PROCESS],
    S.GRANTED: [A.RECEIVE, A.PROCESS, A.GRANT],
    S.REJECTED: [A.RECEIVE, A.REJECT],
}


def move_kwargs(action: str) -> dict:
    if action == A.GRANT:
        return grant_kwargs()
    if action == A.REJECT:
        return {"note": "No acredita la calidad de víctima"}
    return {}


def application_in(scene: Scene, state: str, victim: Victim | None = None) -> ResidenceApplication:
    application = scene.derive(victim)
    for action in PATH_TO[state]:
        application = scene.move(application, action, **move_kwargs(action))
    assert application.state == state
    return application


@pytest.fixture
def scene() -> Scene:
    lead = InstitutionFactory(short_name="PDI-L", name="Policía de Investigaciones (a cargo)")
    grantee = InstitutionFactory(short_name="FISC-G", name="Fiscalía (colabora)", kind=InstitutionKind.PROSECUTION)
    registrar = InstitutionFactory(short_name="OPD-R", name="Oficina de protección (registró sin causa)")
    secretariat = InstitutionFactory(short_name="SPD", name="Subsecretaría (Secretaría MITP)")
    sermig = InstitutionFactory(
        short_name="SERMIG", name="Servicio Nacional de Migraciones", kind=InstitutionKind.MIGRATION
    )
    sermig.kind = InstitutionKind.MIGRATION
    sermig.save()
    unrelated = InstitutionFactory(short_name="AJENA", name="Institución ajena")

    case = CaseFactory(lead_institution=lead)
    victim = VictimFactory(
        registering_institution=lead,
        given_names="Rosa Elena",
        surnames="Quispe Mamani",
        phone="+56 9 1111 2222",
        email="rosa@example.cl",
        address="Calle Oculta 77, Arica",
        notes="Relato reservado de los hechos",
        nationality="BO",
    )
    CaseVictim.objects.create(case=case, victim=victim)
    grant_permissions(grantee, case, [CasePermission.VIEW, CasePermission.VIEW_IDENTITY, CasePermission.COLLABORATE])
    grant_permissions(secretariat, case, [CasePermission.VIEW])
    return Scene(
        lead=lead,
        lead_officer=UserFactory(institution=lead, email="oficial@lead.cl"),
        lead_reader=UserFactory(institution=lead, role=Role.READER, email="lector@lead.cl"),
        grantee=grantee,
        grantee_officer=UserFactory(institution=grantee),
        registrar=registrar,
        registrar_officer=UserFactory(institution=registrar),
        secretariat=secretariat,
        secretariat_officer=UserFactory(institution=secretariat, is_mitp_secretariat=True),
        secretariat_reader=UserFactory(institution=secretariat, role=Role.READER, is_mitp_secretariat=True),
        sermig=sermig,
        sermig_officer=UserFactory(institution=sermig, is_sermig_officer=True, email="oficial@sermig.cl"),
        sermig_reader=UserFactory(
            institution=sermig, role=Role.READER, is_sermig_officer=True, email="lector@sermig.cl"
        ),
        unrelated_officer=UserFactory(institution=unrelated),
        case=case,
        victim=victim,
        victim_without_case=VictimFactory(registering_institution=registrar),
    )


def nothing_written() -> bool:
    return not ResidenceApplication.objects.exists() and not ResidenceTransition.objects.exists()


def snapshot(application_id) -> tuple[dict, list]:
    row = ResidenceApplication.objects.filter(pk=application_id).values().get()
    row = {key: value.ciphertext if isinstance(value, Sealed) else value for key, value in row.items()}
    moves = list(ResidenceTransition.objects.filter(application_id=application_id).values_list("pk", flat=True))
    return row, moves


def identity_reads() -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).order_by("id"))


# --- derivation --------------------------------------------------------------------------------


def _assert_derived(application: ResidenceApplication, actor: User, victim: Victim) -> None:
    application.refresh_from_db()
    assert application.state == S.DERIVED
    assert application.victim_id == victim.pk
    assert application.derived_by_id == actor.pk
    assert application.derived_by_institution_id == actor.institution_id
    assert application.renews_id is None
    assert application.version == 1
    assert application.received_at is None and application.decided_at is None
    assert application.permit_number is None
    (move,) = ResidenceTransition.objects.filter(application=application)
    assert (move.action, move.from_state, move.to_state) == ("", "", S.DERIVED)
    assert (move.actor_id, move.institution_id) == (actor.pk, actor.institution_id)


def test_the_lead_institution_derives_the_victim_of_its_case(scene):
    before = timezone.now()
    application = residence_derive(actor=scene.lead_officer, victim_id=scene.victim.pk, note="  Urgente.  ")

    _assert_derived(application, scene.lead_officer, scene.victim)
    assert before <= application.derived_at <= timezone.now()
    assert application.note == "Urgente."


def test_the_lead_of_one_of_the_victims_cases_derives(scene):
    # The victim is also in a case led by another institution that is not shared with the lead.
    other_case = CaseFactory(lead_institution=scene.registrar)
    CaseVictim.objects.create(case=other_case, victim=scene.victim)

    application = residence_derive(actor=scene.lead_officer, victim_id=scene.victim.pk)

    _assert_derived(application, scene.lead_officer, scene.victim)


def test_the_institution_that_registered_a_victim_without_a_case_derives(scene):
    application = residence_derive(actor=scene.registrar_officer, victim_id=scene.victim_without_case.pk)

    _assert_derived(application, scene.registrar_officer, scene.victim_without_case)


def test_the_mitp_secretariat_derives_a_victim_it_sees(scene):
    application = residence_derive(actor=scene.secretariat_officer, victim_id=scene.victim.pk)

    _assert_derived(application, scene.secretariat_officer, scene.victim)


def _refused_deriver(kind: str, scene: Scene):
    if kind == "grantee_officer":
        return scene.grantee_officer, scene.victim, PermissionDenied
    if kind == "lead_reader":
        return scene.lead_reader, scene.victim, PermissionDenied
    if kind == "lead_admin":
        return UserFactory(institution=scene.lead, role=Role.INSTITUTION_ADMIN), scene.victim, PermissionDenied
    if kind == "secretariat_reader":
        return scene.secretariat_reader, scene.victim, PermissionDenied
    if kind == "secretariat_officer_not_seeing_the_victim":
        return scene.secretariat_officer, scene.victim_without_case, Http404
    if kind == "registrar_once_the_victim_is_in_anothers_case":
        CaseVictim.objects.create(case=CaseFactory(lead_institution=scene.lead), victim=scene.victim_without_case)
        return scene.registrar_officer, scene.victim_without_case, Http404
    if kind == "unrelated_officer":
        return scene.unrelated_officer, scene.victim, Http404
    if kind == "sermig_officer":
        return scene.sermig_officer, scene.victim, Http404
    if kind == "inactive_lead_officer":
        return UserFactory(institution=scene.lead, is_active=False), scene.victim, Http404
    if kind == "staff":
        return UserFactory(institution=None, role="", is_staff=True, is_superuser=True), scene.victim, Http404
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind",
    [
        "grantee_officer",
        "lead_reader",
        "lead_admin",
        "secretariat_reader",
        "secretariat_officer_not_seeing_the_victim",
        "registrar_once_the_victim_is_in_anothers_case",
        "unrelated_officer",
        "sermig_officer",
        "inactive_lead_officer",
        "staff",
    ],
)
def test_who_may_not_derive(scene, kind):
    actor, victim, refusal = _refused_deriver(kind, scene)

    with pytest.raises(refusal):
        residence_derive(actor=actor, victim_id=victim.pk)
    assert nothing_written()


@pytest.mark.parametrize("state", [S.DERIVED, S.RECEIVED, S.PROCESSING])
def test_one_open_application_per_victim(scene, state):
    first = application_in(scene, state)

    for actor in (scene.lead_officer, scene.secretariat_officer):
        with pytest.raises(ValidationError):
            residence_derive(actor=actor, victim_id=scene.victim.pk)
    assert list(ResidenceApplication.objects.values_list("pk", flat=True)) == [first.pk]
    assert ResidenceTransition.objects.filter(application=first).count() == 1 + len(PATH_TO[state])


@pytest.mark.parametrize("state", [S.GRANTED, S.REJECTED])
def test_a_decided_application_lets_a_new_one_through(scene, state):
    application_in(scene, state)

    second = scene.derive()

    assert second.state == S.DERIVED
    assert ResidenceApplication.objects.count() == 2


# --- renewals ------------------------------------------------------------------------------------


def test_a_granted_permit_is_renewed_by_a_new_application_linked_to_it(scene):
    granted = application_in(scene, S.GRANTED)

    renewal = scene.derive(renews_id=granted.pk)

    renewal.refresh_from_db()
    assert renewal.renews_id == granted.pk
    assert renewal.state == S.DERIVED
    assert renewal.pk != granted.pk
    granted.refresh_from_db()
    assert granted.state == S.GRANTED
    assert list(granted.renewals.all()) == [renewal]


def test_a_permit_is_renewed_once(scene):
    granted = application_in(scene, S.GRANTED)
    renewal = scene.derive(renews_id=granted.pk)
    # Once its renewal is granted, the permit it renews is not renewed again.
    scene.move(renewal, A.RECEIVE)
    scene.move(renewal, A.PROCESS)
    scene.move(renewal, A.GRANT, **grant_kwargs(VALID_UNTIL, datetime.date(2026, 1, 15), "RTH-2025-1"))

    with pytest.raises(ValidationError) as refused:
        scene.derive(renews_id=granted.pk)
    assert "renews" in refused.value.message_dict
    assert ResidenceApplication.objects.count() == 2


def test_a_permit_whose_renewal_was_rejected_may_be_renewed_again(scene):
    granted = application_in(scene, S.GRANTED)
    renewal = scene.derive(renews_id=granted.pk)
    scene.move(renewal, A.RECEIVE)
    scene.move(renewal, A.REJECT, note="Faltan antecedentes")

    second = scene.derive(renews_id=granted.pk)

    assert second.renews_id == granted.pk
    assert set(granted.renewals.values_list("state", flat=True)) == {S.REJECTED, S.DERIVED}


@pytest.mark.parametrize("state", [S.DERIVED, S.RECEIVED, S.PROCESSING, S.REJECTED])
def test_only_a_granted_application_is_renewed(scene, state):
    application = application_in(scene, state)

    with pytest.raises(ValidationError) as refused:
        scene.derive(renews_id=application.pk)
    assert "renews" in refused.value.message_dict
    assert ResidenceApplication.objects.count() == 1


def test_only_a_permit_of_the_same_victim_is_renewed(scene):
    others_permit = application_in(scene, S.GRANTED, victim=scene.victim)

    with pytest.raises(ValidationError) as refused:
        residence_derive(
            actor=scene.registrar_officer, victim_id=scene.victim_without_case.pk, renews_id=others_permit.pk
        )
    assert "renews" in refused.value.message_dict
    assert ResidenceApplication.objects.count() == 1


def test_a_renewal_waits_for_the_victims_open_application(scene):
    granted = application_in(scene, S.GRANTED)
    scene.derive()  # a new application, open

    with pytest.raises(ValidationError):
        scene.derive(renews_id=granted.pk)
    assert ResidenceApplication.objects.count() == 2


# --- every move, every role ----------------------------------------------------------------------

ROLES = ["sermig_officer", "sermig_reader", "deriving_officer"]


def expected_outcome(state: str, action: str, role: str):
    if role != "sermig_officer":
        return PermissionDenied
    starts, _target = RESIDENCE_TRANSITIONS[action]
    return None if state in starts else IllegalTransition


def _actor(scene: Scene, role: str) -> User:
    return {
        "sermig_officer": scene.sermig_officer,
        "sermig_reader": scene.sermig_reader,
        "deriving_officer": scene.lead_officer,
    }[role]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", A.values)
@pytest.mark.parametrize("state", S.values)
def test_every_move_for_every_role(scene, state, action, role):
    application = application_in(scene, state)
    before_row, before_moves = snapshot(application.pk)
    refusal = expected_outcome(state, action, role)
    actor = _actor(scene, role)
    started = timezone.now()

    if refusal is not None:
        with pytest.raises(refusal):
            scene.move(application, action, actor=actor, **move_kwargs(action))
        assert snapshot(application.pk) == (before_row, before_moves)
        return

    moved = scene.move(application, action, actor=actor, **move_kwargs(action))
    _starts, target = RESIDENCE_TRANSITIONS[action]
    moved.refresh_from_db()
    assert moved.state == target
    assert moved.version == before_row["version"] + 1
    assert moved.updated_at >= started
    after_moves = list(ResidenceTransition.objects.filter(application=moved).order_by("at", "id"))
    assert len(after_moves) == len(before_moves) + 1
    last = after_moves[-1]
    assert (last.action, last.from_state, last.to_state) == (action, state, target)
    assert (last.actor_id, last.institution_id) == (actor.pk, scene.sermig.pk)

    def stamped(value) -> bool:
        return value is not None and started <= value <= timezone.now()

    if action == A.RECEIVE:
        assert stamped(moved.received_at)
        assert moved.decided_at is None
    else:
        assert moved.received_at == before_row["received_at"]
    if action == A.PROCESS:
        assert moved.decided_at is None
    if action == A.GRANT:
        assert stamped(moved.decided_at)
        assert moved.permit_number == PERMIT_NUMBER
        assert (moved.valid_from, moved.valid_until) == (VALID_FROM, VALID_UNTIL)
        assert moved.rejection_reason == ""
    if action == A.REJECT:
        assert stamped(moved.decided_at)
        assert moved.rejection_reason == "No acredita la calidad de víctima"
        assert last.note == "No acredita la calidad de víctima"
        assert moved.permit_number is None and moved.valid_from is None


def test_an_application_goes_all_the_way_and_every_step_is_in_its_history(scene):
    granted = application_in(scene, S.GRANTED)

    steps = list(
        ResidenceTransition.objects.filter(application=granted).values_list("action", "from_state", "to_state")
    )
    assert steps == [
        ("", "", S.DERIVED),
        (A.RECEIVE, S.DERIVED, S.RECEIVED),
        (A.PROCESS, S.RECEIVED, S.PROCESSING),
        (A.GRANT, S.PROCESSING, S.GRANTED),
    ]
    assert granted.version == 4


def test_an_unrelated_officer_is_told_nothing_exists(scene):
    application = application_in(scene, S.PROCESSING)
    before = snapshot(application.pk)

    for action in A.values:
        with pytest.raises(Http404):
            scene.move(application, action, actor=scene.unrelated_officer, **move_kwargs(action))
        with pytest.raises(Http404):
            scene.move(application, action, actor=scene.grantee_officer, **move_kwargs(action))
    assert snapshot(application.pk) == before


def test_an_unknown_action_is_refused(scene):
    application = application_in(scene, S.RECEIVED)
    before = snapshot(application.pk)

    with pytest.raises(ValidationError) as refused:
        scene.move(application, "aprobar_de_inmediato")
    assert "action" in refused.value.message_dict
    assert snapshot(application.pk) == before


def test_the_refusal_of_an_illegal_move_says_why(scene):
    application = application_in(scene, S.DERIVED)

    with pytest.raises(IllegalTransition) as refused:
        scene.move(application, A.GRANT, **grant_kwargs())
    assert "otorgar" in refused.value.message
    assert "derivada" in refused.value.message


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"permit_number": ""}, {"permit_number"}),
        ({"permit_number": "   "}, {"permit_number"}),
        ({"valid_from": None}, {"valid_from"}),
        ({"valid_until": None}, {"valid_until"}),
        (
            {"valid_from": None, "valid_until": None, "permit_number": ""},
            {"permit_number", "valid_from", "valid_until"},
        ),
        ({"valid_until": VALID_FROM}, {"valid_until"}),
        ({"valid_until": VALID_FROM - datetime.timedelta(days=1)}, {"valid_until"}),
    ],
)
def test_granting_needs_a_permit_number_and_an_ordered_validity(scene, changes, fields):
    application = application_in(scene, S.PROCESSING)
    before = snapshot(application.pk)

    with pytest.raises(ValidationError) as refused:
        scene.move(application, A.GRANT, **{**grant_kwargs(), **changes})
    assert set(refused.value.message_dict) == fields
    assert snapshot(application.pk) == before


def test_the_permit_number_is_kept_without_surrounding_blanks(scene):
    # Every other text a service receives is trimmed (notes, reasons); the permit number too.
    application = application_in(scene, S.PROCESSING)

    granted = scene.move(application, A.GRANT, **grant_kwargs(permit_number=f"  {PERMIT_NUMBER} \n"))

    assert ResidenceApplication.objects.get(pk=granted.pk).permit_number == PERMIT_NUMBER


@pytest.mark.parametrize("start", [S.RECEIVED, S.PROCESSING])
@pytest.mark.parametrize("note", ["", "   "])
def test_rejecting_needs_a_reason(scene, start, note):
    application = application_in(scene, start)
    before = snapshot(application.pk)

    with pytest.raises(ValidationError) as refused:
        scene.move(application, A.REJECT, note=note)
    assert set(refused.value.message_dict) == {"note"}
    assert snapshot(application.pk) == before


# --- the database trigger ------------------------------------------------------------------------

ALL_PAIRS = list(itertools.permutations(S.values, 2))
ILLEGAL_PAIRS = [pair for pair in ALL_PAIRS if pair not in ALLOWED_RESIDENCE_STATE_PAIRS]


def test_the_pairs_cover_every_change_of_state():
    assert len(ALL_PAIRS) == 20
    assert len(ALLOWED_RESIDENCE_STATE_PAIRS) == 5
    assert len(ILLEGAL_PAIRS) == 15


def _with_every_field_a_state_needs(scene: Scene, start: str) -> ResidenceApplication:
    """An application in ``start`` that also satisfies every check constraint of every other
    state (permit, validity, reason), so only the trigger may refuse a change of state."""
    application = application_in(scene, start)
    application.permit_number = PERMIT_NUMBER
    application.valid_from, application.valid_until = VALID_FROM, VALID_UNTIL
    application.rejection_reason = "Motivo"
    application.save()
    return application


@pytest.mark.parametrize(("start", "end"), ILLEGAL_PAIRS)
def test_the_database_refuses_a_direct_change_of_state_that_is_not_a_transition(scene, start, end):
    application = _with_every_field_a_state_needs(scene, start)

    with pytest.raises(IntegrityError, match="is not a transition"), transaction.atomic():
        ResidenceApplication.objects.filter(pk=application.pk).update(state=end)
    with pytest.raises(IntegrityError, match="is not a transition"), transaction.atomic(), connection.cursor() as c:
        c.execute("UPDATE protocol_residenceapplication SET state = %s WHERE id = %s", [end, application.pk])

    assert ResidenceApplication.objects.get(pk=application.pk).state == start


@pytest.mark.parametrize(("start", "end"), ALLOWED_RESIDENCE_STATE_PAIRS)
def test_the_database_lets_a_transition_pair_through(scene, start, end):
    application = _with_every_field_a_state_needs(scene, start)

    ResidenceApplication.objects.filter(pk=application.pk).update(state=end, version=F("version") + 1)

    assert ResidenceApplication.objects.get(pk=application.pk).state == end


def test_transitions_are_append_only_in_the_database(scene):
    application = application_in(scene, S.RECEIVED)
    moves = ResidenceTransition.objects.filter(application=application)

    with pytest.raises(DatabaseError), transaction.atomic():
        moves.update(note="reescrito")
    with pytest.raises(DatabaseError), transaction.atomic():
        moves.delete()
    assert moves.count() == 2


# --- what Sermig sees ----------------------------------------------------------------------------


@dataclasses.dataclass
class CaseWorld:
    """The victim's case, with an offender, an active protocol and a referral to a provider."""

    world: World
    case: Case
    victim: Victim
    offender_id: object
    referral: Referral


@pytest.fixture
def case_world(scene) -> CaseWorld:
    world = make_world()
    victim = world.activation.victim
    case = CaseFactory(lead_institution=world.referrer)
    CaseVictim.objects.create(case=case, victim=victim)
    offender = OffenderFactory(given_names="Bartolomé", surnames="Villagrán")
    CaseOffender.objects.create(case=case, offender=offender)
    return CaseWorld(
        world=world,
        case=case,
        victim=victim,
        offender_id=offender.pk,
        referral=world.referral_in(ReferralState.PENDING),
    )


@pytest.mark.parametrize("state", S.values)
def test_sermig_sees_nothing_of_the_criminal_case(scene, case_world, state):
    application = residence_derive(actor=case_world.world.referrer_officer, victim_id=case_world.victim.pk)
    for action in PATH_TO[state]:
        application = scene.move(application, action, **move_kwargs(action))

    for sermig in (scene.sermig_officer, scene.sermig_reader):
        # The application, yes.
        assert residence_get(user=sermig, application_id=application.pk).pk == application.pk
        # Nothing else.
        with pytest.raises(Http404):
            case_get(user=sermig, case_id=case_world.case.pk)
        assert not case_list(user=sermig).exists()
        with pytest.raises(Http404):
            victim_get(user=sermig, victim_id=case_world.victim.pk)
        assert not victim_list(user=sermig).exists()
        with pytest.raises(Http404):
            victim_identity_reveal(user=sermig, victim_id=case_world.victim.pk)
        with pytest.raises(Http404):
            offender_identity_reveal(user=sermig, case_id=case_world.case.pk, offender_id=case_world.offender_id)
        with pytest.raises(Http404):
            referral_get(user=sermig, referral_id=case_world.referral.pk)
        with pytest.raises(Http404):
            referral_victim_for_provider(user=sermig, referral_id=case_world.referral.pk)
        assert not provider_inbox(user=sermig).exists()
        with pytest.raises(Http404):
            activation_get(user=sermig, activation_id=case_world.world.activation.pk)
        assert not activation_list(user=sermig).exists()
    assert identity_reads() == []


@pytest.mark.parametrize("state", [S.DERIVED, S.RECEIVED, S.PROCESSING, S.GRANTED])
def test_sermig_reads_only_the_identity_a_permit_needs_audited(scene, state):
    application = application_in(scene, state)

    identity = residence_identity_reveal(
        user=scene.sermig_officer, application_id=application.pk, ip_address="10.1.1.1"
    )

    assert identity == {
        "given_names": "Rosa Elena",
        "surnames": "Quispe Mamani",
        "document_type": scene.victim.document_type,
        "document_number": scene.victim.document_number,
        "birth_date": datetime.date(1995, 5, 17),
        "nationality": "BO",
    }
    (event,) = identity_reads()
    assert event.victim_code == scene.victim.code
    assert (event.actor_id, event.institution_id) == (scene.sermig_officer.pk, scene.sermig.pk)
    assert event.case_id is None
    assert event.ip_address == "10.1.1.1"
    assert "Rosa" not in str(event.details) and scene.victim.document_number not in str(event.details)


def test_every_reveal_is_one_event(scene):
    application = application_in(scene, S.RECEIVED)

    for expected in (1, 2):
        residence_identity_reveal(user=scene.sermig_officer, application_id=application.pk)
        assert len(identity_reads()) == expected


def test_no_identity_once_the_application_is_rejected(scene):
    application = application_in(scene, S.REJECTED)

    with pytest.raises(PermissionDenied):
        residence_identity_reveal(user=scene.sermig_officer, application_id=application.pk)
    assert identity_reads() == []


@pytest.mark.parametrize("who", ["lead_officer", "lead_reader"])
def test_the_deriving_institution_does_not_read_identity_through_the_application(scene, who):
    # It has its own identity access through the victim (victims.identity), audited there.
    application = application_in(scene, S.RECEIVED)

    with pytest.raises(PermissionDenied):
        residence_identity_reveal(user=getattr(scene, who), application_id=application.pk)
    assert identity_reads() == []


@pytest.mark.parametrize("who", ["unrelated_officer", "grantee_officer", "registrar_officer"])
def test_an_institution_that_did_not_derive_does_not_see_the_application(scene, who):
    application = application_in(scene, S.RECEIVED)

    with pytest.raises(Http404):
        residence_get(user=getattr(scene, who), application_id=application.pk)
    with pytest.raises(Http404):
        residence_identity_reveal(user=getattr(scene, who), application_id=application.pk)
    assert not residence_queue(user=getattr(scene, who)).exists()
    assert identity_reads() == []


def test_the_queue_is_sermigs(scene):
    granted = application_in(scene, S.GRANTED)
    open_one = residence_derive(actor=scene.registrar_officer, victim_id=scene.victim_without_case.pk)

    assert list(residence_queue(user=scene.sermig_officer)) == [open_one, granted]
    assert list(residence_queue(user=scene.sermig_reader)) == [open_one, granted]
    assert not residence_queue(user=scene.lead_officer).exists()


def test_the_permit_number_is_stored_encrypted(scene):
    granted = application_in(scene, S.GRANTED)

    assert ResidenceApplication.objects.get(pk=granted.pk).permit_number == PERMIT_NUMBER
    with connection.cursor() as cursor:
        cursor.execute("SELECT permit_number FROM protocol_residenceapplication WHERE id = %s", [granted.pk])
        (raw,) = cursor.fetchone()
    raw = bytes(raw)
    assert raw
    for piece in (PERMIT_NUMBER, "0007731", "RTH-2024"):
        assert piece.encode() not in raw
    # Nor in the history of the row.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(string_agg(row_to_json(e)::text, ''), '') FROM protocol_residenceapplicationevent e "
            "WHERE pgh_obj_id = %s",
            [granted.pk],
        )
        (history,) = cursor.fetchone()
    assert "0007731" not in history


# --- the expiry reminder ----------------------------------------------------------------------------


def _granted_until(scene: Scene, valid_until: datetime.date, victim: Victim | None = None) -> ResidenceApplication:
    application = application_in(scene, S.PROCESSING, victim=victim)
    return scene.move(application, A.GRANT, **grant_kwargs(valid_until - datetime.timedelta(days=365), valid_until))


def _recipients_expected(scene: Scene) -> set[int]:
    return {scene.lead_officer.pk, scene.lead_officer_without_email.pk, scene.sermig_officer.pk, scene.other_sermig.pk}


@pytest.fixture
def people(scene) -> Scene:
    """Who is told and who is not, around the deriving institution (lead) and Sermig."""
    scene.lead_officer_without_email = UserFactory(institution=scene.lead, email="")
    scene.other_sermig = UserFactory(
        institution=InstitutionFactory(short_name="SERMIG-AR", name="Sermig Arica", kind=InstitutionKind.MIGRATION),
        is_sermig_officer=True,
        email="arica@sermig.cl",
    )
    UserFactory(institution=scene.lead, is_active=False, email="inactivo@lead.cl")
    UserFactory(institution=scene.lead, role=Role.INSTITUTION_ADMIN, email="admin@lead.cl")
    UserFactory(institution=scene.sermig, is_active=False, is_sermig_officer=True, email="inactivo@sermig.cl")
    return scene


@pytest.mark.parametrize("days_left", [0, 1, 30, 59, 60])
def test_a_permit_ending_within_60_days_is_announced_once_to_the_deriving_institution_and_sermig(
    people, django_capture_on_commit_callbacks, days_left
):
    scene = people
    application = _granted_until(scene, TODAY + datetime.timedelta(days=days_left))

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert residence_expiry_remind(today=TODAY) == 1
        assert mail.outbox == []  # nothing leaves before the commit

    (reminder,) = ResidenceExpiryReminder.objects.all()
    assert (reminder.application_id, reminder.valid_until) == (application.pk, application.valid_until)
    notices = list(Notification.objects.all())
    assert {notice.recipient_id for notice in notices} == _recipients_expected(scene)
    assert len(notices) == 4
    assert all(notice.residence_reminder_id == reminder.pk for notice in notices)
    assert all(scene.victim.code in notice.message for notice in notices)
    assert all("Rosa" not in notice.message and "Quispe" not in notice.message for notice in notices)
    assert len(callbacks) == 1
    assert sorted(tuple(message.to) for message in mail.outbox) == sorted(
        [("oficial@lead.cl",), ("oficial@sermig.cl",), ("arica@sermig.cl",)]
    )
    assert all(message.subject == "MITP: permiso de residencia por vencer" for message in mail.outbox)
    assert all(PERMIT_NUMBER not in message.body for message in mail.outbox)

    # The same end date is never announced twice.
    with django_capture_on_commit_callbacks(execute=True) as again:
        assert residence_expiry_remind(today=TODAY) == 0
        assert residence_expiry_remind(today=TODAY + datetime.timedelta(days=1)) == 0
    assert again == []
    assert ResidenceExpiryReminder.objects.count() == 1
    assert Notification.objects.count() == 4
    assert len(mail.outbox) == 3


def test_the_reminder_runs_on_todays_date_by_default(people, django_capture_on_commit_callbacks):
    _granted_until(people, timezone.localdate() + datetime.timedelta(days=10))

    with django_capture_on_commit_callbacks(execute=True):
        assert residence_expiry_remind() == 1
    assert Notification.objects.count() == 4


@pytest.mark.parametrize("when", ["beyond_60_days", "already_expired", "renewed", "not_granted"])
def test_no_reminder(people, django_capture_on_commit_callbacks, when):
    scene = people
    if when == "beyond_60_days":
        _granted_until(scene, TODAY + datetime.timedelta(days=61))
    elif when == "already_expired":
        _granted_until(scene, TODAY - datetime.timedelta(days=1))
    elif when == "renewed":
        granted = _granted_until(scene, TODAY + datetime.timedelta(days=20))
        scene.derive(renews_id=granted.pk)
    else:
        application_in(scene, S.PROCESSING)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert residence_expiry_remind(today=TODAY) == 0
    assert callbacks == []
    assert not ResidenceExpiryReminder.objects.exists()
    assert not Notification.objects.exists()
    assert mail.outbox == []


def test_each_permit_is_announced_to_its_own_deriving_institution(people, django_capture_on_commit_callbacks):
    scene = people
    from_lead = _granted_until(scene, TODAY + datetime.timedelta(days=15))
    application = residence_derive(actor=scene.registrar_officer, victim_id=scene.victim_without_case.pk)
    scene.move(application, A.RECEIVE)
    scene.move(application, A.PROCESS)
    from_registrar = scene.move(application, A.GRANT, **grant_kwargs(VALID_FROM, TODAY + datetime.timedelta(days=40)))
    _granted_until(scene, TODAY + datetime.timedelta(days=90), victim=VictimFactory(registering_institution=scene.lead))

    with django_capture_on_commit_callbacks(execute=True):
        assert residence_expiry_remind(today=TODAY) == 2

    sermig_officers = {scene.sermig_officer.pk, scene.other_sermig.pk}
    told = {
        application_id: set(
            Notification.objects.filter(residence_reminder__application_id=application_id).values_list(
                "recipient_id", flat=True
            )
        )
        for application_id in (from_lead.pk, from_registrar.pk)
    }
    assert told[from_lead.pk] == {scene.lead_officer.pk, scene.lead_officer_without_email.pk} | sermig_officers
    assert told[from_registrar.pk] == {scene.registrar_officer.pk} | sermig_officers


def test_the_sermig_flag_on_a_user_of_another_institution_opens_nothing(scene):
    # The capability belongs to the migration service: a flag set by mistake on a police user
    # opens no queue, no application and no identity.
    misflagged = UserFactory(institution=scene.lead, is_sermig_officer=True)
    application = scene.derive()
    assert not residence_queue(user=misflagged).exists()
    with pytest.raises(PermissionDenied):
        residence_transition(actor=misflagged, application_id=application.pk, action=A.RECEIVE)
    with pytest.raises(PermissionDenied):
        residence_identity_reveal(user=misflagged, application_id=application.pk)
