"""Only the institution that owns a source system writes references of it: nobody can claim a
police report number first (locking the police out with 409), nor attach another system's
reference to a case so that the other system's next sync writes into it."""

from __future__ import annotations

import pytest

from cases.models import Case, CaseExternalReference
from tests.api.conftest import machine_for
from tests.factories import CaseFactory, InstitutionFactory

pytestmark = pytest.mark.django_db

BODY = {"intake_date": "2024-01-10", "victims": [{"external_id": "v1", "sex": "femenino"}]}


@pytest.fixture
def ngo_client():
    return machine_for(InstitutionFactory(short_name="ONG"), sources=["otro"])


@pytest.mark.parametrize("source", ["pdi-parte", "carabineros-parte", "tribunal-rit"])
def test_a_reference_of_a_system_the_institution_does_not_own_is_refused_and_nothing_is_created(ngo_client, source):
    response = ngo_client.put(f"/api/v1/cases/by-ref/{source}/CLAIM-1", BODY)
    assert response.status_code == 403 and source in response.json()["detail"]
    assert not Case.objects.exists() and not CaseExternalReference.objects.exists()


def test_a_rut_of_the_fiscalia_cannot_be_claimed_by_another_institution(ngo_client):
    response = ngo_client.put("/api/v1/cases/by-ref/fiscalia-ruc/2300123456-7", BODY)
    assert response.status_code == 403
    assert not Case.objects.exists()


def test_an_owned_source_works_and_the_same_reference_stays_the_owners(ngo_client):
    pdi = machine_for(InstitutionFactory(short_name="PDI-X"), sources=["pdi-parte"])
    assert pdi.put("/api/v1/cases/by-ref/pdi-parte/P-1", BODY).status_code == 201
    assert ngo_client.put("/api/v1/cases/by-ref/otro/O-1", BODY).status_code == 201
    assert ngo_client.put("/api/v1/cases/by-ref/pdi-parte/P-1", BODY).status_code == 403


def test_another_systems_reference_cannot_be_attached_to_a_case_in_the_body(ngo_client):
    body = {**BODY, "external_references": [{"source": "carabineros-parte", "reference": "CP-555"}]}
    response = ngo_client.put("/api/v1/cases/by-ref/otro/O-2", body)
    assert response.status_code == 400
    assert [error["field"] for error in response.json()["errors"]] == ["external_references.0.source"]
    assert not Case.objects.exists() and not CaseExternalReference.objects.exists()


def test_reading_by_any_reference_stays_open_to_whoever_sees_the_case(ngo_client):
    case = CaseFactory(lead_institution=ngo_client.user.institution)
    CaseExternalReference.objects.create(case=case, source="pdi-parte", reference="P-9")
    assert ngo_client.get("/api/v1/cases/by-ref/pdi-parte/P-9").json()["id"] == case.pk
