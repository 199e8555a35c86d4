"""Reads of victims, decided by the asking user's institution permissions on their cases, and,
for a victim with no case (Protocolo de Atención), by the registering institution and the
victim's active shares (victims.models.VictimShare)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, Exists, ExpressionWrapper, F, OuterRef, Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from cases.access import NOT_FOUND_MESSAGE, permission_id, user_case_permissions, user_group_id, visible_case_ids
from cases.constants import CasePermission
from cases.models import Case, CaseGroupObjectPermission, CaseShare
from cases.selectors import case_victim_links_with_identity
from institutions.models import Institution, User
from kernel.identity_documents import document_blind_index
from victims.constants import VictimPermission
from victims.models import CaseVictim, Victim, VictimShare


def _member(user: User) -> bool:
    return user.is_authenticated and user.is_active and user.institution_id is not None


def victim_shares_in_force(*, institution_id: int | None) -> QuerySet[VictimShare]:
    """The institution's active shares of victims that have no case: the only ones that give
    access. Once a victim is linked to a case, the case's grants govern (as they do for the
    registering institution's own rights), and its shares give nothing while it has one."""
    return VictimShare.objects.filter(institution_id=institution_id, revoked_at__isnull=True).exclude(
        Exists(CaseVictim.objects.filter(victim_id=OuterRef("victim_id")))
    )


def _identity_basis_in_force() -> Q:
    """A share's identity access stands: it states a legal basis, or rests on the victim's
    consent while that consent is active (withdrawing it also clears can_view_identity)."""
    return Q(can_view_identity=True) & (
        ~Q(legal_basis="") | Q(consent__isnull=False, consent__withdrawn_on__isnull=True)
    )


def victim_list(*, user: User) -> QuerySet[Victim]:
    """Victims linked to a case the institution may see, the ones it registered with no case
    (Protocolo de Atención without a criminal case), and those with no case shared with it
    (victim_shares_in_force). Pseudonym and statistics only: reading identity goes through
    victims.identity."""
    if not _member(user):
        return Victim.objects.none()
    in_visible_case = Q(
        pk__in=CaseVictim.objects.filter(case__in=visible_case_ids(user_group_id(user))).values("victim_id")
    )
    registered_without_case = Q(registering_institution_id=user.institution_id, case_links__isnull=True)
    shared_without_case = Q(pk__in=victim_shares_in_force(institution_id=user.institution_id).values("victim_id"))
    return Victim.objects.filter(in_visible_case | registered_without_case | shared_without_case).distinct()


def victim_get(*, user: User, victim_id) -> Victim:
    victim = victim_list(user=user).filter(pk=victim_id).first()
    if victim is None:
        raise Http404(NOT_FOUND_MESSAGE)
    return victim


def caseless_victim_permissions(*, user: User, victim: Victim) -> frozenset[str]:
    """What the user's institution holds over a victim with no case (VictimPermission): all four
    for the registering institution, what an active share gives for a grantee (ver, ver identidad
    on a basis in force, colaborar), nothing otherwise, and nothing for a victim with a case,
    whose access comes from its cases' grants (cases.access). A role does not narrow this: the
    services check the case-officer role for writes, as they do for cases."""
    if not _member(user) or CaseVictim.objects.filter(victim=victim).exists():
        return frozenset()
    if victim.registering_institution_id == user.institution_id:
        return frozenset(VictimPermission.ALL)
    share = (
        victim_shares_in_force(institution_id=user.institution_id)
        .filter(victim_id=victim.pk)
        .annotate(identity_in_force=ExpressionWrapper(_identity_basis_in_force(), output_field=BooleanField()))
        .first()
    )
    if share is None:
        return frozenset()
    held = {VictimPermission.VIEW}
    if share.identity_in_force:
        held.add(VictimPermission.VIEW_IDENTITY)
    if share.can_collaborate:
        held.add(VictimPermission.COLLABORATE)
    return frozenset(held)


def victim_shares(*, user: User, victim_id) -> tuple[Victim, QuerySet[VictimShare]]:
    """A victim with no case and its shares, for its registering institution only: Http404
    unless the victim is visible; PermissionDenied (403) for a grantee, or for the registering
    institution once the victim has a case (the case is shared instead)."""
    victim = victim_get(user=user, victim_id=victim_id)
    if VictimPermission.ADMINISTER not in caseless_victim_permissions(user=user, victim=victim):
        raise PermissionDenied(not_administered_message(victim))
    shares = (
        VictimShare.objects.filter(victim=victim)
        .select_related("institution", "consent")
        .order_by(F("revoked_at").asc(nulls_first=True), "-created_at", "-id")  # active ones first
    )
    return victim, shares


def not_administered_message(victim: Victim) -> str:
    if CaseVictim.objects.filter(victim=victim).exists():
        return _("La víctima está vinculada a una causa: su acceso se comparte desde la causa.")
    return _("Solo la institución que registró a la víctima comparte o revoca su acceso.")


def case_victims(*, user: User, case_id: int) -> QuerySet[CaseVictim]:
    """The victims of a visible case (callers check visibility first: cases.selectors.case_get)."""
    return CaseVictim.objects.filter(case_id=case_id, case__in=visible_case_ids(user_group_id(user))).select_related(
        "victim"
    )


def victim_identity_allowed(*, user: User, victim: Victim) -> bool:
    """May this user read this victim's decrypted identity?

    Yes when the institution registered the victim without a case, or holds *ver identidad* on
    such a victim through a victim share (a stated legal basis or the victim's active consent);
    or when it leads a case of the victim, or holds *ver identidad* on one of the victim's cases
    through a share that states a legal basis or rests on this victim's own active consent.
    """
    if not _member(user):
        return False
    institution_id = user.institution_id
    links = CaseVictim.objects.filter(victim=victim)
    if not links.exists():
        return victim.registering_institution_id == institution_id or (
            victim_shares_in_force(institution_id=institution_id)
            .filter(_identity_basis_in_force(), victim_id=victim.pk)
            .exists()
        )
    # From the victim's few links to the grant table's unique index, one probe per link: as a
    # semi-join over every grant of the institution, the plan would depend on fresh statistics
    # (after a large import, 40-130 ms per victim; see bench/api.py).
    holds_identity = CaseGroupObjectPermission.objects.filter(
        group_id=user_group_id(user),
        permission_id=permission_id(CasePermission.VIEW_IDENTITY),
        content_object_id=OuterRef("case_id"),
    )
    with_identity = links.filter(Exists(holds_identity))
    if with_identity.filter(case__lead_institution_id=institution_id).exists():
        return True
    shares = CaseShare.objects.filter(
        case__in=with_identity.values("case_id"),
        institution_id=institution_id,
        revoked_at__isnull=True,
        can_view_identity=True,
    )
    return shares.filter(~Q(legal_basis="") | Q(consents__victim=victim, consents__withdrawn_on__isnull=True)).exists()


def case_identity_allowed(*, user: User, case: Case) -> bool:
    """May this user read the identity of the case's offenders, and write identity into the case?

    Yes for the lead institution, and for a grantee holding *ver identidad* through an active
    share that states a legal basis. A share resting on victims' consents does not count: a
    consent is one victim's (ADR 0002), so it never covers offenders, nor a victim registered
    into the case after the share was given.
    """
    if not _member(user):
        return False
    if case.lead_institution_id == user.institution_id:
        return True
    return (
        CasePermission.VIEW_IDENTITY in user_case_permissions(user, case.pk)
        and CaseShare.objects.filter(case_id=case.pk, institution_id=user.institution_id, revoked_at__isnull=True)
        .exclude(legal_basis="")
        .exists()
    )


def document_registered_elsewhere(*, user: User, document_type: str, document_number: str) -> list[str]:
    """Names of the institutions that hold this person in records the user cannot see.

    Only institution names leave this function: no case, code or field of the hidden records.
    A case the institution sees, even at *ver* only, is never named here, nor a victim with no
    case shared with it at any level: see victims_known_by_document for why. Raises
    ValidationError if the document is malformed (it cannot be indexed).
    """
    if not _member(user):
        return []
    index = document_blind_index(document_type, document_number)
    hidden_links = CaseVictim.objects.filter(victim__document_index=index).exclude(
        case__in=visible_case_ids(user_group_id(user))
    )
    lead_ids = hidden_links.values("case__lead_institution_id")
    # A victim with no case the institution sees through a share, even at *ver*, is not named
    # either: its registering institution would tie the document to the record.
    registering_ids = (
        Victim.objects.filter(document_index=index, case_links__isnull=True)
        .exclude(pk__in=victim_shares_in_force(institution_id=user.institution_id).values("victim_id"))
        .values("registering_institution_id")
    )
    return list(
        Institution.objects.filter(Q(pk__in=lead_ids) | Q(pk__in=registering_ids))
        .exclude(pk=user.institution_id)
        .order_by("name")
        .values_list("name", flat=True)
    )


@dataclass(frozen=True)
class KnownVictim:
    """A victim holding the typed document, whose identity the user's institution may read."""

    id: uuid.UUID
    code: str
    cases: tuple[Case, ...]  # the cases the user sees the person in, by RUC
    in_case: bool  # already a victim of the case the officer is registering into
    rests_on_legal_basis: bool  # for the access log, as victims.identity records reveals
    # A victim with no case is brought into a case by its registering institution only
    # (victims.services.victim_link_check): a grantee of the victim sees it here, but may not link.
    may_link: bool = True


def victims_known_by_document(
    *, user: User, document_type: str, document_number: str, case_id: int | None
) -> list[KnownVictim]:
    """The victims with this document whose identity the user's institution may read, with the
    cases the user sees them in: "this person is already registered as V-… in causa …".

    Who counts is the rule of victim_identity_allowed (and of cases.selectors.
    case_victim_links_with_identity): the institution leads a case of the victim, holds
    *ver identidad* on one through a share stating a legal basis or resting on this victim's
    consent, registered the victim without a case, or holds *ver identidad* on such a victim
    through a victim share (victims.models.VictimShare). Such an institution may already read who
    the person is, document included, so naming the victim's code and cases tells it nothing new.

    A victim the institution sees only at *ver* (pseudonym and statistics) is left out, and is
    not named through its institutions either (document_registered_elsewhere skips every case
    the user sees). *Ver* is exactly the grant that does not tie a record to a person
    (../shared/access-model.md): saying that the typed document matches, even only by naming the
    case's lead institution, would let the officer pin an identity on a victim whose case facts
    and statistics they read, and probe the blind index with documents of their choosing. Where
    the access model and the issue differ the stricter reading wins, so a *ver*-only match answers
    as an unknown person does (ADR 0002: absent from every search). The price is that such an
    officer may register the person a second time: a duplicate record is a smaller harm than an
    identity given to an institution its grant does not allow.

    Raises ValidationError if the document is malformed (it cannot be indexed). Two queries.
    """
    if not _member(user):
        return []
    institution_id = user.institution_id
    index = document_blind_index(document_type, document_number)
    readable = case_victim_links_with_identity(user=user).filter(victim__document_index=index).values("victim_id")
    shares_in_force = victim_shares_in_force(institution_id=institution_id).filter(victim_id=OuterRef("pk"))
    without_case = (
        Q(registering_institution_id=institution_id) | Exists(shares_in_force.filter(_identity_basis_in_force()))
    ) & ~Exists(CaseVictim.objects.filter(victim_id=OuterRef("pk")))
    shared_on_legal_basis = Exists(shares_in_force.filter(can_view_identity=True).exclude(legal_basis=""))
    led = Exists(CaseVictim.objects.filter(victim_id=OuterRef("pk"), case__lead_institution_id=institution_id))
    on_legal_basis = Exists(
        CaseShare.objects.filter(
            institution_id=institution_id,
            revoked_at__isnull=True,
            can_view_identity=True,
            case__victim_links__victim_id=OuterRef("pk"),
        ).exclude(legal_basis="")
    )
    seen_links = (
        CaseVictim.objects.filter(case__in=visible_case_ids(user_group_id(user)))
        .select_related("case")
        .only("case_id", "victim_id", "case__id", "case__ruc")
        .order_by("case__ruc", "case_id")
    )
    victims = (
        Victim.objects.filter(document_index=index)
        .filter(Q(pk__in=readable) | without_case)
        .annotate(rests_on_legal_basis=(on_legal_basis & ~led) | shared_on_legal_basis)
        .only("id", "code", "registering_institution_id")
        .prefetch_related(Prefetch("case_links", queryset=seen_links, to_attr="seen_links"))
        .order_by("code")
    )
    return [
        KnownVictim(
            id=victim.pk,
            code=victim.code,
            cases=tuple(link.case for link in victim.seen_links),
            in_case=any(link.case_id == case_id for link in victim.seen_links),
            rests_on_legal_basis=victim.rests_on_legal_basis,
            may_link=bool(victim.seen_links) or victim.registering_institution_id == institution_id,
        )
        for victim in victims
    ]
