"""The Protocolo de Atención over the API (issue 6): activations, referrals and humanitarian
residence applications, by real machine clients of each institution involved, on real PostgreSQL
and Redis. Who may do what is the domain's (tests/protocol); here: that each endpoint reaches the
right service and answers as the rest of /api/v1/ does (Idempotency-Key, If-Match, problem+json,
no encrypted field in a representation), and that providers and Sermig read nothing of the case.
The per-relation access answers are in tests/access/test_api_machine_matrix.py."""

from __future__ import annotations

import dataclasses
import datetime
import io
import uuid

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from api.models import ApiClient
from cases.access import grant_permissions
from cases.constants import CasePermission
from institutions.constants import InstitutionKind
from institutions.models import Institution, User
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from protocol.constants import ActivationState, ReferralState, RequestedBy, ResidenceState, ServiceType
from protocol.models import ProtocolActivation, ProtocolTransition, Referral, ReferralTransition, ResidenceApplication
from protocol.services import activation_open
from tests.api.conftest import Machine, machine_for
from tests.factories import CaseFactory, InstitutionFactory, VictimFactory
from victims.models import CaseVictim, Victim

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
TODAY = timezone.localdate()
PERMIT_NUMBER = "RTH-2025-0001234"
# The person's identity as planted: no representation but the audited reads may carry any of it.
GIVEN, SURNAME, DOCUMENT = "Rosa Elena", "Quispe Mamani", "12.345.678-5"
THIRD_PARTY = ("Hermana de la víctima", "+56 9 5555 0000")
# Keys of the criminal case's representation (cases.serializers.CaseSerializer): none may appear
# in what a provider or Sermig reads.
CASE_KEYS = {"ruc", "intake_date", "purpose", "lead_institution", "offenders", "termination_type", "status"}


@dataclasses.dataclass
class Scene:
    lead: Institution
    provider: Institution
    sermig: Institution
    victim: Victim
    lead_system: Machine  # every scope
    provider_system: Machine
    sermig_system: Machine
    sermig_reader: Machine  # cases:read only
    case_id: int


@pytest.fixture
def scene(db) -> Scene:
    lead = InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")
    provider = InstitutionFactory(
        short_name="SERNAMEG", name="Servicio Nacional de la Mujer", kind=InstitutionKind.PUBLIC_SERVICE
    )
    sermig = InstitutionFactory(short_name="SERMIG", name="Servicio Nacional de Migraciones", kind="migracion")
    case = CaseFactory(lead_institution=lead)
    victim = VictimFactory(
        registering_institution=lead,
        given_names=GIVEN,
        surnames=SURNAME,
        document_number=DOCUMENT,
        phone="+56 9 1111 2222",
        address="Calle Oculta 77, Arica",
        notes="Relato reservado de los hechos",
    )
    CaseVictim.objects.create(case=case, victim=victim)
    return Scene(
        lead=lead,
        provider=provider,
        sermig=sermig,
        victim=victim,
        lead_system=machine_for(lead, name="Sistema PDI"),
        provider_system=machine_for(provider, name="Sistema SernamEG"),
        sermig_system=machine_for(sermig, name="Sistema Sermig", sermig=True),
        sermig_reader=machine_for(sermig, ["cases:read"], name="Lector Sermig", sermig=True),
        case_id=case.pk,
    )


def post(machine: Machine, url: str, body: dict, *, if_match: str | None = None, idempotency_key: str | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key or str(uuid.uuid4())}
    if if_match is not None:
        headers["HTTP_IF_MATCH"] = if_match
    return machine.post(url, body, **headers)


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == PROBLEM
    return response.json()


def field_errors(response) -> dict[str, str]:
    return {error["field"]: error["message"] for error in assert_problem(response, 400)["errors"]}


def no_identity_in(response) -> None:
    body = response.content.decode()
    for value in (GIVEN, SURNAME, DOCUMENT, "Calle Oculta", "Relato reservado", PERMIT_NUMBER, *THIRD_PARTY):
        assert value not in body, value


def identity_reads() -> int:
    return AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).count()


def assert_gone_for_the_provider(scene: Scene, referral_id) -> None:
    """A closed referral is no longer the provider's (access-model.md: "until the referral
    closes"): its detail, its minimum data and its moves answer 404, byte for byte what a referral
    that does not exist answers; nothing changes, no identity read is logged, and the incoming
    list leaves it out."""
    provider = scene.provider_system
    before = list(Referral.objects.filter(pk=referral_id).values()), ReferralTransition.objects.count()
    reads = identity_reads()
    ghost_id = uuid.uuid4()
    for what in ("detail", "victim"):
        response = provider.get(referral_url(referral_id, what))
        ghost = provider.get(referral_url(ghost_id, what))
        assert_problem(response, 404)
        assert (response.status_code, response.content) == (ghost.status_code, ghost.content), what
        no_identity_in(response)
    for body in ({"action": "aceptar"}, {"action": "completar"}, {"action": "rechazar", "note": "Sin cupo"}):
        response = post(provider, referral_url(referral_id, "transitions"), body)
        ghost = post(provider, referral_url(ghost_id, "transitions"), body)
        assert_problem(response, 404)
        assert (response.status_code, response.content) == (ghost.status_code, ghost.content), body
    assert (list(Referral.objects.filter(pk=referral_id).values()), ReferralTransition.objects.count()) == before
    assert identity_reads() == reads
    listed = provider.get(reverse("api:referral_list")).json()["results"]
    assert str(referral_id) not in [item["id"] for item in listed]


# --- URLs ------------------------------------------------------------------------------------------


def activations_url(victim) -> str:
    return reverse("api:victim_activations", kwargs={"victim_id": victim.pk})


def activation_url(activation_id, what: str = "detail") -> str:
    return reverse(f"api:activation_{what}", kwargs={"activation_id": activation_id})


def referral_url(referral_id, what: str = "detail") -> str:
    return reverse(f"api:referral_{what}", kwargs={"referral_id": referral_id})


def residence_url(application_id, what: str = "detail") -> str:
    return reverse(f"api:residence_{what}", kwargs={"application_id": application_id})


def derive_url(victim) -> str:
    return reverse("api:victim_residence_applications", kwargs={"victim_id": victim.pk})


# --- bringing records to a state through the API itself ---------------------------------------


def open_by_api(scene: Scene, **body) -> dict:
    body = {"requested_by": "victima", "requested_on": TODAY.isoformat(), **body}
    response = post(scene.lead_system, activations_url(scene.victim), body)
    assert response.status_code == 201, response.content
    return response.json()


def active_by_api(scene: Scene) -> dict:
    activation = open_by_api(scene, consent_on=TODAY.isoformat())
    for action in ("evaluar", "activar"):
        response = post(scene.lead_system, activation_url(activation["id"], "transitions"), {"action": action})
        assert response.status_code == 200, response.content
    return response.json()


def refer_by_api(scene: Scene, activation: dict, service_type: str = ServiceType.SHELTER) -> dict:
    body = {"service_type": service_type, "provider": scene.provider.pk, "note": "Necesita alojamiento hoy"}
    response = post(scene.lead_system, activation_url(activation["id"], "referrals"), body)
    assert response.status_code == 201, response.content
    return response.json()


def derive_by_api(scene: Scene, **body) -> dict:
    response = post(scene.lead_system, derive_url(scene.victim), body)
    assert response.status_code == 201, response.content
    return response.json()


def move_residence(scene: Scene, application: dict, action: str, **body) -> dict:
    response = post(scene.sermig_system, residence_url(application["id"], "transitions"), {"action": action, **body})
    assert response.status_code == 200, response.content
    return response.json()


# --- activations -------------------------------------------------------------------------------


def test_a_system_opens_an_activation_and_brings_it_to_active_with_its_timeline(scene):
    created = post(
        scene.lead_system,
        activations_url(scene.victim),
        {"requested_by": "victima", "requested_on": TODAY.isoformat(), "note": "Derivada por la brigada"},
    )

    assert created.status_code == 201, created.content
    activation = created.json()
    assert created["ETag"] == '"1"'
    assert created["Location"].endswith(activation_url(activation["id"]))
    assert activation["state"] == ActivationState.REQUESTED
    assert (activation["institution"], activation["victim"], activation["victim_code"]) == (
        "PDI",
        str(scene.victim.pk),
        scene.victim.code,
    )
    assert activation["consent_recorded"] is False
    url = activation_url(activation["id"], "transitions")
    assert post(scene.lead_system, url, {"action": "evaluar"}, if_match='"1"').status_code == 200
    consent = post(
        scene.lead_system,
        activation_url(activation["id"], "consent"),
        {"consent_on": TODAY.isoformat()},
        if_match='"2"',
    )
    assert consent.status_code == 200, consent.content
    assert consent.json()["consent_recorded"] is True and consent["ETag"] == '"3"'
    again = post(scene.lead_system, activation_url(activation["id"], "consent"), {"consent_on": TODAY.isoformat()})
    assert "ya está registrado" in assert_problem(again, 409)["detail"]
    active = post(scene.lead_system, url, {"action": "activar", "note": "Consintió"}, if_match='"3"')

    assert active.status_code == 200, active.content
    assert active.json()["state"] == ActivationState.ACTIVE and active["ETag"] == '"4"'
    detail = scene.lead_system.get(activation_url(activation["id"]))
    assert detail["ETag"] == '"4"'
    timeline = [(step["action"], step["from_state"], step["to_state"]) for step in detail.json()["transitions"]]
    assert timeline == [
        ("", "", "solicitada"),
        ("evaluar", "solicitada", "en_evaluacion"),
        ("activar", "en_evaluacion", "activa"),
    ]
    assert detail.json()["transitions"][0]["note"] == "Derivada por la brigada"
    listed = scene.lead_system.get(activations_url(scene.victim))
    assert [item["id"] for item in listed.json()] == [activation["id"]]
    assert listed.json()[0]["transitions"] == detail.json()["transitions"]


def test_who_asked_on_the_victims_behalf_is_written_but_never_read_back(scene):
    name, contact = THIRD_PARTY
    created = open_by_api(scene, requested_by="tercero", requester_name=name, requester_contact=contact)

    stored = ProtocolActivation.objects.get(pk=created["id"])
    assert (stored.requester_name, stored.requester_contact) == (name, contact)
    assert "requester_name" not in created and "requester_contact" not in created
    for response in (
        scene.lead_system.get(activation_url(created["id"])),
        scene.lead_system.get(activations_url(scene.victim)),
    ):
        no_identity_in(response)


def test_a_requester_is_refused_unless_a_third_party_asked_and_required_when_one_did(scene):
    body = {"requested_by": "victima", "requested_on": TODAY.isoformat(), "requester_name": "Alguien"}
    assert set(field_errors(post(scene.lead_system, activations_url(scene.victim), body))) == {"requester_name"}

    body = {"requested_by": RequestedBy.THIRD_PARTY, "requested_on": TODAY.isoformat()}
    assert set(field_errors(post(scene.lead_system, activations_url(scene.victim), body))) == {"requester_name"}
    assert not ProtocolActivation.objects.exists()


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"requested_by": "victima", "requested_on": TODAY.isoformat(), "state": "activa"}, {"state"}),
        ({"requested_by": "victima", "requested_on": TODAY.isoformat(), "institution": 1}, {"institution"}),
        ({"requested_by": "vecino", "requested_on": "ayer"}, {"requested_by", "requested_on"}),
        (
            {"requested_by": "victima", "requested_on": (TODAY + datetime.timedelta(days=1)).isoformat()},
            {"requested_on"},
        ),
        ({"requested_by": "victima", "requested_on": 20240101}, {"requested_on"}),
        ({}, {"requested_by", "requested_on"}),
    ],
)
def test_an_activation_body_with_unknown_read_only_or_invalid_fields_is_refused_by_field(scene, body, fields):
    response = post(scene.lead_system, activations_url(scene.victim), body)

    assert set(field_errors(response)) == fields
    assert not ProtocolActivation.objects.exists()


def test_consent_before_the_request_is_a_field_error(scene):
    body = {
        "requested_by": "victima",
        "requested_on": TODAY.isoformat(),
        "consent_on": (TODAY - datetime.timedelta(days=3)).isoformat(),
    }
    assert set(field_errors(post(scene.lead_system, activations_url(scene.victim), body))) == {"consent_on"}


def test_a_second_open_activation_for_the_same_victim_is_refused_with_the_reason(scene):
    open_by_api(scene)
    response = post(
        scene.lead_system, activations_url(scene.victim), {"requested_by": "victima", "requested_on": TODAY.isoformat()}
    )

    assert "ya tiene una activación del protocolo en curso" in field_errors(response)["victim"]
    assert ProtocolActivation.objects.count() == 1


def test_a_replayed_post_answers_the_first_response_and_another_body_under_the_same_key_is_422(scene):
    url, idempotency_key = activations_url(scene.victim), str(uuid.uuid4())
    body = {"requested_by": "victima", "requested_on": TODAY.isoformat()}

    first = post(scene.lead_system, url, body, idempotency_key=idempotency_key)
    replay = post(scene.lead_system, url, body, idempotency_key=idempotency_key)
    other = post(scene.lead_system, url, {**body, "note": "otra"}, idempotency_key=idempotency_key)

    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.content == first.content
    assert (replay["ETag"], replay["Location"]) == (first["ETag"], first["Location"])
    assert assert_problem(other, 422)["title"]
    assert ProtocolActivation.objects.count() == 1 and ProtocolTransition.objects.count() == 1


def test_a_replayed_transition_is_not_applied_twice(scene):
    activation = open_by_api(scene)
    url, idempotency_key = activation_url(activation["id"], "transitions"), str(uuid.uuid4())

    first = post(scene.lead_system, url, {"action": "evaluar"}, idempotency_key=idempotency_key)
    replay = post(scene.lead_system, url, {"action": "evaluar"}, idempotency_key=idempotency_key)

    assert (first.status_code, replay.status_code) == (200, 200)
    assert replay.content == first.content and replay["Idempotent-Replayed"] == "true"
    assert ProtocolActivation.objects.get(pk=activation["id"]).version == 2


def test_a_post_without_an_idempotency_key_is_refused_on_that_header(scene):
    response = scene.lead_system.post(
        activations_url(scene.victim), {"requested_by": "victima", "requested_on": TODAY.isoformat()}
    )
    assert set(field_errors(response)) == {"Idempotency-Key"}
    assert not ProtocolActivation.objects.exists()


def test_a_stale_if_match_on_an_activation_answers_412_and_changes_nothing(scene):
    activation = open_by_api(scene)
    url = activation_url(activation["id"], "transitions")
    assert post(scene.lead_system, url, {"action": "evaluar"}, if_match='"1"').status_code == 200
    before = list(ProtocolActivation.objects.filter(pk=activation["id"]).values()), ProtocolTransition.objects.count()

    stale = post(scene.lead_system, url, {"action": "rechazar", "note": "No corresponde"}, if_match='"1"')
    stale_consent = post(
        scene.lead_system,
        activation_url(activation["id"], "consent"),
        {"consent_on": TODAY.isoformat()},
        if_match='"1"',
    )

    assert "cambió" in assert_problem(stale, 412)["detail"]
    assert_problem(stale_consent, 412)
    assert (
        list(ProtocolActivation.objects.filter(pk=activation["id"]).values()),
        ProtocolTransition.objects.count(),
    ) == before


def test_an_illegal_activation_move_answers_409_with_the_spanish_reason(scene):
    activation = open_by_api(scene)

    response = post(
        scene.lead_system, activation_url(activation["id"], "transitions"), {"action": "cerrar", "note": "Fin"}
    )

    detail = assert_problem(response, 409)["detail"]
    assert detail.startswith("No se puede «cerrar el protocolo» una activación que está «solicitada»"), detail
    assert ProtocolActivation.objects.get(pk=activation["id"]).state == ActivationState.REQUESTED


def test_activating_without_consent_and_closing_without_a_reason_are_field_errors(scene):
    activation = open_by_api(scene)
    url = activation_url(activation["id"], "transitions")
    post(scene.lead_system, url, {"action": "evaluar"})

    assert set(field_errors(post(scene.lead_system, url, {"action": "activar"}))) == {"consent_on"}
    assert set(field_errors(post(scene.lead_system, url, {"action": "rechazar", "note": "   "}))) == {"note"}
    assert set(field_errors(post(scene.lead_system, url, {"action": "volar"}))) == {"action"}


def test_another_institution_that_sees_the_victim_reads_the_activation_but_may_not_move_it(scene):
    activation = open_by_api(scene)
    grantee = InstitutionFactory(short_name="FISCALIA", kind=InstitutionKind.PROSECUTION)
    grant_permissions(grantee, CaseVictim.objects.get(victim=scene.victim).case, [CasePermission.VIEW])
    grantee_system = machine_for(grantee, name="Sistema Fiscalía")

    assert grantee_system.get(activation_url(activation["id"])).status_code == 200
    refused = post(grantee_system, activation_url(activation["id"], "transitions"), {"action": "evaluar"})
    assert "Solo la institución que activó" in assert_problem(refused, 403)["detail"]


# --- referrals ------------------------------------------------------------------------------------


def test_the_provider_works_a_referral_and_reads_the_persons_minimum_data_only_while_it_is_open(scene):
    referral = refer_by_api(scene, active_by_api(scene))
    assert referral["state"] == ReferralState.PENDING
    assert (referral["provider"], referral["provider_name"], referral["referred_by"]) == (
        scene.provider.pk,
        "SERNAMEG",
        "PDI",
    )
    provider = scene.provider_system

    inbox = provider.get(reverse("api:referral_list"))
    assert [item["id"] for item in inbox.json()["results"]] == [referral["id"]]
    data = provider.get(referral_url(referral["id"], "victim"))
    assert data.status_code == 200, data.content
    assert (data.json()["given_names"], data.json()["surnames"], data.json()["code"]) == (
        GIVEN,
        SURNAME,
        scene.victim.code,
    )
    assert "address" not in data.json() and "notes" not in data.json()

    version = 1
    for action in ("aceptar", "iniciar", "completar"):
        moved = post(provider, referral_url(referral["id"], "transitions"), {"action": action}, if_match=f'"{version}"')
        assert moved.status_code == 200, moved.content
        version += 1
        assert moved["ETag"] == f'"{version}"'
    done = moved.json()
    assert done["state"] == ReferralState.COMPLETED
    assert done["accepted_at"] and done["first_delivered_at"] and done["closed_at"]
    assert [step["action"] for step in done["transitions"]] == ["", "aceptar", "iniciar", "completar"]

    # Completed, the referral is no longer the provider's; the referring institution still sees it.
    assert_gone_for_the_provider(scene, referral["id"])
    seen = scene.lead_system.get(referral_url(referral["id"]))
    assert seen.status_code == 200
    assert seen.json()["state"] == ReferralState.COMPLETED
    assert seen["ETag"] == f'"{version}"'


def test_a_provider_loses_the_persons_data_when_the_protocol_closes(scene):
    activation = active_by_api(scene)
    referral = refer_by_api(scene, activation)
    assert scene.provider_system.get(referral_url(referral["id"], "victim")).status_code == 200

    post(scene.lead_system, activation_url(activation["id"], "transitions"), {"action": "cerrar", "note": "Egreso"})

    # The protocol's end cancelled the referral, which left the provider with it.
    assert Referral.objects.get(pk=referral["id"]).state == ReferralState.CANCELLED
    assert_gone_for_the_provider(scene, referral["id"])
    kept = scene.lead_system.get(referral_url(referral["id"]))
    assert kept.status_code == 200
    assert kept.json()["state"] == ReferralState.CANCELLED


def test_the_provider_sees_no_case_no_victim_no_protocol_and_no_other_referral(scene):
    activation = active_by_api(scene)
    mine = refer_by_api(scene, activation)
    other_provider = InstitutionFactory(short_name="MINSAL")
    other = post(
        scene.lead_system,
        activation_url(activation["id"], "referrals"),
        {"service_type": ServiceType.HEALTH, "provider": other_provider.pk},
    ).json()
    provider = scene.provider_system

    detail = provider.get(referral_url(mine["id"]))
    assert detail.status_code == 200
    assert not CASE_KEYS & set(detail.json())
    no_identity_in(detail)
    for url in (
        reverse("api:case_detail", kwargs={"case_id": scene.case_id}),
        reverse("api:victim_detail", kwargs={"victim_id": scene.victim.pk}),
        activations_url(scene.victim),
        activation_url(activation["id"]),
        activation_url(activation["id"], "referrals"),
        referral_url(other["id"]),
        referral_url(other["id"], "victim"),
    ):
        assert_problem(provider.get(url), 404)
    assert provider.get(reverse("api:case_list")).json()["results"] == []
    listed = provider.get(reverse("api:referral_list")).json()["results"]
    assert [item["id"] for item in listed] == [mine["id"]]
    assert not provider.get(reverse("api:referral_list") + "?direction=outgoing").json()["results"]


def test_the_providers_inbox_lists_the_overdue_referral_first_and_no_closed_one(scene):
    activation = active_by_api(scene)
    closed = refer_by_api(scene, activation, ServiceType.LEGAL_AID)
    fresh = refer_by_api(scene, activation, ServiceType.HEALTH)
    late = refer_by_api(scene, activation, ServiceType.EDUCATION)
    rejected = post(
        scene.provider_system, referral_url(closed["id"], "transitions"), {"action": "rechazar", "note": "Sin cupo"}
    )
    # The answer to the move that closes it is the provider's last sight of the referral.
    assert rejected.status_code == 200, rejected.content
    assert rejected.json()["state"] == ReferralState.REJECTED
    past = timezone.now() - datetime.timedelta(days=3)
    Referral.objects.filter(pk=late["id"]).update(requested_at=past - datetime.timedelta(hours=1), response_due_at=past)

    results = scene.provider_system.get(reverse("api:referral_list")).json()["results"]

    assert [item["id"] for item in results] == [late["id"], fresh["id"]]
    assert [item["is_overdue"] for item in results] == [True, False]
    for state in (ReferralState.REJECTED, ReferralState.COMPLETED, ReferralState.CANCELLED):
        by_state = scene.provider_system.get(reverse("api:referral_list") + f"?state={state}")
        assert by_state.status_code == 200
        assert by_state.json()["results"] == []
    assert_gone_for_the_provider(scene, closed["id"])
    # The referring institution lists it among what it sent.
    sent = scene.lead_system.get(reverse("api:referral_list") + "?direction=outgoing&state=rechazada").json()
    assert [item["id"] for item in sent["results"]] == [closed["id"]]


def test_the_referring_institution_lists_what_it_sent_and_only_it_may_cancel(scene):
    activation = active_by_api(scene)
    referral = refer_by_api(scene, activation)

    sent = scene.lead_system.get(reverse("api:referral_list") + "?direction=outgoing&state=pendiente")
    assert [item["id"] for item in sent.json()["results"]] == [referral["id"]]
    assert "transitions" not in sent.json()["results"][0]
    assert scene.lead_system.get(reverse("api:referral_list")).json()["results"] == []
    by_activation = scene.lead_system.get(activation_url(activation["id"], "referrals"))
    assert [item["id"] for item in by_activation.json()] == [referral["id"]]

    refused = post(
        scene.provider_system, referral_url(referral["id"], "transitions"), {"action": "cancelar", "note": "x"}
    )
    assert "institución que derivó" in assert_problem(refused, 403)["detail"]
    accept = post(scene.lead_system, referral_url(referral["id"], "transitions"), {"action": "aceptar"})
    assert "institución prestadora" in assert_problem(accept, 403)["detail"]
    no_reason = post(scene.lead_system, referral_url(referral["id"], "transitions"), {"action": "cancelar"})
    assert set(field_errors(no_reason)) == {"note"}
    cancelled = post(
        scene.lead_system, referral_url(referral["id"], "transitions"), {"action": "cancelar", "note": "Ya no"}
    )
    assert cancelled.json()["state"] == ReferralState.CANCELLED
    assert cancelled.json()["outcome_reason"] == "Ya no"


def test_a_stale_if_match_on_a_referral_answers_412_and_changes_nothing(scene):
    referral = refer_by_api(scene, active_by_api(scene))
    url = referral_url(referral["id"], "transitions")
    assert post(scene.provider_system, url, {"action": "aceptar"}, if_match='"1"').status_code == 200
    before = list(Referral.objects.filter(pk=referral["id"]).values())

    assert_problem(post(scene.provider_system, url, {"action": "iniciar"}, if_match='"1"'), 412)
    assert list(Referral.objects.filter(pk=referral["id"]).values()) == before


def test_an_illegal_referral_move_answers_409_and_referring_from_a_protocol_not_active_too(scene):
    referral = refer_by_api(scene, active_by_api(scene))

    response = post(scene.provider_system, referral_url(referral["id"], "transitions"), {"action": "completar"})
    assert (
        "No se puede «completar la derivación» una derivación que está «pendiente»"
        in assert_problem(response, 409)["detail"]
    )

    other_victim = VictimFactory(registering_institution=scene.lead)
    solicited = activation_open(
        actor=scene.lead_system.user, victim_id=other_victim.pk, requested_by="victima", requested_on=TODAY
    )
    refused = post(
        scene.lead_system,
        activation_url(solicited.pk, "referrals"),
        {"service_type": ServiceType.HEALTH, "provider": scene.provider.pk},
    )
    assert "protocolo activo" in assert_problem(refused, 409)["detail"]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"service_type": "spa", "provider": 1}, {"service_type"}),
        ({"service_type": "salud", "provider": "uno"}, {"provider"}),
        ({"service_type": "salud", "provider": 0}, {"provider"}),
        ({"service_type": "salud", "provider": 999_999}, {"provider"}),
        ({"service_type": "salud", "provider": 1, "state": "aceptada"}, {"state"}),
    ],
)
def test_a_referral_body_with_unknown_or_invalid_fields_is_refused_by_field(scene, body, fields):
    activation = active_by_api(scene)
    assert set(field_errors(post(scene.lead_system, activation_url(activation["id"], "referrals"), body))) == fields
    assert not Referral.objects.exists()


def test_list_parameters_that_are_unknown_empty_or_out_of_range_are_refused(scene):
    for query, field in (
        ("?direccion=outgoing", "direccion"),
        ("?direction=", "direction"),
        ("?direction=todas", "direction"),
        ("?page=0", "page"),
        ("?page=7", "page"),
        ("?page_size=501", "page_size"),
    ):
        assert set(field_errors(scene.lead_system.get(reverse("api:referral_list") + query))) == {field}, query
    assert set(field_errors(scene.sermig_system.get(reverse("api:residence_list") + "?estado=x"))) == {"estado"}


# --- humanitarian residence ------------------------------------------------------------------------


def test_sermig_works_an_application_from_derivation_to_a_granted_permit(scene):
    application = derive_by_api(scene, note="Víctima extranjera sin residencia")
    assert application["state"] == ResidenceState.DERIVED
    assert (application["derived_by"], application["victim_code"]) == ("PDI", scene.victim.code)

    queue = scene.sermig_system.get(reverse("api:residence_list"))
    assert [item["id"] for item in queue.json()["results"]] == [application["id"]]
    move_residence(scene, application, "recibir")
    move_residence(scene, application, "tramitar")
    granted = move_residence(
        scene,
        application,
        "otorgar",
        permit_number=PERMIT_NUMBER,
        valid_from="2025-01-15",
        valid_until="2026-01-15",
    )

    assert granted["state"] == ResidenceState.GRANTED
    assert (granted["valid_from"], granted["valid_until"]) == ("2025-01-15", "2026-01-15")
    assert "permit_number" not in granted
    assert ResidenceApplication.objects.get(pk=application["id"]).permit_number == PERMIT_NUMBER
    assert [step["action"] for step in granted["transitions"]] == ["", "recibir", "tramitar", "otorgar"]
    for response in (
        scene.sermig_system.get(residence_url(application["id"])),
        scene.lead_system.get(residence_url(application["id"])),
        scene.sermig_system.get(reverse("api:residence_list")),
    ):
        assert response.status_code == 200
        no_identity_in(response)
    renewal = derive_by_api(scene, renews=application["id"])
    assert renewal["renews"] == application["id"]


def test_sermig_sees_no_case_facts_no_protocol_and_no_referral(scene):
    activation = active_by_api(scene)
    referral = refer_by_api(scene, activation)
    application = derive_by_api(scene)
    sermig = scene.sermig_system

    detail = sermig.get(residence_url(application["id"]))
    assert detail.status_code == 200
    assert set(detail.json()) == {
        "id", "victim", "victim_code", "derived_by", "renews", "state", "derived_at", "received_at", "decided_at",
        "valid_from", "valid_until", "rejection_reason", "note", "version", "transitions",
    }  # fmt: skip
    for url in (
        reverse("api:case_detail", kwargs={"case_id": scene.case_id}),
        reverse("api:case_victims", kwargs={"case_id": scene.case_id}),
        reverse("api:case_offenders", kwargs={"case_id": scene.case_id}),
        reverse("api:victim_detail", kwargs={"victim_id": scene.victim.pk}),
        activations_url(scene.victim),
        activation_url(activation["id"]),
        referral_url(referral["id"]),
    ):
        assert_problem(sermig.get(url), 404)
    assert sermig.get(reverse("api:case_list")).json()["results"] == []
    assert sermig.get(reverse("api:referral_list")).json()["results"] == []


def test_the_permit_identity_is_for_sermig_officers_with_identity_read_and_every_read_is_logged(scene):
    application = derive_by_api(scene)
    url = residence_url(application["id"], "identity")

    read = scene.sermig_system.get(url)

    assert read.status_code == 200, read.content
    assert read.json() == {
        "given_names": GIVEN,
        "surnames": SURNAME,
        "document_type": "run",
        "document_number": DOCUMENT,
        "birth_date": "1995-05-17",
        "nationality": "BO",
    }
    (event,) = AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ)
    assert (event.actor_id, event.institution_id) == (scene.sermig_system.user.pk, scene.sermig.pk)
    assert event.details["application"] == application["id"]
    # A Sermig reader may see the queue, never the identity; the deriving institution neither.
    assert scene.sermig_reader.get(reverse("api:residence_list")).json()["count"] == 1
    assert_problem(scene.sermig_reader.get(url), 403)
    assert "oficial de Sermig" in assert_problem(scene.lead_system.get(url), 403)["detail"]
    assert AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).count() == 1


def test_the_providers_minimum_data_read_is_logged_with_the_referral(scene):
    referral = refer_by_api(scene, active_by_api(scene))

    assert scene.provider_system.get(referral_url(referral["id"], "victim")).status_code == 200

    (event,) = AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ)
    assert (event.actor_id, event.institution_id) == (scene.provider_system.user.pk, scene.provider.pk)
    assert (event.victim_code, event.details["referral"]) == (scene.victim.code, referral["id"])


def test_minimum_data_and_permit_identity_reads_name_the_client_id_in_the_access_log(scene):
    referral = refer_by_api(scene, active_by_api(scene))
    application = derive_by_api(scene)
    scene.provider_system.get(referral_url(referral["id"], "victim"))
    scene.sermig_system.get(residence_url(application["id"], "identity"))

    clients = list(
        AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).order_by("id").values_list("client_id", flat=True)
    )
    assert clients == [scene.provider_system.client_id, scene.sermig_system.client_id]


def test_only_sermig_moves_an_application_and_a_stale_if_match_or_an_illegal_move_changes_nothing(scene):
    application = derive_by_api(scene)
    url = residence_url(application["id"], "transitions")
    before = list(ResidenceApplication.objects.filter(pk=application["id"]).values_list("state", "version"))

    assert "oficial de Sermig" in assert_problem(post(scene.lead_system, url, {"action": "recibir"}), 403)["detail"]
    assert_problem(post(scene.sermig_reader, url, {"action": "recibir"}), 403)  # no cases:write
    illegal = post(scene.sermig_system, url, {"action": "otorgar", "permit_number": PERMIT_NUMBER})
    assert (
        "No se puede «otorgar el permiso» una solicitud que está «derivada a sermig»"
        in assert_problem(illegal, 409)["detail"]
    )
    assert_problem(post(scene.sermig_system, url, {"action": "recibir"}, if_match='"7"'), 412)
    assert list(ResidenceApplication.objects.filter(pk=application["id"]).values_list("state", "version")) == before


def test_permit_fields_go_only_with_a_grant_and_a_grant_needs_them_in_order(scene):
    application = derive_by_api(scene)
    url = residence_url(application["id"], "transitions")

    response = post(scene.sermig_system, url, {"action": "recibir", "permit_number": PERMIT_NUMBER})
    assert set(field_errors(response)) == {"permit_number"}
    move_residence(scene, application, "recibir")
    move_residence(scene, application, "tramitar")
    response = post(
        scene.sermig_system,
        url,
        {"action": "otorgar", "permit_number": PERMIT_NUMBER, "valid_from": "2025-02-01", "valid_until": "2025-01-01"},
    )
    assert set(field_errors(response)) == {"valid_until"}
    assert set(field_errors(post(scene.sermig_system, url, {"action": "rechazar"}))) == {"note"}
    assert ResidenceApplication.objects.get(pk=application["id"]).state == ResidenceState.PROCESSING


def test_only_the_lead_or_the_secretariat_derives_and_one_open_application_per_victim(scene):
    derive_by_api(scene)
    again = post(scene.lead_system, derive_url(scene.victim), {})
    assert "ya tiene una solicitud de residencia en curso" in " ".join(field_errors(again).values())

    grantee = InstitutionFactory(short_name="OIM", kind=InstitutionKind.INTERNATIONAL)
    grant_permissions(grantee, CaseVictim.objects.get(victim=scene.victim).case, [CasePermission.VIEW])
    refused = post(machine_for(grantee, name="Sistema OIM"), derive_url(scene.victim), {})
    assert "Secretaría MITP" in assert_problem(refused, 403)["detail"]
    assert ResidenceApplication.objects.count() == 1


# --- registering a Sermig system ----------------------------------------------------------------------


def test_create_api_client_registers_a_sermig_system_only_for_a_migration_service(db):
    sermig = InstitutionFactory(short_name="SERMIG", kind=InstitutionKind.MIGRATION)
    police = InstitutionFactory(short_name="CARABINEROS", kind=InstitutionKind.POLICE)
    out = io.StringIO()

    call_command(
        "create_api_client",
        "--institution", "sermig", "--name", "Sistema de residencias", "--scopes", "cases:read", "cases:write",
        "identity:read", "--sermig", stdout=out,
    )  # fmt: skip

    client_id = out.getvalue().split("client_id=")[1].split()[0]
    user = ApiClient.objects.get(client_id=client_id).user
    assert (user.institution_id, user.is_sermig_officer, user.role) == (sermig.pk, True, "oficial")
    with pytest.raises(CommandError, match="oficial Sermig"):
        call_command(
            "create_api_client", "--institution", "CARABINEROS", "--name", "Otro", "--scopes", "cases:read",
            "--sermig", stdout=io.StringIO(),
        )  # fmt: skip
    assert not User.objects.filter(institution=police).exists()
    call_command(
        "create_api_client",
        "--institution",
        "CARABINEROS",
        "--name",
        "Sin Sermig",
        "--scopes",
        "cases:read",
        stdout=out,
    )
    assert not User.objects.get(institution=police).is_sermig_officer


# --- cost -----------------------------------------------------------------------------------------------


def test_the_lists_cost_the_same_queries_for_one_record_as_for_many(scene):
    activation = active_by_api(scene)
    refer_by_api(scene, activation)
    derive_by_api(scene)
    urls = (
        reverse("api:referral_list"),
        reverse("api:referral_list") + "?direction=outgoing",
        reverse("api:residence_list"),
        activations_url(scene.victim),
        activation_url(activation["id"], "referrals"),
    )
    machines = {urls[0]: scene.provider_system, urls[2]: scene.sermig_system}

    def cost(url) -> int:
        with CaptureQueriesContext(connection) as queries:
            assert machines.get(url, scene.lead_system).get(url).status_code == 200
        return len(queries)

    one = {url: cost(url) for url in urls}
    for service_type in (ServiceType.HEALTH, ServiceType.LEGAL_AID, ServiceType.EDUCATION):
        refer_by_api(scene, activation, service_type)
    other = VictimFactory(registering_institution=scene.lead)
    post(scene.lead_system, derive_url(other), {})
    many = {url: cost(url) for url in urls}
    assert many == one
