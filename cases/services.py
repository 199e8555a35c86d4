"""Writes for cases and offenders. Each service validates fully before anything is saved and
runs in one transaction, so bad input leaves nothing half-saved.

Services that change an existing case check the actor's permission on it (cases.access);
``actor=None`` is the system itself (seeding, imports), which holds every permission.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils.translation import gettext as _

from cases.access import grant_permissions, require_case_permission
from cases.constants import CasePermission
from cases.models import Case, CaseExternalReference, CaseOffender, Offender
from cases.validators import normalise_ruc
from institutions.models import Institution, User
from kernel.errors import DomainError
from kernel.pseudonyms import allocate_code
from kernel.validation import validate_instance

# Fields a case officer may set; everything else (lead institution, version, timestamps) is
# owned by the system and never mass-assigned.
CASE_EDITABLE_FIELDS = frozenset(
    {
        "ruc",
        "intake_date",
        "investigation_start_date",
        "is_formalised",
        "formalised_date",
        "status",
        "termination_type",
        "termination_date",
        "purpose",
        "region_detected",
        "fiscalia_regional",
    }
)


class ConcurrentUpdateError(DomainError):
    def __init__(self) -> None:
        super().__init__(
            _(
                "Otra persona modificó esta causa mientras usted la editaba. Recargue la causa y vuelva a aplicar sus cambios."  # noqa: E501
            ),
            code="version_conflict",
        )


def _checked_fields(data: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(data) - CASE_EDITABLE_FIELDS
    if unknown:
        raise ValidationError({name: _("Este campo no existe o no se puede modificar.") for name in sorted(unknown)})
    fields = dict(data)
    if fields.get("ruc") is not None:
        fields["ruc"] = normalise_ruc(fields["ruc"]) or None
    return fields


def _external_references(case: Case, references: Iterable[tuple[str, str]]) -> list[CaseExternalReference]:
    built = [
        CaseExternalReference(case=case, source=source, reference=(ref or "").strip()) for source, ref in references
    ]
    errors: dict[str, list[str]] = {}
    for position, reference in enumerate(built):
        try:
            reference.full_clean(exclude=["case"])
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors.setdefault(f"external_references[{position}].{field}", []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return built


@transaction.atomic
def case_create(
    *,
    actor: User | None,
    lead_institution: Institution,
    data: Mapping[str, Any],
    external_references: Iterable[tuple[str, str]] = (),
) -> Case:
    """Register a case led by ``lead_institution``. Raises ValidationError (field-keyed, Spanish)."""
    case = Case(lead_institution=lead_institution, created_by=actor, **_checked_fields(data))
    validate_instance(case)
    references = _external_references(case, external_references)  # all validated before any save
    case.save()
    CaseExternalReference.objects.bulk_create(references)
    grant_permissions(lead_institution, case, CasePermission.LEAD)
    return case


@transaction.atomic
def case_update(*, actor: User | None, case_id: int, expected_version: int, data: Mapping[str, Any]) -> Case:
    """Apply ``data`` to the case if nobody changed it since ``expected_version`` was read.

    Raises ConcurrentUpdateError on a stale version, ValidationError on bad input.
    """
    if actor is not None:
        require_case_permission(actor, case_id, CasePermission.COLLABORATE, write=True)
    case = Case.objects.select_for_update().get(pk=case_id)
    if case.version != expected_version:
        raise ConcurrentUpdateError()
    for name, value in _checked_fields(data).items():
        setattr(case, name, value)
    validate_instance(case)
    case.version = F("version") + 1
    case.save()
    case.refresh_from_db(fields=["version", "updated_at"])
    return case


@transaction.atomic
def offender_register(
    *,
    actor: User | None,
    given_names: str = "",
    surnames: str = "",
    document_type: str = "",
    document_number: str = "",
    sex: str,
    nationality: str = "",
) -> Offender:
    offender = Offender(
        code=allocate_code("I"),
        given_names=given_names,
        surnames=surnames,
        document_type=document_type,
        document_number=document_number,
        sex=sex,
        nationality=nationality,
    )
    validate_instance(offender)
    offender.save()
    return offender


@transaction.atomic
def offender_link_to_case(
    *,
    actor: User | None,
    offender: Offender,
    case: Case,
    is_formalised: bool = False,
    is_convicted: bool = False,
    sentence_date: datetime.date | None = None,
) -> CaseOffender:
    if actor is not None:
        require_case_permission(actor, case.pk, CasePermission.COLLABORATE, write=True)
    link = CaseOffender(
        case=case,
        offender=offender,
        is_formalised=is_formalised,
        is_convicted=is_convicted,
        sentence_date=sentence_date,
    )
    validate_instance(link)
    link.save()
    return link
