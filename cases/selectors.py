"""Reads of cases, always through the asking user's institution permissions."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from cases.access import require_case_permission, user_group_id, visible_case_ids
from cases.constants import CasePermission, CaseStatus, TraffickingPurpose
from cases.models import AccessRequest, Case, CaseShare
from institutions.models import User


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


def case_list_page(*, user: User, number, size: int = 25) -> Page:
    """One page of the user's visible cases (CaseRow), newest change first, with its total."""
    rows = case_list(user=user).order_by(*LIST_ORDER).values_list(*_ROW_COLUMNS.values())
    page = KnownCountPaginator(rows, size, count=case_list_count(user=user)).get_page(number)
    page.object_list = [CaseRow(*values) for values in page.object_list]
    return page


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
