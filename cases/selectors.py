"""Reads of cases, always through the asking user's institution permissions."""

from __future__ import annotations

import datetime
import operator
from dataclasses import dataclass
from functools import reduce

from django.core.paginator import Page, Paginator
from django.db import models as db_models
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from pghistory.models import Events

from cases.access import institutions_seeing_case, require_case_permission, user_group_id, visible_case_ids
from cases.constants import AccessRequestStatus, CasePermission, CaseStatus, TraffickingPurpose
from cases.filters import DEFAULT_SORT, SORT_COLUMNS, CaseQuery
from cases.models import AccessRequest, Case, CaseExternalReference, CaseOffender, CaseShare, Offender
from institutions.models import Institution, User
from kernel.constants import AccessAction
from kernel.identity_documents import document_blind_index
from kernel.models import AccessEvent
from victims.models import CaseVictim, Victim, VictimConsent


def case_list(*, user: User) -> QuerySet[Case]:
    """Every case the user's institution may see; none for users without an institution."""
    if not user.is_authenticated or not user.is_active or user.institution_id is None:
        return Case.objects.none()
    return Case.objects.filter(pk__in=visible_case_ids(user_group_id(user))).select_related("lead_institution")


def case_list_count(*, user: User) -> int:
    """How many cases the user's institution may see, counted on the grant table alone (one row
    per visible case: unique on group, permission and case), never by scanning the cases."""
    group_id = user_group_id(user)
    return 0 if group_id is None else visible_case_ids(group_id).count()


class KnownCountPaginator(Paginator):
    """A paginator whose total was counted elsewhere (case_list_count)."""

    def __init__(self, object_list, per_page, *, count: int, **kwargs):
        super().__init__(object_list, per_page, **kwargs)
        self.__dict__["count"] = count  # Paginator.count is a cached_property


LIST_ORDER = ("-updated_at", "-id")


@dataclass(frozen=True)
class CaseRow:
    """What a row of the case list shows: read as plain values, no model instances (the list
    is the hottest page; see bench/case_list.py)."""

    id: int
    ruc: str | None
    intake_date: datetime.date
    status: str
    purpose: str
    updated_at: datetime.datetime
    lead_short_name: str

    @property
    def status_label(self) -> str:
        return CaseStatus(self.status).label

    @property
    def purpose_label(self) -> str:
        return TraffickingPurpose(self.purpose).label


_ROW_COLUMNS = {
    "id": "id",
    "ruc": "ruc",
    "intake_date": "intake_date",
    "status": "status",
    "purpose": "purpose",
    "updated_at": "updated_at",
    "lead_short_name": "lead_institution__short_name",
}


def _rows(queryset: QuerySet[Case]) -> QuerySet:
    return queryset.values_list(*_ROW_COLUMNS.values())


def _query_condition(query: CaseQuery) -> Q:
    """Any part of the search box may match: a RUC and a case number can share their digits."""
    conditions = []
    if query.ruc:
        conditions.append(Q(ruc=query.ruc))
    if query.ruc_prefix:
        # startswith decides; the range lets PostgreSQL walk the unique index on ruc in any
        # collation (LIKE 'prefix%' uses a b-tree only under the C collation).
        conditions.append(Q(ruc__startswith=query.ruc_prefix, ruc__gte=query.ruc_prefix, **_below(query.ruc_prefix)))
    if query.case_number is not None:
        conditions.append(Q(pk=query.case_number))
    if query.victim_code:
        conditions.append(Q(pk__in=CaseVictim.objects.filter(victim__code=query.victim_code).values("case_id")))
    if query.offender_code:
        conditions.append(Q(pk__in=CaseOffender.objects.filter(offender__code=query.offender_code).values("case_id")))
    return reduce(operator.or_, conditions) if conditions else Q(pk__in=[])


def _below(prefix: str) -> dict:
    """Upper bound of the strings starting with a digit prefix ("239" -> "24"; none for "99")."""
    digits = prefix.rstrip("9")
    return {"ruc__lt": digits[:-1] + str(int(digits[-1]) + 1)} if digits else {}


_FILTER_LOOKUPS = {
    "estado": "status",
    "fin": "purpose",
    "region": "region_detected",
    "fiscalia": "fiscalia_regional",
    "formalizada": "is_formalised",
    "institucion": "lead_institution_id",
}


def _filter_condition(filters: dict) -> Q:
    condition = Q()
    for name, value in filters.items():
        if name == "anio":
            condition &= Q(intake_date__gte=datetime.date(value, 1, 1), intake_date__lt=datetime.date(value + 1, 1, 1))
        else:
            condition &= Q(**{_FILTER_LOOKUPS[name]: value})
    return condition


# A filtered list with at most this many matches is sorted in memory (see _ordering). Above
# it, matches are dense enough that walking the sort column's index meets a page of them soon
# (a region filter: 2,077 of 20,101 visible cases, p95 35-41 ms walking against 55 ms sorting).
SORT_MATCHES_IN_MEMORY = 1_000


def _ordering(sort: str, *, few_matches: bool = False) -> tuple:
    """ORDER BY for a sort key. With few matches (a selective filter or search), the sort
    column is wrapped so that no index matches it: otherwise PostgreSQL may walk the whole
    index in sort order hoping to meet 25 matches early (seen: 44,000 cases read to find 25 of
    1,700 for "vigente, 2019, by RUC"), where reading the matches and sorting them is cheap."""
    descending = sort.startswith("-")
    column = SORT_COLUMNS.get(sort.lstrip("-"))
    if column is None:
        column, descending = "updated_at", True  # LIST_ORDER
    key = Coalesce(F(column), F(column)) if few_matches else F(column)
    if column == "ruc":  # the only nullable one: cases without RUC go last either way
        first = key.desc(nulls_last=True) if descending else key.asc(nulls_last=True)
    elif few_matches:
        first = key.desc() if descending else key.asc()
    else:
        # Plain "-column" (not F().desc(nulls_last)): it matches the b-tree index read backwards.
        first = f"-{column}" if descending else column
    return (first, "-id" if descending else "id")


def case_list_page(
    *,
    user: User,
    number,
    size: int = 25,
    query: CaseQuery | None = None,
    filters: dict | None = None,
    sort: str = DEFAULT_SORT,
) -> Page:
    """One page of the user's visible cases (CaseRow) matching the search and filters, in the
    given sort (cases.filters.SORT_COLUMNS), with its total.

    Unfiltered, the total is counted on the grant table alone (case_list_count); filtered, on
    the same visible cases the page reads, so neither can count a case the user may not see.
    """
    cases = case_list(user=user)
    if query is not None:
        cases = cases.filter(_query_condition(query))
    if filters:
        cases = cases.filter(_filter_condition(filters))
    selective = query is not None or bool(filters)
    total = cases.count() if selective else case_list_count(user=user)
    rows = _rows(cases.order_by(*_ordering(sort, few_matches=selective and total <= SORT_MATCHES_IN_MEMORY)))
    page = KnownCountPaginator(rows, size, count=total).get_page(number)
    page.object_list = [CaseRow(*values) for values in page.object_list]
    return page


def lead_institution_choices() -> list[tuple[int, str]]:
    """(id, short name) of every institution, for the "institución a cargo" filter. Institution
    names are not confidential: every member sees them when sharing."""
    return list(Institution.objects.order_by("short_name").values_list("pk", "short_name"))


def case_victim_links_with_identity(*, user: User) -> QuerySet[CaseVictim]:
    """The (case, victim) links through which the user may read the victim's identity.

    The rule of victims.selectors.victim_identity_allowed, for many links in one query: the
    institution holds *ver identidad* on the case and leads it, or holds it through an active
    share that states a legal basis or rests on this victim's own active consent.
    """
    group_id = user_group_id(user)
    if group_id is None:
        return CaseVictim.objects.none()
    share = CaseShare.objects.filter(
        case_id=OuterRef("case_id"),
        institution_id=user.institution_id,
        revoked_at__isnull=True,
        can_view_identity=True,
    ).filter(~Q(legal_basis="") | Q(consents__victim_id=OuterRef("victim_id"), consents__withdrawn_on__isnull=True))
    return CaseVictim.objects.filter(case__in=visible_case_ids(group_id, CasePermission.VIEW_IDENTITY)).filter(
        Q(case__lead_institution_id=user.institution_id) | Exists(share)
    )


def case_victim_ids_with_identity(*, user: User, case_id: int) -> set:
    """Ids of the case's victims whose identity the user may read (through this case or any
    other of theirs, as victims.identity.victim_identity_reveal decides)."""
    of_case = CaseVictim.objects.filter(case_id=case_id).values("victim_id")
    return set(
        case_victim_links_with_identity(user=user).filter(victim_id__in=of_case).values_list("victim_id", flat=True)
    )


def case_offender_identity_allowed(*, user: User, case: Case, permissions: frozenset[str]) -> bool:
    """May the user read the identity of the case's offenders (victims.identity decides the
    reveal): the lead, or a grantee with *ver identidad* on an active share stating a legal
    basis (a victim's consent never covers offenders, ADR 0002)."""
    if user.institution_id is None:
        return False
    if case.lead_institution_id == user.institution_id:
        return True
    return (
        CasePermission.VIEW_IDENTITY in permissions
        and CaseShare.objects.filter(case_id=case.pk, institution_id=user.institution_id, revoked_at__isnull=True)
        .exclude(legal_basis="")
        .exists()
    )


DOCUMENT_SEARCH_LIMIT = 50


def case_list_by_document(*, user: User, document_type: str, document_number: str) -> list[CaseRow]:
    """The cases holding a victim with this document, among those where the user may read
    that victim's identity: a case where the institution only has *ver* never matches, so the
    search cannot tell who is a victim in it. Newest change first, at most
    DOCUMENT_SEARCH_LIMIT (a person is a victim in a handful of cases).

    Raises ValidationError if the document cannot be normalised.
    """
    index = document_blind_index(document_type, document_number)
    links = case_victim_links_with_identity(user=user).filter(victim__document_index=index)
    cases = case_list(user=user).filter(pk__in=links.values("case_id")).order_by(*LIST_ORDER)
    return [CaseRow(*values) for values in _rows(cases)[:DOCUMENT_SEARCH_LIMIT]]


def case_get(*, user: User, case_id: int) -> Case:
    """The case, or Http404 if the user's institution may not see it."""
    return get_object_or_404(case_list(user=user), pk=case_id)


def case_shares(*, user: User, case_id: int) -> QuerySet[CaseShare]:
    """Grants of a case: for its lead institution only (403 for grantees, 404 for the rest)."""
    require_case_permission(user, case_id, CasePermission.ADMINISTER, write=False)
    return CaseShare.objects.filter(case_id=case_id).select_related("institution").order_by("-created_at")


def access_requests_for_lead(*, user: User) -> QuerySet[AccessRequest]:
    """Requests addressed to the user's institution, as lead of the cases concerned."""
    if not user.is_authenticated or user.institution_id is None:
        return AccessRequest.objects.none()
    return (
        AccessRequest.objects.filter(case__in=visible_case_ids(user_group_id(user), CasePermission.ADMINISTER))
        .select_related("institution", "case")
        .order_by("-created_at")
    )


def access_requests_of_institution(*, user: User) -> QuerySet[AccessRequest]:
    """Requests the user's institution made. The case behind each stays hidden until approved."""
    if not user.is_authenticated or user.institution_id is None:
        return AccessRequest.objects.none()
    return AccessRequest.objects.filter(institution_id=user.institution_id).order_by("-created_at")


# --- Inicio: what needs the user's institution today ------------------------------------------

HOME_LIST_SIZE = 10
SHARED_SINCE_DEFAULT = datetime.timedelta(days=30)


@dataclass(frozen=True)
class HomeList:
    rows: list
    total: int


def home_open_cases(*, user: User, size: int = HOME_LIST_SIZE) -> HomeList:
    """Open (not terminated) cases the institution leads or collaborates on, most recently
    changed first. The lead holds *colaborar* too, so one grant range covers both."""
    group_id = user_group_id(user)
    if group_id is None:
        return HomeList([], 0)
    cases = (
        Case.objects.filter(pk__in=visible_case_ids(group_id, CasePermission.COLLABORATE))
        .exclude(status=CaseStatus.CLOSED)
        .select_related("lead_institution")
    )
    rows = [CaseRow(*values) for values in _rows(cases.order_by(*LIST_ORDER))[:size]]
    return HomeList(rows, cases.count())


def home_pending_access_requests(*, user: User, size: int = HOME_LIST_SIZE) -> HomeList:
    """Pending requests addressed to the institution, as lead of the cases concerned."""
    pending = access_requests_for_lead(user=user).filter(status=AccessRequestStatus.PENDING)
    return HomeList(list(pending[:size]), pending.count())


def home_cases_shared_since(*, user: User, since: datetime.datetime, size: int = HOME_LIST_SIZE) -> HomeList:
    """Active shares given to the institution after ``since`` (the user's previous login), newest
    first, each with its case (still visible: an active share is a grant)."""
    group_id = user_group_id(user)
    if group_id is None:
        return HomeList([], 0)
    shares = CaseShare.objects.filter(
        institution_id=user.institution_id,
        revoked_at__isnull=True,
        created_at__gt=since,
        case__in=visible_case_ids(group_id),
    )
    rows = list(shares.select_related("case__lead_institution").order_by("-created_at", "-id")[:size])
    return HomeList(rows, shares.count())


# --- Compartir tab ----------------------------------------------------------------------------


def case_consents(*, case_id: int) -> QuerySet:
    """Consents of the case's victims, newest first, with the shares resting on each (callers
    check the user may administer the case first: cases.selectors.case_shares)."""
    return (
        VictimConsent.objects.filter(victim__case_links__case_id=case_id)
        .select_related("victim")
        .prefetch_related("shares__institution")
        .order_by("victim__code", "-given_on", "-id")
    )


def case_access_requests(*, case_id: int) -> QuerySet[AccessRequest]:
    """Access requests about the case (callers check the user may administer it first)."""
    return AccessRequest.objects.filter(case_id=case_id).select_related("institution").order_by("-created_at")


# --- Historial --------------------------------------------------------------------------------

HISTORY_PAGE_SIZE = 25
# The change history of a case: the case itself and its links (who is a victim or an offender
# in it, external references). Shares, grants and requests are told by the access log.
HISTORY_EVENT_MODELS = (
    "cases.CaseEvent",
    "victims.CaseVictimEvent",
    "cases.CaseOffenderEvent",
    "cases.CaseExternalReferenceEvent",
)
# Bookkeeping columns, and the links' own keys (the subject column names the victim or offender).
_HIDDEN_HISTORY_FIELDS = {
    "id",
    "created_at",
    "updated_at",
    "version",
    "created_by_id",
    "case_id",
    "victim_id",
    "offender_id",
}


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class ChangeRow:
    """One event of a case's change history, ready to show (no identity: encrypted columns are
    never copied into history, kernel.history)."""

    at: datetime.datetime
    action: str
    subject: str
    changes: list[Change]
    actor: str


@dataclass(frozen=True)
class AccessRow:
    at: datetime.datetime
    action: str
    actor: str
    institution: str
    victim_code: str
    offender_code: str
    rests_on_legal_basis: bool


def case_history_access_scope(*, user: User, permissions: frozenset[str]) -> int | None:
    """Whose access events of the case the user sees: the lead (administrar) sees everyone's,
    reveals by other institutions included; a grantee sees its own institution's only (other
    institutions' activity is the lead's to oversee). Returns the institution id to restrict
    to, or None for no restriction."""
    return None if CasePermission.ADMINISTER in permissions else user.institution_id


def case_change_history_page(*, case: Case, number) -> Page:
    """A page of the case's change history (pghistory events), newest first, as ChangeRow.
    Callers check visibility first (case_get)."""
    events = Events.objects.references(case).across(*HISTORY_EVENT_MODELS).order_by("-pgh_created_at", "-pgh_slug")
    page = Paginator(events, HISTORY_PAGE_SIZE).get_page(number)
    page.object_list = _change_rows(list(page.object_list))
    return page


def case_access_history_page(*, case: Case, institution_id: int | None, number) -> Page:
    """A page of the access-log events about the case or its victims, newest first, as
    AccessRow; restricted to one institution's events when ``institution_id`` is given
    (case_history_access_scope).

    The events are those recorded against this case, and those about one of its victims
    recorded against no case (a reveal on the victim's own page), but only when made by an
    institution that sees this case. A victim's events through another case, or by an
    institution that does not see this one, stay out: they would tell the lead that the other
    case exists and who else works with the person.
    """
    victim_codes = CaseVictim.objects.filter(case_id=case.pk).values("victim__code")
    events = AccessEvent.objects.filter(
        Q(case_id=case.pk)
        | Q(
            Q(institution_id=case.lead_institution_id) | Q(institution_id__in=institutions_seeing_case(case.pk)),
            case_id__isnull=True,
            victim_code__in=victim_codes,
        )
    )
    if institution_id is not None:
        events = events.filter(institution_id=institution_id)
    columns = ("occurred_at", "action", "actor_username", "institution_id", "victim_code", "details")
    page = Paginator(events.order_by("-id").values_list(*columns, "rests_on_legal_basis"), HISTORY_PAGE_SIZE)
    page = page.get_page(number)
    names = _institution_names({row[3] for row in page.object_list})
    page.object_list = [
        AccessRow(
            at=at,
            action=_access_action_label(action),
            actor=username or "—",
            institution=names.get(institution, "—"),
            victim_code=victim_code,
            offender_code=str((details or {}).get("offender_code", "")),
            rests_on_legal_basis=legal_basis,
        )
        for at, action, username, institution, victim_code, details, legal_basis in page.object_list
    ]
    return page


def _access_action_label(action: str) -> str:
    try:
        return str(AccessAction(action).label)
    except ValueError:
        return action


def _institution_names(ids) -> dict[int, str]:
    ids = {pk for pk in ids if pk is not None}
    return dict(Institution.objects.filter(pk__in=ids).values_list("pk", "short_name")) if ids else {}


def _change_rows(events: list) -> list[ChangeRow]:
    """Turn pghistory's aggregate events into rows, looking up every name the page needs in one
    query per kind (users, institutions, victim and offender codes), whatever the page holds."""
    contexts = [event.pgh_context or {} for event in events]
    user_ids = {context.get("user") for context in contexts} - {None}
    institution_ids = {context.get("institution") for context in contexts}
    institution_ids |= {(event.pgh_data or {}).get("lead_institution_id") for event in events}
    for event in events:
        if "lead_institution_id" in (event.pgh_diff or {}):
            institution_ids |= set(event.pgh_diff["lead_institution_id"])
    victim_ids = {event.pgh_data.get("victim_id") for event in events if event.pgh_model == "victims.CaseVictimEvent"}
    offender_ids = {
        event.pgh_data.get("offender_id") for event in events if event.pgh_model == "cases.CaseOffenderEvent"
    }

    usernames = dict(User.objects.filter(pk__in=user_ids).values_list("pk", "username")) if user_ids else {}
    institutions = _institution_names(institution_ids)
    victims = dict(Victim.objects.filter(pk__in=victim_ids - {None}).values_list("pk", "code")) if victim_ids else {}
    offenders = (
        dict(Offender.objects.filter(pk__in=offender_ids - {None}).values_list("pk", "code")) if offender_ids else {}
    )
    victims = {str(pk): code for pk, code in victims.items()}
    offenders = {str(pk): code for pk, code in offenders.items()}

    models = {
        "cases.CaseEvent": Case,
        "victims.CaseVictimEvent": CaseVictim,
        "cases.CaseOffenderEvent": CaseOffender,
        "cases.CaseExternalReferenceEvent": CaseExternalReference,
    }
    actions = {"insert": _("Registro"), "update": _("Modificación"), "delete": _("Eliminación")}
    rows = []
    for event, context in zip(events, contexts, strict=True):
        model, data = models[event.pgh_model], event.pgh_data or {}
        if model is Case:
            subject = _("Causa")
        elif model is CaseVictim:
            subject = _("Víctima %(code)s") % {"code": victims.get(data.get("victim_id"), "—")}
        elif model is CaseOffender:
            subject = _("Imputado %(code)s") % {"code": offenders.get(data.get("offender_id"), "—")}
        else:
            source = _history_value(model, "source", data.get("source"), institutions)
            subject = _("Referencia externa %(source)s %(reference)s") % {
                "source": source,
                "reference": data.get("reference", ""),
            }
        changes = [
            Change(
                field=_history_label(model, attname),
                before=_history_value(model, attname, before, institutions),
                after=_history_value(model, attname, after, institutions),
            )
            for attname, (before, after) in sorted((event.pgh_diff or {}).items())
            if attname not in _HIDDEN_HISTORY_FIELDS and event.pgh_label == "update"
        ]
        user_id, institution_id = context.get("user"), context.get("institution")
        actor = usernames.get(user_id, "") if user_id else ""
        institution = institutions.get(institution_id, "")
        rows.append(
            ChangeRow(
                at=event.pgh_created_at,
                action=actions.get(event.pgh_label, event.pgh_label),
                subject=subject,
                changes=changes,
                actor=f"{actor} ({institution})" if actor and institution else actor or institution or _("Sistema"),
            )
        )
    return rows


def _history_field(model, attname: str):
    return next((f for f in model._meta.concrete_fields if f.attname == attname), None)


def _history_label(model, attname: str) -> str:
    field = _history_field(model, attname)
    return str(field.verbose_name) if field is not None else attname


def _history_value(model, attname: str, value, institutions: dict[int, str]) -> str:
    """A value as stored in the event's JSON, in the words and formats the user reads."""
    if value is None or value == "":
        return "—"
    field = _history_field(model, attname)
    if field is None:
        return str(value)
    if attname == "lead_institution_id":
        return institutions.get(value, str(value))
    if field.choices:
        return str(dict(field.flatchoices).get(value, value))
    if isinstance(field, db_models.BooleanField):
        return _("Sí") if value else _("No")
    if isinstance(field, db_models.DateField) and not isinstance(field, db_models.DateTimeField):
        try:
            return date_format(datetime.date.fromisoformat(value), "SHORT_DATE_FORMAT")
        except (TypeError, ValueError):
            return str(value)
    return str(value)
