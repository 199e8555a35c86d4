"""Upsert of a whole case, as a source system knows it (PUT /api/v1/cases/by-ref/...).

A police or prosecutor system sends, for one of its references, the case with its victims and
offenders, each person under the system's own external id. Replaying the same data changes
nothing (no write, no new version), so a nightly sync can be re-run safely; what differs is
applied through the same rules as the web forms (cases.services, victims.services).

Two requests for the same reference, or naming the same person, are serialised by
transaction-scoped advisory locks taken in a fixed order, so they never create twins and never
deadlock each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy

from cases.access import grant_permissions_many, is_case_officer, require_case_permission, user_case_permissions
from cases.constants import CasePermission, SyncSource
from cases.models import Case, CaseExternalReference, CaseOffender, Offender, OffenderExternalReference
from cases.services import (
    CASE_OFFENDER_EDITABLE_FIELDS,
    OFFENDER_IDENTITY_FIELDS,
    ConcurrentUpdateError,
    _checked_fields,
    case_create,
    offender_link_to_case,
    offender_register,
)
from cases.validators import normalise_ruc
from institutions.models import User
from kernel.choices import Sex
from kernel.errors import DomainError
from kernel.identity_documents import document_blind_index
from kernel.pseudonyms import allocate_codes
from kernel.validation import raise_if_any, validate_instance, validation_errors
from victims.models import CaseVictim, Victim, VictimExternalReference
from victims.selectors import case_identity_allowed, victim_identity_allowed
from victims.services import (
    CASE_VICTIM_EDITABLE_FIELDS,
    IDENTITY_REFUSED_MESSAGE,
    LINK_REFUSED_MESSAGE,
    VICTIM_IDENTITY_FIELDS,
    already_in_case_errors,
    victim_link_to_case,
    victim_register,
)

VICTIM_PERSON_FIELDS = frozenset({"sex", "nationality", "birth_year", "age_at_identification"})
OFFENDER_PERSON_FIELDS = frozenset({"sex", "nationality"})

IDENTITY_SCOPE_MESSAGE = _lazy(
    "Este cliente no tiene el alcance identity:write: no puede enviar datos de identidad (campo «identity»)."
)


OFFENDER_LINK_REFUSED_MESSAGE = _lazy(
    "Su institución no tiene acceso a la identidad de este imputado en sus otras causas, y no puede vincularlo a esta."
)


class ReferenceHeldElsewhere(DomainError):
    def __init__(self) -> None:
        super().__init__(
            _(
                "Esta referencia ya corresponde a una causa que su institución no puede ver. "
                "Solicite acceso a la institución a cargo de la causa."
            ),
            code="reference_held_elsewhere",
        )


@dataclass(frozen=True)
class SyncResult:
    case: Case
    created: bool
    changed: bool


# Advisory locks are taken on buckets of keys, not on each key: PostgreSQL's lock table is
# shared and bounded (max_locks_per_transaction x connections), and a bulk request names
# thousands of people. Two writes whose keys share a bucket merely wait for each other.
LOCK_CLASS = 5_000_105  # the first half of the two-int advisory lock key: "MITP sync"
LOCK_BUCKETS = 1024


def lock_references(keys: Iterable[str]) -> None:
    """Transaction-scoped advisory locks on the buckets of the given keys, taken in one fixed
    order (no deadlocks between requests naming overlapping sets)."""
    ordered = sorted(set(keys))
    if ordered:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, b) FROM ("
                "SELECT DISTINCT (hashtextextended(k, 0) & %s)::int AS b FROM unnest(%s::text[]) AS k ORDER BY 1"
                ") AS buckets",
                [LOCK_CLASS, LOCK_BUCKETS - 1, ordered],
            )


def reference_lock_keys(institution_id: int, source: str, reference: str, data: Mapping[str, Any]) -> list[str]:
    """Everything an upsert may create that must be unique: the case's references (global; a
    RUC normalised, whether it comes from the path or the body) and the people's external ids
    (the institution's own)."""
    keys = [f"ruc:{normalise_ruc(reference)}" if source == SyncSource.FISCALIA_RUC else f"case:{source}:{reference}"]
    if data.get("ruc"):
        keys.append(f"ruc:{normalise_ruc(data['ruc'])}")
    keys += [f"case:{ref['source']}:{ref['reference']}" for ref in data.get("external_references", ())]
    keys += [f"victim:{institution_id}:{source}:{item['external_id']}" for item in data.get("victims", ())]
    keys += [f"offender:{institution_id}:{source}:{item['external_id']}" for item in data.get("offenders", ())]
    return keys


def case_find_by_reference(source: str, reference: str) -> Case | None:
    if source == SyncSource.FISCALIA_RUC:
        return Case.objects.filter(ruc=normalise_ruc(reference)).first()
    ref = CaseExternalReference.objects.select_related("case").filter(source=source, reference=reference).first()
    return ref.case if ref else None


def _current(instance, name: str):
    value = getattr(instance, name)
    return getattr(value, "code", value)  # a CountryField gives a Country


def _same(current, new) -> bool:
    # An empty text is stored as NULL (encrypted fields): sending "" again is no change.
    return current == new or (current in (None, "") and new in (None, ""))


def changed_fields(instance, fields: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if not _same(_current(instance, name), value)}


def _prefixed(exc: ValidationError, prefix: str, identity_fields: frozenset[str]) -> ValidationError:
    """Errors keyed by their path in the request, where identity fields sit under ``identity``."""
    return ValidationError(
        {
            f"{prefix}.identity.{name}" if name in identity_fields else f"{prefix}.{name}": messages
            for name, messages in exc.message_dict.items()
        }
    )


@transaction.atomic
def case_upsert_by_reference(
    *,
    actor: User,
    source: str,
    reference: str,
    data: Mapping[str, Any],
    identity_writes_allowed: bool,
    expected_version: int | None = None,
    must_exist: bool = False,
    locked: bool = False,
) -> SyncResult:
    """Create or update the case ``source`` knows as ``reference``, with its people.

    ``data``: the case fields (cases.services.CASE_EDITABLE_FIELDS), ``external_references``
    (other systems' references to add), ``victims`` and ``offenders`` (each with
    ``external_id``, its own fields, its part in the case, and optionally ``identity``).
    People already in the case but absent from ``data`` are left as they are: a source system
    speaks only for what it sent.

    ``identity_writes_allowed``: the client's token may write identity (scope identity:write).
    Identity is written only by those who may read it (ADR 0002), as in the web forms.
    Case fields absent from ``data`` keep their values (defaults apply only to a new case):
    a system that does not know the RUC never erases the one the Fiscalía recorded.

    ``expected_version``: the case version the client read (If-Match); a stale one raises
    ConcurrentUpdateError and nothing changes, and so does ``must_exist`` (If-Match: *) when
    there is no case yet. ``locked``: the caller already took the advisory locks (bulk ingest
    takes all of them at once).

    Raises ValidationError keyed by field path ("victims.0.sex"), PermissionDenied, Http404,
    ReferenceHeldElsewhere; nothing is written then.
    """
    if not locked:
        lock_references(reference_lock_keys(actor.institution_id, source, reference, data))
    if not is_case_officer(actor):
        raise PermissionDenied(_("Su rol no permite modificar causas: solo un oficial de casos puede hacerlo."))
    _require_source_owner(actor, source)
    case_fields = _case_fields(source, reference, data)
    case = case_find_by_reference(source, reference)
    created = case is None
    if created:
        if expected_version is not None or must_exist:
            raise ConcurrentUpdateError(_("La causa no existe todavía: If-Match no puede coincidir."))
        if new_case_positions(actor, [(source, reference, data)]):
            (result,) = cases_create_many(
                actor=actor, items=[(source, reference, data)], identity_writes_allowed=identity_writes_allowed
            )
            if isinstance(result, Exception):
                raise result
            return result
        own = [(source, reference)] if source != SyncSource.FISCALIA_RUC else []
        case = case_create(actor=actor, lead_institution=actor.institution, data=case_fields, external_references=own)
        _references_add(
            case, data.get("external_references", ()), actor.institution.sync_sources
        )  # errors named by the body's positions
        changed = True
    else:
        if CasePermission.VIEW not in user_case_permissions(actor, case.pk):
            raise ReferenceHeldElsewhere()
        require_case_permission(actor, case.pk, CasePermission.COLLABORATE, write=True)
        case = Case.objects.select_for_update().get(pk=case.pk)
        if expected_version is not None and case.version != expected_version:
            raise ConcurrentUpdateError()
        changed = _case_apply(case, case_fields)
        changed |= _references_add(case, data.get("external_references", ()), actor.institution.sync_sources)
    changed |= _victims_apply(actor, case, source, data.get("victims", ()), identity_writes_allowed, created)
    changed |= _offenders_apply(actor, case, source, data.get("offenders", ()), identity_writes_allowed, created)
    if changed and not created:
        Case.objects.filter(pk=case.pk).update(version=F("version") + 1, updated_at=timezone.now())
        case.refresh_from_db()
    return SyncResult(case=case, created=created, changed=changed)


SOURCE_NOT_OWNED_MESSAGE = _lazy(
    "Su institución no es dueña del sistema de origen «%(source)s»: no escribe sus referencias. "
    "Use el de su propio sistema (la Secretaría MITP registra qué sistemas son de cada institución)."
)


def _require_source_owner(actor: User, source: str) -> None:
    if source not in actor.institution.sync_sources:
        raise PermissionDenied(SOURCE_NOT_OWNED_MESSAGE % {"source": source})


def _case_fields(source: str, reference: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The case's own fields of the body; under fiscalia-ruc the RUC is the reference itself."""
    fields = {
        name: value for name, value in data.items() if name not in ("external_references", "victims", "offenders")
    }
    if source == SyncSource.FISCALIA_RUC:
        ruc = normalise_ruc(reference)
        if "ruc" in fields and fields["ruc"] != ruc:
            raise ValidationError({"ruc": [_("El RUC del cuerpo no coincide con el de la dirección (fiscalia-ruc).")]})
        fields["ruc"] = ruc
    return fields


def case_fields_changed(case: Case, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The case's own fields in ``fields`` that differ from what the case holds (RUC normalised)."""
    return changed_fields(case, _checked_fields(fields))


def _case_apply(case: Case, fields: Mapping[str, Any]) -> bool:
    changes = case_fields_changed(case, fields)
    if not changes:
        return False
    for name, value in changes.items():
        setattr(case, name, value)
    validate_instance(case)
    case.save()  # the version moves on once, at the end of the upsert
    return True


def _references_add(case: Case, references: Iterable[Mapping[str, str]], owned: Iterable[str]) -> bool:
    """Adds the references not there yet; only of source systems the writer owns."""
    owned = set(owned)
    have = set(case.external_references.values_list("source", "reference"))
    new: list[CaseExternalReference] = []
    errors: dict[str, list[str]] = {}
    for position, ref in enumerate(references):  # positions as the request numbers them
        if (ref["source"], ref["reference"]) in have:
            continue
        have.add((ref["source"], ref["reference"]))
        if ref["source"] not in owned:
            errors.setdefault(f"external_references.{position}.source", []).append(
                str(SOURCE_NOT_OWNED_MESSAGE % {"source": ref["source"]})
            )
            continue
        built = CaseExternalReference(case=case, source=ref["source"], reference=ref["reference"])
        try:
            built.full_clean()
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                field = "reference" if name == NON_FIELD_ERRORS else name  # (source, reference) taken
                errors.setdefault(f"external_references.{position}.{field}", []).extend(messages)
        new.append(built)
    if errors:
        raise ValidationError(errors)
    CaseExternalReference.objects.bulk_create(new)
    return bool(new)


def _split(item: Mapping[str, Any], person_fields: frozenset[str], link_fields: frozenset[str]):
    person = {name: item[name] for name in person_fields if name in item}
    link = {name: item[name] for name in link_fields if name in item}
    identity = item.get("identity") or {}
    return person, link, identity


def _known_people(reference_model, link_model, person: str, actor: User, case: Case, source: str, items: list):
    """The people of ``items`` this institution's system already sent ({external id: person}),
    and those of them already in the case ({person id: link}): two queries."""
    known = {
        ref.reference: getattr(ref, person)
        for ref in reference_model.objects.select_related(person).filter(
            institution_id=actor.institution_id, source=source, reference__in=[item["external_id"] for item in items]
        )
    }
    links = link_model.objects.filter(case=case, **{f"{person}__in": known.values()})
    return known, {getattr(link, f"{person}_id"): link for link in links}


def _check_identity_write(actor: User, allowed_by_scope: bool, allowed_by_grants: bool) -> None:
    if not allowed_by_scope:
        raise PermissionDenied(IDENTITY_SCOPE_MESSAGE)
    if not allowed_by_grants:
        raise PermissionDenied(IDENTITY_REFUSED_MESSAGE)


def _victims_apply(
    actor: User, case: Case, source: str, items: Iterable[Mapping[str, Any]], scope_ok: bool, case_is_new: bool
) -> bool:
    items = list(items)
    if not items:
        return False
    known, linked = _known_people(VictimExternalReference, CaseVictim, "victim", actor, case, source, items)
    case_identity = None
    changed = False
    for position, item in enumerate(items):
        person, link_fields, identity = _split(item, VICTIM_PERSON_FIELDS, CASE_VICTIM_EDITABLE_FIELDS)
        try:
            victim = known.get(item["external_id"])
            if victim is None:
                if identity:
                    if case_identity is None:
                        case_identity = case_is_new or case_identity_allowed(user=actor, case=case)
                    _check_identity_write(actor, scope_ok, case_identity)
                if identity.get("birth_date") and not person.get("birth_year"):
                    person["birth_year"] = identity["birth_date"].year
                # One person, one victim per case: the web refuses a second victim with the
                # same document, and so does the sync (statistics would count them twice).
                if duplicate := already_in_case_errors(case, identity):
                    raise ValidationError(duplicate)
                victim = victim_register(
                    actor=actor, institution=actor.institution, **{"sex": Sex.UNKNOWN, **person, **identity}
                )
                VictimExternalReference.objects.create(
                    victim=victim, institution_id=actor.institution_id, source=source, reference=item["external_id"]
                )
                victim_link_to_case(actor=None, victim=victim, case=case, **link_fields)
                changed = True
                continue
            fields = {**person, **identity}
            if identity:
                _check_identity_write(actor, scope_ok, victim_identity_allowed(user=actor, victim=victim))
                if duplicate := already_in_case_errors(case, identity, excluding=victim.pk):
                    raise ValidationError(duplicate)
            link = linked.get(victim.pk)
            if link is None:
                # A person this system already sent in another case: link them here too, as
                # "Vincular a esta víctima" does (identity access to both, victims.services).
                if not (
                    case_identity_allowed(user=actor, case=case) and victim_identity_allowed(user=actor, victim=victim)
                ):
                    raise PermissionDenied(LINK_REFUSED_MESSAGE)
                victim_link_to_case(actor=None, victim=victim, case=case, **link_fields)
                changed = True
                link_changes = {}
            else:
                link_changes = changed_fields(link, link_fields)
            changed |= _person_save(victim, changed_fields(victim, fields), link, link_changes)
        except ValidationError as exc:
            raise _prefixed(exc, f"victims.{position}", VICTIM_IDENTITY_FIELDS) from exc
    return changed


def _offenders_apply(
    actor: User, case: Case, source: str, items: Iterable[Mapping[str, Any]], scope_ok: bool, case_is_new: bool
) -> bool:
    items = list(items)
    if not items:
        return False
    known, linked = _known_people(OffenderExternalReference, CaseOffender, "offender", actor, case, source, items)
    allowed: dict[int, bool] = {}

    def identity_ok_for(some_case: Case) -> bool:
        if some_case.pk not in allowed:
            new = case_is_new and some_case.pk == case.pk
            allowed[some_case.pk] = new or case_identity_allowed(user=actor, case=some_case)
        return allowed[some_case.pk]

    changed = False
    for position, item in enumerate(items):
        person, link_fields, identity = _split(item, OFFENDER_PERSON_FIELDS, CASE_OFFENDER_EDITABLE_FIELDS)
        try:
            if identity:
                _check_identity_write(actor, scope_ok, identity_ok_for(case))
            unknown = set(identity) - OFFENDER_IDENTITY_FIELDS
            if unknown:
                raise ValidationError({f"identity.{name}": [_("Este campo no existe.")] for name in sorted(unknown)})
            offender = known.get(item["external_id"])
            if offender is None:
                offender = offender_register(actor=actor, **{"sex": Sex.UNKNOWN, **person, **identity})
                OffenderExternalReference.objects.create(
                    offender=offender, institution_id=actor.institution_id, source=source, reference=item["external_id"]
                )
                offender_link_to_case(actor=None, offender=offender, case=case, **link_fields)
                changed = True
                continue
            link = linked.get(offender.pk)
            if link is None:
                # A person this institution's system sent in another case: bringing them, identity
                # and all, into this one takes identity access to both (as for victims).
                if not (identity_ok_for(case) and _offender_identity_allowed(actor, offender)):
                    raise PermissionDenied(OFFENDER_LINK_REFUSED_MESSAGE)
                offender_link_to_case(actor=None, offender=offender, case=case, **link_fields)
                changed = True
                link_changes = {}
            else:
                link_changes = changed_fields(link, link_fields)
            changed |= _person_save(offender, changed_fields(offender, {**person, **identity}), link, link_changes)
        except ValidationError as exc:
            raise _prefixed(exc, f"offenders.{position}", OFFENDER_IDENTITY_FIELDS) from exc
    return changed


def _offender_identity_allowed(actor: User, offender: Offender) -> bool:
    return any(case_identity_allowed(user=actor, case=other) for other in offender.cases.all())


def _person_save(person, changes: Mapping[str, Any], link, link_changes: Mapping[str, Any]) -> bool:
    if not changes and not link_changes:
        return False
    for name, value in changes.items():
        setattr(person, name, value)
    if link is not None:
        for name, value in link_changes.items():
            setattr(link, name, value)
        validate_instance(link)
    validate_instance(person)
    if changes:
        person.version = F("version") + 1
        person.save()
        person.refresh_from_db(fields=["version", "updated_at"])
    if link is not None and link_changes:
        link.save()
    return True


# --- new cases, many at once (bulk ingest, and the first upsert of a reference) -----------------


def _pairs(pairs: Iterable[tuple[str, str]]) -> Q:
    """(source, reference) pairs as one condition: a reference__in per source."""
    by_source: dict[str, list[str]] = {}
    for source, reference in pairs:
        by_source.setdefault(source, []).append(reference)
    condition = Q(pk__in=[])
    for source, references in by_source.items():
        condition |= Q(source=source, reference__in=references)
    return condition


def _item_keys(source: str, reference: str, data: Mapping[str, Any]) -> set[tuple[str, ...]]:
    keys = {("ruc", normalise_ruc(reference))} if source == SyncSource.FISCALIA_RUC else {("case", source, reference)}
    if data.get("ruc"):
        keys.add(("ruc", normalise_ruc(data["ruc"])))
    keys |= {("victim", source, item["external_id"]) for item in data.get("victims", ())}
    keys |= {("offender", source, item["external_id"]) for item in data.get("offenders", ())}
    return keys


def new_case_positions(actor: User, items: list[tuple[str, str, Mapping[str, Any]]]) -> set[int]:
    """Positions of the items that create a case whose reference, RUC and people are all
    unknown so far and named by no earlier item: cases_create_many writes them together. The
    rest (existing cases or people, extra references) go through case_upsert_by_reference.
    Four queries, whatever the number of items."""
    keys = [_item_keys(source, reference, data) for source, reference, data in items]
    wanted = set().union(*keys)
    by_kind = {kind: [key[1:] for key in wanted if key[0] == kind] for kind in ("case", "ruc", "victim", "offender")}
    taken: set[tuple[str, ...]] = set()
    if by_kind["case"]:
        found = CaseExternalReference.objects.filter(_pairs(by_kind["case"])).values_list("source", "reference")
        taken |= {("case", *pair) for pair in found}
    if by_kind["ruc"]:
        rucs = [ruc for (ruc,) in by_kind["ruc"]]
        taken |= {("ruc", ruc) for ruc in Case.objects.filter(ruc__in=rucs).values_list("ruc", flat=True)}
    for kind, model in (("victim", VictimExternalReference), ("offender", OffenderExternalReference)):
        if by_kind[kind]:
            found = model.objects.filter(_pairs(by_kind[kind]), institution_id=actor.institution_id).values_list(
                "source", "reference"
            )
            taken |= {(kind, *pair) for pair in found}
    new, seen = set(), set()
    for position, ((_source, _reference, data), item_keys) in enumerate(zip(items, keys, strict=True)):
        if not data.get("external_references") and not item_keys & taken and not item_keys & seen:
            new.add(position)
        seen |= item_keys
    return new


@dataclass
class _NewCase:
    case: Case
    references: list[CaseExternalReference]
    victims: list[tuple[Victim, VictimExternalReference, CaseVictim]]
    offenders: list[tuple[Offender, OffenderExternalReference, CaseOffender]]


# Checked without a query: foreign keys point at objects built here, codes come from a
# sequence, primary keys are fresh UUIDs, uniqueness of references and RUCs was established by
# new_case_positions under the advisory locks, nationality was checked by the serializer against
# the same list of countries (Django's choice check walks all 250 of them for each person).
_NOT_QUERIED = {
    Case: {"lead_institution", "created_by"},
    Victim: {"id", "code", "registering_institution", "document_index", "nationality"},
    Offender: {"id", "code", "document_index", "nationality"},
    CaseVictim: {"case", "victim"},
    CaseOffender: {"case", "offender"},
    CaseExternalReference: {"case"},
    VictimExternalReference: {"victim", "institution"},
    OffenderExternalReference: {"offender", "institution"},
}
VICTIM_IDENTITY_DEFAULTS = {
    "given_names": "",
    "surnames": "",
    "document_type": "",
    "document_number": "",
    "birth_date": None,
    "phone": "",
    "email": "",
    "address": "",
    "notes": "",
}
OFFENDER_IDENTITY_DEFAULTS = {"given_names": "", "surnames": "", "document_type": "", "document_number": ""}


def _clean(instance) -> None:
    instance.full_clean(exclude=_NOT_QUERIED[type(instance)], validate_unique=False, validate_constraints=False)


def _plan_new_case(actor: User, source: str, reference: str, data: Mapping[str, Any], scope_ok: bool) -> _NewCase:
    """The records of one new case, built and validated in memory (no query). Raises as
    case_upsert_by_reference would for the same item."""
    _require_source_owner(actor, source)
    case_fields = _case_fields(source, reference, data)
    case = Case(lead_institution=actor.institution, created_by=actor, **_checked_fields(case_fields))
    _clean(case)
    references = (
        []
        if source == SyncSource.FISCALIA_RUC
        else [CaseExternalReference(case=case, source=source, reference=reference)]
    )
    for ref in references:
        _clean(ref)
    victims = []
    documents: dict[str, int] = {}  # blind index -> position: one victim per person in a case
    for position, item in enumerate(data.get("victims", ())):
        person, link_fields, identity = _split(item, VICTIM_PERSON_FIELDS, CASE_VICTIM_EDITABLE_FIELDS)
        try:
            if identity:
                _check_identity_write(actor, scope_ok, True)  # the institution leads the case it creates
            if identity.get("document_type") and identity.get("document_number"):
                try:
                    index = document_blind_index(identity["document_type"], identity["document_number"])
                except ValidationError:
                    index = None  # reported on its field by the validation below
                if index in documents:
                    raise ValidationError(
                        {
                            "document_number": [
                                _("Este documento ya es el de otra víctima de esta causa (victims.%(n)s).")
                                % {"n": documents[index]}
                            ]
                        }
                    )
                if index is not None:
                    documents[index] = position
            if identity.get("birth_date") and not person.get("birth_year"):
                person["birth_year"] = identity["birth_date"].year
            victim = Victim(
                registering_institution=actor.institution,
                **{"sex": Sex.UNKNOWN, "nationality": "", **VICTIM_IDENTITY_DEFAULTS, **person, **identity},
            )
            link = CaseVictim(
                case=case,
                victim=victim,
                **{
                    **link_fields,
                    "purpose": link_fields.get("purpose") or case.purpose,
                    "region_detected": link_fields.get("region_detected") or case.region_detected,
                },
            )
            person_ref = VictimExternalReference(
                victim=victim, institution=actor.institution, source=source, reference=item["external_id"]
            )
            raise_if_any(*(validation_errors(_clean, record) for record in (victim, link, person_ref)))
        except ValidationError as exc:
            raise _prefixed(exc, f"victims.{position}", VICTIM_IDENTITY_FIELDS) from exc
        victims.append((victim, person_ref, link))
    offenders = []
    for position, item in enumerate(data.get("offenders", ())):
        person, link_fields, identity = _split(item, OFFENDER_PERSON_FIELDS, CASE_OFFENDER_EDITABLE_FIELDS)
        try:
            if identity:
                _check_identity_write(actor, scope_ok, True)
            unknown = set(identity) - OFFENDER_IDENTITY_FIELDS
            if unknown:
                raise ValidationError({f"identity.{name}": [_("Este campo no existe.")] for name in sorted(unknown)})
            offender = Offender(
                **{"sex": Sex.UNKNOWN, "nationality": "", **OFFENDER_IDENTITY_DEFAULTS, **person, **identity}
            )
            link = CaseOffender(case=case, offender=offender, **link_fields)
            person_ref = OffenderExternalReference(
                offender=offender, institution=actor.institution, source=source, reference=item["external_id"]
            )
            raise_if_any(*(validation_errors(_clean, record) for record in (offender, link, person_ref)))
        except ValidationError as exc:
            raise _prefixed(exc, f"offenders.{position}", OFFENDER_IDENTITY_FIELDS) from exc
        offenders.append((offender, person_ref, link))
    return _NewCase(case=case, references=references, victims=victims, offenders=offenders)


def cases_create_many(
    *, actor: User, items: list[tuple[str, str, Mapping[str, Any]]], identity_writes_allowed: bool
) -> list[SyncResult | Exception]:
    """Create the cases of ``items`` (source, reference, data), each with its people, all of
    them new (new_case_positions), in a dozen INSERTs whatever their number. Each item is
    validated on its own, as case_upsert_by_reference would: a refused item gets its exception
    in the result, the others are written. Callers hold the advisory locks and run this in a
    transaction (a database error then rolls all of it back)."""
    if not is_case_officer(actor):
        refusal = PermissionDenied(_("Su rol no permite modificar causas: solo un oficial de casos puede hacerlo."))
        return [refusal] * len(items)
    results: list[SyncResult | Exception | None] = [None] * len(items)
    plans: list[tuple[int, _NewCase]] = []
    for position, (source, reference, data) in enumerate(items):
        try:
            plans.append((position, _plan_new_case(actor, source, reference, data, identity_writes_allowed)))
        except (ValidationError, PermissionDenied) as exc:
            results[position] = exc
    if plans:
        _write_new_cases(actor, [plan for _, plan in plans])
        for position, plan in plans:
            results[position] = SyncResult(case=plan.case, created=True, changed=True)
    return results


def _write_new_cases(actor: User, plans: list[_NewCase]) -> None:
    cases = [plan.case for plan in plans]
    Case.objects.bulk_create(cases)
    CaseExternalReference.objects.bulk_create([ref for plan in plans for ref in plan.references])
    grant_permissions_many(actor.institution, cases, CasePermission.LEAD)
    victims = [row for plan in plans for row in plan.victims]
    offenders = [row for plan in plans for row in plan.offenders]
    for (victim, _ref, _link), code in zip(
        victims, allocate_codes("V", count=len(victims)) if victims else (), strict=True
    ):
        victim.code = code
    for (offender, _ref, _link), code in zip(
        offenders, allocate_codes("I", count=len(offenders)) if offenders else (), strict=True
    ):
        offender.code = code
    for model, rows in ((Victim, victims), (Offender, offenders)):
        if rows:
            model.objects.bulk_create([row[0] for row in rows])
            type(rows[0][1]).objects.bulk_create([row[1] for row in rows])
            type(rows[0][2]).objects.bulk_create([row[2] for row in rows])
