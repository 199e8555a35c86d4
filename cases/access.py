"""Who may do what with a case: institution object permissions (django-guardian, direct FK
table) narrowed by the user's role. The one place that answers these questions.

- An institution holds permissions on a case through its group: the lead holds all four
  (ver, ver identidad, colaborar, administrar); a grantee holds what its share gives.
- A role narrows what a user does with them: only a case officer writes (edits, shares,
  records consents, decides requests); any role may read, identity included, if the
  institution may.
- Staff and superusers hold nothing: there are no model-level grants, and a user without an
  institution has no group.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from cases.constants import CasePermission
from cases.models import Case, CaseGroupObjectPermission
from institutions.constants import Role
from institutions.models import Institution, User

NOT_FOUND_MESSAGE = "No encontrado."


@cache
def permission_id(codename: str) -> int:
    return Permission.objects.get(content_type__app_label="cases", codename=codename).pk


@transaction.atomic
def institution_group(institution: Institution) -> Group:
    """The group holding the institution's object permissions, created on first need."""
    if institution.group_id is None:
        locked = Institution.objects.select_for_update().get(pk=institution.pk)
        if locked.group_id is None:
            locked.group = Group.objects.create(name=f"institucion-{institution.pk}")
            locked.save(update_fields=["group"])
        institution.group_id = locked.group_id
    return Group.objects.get(pk=institution.group_id)


def grant_permissions(institution: Institution, case: Case, codenames: tuple[str, ...] | list[str]) -> None:
    group = institution_group(institution)
    for codename in codenames:
        assign_perm(f"cases.{codename}", group, case)


def revoke_permissions(institution: Institution, case: Case, codenames: tuple[str, ...] | list[str]) -> None:
    if institution.group_id is None:
        return
    group = Group.objects.get(pk=institution.group_id)
    for codename in codenames:
        remove_perm(f"cases.{codename}", group, case)


def institution_case_permissions(institution_id: int | None, case_id: int) -> frozenset[str]:
    if institution_id is None:
        return frozenset()
    return frozenset(
        CaseGroupObjectPermission.objects.filter(
            group__institution__id=institution_id, content_object_id=case_id
        ).values_list("permission__codename", flat=True)
    )


def user_case_permissions(user: User, case_id: int) -> frozenset[str]:
    """What the user's institution holds on the case (empty for anyone without an institution)."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    return institution_case_permissions(user.institution_id, case_id)


def visible_case_ids(institution_id: int | None, codename: str = CasePermission.VIEW):
    """Subquery of the ids of cases the institution holds ``codename`` on."""
    return CaseGroupObjectPermission.objects.filter(
        group__institution__id=institution_id, permission_id=permission_id(codename)
    ).values("content_object_id")


def is_case_officer(user: User) -> bool:
    return user.is_authenticated and user.role == Role.CASE_OFFICER and user.institution_id is not None


def require_case_permission(user: User, case_id: int, codename: str, *, write: bool) -> frozenset[str]:
    """Return the user's permissions on the case, or refuse.

    A case the user may not even see is Http404 (its existence is not confirmed). A visible
    case the user may not act on is PermissionDenied (403) with a message saying why.
    """
    permissions = user_case_permissions(user, case_id)
    if CasePermission.VIEW not in permissions:
        raise Http404(NOT_FOUND_MESSAGE)
    if codename not in permissions:
        raise PermissionDenied(_("Su institución no tiene este permiso sobre la causa."))
    if write and not is_case_officer(user):
        raise PermissionDenied(_("Su rol no permite modificar causas: solo un oficial de casos puede hacerlo."))
    return permissions
