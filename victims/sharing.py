"""Sharing a victim with no case (Protocolo de Atención), and taking it back.

The registering institution holds over such a victim what a lead holds over a case
(../shared/access-model.md), sharing included. The rules are those of cases.sharing: *ver* always,
*ver identidad* only on a stated legal basis or on the victim's active consent, *colaborar* if
given; one active share per institution; to change a share, revoke it and share again. Each
service runs in one transaction, locks the victim, checks the actor (a case officer of the
registering institution, while the victim has no case), writes the share (the row is the grant:
victims.selectors reads it) and the access-log event, with the victim by code.

Once the victim is linked to a case, the case's grants govern and the victim's shares give
nothing (victims.selectors.victim_shares_in_force); they can no longer be changed either.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.access import NOT_FOUND_MESSAGE, is_case_officer
from institutions.models import Institution, User
from kernel.audit import audit_record
from kernel.constants import AccessAction
from kernel.errors import DomainError
from kernel.signals import victim_access_revoked
from victims.constants import VictimPermission
from victims.models import Victim, VictimConsent, VictimShare
from victims.selectors import caseless_victim_permissions, not_administered_message, victim_get


def share_permissions(share: VictimShare) -> list[str]:
    held = [VictimPermission.VIEW]
    if share.can_view_identity:
        held.append(VictimPermission.VIEW_IDENTITY)
    if share.can_collaborate:
        held.append(VictimPermission.COLLABORATE)
    return held


def _administered_victim(actor: User, victim_id) -> Victim:
    """The victim, locked, if the actor may share it: Http404 unless visible; PermissionDenied
    unless the actor's institution registered it, it has no case, and the actor is a case
    officer. Checked again under the lock, so a link to a case committed meanwhile is seen."""
    victim_get(user=actor, victim_id=victim_id)
    victim = Victim.objects.select_for_update().get(pk=victim_id)
    if VictimPermission.ADMINISTER not in caseless_victim_permissions(user=actor, victim=victim):
        raise PermissionDenied(not_administered_message(victim))
    if not is_case_officer(actor):
        raise PermissionDenied(_("Su rol no permite compartir víctimas: solo un oficial de casos puede hacerlo."))
    return victim


def _active_consent_of(victim: Victim, consent_id: int | None) -> VictimConsent:
    # Locked: a withdrawal racing with this share waits, then finds the share and removes its
    # identity access (victim_shares_drop_identity_resting_on) instead of missing it.
    consent = VictimConsent.objects.select_for_update().filter(pk=consent_id, victim=victim).first()
    if consent is None:
        raise ValidationError({"consent": _("Seleccione un consentimiento de esta víctima.")})
    if not consent.is_active:
        raise ValidationError({"consent": _("Un consentimiento retirado no autoriza compartir la identidad.")})
    return consent


@transaction.atomic
def victim_share(
    *,
    actor: User,
    victim_id,
    institution: Institution | None,
    reason: str,
    can_view_identity: bool = False,
    can_collaborate: bool = False,
    legal_basis: str = "",
    consent_id: int | None = None,
) -> VictimShare:
    """Share a victim with no case that the actor's institution registered. Identity requires a
    stated legal basis or the victim's active consent (``consent_id``); with a legal basis the
    share does not rest on the consent.

    Raises Http404 / PermissionDenied (_administered_victim), ValidationError naming the field
    (nothing saved), or DomainError if the victim is already shared with that institution.
    """
    victim = _administered_victim(actor, victim_id)
    reason, legal_basis = (reason or "").strip(), (legal_basis or "").strip()
    errors = {}
    if not reason:
        errors["reason"] = _("Indique el motivo para compartir la víctima.")
    if institution is None:
        errors["institution"] = _("Seleccione una institución válida.")
    elif institution.pk == victim.registering_institution_id:
        errors["institution"] = _("La institución que registró a la víctima ya tiene acceso completo a ella.")
    elif not institution.is_active:
        errors["institution"] = _("La institución no está activa.")
    if can_view_identity and not legal_basis and consent_id is None:
        errors["legal_basis"] = _(
            "Para compartir la identidad indique el consentimiento de la víctima o un fundamento legal."
        )
    if errors:
        raise ValidationError(errors)
    consent = _active_consent_of(victim, consent_id) if can_view_identity and not legal_basis else None
    if VictimShare.objects.filter(victim=victim, institution=institution, revoked_at__isnull=True).exists():
        raise DomainError(_("La víctima ya está compartida con esa institución. Revoque el acceso para cambiarlo."))
    share = VictimShare.objects.create(
        victim=victim,
        institution=institution,
        can_view_identity=can_view_identity,
        can_collaborate=can_collaborate,
        reason=reason,
        legal_basis=legal_basis if can_view_identity else "",
        consent=consent,
        granted_by=actor,
    )
    audit_record(
        AccessAction.SHARE,
        actor=actor,
        victim_code=victim.code,
        details={
            "victim_share_id": share.pk,
            "grantee_institution_id": institution.pk,
            "permissions": share_permissions(share),
            "consent_id": consent.pk if consent else None,
        },
        rests_on_legal_basis=bool(share.legal_basis),
    )
    return share


@transaction.atomic
def victim_unshare(*, actor: User, victim_id, share_id: int, reason: str) -> VictimShare:
    """Revoke a share of a victim with no case: the grantee's next request for the victim answers
    404. Refusals as victim_share; Http404 if the share is not this victim's; ValidationError
    without a reason; DomainError if it was revoked already."""
    victim = _administered_victim(actor, victim_id)
    share = VictimShare.objects.select_for_update().filter(pk=share_id, victim=victim).first()
    if share is None:
        raise Http404(NOT_FOUND_MESSAGE)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Indique el motivo para dejar de compartir la víctima.")})
    if not share.is_active:
        raise DomainError(_("Este acceso ya fue revocado."))
    share.revoked_at, share.revoked_by, share.revoke_reason = timezone.now(), actor, reason
    share.save(update_fields=["revoked_at", "revoked_by", "revoke_reason", "updated_at"])
    audit_record(
        AccessAction.UNSHARE,
        actor=actor,
        victim_code=victim.code,
        details={"victim_share_id": share.pk, "grantee_institution_id": share.institution_id},
    )
    victim_access_revoked.send(
        sender=VictimShare, institution_id=share.institution_id, victim_ids=[victim.pk], actor=actor, reason=reason
    )
    return share


def victim_shares_drop_identity_resting_on(*, consent: VictimConsent, actor: User) -> list[VictimShare]:
    """Called inside consent withdrawal (victims.consent): identity access of victim shares that
    rested on this consent ends now, whether or not the victim has a case meanwhile. A share
    stating a legal basis never rested on a consent (a constraint keeps the two apart)."""
    shares = list(
        VictimShare.objects.select_for_update()
        .select_related("victim")
        .filter(consent=consent, revoked_at__isnull=True, can_view_identity=True, legal_basis="")
    )
    for share in shares:
        share.can_view_identity = False
        share.save(update_fields=["can_view_identity", "updated_at"])
        audit_record(
            AccessAction.UNSHARE,
            actor=actor,
            victim_code=share.victim.code,
            details={
                "victim_share_id": share.pk,
                "grantee_institution_id": share.institution_id,
                "permissions_removed": [VictimPermission.VIEW_IDENTITY],
                "because_consent_withdrawn": consent.pk,
            },
        )
    return shares
