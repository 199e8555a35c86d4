"""Change history of the records (django-pghistory): PostgreSQL triggers write an event for
every insert, update and delete, bulk ones included, attributed through pghistory's context to
the request's user, institution and (for the API) client. Event tables are append-only.

Encrypted identity columns are never copied into history: a second copy of ciphertext would
escape key rotation, and the history must not be a way around identity access. Changes to them
still produce an event (the row's ``updated_at``/``version`` change with them).
"""

from __future__ import annotations

import pghistory
from django.db import models

from kernel.fields import DocumentBlindIndexField, EncryptedFieldMixin


def track_changes(model: type[models.Model]) -> type[models.Model]:
    excluded = [
        f.name
        for f in model._meta.concrete_fields
        if isinstance(f, EncryptedFieldMixin | DocumentBlindIndexField | models.GeneratedField)  # derived: not history
    ]
    return pghistory.track(
        pghistory.InsertEvent(),
        pghistory.UpdateEvent(),
        pghistory.DeleteEvent(),
        exclude=excluded or None,
        append_only=True,
        meta={"default_permissions": ()},  # history is read through audit views, never granted
    )(model)
