"""Writes for victims: registration with encrypted identity, and links to cases."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from cases.access import NOT_FOUND_MESSAGE, require_case_permission
from cases.constants import CasePermission
from cases.models import Case
from cases.services import ConcurrentUpdateError, person_in_case_save
from institutions.models import Institution, User
from kernel.audit import audit_record_many
from kernel.choices import Sex
from kernel.constants import AccessAction
from kernel.identity_documents import document_blind_index
from kernel.pseudonyms import allocate_code
from kernel.validation import raise_if_any, validate_instance, validation_errors
from victims.constants import AgeStatus
from victims.identity import IDENTITY_FIELDS, duplicate_check
from victims.models import CaseVictim, Victim
from victims.selectors import (
    KnownVictim,
    case_identity_allowed,
    victim_get,
    victim_identity_allowed,
    victims_known_by_document,
)


def victim_register(
    *,
    actor: User | None,
    institution: Institution,
    given_names: str = "",
    surnames: str = "",
    document_type: str = "",
    document_number: str = "",
    birth_date: datetime.date | None = None,
    phone: str = "",
    email: str = "",
    address: str = "",
    notes: str = "",
    sex: str,
    nationality: str = "",
    birth_year: int | None = None,
    age_at_identification: int | None = None,
) -> Victim:
    """Register a person; identity is encrypted, the document indexed blindly.

    Raises ValidationError keyed by field; nothing is saved then.
    """
    victim = Victim(
        code=allocate_code("V"),
        registering_institution=institution,
        given_names=given_names,
        surnames=surnames,
        document_type=document_type,
        document_number=document_number,
        birth_date=birth_date,
        phone=phone,
        email=email,
        address=address,
        notes=notes,
        sex=sex,
        nationality=nationality,
        birth_year=birth_year,
        age_at_identification=age_at_identification,
    )
    validate_instance(victim, unique_by_construction=("code",))  # drawn from a sequence
    victim.save()
    return victim


def victim_link_to_case(
    *,
    actor: User | None,
    victim: Victim,
    case: Case,
    age_status: str = AgeStatus.UNKNOWN,
    age_at_facts: int | None = None,
    purpose: str | None = None,
    region_detected: str | None = None,
    identified_date: datetime.date | None = None,
) -> CaseVictim:
    """Link a victim to a case. Purpose and region default to the case's own."""
    if actor is not None:
        require_case_permission(actor, case.pk, CasePermission.COLLABORATE, write=True)
    link = CaseVictim(
        case=case,
        victim=victim,
        age_status=age_status,
        age_at_facts=age_at_facts,
        purpose=purpose or case.purpose,
        region_detected=region_detected or case.region_detected,
        identified_date=identified_date,
    )
    validate_instance(link)
    link.save()
    return link


# --- victims registered and edited through a case (the web forms) ------------------------------

VICTIM_CONFLICT_MESSAGE = _lazy(
    "Otra persona modificó esta víctima mientras usted la editaba. "
    "Revise los cambios actuales y vuelva a aplicar los suyos."
)
VICTIM_IDENTITY_FIELDS = frozenset(IDENTITY_FIELDS)
VICTIM_EDITABLE_FIELDS = VICTIM_IDENTITY_FIELDS | {"sex", "nationality", "birth_year", "age_at_identification"}
CASE_VICTIM_EDITABLE_FIELDS = frozenset({"age_status", "age_at_facts", "purpose", "region_detected", "identified_date"})
IDENTITY_REFUSED_MESSAGE = _lazy(
    "Su institución no tiene acceso a la identidad de esta víctima, y no puede registrarla ni modificarla."
)
ALREADY_IN_CASE_MESSAGE = _lazy(
    "Esta persona ya es víctima de esta causa, como %(code)s: no se puede registrar otra vez."
)
CASELESS_LINK_REFUSED_MESSAGE = _lazy(
    "Esta víctima no tiene causa y pertenece a la institución que la registró: solo esa institución "
    "puede vincularla a una causa."
)
LINK_REFUSED_MESSAGE = _lazy(
    "Su institución no tiene acceso a la identidad de esta víctima en esta causa, y no puede vincularla a ella."
)


def _allowed_fields(data: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError({name: _("Este campo no existe o no se puede modificar.") for name in sorted(unknown)})
    fields = dict(data)
    if fields.get("birth_date") and not fields.get("birth_year"):
        # Statistics count ages by the year of birth, which the (encrypted) date already says.
        fields["birth_year"] = fields["birth_date"].year
    return fields


@transaction.atomic
def victim_register_in_case(
    *, actor: User, case_id: int, data: Mapping[str, Any], link_data: Mapping[str, Any]
) -> CaseVictim:
    """Register a victim (``data``: VICTIM_EDITABLE_FIELDS) for the actor's institution and
    link them to the case (``link_data``: CASE_VICTIM_EDITABLE_FIELDS), as one act.

    Needs *colaborar* on the case and the case-officer role (Http404 / PermissionDenied).
    Identity may be entered only by those who could read it once saved (ADR 0002): the lead,
    or a grantee with *ver identidad* on a stated legal basis (victims.selectors.
    case_identity_allowed). A grantee whose identity access rests on consents does not qualify:
    consents are the existing victims', and do not cover a victim added later. Writing what one
    may not read would also let the writer probe the blind index with documents of their choosing.

    A person whose document is already held by a victim of this case is refused on
    ``document_number`` (the officer links nobody twice; ALREADY_IN_CASE_MESSAGE names the
    victim's code, which whoever may write identity into the case may read).

    Raises one ValidationError with the errors of both records; if the link is refused after
    the victim was written, the victim is rolled back with it, so nothing is ever half-saved.
    """
    require_case_permission(actor, case_id, CasePermission.COLLABORATE, write=True)
    case = Case.objects.get(pk=case_id)
    fields = _allowed_fields(data, VICTIM_EDITABLE_FIELDS)
    link_fields = _allowed_fields(link_data, CASE_VICTIM_EDITABLE_FIELDS)
    if any(fields.get(name) for name in VICTIM_IDENTITY_FIELDS) and not case_identity_allowed(user=actor, case=case):
        raise PermissionDenied(IDENTITY_REFUSED_MESSAGE)
    link_fields["purpose"] = link_fields.get("purpose") or case.purpose
    link_fields["region_detected"] = link_fields.get("region_detected") or case.region_detected
    already_in_case = already_in_case_errors(case, fields)
    victim, victim_errors = None, {}
    try:
        victim = victim_register(actor=actor, institution=actor.institution, **{"sex": Sex.UNKNOWN, **fields})
    except ValidationError as exc:
        victim_errors = exc.message_dict
    link_errors = validation_errors(
        CaseVictim(case=case, **link_fields).full_clean, exclude=["case", "victim"], validate_constraints=False
    )
    raise_if_any(already_in_case, victim_errors, link_errors)  # a victim written above is rolled back with it
    return victim_link_to_case(actor=actor, victim=victim, case=case, **link_fields)


@transaction.atomic
def victim_update(
    *,
    actor: User,
    case_id: int,
    victim_id,
    expected_version: int,
    data: Mapping[str, Any],
    link_data: Mapping[str, Any],
) -> CaseVictim:
    """Apply ``data`` to the victim and ``link_data`` to their part in this case, if nobody
    changed the victim since ``expected_version`` was read (an edit of either bumps it).

    Identity fields may be written only by those who may read this victim's identity
    (victims.selectors.victim_identity_allowed), for the reasons given in victim_register_in_case.
    Http404 if the victim is not in the case; PermissionDenied without *colaborar*, the
    case-officer role, or identity access for identity fields; ConcurrentUpdateError on a stale
    version; ValidationError, with nothing saved, on bad input.
    """
    require_case_permission(actor, case_id, CasePermission.COLLABORATE, write=True)
    link = (
        CaseVictim.objects.select_for_update(of=("self", "victim"))
        .select_related("victim")
        .filter(case_id=case_id, victim_id=victim_id)
        .first()
    )
    if link is None:
        raise Http404(NOT_FOUND_MESSAGE)
    victim = link.victim
    if victim.version != expected_version:
        raise ConcurrentUpdateError(VICTIM_CONFLICT_MESSAGE)
    fields = _allowed_fields(data, VICTIM_EDITABLE_FIELDS)
    link_fields = _allowed_fields(link_data, CASE_VICTIM_EDITABLE_FIELDS)
    if VICTIM_IDENTITY_FIELDS & set(fields) and not victim_identity_allowed(user=actor, victim=victim):
        raise PermissionDenied(IDENTITY_REFUSED_MESSAGE)
    already_in_case = already_in_case_errors(case_id, fields, excluding=victim.pk)
    if already_in_case:
        raise ValidationError(already_in_case)
    person_in_case_save(person=victim, link=link, fields=fields, link_fields=link_fields)
    return link


def already_in_case_errors(case: Case | int, fields: Mapping[str, Any], *, excluding=None) -> dict[str, list[str]]:
    """The document belongs to another victim of this case (``excluding``: the victim being
    edited, whose own document is no conflict)."""
    if not (fields.get("document_type") and fields.get("document_number")):
        return {}
    try:
        index = document_blind_index(fields["document_type"], fields["document_number"])
    except ValidationError:
        return {}  # a malformed document is reported on its field by victim_register
    others = CaseVictim.objects.filter(case=case, victim__document_index=index)
    if excluding is not None:
        others = others.exclude(victim_id=excluding)
    code = others.values_list("victim__code", flat=True).first()
    return {"document_number": [ALREADY_IN_CASE_MESSAGE % {"code": code}]} if code else {}


# --- the duplicate warning of the registration form, and linking the person found --------------


@dataclass(frozen=True)
class Duplicates:
    """What the duplicate warning says (victim_duplicates_check)."""

    known: tuple[KnownVictim, ...] = ()  # victims the institution may read: code and cases
    holders: tuple[str, ...] = ()  # institutions holding the person where the user cannot see

    def __bool__(self) -> bool:
        return bool(self.known or self.holders)

    @property
    def in_case(self) -> KnownVictim | None:
        """The victim of this very case holding the document, if any: registering is refused."""
        return next((victim for victim in self.known if victim.in_case), None)

    @property
    def linkable(self) -> tuple[KnownVictim, ...]:
        return tuple(victim for victim in self.known if not victim.in_case and victim.may_link)


NO_DUPLICATES = Duplicates()


@transaction.atomic
def victim_duplicates_check(
    *, user: User, case_id: int, document_type: str, document_number: str, ip_address: str | None = None
) -> Duplicates:
    """ "Is this person already registered?", asked while registering a victim into a case.

    Two answers, by what the institution may know (victims.selectors.victims_known_by_document
    says why): the victims whose identity it may read, by code and case, and whether one is a
    victim of this case already; and the institutions holding the person in records it cannot
    see, by name only (victims.identity.duplicate_check, which logs that answer itself).

    Each victim named is an identity read in the access log (the answer ties the typed document
    to the victim's code), all in one append; the document itself is never logged. An answer
    that names nobody logs nothing. Callers check first that the user may write identity into
    the case (*colaborar*, the case-officer role, victims.selectors.case_identity_allowed).
    Raises ValidationError if the document is malformed.
    """
    known = tuple(
        victims_known_by_document(
            user=user, document_type=document_type, document_number=document_number, case_id=case_id
        )
    )
    holders = tuple(duplicate_check(user=user, document_type=document_type, document_number=document_number))
    if known:
        audit_record_many(
            AccessAction.IDENTITY_READ,
            actor=user,
            ip_address=ip_address,
            events=[
                {
                    "victim_code": victim.code,
                    "details": {"fields": ["document_type", "document_number"], "check": "duplicate"},
                    "rests_on_legal_basis": victim.rests_on_legal_basis,
                }
                for victim in known
            ],
        )
    return Duplicates(known=known, holders=holders)


def victim_link_check(*, actor: User, case_id: int, victim_id) -> tuple[Case, Victim]:
    """May the actor link this existing victim to the case? Returns both, or refuses.

    Linking writes the person, identity and all, into the case, so it takes what registering
    them with identity takes (*colaborar*, the case-officer role, and identity access to the
    case: victims.selectors.case_identity_allowed) and identity access to this victim
    (victim_identity_allowed): otherwise an institution could bring into a case it leads a
    victim it sees only at *ver*, and so give itself that victim's identity.

    Http404 if the case or the victim is not visible to the actor; PermissionDenied (403) if
    they are and the actor may not link. A victim with no case is linked only by the
    institution that registered it (a grantee of its share may not: CASELESS_LINK_REFUSED_MESSAGE).
    """
    require_case_permission(actor, case_id, CasePermission.COLLABORATE, write=True)
    case = Case.objects.get(pk=case_id)
    victim = victim_get(user=actor, victim_id=victim_id)
    if not (case_identity_allowed(user=actor, case=case) and victim_identity_allowed(user=actor, victim=victim)):
        raise PermissionDenied(LINK_REFUSED_MESSAGE)
    if (
        victim.registering_institution_id != actor.institution_id
        and not CaseVictim.objects.filter(victim=victim).exists()
    ):
        # A victim with no case is the registering institution's (administrar); a grantee of
        # it (victims.models.VictimShare) linking it into a case of its own would put it under
        # that case's grants and so take it away from the institution that registered it.
        raise PermissionDenied(CASELESS_LINK_REFUSED_MESSAGE)
    return case, victim


@transaction.atomic
def victim_link_existing_to_case(*, actor: User, case_id: int, victim_id, link_data: Mapping[str, Any]) -> CaseVictim:
    """ "Vincular a esta víctima": make a victim already registered (found by the duplicate
    warning) a victim of this case too, with their part in it (``link_data``:
    CASE_VICTIM_EDITABLE_FIELDS), instead of registering the person a second time. The
    victim's own record is left as it is.

    Refusals as victim_link_check; a victim already in the case is refused on
    ``document_number`` (ValidationError, nothing saved), and so are bad ``link_data`` fields.
    The link is written through victim_link_to_case, and so lands in the case's change history
    like every registration (kernel.history), attributed to the request's user.
    """
    case, victim = victim_link_check(actor=actor, case_id=case_id, victim_id=victim_id)
    # Two officers linking the same person at once: the second waits, then sees the first link.
    # Sharing the victim (victims.sharing) takes the same lock, so a share is never given to a
    # victim that a link, committed meanwhile, has just put under a case's grants.
    list(Victim.objects.select_for_update().filter(pk=victim.pk).values_list("pk", flat=True))
    if CaseVictim.objects.filter(case=case, victim=victim).exists():
        raise ValidationError({"document_number": [ALREADY_IN_CASE_MESSAGE % {"code": victim.code}]})
    link_fields = _allowed_fields(link_data, CASE_VICTIM_EDITABLE_FIELDS)
    return victim_link_to_case(actor=actor, victim=victim, case=case, **link_fields)
