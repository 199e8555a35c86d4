"""Authenticated encryption of single values (AES-256-GCM).

Ciphertext layout, stored as ``bytea``::

    byte 0      format (1)
    bytes 1-2   key version, unsigned big-endian
    bytes 3-14  96-bit random nonce, fresh for every value
    bytes 15-   AES-GCM ciphertext followed by its 16-byte tag

The associated data is the 3-byte header plus a *context* naming model, field and row
(``victims.victim.given_names:<uuid>``). A value copied to another row or column, or a header
whose key version was edited, fails the tag check instead of decrypting.
"""

from __future__ import annotations

import os
import struct

from cryptography.exceptions import InvalidTag

from kernel.crypto.keyring import KeyRing, get_keyring

FORMAT_VERSION = 1
_HEADER = struct.Struct(">BH")
HEADER_SIZE = _HEADER.size
NONCE_SIZE = 12
TAG_SIZE = 16
MIN_SIZE = HEADER_SIZE + NONCE_SIZE + TAG_SIZE


class DecryptionError(Exception):
    """A stored value could not be decrypted. Never carries plaintext."""


def key_version_of(ciphertext: bytes) -> int:
    if len(ciphertext) < MIN_SIZE or ciphertext[0] != FORMAT_VERSION:
        raise DecryptionError("Stored value is not a ciphertext of a known format (truncated or altered).")
    return _HEADER.unpack_from(ciphertext)[1]


def seal(plaintext: str, *, context: str, keyring: KeyRing | None = None) -> bytes:
    """Encrypt ``plaintext`` under the newest key, bound to ``context``."""
    keyring = keyring or get_keyring()
    version = keyring.current_version
    header = _HEADER.pack(FORMAT_VERSION, version)
    nonce = os.urandom(NONCE_SIZE)
    body = keyring.ciphers[version].encrypt(nonce, plaintext.encode("utf-8"), header + context.encode("utf-8"))
    return header + nonce + body


def unseal(ciphertext: bytes, *, context: str, keyring: KeyRing | None = None) -> str:
    """Decrypt a value sealed for ``context``; raise DecryptionError naming the key version."""
    keyring = keyring or get_keyring()
    version = key_version_of(ciphertext)
    cipher = keyring.ciphers.get(version)
    if cipher is None:
        raise DecryptionError(
            f"Cannot decrypt {context.split(':')[0]}: key version {version} is not in FIELD_ENCRYPTION_KEYS "
            f"(configured versions: {', '.join(map(str, keyring.versions))})."
        )
    header = ciphertext[:HEADER_SIZE]
    nonce = ciphertext[HEADER_SIZE : HEADER_SIZE + NONCE_SIZE]
    try:
        plaintext = cipher.decrypt(nonce, ciphertext[HEADER_SIZE + NONCE_SIZE :], header + context.encode("utf-8"))
    except InvalidTag:
        raise DecryptionError(
            f"Cannot decrypt {context.split(':')[0]} with key version {version}: authentication failed "
            "(the value was altered, or it belongs to another row or field)."
        ) from None
    return plaintext.decode("utf-8")


def reseal(ciphertext: bytes, *, context: str, keyring: KeyRing | None = None) -> bytes:
    """Re-encrypt a value under the newest key without changing its plaintext or context."""
    keyring = keyring or get_keyring()
    return seal(unseal(ciphertext, context=context, keyring=keyring), context=context, keyring=keyring)
