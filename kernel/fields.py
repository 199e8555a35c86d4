"""Model fields whose values are stored encrypted (see kernel/crypto/aead.py).

In Python the attribute holds plaintext; in the database it holds AES-GCM ciphertext bound to
model, field and primary key. Values read from the database stay sealed until the attribute is
first read on that instance, so listing rows never decrypts anything. The primary key must be
known before the first save (use a UUID primary key with a default).

Deliberate limits, each a safety property:
- Filtering on an encrypted field is refused (only ``isnull``): use a blind index.
- ``QuerySet.update(field="text")`` is refused: an update cannot bind the value to each row.
- ``values()``/``values_list()`` return :class:`Sealed` objects, never plaintext.
"""

from __future__ import annotations

import datetime
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models.query_utils import DeferredAttribute
from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy as _

from kernel.crypto import aead

_NOT_OPENED = object()


class Sealed:
    """A ciphertext as read from the database. Its repr never shows the plaintext."""

    __slots__ = ("_plaintext", "ciphertext")

    def __init__(self, ciphertext: bytes, plaintext: Any = _NOT_OPENED):
        self.ciphertext = ciphertext
        self._plaintext = plaintext

    @property
    def key_version(self) -> int:
        return aead.key_version_of(self.ciphertext)

    def __repr__(self) -> str:
        return "<cifrado>"

    __str__ = __repr__


class EncryptedAttribute(DeferredAttribute):
    """Decrypts on first read, per instance; assignment stores plaintext to encrypt on save."""

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        attname = self.field.attname
        if attname not in instance.__dict__:
            super().__get__(instance, cls)  # deferred: load from the database
        value = instance.__dict__[attname]
        if isinstance(value, Sealed):
            if value._plaintext is _NOT_OPENED:
                value._plaintext = self.field.decrypt_for(instance, value.ciphertext)
            return value._plaintext
        return value

    def __set__(self, instance, value):
        instance.__dict__[self.field.attname] = value


class EncryptedFieldMixin:
    """Shared machinery; subclasses say how their Python value becomes text and back."""

    descriptor_class = EncryptedAttribute
    empty_strings_allowed = True

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("null", True)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    # --- value <-> text -------------------------------------------------------------------------
    def to_text(self, value: Any) -> str:
        raise NotImplementedError

    def from_text(self, text: str) -> Any:
        raise NotImplementedError

    # --- encryption ---------------------------------------------------------------------------
    def context_for(self, pk: Any) -> str:
        return f"{self.model._meta.label_lower}.{self.name}:{pk}"

    def decrypt_for(self, instance: models.Model, ciphertext: bytes) -> Any:
        return self.from_text(aead.unseal(ciphertext, context=self.context_for(instance.pk)))

    def pre_save(self, model_instance, add):
        value = model_instance.__dict__.get(self.attname)
        if isinstance(value, Sealed) or value is None:
            return value
        value = self.to_python(value)
        if value in self.empty_values:
            model_instance.__dict__[self.attname] = None
            return None
        if model_instance.pk is None:
            raise ValueError(
                f"{self.model._meta.label}.{self.name}: the primary key must be set before encrypting "
                "(give the model a UUID primary key with a default)."
            )
        sealed = Sealed(aead.seal(self.to_text(value), context=self.context_for(model_instance.pk)), value)
        model_instance.__dict__[self.attname] = sealed
        return sealed

    # --- database -------------------------------------------------------------------------------
    def get_internal_type(self) -> str:
        return "BinaryField"

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, Sealed):
            return value.ciphertext
        raise TypeError(
            f"{self.model._meta.label}.{self.name} is encrypted: it cannot be compared with or set to "
            "plaintext in a query. Assign it on an instance and save(), or search through a blind index."
        )

    def get_db_prep_value(self, value, connection, prepared=False):
        return value if prepared else self.get_prep_value(value)

    def from_db_value(self, value, expression, connection):
        return None if value is None else Sealed(bytes(value))

    def get_lookup(self, lookup_name):
        if lookup_name != "isnull":
            return None
        return super().get_lookup(lookup_name)

    def get_transform(self, name):
        return None

    def value_to_string(self, obj) -> str:
        # Serialisation (dumpdata) must never write plaintext.
        raise TypeError(f"{self.model._meta.label}.{self.name} is encrypted and is not serialised.")


class EncryptedTextField(EncryptedFieldMixin, models.Field):
    """Encrypted text. ``max_length`` limits the plaintext, checked by validation."""

    def __init__(self, *args, max_length: int = 200, **kwargs):
        super().__init__(*args, max_length=max_length, **kwargs)
        self.validators.append(MaxLengthValidator(max_length))

    def to_python(self, value):
        if value is None or isinstance(value, str):
            return value.strip() if isinstance(value, str) else value
        return str(value)

    def to_text(self, value: str) -> str:
        return value

    def from_text(self, text: str) -> str:
        return text

    def formfield(self, **kwargs):
        defaults = {"form_class": forms.CharField, "max_length": self.max_length}
        if self.choices:
            defaults = {}
        defaults.update(kwargs)
        return super().formfield(**defaults)


class EncryptedDateField(EncryptedFieldMixin, models.Field):
    """Encrypted calendar date (a date of birth, say)."""

    def to_python(self, value):
        if value is None or value == "" or isinstance(value, datetime.date):
            return value or None
        try:
            parsed = parse_date(str(value))
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValidationError(_("Ingrese una fecha válida."), code="invalid")
        return parsed

    def to_text(self, value: datetime.date) -> str:
        return value.isoformat()

    def from_text(self, text: str) -> datetime.date:
        return datetime.date.fromisoformat(text)

    def formfield(self, **kwargs):
        return super().formfield(**{"form_class": forms.DateField, **kwargs})


def encrypted_fields(model: type[models.Model]) -> list[EncryptedFieldMixin]:
    return [f for f in model._meta.concrete_fields if isinstance(f, EncryptedFieldMixin)]


class DocumentBlindIndexField(models.BinaryField):
    """Blind index of the instance's document (type + number), recomputed on every save.

    Being a field (not save() logic) it stays right for save(), bulk_create and the services
    alike; the instance must have passed validation, because an invalid document cannot be
    normalised.
    """

    def __init__(self, *args, type_field: str = "document_type", number_field: str = "document_number", **kwargs):
        self.type_field, self.number_field = type_field, number_field
        kwargs.setdefault("null", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs.pop("editable", None)
        kwargs["type_field"], kwargs["number_field"] = self.type_field, self.number_field
        return name, path, args, kwargs

    def pre_save(self, model_instance, add):
        from kernel.identity_documents import document_blind_index

        document_type = getattr(model_instance, self.type_field)
        number = getattr(model_instance, self.number_field)
        value = document_blind_index(document_type, number) if document_type and number else None
        setattr(model_instance, self.attname, value)
        return value
