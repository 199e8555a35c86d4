"""Statistics snapshots: a computation of the MITP tables, kept with what it was computed from.

A snapshot is reproducible evidence: its parameters (years, registers), the definition version
(stats.tables.DEFINITION_VERSION), a fingerprint of exactly the data it read, when and how long
it took, and the tables. The same parameters over the same data never make a second snapshot
(a unique constraint, behind stats.snapshots' advisory lock). Snapshots hold counts only, never
identity; who may read them is the dashboard's (statistics capability).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SnapshotKind(models.TextChoices):
    NIGHTLY = "nocturna", _("Actualización nocturna del año en curso")
    ANNUAL_CLOSING = "cierre_anual", _("Cierre anual")
    REQUESTED = "solicitada", _("Recalculada a pedido")


class StatisticsSnapshot(models.Model):
    year_from = models.PositiveSmallIntegerField(_("desde el año"))
    year_to = models.PositiveSmallIntegerField(_("hasta el año"))
    registers = ArrayField(models.CharField(max_length=20), verbose_name=_("registros"))
    definition_version = models.CharField(_("versión de las definiciones"), max_length=20)
    # sha256 of (years, registers, definition version): what was asked, in one comparable value.
    parameters_key = models.CharField(max_length=64)
    # md5 over the statistical columns of every row read (stats.snapshots.data_fingerprint).
    data_fingerprint = models.CharField(_("huella de los datos"), max_length=64)
    kind = models.CharField(_("tipo"), max_length=20, choices=SnapshotKind.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    computed_at = models.DateTimeField(_("calculada"), auto_now_add=True)
    # The last time a computation found the data unchanged since this snapshot (computed_at at
    # first). The dashboard shows the latest *confirmed*: data that changed and changed back
    # (A, B, A) make no third snapshot, but the first one is current again.
    confirmed_at = models.DateTimeField(_("confirmada vigente"), default=timezone.now)
    computation_ms = models.PositiveIntegerField(_("duración del cálculo (ms)"))
    tables = models.JSONField(_("tablas"))

    class Meta:
        verbose_name = _("instantánea de estadísticas")
        verbose_name_plural = _("instantáneas de estadísticas")
        default_permissions = ()
        ordering = ["-confirmed_at", "-computed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["parameters_key", "data_fingerprint"], name="snapshot_once_per_parameters_and_data"
            ),
            models.CheckConstraint(name="snapshot_years_ordered", condition=Q(year_from__lte=models.F("year_to"))),
            models.CheckConstraint(name="snapshot_kind_valid", condition=Q(kind__in=SnapshotKind.values)),
        ]
        indexes = [models.Index(fields=["parameters_key", "-confirmed_at"], name="snapshot_latest_confirmed")]

    def __str__(self) -> str:
        return f"{self.year_from}-{self.year_to} {','.join(self.registers)} ({self.computed_at:%Y-%m-%d %H:%M})"


class RequestStatus(models.TextChoices):
    PENDING = "pendiente", _("Pendiente")
    RUNNING = "en_curso", _("En curso")
    READY = "lista", _("Lista")
    FAILED = "fallida", _("Fallida")


class StatisticsRequest(models.Model):
    """A recalculation the Secretaría MITP asked for from the dashboard (issue 7). It holds the
    parameters and the progress only, never a count: its snapshot holds the tables. ``error`` is
    a fixed Spanish sentence, never an exception's text (which could quote data)."""

    status = models.CharField(_("estado"), max_length=20, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    year_from = models.PositiveSmallIntegerField(_("desde el año"))
    year_to = models.PositiveSmallIntegerField(_("hasta el año"))
    registers = ArrayField(models.CharField(max_length=20), verbose_name=_("registros"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    snapshot = models.ForeignKey(
        StatisticsSnapshot, on_delete=models.SET_NULL, null=True, blank=True, related_name="requests"
    )
    created_at = models.DateTimeField(_("solicitada"), auto_now_add=True)
    started_at = models.DateTimeField(_("iniciada"), null=True, blank=True)
    finished_at = models.DateTimeField(_("terminada"), null=True, blank=True)
    error = models.CharField(_("error"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("solicitud de recálculo de estadísticas")
        verbose_name_plural = _("solicitudes de recálculo de estadísticas")
        default_permissions = ()
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="statistics_request_years_ordered", condition=Q(year_from__lte=models.F("year_to"))
            ),
            models.CheckConstraint(
                name="statistics_request_status_valid", condition=Q(status__in=RequestStatus.values)
            ),
            # Asking again for what is already being computed joins the open request: a
            # secretariat double click, or fifty, queues one computation.
            models.UniqueConstraint(
                fields=["year_from", "year_to", "registers"],
                condition=Q(status__in=[RequestStatus.PENDING, RequestStatus.RUNNING]),
                name="statistics_request_one_open_per_parameters",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year_from}-{self.year_to} {','.join(self.registers)} ({self.status})"

    @property
    def is_done(self) -> bool:
        return self.status in (RequestStatus.READY, RequestStatus.FAILED)


class CountedPerson(models.Model):
    """One person a statistics computation counts: a row of a TEMPORARY table that lives inside
    one register's computation (stats.populations), never stored, never seen by another
    connection. Each population (all victims, the sexual- and labour-trafficking victims, the
    NNA victims, the offenders) is selected once, each person with the facts of the one link
    they are counted by, and every table of the population is then one GROUP BY over it.

    Statistical values only: no identity, nothing to decrypt (``person_id`` is the person's
    internal id, which identifies the row, not the person)."""

    pk = models.CompositePrimaryKey("population", "person_id")
    population = models.CharField(max_length=20)
    person_id = models.UUIDField()
    year = models.IntegerField()
    purpose = models.CharField(max_length=40, blank=True)  # "" where the population has none
    sex = models.CharField(max_length=20, blank=True)  # "" where the population has none
    nationality = models.CharField(max_length=2, blank=True)  # "" where the population has none
    region = models.CharField(max_length=20, blank=True)  # region detected, or fiscalía regional
    is_minor = models.BooleanField(null=True)
    nna_age = models.IntegerField(null=True)  # exact age, or -1: a minor of unknown exact age
    formalised = models.BooleanField(null=True)  # offenders: in any case of the register and range
    convicted = models.BooleanField(null=True)

    class Meta:
        managed = False  # a temporary table, created per computation (stats.populations)
        db_table = "stats_counted_person"
        default_permissions = ()

    def __str__(self) -> str:
        return f"{self.population} {self.year}"
