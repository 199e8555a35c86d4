"""Bodies and checks shared by the upsert, bulk and concurrency tests of /api/v1/cases/."""

from __future__ import annotations

import contextlib
import copy
import json

from cases.models import Case, CaseExternalReference, CaseOffender, Offender, OffenderExternalReference
from tests.factories import valid_run
from victims.models import CaseVictim, Victim, VictimExternalReference

PROBLEM = "application/problem+json"

VICTIM_RUN = valid_run(23_456_789)
OFFENDER_RUN = valid_run(9_876_543)

# Distinctive values, so that finding one of them in a response can only mean a leak.
IDENTITY_VALUES = [
    "Yesenia Marisol",
    "Quispe Mamani",
    "VE4471902",
    "2005-04-11",
    "8765 4321",
    "yesenia.quispe@example.org",
    "Pasaje Los Aromos",
    "Wilfredo",
    "Condori Apaza",
    VICTIM_RUN,
    VICTIM_RUN.replace(".", "").replace("-", ""),
    "Xiomara",
    "Villca Choque",
    "BO-7781234",
    "Rigoberto",
    "Salinas Pizarro",
    OFFENDER_RUN,
    OFFENDER_RUN.replace(".", "").replace("-", ""),
]


def victims() -> list[dict]:
    return [
        {
            "external_id": "V-100",
            "sex": "femenino",
            "nationality": "VE",
            "age_status": "conocida",
            "age_at_facts": 17,
            "purpose": "explotacion_sexual",
            "region_detected": "CL-TA",
            "identified_date": "2023-02-20",
            "identity": {
                "given_names": "Yesenia Marisol",
                "surnames": "Quispe Mamani",
                "document_type": "pasaporte",
                "document_number": "VE4471902",
                "birth_date": "2005-04-11",
                "phone": "+56 9 8765 4321",
                "email": "yesenia.quispe@example.org",
                "address": "Pasaje Los Aromos 1234, Iquique",
            },
        },
        {
            "external_id": "V-101",
            "sex": "masculino",
            "nationality": "BO",
            "identity": {
                "given_names": "Wilfredo",
                "surnames": "Condori Apaza",
                "document_type": "run",
                "document_number": VICTIM_RUN,
            },
        },
        {
            "external_id": "V-102",
            "sex": "sin_informacion",
            "identity": {
                "given_names": "Xiomara",
                "surnames": "Villca Choque",
                "document_type": "documento_extranjero",
                "document_number": "BO-7781234",
            },
        },
    ]


def offenders() -> list[dict]:
    return [
        {
            "external_id": "I-200",
            "sex": "masculino",
            "nationality": "CL",
            "is_formalised": True,
            "identity": {
                "given_names": "Rigoberto",
                "surnames": "Salinas Pizarro",
                "document_type": "run",
                "document_number": OFFENDER_RUN,
            },
        },
        {"external_id": "I-201", "sex": "femenino", "is_convicted": True, "sentence_date": "2024-01-15"},
    ]


def full_case(**fields) -> dict:
    """A case as a police system sends it: 3 victims with identity, 2 offenders."""
    body = {
        "intake_date": "2023-03-01",
        "investigation_start_date": "2023-03-05",
        "is_formalised": True,
        "formalised_date": "2023-06-01",
        "status": "vigente",
        "purpose": "explotacion_sexual",
        "region_detected": "CL-TA",
        "fiscalia_regional": "FR-TA",
        "external_references": [{"source": "tribunal-rit", "reference": "RIT-1234-2023"}],
        "victims": victims(),
        "offenders": offenders(),
    }
    body.update(fields)
    return body


def plain_case(**fields) -> dict:
    """A case with people but no identity: a client without identity:write may send it."""
    body = full_case(**{"external_references": [], **fields})
    for person in (*body["victims"], *body["offenders"]):
        person.pop("identity", None)
    return body


def edited(body: dict, change) -> dict:
    """A deep copy of ``body`` after ``change(copy)``."""
    new = copy.deepcopy(body)
    change(new)
    return new


def by_ref(source: str, reference: str) -> str:
    return f"/api/v1/cases/by-ref/{source}/{reference}"


def counts() -> dict[str, int]:
    """Rows of everything an upsert can write."""
    models = (
        Case,
        CaseExternalReference,
        Victim,
        VictimExternalReference,
        CaseVictim,
        Offender,
        OffenderExternalReference,
        CaseOffender,
    )
    return {model.__name__: model.objects.count() for model in models}


def error_fields(response) -> list[str]:
    return [error["field"] for error in response.json().get("errors", [])]


def assert_problem(response, status: int, *fields: str) -> dict:
    """``response`` is problem+json with ``status`` and names every one of ``fields``."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    named = error_fields(response)
    for field in fields:
        assert field in named, (field, body)
    return body


def leaked(response) -> list[str]:
    """Identity values found anywhere in a response body."""
    text = response.content.decode()
    with contextlib.suppress(ValueError):  # not JSON: the raw text was searched
        text += json.dumps(response.json(), ensure_ascii=False)
    return [value for value in IDENTITY_VALUES if value in text]


def numbered_case(n: int, **fields) -> dict:
    """A case without identity whose people have external ids of their own (suffix ``n``)."""
    body = plain_case(**fields)
    for person in (*body["victims"], *body["offenders"]):
        person["external_id"] = f"{person['external_id']}-{n}"
    return body
