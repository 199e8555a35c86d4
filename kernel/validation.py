from collections.abc import Callable, Mapping

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.utils.text import capfirst

from kernel.fields import DocumentBlindIndexField


def _known_good(instance: models.Model) -> set[str]:
    """Fields whose check would only cost a query: a foreign key to an object the caller holds,
    already saved (Django's ForeignKey.validate runs one SELECT to find it again), and on a new
    row a primary key drawn from its default (a fresh UUID: its uniqueness check is a SELECT
    too). The database enforces both anyway."""
    names = set()
    for field in instance._meta.concrete_fields:
        if field.many_to_one and field.is_cached(instance):
            related = field.get_cached_value(instance)
            if related is not None and not related._state.adding:
                names.add(field.name)
    pk = instance._meta.pk
    if instance._state.adding and pk.has_default():
        names.add(pk.name)
    return names


def validate_instance(instance: models.Model, *, unique_by_construction: tuple[str, ...] = ()) -> None:
    """``full_clean`` for a service about to save. Raises ValidationError keyed by field name.

    - Every CheckConstraint is mirrored by field validation or ``Model.clean()``, which name the
      field; checking the constraints again here would cost one query each per save and could
      only repeat those errors without a field. The database still enforces them all.
    - Unique constraints are checked (they need the database), with their own messages.
    - A blind index is derived from the document while saving, so it is skipped here.
    - Foreign keys to objects the caller holds, and fresh UUID keys, are not looked up again
      (_known_good); nor are ``unique_by_construction`` fields (a code drawn from a sequence).
    """
    computed = {f.name for f in instance._meta.concrete_fields if isinstance(f, DocumentBlindIndexField)}
    try:
        instance.full_clean(
            exclude=computed | _known_good(instance) | set(unique_by_construction), validate_constraints=False
        )
        errors: dict[str, list] = {}
        for constraint in instance._meta.constraints:
            if isinstance(constraint, models.UniqueConstraint):
                try:
                    constraint.validate(type(instance), instance, exclude=computed)
                except ValidationError as exc:
                    exc.update_error_dict(errors)
        if errors:
            raise ValidationError(errors)
    except ValidationError as exc:
        # The keys are field names; an error page shows the fields' labels instead
        # (kernel.web.refused_input).
        exc.field_labels = field_labels(type(instance))
        raise


def field_labels(model: type[models.Model]) -> dict[str, str]:
    """Field name → its Spanish label (the verbose name, capitalised)."""
    return {field.name: capfirst(field.verbose_name) for field in (*model._meta.fields, *model._meta.many_to_many)}


def validation_errors(check: Callable[..., object], *args, **kwargs) -> dict[str, list[str]]:
    """The errors ``check`` raises, keyed by field (empty if it passes): lets a service that
    writes several records report every record's errors in one answer."""
    try:
        check(*args, **kwargs)
    except ValidationError as exc:
        return exc.message_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.messages}
    return {}


def raise_if_any(*errors: Mapping[str, list[str]]) -> None:
    """Raise one ValidationError with all the given field errors, if there are any."""
    merged: dict[str, list[str]] = {}
    for error_dict in errors:
        for name, messages in error_dict.items():
            merged.setdefault(name, []).extend(messages)
    if merged:
        raise ValidationError(merged)
