import base64
import datetime
import io

import pytest
from django.core.management import call_command
from django.db import connection

from cases.models import Offender
from kernel.crypto.aead import DecryptionError
from kernel.crypto.rotation import count_stale_values, rotate_model
from kernel.fields import encrypted_fields
from tests.factories import OffenderFactory, VictimFactory
from victims.models import Victim

pytestmark = pytest.mark.django_db

KEY_1 = base64.b64encode(b"A" * 32).decode()
KEY_2 = base64.b64encode(b"B" * 32).decode()


def stored_versions(table: str, column: str) -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT get_byte({column}, 1) * 256 + get_byte({column}, 2) FROM {table} "  # noqa: S608
            f"WHERE {column} IS NOT NULL"
        )
        return {row[0] for row in cursor.fetchall()}


@pytest.fixture
def data_on_key_1(settings):
    settings.FIELD_ENCRYPTION_KEYS = f"1:{KEY_1}"
    victims = [
        VictimFactory(given_names=f"Nombre{n}", surnames=f"Apellido{n}", birth_date=datetime.date(1990, 1, n + 1))
        for n in range(7)
    ]
    offenders = [OffenderFactory(given_names=f"Imputado{n}") for n in range(3)]
    expected = {v.pk: (v.given_names, v.surnames, v.document_number, v.birth_date) for v in victims}
    return expected, {o.pk: o.given_names for o in offenders}


def read_all(expected_victims, expected_offenders):
    for victim in Victim.objects.filter(pk__in=expected_victims):
        assert (victim.given_names, victim.surnames, victim.document_number, victim.birth_date) == (
            expected_victims[victim.pk]
        )
    for offender in Offender.objects.filter(pk__in=expected_offenders):
        assert offender.given_names == expected_offenders[offender.pk]


def test_rotation_moves_every_value_to_the_new_key_and_all_stay_readable(settings, data_on_key_1):
    settings.FIELD_ENCRYPTION_KEYS = f"1:{KEY_1},2:{KEY_2}"
    out = io.StringIO()
    call_command("rotate_keys", "--batch-size", "3", stdout=out)
    for field in ["given_names", "surnames", "document_number", "document_type", "birth_date"]:
        assert stored_versions("victims_victim", field) == {2}, field
    assert stored_versions("cases_offender", "given_names") == {2}
    assert "victims.Victim: 7 rows, 35 values re-encrypted (from v1: 35); 0 values not on v2" in out.getvalue()
    assert "cases.Offender: 3 rows" in out.getvalue()
    # The old key can now be retired: everything reads with the new key alone.
    settings.FIELD_ENCRYPTION_KEYS = f"2:{KEY_2}"
    read_all(*data_on_key_1)


def test_a_second_rotation_finds_nothing_to_do(settings, data_on_key_1):
    settings.FIELD_ENCRYPTION_KEYS = f"1:{KEY_1},2:{KEY_2}"
    call_command("rotate_keys", stdout=io.StringIO())
    out = io.StringIO()
    call_command("rotate_keys", stdout=out)
    assert "Done: 0 values re-encrypted." in out.getvalue()


def test_dry_run_counts_and_changes_nothing(settings, data_on_key_1):
    settings.FIELD_ENCRYPTION_KEYS = f"1:{KEY_1},2:{KEY_2}"
    out = io.StringIO()
    call_command("rotate_keys", "--dry-run", stdout=out)
    assert "victims.Victim: 7 rows, 35 values to re-encrypt" in out.getvalue()
    assert stored_versions("victims_victim", "given_names") == {1}


def test_an_interrupted_rotation_resumes_where_it_stopped(settings, data_on_key_1):
    settings.FIELD_ENCRYPTION_KEYS = f"1:{KEY_1},2:{KEY_2}"
    fields = encrypted_fields(Victim)

    class Interrupted(Exception):
        pass

    def stop_after_first_batch(report):
        raise Interrupted

    with pytest.raises(Interrupted):
        rotate_model(Victim, fields, batch_size=2, progress=stop_after_first_batch)
    assert stored_versions("victims_victim", "given_names") == {1, 2}
    assert count_stale_values(Victim, fields) == 5 * 5  # five rows, five non-empty fields each

    report = rotate_model(Victim, fields, batch_size=2)
    assert report.rows_rewritten == 5
    assert count_stale_values(Victim, fields) == 0
    read_all(*data_on_key_1)


def test_new_writes_use_the_newest_key_while_old_values_still_read(settings, data_on_key_1):
    settings.FIELD_ENCRYPTION_KEYS = f"1:{KEY_1},2:{KEY_2}"
    new = VictimFactory(given_names="Nueva")
    assert stored_versions("victims_victim", "given_names") == {1, 2}
    read_all(*data_on_key_1)
    assert Victim.objects.get(pk=new.pk).given_names == "Nueva"


def test_removing_a_key_before_rotating_fails_loudly_naming_the_version(settings, data_on_key_1):
    settings.FIELD_ENCRYPTION_KEYS = f"2:{KEY_2}"
    victim = Victim.objects.first()
    with pytest.raises(DecryptionError, match="key version 1 is not in FIELD_ENCRYPTION_KEYS"):
        _ = victim.given_names
