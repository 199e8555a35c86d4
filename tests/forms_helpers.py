"""What the tests of the create and edit pages share (tests/cases/test_case_forms.py,
tests/victims/test_victim_forms.py). Their fixtures ``lead`` and ``officer_client`` are in
tests/conftest.py."""

from __future__ import annotations

from cases.sharing import case_share
from institutions.constants import Role
from institutions.models import User
from tests.factories import InstitutionFactory, UserFactory


def body(response) -> str:
    return response.content.decode()


def field_errors(response, name: str) -> list[str]:
    """The errors the page's form shows next to the field ``name``."""
    return list(response.context["form"].errors.get(name, []))


def grantee_officer(case, sharer: User, **grants) -> User:
    """A case officer of a new institution that ``sharer`` shared ``case`` with (``grants``:
    case_share's can_collaborate, can_view_identity, legal_basis, consent_ids)."""
    grantee = InstitutionFactory()
    case_share(actor=sharer, case_id=case.pk, institution=grantee, reason="Coordinación", **grants)
    return UserFactory(institution=grantee, role=Role.CASE_OFFICER)
