"""Re-encrypt every stored value under the newest key, in batches, without downtime.

Each batch runs in its own transaction and locks its rows (FOR UPDATE), so a concurrent edit is
never overwritten with the old plaintext. Rows already on the newest key are skipped, which
makes an interrupted run resumable: run it again and it continues where it stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connection, models, transaction

from kernel.crypto import aead
from kernel.crypto.keyring import get_keyring
from kernel.fields import EncryptedFieldMixin, encrypted_fields


@dataclass
class RotationReport:
    model: str
    rows_rewritten: int = 0
    values_rewritten: int = 0
    values_by_old_version: dict[int, int] = field(default_factory=dict)


def models_with_encrypted_fields() -> Iterator[tuple[type[models.Model], list[EncryptedFieldMixin]]]:
    for model in apps.get_models():
        fields = encrypted_fields(model)
        if fields and not model._meta.proxy:
            yield model, fields


def _stale_condition(columns: list[str]) -> str:
    # Bytes 1-2 of every ciphertext hold its key version (kernel/crypto/aead.py).
    return " OR ".join(
        f"({column} IS NOT NULL AND (get_byte({column}, 1) * 256 + get_byte({column}, 2)) <> %s)" for column in columns
    )


def count_stale_values(model: type[models.Model], fields: list[EncryptedFieldMixin]) -> int:
    version = get_keyring().current_version
    table = connection.ops.quote_name(model._meta.db_table)
    total = 0
    with connection.cursor() as cursor:
        for f in fields:
            column = connection.ops.quote_name(f.column)
            cursor.execute(f"SELECT count(*) FROM {table} WHERE {_stale_condition([column])}", [version])  # noqa: S608
            total += cursor.fetchone()[0]
    return total


def rotate_model(
    model: type[models.Model],
    fields: list[EncryptedFieldMixin],
    *,
    batch_size: int = 1000,
    dry_run: bool = False,
    progress: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    """Re-encrypt the stale values of one model. Returns what it did (or would do)."""
    keyring = get_keyring()
    version = keyring.current_version
    qn = connection.ops.quote_name
    table, pk_column = qn(model._meta.db_table), qn(model._meta.pk.column)
    columns = [qn(f.column) for f in fields]
    report = RotationReport(model=model._meta.label)
    last_pk = None
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            after = f"AND {pk_column} > %s" if last_pk is not None else ""
            params = [version] * len(columns) + ([last_pk] if last_pk is not None else []) + [batch_size]
            cursor.execute(
                f"SELECT {pk_column}, {', '.join(columns)} FROM {table} "  # noqa: S608 - identifiers quoted
                f"WHERE ({_stale_condition(columns)}) {after} ORDER BY {pk_column} LIMIT %s "
                f"{'' if dry_run else 'FOR UPDATE'}",
                params,
            )
            rows = cursor.fetchall()
            if not rows:
                return report
            updates = []
            for pk, *values in rows:
                new_values = []
                changed = 0
                for f, value in zip(fields, values, strict=True):
                    if value is None:
                        new_values.append(None)
                        continue
                    value = bytes(value)
                    old_version = aead.key_version_of(value)
                    if old_version == version:
                        new_values.append(value)
                        continue
                    report.values_by_old_version[old_version] = report.values_by_old_version.get(old_version, 0) + 1
                    new_values.append(aead.reseal(value, context=f.context_for(pk), keyring=keyring))
                    changed += 1
                report.values_rewritten += changed
                report.rows_rewritten += 1
                updates.append([*new_values, pk])
            if not dry_run:
                assignments = ", ".join(f"{column} = %s" for column in columns)
                cursor.executemany(f"UPDATE {table} SET {assignments} WHERE {pk_column} = %s", updates)  # noqa: S608
            last_pk = rows[-1][0]
        if progress:
            progress(report)
