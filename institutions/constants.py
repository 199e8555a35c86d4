from django.db import models
from django.utils.translation import gettext_lazy as _


class InstitutionKind(models.TextChoices):
    POLICE = "policia", _("Policía")
    PROSECUTION = "fiscalia", _("Ministerio Público")
    JUDICIARY = "judicial", _("Poder Judicial")
    MIGRATION = "migracion", _("Servicio de migraciones")
    MINISTRY = "ministerio", _("Ministerio o subsecretaría")
    PUBLIC_SERVICE = "servicio_publico", _("Servicio público")
    CHILD_PROTECTION = "proteccion_nna", _("Protección de la niñez")
    NGO = "ong", _("Organización de la sociedad civil")
    INTERNATIONAL = "internacional", _("Organismo internacional")


class Role(models.TextChoices):
    READER = "lector", _("Lector")
    CASE_OFFICER = "oficial", _("Oficial de casos")
    INSTITUTION_ADMIN = "administrador", _("Administrador institucional")
