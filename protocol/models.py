"""Protocolo de Atención: a victim's activations and their transitions (issue 6).

The state of an activation moves only through protocol.services.activation_transition, along
protocol.constants.ACTIVATION_TRANSITIONS; a trigger refuses any other change of state in the
database itself, whatever code attempts it.
"""

from __future__ import annotations

import uuid

import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.validators import validate_not_in_future
from kernel.fields import EncryptedTextField
from kernel.history import track_changes
from kernel.models import TimeStampedModel
from protocol.constants import (
    ALLOWED_REFERRAL_STATE_PAIRS,
    ALLOWED_RESIDENCE_STATE_PAIRS,
    ALLOWED_STATE_PAIRS,
    OPEN_REFERRAL_STATES,
    OPEN_RESIDENCE_STATES,
    OPEN_STATES,
    ActivationAction,
    ActivationState,
    ReferralAction,
    ReferralState,
    RequestedBy,
    ResidenceAction,
    ResidenceState,
    ServiceType,
)


def state_moves_by_transition_only(name: str, pairs, what: str) -> pgtrigger.Trigger:
    """The database's half of a state machine: a change of ``state`` must be one of ``pairs``
    (the transition table) and move ``version`` on by exactly one, as the transition services
    do. A stale instance saved again, or a bare UPDATE, cannot move a state."""
    pairs_sql = ", ".join(f"('{start}', '{end}')" for start, end in pairs)
    return pgtrigger.Trigger(
        name=name,
        operation=pgtrigger.Update,
        when=pgtrigger.Before,
        condition=pgtrigger.Q(old__state__df=pgtrigger.F("new__state")),
        func=(
            f"IF (OLD.state, NEW.state) NOT IN ({pairs_sql}) THEN "
            f"RAISE EXCEPTION '{what}: % -> % is not a transition', OLD.state, NEW.state "
            "USING ERRCODE = 'check_violation'; END IF; "
            "IF NEW.version IS DISTINCT FROM OLD.version + 1 THEN "
            "RAISE EXCEPTION 'state changes only through a transition (version % -> %)', OLD.version, "
            "NEW.version USING ERRCODE = 'check_violation'; END IF; RETURN NEW;"
        ),
    )


@track_changes
class ProtocolActivation(TimeStampedModel):
    """A victim's entry into the Protocolo de Atención, as one institution activated it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    victim = models.ForeignKey(
        "victims.Victim", verbose_name=_("víctima"), on_delete=models.PROTECT, related_name="protocol_activations"
    )
    institution = models.ForeignKey(
        "institutions.Institution",
        verbose_name=_("institución que activa"),
        on_delete=models.PROTECT,
        related_name="protocol_activations",
    )
    requested_by = models.CharField(_("solicitada por"), max_length=20, choices=RequestedBy.choices)
    # Only when a third party asked on the victim's behalf: who, and how to reach them.
    requester_name = EncryptedTextField(_("nombre de quien solicita"), max_length=200)
    requester_contact = EncryptedTextField(_("contacto de quien solicita"), max_length=300)
    requested_on = models.DateField(_("fecha de la solicitud"), validators=[validate_not_in_future])
    consent_on = models.DateField(
        _("fecha del consentimiento informado"),
        null=True,
        blank=True,
        validators=[validate_not_in_future],
        help_text=_("La víctima consintió, informada, en ingresar al protocolo."),
    )
    # Who recorded the consent, and when (access-model.md: a consent record says who recorded it).
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    consent_recorded_at = models.DateTimeField(_("consentimiento registrado"), null=True, blank=True)
    state = models.CharField(
        _("estado"), max_length=20, choices=ActivationState.choices, default=ActivationState.REQUESTED, editable=False
    )
    state_changed_at = models.DateTimeField(_("último cambio de estado"), auto_now_add=True)
    outcome_reason = models.TextField(_("motivo"), blank=True, help_text=_("Por qué se rechazó, desistió o cerró."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(_("versión"), default=1, editable=False)

    class Meta:
        verbose_name = _("activación del protocolo")
        verbose_name_plural = _("activaciones del protocolo")
        default_permissions = ()
        ordering = ["-requested_on", "-created_at"]
        indexes = [models.Index(fields=["institution", "state"], name="activation_institution_state")]
        constraints = [
            models.UniqueConstraint(
                fields=["victim"],
                condition=Q(state__in=OPEN_STATES),
                name="activation_one_open_per_victim",
                violation_error_message=_("Esta víctima ya tiene una activación del protocolo en curso."),
            ),
            models.CheckConstraint(name="activation_state_valid", condition=Q(state__in=ActivationState.values)),
            models.CheckConstraint(
                name="activation_requested_by_valid", condition=Q(requested_by__in=RequestedBy.values)
            ),
            models.CheckConstraint(
                name="activation_requester_only_for_third_party",
                condition=Q(requested_by=RequestedBy.THIRD_PARTY, requester_name__isnull=False)
                | (
                    ~Q(requested_by=RequestedBy.THIRD_PARTY)
                    & Q(requester_name__isnull=True, requester_contact__isnull=True)
                ),
            ),
            models.CheckConstraint(
                name="activation_active_needs_consent",
                condition=~Q(state__in=[ActivationState.ACTIVE, ActivationState.CLOSED]) | Q(consent_on__isnull=False),
            ),
            models.CheckConstraint(
                name="activation_consent_recorded_with_who",
                condition=Q(consent_on__isnull=True, consent_recorded_by__isnull=True, consent_recorded_at__isnull=True)
                | Q(consent_on__isnull=False, consent_recorded_by__isnull=False, consent_recorded_at__isnull=False),
            ),
            models.CheckConstraint(
                name="activation_consent_after_request",
                condition=Q(consent_on__isnull=True) | Q(consent_on__gte=models.F("requested_on")),
            ),
            models.CheckConstraint(name="activation_version_positive", condition=Q(version__gte=1)),
        ]
        triggers = [
            state_moves_by_transition_only(
                "activation_state_moves_by_transition_only", ALLOWED_STATE_PAIRS, "protocol activation"
            ),
        ]

    def __str__(self) -> str:
        return f"Protocolo {self.victim_id} ({self.get_state_display()})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def clean(self) -> None:
        errors = {}
        if self.requested_by == RequestedBy.THIRD_PARTY and not self.requester_name:
            errors["requester_name"] = _("Indique quién solicita en nombre de la víctima.")
        if self.requested_by != RequestedBy.THIRD_PARTY and (self.requester_name or self.requester_contact):
            errors["requester_name"] = _("Solo se registra a quien solicita cuando es un tercero.")
        if self.consent_on and self.requested_on and self.consent_on < self.requested_on:
            errors["consent_on"] = _("El consentimiento no puede ser anterior a la solicitud.")
        if errors:
            raise ValidationError(errors)


class TransitionRecord(models.Model):
    """One move of a state machine's record (its timeline): from where, to where, by which
    action, who, from which institution, when, and why. Append-only (each concrete model's
    trigger); the first row of a record has no action (the request itself)."""

    from_state = models.CharField(max_length=20, blank=True)
    to_state = models.CharField(max_length=20)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    institution = models.ForeignKey("institutions.Institution", on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)

    class Meta:
        abstract = True
        default_permissions = ()
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state or '—'} → {self.to_state}"


class ProtocolTransition(TransitionRecord):
    """One move of an activation: the timeline of the victim's protocol page. Append-only."""

    activation = models.ForeignKey(ProtocolActivation, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField(max_length=20, choices=ActivationAction.choices, blank=True)
    from_state = models.CharField(max_length=20, choices=ActivationState.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=ActivationState.choices)

    class Meta(TransitionRecord.Meta):
        triggers = [
            pgtrigger.Protect(name="protocol_transition_append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]


class ServiceDeadline(models.Model):
    """How long a provider has to answer a referral of each service type (configurable)."""

    service_type = models.CharField(_("servicio"), max_length=30, choices=ServiceType.choices, unique=True)
    response_hours = models.PositiveIntegerField(_("horas para responder"))

    class Meta:
        verbose_name = _("plazo de respuesta")
        verbose_name_plural = _("plazos de respuesta")
        default_permissions = ("change", "view")
        constraints = [
            models.CheckConstraint(name="deadline_service_valid", condition=Q(service_type__in=ServiceType.values)),
            models.CheckConstraint(name="deadline_hours_positive", condition=Q(response_hours__gte=1)),
        ]

    def __str__(self) -> str:
        return f"{self.get_service_type_display()}: {self.response_hours} h"


@track_changes
class Referral(TimeStampedModel):
    """A derivación: the victim of an active protocol referred to a service given by a provider
    institution, with the dates that show who owes the next step."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    activation = models.ForeignKey(ProtocolActivation, on_delete=models.PROTECT, related_name="referrals")
    service_type = models.CharField(_("servicio"), max_length=30, choices=ServiceType.choices)
    provider = models.ForeignKey(
        "institutions.Institution", verbose_name=_("institución prestadora"), on_delete=models.PROTECT, related_name="+"
    )
    referred_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(
        _("estado"), max_length=20, choices=ReferralState.choices, default=ReferralState.PENDING, editable=False
    )
    requested_at = models.DateTimeField(_("solicitada"))
    response_due_at = models.DateTimeField(_("plazo de respuesta"))
    accepted_at = models.DateTimeField(_("aceptada"), null=True, blank=True)
    first_delivered_at = models.DateTimeField(_("primera atención"), null=True, blank=True)
    closed_at = models.DateTimeField(_("cerrada"), null=True, blank=True)
    note = models.TextField(_("observaciones"), blank=True)
    outcome_reason = models.TextField(_("motivo"), blank=True)
    version = models.PositiveIntegerField(_("versión"), default=1, editable=False)

    class Meta:
        verbose_name = _("derivación")
        verbose_name_plural = _("derivaciones")
        default_permissions = ()
        ordering = ["requested_at"]
        indexes = [
            models.Index(fields=["provider", "state", "response_due_at"], name="referral_inbox"),
            models.Index(fields=["state", "response_due_at"], name="referral_overdue"),
        ]
        constraints = [
            # A double submit, or two officers at once, must not send the provider the same
            # referral twice: one open referral per protocol, service and provider.
            models.UniqueConstraint(
                fields=["activation", "service_type", "provider"],
                condition=Q(state__in=OPEN_REFERRAL_STATES),
                name="referral_one_open_per_service_and_provider",
                violation_error_message=_("Ya hay una derivación abierta a ese servicio de esa institución."),
            ),
            models.CheckConstraint(name="referral_state_valid", condition=Q(state__in=ReferralState.values)),
            models.CheckConstraint(name="referral_service_valid", condition=Q(service_type__in=ServiceType.values)),
            models.CheckConstraint(
                name="referral_due_after_request", condition=Q(response_due_at__gt=models.F("requested_at"))
            ),
            models.CheckConstraint(
                name="referral_closed_exactly_when_final",
                condition=Q(state__in=OPEN_REFERRAL_STATES, closed_at__isnull=True)
                | (~Q(state__in=OPEN_REFERRAL_STATES) & Q(closed_at__isnull=False)),
            ),
            models.CheckConstraint(
                name="referral_accepted_date_when_accepted",
                condition=~Q(state__in=[ReferralState.ACCEPTED, ReferralState.IN_PROGRESS, ReferralState.COMPLETED])
                | Q(accepted_at__isnull=False),
            ),
            models.CheckConstraint(
                name="referral_delivered_date_when_delivering",
                condition=~Q(state__in=[ReferralState.IN_PROGRESS, ReferralState.COMPLETED])
                | Q(first_delivered_at__isnull=False),
            ),
            models.CheckConstraint(name="referral_version_positive", condition=Q(version__gte=1)),
        ]
        triggers = [
            state_moves_by_transition_only(
                "referral_state_moves_by_transition_only", ALLOWED_REFERRAL_STATE_PAIRS, "referral"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_service_type_display()} → {self.provider_id} ({self.get_state_display()})"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_REFERRAL_STATES


class ReferralTransition(TransitionRecord):
    """One move of a referral (the timeline). Append-only."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField(max_length=20, choices=ReferralAction.choices, blank=True)
    from_state = models.CharField(max_length=20, choices=ReferralState.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=ReferralState.choices)

    class Meta(TransitionRecord.Meta):
        triggers = [
            pgtrigger.Protect(name="referral_transition_append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]


class ReferralOverdueAlert(models.Model):
    """A referral found past its response deadline: once per deadline, however often the job
    runs (unique), so the provider is never told twice about the same delay."""

    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, related_name="overdue_alerts")
    due_at = models.DateTimeField()
    detected_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["referral", "due_at"], name="overdue_alert_once_per_deadline")]

    def __str__(self) -> str:
        return f"Atraso {self.referral_id}"


class Notification(models.Model):
    """An in-app notice to one user (the header's list); also e-mailed to them, once, by the
    retrying task protocol.tasks.send_notification_mail (``mailed_at`` says it left)."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    referral = models.ForeignKey(Referral, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    alert = models.ForeignKey(ReferralOverdueAlert, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    residence_reminder = models.ForeignKey(
        "ResidenceExpiryReminder", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # The e-mail's subject and body are the notice's own: no victim identity ever goes in them
    # (pseudonymous codes only), since mail leaves the system.
    subject = models.CharField(max_length=200, blank=True)
    message = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Set in the transaction that hands the e-mail to the mail server: a retried or repeated
    # task sends nothing for a row already mailed.
    mailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        default_permissions = ()
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notification_unread")]
        constraints = [
            models.UniqueConstraint(
                fields=["recipient", "alert"], condition=Q(alert__isnull=False), name="notification_once_per_alert"
            ),
            models.UniqueConstraint(
                fields=["recipient", "residence_reminder"],
                condition=Q(residence_reminder__isnull=False),
                name="notification_once_per_residence_reminder",
            ),
        ]

    def __str__(self) -> str:
        return self.message[:60]


@track_changes
class ResidenceApplication(TimeStampedModel):
    """A victim derived to Sermig for a humanitarian residence permit (residencia temporal por
    razones humanitarias), and what Sermig decided. A renewal is a new application pointing to
    the granted one it renews."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    victim = models.ForeignKey(
        "victims.Victim", verbose_name=_("víctima"), on_delete=models.PROTECT, related_name="residence_applications"
    )
    derived_by_institution = models.ForeignKey(
        "institutions.Institution", verbose_name=_("derivada por"), on_delete=models.PROTECT, related_name="+"
    )
    derived_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # A permit may see a renewal rejected and be renewed again: not one-to-one. At most one of
    # its renewals is open or granted (protocol.residence.residence_derive).
    renews = models.ForeignKey(
        "self", verbose_name=_("renueva"), on_delete=models.PROTECT, null=True, blank=True, related_name="renewals"
    )
    state = models.CharField(
        _("estado"), max_length=20, choices=ResidenceState.choices, default=ResidenceState.DERIVED, editable=False
    )
    derived_at = models.DateTimeField(_("derivada"))
    received_at = models.DateTimeField(_("recibida"), null=True, blank=True)
    decided_at = models.DateTimeField(_("resuelta"), null=True, blank=True)
    permit_number = EncryptedTextField(_("número del permiso"), max_length=40)
    valid_from = models.DateField(_("vigente desde"), null=True, blank=True)
    valid_until = models.DateField(_("vigente hasta"), null=True, blank=True)
    rejection_reason = models.TextField(_("motivo del rechazo"), blank=True)
    note = models.TextField(_("observaciones"), blank=True)
    version = models.PositiveIntegerField(_("versión"), default=1, editable=False)

    class Meta:
        verbose_name = _("solicitud de residencia humanitaria")
        verbose_name_plural = _("solicitudes de residencia humanitaria")
        default_permissions = ()
        ordering = ["derived_at"]
        indexes = [
            models.Index(fields=["state", "derived_at"], name="residence_queue"),
            models.Index(fields=["state", "valid_until"], name="residence_expiry"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["victim"],
                condition=Q(state__in=OPEN_RESIDENCE_STATES),
                name="residence_one_open_per_victim",
                violation_error_message=_("Esta víctima ya tiene una solicitud de residencia en curso."),
            ),
            models.CheckConstraint(name="residence_state_valid", condition=Q(state__in=ResidenceState.values)),
            models.CheckConstraint(
                name="residence_granted_has_permit",
                condition=~Q(state=ResidenceState.GRANTED)
                | Q(permit_number__isnull=False, valid_from__isnull=False, valid_until__isnull=False),
            ),
            models.CheckConstraint(
                name="residence_validity_ordered",
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
            ),
            models.CheckConstraint(
                name="residence_rejected_has_reason",
                condition=~Q(state=ResidenceState.REJECTED) | ~Q(rejection_reason=""),
            ),
            models.CheckConstraint(name="residence_version_positive", condition=Q(version__gte=1)),
        ]
        triggers = [
            state_moves_by_transition_only(
                "residence_state_moves_by_transition_only", ALLOWED_RESIDENCE_STATE_PAIRS, "residence application"
            ),
        ]

    def __str__(self) -> str:
        return f"Residencia {self.victim_id} ({self.get_state_display()})"


class ResidenceTransition(TransitionRecord):
    """One step of an application (Sermig's history of it). Append-only."""

    application = models.ForeignKey(ResidenceApplication, on_delete=models.CASCADE, related_name="transitions")
    action = models.CharField(max_length=20, choices=ResidenceAction.choices, blank=True)
    from_state = models.CharField(max_length=20, choices=ResidenceState.choices, blank=True)
    to_state = models.CharField(max_length=20, choices=ResidenceState.choices)

    class Meta(TransitionRecord.Meta):
        triggers = [
            pgtrigger.Protect(name="residence_transition_append_only", operation=pgtrigger.Update | pgtrigger.Delete)
        ]


class ResidenceExpiryReminder(models.Model):
    """A granted permit's end announced RESIDENCE_REMINDER_DAYS ahead: once per end date."""

    application = models.ForeignKey(ResidenceApplication, on_delete=models.CASCADE, related_name="reminders")
    valid_until = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["application", "valid_until"], name="residence_reminder_once_per_end")
        ]

    def __str__(self) -> str:
        return f"Recordatorio {self.application_id}"
