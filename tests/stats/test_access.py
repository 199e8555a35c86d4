"""Who reads the statistics and who asks for a recalculation (stats.access)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from institutions.constants import Role
from stats.access import can_read_statistics, can_request_recalculation
from tests.factories import InstitutionFactory, UserFactory

pytestmark = pytest.mark.django_db

CASES = {
    # subject: (user attributes, reads, requests a recalculation)
    "secretaria MITP": ({"is_mitp_secretariat": True}, True, True),
    "secretaria MITP lectora": ({"is_mitp_secretariat": True, "role": Role.READER}, True, True),
    "oficial con capacidad de estadísticas": ({"has_statistics_access": True}, True, False),
    "lector con capacidad de estadísticas": ({"has_statistics_access": True, "role": Role.READER}, True, False),
    "oficial sin capacidad": ({}, False, False),
    "administrador sin capacidad": ({"role": Role.INSTITUTION_ADMIN}, False, False),
    "capacidad pero desactivado": ({"has_statistics_access": True, "is_active": False}, False, False),
    "cliente de la API con capacidad": ({"has_statistics_access": True, "is_api_client": True}, False, False),
    "secretaria MITP de una institución desactivada": (
        {"is_mitp_secretariat": True, "institution": lambda: InstitutionFactory(is_active=False)},
        False,
        False,
    ),
    "capacidad en una institución desactivada": (
        {"has_statistics_access": True, "institution": lambda: InstitutionFactory(is_active=False)},
        False,
        False,
    ),
    "capacidad en una institución que no integra la MITP": (
        {"has_statistics_access": True, "institution": lambda: InstitutionFactory(is_mitp_member=False)},
        False,
        False,
    ),
    "superusuario sin institución": (
        {"institution": None, "role": "", "is_staff": True, "is_superuser": True},
        False,
        False,
    ),
}


@pytest.mark.parametrize("subject", CASES)
def test_who_reads_statistics_and_who_asks_for_a_recalculation(subject):
    attributes, reads, requests = CASES[subject]
    user = UserFactory(**{name: value() if callable(value) else value for name, value in attributes.items()})
    assert (can_read_statistics(user), can_request_recalculation(user)) == (reads, requests)


def test_nobody_signed_out_reads_statistics():
    assert not can_read_statistics(AnonymousUser())
