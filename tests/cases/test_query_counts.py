"""Query counts of the case pages and API endpoints, pinned: a list or a detail takes the same
number of queries whether the officer sees 3 cases or 30, and a case has 1 victim or 5.

Each count is the whole request: loading the session, the user, and the session's verified TOTP
device (3), then the view's own queries. The session is written at most once a minute
(institutions.middleware), so a request within that minute saves nothing.
"""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.services import offender_link_to_case, offender_register
from institutions.constants import Role
from kernel.choices import Sex
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, valid_run
from victims.constants import AgeStatus
from victims.services import victim_link_to_case, victim_register

pytestmark = pytest.mark.django_db

# Session, the user with their institution (one join: institutions.backends), the OTP device
# that verified the session. The header's institution name and the visibility queries' group
# come with the user.
REQUEST = 3
# The total count, and the page of cases with their lead institution.
CASE_LIST_QUERIES = REQUEST + 2
# The case with its lead, the institution's permissions on it, its victims, its offenders.
CASE_DETAIL_QUERIES = REQUEST + 4
API_CASE_LIST_QUERIES = REQUEST + 2  # the total count, the page with lead institutions
API_CASE_VICTIMS_QUERIES = REQUEST + 2  # the case with its lead, its victims


@pytest.fixture
def lead():
    return InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")


@pytest.fixture
def officer_client(client, lead):
    client.force_login(UserFactory(username="oficial.pdi", institution=lead, role=Role.CASE_OFFICER))
    return client


def led_cases(lead, count: int) -> list:
    other = InstitutionFactory()
    CaseFactory.create_batch(2, lead_institution=other)  # not visible: must not change anything
    return CaseFactory.create_batch(count, lead_institution=lead)


def with_people(case, victims: int):
    """The case with ``victims`` victims and as many offenders, through the services."""
    for n in range(victims):
        victim = victim_register(
            actor=None,
            institution=case.lead_institution,
            given_names="Rosa",
            surnames=f"Quispe {n}",
            document_type="run",
            document_number=valid_run(14_000_000 + 1000 * case.pk + n),
            sex=Sex.FEMALE,
            nationality="BO",
        )
        victim_link_to_case(
            actor=None,
            victim=victim,
            case=case,
            age_status=AgeStatus.KNOWN,
            age_at_facts=24,
            identified_date=datetime.date(2023, 3, 2),
        )
        offender = offender_register(actor=None, given_names="Juan", surnames=f"Soto {n}", sex=Sex.MALE)
        offender_link_to_case(actor=None, offender=offender, case=case)
    return case


def queries_for(client, url: str) -> tuple[int, object]:
    """Queries of one request in the steady state: a first request fills what the process looks
    up once and keeps (permission ids, for one), and is not counted."""
    client.get(url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return len(queries.captured_queries), response


@pytest.mark.parametrize("visible", [3, 30])
def test_case_list_page_takes_the_same_queries_for_3_or_30_visible_cases(officer_client, lead, visible):
    led_cases(lead, visible)

    count, response = queries_for(officer_client, reverse("cases:list"))

    assert count == CASE_LIST_QUERIES
    assert response.content.decode().count(">PDI</td>") == min(visible, 25)


@pytest.mark.parametrize("victims", [1, 5])
def test_case_detail_page_takes_the_same_queries_for_1_or_5_victims_and_offenders(officer_client, lead, victims):
    case = with_people(led_cases(lead, 3)[0], victims)

    count, response = queries_for(officer_client, reverse("cases:detail", args=[case.pk]))

    assert count == CASE_DETAIL_QUERIES
    assert response.content.decode().count('href="/victimas/') == victims


@pytest.mark.parametrize("visible", [3, 30])
def test_api_case_list_takes_the_same_queries_for_3_or_30_visible_cases(officer_client, lead, visible):
    led_cases(lead, visible)

    count, response = queries_for(officer_client, reverse("api:case_list"))

    assert count == API_CASE_LIST_QUERIES
    body = response.json()
    assert body["count"] == visible and len(body["results"]) == min(visible, 25)
    assert {case["lead_institution"] for case in body["results"]} == {"PDI"}


@pytest.mark.parametrize("victims", [1, 5])
def test_api_case_victims_takes_the_same_queries_for_1_or_5_victims(officer_client, lead, victims):
    case = with_people(led_cases(lead, 3)[0], victims)

    count, response = queries_for(officer_client, reverse("api:case_victims", args=[case.pk]))

    assert count == API_CASE_VICTIMS_QUERIES
    assert len(response.json()) == victims


def test_case_list_queries_do_not_depend_on_how_many_cases_are_visible(officer_client, lead):
    led_cases(lead, 3)
    few, _ = queries_for(officer_client, reverse("cases:list"))
    few_api, _ = queries_for(officer_client, reverse("api:case_list"))
    led_cases(lead, 27)
    many, _ = queries_for(officer_client, reverse("cases:list"))
    many_api, _ = queries_for(officer_client, reverse("api:case_list"))

    assert (few, few_api) == (many, many_api)


def test_case_detail_queries_do_not_depend_on_how_many_victims_the_case_has(officer_client, lead):
    case = with_people(led_cases(lead, 1)[0], 1)
    one = [
        queries_for(officer_client, reverse(name, args=[case.pk]))[0] for name in ("cases:detail", "api:case_victims")
    ]
    with_people(case, 4)
    five = [
        queries_for(officer_client, reverse(name, args=[case.pk]))[0] for name in ("cases:detail", "api:case_victims")
    ]

    assert one == five
