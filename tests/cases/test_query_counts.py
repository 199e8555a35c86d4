"""Query counts of the case pages and API endpoints, pinned: a list or a detail takes the same
number of queries whether the officer sees 3 cases or 30, and a case has 1 victim or 5.

Each count is the whole request: loading the session, the user, and the session's verified TOTP
device (3), then the view's own queries. The session is written at most once a minute
(institutions.middleware), so a request within that minute saves nothing.
"""

import datetime
import re
from urllib.parse import urlencode

import pghistory
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.models import AccessRequest
from cases.services import offender_link_to_case, offender_register
from cases.sharing import case_share
from institutions.constants import Role
from kernel.choices import Sex
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, valid_run
from victims.consent import consent_record
from victims.constants import AgeStatus
from victims.identity import victim_identity_reveal
from victims.services import victim_link_to_case, victim_register

pytestmark = pytest.mark.django_db

# Session, the user with their institution (one join: institutions.backends), the OTP device
# that verified the session. The header's institution name and the visibility queries' group
# come with the user.
REQUEST = 3
# A page (not the API) also counts the user's unread notifications for its header.
PAGE = REQUEST + 1
# The institutions offered in the "institución a cargo" filter, the total count, and the page
# of cases with their lead institution. Searching and filtering change the count's query, not
# how many there are.
CASE_LIST_QUERIES = PAGE + 3
# The filter's institutions, the matching cases with their lead (one query, at most 50), and
# the search's access-log event (savepoint, lock, id, previous hash, insert, release).
CASE_DOCUMENT_SEARCH_QUERIES = PAGE + 2 + 6
# The case with its lead, the institution's permissions on it, its victims, its offenders, its
# external references.
CASE_DETAIL_QUERIES = PAGE + 5
# The page of cases with their lead (cursor pagination: no count), their external references.
API_CASE_LIST_QUERIES = REQUEST + 2
API_CASE_VICTIMS_QUERIES = REQUEST + 3  # the case with its lead, its victims, their external ids


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


VICTIM_LINK = re.compile(r'href="/victimas/[0-9a-f-]{36}/"')


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
    assert len(VICTIM_LINK.findall(response.content.decode())) == victims


@pytest.mark.parametrize("visible", [3, 30])
def test_api_case_list_takes_the_same_queries_for_3_or_30_visible_cases(officer_client, lead, visible):
    led_cases(lead, visible)

    count, response = queries_for(officer_client, reverse("api:case_list"))

    assert count == API_CASE_LIST_QUERIES
    body = response.json()
    assert len(body["results"]) == min(visible, 100) and (body["next"] is None) == (visible <= 100)
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


# --- Causas with search and filters, Inicio, and the case's tabs (cases/views.py, kernel/views.py) ---
# Inicio: the open cases we lead or collaborate on and their count, the pending requests
# addressed to us and their count, the shares given to us since the last visit and their count.
HOME_QUERIES = PAGE + 6
# Every tab starts with the case (with its lead) and the institution's permissions on it.
CASE_TAB = PAGE + 2
# The victims, and which of them the user may reveal (one query for all, not one per victim).
CASE_VICTIMS_QUERIES = CASE_TAB + 2
# The offenders (the lead's identity access costs no query).
CASE_OFFENDERS_QUERIES = CASE_TAB + 1
# The lead's permission check (the shares' selector), the shares with their institutions, the
# consents they rest on and those consents' victims, the institutions to share with, the
# victims' consents with the shares resting on each and their institutions, the victims (for
# recording a consent), the access requests with their institutions.
CASE_SHARE_QUERIES = CASE_TAB + 1 + 3 + 1 + 3 + 1 + 1
# Changes: their count, the page, the users, institutions, victims and offenders it names.
# Accesses: their count, the page, the institutions it names.
CASE_HISTORY_QUERIES = CASE_TAB + 6 + 3

SEARCHES = {
    "filtered": {"estado": "vigente", "fin": "explotacion_sexual", "anio": "2023", "formalizada": "no"},
    "by-ruc-prefix": {"q": "23", "orden": "ruc"},
    "by-victim-code": {"q": "<the code of a victim in the first case>"},
}


def busy_case(lead, people: int):
    """A case of ``lead`` with ``people`` victims (each with a consent), offenders, shares (one
    resting on the consents), access requests and identity reveals, written inside a request
    context as the web would (pghistory attributes each change to a user and institution)."""
    officer = UserFactory(institution=lead, role=Role.CASE_OFFICER)
    with pghistory.context(user=officer.pk, institution=lead.pk):
        case = with_people(led_cases(lead, 1)[0], people)
        consents = [
            consent_record(actor=officer, victim_id=link.victim_id, given_on=datetime.date(2024, 1, 2), scope="OIM")
            for link in case.victim_links.all()
        ]
        for n in range(people):
            grantee = InstitutionFactory()
            grants = {"can_view_identity": True, "consent_ids": [c.pk for c in consents]} if n == 0 else {}
            case_share(actor=officer, case_id=case.pk, institution=grantee, reason="Coordinación", **grants)
            requester = UserFactory(institution=InstitutionFactory())
            AccessRequest.objects.create(
                case=case, institution=requester.institution, requested_by=requester, reason="Retorno"
            )
            victim_identity_reveal(user=officer, victim_id=consents[n].victim_id)
        case.status = "suspendida"
        case.save()
    return case


@pytest.mark.parametrize("name", sorted(SEARCHES))
def test_a_searched_or_filtered_case_list_takes_the_same_queries_for_3_or_30_visible_cases(officer_client, lead, name):
    first = with_people(led_cases(lead, 3)[0], 1)
    search = dict(SEARCHES[name])
    if name == "by-victim-code":
        search["q"] = first.victim_links.get().victim.code
    url = f"{reverse('cases:list')}?{urlencode(search)}"
    few, _ = queries_for(officer_client, url)
    led_cases(lead, 27)
    many, response = queries_for(officer_client, url)

    assert few == many == CASE_LIST_QUERIES
    assert response.context["page"].paginator.count == (1 if name == "by-victim-code" else 30)


@pytest.mark.parametrize("victims", [1, 5])
def test_a_document_search_takes_the_same_queries_for_1_or_5_matching_cases(officer_client, lead, victims):
    document = valid_run(19_000_001)
    for case in led_cases(lead, victims):
        victim = victim_register(
            actor=None, institution=lead, document_type="run", document_number=document, sex=Sex.FEMALE
        )
        victim_link_to_case(actor=None, victim=victim, case=case)

    officer_client.post(reverse("cases:list"), {"documento-tipo": "run", "documento-numero": document})
    with CaptureQueriesContext(connection) as queries:
        response = officer_client.post(reverse("cases:list"), {"documento-tipo": "run", "documento-numero": document})

    assert response.status_code == 200 and len(response.context["document_rows"]) == victims
    assert len(queries.captured_queries) == CASE_DOCUMENT_SEARCH_QUERIES


@pytest.mark.parametrize("rows", [1, 5])
def test_home_takes_the_same_queries_for_1_or_5_rows_in_each_list(officer_client, lead, rows):
    other = InstitutionFactory()
    other_officer = UserFactory(institution=other)
    for case in led_cases(lead, rows):
        AccessRequest.objects.create(case=case, institution=other, requested_by=other_officer, reason="Retorno")
    for case in CaseFactory.create_batch(rows, lead_institution=other):
        case_share(actor=other_officer, case_id=case.pk, institution=lead, reason="Coordinación")

    count, response = queries_for(officer_client, reverse("home"))

    assert count == HOME_QUERIES
    lists = ("open_cases", "pending_requests", "new_shares")
    assert [len(response.context[name].rows) for name in lists] == [rows] * 3


CASE_TAB_QUERIES = {
    "cases:victims": CASE_VICTIMS_QUERIES,
    "cases:offenders": CASE_OFFENDERS_QUERIES,
    "cases:share": CASE_SHARE_QUERIES,
    "cases:history": CASE_HISTORY_QUERIES,
}


@pytest.mark.parametrize("people", [1, 5])
def test_each_case_tab_takes_the_same_queries_for_1_or_5_of_everything_it_lists(officer_client, lead, people):
    case = busy_case(lead, people)

    counts = {name: queries_for(officer_client, reverse(name, args=[case.pk]))[0] for name in CASE_TAB_QUERIES}

    assert counts == CASE_TAB_QUERIES
    victims_tab = officer_client.get(reverse("cases:victims", args=[case.pk])).content.decode()
    assert victims_tab.count(">Mostrar identidad<") == people
    history = officer_client.get(reverse("cases:history", args=[case.pk])).context
    assert history["accesses"].paginator.count == 3 * people  # consents recorded, shares, reveals


# --- create and edit pages (cases/form_views.py, victims/form_views.py), as the lead's officer ---
# Registering a case: nothing but the request (the role comes with the user).
CASE_CREATE_QUERIES = PAGE
# The institution's permissions on the case, the case with its lead. (Identity access is the
# lead's without a query; a grantee's costs two: its permissions were read, its share is one.)
CASE_EDIT_QUERIES = OFFENDER_CREATE_QUERIES = VICTIM_CREATE_QUERIES = PAGE + 2
# ... and the offender's part in the case, with the offender.
OFFENDER_EDIT_QUERIES = PAGE + 3
# ... and the victim's part in the case with the victim; whether the institution may read this
# victim's identity (the victim's cases, those it leads).
VICTIM_EDIT_QUERIES = PAGE + 5


def form_pages(case) -> list[tuple[str, str, int]]:
    victim_id = case.victim_links.values_list("victim_id", flat=True).first()
    offender_id = case.offender_links.values_list("offender_id", flat=True).first()
    return [
        ("cases:create", reverse("cases:create"), CASE_CREATE_QUERIES),
        ("cases:edit", reverse("cases:edit", args=[case.pk]), CASE_EDIT_QUERIES),
        ("cases:offender_create", reverse("cases:offender_create", args=[case.pk]), OFFENDER_CREATE_QUERIES),
        ("cases:offender_edit", reverse("cases:offender_edit", args=[case.pk, offender_id]), OFFENDER_EDIT_QUERIES),
        ("victims:create", reverse("victims:create", args=[case.pk]), VICTIM_CREATE_QUERIES),
        ("victims:edit", reverse("victims:edit", args=[case.pk, victim_id]), VICTIM_EDIT_QUERIES),
    ]


@pytest.mark.parametrize("victims", [1, 5])
def test_create_and_edit_pages_take_pinned_queries_whatever_the_case_holds(officer_client, lead, victims):
    case = with_people(led_cases(lead, 3)[0], victims)

    counts = {name: queries_for(officer_client, url)[0] for name, url, _ in form_pages(case)}

    assert counts == {name: expected for name, _, expected in form_pages(case)}


# "Mostrar la identidad de todas": the case and its visible victims (victims.identity: the case,
# which victims are readable, those victims, which rest on a legal basis), the access-log append
# (savepoint, lock, ids, previous hash, insert, release), then the tab (the case, permissions,
# the links). The same for 1 or 10 victims: one append, not one per victim.
VICTIMS_IDENTITY_QUERIES = PAGE + 4 + 6 + 3


@pytest.mark.parametrize("victims", [1, 10])
def test_revealing_every_victim_takes_the_same_queries_for_1_or_10_victims(officer_client, lead, victims):
    case = with_people(led_cases(lead, 1)[0], victims)
    url = reverse("cases:victims_identity", args=[case.pk])
    officer_client.post(url)
    with CaptureQueriesContext(connection) as queries:
        response = officer_client.post(url)
    assert response.status_code == 200
    assert response.content.decode().count('class="identity"') == victims
    assert len(queries.captured_queries) == VICTIMS_IDENTITY_QUERIES


# --- the victim's page, solicitudes, the institution's access log, identity reveals, duplicates ---
# Each takes the same queries for 1 or 5 of what it lists or looks through.
# An audited act runs in a transaction (savepoint, release) around its reads and the access-log
# append (savepoint, lock, id, previous hash, insert, release: kernel.audit).
ACCESS_LOG_APPEND = 6
# The victim (visible through the institution's cases), whether it has cases at all, whether
# the institution leads one of them with identity access (victim_identity_allowed stops there
# for the lead), its consents; for the registering institution, whether the victim has a case
# (with none, it may share the victim: victims.views._sharing_section). The case officer's role
# comes with the user.
VICTIM_DETAIL_QUERIES = PAGE + 5
# The requests about cases the institution administers, with the requesting institution and
# the case (one join).
ACCESS_REQUESTS_QUERIES = PAGE + 1
# The page's count and the page of events (the role check comes with the user).
ACCESS_LOG_QUERIES = PAGE + 2
# Transaction; the victim, whether it has cases, a case the institution leads with identity
# access, whether a share on a legal basis covers it (rests_on_legal_basis); the append.
VICTIM_IDENTITY_QUERIES = PAGE + 2 + 4 + ACCESS_LOG_APPEND
# Transaction; the case (visibility in the same query), the offender's part in it with the
# offender (the lead's identity access costs no query); the append.
OFFENDER_IDENTITY_QUERIES = PAGE + 2 + 2 + ACCESS_LOG_APPEND
# Transaction; the names of the institutions holding the document in records the user cannot
# see (one query, whatever their number); the append, since a match is itself an event.
DUPLICATE_CHECK_QUERIES = PAGE + 2 + 1 + ACCESS_LOG_APPEND


def post_queries_for(client, url: str, data: dict | None = None) -> tuple[int, object]:
    """queries_for for a POST: the first one warms the process's caches and is not counted."""
    client.post(url, data or {})
    with CaptureQueriesContext(connection) as queries:
        response = client.post(url, data or {})
    assert response.status_code == 200, response.status_code
    return len(queries.captured_queries), response


def victim_in_cases(lead, cases: int):
    """One victim in ``cases`` cases of the lead, with as many consents."""
    officer = UserFactory(institution=lead, role=Role.CASE_OFFICER)
    victim = victim_register(
        actor=None,
        institution=lead,
        given_names="Rosa",
        surnames="Quispe",
        document_type="run",
        document_number=valid_run(15_500_000),
        sex=Sex.FEMALE,
        nationality="BO",
    )
    for n, case in enumerate(led_cases(lead, cases)):
        victim_link_to_case(actor=None, victim=victim, case=case)
        consent_record(actor=officer, victim_id=victim.pk, given_on=datetime.date(2024, 1, 1 + n), scope=f"OIM {n}")
    return victim


@pytest.mark.parametrize("rows", [1, 5])
def test_victim_detail_takes_the_same_queries_for_1_or_5_cases_and_consents(officer_client, lead, rows):
    victim = victim_in_cases(lead, rows)

    count, response = queries_for(officer_client, reverse("victims:detail", args=[victim.pk]))

    body = response.content.decode()
    assert all(f"OIM {n}" in body for n in range(rows))  # every consent's scope is listed
    assert count == VICTIM_DETAIL_QUERIES


@pytest.mark.parametrize("rows", [1, 5])
def test_access_requests_take_the_same_queries_for_1_or_5_requests(officer_client, lead, rows):
    for case in led_cases(lead, rows):
        requester = UserFactory(institution=InstitutionFactory(name=f"Solicitante {case.pk}"))
        AccessRequest.objects.create(case=case, institution=requester.institution, requested_by=requester, reason="R")

    count, response = queries_for(officer_client, reverse("cases:access_requests"))

    assert response.content.decode().count("Solicitante ") == rows
    assert count == ACCESS_REQUESTS_QUERIES


@pytest.mark.parametrize("rows", [1, 5])
def test_the_institution_access_log_takes_the_same_queries_for_1_or_5_events(client, lead, rows):
    officer = UserFactory(institution=lead, role=Role.CASE_OFFICER)
    for case in led_cases(lead, rows):
        case_share(actor=officer, case_id=case.pk, institution=InstitutionFactory(), reason="Coordinación")
    client.force_login(UserFactory(institution=lead, role=Role.INSTITUTION_ADMIN))

    count, response = queries_for(client, reverse("access_log"))

    assert response.context["page"].paginator.count == rows + 1  # the shares and the admin's sign-in
    assert count == ACCESS_LOG_QUERIES


@pytest.mark.parametrize("rows", [1, 5])
def test_revealing_a_victim_takes_the_same_queries_in_1_or_5_cases(officer_client, lead, rows):
    victim = victim_in_cases(lead, rows)

    count, response = post_queries_for(officer_client, reverse("victims:identity", args=[victim.pk]))

    assert "Quispe" in response.content.decode()
    assert count == VICTIM_IDENTITY_QUERIES


@pytest.mark.parametrize("rows", [1, 5])
def test_revealing_an_offender_takes_the_same_queries_for_1_or_5_people_in_the_case(officer_client, lead, rows):
    case = with_people(led_cases(lead, 1)[0], rows)
    offender_id = case.offender_links.values_list("offender_id", flat=True).first()

    url = reverse("cases:offender_identity", args=[case.pk, offender_id])
    count, response = post_queries_for(officer_client, url)

    assert "Soto" in response.content.decode()
    assert count == OFFENDER_IDENTITY_QUERIES


@pytest.mark.parametrize("rows", [1, 5])
def test_the_duplicate_check_takes_the_same_queries_for_1_or_5_institutions_holding_the_person(
    officer_client, lead, rows
):
    led_cases(lead, 1)  # the officer's institution holds grants (its group exists)
    document = valid_run(16_600_000)
    for n in range(rows):
        elsewhere = CaseFactory(lead_institution=InstitutionFactory(name=f"Institución {n}"))
        victim = victim_register(
            actor=None,
            institution=elsewhere.lead_institution,
            document_type="run",
            document_number=document,
            sex=Sex.FEMALE,
        )
        victim_link_to_case(actor=None, victim=victim, case=elsewhere)

    count, response = post_queries_for(
        officer_client, reverse("victims:duplicate_check"), {"tipo": "run", "numero": document}
    )

    assert response.context["institutions"] == [f"Institución {n}" for n in range(rows)]
    assert count == DUPLICATE_CHECK_QUERIES


# The victim form's duplicate warning (victims.form_views.duplicate_warning_view), as the lead's
# officer: the institution's permissions on the case, the case; the transaction; the known
# victims, their cases (one prefetch); the names of institutions holding the person elsewhere
# (victims.identity.duplicate_check, in a transaction of its own); one append for every victim named.
DUPLICATE_WARNING_QUERIES = REQUEST + 2 + 2 + 2 + 1 + 2 + ACCESS_LOG_APPEND


@pytest.mark.parametrize("victims", [1, 4])
def test_the_duplicate_warning_takes_the_same_queries_for_1_or_4_known_victims_in_2_cases_each(
    officer_client, lead, victims
):
    target, *others = led_cases(lead, 3)
    document = valid_run(16_700_000)
    for _ in range(victims):
        victim = victim_register(
            actor=None, institution=lead, document_type="run", document_number=document, sex=Sex.FEMALE
        )
        for case in others:
            victim_link_to_case(actor=None, victim=victim, case=case)

    count, response = post_queries_for(
        officer_client,
        reverse("victims:duplicate_warning", args=[target.pk]),
        {"document_type": "run", "document_number": document},
    )

    assert response.content.decode().count(">Vincular a esta víctima") == victims
    assert count == DUPLICATE_WARNING_QUERIES
