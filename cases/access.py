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
from django.db.models.signals import post_migrate
from django.dispatch import receiver
from django.http import Http404
from django.utils.translation import gettext as _
from guardian.shortcuts import remove_perm

from cases.constants import CasePermission
from cases.models import Case, CaseGroupObjectPermission
from institutions.constants import Role
from institutions.models import Institution, User

NOT_FOUND_MESSAGE = "No encontrado."


@cache
def permission_id(codename: str) -> int:
    return Permission.objects.get(content_type__app_label="cases", codename=codename).pk


@receiver(post_migrate)
def _forget_permission_ids(**kwargs) -> None:
    # Permission rows are recreated, with new ids, when a database is flushed (tests do).
    permission_id.cache_clear()


@transaction.atomic
def institution_group(institution: Institution) -> Group:
    """The group holding the institution's object permissions, created on first need."""
    if institution.group_id is not None:
        # The id held in memory may name a group created in a savepoint since rolled back (a
        # failed item of a bulk request): trust only a row that exists.
        group = Group.objects.filter(pk=institution.group_id).first()
        if group is not None:
            return group
    locked = Institution.objects.select_for_update().get(pk=institution.pk)
    if locked.group_id is None:
        locked.group = Group.objects.create(name=f"institucion-{institution.pk}")
        locked.save(update_fields=["group"])
    institution.group_id = locked.group_id
    return Group.objects.get(pk=institution.group_id)


def institution_group_id(institution: Institution) -> int:
    """The id of the institution's group, created on first need."""
    return institution_group(institution).pk


def grant_permissions(institution: Institution, case: Case, codenames: tuple[str, ...] | list[str]) -> None:
    """One INSERT for all of them (guardian's assign_perm takes four queries and a savepoint
    per permission); rows already there are left as they are, as assign_perm does."""
    grant_permissions_many(institution, [case], codenames)


def grant_permissions_many(institution: Institution, cases, codenames: tuple[str, ...] | list[str]) -> None:
    group_id = institution_group_id(institution)
    CaseGroupObjectPermission.objects.bulk_create(
        [
            CaseGroupObjectPermission(
                group_id=group_id, permission_id=permission_id(codename), content_object_id=case.pk
            )
            for case in cases
            for codename in codenames
        ],
        ignore_conflicts=True,
    )


def revoke_permissions(institution: Institution, case: Case, codenames: tuple[str, ...] | list[str]) -> None:
    if institution.group_id is None:
        return
    group = Group.objects.get(pk=institution.group_id)
    for codename in codenames:
        remove_perm(f"cases.{codename}", group, case)


def user_group_id(user: User) -> int | None:
    """The group of the user's institution (the institution is loaded once per user object)."""
    if not user.is_authenticated or not user.is_active or user.institution_id is None:
        return None
    institution = user.institution
    if institution.group_id is None:
        # Created lazily on the institution's first grant, maybe after this user was loaded.
        institution.group_id = Institution.objects.filter(pk=institution.pk).values_list("group_id", flat=True).first()
    return institution.group_id


def group_case_permissions(group_id: int | None, case_id: int) -> frozenset[str]:
    if group_id is None:
        return frozenset()
    return frozenset(
        CaseGroupObjectPermission.objects.filter(group_id=group_id, content_object_id=case_id).values_list(
            "permission__codename", flat=True
        )
    )


def user_case_permissions(user: User, case_id: int) -> frozenset[str]:
    """What the user's institution holds on the case (empty for anyone without an institution)."""
    return group_case_permissions(user_group_id(user), case_id)


def visible_case_ids(group_id: int | None, codename: str = CasePermission.VIEW):
    """Ids of the cases the group holds ``codename`` on: one index range of the grant table.

    Filtering on the group id itself (not through institution and group) lets PostgreSQL read
    the unique (group, permission, case) index directly; see bench/case_list.py.
    """
    return CaseGroupObjectPermission.objects.filter(group_id=group_id, permission_id=permission_id(codename)).values(
        "content_object_id"
    )


def institutions_seeing_case(case_id: int):
    """Ids of the institutions that may see the case now (the lead and every active grantee),
    as a subquery: the grant table's groups holding *ver* on it, mapped to their institutions."""
    groups = CaseGroupObjectPermission.objects.filter(
        content_object_id=case_id, permission_id=permission_id(CasePermission.VIEW)
    ).values("group_id")
    return Institution.objects.filter(group_id__in=groups).values("pk")


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
