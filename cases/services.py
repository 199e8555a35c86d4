"""Writes for cases and offenders. Each service validates fully before anything is saved and
runs in one transaction, so bad input leaves nothing half-saved.

Services that change an existing case check the actor's permission on it (cases.access);
``actor=None`` is the system itself (seeding, imports), which holds every permission.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import F
from django.http import Http404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from cases.access import NOT_FOUND_MESSAGE, grant_permissions, require_case_permission
from cases.constants import CasePermission
from cases.models import Case, CaseExternalReference, CaseOffender, Offender
from cases.validators import normalise_ruc
from institutions.models import Institution, User
from kernel.choices import Sex
from kernel.errors import DomainError
from kernel.pseudonyms import allocate_code
from kernel.validation import raise_if_any, validate_instance, validation_errors
from victims.selectors import case_identity_allowed

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
    """The record changed since the editor read it (its ``version`` moved on)."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(
            message
            or _(
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
    validate_instance(offender, unique_by_construction=("code",))  # drawn from a sequence
    offender.save()
    return offender


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


# --- offenders entered and edited through a case (the web forms) -------------------------------

OFFENDER_CONFLICT_MESSAGE = _lazy(
    "Otra persona modificó este imputado mientras usted lo editaba. Revise los cambios actuales y vuelva a aplicar los suyos."  # noqa: E501
)

OFFENDER_IDENTITY_FIELDS = frozenset({"given_names", "surnames", "document_type", "document_number"})
OFFENDER_EDITABLE_FIELDS = OFFENDER_IDENTITY_FIELDS | {"sex", "nationality"}
CASE_OFFENDER_EDITABLE_FIELDS = frozenset({"is_formalised", "is_convicted", "sentence_date"})


def _allowed_fields(data: Mapping[str, Any], allowed: frozenset[str]) -> dict[str, Any]:
    unknown = set(data) - allowed
    if unknown:
        raise ValidationError({name: _("Este campo no existe o no se puede modificar.") for name in sorted(unknown)})
    return dict(data)


def _require_offender_identity_write(actor: User, case: Case) -> None:
    """Offender identity is written by exactly those who may read it (victims.selectors.
    case_identity_allowed: the lead, or a grantee with *ver identidad* on a stated legal
    basis). Writing what one may not read would let a collaborator overwrite, blindly, data
    the lead relies on, and probe the blind index with documents of their choosing."""
    if not case_identity_allowed(user=actor, case=case):
        raise PermissionDenied(
            _(
                "Su institución no tiene acceso a la identidad de los imputados de esta causa, "
                "y no puede registrarla ni modificarla."
            )
        )


@transaction.atomic
def offender_register_in_case(
    *, actor: User, case_id: int, data: Mapping[str, Any], link_data: Mapping[str, Any]
) -> CaseOffender:
    """Register an offender (``data``: OFFENDER_EDITABLE_FIELDS) and link them to the case
    (``link_data``: CASE_OFFENDER_EDITABLE_FIELDS), as one act.

    Needs *colaborar* on the case and the case-officer role (Http404 / PermissionDenied), and
    identity access for any identity field. Raises one ValidationError with the errors of both
    records; if the link is refused after the offender was written, the offender is rolled back
    with it, so nothing is ever half-saved.
    """
    require_case_permission(actor, case_id, CasePermission.COLLABORATE, write=True)
    case = Case.objects.get(pk=case_id)
    fields = _allowed_fields(data, OFFENDER_EDITABLE_FIELDS)
    link_fields = _allowed_fields(link_data, CASE_OFFENDER_EDITABLE_FIELDS)
    if any(fields.get(name) for name in OFFENDER_IDENTITY_FIELDS):
        _require_offender_identity_write(actor, case)
    offender, offender_errors = None, {}
    try:
        offender = offender_register(actor=actor, **{"sex": Sex.UNKNOWN, **fields})
    except ValidationError as exc:
        offender_errors = exc.message_dict
    link_errors = validation_errors(
        CaseOffender(case=case, **link_fields).full_clean, exclude=["case", "offender"], validate_constraints=False
    )
    raise_if_any(offender_errors, link_errors)  # an offender written above is rolled back with it
    return offender_link_to_case(actor=actor, offender=offender, case=case, **link_fields)


@transaction.atomic
def offender_update(
    *,
    actor: User,
    case_id: int,
    offender_id,
    expected_version: int,
    data: Mapping[str, Any],
    link_data: Mapping[str, Any],
) -> CaseOffender:
    """Apply ``data`` to the offender and ``link_data`` to their part in the case, if nobody
    changed the offender since ``expected_version`` was read (an edit of either bumps it).

    Http404 if the offender is not in the case; PermissionDenied without *colaborar*, the
    case-officer role, or (for identity fields) identity access; ConcurrentUpdateError on a
    stale version; ValidationError, with nothing saved, on bad input.
    """
    require_case_permission(actor, case_id, CasePermission.COLLABORATE, write=True)
    link = (
        CaseOffender.objects.select_for_update(of=("self", "offender"))
        .select_related("offender", "case")
        .filter(case_id=case_id, offender_id=offender_id)
        .first()
    )
    if link is None:
        raise Http404(NOT_FOUND_MESSAGE)
    offender = link.offender
    if offender.version != expected_version:
        raise ConcurrentUpdateError(OFFENDER_CONFLICT_MESSAGE)
    fields = _allowed_fields(data, OFFENDER_EDITABLE_FIELDS)
    link_fields = _allowed_fields(link_data, CASE_OFFENDER_EDITABLE_FIELDS)
    if OFFENDER_IDENTITY_FIELDS & set(fields):
        _require_offender_identity_write(actor, link.case)
    person_in_case_save(person=offender, link=link, fields=fields, link_fields=link_fields)
    return link


def person_in_case_save(
    *, person: models.Model, link: models.Model, fields: Mapping[str, Any], link_fields: Mapping[str, Any]
) -> None:
    """The last step of an edit of a person (offender or victim) and their part in a case, once
    the caller has locked both, checked the version and who may write which field: apply the
    changes, validate both records (one ValidationError with the errors of both, nothing saved),
    save both and move the person's version on, since an edit of either is an edit of the person
    (the version the edit page carries)."""
    for name, value in fields.items():
        setattr(person, name, value)
    for name, value in link_fields.items():
        setattr(link, name, value)
    raise_if_any(validation_errors(validate_instance, person), validation_errors(validate_instance, link))
    person.version = F("version") + 1
    person.save()
    link.save()
    person.refresh_from_db(fields=["version", "updated_at"])
