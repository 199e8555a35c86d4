from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q, Value
from django.utils.translation import gettext_lazy as _

from cases.constants import SyncSource
from institutions.constants import InstitutionKind, Role
from kernel.choices import Region
from kernel.models import TimeStampedModel


class Institution(TimeStampedModel):
    name = models.CharField(_("nombre"), max_length=200, unique=True)
    short_name = models.CharField(_("sigla"), max_length=40, unique=True)
    kind = models.CharField(_("tipo"), max_length=30, choices=InstitutionKind.choices)
    # Blank for national institutions; a region for regional offices and local NGOs.
    region = models.CharField(_("región"), max_length=20, choices=Region.choices, blank=True)
    is_mitp_member = models.BooleanField(_("integrante de la MITP"), default=True)
    is_active = models.BooleanField(_("activa"), default=True)
    # The source systems whose references this institution's systems may write through the API
    # (PUT /api/v1/cases/by-ref/{source}/...): the PDI owns pdi-parte, the Fiscalía
    # fiscalia-ruc. Nobody can claim, or write into, the references of another's system.
    sync_sources = ArrayField(
        models.CharField(max_length=30, choices=SyncSource.choices),
        verbose_name=_("sistemas de origen propios"),
        default=list,
        # Also in the database: rows written without the field (older migrations' models, raw
        # SQL) get an empty list, not a NOT NULL error.
        db_default=Value([], output_field=ArrayField(models.CharField(max_length=30))),
        blank=True,
    )
    # The group that holds this institution's object permissions (cases.access).
    group = models.OneToOneField(
        "auth.Group", on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="institution"
    )

    class Meta:
        verbose_name = _("institución")
        verbose_name_plural = _("instituciones")
        ordering = ["short_name"]
        constraints = [
            models.CheckConstraint(name="institution_kind_valid", condition=Q(kind__in=InstitutionKind.values)),
            models.CheckConstraint(
                name="institution_region_valid", condition=Q(region="") | Q(region__in=Region.values)
            ),
            models.CheckConstraint(name="institution_names_not_blank", condition=~Q(name="") & ~Q(short_name="")),
        ]

    def __str__(self) -> str:
        return self.short_name


class User(AbstractUser):
    """A person who signs in. Human users belong to exactly one institution with one role.

    System administrators (staff) may have no institution: they manage accounts and reference
    data and hold no grant, so they see no case content.
    """

    institution = models.ForeignKey(
        Institution,
        verbose_name=_("institución"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
    )
    role = models.CharField(_("rol"), max_length=20, choices=Role.choices, blank=True)
    is_mitp_secretariat = models.BooleanField(_("Secretaría MITP"), default=False)
    is_sermig_officer = models.BooleanField(_("oficial Sermig"), default=False)
    # Reads the MITP statistics dashboard (stats.access): counts only, never identity.
    has_statistics_access = models.BooleanField(_("acceso a estadísticas"), default=False)
    # The service user of a machine client (api.models.ApiClient): it acts only through OAuth2
    # tokens, has no usable password and never signs in to the web.
    is_api_client = models.BooleanField(_("cliente de la API"), default=False, editable=False)

    class Meta:
        verbose_name = _("usuario")
        verbose_name_plural = _("usuarios")
        constraints = [
            # Institution and role come together: a member has both, a pure system admin neither.
            models.CheckConstraint(
                name="user_institution_and_role_together",
                condition=(Q(institution__isnull=False) & Q(role__in=Role.values))
                | (Q(institution__isnull=True) & Q(role="") & Q(is_staff=True)),
            ),
        ]
