import datetime

import pytest
from django.db import connection, transaction

from cases.models import Offender
from kernel.crypto.aead import DecryptionError
from kernel.fields import Sealed
from tests.factories import OffenderFactory, VictimFactory
from victims.models import Victim

IDENTITY_FIELDS = ["given_names", "surnames", "document_type", "document_number", "phone", "email", "address", "notes"]

pytestmark = pytest.mark.django_db


def raw_column(table: str, column: str, pk) -> bytes | None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        value = cursor.fetchone()[0]
    return None if value is None else bytes(value)


def copy_column(table: str, column: str, *, from_pk, to_pk, to_column: str | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {to_column or column} = (SELECT {column} FROM {table} WHERE id = %s) WHERE id = %s",  # noqa: S608
            [from_pk, to_pk],
        )


@pytest.fixture
def victim():
    return VictimFactory(
        given_names="Yesenia Alejandra",
        surnames="Quispe Mamani",
        document_number="15.234.567-4",
        birth_date=datetime.date(2007, 2, 3),
        phone="+56 9 8765 4321",
        email="yesenia@example.org",
        address="Pasaje Los Aromos 123, Iquique",
        notes="Llegó desde Oruro en 2022",
    )


def test_every_identity_field_is_stored_as_ciphertext(victim):
    for field in [*IDENTITY_FIELDS, "birth_date"]:
        stored = raw_column("victims_victim", field, victim.pk)
        plaintext = str(getattr(victim, field)).encode()
        assert stored is not None and stored[0] == 1, field
        assert plaintext not in stored, field


def test_identity_decrypts_when_the_victim_is_read_back(victim):
    fresh = Victim.objects.get(pk=victim.pk)
    assert (fresh.given_names, fresh.surnames, fresh.document_number) == (
        "Yesenia Alejandra",
        "Quispe Mamani",
        "15.234.567-4",
    )
    assert fresh.birth_date == datetime.date(2007, 2, 3)
    assert fresh.notes == "Llegó desde Oruro en 2022"


def test_reading_a_list_of_victims_decrypts_nothing_until_a_field_is_read(victim):
    fresh = Victim.objects.get(pk=victim.pk)
    assert isinstance(fresh.__dict__["given_names"], Sealed)
    assert fresh.code == victim.code
    assert isinstance(fresh.__dict__["given_names"], Sealed)


def test_values_list_returns_sealed_values_never_plaintext(victim):
    (value,) = Victim.objects.values_list("given_names", flat=True)
    assert isinstance(value, Sealed)
    assert "Yesenia" not in repr(value) and "Yesenia" not in str(value)


def test_empty_identity_fields_are_stored_as_null():
    victim = VictimFactory(phone="", email="   ", notes=None)
    assert raw_column("victims_victim", "phone", victim.pk) is None
    assert raw_column("victims_victim", "email", victim.pk) is None
    assert Victim.objects.get(pk=victim.pk).phone is None


def test_saving_an_unchanged_victim_does_not_reencrypt_it(victim):
    before = raw_column("victims_victim", "given_names", victim.pk)
    fresh = Victim.objects.get(pk=victim.pk)
    fresh.sex = "masculino"
    fresh.save()
    assert raw_column("victims_victim", "given_names", victim.pk) == before


def test_changing_a_field_stores_a_new_ciphertext(victim):
    before = raw_column("victims_victim", "given_names", victim.pk)
    victim.given_names = "Yesenia"
    victim.save()
    assert raw_column("victims_victim", "given_names", victim.pk) != before
    assert Victim.objects.get(pk=victim.pk).given_names == "Yesenia"


def test_filtering_on_an_encrypted_field_is_refused(victim):
    with pytest.raises(Exception, match="Unsupported lookup"):
        list(Victim.objects.filter(given_names="Yesenia Alejandra"))
    with pytest.raises(Exception, match="Unsupported lookup"):
        list(Victim.objects.filter(surnames__icontains="Quispe"))


def test_bulk_update_with_plaintext_is_refused(victim):
    with pytest.raises(TypeError, match="is encrypted"), transaction.atomic():
        Victim.objects.update(given_names="Otro Nombre")
    assert Victim.objects.get(pk=victim.pk).given_names == "Yesenia Alejandra"


def test_a_ciphertext_copied_to_another_victims_row_fails_to_decrypt(victim):
    other = VictimFactory(given_names="Carmen")
    copy_column("victims_victim", "given_names", from_pk=victim.pk, to_pk=other.pk)
    with pytest.raises(DecryptionError, match=r"victims\.victim\.given_names with key version 1: authentication"):
        _ = Victim.objects.get(pk=other.pk).given_names


def test_a_ciphertext_copied_to_another_column_of_the_same_row_fails_to_decrypt(victim):
    copy_column("victims_victim", "given_names", from_pk=victim.pk, to_pk=victim.pk, to_column="surnames")
    with pytest.raises(DecryptionError, match=r"victims\.victim\.surnames"):
        _ = Victim.objects.get(pk=victim.pk).surnames


def test_a_victim_ciphertext_copied_into_an_offender_fails_to_decrypt(victim):
    offender = OffenderFactory(given_names="Luis")
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE cases_offender SET given_names = (SELECT given_names FROM victims_victim WHERE id = %s) "
            "WHERE id = %s",
            [victim.pk, offender.pk],
        )
    with pytest.raises(DecryptionError):
        _ = Offender.objects.get(pk=offender.pk).given_names


def test_a_tampered_ciphertext_in_the_database_fails_loudly(victim):
    with connection.cursor() as cursor:
        cursor.execute(
            # Flip one bit of byte 20 (overwriting it with a constant left it unchanged one run
            # in 256, when the ciphertext already held that byte).
            "UPDATE victims_victim SET surnames = set_byte(surnames, 19, get_byte(surnames, 19) # 1) WHERE id = %s",
            [victim.pk],
        )
    with pytest.raises(DecryptionError, match="authentication failed"):
        _ = Victim.objects.get(pk=victim.pk).surnames


def test_plaintext_written_straight_into_the_column_is_refused_not_returned(victim):
    with connection.cursor() as cursor:
        cursor.execute("UPDATE victims_victim SET given_names = 'Texto plano'::bytea WHERE id = %s", [victim.pk])
    with pytest.raises(DecryptionError):
        _ = Victim.objects.get(pk=victim.pk).given_names


def test_identity_never_appears_in_str_or_repr(victim):
    for text in (str(victim), repr(victim), str(Victim.objects.get(pk=victim.pk))):
        assert "Yesenia" not in text and "Quispe" not in text and "15.234.567" not in text
        assert victim.code in text


def test_deferred_identity_is_loaded_and_decrypted_on_access(victim):
    fresh = Victim.objects.only("code").get(pk=victim.pk)
    assert fresh.surnames == "Quispe Mamani"


def test_offender_identity_is_encrypted_too():
    offender = OffenderFactory(given_names="Ramiro", surnames="Fuentes")
    assert b"Ramiro" not in raw_column("cases_offender", "given_names", offender.pk)
    assert Offender.objects.get(pk=offender.pk).surnames == "Fuentes"
