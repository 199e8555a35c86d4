import pytest

from tests.factories import InstitutionFactory, UserFactory


@pytest.fixture
def institution(db):
    return InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")


@pytest.fixture
def officer(institution):
    return UserFactory(username="oficial.pdi", institution=institution)
