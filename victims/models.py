import datetime
import uuid

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_countries.fields import CountryField

from cases.constants import TraffickingPurpose
from cases.models import PersonExternalReference, country_code_or_unknown
from cases.validators import validate_not_in_future
from kernel.choices import Region, Sex
from kernel.fields import DocumentBlindIndexField, EncryptedDateField, EncryptedTextField
from kernel.history import track_changes
from kernel.identity_documents import DocumentType, document_errors
from kernel.models import TimeStampedModel
from kernel.pseudonyms import CODE_PATTERN
from victims.constants import ADULT_AGE, MAX_AGE, AgeStatus

age_validators = [MinValueValidator(0), MaxValueValidator(MAX_AGE)]


@track_changes
class Victim(TimeStampedModel):
    """A person. Shown everywhere by ``code``; identity only to those with identity access.

    Identity fields are encrypted (kernel.fields); only sex, nationality and age data are
    plaintext, because statistics aggregate them in the database.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    code = models.CharField(_("código"), max_length=20, unique=True, editable=False)

    given_names = EncryptedTextField(_("nombres"), max_length=200)
    surnames = EncryptedTextField(_("apellidos"), max_length=200)
    document_type = EncryptedTextField(_("tipo de documento"), max_length=30, choices=DocumentType.choices)
    document_number = EncryptedTextField(_("número de documento"), max_length=40)
    document_index = DocumentBlindIndexField(db_index=True)
    birth_date = EncryptedDateField(_("fecha de nacimiento"), validators=[validate_not_in_future])
    phone = EncryptedTextField(_("teléfono"), max_length=40)
    email = EncryptedTextField(_("correo electrónico"), max_length=254)
    address = EncryptedTextField(_("dirección"), max_length=300)
    notes = EncryptedTextField(_("observaciones"), max_length=4000)

    sex = models.CharField(_("sexo"), max_length=20, choices=Sex.choices, default=Sex.UNKNOWN)
    nationality = CountryField(_("nacionalidad"), blank=True, help_text=_("En blanco: sin información."))
    birth_year = models.PositiveSmallIntegerField(_("año de nacimiento"), null=True, blank=True)
    age_at_identification = models.PositiveSmallIntegerField(
        _("edad al ser identificada"), null=True, blank=True, validators=age_validators
    )

    registering_institution = models.ForeignKey(
        "institutions.Institution",
        verbose_name=_("institución que registró"),
        on_delete=models.PROTECT,
        related_name="registered_victims",
    )
    cases = models.ManyToManyField("cases.Case", through="CaseVictim", related_name="victims")
    version = models.PositiveIntegerField(_("versión"), default=1, editable=False)

    class Meta:
        default_permissions = ()
        verbose_name = _("víctima")
        verbose_name_plural = _("víctimas")
        constraints = [
            models.CheckConstraint(name="victim_code_format", condition=Q(code__regex=CODE_PATTERN)),
            models.CheckConstraint(name="victim_sex_valid", condition=Q(sex__in=Sex.values)),
            models.CheckConstraint(name="victim_nationality_code", condition=country_code_or_unknown("nationality")),
            models.CheckConstraint(
                name="victim_age_at_identification_range",
                condition=Q(age_at_identification__isnull=True) | Q(age_at_identification__lte=MAX_AGE),
            ),
            models.CheckConstraint(
                name="victim_birth_year_range",
                condition=Q(birth_year__isnull=True) | Q(birth_year__gte=1900, birth_year__lte=2100),
            ),
            models.CheckConstraint(
                name="victim_document_complete",
                condition=Q(document_type__isnull=True, document_number__isnull=True, document_index__isnull=True)
                | Q(document_type__isnull=False, document_number__isnull=False, document_index__isnull=False),
            ),
            models.CheckConstraint(name="victim_version_positive", condition=Q(version__gte=1)),
        ]

    def __str__(self) -> str:
        return self.code

    def clean(self) -> None:
        errors: dict[str, object] = document_errors(self.document_type, self.document_number)
        if self.birth_year and self.birth_year > timezone.localdate().year:
            errors["birth_year"] = _("El año de nacimiento no puede ser posterior al año en curso.")
        if self.birth_year and self.birth_year < timezone.localdate().year - MAX_AGE:
            errors["birth_year"] = _("El año de nacimiento indica una edad mayor a %(max)s años.") % {"max": MAX_AGE}
        birth_date = self.birth_date if isinstance(self.birth_date, datetime.date) else None
        if self.birth_year and birth_date and birth_date.year != self.birth_year:
            errors.setdefault("birth_year", _("El año de nacimiento no coincide con la fecha de nacimiento."))
        if errors:
            raise ValidationError(errors)


@track_changes
class VictimExternalReference(PersonExternalReference):
    victim = models.ForeignKey(Victim, on_delete=models.CASCADE, related_name="external_references")


@track_changes
class CaseVictim(models.Model):
    """A victim's part in one case: what the statistics count per case."""

    case = models.ForeignKey("cases.Case", on_delete=models.CASCADE, related_name="victim_links")
    victim = models.ForeignKey(Victim, on_delete=models.CASCADE, related_name="case_links")
    age_status = models.CharField(
        _("edad a la fecha de los hechos"), max_length=20, choices=AgeStatus.choices, default=AgeStatus.UNKNOWN
    )
    age_at_facts = models.PositiveSmallIntegerField(
        _("edad a la fecha de los hechos (años)"), null=True, blank=True, validators=age_validators
    )
    # NNA: under 18 at the time of the facts. NULL when unknown. Computed by PostgreSQL so that
    # statistics and filters cannot disagree with the age recorded.
    is_minor = models.GeneratedField(
        expression=models.Case(
            models.When(age_status=AgeStatus.MINOR_UNKNOWN, then=models.Value(True)),
            models.When(age_status=AgeStatus.KNOWN, age_at_facts__lt=ADULT_AGE, then=models.Value(True)),
            models.When(age_status=AgeStatus.KNOWN, then=models.Value(False)),
            default=models.Value(None),
            output_field=models.BooleanField(null=True),
        ),
        output_field=models.BooleanField(null=True),
        db_persist=True,
        verbose_name=_("NNA"),
    )
    purpose = models.CharField(
        _("fin de explotación"), max_length=30, choices=TraffickingPurpose.choices, default=TraffickingPurpose.UNKNOWN
    )
    region_detected = models.CharField(
        _("región de detección"), max_length=20, choices=Region.choices, default=Region.UNKNOWN
    )
    identified_date = models.DateField(
        _("fecha de identificación"), null=True, blank=True, validators=[validate_not_in_future]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        default_permissions = ()
        verbose_name = _("víctima en causa")
        verbose_name_plural = _("víctimas en causas")
        constraints = [
            models.UniqueConstraint(
                fields=["case", "victim"],
                name="case_victim_unique",
                violation_error_message=_("Esta víctima ya está vinculada a la causa."),
            ),
            models.CheckConstraint(name="case_victim_age_status_valid", condition=Q(age_status__in=AgeStatus.values)),
            models.CheckConstraint(
                name="case_victim_age_exactly_when_known",
                condition=Q(age_status=AgeStatus.KNOWN, age_at_facts__isnull=False, age_at_facts__lte=MAX_AGE)
                | (~Q(age_status=AgeStatus.KNOWN) & Q(age_at_facts__isnull=True)),
            ),
            models.CheckConstraint(
                name="case_victim_purpose_valid", condition=Q(purpose__in=TraffickingPurpose.values)
            ),
            models.CheckConstraint(name="case_victim_region_valid", condition=Q(region_detected__in=Region.values)),
        ]

    def __str__(self) -> str:
        return f"{self.victim_id} en {self.case_id}"

    def clean(self) -> None:
        if self.age_status == AgeStatus.KNOWN and self.age_at_facts is None:
            raise ValidationError({"age_at_facts": _("Indique la edad, o marque que es desconocida.")})
        if self.age_status != AgeStatus.KNOWN and self.age_at_facts is not None:
            raise ValidationError({"age_at_facts": _("Solo se registra la edad en años cuando la edad es conocida.")})


@track_changes
class VictimConsent(TimeStampedModel):
    """A victim's recorded consent to share their identity. Withdrawing it removes, at once,
    every identity permission that rests on it (cases.sharing)."""

    victim = models.ForeignKey(Victim, on_delete=models.CASCADE, related_name="consents")
    given_on = models.DateField(_("fecha del consentimiento"), validators=[validate_not_in_future])
    scope = models.TextField(_("alcance"), help_text=_("Con quién y para qué se comparte la identidad."))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_by_institution = models.ForeignKey("institutions.Institution", on_delete=models.PROTECT, related_name="+")
    withdrawn_on = models.DateField(_("fecha de retiro"), null=True, blank=True, validators=[validate_not_in_future])
    withdrawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        verbose_name = _("consentimiento")
        verbose_name_plural = _("consentimientos")
        default_permissions = ()
        constraints = [
            models.CheckConstraint(name="victim_consent_scope_required", condition=~Q(scope="")),
            models.CheckConstraint(
                name="victim_consent_withdrawal_complete",
                condition=Q(withdrawn_on__isnull=True, withdrawn_by__isnull=True)
                | Q(withdrawn_on__isnull=False, withdrawn_by__isnull=False),
            ),
            models.CheckConstraint(
                name="victim_consent_withdrawn_after_given",
                condition=Q(withdrawn_on__isnull=True) | Q(withdrawn_on__gte=models.F("given_on")),
            ),
        ]

    def __str__(self) -> str:
        return f"Consentimiento {self.pk}"

    @property
    def is_active(self) -> bool:
        return self.withdrawn_on is None

    def clean(self) -> None:
        if self.withdrawn_on and self.given_on and self.withdrawn_on < self.given_on:
            raise ValidationError({"withdrawn_on": _("El retiro no puede ser anterior al consentimiento.")})


# The database's half of "no share to the registering institution" and "a consent the share
# rests on is this victim's": both compare with another table, which a CHECK cannot.
VICTIM_SHARE_COHERENT = pgtrigger.Trigger(
    name="victim_share_coherent",
    operation=pgtrigger.Insert | pgtrigger.Update,
    when=pgtrigger.Before,
    func=(
        "IF NEW.institution_id = (SELECT registering_institution_id FROM victims_victim WHERE id = NEW.victim_id) "
        "THEN RAISE EXCEPTION 'a victim is not shared with the institution that registered it' "
        "USING ERRCODE = 'check_violation'; END IF; "
        "IF NEW.consent_id IS NOT NULL AND NEW.victim_id IS DISTINCT FROM "
        "(SELECT victim_id FROM victims_victimconsent WHERE id = NEW.consent_id) "
        "THEN RAISE EXCEPTION 'a victim share rests only on that victim''s consent' "
        "USING ERRCODE = 'check_violation'; END IF; RETURN NEW;"
    ),
)


@track_changes
class VictimShare(TimeStampedModel):
    """A grant of a victim registered with no case (Protocolo de Atención) to another
    institution, with why: what cases.models.CaseShare is for a case, given by the registering
    institution (which holds over such a victim what a lead holds over a case).

    *Ver* is always given (pseudonym and statistical fields); *ver identidad* rests on a stated
    legal basis or on the victim's own active consent (``consent``), and ends at once when that
    consent is withdrawn (victims.sharing.victim_shares_drop_identity_resting_on); *colaborar*
    as for a case. The row itself is the grant: victims.selectors reads the active shares.

    A share gives access only while the victim has no case: once the victim is linked to a
    case, the case's grants govern, as they do for the registering institution itself.
    """

    victim = models.ForeignKey(Victim, verbose_name=_("víctima"), on_delete=models.CASCADE, related_name="shares")
    institution = models.ForeignKey(
        "institutions.Institution",
        verbose_name=_("institución"),
        on_delete=models.PROTECT,
        related_name="victim_shares",
    )
    can_view_identity = models.BooleanField(_("ver identidad"), default=False)
    can_collaborate = models.BooleanField(_("colaborar"), default=False)
    reason = models.TextField(_("motivo"))
    # Identity access rests on the victim's consent or on a stated legal basis (e.g. an order).
    legal_basis = models.TextField(_("fundamento legal"), blank=True)
    consent = models.ForeignKey(
        VictimConsent,
        verbose_name=_("consentimiento"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="victim_shares",
    )
    granted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revoked_at = models.DateTimeField(_("revocada"), null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    revoke_reason = models.TextField(_("motivo de la revocación"), blank=True)

    class Meta:
        verbose_name = _("víctima compartida")
        verbose_name_plural = _("víctimas compartidas")
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(
                fields=["victim", "institution"],
                condition=Q(revoked_at__isnull=True),
                name="victim_share_one_active_per_institution",
                violation_error_message=_("La víctima ya está compartida con esa institución."),
            ),
            models.CheckConstraint(name="victim_share_reason_required", condition=~Q(reason="")),
            models.CheckConstraint(
                name="victim_share_revocation_complete",
                condition=Q(revoked_at__isnull=True, revoked_by__isnull=True)
                | Q(revoked_at__isnull=False, revoked_by__isnull=False) & ~Q(revoke_reason=""),
            ),
            # Identity never without a basis; a legal basis is stated only for identity, and then
            # the share does not rest on consent (so withdrawing one never takes it away).
            models.CheckConstraint(
                name="victim_share_identity_has_a_basis",
                condition=Q(can_view_identity=False) | ~Q(legal_basis="") | Q(consent__isnull=False),
            ),
            models.CheckConstraint(
                name="victim_share_legal_basis_only_for_identity",
                condition=Q(legal_basis="") | Q(can_view_identity=True, consent__isnull=True),
            ),
        ]
        triggers = [VICTIM_SHARE_COHERENT]

    def __str__(self) -> str:
        return f"{self.victim} → {self.institution}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
