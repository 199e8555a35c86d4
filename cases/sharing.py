"""Sharing a case with another institution, taking it back, and access requests.

Every service here runs in one transaction, locks the case it changes, checks the actor's
permission, keeps the grant record (CaseShare) and the guardian permissions in step, and
writes the access-log event.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.access import (
    NOT_FOUND_MESSAGE,
    grant_permissions,
    require_case_permission,
    revoke_permissions,
    user_group_id,
    visible_case_ids,
)
from cases.constants import AccessRequestStatus, CasePermission
from cases.models import AccessRequest, Case, CaseShare
from institutions.models import Institution, User
from kernel.audit import audit_record
from kernel.constants import AccessAction
from kernel.errors import DomainError
from kernel.identity_documents import document_blind_index
from kernel.signals import victim_access_revoked


def _share_permissions(share: CaseShare) -> list[str]:
    codenames = [CasePermission.VIEW]
    if share.can_view_identity:
        codenames.append(CasePermission.VIEW_IDENTITY)
    if share.can_collaborate:
        codenames.append(CasePermission.COLLABORATE)
    return codenames


def _active_consents_covering_case(case: Case, consent_ids: Iterable[int]):
    from victims.models import VictimConsent

    # Locked: a withdrawal racing with this share waits, then finds the share and removes its
    # identity access (shares_drop_identity_resting_on) instead of missing it.
    consents = list(VictimConsent.objects.select_for_update().filter(pk__in=list(consent_ids)))
    victim_ids = set(case.victim_links.values_list("victim_id", flat=True))
    if len(consents) != len(set(consent_ids)):
        raise ValidationError({"consents": _("Uno de los consentimientos indicados no existe.")})
    for consent in consents:
        if consent.victim_id not in victim_ids:
            raise ValidationError({"consents": _("Cada consentimiento debe ser de una víctima de esta causa.")})
        if not consent.is_active:
            raise ValidationError({"consents": _("Un consentimiento retirado no autoriza compartir la identidad.")})
    missing = victim_ids - {consent.victim_id for consent in consents}
    if missing:
        raise ValidationError(
            {
                "consents": _(
                    "Para compartir la identidad por consentimiento, cada víctima de la causa debe haberlo dado; "
                    "de lo contrario indique un fundamento legal."
                )
            }
        )
    return consents


@transaction.atomic
def case_share(
    *,
    actor: User,
    case_id: int,
    institution: Institution | None,
    reason: str,
    can_view_identity: bool = False,
    can_collaborate: bool = False,
    legal_basis: str = "",
    consent_ids: Iterable[int] = (),
) -> CaseShare:
    """Share a case the actor's institution leads. Identity requires consents or a legal basis.

    Raises Http404/PermissionDenied (cases.access), ValidationError naming the field, or
    DomainError if the case is already shared with that institution.
    """
    require_case_permission(actor, case_id, CasePermission.ADMINISTER, write=True)
    case = Case.objects.select_for_update().get(pk=case_id)
    reason, legal_basis, consent_ids = (reason or "").strip(), (legal_basis or "").strip(), list(consent_ids)
    errors = {}
    if not reason:
        errors["reason"] = _("Indique el motivo para compartir la causa.")
    if institution is None:
        errors["institution"] = _("Seleccione una institución válida.")
    elif institution.pk == case.lead_institution_id:
        errors["institution"] = _("La institución a cargo ya tiene acceso completo a la causa.")
    elif not institution.is_active:
        errors["institution"] = _("La institución no está activa.")
    if can_view_identity and not legal_basis and not consent_ids:
        errors["legal_basis"] = _(
            "Para compartir la identidad indique el consentimiento de las víctimas o un fundamento legal."
        )
    if errors:
        raise ValidationError(errors)
    consents = _active_consents_covering_case(case, consent_ids) if can_view_identity and not legal_basis else []
    if CaseShare.objects.filter(case=case, institution=institution, revoked_at__isnull=True).exists():
        raise DomainError(_("La causa ya está compartida con esa institución. Revoque el acceso para cambiarlo."))
    share = CaseShare.objects.create(
        case=case,
        institution=institution,
        can_view_identity=can_view_identity,
        can_collaborate=can_collaborate,
        reason=reason,
        legal_basis=legal_basis if can_view_identity else "",
        granted_by=actor,
    )
    share.consents.set(consents)
    grant_permissions(institution, case, _share_permissions(share))
    audit_record(
        AccessAction.SHARE,
        actor=actor,
        case_id=case.pk,
        details={
            "share_id": share.pk,
            "grantee_institution_id": institution.pk,
            "permissions": _share_permissions(share),
            "consent_ids": [consent.pk for consent in consents],
        },
        rests_on_legal_basis=bool(share.legal_basis),
    )
    return share


@transaction.atomic
def case_unshare(*, actor: User, share_id: int, reason: str) -> CaseShare:
    """Revoke a share: the grantee's next request for the case answers 404."""
    share = CaseShare.objects.select_for_update().select_related("case", "institution").filter(pk=share_id).first()
    if share is None:
        raise Http404(NOT_FOUND_MESSAGE)
    require_case_permission(actor, share.case_id, CasePermission.ADMINISTER, write=True)
    if not (reason or "").strip():
        raise ValidationError({"reason": _("Indique el motivo para dejar de compartir la causa.")})
    if not share.is_active:
        raise DomainError(_("Este acceso ya fue revocado."))
    share.revoked_at, share.revoked_by, share.revoke_reason = timezone.now(), actor, reason.strip()
    share.save(update_fields=["revoked_at", "revoked_by", "revoke_reason", "updated_at"])
    revoke_permissions(share.institution, share.case, list(CasePermission.LEAD))
    audit_record(
        AccessAction.UNSHARE,
        actor=actor,
        case_id=share.case_id,
        details={"share_id": share.pk, "grantee_institution_id": share.institution_id},
    )
    victim_access_revoked.send(
        sender=CaseShare,
        institution_id=share.institution_id,
        victim_ids=list(share.case.victim_links.values_list("victim_id", flat=True)),
        actor=actor,
        reason=reason.strip(),
    )
    return share


def shares_drop_identity_resting_on(*, consent, actor: User) -> list[CaseShare]:
    """Called inside consent withdrawal: identity access that rested on this consent ends now.

    A share that also states a legal basis keeps identity access (it never rested on consent).
    """
    shares = list(
        CaseShare.objects.select_for_update()
        .select_related("case", "institution")
        .filter(consents=consent, revoked_at__isnull=True, can_view_identity=True, legal_basis="")
    )
    for share in shares:
        share.can_view_identity = False
        share.save(update_fields=["can_view_identity", "updated_at"])
        revoke_permissions(share.institution, share.case, [CasePermission.VIEW_IDENTITY])
        audit_record(
            AccessAction.UNSHARE,
            actor=actor,
            case_id=share.case_id,
            details={
                "share_id": share.pk,
                "grantee_institution_id": share.institution_id,
                "permissions_removed": [CasePermission.VIEW_IDENTITY],
                "because_consent_withdrawn": consent.pk,
            },
        )
    return shares


def _cases_with_document_hidden_from(user: User, document_type: str, number: str):
    from victims.models import CaseVictim

    index = document_blind_index(document_type, number)
    return (
        Case.objects.filter(pk__in=CaseVictim.objects.filter(victim__document_index=index).values("case_id"))
        .exclude(pk__in=visible_case_ids(user_group_id(user)))
        .select_related("lead_institution")
    )


@transaction.atomic
def access_request_create(*, actor: User, document_type: str, document_number: str, reason: str) -> list[AccessRequest]:
    """Ask every lead institution whose case holds this person (found by blind index) for access.

    The requester learns nothing but which institutions were asked.
    """
    if not actor.institution_id or not (reason or "").strip():
        raise ValidationError({"reason": _("Indique el motivo de la solicitud.")})
    requests = []
    for case in _cases_with_document_hidden_from(actor, document_type, document_number):
        if AccessRequest.objects.filter(
            case=case, institution_id=actor.institution_id, status=AccessRequestStatus.PENDING
        ).exists():
            continue
        request = AccessRequest.objects.create(
            case=case, institution_id=actor.institution_id, requested_by=actor, reason=reason.strip()
        )
        audit_record(
            AccessAction.ACCESS_REQUESTED,
            actor=actor,
            case_id=case.pk,
            details={"request_id": request.pk, "addressed_to_institution_id": case.lead_institution_id},
        )
        requests.append(request)
    return requests


@transaction.atomic
def access_request_decide(
    *,
    actor: User,
    request_id: int,
    approve: bool | None,
    note: str = "",
    can_view_identity: bool = False,
    can_collaborate: bool = False,
    legal_basis: str = "",
    consent_ids: Iterable[int] = (),
) -> AccessRequest:
    """The lead institution approves (sharing the case) or declines a pending request."""
    request = AccessRequest.objects.select_for_update().select_related("institution").filter(pk=request_id).first()
    if request is None:
        raise Http404(NOT_FOUND_MESSAGE)
    require_case_permission(actor, request.case_id, CasePermission.ADMINISTER, write=True)
    if approve is None:
        raise ValidationError({"decision": _("Indique si aprueba o rechaza la solicitud.")})
    if request.status != AccessRequestStatus.PENDING:
        raise DomainError(_("Esta solicitud ya fue resuelta."))
    if approve:
        case_share(
            actor=actor,
            case_id=request.case_id,
            institution=request.institution,
            reason=_("Solicitud de acceso %(id)s aprobada. %(note)s") % {"id": request.pk, "note": note},
            can_view_identity=can_view_identity,
            can_collaborate=can_collaborate,
            legal_basis=legal_basis,
            consent_ids=consent_ids,
        )
    request.status = AccessRequestStatus.APPROVED if approve else AccessRequestStatus.DECLINED
    request.decided_by, request.decided_at, request.decision_note = actor, timezone.now(), (note or "").strip()
    request.save(update_fields=["status", "decided_by", "decided_at", "decision_note", "updated_at"])
    audit_record(
        AccessAction.ACCESS_APPROVED if approve else AccessAction.ACCESS_DECLINED,
        actor=actor,
        case_id=request.case_id,
        details={"request_id": request.pk, "requesting_institution_id": request.institution_id},
    )
    return request
