"""The versioned key ring that encrypts victim identity.

Configured as ``FIELD_ENCRYPTION_KEYS="1:<base64>,2:<base64>"``: every listed key decrypts,
the highest version encrypts. Keys are 32 random bytes (AES-256). The blind-index secret is a
separate setting (``BLIND_INDEX_KEY``) so that rotating encryption keys never changes an index.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

KEY_BYTES = 32
MAX_KEY_VERSION = 65535  # stored as an unsigned 16-bit integer in every ciphertext header


class KeyRingError(Exception):
    """The configured key material is missing or malformed. The message says how to fix it."""


@dataclass(frozen=True)
class KeyRing:
    ciphers: dict[int, AESGCM]
    fingerprints: dict[int, bytes]  # SHA-256 of each key: lets us compare keys without keeping them twice

    @property
    def current_version(self) -> int:
        return max(self.ciphers)

    @property
    def versions(self) -> tuple[int, ...]:
        return tuple(sorted(self.ciphers))


def _decode_key(raw: str, *, what: str) -> bytes:
    try:
        key = base64.b64decode(raw.strip(), altchars=b"-_" if ("-" in raw or "_" in raw) else None, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyRingError(f"{what}: not valid base64 ({exc}).") from None
    if len(key) != KEY_BYTES:
        raise KeyRingError(f"{what}: must decode to {KEY_BYTES} bytes, got {len(key)}.")
    return key


def parse_keyring(spec: str) -> KeyRing:
    """Parse ``"1:<base64>,2:<base64>"`` into a key ring, or raise KeyRingError saying why."""
    if not spec or not spec.strip():
        raise KeyRingError(
            "FIELD_ENCRYPTION_KEYS is not set. Victim identity cannot be encrypted without it. "
            'Set it to "1:<32 random bytes in base64>" (see README, "Keys").'
        )
    ciphers: dict[int, AESGCM] = {}
    fingerprints: dict[int, bytes] = {}
    for position, entry in enumerate(spec.split(","), start=1):
        version_text, sep, key_text = entry.strip().partition(":")
        if not sep or not version_text.strip().isdigit():
            raise KeyRingError(f"FIELD_ENCRYPTION_KEYS entry {position} is malformed: expected 'version:base64key'.")
        version = int(version_text)
        if not 1 <= version <= MAX_KEY_VERSION:
            raise KeyRingError(f"FIELD_ENCRYPTION_KEYS entry {position}: version must be 1..{MAX_KEY_VERSION}.")
        if version in ciphers:
            raise KeyRingError(f"FIELD_ENCRYPTION_KEYS lists key version {version} twice.")
        key = _decode_key(key_text, what=f"FIELD_ENCRYPTION_KEYS key version {version}")
        ciphers[version] = AESGCM(key)
        fingerprints[version] = hashlib.sha256(key).digest()
    return KeyRing(ciphers=ciphers, fingerprints=fingerprints)


def parse_blind_index_secret(raw: str) -> bytes:
    if not raw or not raw.strip():
        raise KeyRingError(
            "BLIND_INDEX_KEY is not set. Document numbers cannot be indexed without it. "
            "Set it to 32 random bytes in base64, different from every encryption key."
        )
    return _decode_key(raw, what="BLIND_INDEX_KEY")


@cache
def get_keyring() -> KeyRing:
    return parse_keyring(settings.FIELD_ENCRYPTION_KEYS)


@cache
def get_blind_index_secret() -> bytes:
    return parse_blind_index_secret(settings.BLIND_INDEX_KEY)


def check_key_material() -> None:
    """Raise KeyRingError unless both the key ring and the blind-index secret are usable."""
    keyring = get_keyring()
    secret = get_blind_index_secret()
    # A blind-index secret equal to an encryption key would tie the two together.
    secret_fingerprint = hashlib.sha256(secret).digest()
    for version in keyring.versions:
        if keyring.fingerprints[version] == secret_fingerprint:
            raise KeyRingError(f"BLIND_INDEX_KEY must differ from encryption key version {version}.")


@receiver(setting_changed)
def _reset_on_setting_change(*, setting: str, **kwargs) -> None:
    if setting in {"FIELD_ENCRYPTION_KEYS", "BLIND_INDEX_KEY"}:
        get_keyring.cache_clear()
        get_blind_index_secret.cache_clear()
