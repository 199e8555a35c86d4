from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseStatus(models.TextChoices):
    OPEN = "vigente", _("Vigente")
    SUSPENDED = "suspendida", _("Suspendida")
    CLOSED = "terminada", _("Terminada")


class TerminationType(models.TextChoices):
    CONVICTION = "condenatoria", _("Sentencia definitiva condenatoria")
    ACQUITTAL = "absolutoria", _("Sentencia definitiva absolutoria")
    NO_PERSEVERAR = "no_perseverar", _("Decisión de no perseverar")
    PROVISIONAL_ARCHIVE = "archivo_provisional", _("Archivo provisional")
    NO_INVESTIGAR = "facultad_no_investigar", _("Facultad de no investigar")
    OPORTUNIDAD = "principio_oportunidad", _("Principio de oportunidad")
    SOBRESEIMIENTO_DEFINITIVO = "sobreseimiento_definitivo", _("Sobreseimiento definitivo")
    SOBRESEIMIENTO_TEMPORAL = "sobreseimiento_temporal", _("Sobreseimiento temporal")
    OTHER = "otro", _("Otro término")


class TerminationGroup(models.TextChoices):
    """The four groups MITP reports use for closed cases."""

    CONVICTION = "condenatoria", _("Condenatoria")
    ACQUITTAL = "absolutoria", _("Absolutoria")
    NO_PERSEVERAR = "no_perseverar", _("No perseverar")
    OTHER = "otros", _("Otros términos")


TERMINATION_GROUP = {
    TerminationType.CONVICTION: TerminationGroup.CONVICTION,
    TerminationType.ACQUITTAL: TerminationGroup.ACQUITTAL,
    TerminationType.NO_PERSEVERAR: TerminationGroup.NO_PERSEVERAR,
}  # every other type belongs to TerminationGroup.OTHER


class TraffickingPurpose(models.TextChoices):
    SEXUAL = "explotacion_sexual", _("Explotación sexual")
    LABOUR = "trabajo_forzoso", _("Trabajo forzoso, servidumbre o esclavitud")
    ORGAN_REMOVAL = "extraccion_organos", _("Extracción de órganos")
    UNKNOWN = "sin_informacion", _("Sin información")


class ExternalSource(models.TextChoices):
    """Systems that know a case by their own reference (the RUC lives on the case itself)."""

    PDI_REPORT = "pdi-parte", _("Parte PDI")
    CARABINEROS_REPORT = "carabineros-parte", _("Parte Carabineros")
    COURT_RIT = "tribunal-rit", _("RIT del tribunal")
    OTHER = "otro", _("Otra referencia")


class SyncSource(models.TextChoices):
    """Systems that push cases through the API (PUT /api/v1/cases/by-ref/{source}/{reference}).

    ``fiscalia-ruc`` is the case's own RUC; the others are ExternalSource references. The same
    names are the namespaces of the external ids clients give victims and offenders.
    """

    FISCALIA_RUC = "fiscalia-ruc", _("RUC de la Fiscalía")
    PDI_REPORT = "pdi-parte", _("Parte PDI")
    CARABINEROS_REPORT = "carabineros-parte", _("Parte Carabineros")
    COURT_RIT = "tribunal-rit", _("RIT del tribunal")
    OTHER = "otro", _("Otra referencia")


# External references and ids sent in URLs: letters, digits, and . _ - (no slash, no space).
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class AccessRequestStatus(models.TextChoices):
    PENDING = "pendiente", _("Pendiente")
    APPROVED = "aprobada", _("Aprobada")
    DECLINED = "rechazada", _("Rechazada")


class CasePermission:
    """Object permission codenames (cases.Case Meta.permissions), from least to most."""

    VIEW = "view_case"
    VIEW_IDENTITY = "view_identity"
    COLLABORATE = "collaborate_case"
    ADMINISTER = "administer_case"
    LEAD = (VIEW, VIEW_IDENTITY, COLLABORATE, ADMINISTER)
