"""Reading decrypted identity: the only way views and APIs get it. Every read is audited."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.http import Http404
from django.utils.translation import gettext as _

from cases.access import NOT_FOUND_MESSAGE
from cases.models import CaseOffender, CaseShare, Offender
from cases.selectors import CaseRow, case_get, case_list_by_document, case_victim_ids_with_identity
from institutions.models import User
from kernel.audit import audit_record, audit_record_many
from kernel.constants import AccessAction
from kernel.identity_documents import DocumentType
from victims.models import CaseVictim, Victim
from victims.selectors import (
    case_identity_allowed,
    document_registered_elsewhere,
    victim_get,
    victim_identity_allowed,
    victim_shares_in_force,
)

IDENTITY_FIELDS = (
    "given_names",
    "surnames",
    "document_type",
    "document_number",
    "birth_date",
    "phone",
    "email",
    "address",
    "notes",
)


@transaction.atomic
def victim_identity_reveal(*, user: User, victim_id, client_id: str = "", ip_address: str | None = None) -> dict:
    """Return the victim's decrypted identity and record the read in the access log.

    Http404 if the victim is not visible to the user; PermissionDenied (403) if it is visible
    but the institution has no identity access to it.
    """
    victim = victim_get(user=user, victim_id=victim_id)
    if not victim_identity_allowed(user=user, victim=victim):
        raise PermissionDenied(_("Su institución no tiene acceso a la identidad de esta víctima."))
    identity = {field: getattr(victim, field) for field in IDENTITY_FIELDS}
    audit_record(
        AccessAction.IDENTITY_READ,
        actor=user,
        client_id=client_id,
        victim_code=victim.code,
        details={"fields": list(IDENTITY_FIELDS)},
        ip_address=ip_address,
        rests_on_legal_basis=_rests_on_legal_basis(user, victim),
    )
    return identity


def identity_rows(model, identity: dict) -> list[tuple[str, object]]:
    """(Spanish label, value) of each filled identity field, for display: field labels from the
    model, the document type by its name ("RUN", "Pasaporte"), never an internal key."""
    rows = []
    for name, value in identity.items():
        if value in (None, ""):
            continue
        if name == "document_type":
            value = DocumentType(value).label if value in DocumentType.values else value
        rows.append((str(model._meta.get_field(name).verbose_name).capitalize(), value))
    return rows


def case_victims_identity_reveal(*, user: User, case_id: int, ip_address: str | None = None) -> dict:
    """ "Mostrar identidad" for every victim of the case the user may read: {victim id:
    identity}. One access-log event per victim, as if each had been revealed on its own, in one
    append. Http404 if the case is not visible; PermissionDenied if no victim's identity is
    readable."""
    case = case_get(user=user, case_id=case_id)
    allowed = case_victim_ids_with_identity(user=user, case_id=case.pk)
    if not allowed:
        raise PermissionDenied(_("Su institución no tiene acceso a la identidad de las víctimas de esta causa."))
    victims = list(Victim.objects.filter(pk__in=allowed).order_by("code"))
    on_legal_basis = set(
        CaseShare.objects.filter(
            institution_id=user.institution_id,
            revoked_at__isnull=True,
            can_view_identity=True,
            case__victim_links__victim_id__in=allowed,
        )
        .exclude(legal_basis="")
        .values_list("case__victim_links__victim_id", flat=True)
    )
    identities = {victim.pk: {field: getattr(victim, field) for field in IDENTITY_FIELDS} for victim in victims}
    audit_record_many(
        AccessAction.IDENTITY_READ,
        actor=user,
        ip_address=ip_address,
        events=[
            {
                "case_id": case.pk,
                "victim_code": victim.code,
                "details": {"fields": list(IDENTITY_FIELDS)},
                "rests_on_legal_basis": victim.pk in on_legal_basis,
            }
            for victim in victims
        ],
    )
    return identities


def _rests_on_legal_basis(user: User, victim: Victim) -> bool:
    """For the access log: the institution reads this identity through a grant stating a legal
    basis (a case share, unless it leads a case of the victim; or, for a victim with no case, a
    victim share: victims.sharing), not as its lead or registering institution. One query."""
    institution_id = user.institution_id
    case_share_on_legal_basis = CaseShare.objects.filter(
        institution_id=institution_id,
        revoked_at__isnull=True,
        can_view_identity=True,
        case__victim_links__victim_id=OuterRef("pk"),
    ).exclude(legal_basis="")
    led = CaseVictim.objects.filter(victim_id=OuterRef("pk"), case__lead_institution_id=institution_id)
    victim_share_on_legal_basis = (
        victim_shares_in_force(institution_id=institution_id)
        .filter(victim_id=OuterRef("pk"), can_view_identity=True)
        .exclude(legal_basis="")
    )
    return (
        Victim.objects.filter(pk=victim.pk)
        .filter((Exists(case_share_on_legal_basis) & ~Exists(led)) | Exists(victim_share_on_legal_basis))
        .exists()
    )


@transaction.atomic
def offender_identity_reveal(
    *, user: User, case_id: int, offender_id, client_id: str = "", ip_address: str | None = None
) -> dict:
    """An offender's identity, for the lead or a grantee whose identity access states a legal
    basis (a victim's consent never covers an offender)."""
    case = case_get(user=user, case_id=case_id)
    link = CaseOffender.objects.filter(case=case, offender_id=offender_id).select_related("offender").first()
    if link is None:
        raise Http404(NOT_FOUND_MESSAGE)
    if not case_identity_allowed(user=user, case=case):
        raise PermissionDenied(_("Su institución no tiene acceso a la identidad de los imputados de esta causa."))
    offender: Offender = link.offender
    identity = {
        field: getattr(offender, field) for field in ("given_names", "surnames", "document_type", "document_number")
    }
    audit_record(
        AccessAction.IDENTITY_READ,
        actor=user,
        client_id=client_id,
        case_id=case.pk,
        details={"offender_code": offender.code},
        ip_address=ip_address,
        rests_on_legal_basis=case.lead_institution_id != user.institution_id,
    )
    return identity


@transaction.atomic
def duplicate_check(*, user: User, document_type: str, document_number: str) -> list[str]:
    """'Is this person already registered elsewhere?' Names of the institutions holding them in
    records the user cannot see; a positive answer is itself an access-log event (it says the
    person is known to the system). The document is not written to the log."""
    institutions = document_registered_elsewhere(
        user=user, document_type=document_type, document_number=document_number
    )
    if institutions:
        audit_record(AccessAction.DUPLICATE_FOUND, actor=user, details={"institutions": institutions})
    return institutions


def case_search_by_document(*, user: User, document_type: str, document_number: str) -> list[CaseRow]:
    """Causas by a victim's document number (cases.selectors.case_list_by_document): only
    cases where the user may read that victim's identity. Every search is an access-log event,
    found or not, since it asks the system whether this person is a victim; the document number
    itself is never logged."""
    rows = case_list_by_document(user=user, document_type=document_type, document_number=document_number)
    audit_record(
        AccessAction.DOCUMENT_SEARCH,
        actor=user,
        details={"document_type": document_type, "cases": [row.id for row in rows]},
    )
    return rows
