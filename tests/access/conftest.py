"""Fixtures for the access tests: one scenario per module, rolled back when the module ends.

Building a scenario (institutions, users, a case with victims, shares, a consent, an access
request) goes through the real services and costs far more than one request, while the
matrix makes hundreds of requests. So each module builds its scenario once, inside a
transaction opened at module scope; every test then runs in its own savepoint (pytest-django's
``db``), so whatever a request changes is undone before the next test, and the whole scenario
is rolled back after the module. Nothing is ever committed: the audit tables refuse DELETE, so
committed rows could not be cleaned up.
"""

import pytest
from django.db import transaction


@pytest.fixture(scope="module")
def module_transaction(django_db_setup, django_db_blocker):
    """Database access for module-scoped fixtures; everything written is rolled back afterwards."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield
        transaction.set_rollback(True)
