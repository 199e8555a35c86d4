import sys

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from django.views.debug import ExceptionReporter

from cases.models import Case, CaseOffender, Offender
from institutions.models import Institution, User
from victims.models import CaseVictim, Victim


def test_the_login_page_is_served_in_spanish(client, db):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="es-CL">' in body
    assert "Ingresar" in body and "Contraseña" in body


def test_pages_require_login(client, db):
    response = client.get(reverse("home"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_an_officer_with_a_verified_session_sees_their_institution(client, officer):
    # The password + TOTP steps themselves: tests/institutions/test_login_and_two_factor.py.
    client.force_login(officer)
    assert "Policía de Investigaciones de Chile" in client.get(reverse("home")).content.decode()


def test_a_wrong_password_is_refused_with_a_spanish_message(client, officer):
    response = client.post(reverse("login"), {"username": "oficial.pdi", "password": "incorrecta"})
    assert response.status_code == 200
    assert "Usuario o contraseña incorrectos" in response.content.decode()


@pytest.mark.django_db
def test_health_reports_database_and_redis_reachable(client):
    response = client.get(reverse("health"))
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}


@pytest.mark.parametrize("model", [Case, Victim, CaseVictim, Offender, CaseOffender])
def test_case_content_is_not_in_the_system_admin(model):
    assert not admin.site.is_registered(model)


@pytest.mark.parametrize("model", [Institution, User])
def test_system_admins_manage_institutions_and_users(model):
    assert admin.site.is_registered(model)


def test_error_reports_show_no_local_variables_or_posted_values(settings):
    settings.DEBUG = True
    victim_name = "".join(["Flor", "inda ", "Quis", "pe"])  # built at run time: absent from the source shown
    request = RequestFactory().post("/", {"given_names": victim_name})
    try:
        raise ValueError("falla al guardar")
    except ValueError:
        html = ExceptionReporter(request, *sys.exc_info()).get_traceback_html()
    assert victim_name not in html
    assert "falla al guardar" in html


@pytest.mark.django_db
def test_identity_never_reaches_the_logs_even_with_sql_logging_on(settings, caplog, officer, institution):
    import logging

    from django.db import connection

    from victims.services import victim_register

    settings.DEBUG = True  # makes Django log every SQL statement with its parameters
    name, document = "".join(["Gumer", "cinda"]), "".join(["16.789", ".012-", "1"])
    with caplog.at_level(logging.DEBUG), caplog.at_level(logging.DEBUG, logger="django.db.backends"):
        connection.force_debug_cursor = True
        try:
            victim = victim_register(
                actor=officer, institution=institution, given_names=name, document_type="run",
                document_number=document, sex="femenino",
            )  # fmt: skip
            assert Victim.objects.get(pk=victim.pk).given_names == name
        finally:
            connection.force_debug_cursor = False
    logged = "\n".join(record.getMessage() + repr(getattr(record, "params", "")) for record in caplog.records)
    assert "victims_victim" in logged  # the SQL really was logged
    assert name not in logged and "16789012" not in logged and "16.789.012" not in logged


def test_the_duplicate_check_never_takes_the_document_from_the_url(client, officer):
    client.force_login(officer)
    response = client.get("/victimas/duplicados/", {"tipo": "run", "numero": "12.345.678-5"})
    assert response.status_code == 200
    assert response.context["number"] == ""  # ignored: a document in a URL would reach logs
    assert 'method="post"' in response.content.decode()


@pytest.mark.django_db
def test_not_found_and_forbidden_pages_are_in_spanish(client, officer):
    client.force_login(officer)
    not_found = client.get("/causas/999999999/")
    assert not_found.status_code == 404
    assert "Página no encontrada" in not_found.content.decode() and "Not Found" not in not_found.content.decode()
    officer.role = "lector"
    officer.save(update_fields=["role"])
    forbidden = client.get(reverse("cases:create"))  # a reader registers no case
    assert forbidden.status_code == 403
    assert "Acción no permitida" in forbidden.content.decode() and "Forbidden" not in forbidden.content.decode()
