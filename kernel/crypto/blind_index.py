"""Blind index: a keyed HMAC of a normalised value, for exact-match look-ups of encrypted data.

The HMAC key is derived (HKDF-SHA256) from ``BLIND_INDEX_KEY`` with a purpose label, so the
index cannot be computed from the encryption keys, and indexes for different purposes never
collide. Only exact equality of the *normalised* value can be tested; nothing is revealed about
values that are not searched for.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from kernel.crypto.keyring import get_blind_index_secret

INDEX_SIZE = 32


@cache
def _purpose_key(purpose: str, secret: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"mitp blind index: {purpose}".encode()).derive(
        secret
    )


def blind_index(*, purpose: str, normalised_value: str) -> bytes:
    key = _purpose_key(purpose, get_blind_index_secret())
    return hmac.new(key, normalised_value.encode("utf-8"), hashlib.sha256).digest()
