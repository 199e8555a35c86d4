import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kernel.crypto import aead
from kernel.crypto.keyring import KeyRingError, parse_blind_index_secret, parse_keyring

KEY_1 = base64.b64encode(b"1" * 32).decode()
KEY_2 = base64.b64encode(b"2" * 32).decode()
RING = parse_keyring(f"1:{KEY_1}")
CONTEXT = "victims.victim.given_names:6b1f0c1e-0000-4000-8000-000000000001"


def test_sealed_value_opens_to_the_same_text():
    assert aead.unseal(aead.seal("María José", context=CONTEXT, keyring=RING), context=CONTEXT, keyring=RING) == (
        "María José"
    )


@given(st.text(max_size=500))
def test_any_text_survives_a_round_trip(text):
    assert aead.unseal(aead.seal(text, context=CONTEXT, keyring=RING), context=CONTEXT, keyring=RING) == text


def test_sealing_the_same_text_twice_gives_different_ciphertexts():
    first, second = (aead.seal("Ana", context=CONTEXT, keyring=RING) for _ in range(2))
    assert first != second
    assert first[aead.HEADER_SIZE : aead.HEADER_SIZE + aead.NONCE_SIZE] != second[3:15]


def test_ciphertext_does_not_contain_the_plaintext():
    assert b"Ana Maria" not in aead.seal("Ana Maria", context=CONTEXT, keyring=RING)


def test_ciphertext_records_the_key_version_that_sealed_it():
    ring = parse_keyring(f"1:{KEY_1},7:{KEY_2}")
    assert aead.key_version_of(aead.seal("x", context=CONTEXT, keyring=ring)) == 7


@pytest.mark.parametrize("position", range(0, 40))
def test_changing_any_byte_of_a_ciphertext_makes_it_fail_loudly(position):
    sealed = bytearray(aead.seal("Pedro Soto", context=CONTEXT, keyring=RING))
    sealed[position % len(sealed)] ^= 0x01
    with pytest.raises(aead.DecryptionError):
        aead.unseal(bytes(sealed), context=CONTEXT, keyring=RING)


@pytest.mark.parametrize(
    "other_context",
    [
        "victims.victim.given_names:6b1f0c1e-0000-4000-8000-000000000002",  # another row
        "victims.victim.surnames:6b1f0c1e-0000-4000-8000-000000000001",  # another column
        "cases.offender.given_names:6b1f0c1e-0000-4000-8000-000000000001",  # another model
    ],
)
def test_a_value_moved_to_another_row_column_or_model_fails_to_decrypt(other_context):
    sealed = aead.seal("Pedro Soto", context=CONTEXT, keyring=RING)
    with pytest.raises(aead.DecryptionError, match="authentication failed"):
        aead.unseal(sealed, context=other_context, keyring=RING)


def test_a_value_whose_key_is_not_in_the_ring_names_the_missing_version():
    sealed = aead.seal("x", context=CONTEXT, keyring=parse_keyring(f"3:{KEY_2}"))
    with pytest.raises(aead.DecryptionError, match="key version 3 is not in FIELD_ENCRYPTION_KEYS"):
        aead.unseal(sealed, context=CONTEXT, keyring=RING)


def test_decryption_with_the_wrong_key_of_the_right_version_fails_naming_the_version():
    sealed = aead.seal("x", context=CONTEXT, keyring=parse_keyring(f"1:{KEY_2}"))
    with pytest.raises(aead.DecryptionError, match="key version 1: authentication failed"):
        aead.unseal(sealed, context=CONTEXT, keyring=RING)


@pytest.mark.parametrize("garbage", [b"", b"\x01\x00", b"plain text that was never encrypted", b"\x02" + b"\x00" * 40])
def test_garbage_is_refused_never_returned(garbage):
    with pytest.raises(aead.DecryptionError):
        aead.unseal(garbage, context=CONTEXT, keyring=RING)


def test_resealing_moves_a_value_to_the_newest_key_keeping_its_text():
    old = aead.seal("Rosa", context=CONTEXT, keyring=RING)
    ring = parse_keyring(f"1:{KEY_1},2:{KEY_2}")
    new = aead.reseal(old, context=CONTEXT, keyring=ring)
    assert aead.key_version_of(new) == 2
    assert aead.unseal(new, context=CONTEXT, keyring=parse_keyring(f"2:{KEY_2}")) == "Rosa"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "FIELD_ENCRYPTION_KEYS is not set"),
        ("   ", "FIELD_ENCRYPTION_KEYS is not set"),
        (KEY_1, "entry 1 is malformed"),
        (f"one:{KEY_1}", "entry 1 is malformed"),
        (f"0:{KEY_1}", "version must be"),
        (f"1:{KEY_1},1:{KEY_2}", "version 1 twice"),
        ("1:not-base64!!", "not valid base64"),
        (f"1:{base64.b64encode(b'short').decode()}", "must decode to 32 bytes"),
    ],
)
def test_malformed_key_rings_are_refused_with_a_message_saying_why(spec, message):
    with pytest.raises(KeyRingError, match=message):
        parse_keyring(spec)


def test_newest_version_encrypts_whatever_the_order_listed():
    assert parse_keyring(f"5:{KEY_1},2:{KEY_2}").current_version == 5


def test_url_safe_base64_keys_are_accepted():
    key = base64.urlsafe_b64encode(b"\xfb" * 32).decode()
    assert "-" in key or "_" in key
    assert parse_keyring(f"1:{key}").versions == (1,)


def test_missing_blind_index_secret_is_refused():
    with pytest.raises(KeyRingError, match="BLIND_INDEX_KEY is not set"):
        parse_blind_index_secret("")
