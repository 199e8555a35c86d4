from django.db import models
from django.utils.translation import gettext_lazy as _

ADULT_AGE = 18
MAX_AGE = 120


class AgeStatus(models.TextChoices):
    """What is known of a victim's age at the time of the facts."""

    KNOWN = "conocida", _("Edad conocida")
    MINOR_UNKNOWN = "menor_sin_edad", _("Menor de edad, edad exacta desconocida")
    UNKNOWN = "desconocida", _("Edad desconocida")
