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
