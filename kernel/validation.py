from django.db import models

from kernel.fields import DocumentBlindIndexField


def validate_instance(instance: models.Model) -> None:
    """``full_clean`` for a service about to save, skipping values the fields compute on save.

    A blind index is derived from the document while saving, so before saving it is still empty;
    constraints that mention it are enforced by the database instead. Raises ValidationError
    with Spanish messages keyed by field name.
    """
    computed = [f.name for f in instance._meta.concrete_fields if isinstance(f, DocumentBlindIndexField)]
    instance.full_clean(exclude=computed)
