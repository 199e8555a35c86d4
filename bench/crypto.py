"""How fast identity is encrypted and decrypted: the target is 10,000 values each way in < 1 s."""

from __future__ import annotations

import statistics
import time
import uuid

from kernel.crypto import aead
from kernel.identity_documents import document_blind_index

VALUES = 10_000
TARGET_SECONDS = 1.0
REPEATS = 5


def _contexts() -> list[str]:
    return [f"victims.victim.given_names:{uuid.uuid4()}" for _ in range(VALUES)]


def _one_round(texts: list[str], contexts: list[str]) -> tuple[float, float]:
    start = time.perf_counter()
    sealed = [aead.seal(text, context=context) for text, context in zip(texts, contexts, strict=True)]
    middle = time.perf_counter()
    opened = [aead.unseal(value, context=context) for value, context in zip(sealed, contexts, strict=True)]
    end = time.perf_counter()
    assert opened == texts
    return middle - start, end - middle


def _field_round() -> float:
    """The same through the model field: assign, pre_save (encrypt), reload sealed, read (decrypt)."""
    from kernel.fields import Sealed
    from victims.models import Victim

    field = Victim._meta.get_field("given_names")
    victims = [Victim(code=f"V-2026-{n:06d}", given_names=f"Nombre {n}") for n in range(VALUES)]
    start = time.perf_counter()
    sealed = [field.pre_save(victim, add=True) for victim in victims]
    for victim, value in zip(victims, sealed, strict=True):
        victim.__dict__["given_names"] = Sealed(value.ciphertext)
    names = [victim.given_names for victim in victims]
    elapsed = time.perf_counter() - start
    assert names[-1] == f"Nombre {VALUES - 1}"
    return elapsed


def run() -> dict:
    texts = [f"María José Pérez Quispe {n}" for n in range(VALUES)]
    contexts = _contexts()
    rounds = [_one_round(texts, contexts) for _ in range(REPEATS)]
    totals = [seal + unseal for seal, unseal in rounds]
    field_rounds = [_field_round() for _ in range(REPEATS)]
    start = time.perf_counter()
    for n in range(VALUES):
        document_blind_index("pasaporte", f"AB{n:07d}")
    blind_index_seconds = time.perf_counter() - start
    median_total = statistics.median(totals)
    return {
        "name": "identity_encryption",
        "values": VALUES,
        "repeats": REPEATS,
        "encrypt_seconds_median": round(statistics.median(r[0] for r in rounds), 4),
        "decrypt_seconds_median": round(statistics.median(r[1] for r in rounds), 4),
        "encrypt_plus_decrypt_seconds_median": round(median_total, 4),
        "encrypt_plus_decrypt_seconds_best": round(min(totals), 4),
        "through_model_field_seconds_median": round(statistics.median(field_rounds), 4),
        "blind_index_seconds": round(blind_index_seconds, 4),
        "target_seconds": TARGET_SECONDS,
        "ratio_to_target": round(median_total / TARGET_SECONDS, 3),
        "meets_target": median_total < TARGET_SECONDS and statistics.median(field_rounds) < TARGET_SECONDS,
    }
