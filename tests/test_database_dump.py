"""The strongest check of encryption at rest: dump the whole database as SQL with pg_dump and
look for the identities we planted. Data must be committed for pg_dump to see it."""

import datetime
import subprocess

import pytest
from django.db import connection

from cases.services import case_create, offender_link_to_case, offender_register
from tests.factories import valid_run
from victims.constants import AgeStatus
from victims.services import victim_link_to_case, victim_register

PLANTED_VICTIMS = [
    {
        "given_names": "Xiomara Valentina",
        "surnames": "Condori Huanca",
        "document_type": "run",
        "document_number": valid_run(23_456_789),
        "phone": "+56 9 7711 2233",
        "email": "xiomara.condori@correo.example",
        "address": "Calle Esmeralda 1402, Arica",
        "notes": "Reclutada en Desaguadero con falsa oferta de empleo",
    },
    {
        "given_names": "Wenceslao",
        "surnames": "Ticona Ayaviri",
        "document_type": "pasaporte",
        "document_number": "BO7788123",
        "phone": "+591 71234567",
        "email": "",
        "address": "",
        "notes": "",
    },
]
PLANTED_OFFENDER = {
    "given_names": "Teodoro Anselmo",
    "surnames": "Barrientos Lagos",
    "document_number": valid_run(9_876_543),
}


def dump_database() -> bytes:
    from pgserver._commands import POSTGRES_BIN_PATH  # pg_dump 16, which also dumps older servers

    params = connection.get_connection_params()
    command = [str(POSTGRES_BIN_PATH / "pg_dump"), "--no-owner", "--dbname", params["dbname"]]
    for option, key in (("--host", "host"), ("--port", "port"), ("--username", "user")):
        if params.get(key):
            command += [option, str(params[key])]
    return subprocess.run(command, check=True, capture_output=True, timeout=120).stdout


def variants(document_number: str) -> set[str]:
    compact = document_number.replace(".", "").replace("-", "")
    return {document_number, compact, compact[:-1], document_number.split("-")[0]}


def distinctive_words(value: str) -> set[str]:
    """Names and words long enough to be unlikely elsewhere in a dump ('de', '9' are everywhere)."""
    return {word for word in value.replace(",", " ").split() if len(word) >= 6}


@pytest.mark.django_db(transaction=True)
def test_a_raw_sql_dump_contains_none_of_the_planted_identities(institution, officer):
    case = case_create(
        actor=officer,
        lead_institution=institution,
        data={"ruc": "2400456789-1", "intake_date": datetime.date(2024, 4, 2), "purpose": "trabajo_forzoso"},
    )
    victims = [
        victim_register(actor=officer, institution=institution, sex="femenino", **data) for data in PLANTED_VICTIMS
    ]
    for victim in victims:
        victim_link_to_case(actor=officer, victim=victim, case=case, age_status=AgeStatus.KNOWN, age_at_facts=17)
    offender = offender_register(actor=officer, sex="masculino", document_type="run", **PLANTED_OFFENDER)
    offender_link_to_case(actor=officer, offender=offender, case=case)

    dump = dump_database()

    # The dump really holds the data: pseudonymous codes and the case are there in the clear.
    for victim in victims:
        assert victim.code.encode() in dump
    assert offender.code.encode() in dump
    assert b"2400456789-1" in dump

    planted: set[str] = set()
    for person in [*PLANTED_VICTIMS, PLANTED_OFFENDER]:
        for key, value in person.items():
            if not value or key == "document_type":
                continue
            planted |= variants(value) if key == "document_number" else {value, *distinctive_words(value)}
    lowered = dump.lower()
    leaked = sorted(word for word in planted if word.lower().encode() in lowered)
    assert leaked == []
