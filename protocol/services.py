"""Activating the Protocolo de Atención for a victim, and moving an activation along its states.

Every change is a service that locks the activation's row, checks who asks and from which
state, records the move (ProtocolTransition: who, when, from where to where, why) and refuses
anything else with a Spanish message saying why. Nothing is half-saved.
"""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.access import is_case_officer
from institutions.models import Institution, User
from kernel.audit import audit_record
from kernel.choices import Sex
from kernel.constants import AccessAction
from kernel.errors import DomainError
from kernel.validation import validate_instance
from protocol.constants import (
    ACTIONS_NEEDING_A_REASON,
    ACTIVATION_TRANSITIONS,
    OPEN_REFERRAL_STATES,
    OPEN_STATES,
    ActivationAction,
    ActivationState,
    ReferralAction,
    ReferralState,
    RequestedBy,
)
from protocol.models import ProtocolActivation, ProtocolTransition, Referral, ReferralTransition
from protocol.selectors import activation_get, institution_reader
from victims.models import Victim
from victims.selectors import victim_get, victim_list, victims_known_by_document
from victims.services import VICTIM_EDITABLE_FIELDS, _allowed_fields, victim_register


class IllegalTransition(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="illegal_transition")


def require_officer(actor: User) -> None:
    if not is_case_officer(actor):
        raise PermissionDenied(
            _("Su rol no permite gestionar el Protocolo de Atención: solo un oficial de casos puede hacerlo.")
        )


def _open_activation_message(victim: Victim) -> str:
    state = victim.protocol_activations.filter(state__in=OPEN_STATES).values_list("state", flat=True).first()
    label = ActivationState(state).label if state else ""
    return _("Esta víctima ya tiene una activación del protocolo en curso (%(state)s).") % {"state": label}


@transaction.atomic
def activation_open(
    *,
    actor: User,
    victim_id,
    requested_by: str,
    requested_on: datetime.date,
    requester_name: str = "",
    requester_contact: str = "",
    consent_on: datetime.date | None = None,
    note: str = "",
) -> ProtocolActivation:
    """Ask for the protocol for a victim the actor's institution can see (Http404 otherwise).

    The activation starts *solicitada*, led by the actor's institution. Refused (ValidationError
    on ``victim``) when the victim already has an open activation, whoever opened it.
    """
    victim = victim_get(user=actor, victim_id=victim_id)
    require_officer(actor)
    # Two officers activating for the same person at once: the second waits, then is refused.
    Victim.objects.select_for_update().filter(pk=victim.pk).values_list("pk", flat=True).get()
    activation = ProtocolActivation(
        victim=victim,
        institution_id=actor.institution_id,
        requested_by=requested_by,
        requester_name=requester_name if requested_by == RequestedBy.THIRD_PARTY else "",
        requester_contact=requester_contact if requested_by == RequestedBy.THIRD_PARTY else "",
        requested_on=requested_on,
        consent_on=consent_on,
        consent_recorded_by=actor if consent_on else None,
        consent_recorded_at=timezone.now() if consent_on else None,
        created_by=actor,
    )
    try:
        validate_instance(activation)
    except ValidationError as exc:
        if "victim" in exc.message_dict or "__all__" in exc.message_dict:
            raise ValidationError({"victim": [_open_activation_message(victim)]}) from exc
        raise
    activation.save()
    ProtocolTransition.objects.create(
        activation=activation,
        action="",
        from_state="",
        to_state=ActivationState.REQUESTED,
        actor=actor,
        institution_id=actor.institution_id,
        note=note,
    )
    return activation


def activation_require_manager(actor: User, activation: ProtocolActivation) -> None:
    """Only a case officer of the activating institution moves an activation (PermissionDenied).
    Pages call it before reading the form, so a refused user is told so, not about the input."""
    if activation.institution_id != actor.institution_id:
        raise PermissionDenied(_("Solo la institución que activó el protocolo puede gestionarlo."))
    require_officer(actor)


def _locked_for_change(actor: User, activation_id) -> ProtocolActivation:
    activation_get(user=actor, activation_id=activation_id)  # Http404 when not visible
    activation = ProtocolActivation.objects.select_for_update().get(pk=activation_id)
    activation_require_manager(actor, activation)
    return activation


@transaction.atomic
def activation_transition(
    *, actor: User, activation_id, action: str, note: str = "", expected_version: int | None = None
) -> ProtocolActivation:
    """Move the activation by ``action`` (protocol.constants.ActivationAction).

    Http404 if the actor's institution cannot see it; PermissionDenied unless the actor is a
    case officer of the activating institution; IllegalTransition (409) when the action cannot
    start from the current state, or ``expected_version`` is stale (another officer moved it
    first: nothing of theirs is lost, and nothing of this request is applied);
    ValidationError for a missing reason or consent.
    """
    if action not in ACTIVATION_TRANSITIONS:
        raise ValidationError({"action": [_("Acción desconocida.")]})
    activation = _locked_for_change(actor, activation_id)
    starts, target = ACTIVATION_TRANSITIONS[action]
    current = ActivationState(activation.state)
    if expected_version is not None and activation.version != expected_version:
        raise IllegalTransition(
            _("Otra persona cambió esta activación mientras usted la veía: ahora está «%(state)s».")
            % {"state": current.label}
        )
    if current not in starts:
        raise IllegalTransition(
            _("No se puede «%(action)s» una activación que está «%(state)s». Desde ese estado se puede: %(next)s.")
            % {
                "action": ActivationAction(action).label.lower(),
                "state": current.label.lower(),
                "next": ", ".join(str(a.label).lower() for a in _actions_from(current)) or _("nada más"),
            }
        )
    note = note.strip()
    if action in ACTIONS_NEEDING_A_REASON and not note:
        raise ValidationError({"note": [_("Indique el motivo.")]})
    if target == ActivationState.ACTIVE and activation.consent_on is None:
        raise ValidationError(
            {"consent_on": [_("Registre el consentimiento informado de la víctima antes de activar el protocolo.")]}
        )
    if action == ActivationAction.REACTIVATE:
        # The lock activation_open takes (always after the activation's own): an opening, or
        # another reactivation, for the same victim waits until this one commits and then sees
        # it, instead of failing on the unique index.
        Victim.objects.select_for_update().filter(pk=activation.victim_id).values_list("pk", flat=True).get()
        if (
            ProtocolActivation.objects.filter(victim_id=activation.victim_id, state__in=OPEN_STATES)
            .exclude(pk=activation.pk)
            .exists()
        ):
            raise IllegalTransition(_open_activation_message(activation.victim))
    ProtocolActivation.objects.filter(pk=activation.pk).update(
        state=target,
        state_changed_at=timezone.now(),
        # A reactivated protocol no longer carries the reason it was closed for (the timeline does).
        outcome_reason=note
        if action in ACTIONS_NEEDING_A_REASON
        else ("" if target == ActivationState.ACTIVE else F("outcome_reason")),
        version=F("version") + 1,
        updated_at=timezone.now(),
    )
    ProtocolTransition.objects.create(
        activation=activation,
        action=action,
        from_state=current,
        to_state=target,
        actor=actor,
        institution_id=actor.institution_id,
        note=note,
    )
    if target in (ActivationState.CLOSED, ActivationState.DECLINED):
        _cancel_open_referrals(activation, actor)
    activation.refresh_from_db()
    return activation


def _cancel_open_referrals(activation: ProtocolActivation, actor: User) -> None:
    """A protocol that ends takes its open referrals with it: the providers stop seeing the
    person (access-model.md: their access lasts while the referral is open) and stop being
    told about delays."""
    now = timezone.now()
    # The provider reads this: the protocol's own reason (which may name case facts) stays on
    # the activation, for the institutions that see it.
    reason = _("Cancelada: la institución que derivó terminó el Protocolo de Atención.")
    for referral in Referral.objects.select_for_update().filter(activation=activation, state__in=OPEN_REFERRAL_STATES):
        Referral.objects.filter(pk=referral.pk).update(
            state=ReferralState.CANCELLED,
            closed_at=now,
            outcome_reason=reason,
            version=F("version") + 1,
            updated_at=now,
        )
        ReferralTransition.objects.create(
            referral=referral,
            action=ReferralAction.CANCEL,
            from_state=referral.state,
            to_state=ReferralState.CANCELLED,
            actor=actor,
            institution_id=actor.institution_id,
            note=reason,
        )


@transaction.atomic
def activation_record_consent(*, actor: User, activation_id, consent_on: datetime.date) -> ProtocolActivation:
    """The victim's informed consent to enter the protocol (needed before activating)."""
    activation = _locked_for_change(actor, activation_id)
    if not activation.is_open:
        raise IllegalTransition(_("La activación ya terminó: no se registra consentimiento en ella."))
    if activation.consent_on is not None:
        # A replayed or stale form must not rewrite who recorded the consent, and when.
        raise IllegalTransition(
            _("El consentimiento informado ya está registrado (%(date)s).")
            % {"date": activation.consent_on.strftime("%d-%m-%Y")}
        )
    if consent_on is None:
        raise ValidationError({"consent_on": [_("Indique la fecha del consentimiento informado.")]})
    activation.consent_on = consent_on
    validate_instance(activation)
    now = timezone.now()
    ProtocolActivation.objects.filter(pk=activation.pk).update(
        consent_on=consent_on,
        consent_recorded_by=actor,
        consent_recorded_at=now,
        version=F("version") + 1,
        updated_at=now,
    )
    activation.refresh_from_db()
    return activation


def _actions_from(state: ActivationState) -> list[ActivationAction]:
    return [ActivationAction(action) for action, (starts, _end) in ACTIVATION_TRANSITIONS.items() if state in starts]


def _refuse_a_person_already_known(actor: User, document_type: str, document_number: str) -> None:
    """A person this institution may already identify by the document (registered by it, or in
    a case whose identity it reads) is not registered again: their protocol is asked for from
    their page. Registrations by the same institution wait for each other (its row lock), so a
    double submit cannot slip two persons in."""
    Institution.objects.select_for_update().filter(pk=actor.institution_id).values_list("pk", flat=True).get()
    try:
        known = victims_known_by_document(
            user=actor, document_type=document_type, document_number=document_number, case_id=None
        )
    except ValidationError:
        return  # a malformed document: victim_register reports it on its field
    if known:
        raise ValidationError(
            {
                "document_number": [
                    _("Esta persona ya está registrada como %(code)s: solicite su protocolo desde su ficha.")
                    % {"code": known[0].code}
                ]
            }
        )


@transaction.atomic
def activation_open_for_new_person(
    *, actor: User, person: dict, requested_by: str, requested_on: datetime.date, **activation
) -> ProtocolActivation:
    """A person with no criminal case enters the protocol: registered as a victim of the actor's
    institution (which then holds over them what a lead holds over a case), and the activation
    opened for them, as one act. ``person``: victims.services.VICTIM_EDITABLE_FIELDS (identity
    included: the registering institution may read what it writes). Nothing is saved if either
    part is refused."""
    require_officer(actor)
    fields = _allowed_fields(person, VICTIM_EDITABLE_FIELDS)
    if fields.get("document_type") and fields.get("document_number"):
        _refuse_a_person_already_known(actor, fields["document_type"], fields["document_number"])
    victim = victim_register(actor=actor, institution=actor.institution, **{"sex": Sex.UNKNOWN, **fields})
    return activation_open(
        actor=actor, victim_id=victim.pk, requested_by=requested_by, requested_on=requested_on, **activation
    )


@transaction.atomic
def activation_requester_reveal(*, user: User, activation_id, ip_address: str | None = None) -> dict:
    """Who asked for the protocol on the victim's behalf (a third party's name and contact, kept
    encrypted): for any role of the activating institution, which recorded it, and audited like
    every identity read. Another institution that sees the activation does not read it (403)."""
    activation = activation_get(user=user, activation_id=activation_id)
    if activation.institution_id != user.institution_id:
        raise PermissionDenied(_("Solo la institución que activó el protocolo ve quién lo solicitó."))
    # Read through the model: the encrypted fields decrypt on attribute access only.
    stored = ProtocolActivation.objects.only("requester_name", "requester_contact").get(pk=activation.pk)
    requester = {name: getattr(stored, name) for name in ("requester_name", "requester_contact")}
    audit_record(
        AccessAction.IDENTITY_READ,
        actor=user,
        victim_code=activation.victim.code,
        details={"fields": ["requester_name", "requester_contact"], "activation": str(activation.pk)},
        ip_address=ip_address,
    )
    return {name: value or "" for name, value in requester.items()}


@transaction.atomic
def activations_end_for_lost_access(*, actor: User | None, institution_id: int, victim_ids, reason: str = "") -> int:
    """The institution lost sight of these victims (a share revoked: kernel.signals.
    victim_access_revoked). Its open activations of the victims it no longer sees end now, as
    *rechazada* before *activa* and *cerrada* after (moves of the table, on the timeline, in the
    name of the institution that revoked), and their open referrals are cancelled: nobody could
    manage them any more, the providers would go on reading the person, and the victim could not
    enter the protocol again. Returns how many ended."""
    still_seen = victim_list(user=institution_reader(institution_id)).values("pk")
    ending = (
        ProtocolActivation.objects.select_for_update()
        .filter(institution_id=institution_id, victim_id__in=list(victim_ids), state__in=OPEN_STATES)
        .exclude(victim_id__in=still_seen)
    )
    note = _("La institución que activó el protocolo perdió el acceso a la víctima.")
    if reason:
        note = f"{note} {reason}"
    ended = 0
    for activation in ending:
        action = ActivationAction.CLOSE if activation.state == ActivationState.ACTIVE else ActivationAction.REJECT
        target = ACTIVATION_TRANSITIONS[action][1]
        now = timezone.now()
        ProtocolActivation.objects.filter(pk=activation.pk).update(
            state=target, state_changed_at=now, outcome_reason=note, version=F("version") + 1, updated_at=now
        )
        acting_institution = actor.institution_id if actor is not None and actor.institution_id else institution_id
        ProtocolTransition.objects.create(
            activation=activation,
            action=action,
            from_state=activation.state,
            to_state=target,
            actor=actor if actor is not None else activation.created_by,
            institution_id=acting_institution,
            note=note,
        )
        _cancel_open_referrals(activation, actor if actor is not None else activation.created_by)
        ended += 1
    return ended
