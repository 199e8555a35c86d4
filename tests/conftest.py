import pytest

from tests.clients import VerifiedClient
from tests.factories import InstitutionFactory, UserFactory


@pytest.fixture
def client():
    """Django's test client, with force_login passing the second factor (tests/clients.py)."""
    return VerifiedClient()


@pytest.fixture
def institution(db):
    return InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")


@pytest.fixture
def officer(institution):
    return UserFactory(username="oficial.pdi", institution=institution)


@pytest.fixture
def lead(institution):
    """The institution that leads the case under test (a module may define its own)."""
    return institution


@pytest.fixture
def officer_client(client, officer):
    """A browser signed in as ``officer`` (a case officer of ``institution``), second factor passed."""
    client.force_login(officer)
    return client
