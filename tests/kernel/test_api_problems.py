"""Every API error is RFC 9457 problem+json in Spanish, refused input with field paths."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.test import Client
from django.urls import reverse

from kernel.api_errors import field_errors, problem_exception_handler
from kernel.errors import DomainError
from tests.factories import CaseFactory, InstitutionFactory

pytestmark = pytest.mark.django_db


def assert_problem(response, status: int) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"] == "about:blank" and body["title"]
    return body


def test_a_case_the_institution_cannot_see_is_a_404_problem(client, officer):
    hidden = CaseFactory(lead_institution=InstitutionFactory())
    client.force_login(officer)
    body = assert_problem(client.get(reverse("api:case_detail", args=[hidden.pk])), 404)
    assert body["title"] == "Recurso no encontrado"


def test_a_visible_case_the_institution_may_not_administer_is_a_403_problem(client, officer):
    from cases.sharing import case_share
    from institutions.constants import Role
    from tests.factories import UserFactory

    other = InstitutionFactory()
    case = CaseFactory(lead_institution=other)
    lead_officer = UserFactory(institution=other, role=Role.CASE_OFFICER)
    case_share(actor=lead_officer, case_id=case.pk, institution=officer.institution, reason="Coordinación")
    client.force_login(officer)
    assert_problem(client.get(reverse("api:case_shares", args=[case.pk])), 403)


def test_an_anonymous_request_is_a_401_problem_saying_how_to_authenticate(db):
    response = Client().get(reverse("api:case_list"))
    assert_problem(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_session_without_the_second_factor_is_a_problem(officer):
    client = Client()
    client.post(reverse("login"), {"username": officer.username, "password": "clave-de-prueba-segura"})
    body = assert_problem(client.get(reverse("api:case_list")), 403)
    assert "segundo factor" in body["detail"]


def test_an_unsupported_method_is_a_problem(client, officer):
    client.force_login(officer)
    assert_problem(client.delete(reverse("api:case_list")), 405)


def test_nested_validation_errors_carry_their_field_paths():
    detail = {"ruc": ["Formato no válido."], "victims": [{}, {"sex": ["Elija una opción."]}], "__all__": ["Regla."]}
    assert field_errors(detail) == [
        {"field": "ruc", "message": "Formato no válido."},
        {"field": "victims.1.sex", "message": "Elija una opción."},
        {"field": "", "message": "Regla."},
    ]


def test_a_service_validation_error_is_a_400_problem_not_a_server_error():
    response = problem_exception_handler(DjangoValidationError({"reason": ["Indique el motivo."]}), {})
    assert response.status_code == 400 and response.content_type == "application/problem+json"
    assert response.data["errors"] == [{"field": "reason", "message": "Indique el motivo."}]


def test_a_domain_rule_is_a_409_problem():
    response = problem_exception_handler(DomainError("La causa ya está cerrada."), {})
    assert response.status_code == 409 and response.data["detail"] == "La causa ya está cerrada."


def test_an_unexpected_error_is_left_to_the_server_error_handling():
    assert problem_exception_handler(RuntimeError("boom"), {}) is None
