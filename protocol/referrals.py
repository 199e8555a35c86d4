"""Referrals (derivaciones) from an active protocol to a provider institution's service, their
moves, and the detection of referrals left unanswered past their deadline."""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Case, F, Q, QuerySet, Value, When
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.access import NOT_FOUND_MESSAGE, is_case_officer
from institutions.constants import Role
from institutions.models import Institution, User
from kernel.audit import audit_record
from kernel.constants import AccessAction
from protocol.constants import (
    DEFAULT_RESPONSE_HOURS,
    OPEN_REFERRAL_STATES,
    PROVIDER,
    REFERRAL_ACTIONS_NEEDING_A_REASON,
    REFERRAL_TRANSITIONS,
    ActivationState,
    ReferralAction,
    ReferralState,
    ServiceType,
)
from protocol.models import (
    ProtocolActivation,
    Referral,
    ReferralOverdueAlert,
    ReferralTransition,
    ServiceDeadline,
)
from protocol.notifications import notify
from protocol.selectors import activation_get, institution_reader
from protocol.services import IllegalTransition
from victims.identity import IDENTITY_FIELDS
from victims.selectors import victim_identity_allowed, victim_list


def response_hours(service_type: str) -> int:
    """The configured deadline, or the default one if an administrator removed the row."""
    hours = ServiceDeadline.objects.filter(service_type=service_type).values_list("response_hours", flat=True).first()
    return hours if hours is not None else DEFAULT_RESPONSE_HOURS[service_type]


@transaction.atomic
def referral_create(*, actor: User, activation_id, service_type: str, provider_id: int, note: str = "") -> Referral:
    """Refer the victim of an *activa* protocol to ``service_type`` given by ``provider_id``.

    Only a case officer of the institution that activated the protocol refers (PermissionDenied);
    the protocol must be active (IllegalTransition); the provider must be an active institution.
    The response deadline is the service's (ServiceDeadline) from now.
    """
    activation_get(user=actor, activation_id=activation_id)  # Http404 when not visible
    activation = ProtocolActivation.objects.select_for_update().get(pk=activation_id)
    referral_require_referrer(actor, activation)
    try:
        provider_id = int(provider_id)
    except (TypeError, ValueError):
        raise ValidationError({"provider": [_("Elija una institución prestadora activa.")]}) from None
    if activation.state != ActivationState.ACTIVE:
        raise IllegalTransition(_("Solo se deriva desde un protocolo activo."))
    if service_type not in ServiceType.values:
        raise ValidationError({"service_type": [_("Servicio desconocido.")]})
    note = note.strip()
    if not Institution.objects.filter(pk=provider_id, is_active=True).exists():
        raise ValidationError({"provider": [_("Elija una institución prestadora activa.")]})
    if Referral.objects.filter(
        activation=activation, service_type=service_type, provider_id=provider_id, state__in=OPEN_REFERRAL_STATES
    ).exists():  # the activation's row lock serialises this check (and the unique index backs it)
        raise ValidationError({"provider": [_("Ya hay una derivación abierta a ese servicio de esa institución.")]})
    now = timezone.now()
    referral = Referral.objects.create(
        activation=activation,
        service_type=service_type,
        provider_id=provider_id,
        referred_by=actor,
        requested_at=now,
        response_due_at=now + datetime.timedelta(hours=response_hours(service_type)),
        note=note,
    )
    ReferralTransition.objects.create(
        referral=referral, to_state=ReferralState.PENDING, actor=actor, institution_id=actor.institution_id, note=note
    )
    return referral


def referral_require_referrer(actor: User, activation: ProtocolActivation) -> None:
    """Only a case officer of the activating institution refers, and only if it may read the
    victim's identity (PermissionDenied): a referral hands the person's identity to the provider,
    so an institution that may not read it may not hand it over (else a grantee at *ver* could
    refer the victim to itself and read it)."""
    if activation.institution_id != actor.institution_id or not is_case_officer(actor):
        raise PermissionDenied(_("Solo un oficial de la institución que activó el protocolo puede derivar."))
    if not victim_identity_allowed(user=actor, victim=activation.victim):
        raise PermissionDenied(
            _("Su institución no tiene acceso a la identidad de esta víctima, y no puede derivarla a un servicio.")
        )


def referral_require_party(actor: User, referral: Referral) -> None:
    """Moves of a referral are for case officers of the provider or of the referring institution
    (which of them, per move: REFERRAL_TRANSITIONS). PermissionDenied for anyone else."""
    parties = (referral.provider_id, referral.activation.institution_id)
    if actor.institution_id not in parties or not is_case_officer(actor):
        raise PermissionDenied(
            _("Solo un oficial de la institución prestadora o de la que derivó actúa sobre esta derivación.")
        )


def referral_visible_to(user: User) -> Q:
    """Filter of the referrals the user's institution sees: those it provides while they are open
    (access-model.md: a provider sees the referral and the minimum data "until the referral
    closes"; both end then), and those of the protocols it activated, while it still sees the
    victim."""
    return Q(provider_id=user.institution_id, state__in=OPEN_REFERRAL_STATES) | Q(
        activation__institution_id=user.institution_id, activation__victim__in=victim_list(user=user).values("pk")
    )


def referral_get(*, user: User, referral_id) -> Referral:
    if user.institution_id is None or not user.is_active:
        raise Http404(NOT_FOUND_MESSAGE)
    referral = Referral.objects.filter(referral_visible_to(user), pk=referral_id).select_related("activation").first()
    if referral is None:
        raise Http404(NOT_FOUND_MESSAGE)
    return referral


@transaction.atomic
def referral_transition(
    *, actor: User, referral_id, action: str, note: str = "", expected_version: int | None = None
) -> Referral:
    """Move a referral: the provider accepts, rejects, starts and completes it; the referring
    institution cancels it. Same refusals as protocol.services.activation_transition, a stale
    ``expected_version`` included."""
    if action not in REFERRAL_TRANSITIONS:
        raise ValidationError({"action": [_("Acción desconocida.")]})
    referral_get(user=actor, referral_id=referral_id)
    referral = Referral.objects.select_for_update().select_related("activation").get(pk=referral_id)
    starts, target, who = REFERRAL_TRANSITIONS[action]
    acting_institution = referral.provider_id if who == PROVIDER else referral.activation.institution_id
    if actor.institution_id != acting_institution or not is_case_officer(actor):
        raise PermissionDenied(
            _("Esta acción corresponde a un oficial de la institución prestadora.")
            if who == PROVIDER
            else _("Esta acción corresponde a un oficial de la institución que derivó.")
        )
    current = ReferralState(referral.state)
    if expected_version is not None and referral.version != expected_version:
        raise IllegalTransition(
            _("Otra persona cambió esta derivación mientras usted la veía: ahora está «%(state)s».")
            % {"state": current.label}
        )
    if current not in starts:
        raise IllegalTransition(
            _("No se puede «%(action)s» una derivación que está «%(state)s».")
            % {"action": ReferralAction(action).label.lower(), "state": current.label.lower()}
        )
    note = note.strip()
    if action in REFERRAL_ACTIONS_NEEDING_A_REASON and not note:
        raise ValidationError({"note": [_("Indique el motivo.")]})
    now = timezone.now()
    changes = {"state": target, "version": F("version") + 1, "updated_at": now}
    if action == ReferralAction.ACCEPT:
        changes["accepted_at"] = now
    if action == ReferralAction.START:
        changes["first_delivered_at"] = now
    if target not in (ReferralState.ACCEPTED, ReferralState.IN_PROGRESS):
        changes["closed_at"] = now
    if action in REFERRAL_ACTIONS_NEEDING_A_REASON:
        changes["outcome_reason"] = note
    Referral.objects.filter(pk=referral.pk).update(**changes)
    ReferralTransition.objects.create(
        referral=referral,
        action=action,
        from_state=current,
        to_state=target,
        actor=actor,
        institution_id=actor.institution_id,
        note=note,
    )
    referral.refresh_from_db()
    return referral


# --- overdue referrals (Celery beat: protocol.tasks.notify_overdue_referrals) ------------------


def _provider_officers(institution_id: int):
    return User.objects.filter(
        institution_id=institution_id, is_active=True, is_api_client=False, role=Role.CASE_OFFICER
    )


def overdue_referrals_notify(*, now: datetime.datetime | None = None) -> int:
    """Tell the provider institution's case officers about every referral still *pendiente*
    past its response deadline: an in-app notification each, and one e-mail each.

    A delay is told once: its ReferralOverdueAlert (unique per referral and deadline) is
    written first, in the same transaction as the notifications, and a run that finds it there
    tells nobody. Safe to run twice, at once or in a row. Returns how many delays were told.
    """
    now = now or timezone.now()
    told = 0
    overdue = Referral.objects.filter(state=ReferralState.PENDING, response_due_at__lt=now).exclude(
        overdue_alerts__due_at=F("response_due_at")
    )
    for referral_id in overdue.values_list("pk", flat=True):
        with transaction.atomic():
            referral = Referral.objects.select_for_update(skip_locked=True).filter(pk=referral_id).first()
            if referral is None or referral.state != ReferralState.PENDING or referral.response_due_at >= now:
                continue  # taken by a concurrent run, answered or given a new deadline meanwhile
            recipients = list(_provider_officers(referral.provider_id))
            if not recipients:
                continue  # nobody to tell yet: the delay stays untold, and is told once someone is
            alert, created = ReferralOverdueAlert.objects.get_or_create(
                referral=referral, due_at=referral.response_due_at
            )
            if not created:
                continue
            told += 1
            message = _(
                "Derivación atrasada: %(service)s solicitada el %(requested)s, sin respuesta desde el %(due)s."
            ) % {
                "service": referral.get_service_type_display(),
                "requested": timezone.localtime(referral.requested_at).strftime("%d-%m-%Y %H:%M"),
                "due": timezone.localtime(referral.response_due_at).strftime("%d-%m-%Y %H:%M"),
            }
            notify(recipients, subject=_("MITP: derivación atrasada"), message=message, referral=referral, alert=alert)
    return told


# What a provider needs to serve the person, and nothing more (access-model.md): no case
# facts, no offenders, no other referrals.
PROVIDER_IDENTITY_FIELDS = ("given_names", "surnames", "document_type", "document_number", "phone", "email")


@transaction.atomic
def referral_victim_for_provider(
    *, user: User, referral_id, client_id: str = "", ip_address: str | None = None
) -> dict:
    """The minimum data of the referred person, for the provider institution while its referral
    is open: name, document, contact, sex and age. Ends when the referral closes (404 then: the
    referral is no longer the provider's).
    Every read is in the access log, naming the referral."""
    referral = referral_get(user=user, referral_id=referral_id)
    if referral.provider_id != user.institution_id:
        raise PermissionDenied(_("Solo la institución prestadora recibe estos datos para atender la derivación."))
    if not referral.is_open:
        raise PermissionDenied(_("La derivación está cerrada: los datos de la persona ya no se muestran."))
    victim = referral.activation.victim
    # A referral hands over what the referring institution may read, and for no longer: once it
    # loses the victim's identity (a share or a consent withdrawn), so does the provider.
    if not victim_identity_allowed(user=institution_reader(referral.activation.institution_id), victim=victim):
        raise PermissionDenied(
            _("La institución que derivó ya no tiene acceso a la identidad de esta persona: sus datos no se muestran.")
        )
    data = {field: getattr(victim, field) for field in PROVIDER_IDENTITY_FIELDS}
    data["code"] = victim.code
    data["sex"] = victim.sex
    data["birth_year"] = victim.birth_year
    data["age_at_identification"] = victim.age_at_identification
    audit_record(
        AccessAction.IDENTITY_READ,
        actor=user,
        victim_code=victim.code,
        details={"fields": list(PROVIDER_IDENTITY_FIELDS), "referral": str(referral.pk)},
        client_id=client_id,
        ip_address=ip_address,
    )
    return data


def provider_inbox(*, user: User) -> QuerySet[Referral]:
    """The bandeja de derivaciones: the open referrals an institution provides (a closed one is
    no longer the provider's: referral_visible_to), the overdue ones first, most overdue first;
    no case data."""
    if user.institution_id is None or not user.is_active:
        return Referral.objects.none()
    # Overdue = still *pendiente* past the response deadline; an answered referral is not.
    rank = Case(
        When(state=ReferralState.PENDING, response_due_at__lt=timezone.now(), then=Value(0)),
        default=Value(1),
    )
    return (
        Referral.objects.filter(provider_id=user.institution_id, state__in=OPEN_REFERRAL_STATES)
        .select_related("activation__victim", "activation__institution")
        # Identity only through referral_victim_for_provider (open referrals, audited).
        .defer(
            "activation__requester_name",
            "activation__requester_contact",
            *(f"activation__victim__{name}" for name in IDENTITY_FIELDS),
        )
        .order_by(rank, "response_due_at")
    )
