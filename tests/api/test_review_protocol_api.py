"""Adversarial review of the Protocolo de Atención API (protocol/apis.py): each test asserts the
correct behaviour and fails while the bug it names is there."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import uuid

import pytest
from django.urls import reverse
from django.utils import timezone

from api.models import IdempotencyRecord
from institutions.constants import InstitutionKind
from institutions.models import Institution
from protocol.constants import ServiceType
from protocol.models import ProtocolActivation, Referral, ResidenceApplication
from tests.api.conftest import Machine, machine_for
from tests.factories import CaseFactory, InstitutionFactory, VictimFactory
from victims.models import CaseVictim, Victim

pytestmark = pytest.mark.django_db

PROBLEM = "application/problem+json"
TODAY = timezone.localdate()
GIVEN, SURNAME, DOCUMENT = "Rosa Elena", "Quispe Mamani", "12.345.678-5"


@dataclasses.dataclass
class Scene:
    lead: Institution
    provider: Institution
    sermig: Institution
    victim: Victim
    lead_system: Machine
    provider_system: Machine
    sermig_system: Machine
    case_id: int


@pytest.fixture
def scene(db) -> Scene:
    lead = InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")
    provider = InstitutionFactory(
        short_name="SERNAMEG", name="Servicio Nacional de la Mujer", kind=InstitutionKind.PUBLIC_SERVICE
    )
    sermig = InstitutionFactory(short_name="SERMIG", name="Servicio Nacional de Migraciones", kind="migracion")
    case = CaseFactory(lead_institution=lead)
    victim = VictimFactory(registering_institution=lead, given_names=GIVEN, surnames=SURNAME, document_number=DOCUMENT)
    CaseVictim.objects.create(case=case, victim=victim)
    return Scene(
        lead=lead,
        provider=provider,
        sermig=sermig,
        victim=victim,
        lead_system=machine_for(lead, name="Sistema PDI"),
        provider_system=machine_for(provider, name="Sistema SernamEG"),
        sermig_system=machine_for(sermig, name="Sistema Sermig", sermig=True),
        case_id=case.pk,
    )


def post(machine: Machine, url: str, body, *, if_match: str | None = None, key: str | None = None, raw=False):
    headers = {"HTTP_IDEMPOTENCY_KEY": key or str(uuid.uuid4())}
    if if_match is not None:
        headers["HTTP_IF_MATCH"] = if_match
    if raw:
        return machine.http.post(url, body, content_type="application/json", **machine.headers(**headers))
    return machine.post(url, body, **headers)


def activations_url(victim_id) -> str:
    return reverse("api:victim_activations", kwargs={"victim_id": victim_id})


def activation_url(activation_id, what: str = "detail") -> str:
    return reverse(f"api:activation_{what}", kwargs={"activation_id": activation_id})


def referral_url(referral_id, what: str = "detail") -> str:
    return reverse(f"api:referral_{what}", kwargs={"referral_id": referral_id})


def residence_url(application_id, what: str = "detail") -> str:
    return reverse(f"api:residence_{what}", kwargs={"application_id": application_id})


def derive_url(victim_id) -> str:
    return reverse("api:victim_residence_applications", kwargs={"victim_id": victim_id})


def open_by_api(scene: Scene, **body) -> dict:
    body = {"requested_by": "victima", "requested_on": TODAY.isoformat(), **body}
    response = post(scene.lead_system, activations_url(scene.victim.pk), body)
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
    response = post(scene.lead_system, derive_url(scene.victim.pk), body)
    assert response.status_code == 201, response.content
    return response.json()


def move_residence(scene: Scene, application: dict, action: str, **body):
    return post(scene.sermig_system, residence_url(application["id"], "transitions"), {"action": action, **body})


def plain_request_hash(path: str, body: bytes) -> str:
    """What anyone can compute without a secret: SHA-256 over method, path and body, framed as
    api.idempotency._request_hash frames them."""
    digest = hashlib.sha256()
    for part in (b"POST", path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


# --- finding 1: If-Match with a Latin-1 superscript digit is a 500 -----------------------------------


@pytest.mark.parametrize("tag", ['"²"', '"¹"', '"³"'])
def test_an_if_match_naming_a_superscript_digit_answers_412_not_500(scene, tag):
    """'²'.isdigit() is True but int('²') raises: api.conditional.if_match_version crashes on a
    header byte (0xB2) any client can send, on every endpoint that takes If-Match."""
    activation = open_by_api(scene)
    scene.lead_system.http.raise_request_exception = False

    response = post(
        scene.lead_system, activation_url(activation["id"], "transitions"), {"action": "evaluar"}, if_match=tag
    )

    assert response.status_code == 412, response.content
    assert response["Content-Type"] == PROBLEM
    assert ProtocolActivation.objects.get(pk=activation["id"]).version == 1


# --- finding 2: the stored request hash gives back encrypted values ----------------------------------


def test_the_stored_idempotency_hash_does_not_let_a_database_reader_recover_the_permit_number(scene):
    """The permit number is stored encrypted (ResidenceApplication.permit_number) and never
    returned; but IdempotencyRecord.request_hash is an unkeyed SHA-256 of the grant's body, whose
    every other part (path, dates) is in clear in the same database. A reader of a dump or a
    backup enumerates the permit numbers of the year and finds it."""
    application = derive_by_api(scene)
    for action in ("recibir", "tramitar"):
        assert move_residence(scene, application, action).status_code == 200
    url, key = residence_url(application["id"], "transitions"), str(uuid.uuid4())
    body = json.dumps(
        {
            "action": "otorgar",
            "permit_number": "RTH-2025-0001234",
            "valid_from": "2025-05-01",
            "valid_until": "2026-05-01",
        }
    )
    assert post(scene.sermig_system, url, body, key=key, raw=True).status_code == 200

    stored_hash = IdempotencyRecord.objects.get(caller=scene.sermig_system.user, key=key).request_hash
    granted = ResidenceApplication.objects.get(pk=application["id"])  # what the dump holds in clear
    recovered = [
        number
        for number in (f"RTH-2025-{n:07d}" for n in range(2000))
        if plain_request_hash(
            url,
            json.dumps(
                {
                    "action": "otorgar",
                    "permit_number": number,
                    "valid_from": granted.valid_from.isoformat(),
                    "valid_until": granted.valid_until.isoformat(),
                }
            ).encode(),
        )
        == stored_hash
    ]
    assert recovered == []


def test_the_stored_idempotency_hash_does_not_let_a_database_reader_recover_a_third_partys_phone(scene):
    """Same for who asked on the victim's behalf (requester_contact, encrypted, write-only)."""
    url, key = activations_url(scene.victim.pk), str(uuid.uuid4())
    body = {
        "requested_by": "tercero",
        "requested_on": TODAY.isoformat(),
        "requester_name": "Hermana",
        "requester_contact": "+56 9 5555 0042",
    }
    assert post(scene.lead_system, url, json.dumps(body), key=key, raw=True).status_code == 201

    stored_hash = IdempotencyRecord.objects.get(caller=scene.lead_system.user, key=key).request_hash
    candidates = (f"+56 9 5555 {n:04d}" for n in range(100))
    recovered = [
        phone
        for phone in candidates
        if plain_request_hash(url, json.dumps({**body, "requester_contact": phone}).encode()) == stored_hash
    ]
    assert recovered == []


# --- finding 4: an unknown ?format= answered as not found ---------------------------------------------


def test_an_unknown_format_parameter_is_not_answered_as_not_found(scene):
    """404 means "not visible" (access-model.md); DRF's content negotiation answers 404 for
    ?format=xml on a referral the caller sees, and on every list."""
    referral = refer_by_api(scene, active_by_api(scene))

    for url in (referral_url(referral["id"]), reverse("api:referral_list")):
        response = scene.provider_system.get(url + "?format=xml")
        assert response.status_code == 406, (url, response.content)


# --- finding 3: If-Match on the POSTs that create is checked against what the client read ------------


def test_a_referral_sent_with_a_stale_if_match_on_its_activation_is_refused_with_412(scene):
    activation = active_by_api(scene)  # version 3 after evaluar and activar
    body = {"service_type": ServiceType.SHELTER, "provider": scene.provider.pk}
    stale = post(scene.lead_system, activation_url(activation["id"], "referrals"), body, if_match='"1"')
    assert stale.status_code == 412 and stale["Content-Type"].startswith("application/problem+json")
    assert not Referral.objects.exists()
    current = post(scene.lead_system, activation_url(activation["id"], "referrals"), body, if_match='"3"')
    assert current.status_code == 201, current.content


@pytest.mark.parametrize("what", ["activations", "residence"])
def test_a_create_on_a_victim_with_a_stale_if_match_is_refused_with_412(scene, what):
    url = activations_url(scene.victim.pk) if what == "activations" else derive_url(scene.victim.pk)
    body = {"requested_by": "victima", "requested_on": TODAY.isoformat()} if what == "activations" else {}
    version = scene.victim.version
    stale = post(scene.lead_system, url, body, if_match=f'"{version + 1}"')
    assert stale.status_code == 412
    assert not ProtocolActivation.objects.exists() and not ResidenceApplication.objects.exists()
    assert post(scene.lead_system, url, body, if_match=f'"{version}"').status_code == 201
