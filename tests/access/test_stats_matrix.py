"""The access matrix of the statistics pages (issue 7; the main matrix's completeness check,
tests/access/test_access_matrix.py, counts this module's MATRIX).

Statistics are counts of every register, not objects of an institution: there is no "not
visible" here. Who may read them is a capability (stats.access): the Secretaría MITP and users
given the statistics capability read the dashboard, a recalculation request and the exports;
only the secretariat recalculates. Anyone else signed in, system administrators included, is
refused with 403; anonymous users are sent to sign in. A nonexistent snapshot, table or request
answers 404 to readers only (a refused user is refused before anything is looked up).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import reverse

from institutions.constants import Role
from stats.models import StatisticsRequest, StatisticsSnapshot
from tests.access.scenario import application_routes
from tests.factories import InstitutionFactory, UserFactory

OK, DENIED, LOGIN = "ok", 403, "login"
SUBJECTS = (
    "secretariat-oficial",
    "secretariat-lector",
    "statistics-oficial",
    "statistics-lector",
    "plain-oficial",
    "plain-lector",
    "plain-administrador",
    "statistics-non-member",
    "statistics-deactivated-institution",
    "secretariat-deactivated-institution",
    "staff",
    "superuser",
    "anonymous",
)
READERS = frozenset({"secretariat-oficial", "secretariat-lector", "statistics-oficial", "statistics-lector"})
SECRETARIAT = frozenset({"secretariat-oficial", "secretariat-lector"})


@dataclass
class StatsScenario:
    users: dict
    snapshot_id: int
    request_id: int


def build_stats_scenario() -> StatsScenario:
    mitp, member = InstitutionFactory(short_name="SUBINT"), InstitutionFactory(short_name="PDI")
    roles = {"oficial": Role.CASE_OFFICER, "lector": Role.READER, "administrador": Role.INSTITUTION_ADMIN}
    users: dict = {}
    for role in ("oficial", "lector"):
        users[f"secretariat-{role}"] = UserFactory(institution=mitp, role=roles[role], is_mitp_secretariat=True)
        users[f"statistics-{role}"] = UserFactory(institution=member, role=roles[role], has_statistics_access=True)
    for role in ("oficial", "lector", "administrador"):
        users[f"plain-{role}"] = UserFactory(institution=member, role=roles[role])
    # The capability counts only in an active member institution of the Mesa.
    outsider, closed = InstitutionFactory(is_mitp_member=False), InstitutionFactory(is_active=False)
    users["statistics-non-member"] = UserFactory(institution=outsider, has_statistics_access=True)
    users["statistics-deactivated-institution"] = UserFactory(institution=closed, has_statistics_access=True)
    users["secretariat-deactivated-institution"] = UserFactory(institution=closed, is_mitp_secretariat=True)
    users["staff"] = UserFactory(institution=None, role="", is_staff=True)
    users["superuser"] = UserFactory(institution=None, role="", is_staff=True, is_superuser=True)
    users["anonymous"] = None
    snapshot = StatisticsSnapshot.objects.create(
        year_from=2022,
        year_to=2023,
        registers=["identificadas"],
        definition_version="2",
        parameters_key="p" * 64,
        data_fingerprint="f" * 64,
        kind="solicitada",
        computation_ms=3,
        tables=[
            {
                "key": "casos_por_anio",
                "family": 1,
                "register": "identificadas",
                "register_label": "Causas identificadas",
                "title": "Causas por año",
                "row_header": "Año",
                "columns": ["Causas"],
                "rows": [
                    {"label": "2022", "key": "2022", "counts": [12]},
                    {"label": "2023", "key": "2023", "counts": [4]},
                ],
                "totals": [16],
            }
        ],
    )
    stats_request = StatisticsRequest.objects.create(
        year_from=2022, year_to=2023, registers=["identificadas"], requested_by=users["secretariat-oficial"]
    )
    return StatsScenario(users=users, snapshot_id=snapshot.pk, request_id=stats_request.pk)


def expected(allowed: frozenset[str]) -> dict[str, object]:
    table = {subject: (OK if subject in allowed else DENIED) for subject in SUBJECTS}
    # Signed out like anyone: a deactivated institution's users have no session
    # (institutions.backends).
    for signed_out in ("anonymous", "statistics-deactivated-institution", "secretariat-deactivated-institution"):
        table[signed_out] = LOGIN
    return table


@dataclass(frozen=True, repr=False)
class Probe:
    method: str
    kwargs: Callable[[StatsScenario], dict]
    expected: dict[str, object]
    ok: frozenset[int] = frozenset({200})
    label: str = ""

    @property
    def title(self) -> str:
        return f"{self.method}-{self.label}" if self.label else self.method


def _none(s):
    return {}


def _request(s):
    return {"statistics_request_id": s.request_id}


def _table(s):
    return {"snapshot_id": s.snapshot_id, "table_key": "casos_por_anio"}


def _snapshot(s):
    return {"snapshot_id": s.snapshot_id}


MATRIX: dict[str, list[Probe]] = {
    "stats:dashboard": [Probe("GET", _none, expected(READERS))],
    # An empty body: the secretariat's request is refused as input (400) and creates nothing.
    "stats:recalculate": [Probe("POST", _none, expected(SECRETARIAT), ok=frozenset({400}), label="empty")],
    "stats:request_status": [Probe("GET", _request, expected(READERS))],
    "stats:table_csv": [Probe("GET", _table, expected(READERS))],
    "stats:snapshot_xlsx": [Probe("GET", _snapshot, expected(READERS))],
}

GHOSTS: dict[str, Callable[[StatsScenario], dict]] = {
    "stats:request_status": lambda s: {"statistics_request_id": s.request_id + 10_000},
    "stats:table_csv": lambda s: {"snapshot_id": s.snapshot_id + 10_000, "table_key": "casos_por_anio"},
    "stats:snapshot_xlsx": lambda s: {"snapshot_id": s.snapshot_id + 10_000},
}


@pytest.fixture(scope="module")
def scenario(module_transaction) -> StatsScenario:
    return build_stats_scenario()


def state() -> tuple[int, int]:
    return StatisticsRequest.objects.count(), StatisticsSnapshot.objects.count()


def request(client, route: str, probe: Probe, kwargs: dict):
    url = reverse(route, kwargs=kwargs)
    return client.get(url) if probe.method == "GET" else client.post(url, {})


CASES = [
    pytest.param(route, probe, subject, id=f"{route}|{probe.title}|{subject}")
    for route, probes in MATRIX.items()
    for probe in probes
    for subject in SUBJECTS
]


def test_every_statistics_route_has_an_entry():
    routes = {route.name for route in application_routes() if route.name.startswith("stats:")}
    assert routes == set(MATRIX), {"missing": sorted(routes - set(MATRIX)), "stale": sorted(set(MATRIX) - routes)}


def test_each_entry_builds_exactly_the_kwargs_its_route_takes(scenario, db):
    routes = {route.name: route for route in application_routes()}
    for route, probes in MATRIX.items():
        for probe in probes:
            assert set(probe.expected) == set(SUBJECTS), route
            assert set(probe.kwargs(scenario)) == routes[route].kwargs, route


@pytest.mark.parametrize(("route", "probe", "subject"), CASES)
def test_each_statistics_route_answers_each_subject_as_the_capability_says(client, scenario, db, route, probe, subject):
    user = scenario.users[subject]
    if user is not None:
        client.force_login(user)
    outcome = probe.expected[subject]
    before = state()
    response = request(client, route, probe, probe.kwargs(scenario))
    wanted = probe.ok if outcome == OK else ({302} if outcome == LOGIN else {outcome})
    assert response.status_code in wanted, (
        f"{probe.method} {route} as {subject}: expected {outcome}, got {response.status_code}"
    )
    if outcome == LOGIN:
        assert response["Location"].startswith(reverse("login"))
    assert state() == before, f"{probe.method} {route} as {subject} changed the records"
    if route in GHOSTS:
        ghost = client.get(reverse(route, kwargs=GHOSTS[route](scenario)))
        assert ghost.status_code == (404 if outcome == OK else response.status_code)
