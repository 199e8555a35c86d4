"""People signed in to the web keep using the API with their session: their role and their
institution's grants decide, and every write needs the CSRF token, as a form would."""

from __future__ import annotations

import pytest

from cases.models import Case
from institutions.constants import Role
from tests.clients import VerifiedClient
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/cases/by-ref/pdi-parte/SES-1"
BODY = {"intake_date": "2024-01-10", "victims": [{"external_id": "v1", "sex": "femenino"}]}


def signed_in(user, *, csrf: bool) -> VerifiedClient:
    client = VerifiedClient(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def test_a_write_from_a_session_without_the_csrf_token_is_refused_and_does_nothing(officer):
    response = signed_in(officer, csrf=True).put(URL, BODY, content_type="application/json")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert "CSRF" in response.json()["detail"]
    assert not Case.objects.exists()


def test_a_write_from_a_session_with_the_csrf_token_acts_for_the_officers_institution(officer):
    officer.institution.sync_sources = ["pdi-parte"]
    officer.institution.save()
    client = signed_in(officer, csrf=True)
    client.get("/causas/")  # the page sets the CSRF cookie, as in the browser
    token = client.cookies["csrftoken"].value
    response = client.put(URL, BODY, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 201, response.content
    case = Case.objects.get()
    assert case.lead_institution_id == officer.institution_id and case.created_by == officer
    assert response["ETag"] == '"1"'


def test_a_reader_session_may_read_but_never_write(institution):
    reader = UserFactory(institution=institution, role=Role.READER)
    client = signed_in(reader, csrf=False)
    assert client.get("/api/v1/cases/").status_code == 200
    response = client.put(URL, BODY, content_type="application/json")
    assert response.status_code == 403 and "oficial de casos" in response.json()["detail"]
    assert not Case.objects.exists()
