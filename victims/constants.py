from django.db import models
from django.utils.translation import gettext_lazy as _

ADULT_AGE = 18
MAX_AGE = 120


class AgeStatus(models.TextChoices):
    """What is known of a victim's age at the time of the facts."""

    KNOWN = "conocida", _("Edad conocida")
    MINOR_UNKNOWN = "menor_sin_edad", _("Menor de edad, edad exacta desconocida")
    UNKNOWN = "desconocida", _("Edad desconocida")


class VictimPermission:
    """What an institution holds over a victim registered with no case (Protocolo de Atención),
    named as the access model names them: the registering institution holds all four, a grantee
    what its share gives (victims.models.VictimShare). Not stored: victims.selectors derives them."""

    VIEW = "ver"
    VIEW_IDENTITY = "ver_identidad"
    COLLABORATE = "colaborar"
    ADMINISTER = "administrar"
    ALL = (VIEW, VIEW_IDENTITY, COLLABORATE, ADMINISTER)
