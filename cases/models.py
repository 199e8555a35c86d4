import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Cast
from django.db.models.lookups import Regex
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField
from guardian.models import GroupObjectPermissionBase

from cases.constants import (
    EXTERNAL_ID_PATTERN,
    AccessRequestStatus,
    CaseStatus,
    ExternalSource,
    SyncSource,
    TerminationType,
    TraffickingPurpose,
)
from cases.validators import RUC_PATTERN, validate_not_in_future, validate_ruc
from kernel.choices import FiscaliaRegional, Region, Sex
from kernel.fields import DocumentBlindIndexField, EncryptedTextField
from kernel.history import track_changes
from kernel.identity_documents import DocumentType, document_errors
from kernel.models import TimeStampedModel
from kernel.pseudonyms import CODE_PATTERN


def country_code_or_unknown(field_name: str) -> Regex:
    """ISO 3166 alpha-2 code, or '' for "sin información" (cast: CountryField would mangle the pattern)."""
    return Regex(Cast(field_name, models.CharField(max_length=2)), r"^([A-Z]{2})?$")


@track_changes
class Case(TimeStampedModel):
    """A criminal investigation for trafficking (art. 411 quáter), from intake to resolution."""

    ruc = models.CharField(
        _("RUC"),
        max_length=12,
        unique=True,
        null=True,
        blank=True,
        validators=[validate_ruc],
        help_text=_("Rol Único de Causa de la Fiscalía, por ejemplo 2300123456-7."),
    )
    intake_date = models.DateField(_("fecha de ingreso"), validators=[validate_not_in_future])
    investigation_start_date = models.DateField(
        _("fecha de inicio de la investigación"), null=True, blank=True, validators=[validate_not_in_future]
    )
    is_formalised = models.BooleanField(_("formalizada"), default=False)
    formalised_date = models.DateField(
        _("fecha de formalización"), null=True, blank=True, validators=[validate_not_in_future]
    )
    status = models.CharField(_("estado"), max_length=20, choices=CaseStatus.choices, default=CaseStatus.OPEN)
    termination_type = models.CharField(
        _("tipo de término"), max_length=40, choices=TerminationType.choices, blank=True
    )
    termination_date = models.DateField(
        _("fecha de término"), null=True, blank=True, validators=[validate_not_in_future]
    )
    purpose = models.CharField(
        _("fin de explotación"), max_length=30, choices=TraffickingPurpose.choices, default=TraffickingPurpose.UNKNOWN
    )
    region_detected = models.CharField(
        _("región de detección"), max_length=20, choices=Region.choices, default=Region.UNKNOWN
    )
    fiscalia_regional = models.CharField(
        _("fiscalía regional"), max_length=20, choices=FiscaliaRegional.choices, default=FiscaliaRegional.UNKNOWN
    )
    lead_institution = models.ForeignKey(
        "institutions.Institution",
        verbose_name=_("institución a cargo"),
        on_delete=models.PROTECT,
        related_name="led_cases",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("registrada por"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    version = models.PositiveIntegerField(_("versión"), default=1, editable=False)

    class Meta:
        verbose_name = _("causa")
        verbose_name_plural = _("causas")
        ordering = ["-intake_date", "-id"]
        # Only object permissions, held by institution groups (cases.access). No model-level
        # add/change/delete/view permission exists, so nobody can be granted "all cases".
        default_permissions = ()
        permissions = [
            ("view_case", "Ver la causa"),
            ("view_identity", "Ver la identidad de víctimas e imputados"),
            ("collaborate_case", "Colaborar en la causa"),
            ("administer_case", "Administrar la causa (compartir, aprobar solicitudes)"),
        ]
        indexes = [
            models.Index(fields=["lead_institution", "-updated_at"], name="case_lead_updated_idx"),
            models.Index(fields=["intake_date"], name="case_intake_idx"),
            models.Index(fields=["is_formalised", "investigation_start_date"], name="case_formalised_start_idx"),
            models.Index(fields=["updated_at"], name="case_updated_idx"),
            # The case list's filters (cases.filters): with the grant table, PostgreSQL combines
            # these instead of reading every case of a large institution.
            models.Index(fields=["region_detected"], name="case_region_idx"),
            models.Index(fields=["fiscalia_regional"], name="case_fiscalia_idx"),
            models.Index(fields=["purpose"], name="case_purpose_idx"),
            models.Index(fields=["status"], name="case_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(name="case_ruc_format", condition=Q(ruc__isnull=True) | Q(ruc__regex=RUC_PATTERN)),
            models.CheckConstraint(name="case_status_valid", condition=Q(status__in=CaseStatus.values)),
            models.CheckConstraint(name="case_purpose_valid", condition=Q(purpose__in=TraffickingPurpose.values)),
            models.CheckConstraint(name="case_region_valid", condition=Q(region_detected__in=Region.values)),
            models.CheckConstraint(
                name="case_fiscalia_valid", condition=Q(fiscalia_regional__in=FiscaliaRegional.values)
            ),
            models.CheckConstraint(
                name="case_termination_exactly_when_closed",
                condition=(
                    Q(
                        status=CaseStatus.CLOSED,
                        termination_type__in=TerminationType.values,
                        termination_date__isnull=False,
                    )
                    | (~Q(status=CaseStatus.CLOSED) & Q(termination_type="", termination_date__isnull=True))
                ),
            ),
            models.CheckConstraint(
                name="case_termination_after_intake",
                condition=Q(termination_date__isnull=True) | Q(termination_date__gte=F("intake_date")),
            ),
            models.CheckConstraint(
                name="case_formalised_date_with_flag",
                condition=Q(is_formalised=True, formalised_date__isnull=False)
                | Q(is_formalised=False, formalised_date__isnull=True),
            ),
            models.CheckConstraint(
                # MITP statistics count formalised cases by the year their investigation started.
                name="case_formalised_has_investigation_start",
                condition=Q(is_formalised=False) | Q(investigation_start_date__isnull=False),
            ),
            models.CheckConstraint(
                name="case_formalised_after_investigation_start",
                condition=Q(formalised_date__isnull=True)
                | Q(investigation_start_date__isnull=True)
                | Q(formalised_date__gte=F("investigation_start_date")),
            ),
            models.CheckConstraint(
                name="case_termination_after_formalisation",
                condition=Q(termination_date__isnull=True)
                | Q(formalised_date__isnull=True)
                | Q(termination_date__gte=F("formalised_date")),
            ),
            models.CheckConstraint(name="case_version_positive", condition=Q(version__gte=1)),
        ]

    def __str__(self) -> str:
        return self.ruc or f"Causa {self.pk}"

    def clean(self) -> None:
        """Cross-field rules with field-named Spanish messages (the database holds them too)."""
        errors: dict[str, str] = {}
        if self.status == CaseStatus.CLOSED:
            if not self.termination_type:
                errors["termination_type"] = _("Una causa terminada debe indicar el tipo de término.")
            if not self.termination_date:
                errors["termination_date"] = _("Una causa terminada debe indicar la fecha de término.")
        else:
            if self.termination_type:
                errors["termination_type"] = _("Solo una causa terminada puede tener tipo de término.")
            if self.termination_date:
                errors["termination_date"] = _("Solo una causa terminada puede tener fecha de término.")
        if self.termination_date and self.intake_date and self.termination_date < self.intake_date:
            errors.setdefault("termination_date", _("La fecha de término no puede ser anterior a la fecha de ingreso."))
        if self.is_formalised and not self.formalised_date:
            errors["formalised_date"] = _("Una causa formalizada debe indicar la fecha de formalización.")
        if not self.is_formalised and self.formalised_date:
            errors["formalised_date"] = _("Solo una causa formalizada puede tener fecha de formalización.")
        if self.is_formalised and not self.investigation_start_date:
            errors["investigation_start_date"] = _(
                "Una causa formalizada debe indicar la fecha de inicio de la investigación."
            )
        start, formalised = self.investigation_start_date, self.formalised_date
        if start and formalised and formalised < start:
            errors.setdefault(
                "formalised_date", _("La formalización no puede ser anterior al inicio de la investigación.")
            )
        if formalised and self.termination_date and self.termination_date < formalised:
            errors.setdefault("termination_date", _("La fecha de término no puede ser anterior a la formalización."))
        if errors:
            raise ValidationError(errors)


@track_changes
class CaseExternalReference(models.Model):
    """How another system knows this case: a police report number, a court RIT..."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="external_references")
    source = models.CharField(_("sistema de origen"), max_length=30, choices=ExternalSource.choices)
    reference = models.CharField(_("referencia"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        default_permissions = ()
        verbose_name = _("referencia externa")
        verbose_name_plural = _("referencias externas")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "reference"],
                name="external_reference_unique_per_source",
                violation_error_message=_("Otra causa ya tiene esta referencia en ese sistema."),
            ),
            models.CheckConstraint(
                name="external_reference_source_valid", condition=Q(source__in=ExternalSource.values)
            ),
            models.CheckConstraint(name="external_reference_not_blank", condition=~Q(reference="")),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.reference}"


@track_changes
class Offender(TimeStampedModel):
    """An imputado. Identity encrypted; sex and nationality plain for statistics."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(_("código"), max_length=20, unique=True, editable=False)
    given_names = EncryptedTextField(_("nombres"), max_length=200)
    surnames = EncryptedTextField(_("apellidos"), max_length=200)
    document_type = EncryptedTextField(_("tipo de documento"), max_length=30, choices=DocumentType.choices)
    document_number = EncryptedTextField(_("número de documento"), max_length=40)
    document_index = DocumentBlindIndexField(db_index=True)
    sex = models.CharField(_("sexo"), max_length=20, choices=Sex.choices, default=Sex.UNKNOWN)
    nationality = CountryField(_("nacionalidad"), blank=True)
    cases = models.ManyToManyField(Case, through="CaseOffender", related_name="offenders")
    # Optimistic lock for edits (cases.services.offender_update), as on Case and Victim.
    version = models.PositiveIntegerField(_("versión"), default=1, editable=False)

    class Meta:
        default_permissions = ()
        verbose_name = _("imputado")
        verbose_name_plural = _("imputados")
        constraints = [
            models.CheckConstraint(name="offender_code_format", condition=Q(code__regex=CODE_PATTERN)),
            models.CheckConstraint(name="offender_sex_valid", condition=Q(sex__in=Sex.values)),
            models.CheckConstraint(name="offender_nationality_code", condition=country_code_or_unknown("nationality")),
            models.CheckConstraint(
                name="offender_document_complete",
                condition=Q(document_type__isnull=True, document_number__isnull=True, document_index__isnull=True)
                | Q(document_type__isnull=False, document_number__isnull=False, document_index__isnull=False),
            ),
            models.CheckConstraint(name="offender_version_positive", condition=Q(version__gte=1)),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        if errors := document_errors(self.document_type, self.document_number):
            raise ValidationError(errors)


class PersonExternalReference(models.Model):
    """The id an institution's source system (api: cases.constants.SyncSource) gives a person,
    so that a replayed sync updates the same person instead of registering them again.

    Ids belong to the institution that sent them: another institution's system sending the same
    id names a different person of its own, never this record (which it may not even see).
    """

    institution = models.ForeignKey("institutions.Institution", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(_("sistema de origen"), max_length=30, choices=SyncSource.choices)
    reference = models.CharField(_("identificador externo"), max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["institution", "source", "reference"], name="%(class)s_unique_per_institution"
            ),
            models.CheckConstraint(name="%(class)s_source_valid", condition=Q(source__in=SyncSource.values)),
            models.CheckConstraint(name="%(class)s_format", condition=Q(reference__regex=EXTERNAL_ID_PATTERN)),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.reference}"


@track_changes
class OffenderExternalReference(PersonExternalReference):
    offender = models.ForeignKey(Offender, on_delete=models.CASCADE, related_name="external_references")


@track_changes
class CaseOffender(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="offender_links")
    offender = models.ForeignKey(Offender, on_delete=models.CASCADE, related_name="case_links")
    is_formalised = models.BooleanField(_("formalizado"), default=False)
    is_convicted = models.BooleanField(_("condenado"), default=False)
    sentence_date = models.DateField(
        _("fecha de la sentencia"), null=True, blank=True, validators=[validate_not_in_future]
    )

    class Meta:
        default_permissions = ()
        verbose_name = _("imputado en causa")
        verbose_name_plural = _("imputados en causas")
        constraints = [
            models.UniqueConstraint(fields=["case", "offender"], name="case_offender_unique"),
            models.CheckConstraint(
                name="case_offender_sentence_with_conviction",
                condition=Q(is_convicted=True, sentence_date__isnull=False)
                | Q(is_convicted=False, sentence_date__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.offender_id} en {self.case_id}"

    def clean(self) -> None:
        if self.is_convicted and not self.sentence_date:
            raise ValidationError({"sentence_date": _("Un condenado debe tener fecha de sentencia.")})
        if not self.is_convicted and self.sentence_date:
            raise ValidationError({"sentence_date": _("Solo un condenado puede tener fecha de sentencia.")})


@track_changes
class CaseGroupObjectPermission(GroupObjectPermissionBase):
    """Guardian's direct foreign-key table: which institution group holds which permission on
    which case (see cases.access)."""

    content_object = models.ForeignKey(Case, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        default_permissions = ()
        # guardian's unique (group, permission, content_object) is the index every visibility
        # query reads ("every case my institution may see"); no second index is needed.


@track_changes
class CaseShare(TimeStampedModel):
    """A grant of a case to another institution, with why. While active it is mirrored by the
    grantee's object permissions (cases.sharing keeps the two in step)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="shares")
    institution = models.ForeignKey(
        "institutions.Institution", verbose_name=_("institución"), on_delete=models.PROTECT, related_name="case_shares"
    )
    can_view_identity = models.BooleanField(_("ver identidad"), default=False)
    can_collaborate = models.BooleanField(_("colaborar"), default=False)
    reason = models.TextField(_("motivo"))
    # Identity access rests on victims' consents or on a stated legal basis (e.g. an order).
    legal_basis = models.TextField(_("fundamento legal"), blank=True)
    consents = models.ManyToManyField("victims.VictimConsent", blank=True, related_name="shares")
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(_("revocada"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.TextField(_("motivo de la revocación"), blank=True)

    class Meta:
        verbose_name = _("causa compartida")
        verbose_name_plural = _("causas compartidas")
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["case", "institution"],
                condition=Q(revoked_at__isnull=True),
                name="case_share_one_active_per_institution",
                violation_error_message=_("La causa ya está compartida con esa institución."),
            ),
            models.CheckConstraint(name="case_share_reason_required", condition=~Q(reason="")),
            models.CheckConstraint(
                name="case_share_revocation_complete",
                condition=Q(revoked_at__isnull=True, revoked_by__isnull=True)
                | Q(revoked_at__isnull=False, revoked_by__isnull=False) & ~Q(revoke_reason=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case} → {self.institution}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


@track_changes
class AccessRequest(TimeStampedModel):
    """An institution asks the lead institution for access to a case it cannot see."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="access_requests")
    institution = models.ForeignKey(
        "institutions.Institution", on_delete=models.PROTECT, related_name="access_requests"
    )
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(_("motivo"))
    status = models.CharField(
        _("estado"), max_length=20, choices=AccessRequestStatus.choices, default=AccessRequestStatus.PENDING
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.TextField(_("nota de la decisión"), blank=True)

    class Meta:
        verbose_name = _("solicitud de acceso")
        verbose_name_plural = _("solicitudes de acceso")
        default_permissions = ()
        constraints = [
            models.CheckConstraint(
                name="access_request_status_valid", condition=Q(status__in=AccessRequestStatus.values)
            ),
            models.CheckConstraint(name="access_request_reason_required", condition=~Q(reason="")),
            models.CheckConstraint(
                name="access_request_decision_complete",
                condition=Q(status=AccessRequestStatus.PENDING, decided_at__isnull=True, decided_by__isnull=True)
                | (~Q(status=AccessRequestStatus.PENDING) & Q(decided_at__isnull=False, decided_by__isnull=False)),
            ),
            models.UniqueConstraint(
                fields=["case", "institution"],
                condition=Q(status=AccessRequestStatus.PENDING),
                name="access_request_one_pending",
                violation_error_message=_("Ya existe una solicitud pendiente de su institución."),
            ),
        ]

    def __str__(self) -> str:
        return f"Solicitud {self.pk}"
