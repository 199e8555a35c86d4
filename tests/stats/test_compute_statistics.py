"""``manage.py compute_statistics``: the tables of stats.tables, printed as JSON or text."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from tests.stats.test_tables import build_world

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("compute_statistics", *args, stdout=out)
    return out.getvalue()


def test_json_output_is_one_object_per_table_with_its_rows_and_totals(institution, officer):
    build_world(institution, officer)
    tables = json.loads(run("--from", "2014", "--to", "2023", "--format", "json"))
    assert {table["register"] for table in tables} == {"formalizadas", "identificadas", "protocolo"}
    cases = next(t for t in tables if t["register"] == "formalizadas" and t["key"] == "casos_por_anio")
    assert cases["totals"] == [3]
    assert [row["counts"] for row in cases["rows"] if row["counts"] != [0]] == [[1], [1], [1]]
    assert cases["change_five_years"]["counts"] == [1]
    assert cases["family"] == 1 and cases["title"] == "Causas formalizadas por año"


def test_register_option_limits_the_output_and_can_be_repeated(institution, officer):
    build_world(institution, officer)
    only = json.loads(run("--from", "2014", "--to", "2023", "--register", "protocolo", "--format", "json"))
    assert {table["register"] for table in only} == {"protocolo"}
    two = json.loads(
        run(
            "--from",
            "2014",
            "--to",
            "2023",
            "--register",
            "protocolo",
            "--register",
            "identificadas",
            "--format",
            "json",
        )
    )
    assert {table["register"] for table in two} == {"protocolo", "identificadas"}


def test_text_output_is_a_readable_spanish_table(institution, officer):
    build_world(institution, officer)
    text = run("--from", "2014", "--to", "2023", "--register", "formalizadas")
    assert "[Causas formalizadas] 1. Causas formalizadas por año" in text
    assert "Cambio en los últimos cinco años (2019 a 2023 frente a 2014 a 2018)" in text
    assert "33,3" in text  # Spanish decimal comma
    assert "Bolivia" in text and "Sin información" in text
    assert "2 nacionalidades distintas" in text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--to", "2023"), "Falta --from"),
        (("--from", "2011"), "Falta --to"),
        (("--from", "dos mil", "--to", "2023"), "no es un año"),
        (("--from", "1066", "--to", "2023"), "fuera del rango"),
        (("--from", "2023", "--to", "2011"), "no puede ser posterior"),
        (("--from", "2011", "--to", "2023", "--register", "sename"), "Registro desconocido: sename"),
        (("--from", "2011", "--to", "2023", "--format", "xml"), "Formato desconocido: xml"),
    ],
)
def test_bad_arguments_are_refused_in_spanish(db, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
