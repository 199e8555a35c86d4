"""Humanitarian residence: deriving a victim to Sermig, Sermig's queue and decisions, the
identity Sermig needs (audited), renewals, and the reminder before a permit expires.

Sermig officers (User.is_sermig_officer) see the applications and, while one is open, the
identity a permit needs; never the criminal case: no case facts, offenders or referrals.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from cases.access import NOT_FOUND_MESSAGE, is_case_officer
from institutions.constants import InstitutionKind, Role
from institutions.models import User
from kernel.audit import audit_record
from kernel.constants import AccessAction
from kernel.validation import validate_instance
from protocol.constants import (
    OPEN_RESIDENCE_STATES,
    RESIDENCE_REMINDER_DAYS,
    RESIDENCE_TRANSITIONS,
    ResidenceAction,
    ResidenceState,
)
from protocol.models import ResidenceApplication, ResidenceExpiryReminder, ResidenceTransition
from protocol.notifications import notify
from protocol.selectors import institution_reader
from protocol.services import IllegalTransition
from victims.identity import IDENTITY_FIELDS
from victims.models import CaseVictim, Victim
from victims.selectors import victim_get, victim_list

# A renewal in these states stands for the permit: no second renewal, no expiry reminder. A
# rejected one does not: the permit may be renewed again, and its end is still announced.
RENEWAL_STANDING = (*OPEN_RESIDENCE_STATES, ResidenceState.GRANTED)
RENEWAL_REFUSED_MESSAGE = _lazy(
    "Solo se renueva un permiso otorgado de esta víctima que no tenga otra renovación en curso u otorgada."
)

# Days after granting during which Sermig still reads the identity, to issue the permit. A
# renewal is a new application, with its own window.
PERMIT_ISSUE_DAYS = 30

# What a permit needs of the person, and nothing more (no contact data, no notes).
PERMIT_IDENTITY_FIELDS = ("given_names", "surnames", "document_type", "document_number", "birth_date")


def has_sermig_capability(user: User) -> bool:
    """The *oficial Sermig* capability counts only for a user of a migration-service institution:
    a flag set by mistake on another institution's user opens no queue and no identity."""
    return bool(
        user.is_authenticated
        and user.is_active
        and user.is_sermig_officer
        and user.institution_id is not None
        and user.institution.kind == InstitutionKind.MIGRATION
    )


SERMIG_USERS = Q(is_sermig_officer=True, institution__kind=InstitutionKind.MIGRATION)


def is_sermig_officer(user: User) -> bool:
    return is_case_officer(user) and has_sermig_capability(user)


def _may_derive(actor: User, victim: Victim) -> bool:
    if not is_case_officer(actor):
        return False
    if actor.is_mitp_secretariat:
        return True
    leads_a_case = CaseVictim.objects.filter(victim=victim, case__lead_institution_id=actor.institution_id).exists()
    registered_without_case = (
        victim.registering_institution_id == actor.institution_id
        and not CaseVictim.objects.filter(victim=victim).exists()
    )
    return leads_a_case or registered_without_case


def residence_require_deriver(actor: User, victim: Victim) -> None:
    if not _may_derive(actor, victim):
        raise PermissionDenied(
            _("Solo la institución a cargo de una causa de la víctima, o la Secretaría MITP, deriva a Sermig.")
        )


@transaction.atomic
def residence_derive(*, actor: User, victim_id, note: str = "", renews_id=None) -> ResidenceApplication:
    """Derive a victim to Sermig: the lead institution of one of the victim's cases (or the one
    that registered a victim without a case), or the Secretaría MITP. A renewal names the granted
    application it renews."""
    victim = victim_get(user=actor, victim_id=victim_id)
    residence_require_deriver(actor, victim)
    Victim.objects.select_for_update().filter(pk=victim.pk).values_list("pk", flat=True).get()
    renews = None
    if renews_id is not None:
        renews = (
            ResidenceApplication.objects.filter(pk=renews_id, victim=victim, state=ResidenceState.GRANTED)
            .exclude(renewals__state__in=RENEWAL_STANDING)
            .first()
        )
        if renews is None:
            raise ValidationError({"renews": [RENEWAL_REFUSED_MESSAGE]})
    application = ResidenceApplication(
        victim=victim,
        derived_by_institution_id=actor.institution_id,
        derived_by=actor,
        renews=renews,
        derived_at=timezone.now(),
        note=note.strip(),
    )
    validate_instance(application)  # one open application per victim (its own message)
    application.save()
    ResidenceTransition.objects.create(
        application=application, to_state=ResidenceState.DERIVED, actor=actor, institution_id=actor.institution_id
    )
    return application


def residence_queue(*, user: User) -> QuerySet[ResidenceApplication]:
    """Sermig's queue: every application, open ones first, oldest first."""
    if not has_sermig_capability(user):
        return ResidenceApplication.objects.none()
    # Identity only through residence_identity_reveal (audited).
    victim_identity = (f"victim__{name}" for name in IDENTITY_FIELDS)
    return (
        ResidenceApplication.objects.select_related("victim", "derived_by_institution")
        .defer(*victim_identity)
        .order_by(F("decided_at").asc(nulls_first=True), "derived_at")
    )


def residence_visible(*, user: User) -> QuerySet[ResidenceApplication]:
    """Sermig sees all; an institution sees the applications it derived."""
    if not user.is_authenticated or not user.is_active or user.institution_id is None:
        return ResidenceApplication.objects.none()
    if has_sermig_capability(user):
        return ResidenceApplication.objects.all()
    # ... while it still sees the victim (a share revoked takes the applications with it).
    return ResidenceApplication.objects.filter(
        derived_by_institution_id=user.institution_id, victim__in=victim_list(user=user).values("pk")
    )


def residence_get(*, user: User, application_id) -> ResidenceApplication:
    application = residence_visible(user=user).filter(pk=application_id).select_related("victim").first()
    if application is None:
        raise Http404(NOT_FOUND_MESSAGE)
    return application


@transaction.atomic
def residence_transition(
    *,
    actor: User,
    application_id,
    action: str,
    note: str = "",
    permit_number: str = "",
    valid_from: datetime.date | None = None,
    valid_until: datetime.date | None = None,
    expected_version: int | None = None,
) -> ResidenceApplication:
    """Sermig works its queue: receive, process, grant (permit number and validity) or reject
    (with the reason). Only Sermig officers; the same refusals as the other state machines, a
    stale ``expected_version`` included."""
    if action not in RESIDENCE_TRANSITIONS:
        raise ValidationError({"action": [_("Acción desconocida.")]})
    residence_get(user=actor, application_id=application_id)
    residence_require_sermig_officer(actor)
    application = ResidenceApplication.objects.select_for_update().get(pk=application_id)
    starts, target = RESIDENCE_TRANSITIONS[action]
    current = ResidenceState(application.state)
    if expected_version is not None and application.version != expected_version:
        raise IllegalTransition(
            _("Otra persona cambió esta solicitud mientras usted la veía: ahora está «%(state)s».")
            % {"state": current.label}
        )
    if current not in starts:
        raise IllegalTransition(
            _("No se puede «%(action)s» una solicitud que está «%(state)s».")
            % {"action": ResidenceAction(action).label.lower(), "state": current.label.lower()}
        )
    note = note.strip()
    now = timezone.now()
    if action == ResidenceAction.RECEIVE:
        application.received_at = now
    if action == ResidenceAction.GRANT:
        errors = {}
        if not permit_number.strip():
            errors["permit_number"] = [_("Indique el número del permiso.")]
        if valid_from is None:
            errors["valid_from"] = [_("Indique desde cuándo rige el permiso.")]
        if valid_until is None:
            errors["valid_until"] = [_("Indique hasta cuándo rige el permiso.")]
        elif valid_from is not None and valid_until <= valid_from:
            errors["valid_until"] = [_("El término debe ser posterior al inicio.")]
        if errors:
            raise ValidationError(errors)
        application.permit_number, application.valid_from, application.valid_until = (
            permit_number,
            valid_from,
            valid_until,
        )
        application.decided_at = now
    if action == ResidenceAction.REJECT:
        if not note:
            raise ValidationError({"note": [_("Indique el motivo del rechazo.")]})
        application.rejection_reason = note
        application.decided_at = now
    application.state = target
    application.version = F("version") + 1
    application.save()
    ResidenceTransition.objects.create(
        application=application,
        action=action,
        from_state=current,
        to_state=target,
        actor=actor,
        institution_id=actor.institution_id,
        note=note,
    )
    application.refresh_from_db()
    return application


@transaction.atomic
def residence_identity_reveal(
    *, user: User, application_id, client_id: str = "", ip_address: str | None = None
) -> dict:
    """The identity a permit needs, for a Sermig officer while the application is open (or
    just granted, to issue it): audited like every identity read."""
    application = residence_get(user=user, application_id=application_id)
    if not is_sermig_officer(user):
        raise PermissionDenied(_("Solo un oficial de Sermig lee la identidad para el permiso."))
    just_granted = application.state == ResidenceState.GRANTED and application.decided_at >= timezone.now() - (
        datetime.timedelta(days=PERMIT_ISSUE_DAYS)
    )
    if application.state not in OPEN_RESIDENCE_STATES and not just_granted:
        raise PermissionDenied(_("La solicitud está cerrada: su identidad ya no se muestra."))
    victim = application.victim
    identity = {field: getattr(victim, field) for field in PERMIT_IDENTITY_FIELDS}
    identity["nationality"] = victim.nationality.code
    audit_record(
        AccessAction.IDENTITY_READ,
        actor=user,
        victim_code=victim.code,
        details={
            "fields": list(PERMIT_IDENTITY_FIELDS),
            "purpose": "residencia_humanitaria",
            "application": str(application.pk),
        },
        client_id=client_id,
        ip_address=ip_address,
    )
    return identity


def residence_expiry_remind(*, today: datetime.date | None = None) -> int:
    """Beat: granted permits ending within RESIDENCE_REMINDER_DAYS and not renewed: the
    deriving institution's case officers and Sermig's are told, once per end date."""
    today = today or timezone.localdate()
    horizon = today + datetime.timedelta(days=RESIDENCE_REMINDER_DAYS)
    due = (
        ResidenceApplication.objects.filter(
            state=ResidenceState.GRANTED, valid_until__lte=horizon, valid_until__gte=today
        )
        .exclude(renewals__state__in=RENEWAL_STANDING)
        .exclude(reminders__valid_until=F("valid_until"))
    )
    told = 0
    for application_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            application = (
                ResidenceApplication.objects.select_for_update(skip_locked=True).filter(pk=application_id).first()
            )
            if application is None:
                continue
            reminder, created = ResidenceExpiryReminder.objects.get_or_create(
                application=application, valid_until=application.valid_until
            )
            if not created:
                continue
            told += 1
            message = _("El permiso de residencia de la víctima %(code)s vence el %(date)s: evalúe su renovación.") % {
                "code": application.victim.code,
                "date": application.valid_until.strftime("%d-%m-%Y"),
            }
            deriving = application.derived_by_institution_id
            still_sees = victim_list(user=institution_reader(deriving)).filter(pk=application.victim_id).exists()
            recipients = list(
                User.objects.filter(is_active=True, is_api_client=False, role=Role.CASE_OFFICER).filter(
                    (Q(institution_id=deriving) if still_sees else Q(pk__in=[])) | SERMIG_USERS
                )
            )
            notify(
                recipients,
                subject=_("MITP: permiso de residencia por vencer"),
                message=message,
                residence_reminder=reminder,
            )
    return told


def residence_require_sermig_officer(actor: User) -> None:
    if not is_sermig_officer(actor):
        raise PermissionDenied(_("Solo un oficial de Sermig tramita las solicitudes de residencia."))


def residence_derive_allowed(*, user: User, victim: Victim) -> bool:
    """Whether the page offers «Derivar a Sermig» (residence_derive decides again on the POST)."""
    return _may_derive(user, victim)


def renewable_applications(*, user: User, victim: Victim) -> QuerySet[ResidenceApplication]:
    """The victim's granted permits, visible to the user, that may still be renewed."""
    return (
        residence_visible(user=user)
        .filter(victim=victim, state=ResidenceState.GRANTED)
        .exclude(renewals__state__in=RENEWAL_STANDING)
        .defer("permit_number")
    )
