from django.core.exceptions import ValidationError
from django.db import models

from kernel.fields import DocumentBlindIndexField


def validate_instance(instance: models.Model) -> None:
    """``full_clean`` for a service about to save. Raises ValidationError keyed by field name.

    - Every CheckConstraint is mirrored by field validation or ``Model.clean()``, which name the
      field; checking the constraints again here would cost one query each per save and could
      only repeat those errors without a field. The database still enforces them all.
    - Unique constraints are checked (they need the database), with their own messages.
    - A blind index is derived from the document while saving, so it is skipped here.
    """
    computed = {f.name for f in instance._meta.concrete_fields if isinstance(f, DocumentBlindIndexField)}
    instance.full_clean(exclude=computed, validate_constraints=False)
    errors: dict[str, list] = {}
    for constraint in instance._meta.constraints:
        if isinstance(constraint, models.UniqueConstraint):
            try:
                constraint.validate(type(instance), instance, exclude=computed)
            except ValidationError as exc:
                exc.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)
