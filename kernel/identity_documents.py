"""Identity documents: types, the Chilean RUN (módulo 11), normalisation for the blind index."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from kernel.crypto.blind_index import blind_index


class DocumentType(models.TextChoices):
    RUN = "run", _("RUN")
    PASSPORT = "pasaporte", _("Pasaporte")
    FOREIGN_ID = "documento_extranjero", _("Documento de identidad extranjero")
    OTHER = "otro", _("Otro documento")


_RUN_SEPARATORS = re.compile(r"[\s.\-\u2010\u2011\u2013]")  # spaces, dots and the hyphens people type
_RUN_SHAPE = re.compile(r"^0*(\d{1,9})([0-9K])$")  # leading zeros are not significant
_OTHER_DOCUMENT_NOISE = re.compile(r"[\s.\-/]")
_OTHER_DOCUMENT_SHAPE = re.compile(r"^[0-9A-Z]{3,30}$")


def run_check_digit(body: int) -> str:
    """Módulo 11: weights 2..7 repeating from the right; 11 gives 0 and 10 gives K."""
    total, weight = 0, 2
    while body:
        body, digit = divmod(body, 10)
        total += digit * weight
        weight = 2 if weight == 7 else weight + 1
    remainder = 11 - total % 11
    return {11: "0", 10: "K"}.get(remainder, str(remainder))


def normalise_run(value: str) -> str:
    """Canonical RUN: digits of the body without leading zeros, then the check digit ("123456785").

    Raises ValidationError if the value is not shaped like a RUN or its check digit is wrong.
    """
    compact = _RUN_SEPARATORS.sub("", value or "").upper()
    match = _RUN_SHAPE.match(compact)
    if not match or int(match.group(1)) == 0:
        raise ValidationError(
            _("El RUN debe tener el formato 12.345.678-5 (número y dígito verificador)."), code="run_format"
        )
    body = int(match.group(1))
    if run_check_digit(body) != match.group(2):
        raise ValidationError(_("El dígito verificador del RUN no es válido."), code="run_check_digit")
    return f"{body}{match.group(2)}"


def format_run(normalised: str) -> str:
    """'123456785' -> '12.345.678-5'."""
    body, check = normalised[:-1], normalised[-1]
    return f"{int(body):,}".replace(",", ".") + f"-{check}"


def normalise_document(document_type: str, number: str) -> str:
    """Canonical form of a document number of the given type; raises ValidationError if invalid."""
    if document_type == DocumentType.RUN:
        return normalise_run(number)
    if document_type not in DocumentType.values:
        raise ValidationError(_("Tipo de documento desconocido."), code="invalid_choice")
    compact = _OTHER_DOCUMENT_NOISE.sub("", number or "").upper()
    if not _OTHER_DOCUMENT_SHAPE.match(compact):
        raise ValidationError(
            _("El número de documento debe tener entre 3 y 30 letras o dígitos."), code="document_format"
        )
    return compact


def document_errors(document_type: str | None, number: str | None) -> dict[str, list[str]]:
    """Field-keyed errors for a (type, number) pair as entered: both or neither, and valid."""
    if bool(document_type) != bool(number):
        missing = "document_number" if document_type else "document_type"
        return {missing: [str(_("Indique el tipo y el número de documento, o ninguno de los dos."))]}
    if document_type and document_type in DocumentType.values:
        try:
            normalise_document(document_type, number)
        except ValidationError as exc:
            return {"document_number": exc.messages}
    return {}  # an unknown type is reported by the field's own choice validation


def document_blind_index(document_type: str, number: str) -> bytes:
    """Blind index of a document: the same person's RUN typed as 12.345.678-5 or 0123456785 matches."""
    return blind_index(
        purpose="identity-document", normalised_value=f"{document_type}|{normalise_document(document_type, number)}"
    )
