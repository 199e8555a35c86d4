"""Identity masking: a *ver*-only institution never receives a victim's or an offender's identity.

Distinctive identities are planted for two victims and one offender of a case the lead shares at
*ver* only. Then every route of the URL resolver (admin aside) is requested, with the scenario's
ids filled in, by each role of the *ver* institution, and no response body or header may carry
any planted value, in any of the forms a page, a JSON document or a date format would give it.
The lead institution's reveal shows that the planted values are real and that the detector finds
them.
"""

from __future__ import annotations

import datetime
import html
import itertools
import json
from dataclasses import dataclass

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.dateformat import format as date_format
from django.utils.encoding import force_bytes
from django.utils.html import escape
from django.utils.http import urlsafe_base64_encode

from cases.constants import SyncSource
from cases.services import case_create, offender_link_to_case, offender_register
from cases.sharing import access_request_create, case_share
from institutions.constants import Role
from institutions.models import Institution, User
from kernel.choices import Sex
from protocol.constants import ActivationAction, RequestedBy, ServiceType
from protocol.referrals import referral_create
from protocol.residence import residence_derive
from protocol.services import activation_open, activation_transition
from tests.access.scenario import ROLES, application_routes, make_users
from tests.factories import valid_run
from tests.protocol.referral_helpers import ensure_service_deadlines
from victims.consent import consent_record
from victims.identity import victim_identity_reveal
from victims.services import victim_link_to_case, victim_register

OFFICER = Role.CASE_OFFICER.value

VICTIM_ONE = {
    "given_names": "Zoraida Yesenia",
    "surnames": "Quispecahuana Mollinedo",
    "document_type": "run",
    "document_number": valid_run(17_834_296),
    "birth_date": datetime.date(1996, 8, 14),
    "phone": "+56 9 7312 8846",
    "email": "zoraida.quispecahuana@buzon-reservado.cl",
    "address": "Pasaje Los Aromos 4471, Alto Hospicio",
    "notes": "Refiere amenazas del tratante apodado El Zorzal Grisáceo",
}
VICTIM_TWO = {
    "given_names": "Wilmerina Athziri",
    "surnames": "Huarachi Condorcanqui",
    "document_type": "pasaporte",
    "document_number": "XK4471923",
    "birth_date": datetime.date(2001, 2, 27),
    "phone": "+51 984 552 017",
    "email": "w.huarachi.c@correo-oculto.pe",
    "address": "Calle Ilo 823, Arica",
    "notes": "Trabajaba sin contrato en el fundo Tamarugal Esmeralda",
}
OFFENDER = {
    "given_names": "Teodomiro Anacleto",
    "surnames": "Villagrán Pichuante",
    "document_type": "run",
    "document_number": valid_run(9_417_662),
}


def _document_forms(person: dict) -> set[str]:
    """A document with and without dots and hyphen; a RUN also without its check digit."""
    number = person["document_number"]
    compact = number.replace(".", "").replace("-", "")
    forms = {number, compact}
    if person["document_type"] == "run":
        forms.update({compact[:-1], number.rsplit("-", 1)[0]})
    return forms


def _forms(person: dict) -> set[str]:
    """Every way a planted value could appear: whole, word by word for names, documents in every
    spelling, phone digits alone, dates in every format."""
    forms = _document_forms(person)
    for name in ("given_names", "surnames"):
        forms.add(person[name])
        forms.update(person[name].split())
    forms.add(f"{person['given_names']} {person['surnames']}")
    forms.update(person[name] for name in ("phone", "email", "address", "notes") if person.get(name))
    if person.get("phone"):
        forms.add("".join(ch for ch in person["phone"] if ch.isdigit()))
    if born := person.get("birth_date"):
        forms.update({born.isoformat(), born.strftime("%d-%m-%Y"), born.strftime("%d/%m/%Y")})
        with translation.override("es-cl"):
            forms.add(date_format(born, "j \\d\\e F \\d\\e Y"))
    return forms


CASE_REFERENCE = (SyncSource.PDI_REPORT.value, "PARTE-2023-0605")

PLANTED = frozenset(_forms(VICTIM_ONE) | _forms(VICTIM_TWO) | _forms(OFFENDER))


def _encodings(value: str) -> set[str]:
    """A value as HTML (Django's and Python's escaping) and JSON (ASCII-escaped or not) carry it."""
    return {
        value,
        escape(value),
        html.escape(value),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
    }


NEEDLES = {encoded.casefold(): value for value in PLANTED for encoded in _encodings(value)}


def leaks(response, *, echoed: frozenset[str] = frozenset()) -> list[str]:
    """Planted values found in the response's body or headers (``echoed``: what the request
    itself carried, which the page may repeat without revealing anything)."""
    text = response.content.decode("utf-8", errors="replace")
    text += "\n" + "\n".join(f"{header}: {value}" for header, value in response.headers.items())
    text = text.casefold()
    return sorted({value for needle, value in NEEDLES.items() if needle in text and value not in echoed})


@dataclass
class MaskingScenario:
    users: dict[str, User | None]
    institutions: dict[str, Institution]
    case_id: int
    victim_ids: list
    victim_codes: list[str]
    offender_id: object
    offender_code: str
    share_id: int
    consent_id: int
    request_id: int
    activation_id: object
    referral_id: object
    application_id: object

    def ver_user(self, role: str) -> User:
        return self.users[f"ver-{role}"]

    def kwarg_values(self) -> dict[str, list]:
        return {
            "case_id": [self.case_id],
            "victim_id": self.victim_ids,
            "offender_id": [self.offender_id],
            "share_id": [self.share_id],
            "consent_id": [self.consent_id],
            "request_id": [self.request_id],
            # The first victim's protocol (the ver institution sees it), its referral to the
            # third institution and its residence application (neither of them the ver one's).
            "activation_id": [self.activation_id],
            "referral_id": [self.referral_id],
            "application_id": [self.application_id],
            # The case as a source system knows it (GET /api/v1/cases/by-ref/...).
            "source": [CASE_REFERENCE[0]],
            "reference": [CASE_REFERENCE[1]],
            # User administration: a member of the ver institution (its administrator's own
            # page included) and a member of the lead one (404 for the ver institution).
            "user_id": [self.users[f"ver-{role}"].pk for role in ROLES] + [self.users[f"lead-{OFFICER}"].pk],
            # The invitation link, with a token that is not valid.
            "uidb64": [urlsafe_base64_encode(force_bytes(self.users[f"ver-{OFFICER}"].pk))],
            "token": ["enlace-vencido"],
            # Statistics (issue 7): counts only, and the ver institution has no capability; a
            # nonexistent snapshot and recalculation request are enough to sweep the routes.
            "statistics_request_id": [999_999],
            "snapshot_id": [999_999],
            "table_key": ["casos_por_anio"],
        }


@pytest.fixture(scope="module")
def scenario(module_transaction) -> MaskingScenario:
    institutions, users = make_users(("lead", "ver", "other"))
    lead_officer = users[f"lead-{OFFICER}"]
    case = case_create(
        actor=None,
        lead_institution=institutions["lead"],
        data={"intake_date": datetime.date(2023, 6, 5), "purpose": "trabajo_forzoso"},
        external_references=[CASE_REFERENCE],
    )
    victims = []
    for person, sex, nationality in ((VICTIM_ONE, Sex.FEMALE, "PE"), (VICTIM_TWO, Sex.FEMALE, "BO")):
        victim = victim_register(
            actor=None,
            institution=institutions["lead"],
            sex=sex,
            nationality=nationality,
            birth_year=person["birth_date"].year,
            **person,
        )
        victim_link_to_case(actor=None, victim=victim, case=case)
        victims.append(victim)
    offender = offender_register(actor=None, sex=Sex.MALE, nationality="CL", **OFFENDER)
    offender_link_to_case(actor=None, offender=offender, case=case)
    consent = consent_record(
        actor=lead_officer, victim_id=victims[0].pk, given_on=datetime.date(2024, 3, 4), scope="Atención en salud"
    )
    share = case_share(actor=lead_officer, case_id=case.pk, institution=institutions["ver"], reason="Coordinación")
    (request,) = access_request_create(
        actor=users[f"other-{OFFICER}"],
        document_type="run",
        document_number=VICTIM_ONE["document_number"],
        reason="La atendemos en nuestro programa",
    )
    activation = activation_open(
        actor=lead_officer,
        victim_id=victims[0].pk,
        requested_by=RequestedBy.VICTIM,
        requested_on=datetime.date(2024, 3, 4),
        consent_on=datetime.date(2024, 3, 4),
    )
    for action in (ActivationAction.EVALUATE, ActivationAction.ACTIVATE):
        activation_transition(actor=lead_officer, activation_id=activation.pk, action=action)
    ensure_service_deadlines()
    referral = referral_create(
        actor=lead_officer,
        activation_id=activation.pk,
        service_type=ServiceType.SHELTER,
        provider_id=institutions["other"].pk,
    )
    application = residence_derive(actor=lead_officer, victim_id=victims[0].pk)
    for victim in victims:  # the lead reads identities: the access log has events about these victims
        victim_identity_reveal(user=lead_officer, victim_id=victim.pk)
    return MaskingScenario(
        users=users,
        institutions=institutions,
        case_id=case.pk,
        victim_ids=[victim.pk for victim in victims],
        victim_codes=[victim.code for victim in victims],
        offender_id=offender.pk,
        offender_code=offender.code,
        share_id=share.pk,
        consent_id=consent.pk,
        request_id=request.pk,
        activation_id=activation.pk,
        referral_id=referral.pk,
        application_id=application.pk,
    )


def urls_for(route, scenario: MaskingScenario) -> list[str]:
    """The route with every combination of the scenario's ids for the values it takes."""
    values = scenario.kwarg_values()
    unknown = sorted(route.kwargs - set(values))
    if unknown or (route.captures and not route.kwargs):
        pytest.fail(f"No scenario value for {unknown or 'the unnamed capture'} of {route.name}: add one to the test")
    names = sorted(route.kwargs)
    return [
        reverse(route.name, kwargs=dict(zip(names, combination, strict=True)))
        for combination in itertools.product(*(values[name] for name in names))
    ]


ROUTES = {route.name: route for route in application_routes()}
ACCEPTS = {"api": ["application/json", "text/html"], "ui": ["text/html"]}


def _sweep(client, user, route, scenario, method: str) -> tuple[list[int], dict[str, list[str]]]:
    statuses, found = [], {}
    for url in urls_for(route, scenario):
        for accept in ACCEPTS["api" if route.is_api else "ui"]:
            client.force_login(user)  # a sweep may pass through the logout route
            response = getattr(client, method)(url, HTTP_ACCEPT=accept)
            statuses.append(response.status_code)
            if hits := leaks(response):
                found[f"{method.upper()} {url} ({accept}) → {response.status_code}"] = hits
    return statuses, found


# --- the sweep -------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route_name", sorted(ROUTES))
def test_a_ver_only_user_gets_no_planted_identity_from_any_get(client, scenario, db, route_name, role):
    _, found = _sweep(client, scenario.ver_user(role), ROUTES[route_name], scenario, "get")
    assert not found, f"Identity reached a ver-only {role}: {found}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route_name", sorted(ROUTES))
def test_a_ver_only_user_gets_no_planted_identity_from_any_empty_post(client, scenario, db, route_name, role):
    _, found = _sweep(client, scenario.ver_user(role), ROUTES[route_name], scenario, "post")
    assert not found, f"Identity reached a ver-only {role}: {found}"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("person", "spelling"),
    [
        (VICTIM_ONE, "formatted"),
        (VICTIM_ONE, "compact"),
        (VICTIM_TWO, "formatted"),
        (OFFENDER, "formatted"),
    ],
    ids=["victim-run-formatted", "victim-run-compact", "victim-passport", "offender-run"],
)
def test_the_duplicate_check_tells_a_ver_only_user_nothing_of_a_planted_document(
    client, scenario, db, role, person, spelling
):
    number = person["document_number"]
    if spelling == "compact":
        number = number.replace(".", "").replace("-", "")
    client.force_login(scenario.ver_user(role))
    response = client.post(reverse("victims:duplicate_check"), {"tipo": person["document_type"], "numero": number})
    assert response.status_code == 200
    # The page may repeat the number the user typed: that reveals nothing.
    assert not leaks(response, echoed=frozenset(_document_forms(person)))
    assert response.context["institutions"] == []  # the ver institution already sees these victims


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "path",
    ["/causas/", "/causas/?pagina=1", "/solicitudes/", "/auditoria/", "/api/v1/cases/", "/api/v1/cases/?format=json"],
)
def test_list_pages_give_a_ver_only_user_no_planted_identity(client, scenario, db, role, path):
    client.force_login(scenario.ver_user(role))
    response = client.get(path)
    assert response.status_code in {200, 403}  # /auditoria/ is the institutional administrator's
    assert not leaks(response)


@pytest.mark.parametrize("role", ROLES)
def test_the_case_is_really_shown_to_a_ver_only_user_by_pseudonym(client, scenario, db, role):
    client.force_login(scenario.ver_user(role))
    page = client.get(reverse("cases:detail", kwargs={"case_id": scenario.case_id}))
    assert page.status_code == 200
    body = page.content.decode()
    assert all(code in body for code in scenario.victim_codes) and scenario.offender_code in body
    assert not leaks(page)
    api = client.get(reverse("api:case_detail", kwargs={"case_id": scenario.case_id}))
    assert api.status_code == 200 and api.json()["id"] == scenario.case_id
    victims = client.get(reverse("api:case_victims", kwargs={"case_id": scenario.case_id}))
    assert victims.status_code == 200
    assert sorted(link["victim"]["code"] for link in victims.json()) == sorted(scenario.victim_codes)
    assert not leaks(victims)
    for victim_id, code in zip(scenario.victim_ids, scenario.victim_codes, strict=True):
        detail = client.get(reverse("victims:detail", kwargs={"victim_id": victim_id}))
        assert detail.status_code == 200 and code in detail.content.decode()
        assert not leaks(detail)


@pytest.mark.parametrize("role", ROLES)
def test_identity_routes_refuse_a_ver_only_user_with_403_and_no_planted_value(client, scenario, db, role):
    client.force_login(scenario.ver_user(role))
    attempts = [
        ("post", reverse("victims:identity", kwargs={"victim_id": victim_id})) for victim_id in scenario.victim_ids
    ]
    attempts.append(
        (
            "post",
            reverse(
                "cases:offender_identity", kwargs={"case_id": scenario.case_id, "offender_id": scenario.offender_id}
            ),
        )
    )
    attempts += [("get", reverse("api:victim_identity", kwargs={"victim_id": v})) for v in scenario.victim_ids]
    for method, url in attempts:
        response = getattr(client, method)(url)
        assert response.status_code == 403, (method, url, response.status_code)
        assert not leaks(response), (method, url)


# --- the planted values are real --------------------------------------------------------------


def test_the_lead_sees_the_planted_identities_so_the_detector_is_not_blind(client, scenario, db):
    client.force_login(scenario.users[f"lead-{OFFICER}"])
    first = client.post(reverse("victims:identity", kwargs={"victim_id": scenario.victim_ids[0]}))
    assert first.status_code == 200
    assert "Zoraida Yesenia" in first.content.decode()
    assert {"Zoraida", "Quispecahuana", VICTIM_ONE["document_number"]} <= set(leaks(first))
    second = client.get(reverse("api:victim_identity", kwargs={"victim_id": scenario.victim_ids[1]}))
    assert second.status_code == 200 and second.json()["document_number"] == VICTIM_TWO["document_number"]
    assert {"Wilmerina", "XK4471923", VICTIM_TWO["email"], "2001-02-27"} <= set(leaks(second))
    offender = client.post(
        reverse("cases:offender_identity", kwargs={"case_id": scenario.case_id, "offender_id": scenario.offender_id})
    )
    assert offender.status_code == 200
    assert {"Teodomiro", "Villagrán", OFFENDER["document_number"]} <= set(leaks(offender))


# --- confidential pages are never stored ----------------------------------------------------


def _victim_pages(scenario: MaskingScenario):
    case, victim = {"case_id": scenario.case_id}, {"victim_id": scenario.victim_ids[0]}
    offender = {"case_id": scenario.case_id, "offender_id": scenario.offender_id}
    return {
        "case detail": ("get", reverse("cases:detail", kwargs=case)),
        "victim detail": ("get", reverse("victims:detail", kwargs=victim)),
        "victim identity": ("post", reverse("victims:identity", kwargs=victim)),
        "offender identity": ("post", reverse("cases:offender_identity", kwargs=offender)),
        "API victim identity": ("get", reverse("api:victim_identity", kwargs=victim)),
        "API case victims": ("get", reverse("api:case_victims", kwargs=case)),
        "API victim detail": ("get", reverse("api:victim_detail", kwargs=victim)),
        "victim protocol": ("get", reverse("protocol:victim_protocol", kwargs=victim)),
    }


@pytest.mark.parametrize(
    "page",
    [
        "case detail",
        "victim detail",
        "victim identity",
        "offender identity",
        "API victim identity",
        "API case victims",
        "API victim detail",
        "victim protocol",
    ],
)
@pytest.mark.parametrize("relation", ["lead", "ver"])
def test_pages_with_victim_data_are_sent_with_no_store(client, scenario, db, page, relation):
    method, url = _victim_pages(scenario)[page]
    client.force_login(scenario.users[f"{relation}-{OFFICER}"])
    response = getattr(client, method)(url)
    if response.status_code == 403:
        assert relation == "ver" and "identity" in page  # nothing shown, nothing to keep
        return
    assert response.status_code == 200, (page, relation, response.status_code)
    assert "no-store" in response.get("Cache-Control", ""), (page, relation, response.get("Cache-Control"))
