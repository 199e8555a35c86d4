import re

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

RUC_PATTERN = r"^[0-9]{10}-[0-9K]$"
_RUC = re.compile(RUC_PATTERN)


def normalise_ruc(value: str) -> str:
    return (value or "").strip().upper().replace(".", "")


def validate_ruc(value: str) -> None:
    """RUC: ten digits, a hyphen, a check character 0-9 or K; the first two digits are the year.

    Only the shape and the year are checked: the check character's algorithm is the Fiscalía's
    and is not published, so a well-formed RUC is accepted as given.
    """
    if not _RUC.match(value or ""):
        raise ValidationError(
            _("El RUC debe tener diez dígitos, un guion y un dígito verificador (por ejemplo 2300123456-7)."),
            code="ruc_format",
        )
    year = 2000 + int(value[:2])
    if year > timezone.localdate().year:
        raise ValidationError(
            _("Los dos primeros dígitos del RUC indican el año de ingreso, y %(year)s aún no llega."),
            code="ruc_year",
            params={"year": year},
        )


def validate_not_in_future(value) -> None:
    if value and value > timezone.localdate():
        raise ValidationError(_("La fecha no puede ser posterior a hoy."), code="future_date")
