"""Writes for victims: registration with encrypted identity, and links to cases."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
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
from kernel.choices import Sex
from kernel.pseudonyms import allocate_code
from kernel.validation import raise_if_any, validate_instance, validation_errors
from victims.constants import AgeStatus
from victims.identity import IDENTITY_FIELDS
from victims.models import CaseVictim, Victim
from victims.selectors import case_identity_allowed, victim_identity_allowed


@transaction.atomic
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
    validate_instance(victim)
    victim.save()
    return victim


@transaction.atomic
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
    victim, victim_errors = None, {}
    try:
        victim = victim_register(actor=actor, institution=actor.institution, **{"sex": Sex.UNKNOWN, **fields})
    except ValidationError as exc:
        victim_errors = exc.message_dict
    link_errors = validation_errors(
        CaseVictim(case=case, **link_fields).full_clean, exclude=["case", "victim"], validate_constraints=False
    )
    raise_if_any(victim_errors, link_errors)  # a victim written above is rolled back with it
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
    person_in_case_save(person=victim, link=link, fields=fields, link_fields=link_fields)
    return link
