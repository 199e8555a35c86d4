"""Writes for victims: registration with encrypted identity, and links to cases."""

from __future__ import annotations

import datetime

from django.db import transaction

from cases.access import require_case_permission
from cases.constants import CasePermission
from cases.models import Case
from institutions.models import Institution, User
from kernel.pseudonyms import allocate_code
from kernel.validation import validate_instance
from victims.constants import AgeStatus
from victims.models import CaseVictim, Victim


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
