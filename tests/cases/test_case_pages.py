"""The read side of the case screens: Inicio, the case list (search, filters, sort, pages, the
search by document) and the case page's tabs (resumen, víctimas, imputados, compartir, historial).

Every page is read through the selectors that decide visibility, so each test also checks that
what a user may not see is neither listed nor counted.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.constants import AccessRequestStatus, CaseStatus, TerminationType, TraffickingPurpose
from cases.models import AccessRequest, Case, CaseShare
from cases.selectors import case_victim_links_with_identity
from cases.services import offender_link_to_case, offender_register
from cases.sharing import case_share
from institutions.constants import Role
from institutions.middleware import PREVIOUS_LOGIN
from kernel.choices import FiscaliaRegional, Region, Sex
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, valid_run
from victims.consent import consent_record
from victims.constants import AgeStatus
from victims.models import Victim
from victims.selectors import victim_identity_allowed
from victims.services import victim_link_to_case, victim_register

pytestmark = pytest.mark.django_db

DOCUMENT = valid_run(17_345_678)


@pytest.fixture
def pdi():
    return InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")


@pytest.fixture
def fiscalia():
    return InstitutionFactory(short_name="FN", name="Fiscalía Nacional")


@pytest.fixture
def officer(pdi):
    return UserFactory(username="oficial.pdi", institution=pdi, role=Role.CASE_OFFICER)


@pytest.fixture
def fiscalia_officer(fiscalia):
    return UserFactory(username="oficial.fn", institution=fiscalia, role=Role.CASE_OFFICER)


@pytest.fixture
def as_officer(client, officer):
    client.force_login(officer)
    return client


def listed_rucs(response) -> list[str]:
    """The RUCs of the rows of the case list, in order (whole page or htmx partial)."""
    return [row.ruc for row in response.context["page"].object_list]


def victim_in(case, *, document: str = "", minor: bool = False, sex: str = Sex.FEMALE, nationality: str = "BO"):
    victim = victim_register(
        actor=None,
        institution=case.lead_institution,
        given_names="Rosa",
        surnames="Quispe",
        document_type="run" if document else "",
        document_number=document,
        sex=sex,
        nationality=nationality,
    )
    age = {"age_status": AgeStatus.MINOR_UNKNOWN} if minor else {"age_status": AgeStatus.KNOWN, "age_at_facts": 24}
    victim_link_to_case(actor=None, victim=victim, case=case, **age)
    return victim


def offender_in(case):
    offender = offender_register(actor=None, given_names="Juan", surnames="Soto", sex=Sex.MALE, nationality="CL")
    offender_link_to_case(actor=None, offender=offender, case=case)
    return offender


def share(case, institution, **grants) -> CaseShare:
    lead_officer = UserFactory(institution=case.lead_institution, role=Role.CASE_OFFICER)
    return case_share(actor=lead_officer, case_id=case.pk, institution=institution, reason="Coordinación", **grants)


# --- Causas: the list -------------------------------------------------------------------------


def test_the_list_shows_and_counts_only_the_cases_the_institution_sees(as_officer, pdi, fiscalia):
    mine = CaseFactory.create_batch(3, lead_institution=pdi)
    hidden = CaseFactory(lead_institution=fiscalia)

    response = as_officer.get(reverse("cases:list"))

    assert response.status_code == 200
    assert sorted(listed_rucs(response)) == sorted(case.ruc for case in mine)
    assert response.context["page"].paginator.count == 3
    body = response.content.decode()
    assert "3 causas" in body and hidden.ruc not in body


@pytest.mark.parametrize(
    ("parameters", "matching"),
    [
        ({"estado": "suspendida"}, "suspended"),
        ({"anio": "2021"}, "old"),
        ({"fin": "trabajo_forzoso"}, "labour"),
        ({"region": Region.ANTOFAGASTA.value}, "north"),
        ({"fiscalia": FiscaliaRegional.RM_SUR.value}, "santiago"),
        ({"formalizada": "si"}, "formalised"),
    ],
    ids=["estado", "anio", "fin", "region", "fiscalia", "formalizada"],
)
def test_each_filter_lists_and_counts_only_the_visible_cases_that_match(
    as_officer, pdi, fiscalia, parameters, matching
):
    cases = {
        "plain": CaseFactory(lead_institution=pdi),
        "suspended": CaseFactory(lead_institution=pdi, status=CaseStatus.SUSPENDED),
        "old": CaseFactory(lead_institution=pdi, intake_date=datetime.date(2021, 6, 1)),
        "labour": CaseFactory(lead_institution=pdi, purpose=TraffickingPurpose.LABOUR),
        "north": CaseFactory(lead_institution=pdi, region_detected=Region.ANTOFAGASTA),
        "santiago": CaseFactory(lead_institution=pdi, fiscalia_regional=FiscaliaRegional.RM_SUR),
        "formalised": CaseFactory(
            lead_institution=pdi,
            is_formalised=True,
            investigation_start_date=datetime.date(2023, 3, 2),
            formalised_date=datetime.date(2023, 4, 1),
        ),
    }
    # Another institution's case matching every filter: never listed, never counted.
    CaseFactory(
        lead_institution=fiscalia,
        status=CaseStatus.SUSPENDED,
        intake_date=datetime.date(2021, 6, 1),
        purpose=TraffickingPurpose.LABOUR,
        region_detected=Region.ANTOFAGASTA,
        fiscalia_regional=FiscaliaRegional.RM_SUR,
        is_formalised=True,
        investigation_start_date=datetime.date(2021, 6, 2),
        formalised_date=datetime.date(2021, 7, 1),
    )

    response = as_officer.get(reverse("cases:list"), parameters)

    assert response.status_code == 200
    assert listed_rucs(response) == [cases[matching].ruc]
    assert response.context["page"].paginator.count == 1
    assert "1 causa coincide con la búsqueda" in response.content.decode()


def test_the_formalised_filter_also_answers_no(as_officer, pdi):
    plain = CaseFactory(lead_institution=pdi)
    CaseFactory(
        lead_institution=pdi,
        is_formalised=True,
        investigation_start_date=datetime.date(2023, 3, 2),
        formalised_date=datetime.date(2023, 4, 1),
    )
    assert listed_rucs(as_officer.get(reverse("cases:list"), {"formalizada": "no"})) == [plain.ruc]


def test_the_lead_institution_filter_lists_cases_shared_with_us_by_that_institution(as_officer, pdi, fiscalia):
    CaseFactory(lead_institution=pdi)
    theirs = CaseFactory(lead_institution=fiscalia)
    share(theirs, pdi)
    CaseFactory(lead_institution=fiscalia)  # theirs, not shared

    response = as_officer.get(reverse("cases:list"), {"institucion": fiscalia.pk})

    assert listed_rucs(response) == [theirs.ruc]
    assert response.context["page"].paginator.count == 1


def test_filters_combine(as_officer, pdi):
    both = CaseFactory(lead_institution=pdi, status=CaseStatus.SUSPENDED, purpose=TraffickingPurpose.LABOUR)
    CaseFactory(lead_institution=pdi, status=CaseStatus.SUSPENDED)
    CaseFactory(lead_institution=pdi, purpose=TraffickingPurpose.LABOUR)

    response = as_officer.get(reverse("cases:list"), {"estado": "suspendida", "fin": "trabajo_forzoso"})

    assert listed_rucs(response) == [both.ruc]


@pytest.mark.parametrize(
    ("parameters", "field", "message"),
    [
        ({"anio": "1999"}, "anio", "Indique un año entre 2000 y"),
        ({"anio": str(timezone.localdate().year + 1)}, "anio", "Indique un año entre 2000 y"),
        ({"anio": "dos mil"}, "anio", "Indique el año con cuatro dígitos"),
        ({"estado": "cerrada"}, "estado", "Escoja una opción válida"),
        ({"institucion": "999999"}, "institucion", "Escoja una opción válida"),
        ({"q": "Rosa Quispe"}, "q", "Escriba un RUC"),
    ],
    ids=["year-too-old", "year-in-future", "year-not-a-number", "unknown-status", "unknown-institution", "name"],
)
def test_an_invalid_filter_is_reported_on_its_field_in_spanish_and_the_other_filters_still_apply(
    as_officer, pdi, parameters, field, message
):
    suspended = CaseFactory(lead_institution=pdi, status=CaseStatus.SUSPENDED)
    CaseFactory(lead_institution=pdi)
    if "estado" in parameters:
        parameters = {**parameters, "fin": "explotacion_sexual"}
        expected = sorted(Case.objects.values_list("ruc", flat=True))
    else:
        parameters = {**parameters, "estado": "suspendida"}
        expected = [suspended.ruc]

    response = as_officer.get(reverse("cases:list"), parameters)

    assert response.status_code == 200
    form = response.context["form"]
    assert message in " ".join(form.errors[field])
    body = response.content.decode()
    # Next to the field, announced to assistive technology, with the value typed kept.
    assert f'id="id_{field}_error"' in body
    control = re.search(rf'<(?:input|select)[^>]*name="{field}"[^>]*>', body).group(0)
    assert 'aria-invalid="true"' in control and f"id_{field}_error" in control
    if field in ("anio", "q"):
        assert f'value="{parameters[field]}"' in control
    assert sorted(listed_rucs(response)) == expected
    # A page link never carries an invalid value forward.
    assert f"{field}={parameters[field]}" not in response.context["kept"]


@pytest.mark.parametrize(
    ("typed", "finds"),
    [
        ("2300001234-5", ["target"]),
        ("23.000.01234-5", ["target"]),  # dots and spaces are not part of a RUC
        ("2300001239-k", ["with_k"]),  # a lower-case check character
        ("230000123", ["target", "with_k"]),  # the start of a RUC
        ("23000012345", ["target"]),  # without the hyphen
    ],
)
def test_the_search_box_finds_a_case_by_its_ruc_whole_or_by_its_start(as_officer, pdi, typed, finds):
    cases = {
        "target": CaseFactory(lead_institution=pdi, ruc="2300001234-5"),
        "with_k": CaseFactory(lead_institution=pdi, ruc="2300001239-K"),
        "other": CaseFactory(lead_institution=pdi, ruc="2300005678-1"),
    }
    response = as_officer.get(reverse("cases:list"), {"q": typed})
    assert response.status_code == 200
    assert sorted(listed_rucs(response)) == sorted(cases[name].ruc for name in finds)


def test_the_search_box_finds_a_case_by_its_number_and_by_a_victim_or_offender_code(as_officer, pdi):
    with_victim, with_offender, without_ruc = CaseFactory.create_batch(3, lead_institution=pdi)
    without_ruc.ruc = None
    without_ruc.save()
    victim = victim_in(with_victim)
    offender = offender_in(with_offender)

    def found(q):
        return [row.id for row in as_officer.get(reverse("cases:list"), {"q": q}).context["page"].object_list]

    assert found(victim.code) == [with_victim.pk]
    assert found(victim.code.lower()) == [with_victim.pk]
    assert found(offender.code) == [with_offender.pk]
    assert without_ruc.pk in found(str(without_ruc.pk))


def test_a_search_never_finds_a_case_the_institution_cannot_see(as_officer, fiscalia):
    hidden = CaseFactory(lead_institution=fiscalia, ruc="2300009999-1")
    victim = victim_in(hidden)

    for q in (hidden.ruc, "2300009", str(hidden.pk), victim.code):
        response = as_officer.get(reverse("cases:list"), {"q": q})
        assert response.context["page"].paginator.count == 0, q
        assert hidden.ruc not in response.content.decode()


@pytest.mark.parametrize(
    ("orden", "expected"),
    [
        ("ruc", ["2300000001-1", "2300000002-2", "2300000003-3"]),
        ("-ruc", ["2300000003-3", "2300000002-2", "2300000001-1"]),
        ("ingreso", ["2300000002-2", "2300000003-3", "2300000001-1"]),
        ("-ingreso", ["2300000001-1", "2300000003-3", "2300000002-2"]),
        ("estado", ["2300000003-3", "2300000001-1", "2300000002-2"]),  # suspendida, terminada, vigente
        ("institucion", ["2300000003-3", "2300000001-1", "2300000002-2"]),
        ("-actualizacion", ["2300000003-3", "2300000002-2", "2300000001-1"]),
        ("actualizacion", ["2300000001-1", "2300000002-2", "2300000003-3"]),
    ],
)
def test_the_list_sorts_by_the_column_asked_for(as_officer, pdi, orden, expected):
    other = InstitutionFactory(short_name="AAA")
    CaseFactory(
        lead_institution=pdi,
        ruc="2300000001-1",
        intake_date=datetime.date(2023, 5, 1),
        status=CaseStatus.CLOSED,
        termination_type=TerminationType.CONVICTION,
        termination_date=datetime.date(2023, 6, 1),
    )
    CaseFactory(lead_institution=pdi, ruc="2300000002-2", intake_date=datetime.date(2023, 1, 1))
    third = CaseFactory(
        lead_institution=other, ruc="2300000003-3", intake_date=datetime.date(2023, 3, 1), status=CaseStatus.SUSPENDED
    )
    share(third, pdi)

    response = as_officer.get(reverse("cases:list"), {"orden": orden})

    assert listed_rucs(response) == expected


def test_an_unknown_sort_is_refused_on_its_field_and_the_default_order_applies(as_officer, pdi):
    first, second = CaseFactory.create_batch(2, lead_institution=pdi)
    response = as_officer.get(reverse("cases:list"), {"orden": "lead_institution__name"})
    assert response.status_code == 200
    assert response.context["form"].errors["orden"]
    assert listed_rucs(response) == [second.ruc, first.ruc]  # newest change first


def test_column_headers_sort_keep_the_filters_and_say_which_column_is_sorted(as_officer, pdi):
    CaseFactory(lead_institution=pdi, status=CaseStatus.SUSPENDED)
    body = as_officer.get(reverse("cases:list"), {"estado": "suspendida", "orden": "ruc"}).content.decode()
    header = re.search(r'<th scope="col" aria-sort="ascending"><a id="ordenar-\d+" href="\?([^"]+)"', body)
    assert header is not None
    assert header.group(1) == "estado=suspendida&amp;orden=-ruc"  # a second click reverses
    assert 'href="?estado=suspendida&amp;orden=-ingreso"' in body


def test_pages_hold_25_cases_and_their_links_keep_filters_and_sort(as_officer, pdi):
    CaseFactory.create_batch(30, lead_institution=pdi, status=CaseStatus.SUSPENDED)
    CaseFactory.create_batch(2, lead_institution=pdi)

    first = as_officer.get(reverse("cases:list"), {"estado": "suspendida", "orden": "ruc"})
    second = as_officer.get(reverse("cases:list"), {"estado": "suspendida", "orden": "ruc", "pagina": "2"})

    assert len(listed_rucs(first)) == 25 and len(listed_rucs(second)) == 5
    assert first.context["page"].paginator.count == 30
    assert not set(listed_rucs(first)) & set(listed_rucs(second))
    assert listed_rucs(first) + listed_rucs(second) == sorted(listed_rucs(first) + listed_rucs(second))
    assert 'href="?estado=suspendida&amp;orden=ruc&amp;pagina=2"' in first.content.decode()
    assert 'href="?estado=suspendida&amp;orden=ruc&amp;pagina=1"' in second.content.decode()


def test_an_htmx_filter_request_gets_only_the_results_and_a_plain_one_the_whole_page(as_officer, pdi):
    CaseFactory(lead_institution=pdi, status=CaseStatus.SUSPENDED)
    url = reverse("cases:list") + "?estado=suspendida"

    partial = as_officer.get(url, headers={"HX-Request": "true", "HX-Target": "listado"})
    page = as_officer.get(url)

    assert partial.status_code == 200
    assert "<html" not in partial.content.decode() and "<table" in partial.content.decode()
    assert listed_rucs(partial) == listed_rucs(page)
    assert "<html" in page.content.decode() and 'id="listado"' in page.content.decode()
    assert "HX-Request" in partial["Vary"]
    # The form asks htmx for the partial and pushes the filtered URL into the history.
    assert 'hx-get="/causas/"' in page.content.decode() and 'hx-target="#listado"' in page.content.decode()


def test_the_new_case_link_is_offered_to_case_officers_only(client, pdi, officer):
    client.force_login(officer)
    officer_page = client.get(reverse("cases:list")).content.decode()
    client.force_login(UserFactory(institution=pdi, role=Role.READER))
    reader_page = client.get(reverse("cases:list")).content.decode()

    assert f'href="{reverse("cases:create")}"' in officer_page and "Nueva causa" in officer_page
    assert "Nueva causa" not in reader_page


# --- Causas: the search by document number --------------------------------------------------


@pytest.fixture
def document_cases(pdi, fiscalia):
    """The same person (DOCUMENT) is a victim in four cases seen by PDI in different ways, and
    in one PDI cannot see at all."""
    led = CaseFactory(lead_institution=pdi)
    victim_in(led, document=DOCUMENT)
    ver_only = CaseFactory(lead_institution=fiscalia)
    victim_in(ver_only, document=DOCUMENT)
    share(ver_only, pdi)
    legal_basis = CaseFactory(lead_institution=fiscalia)
    victim_in(legal_basis, document=DOCUMENT)
    share(legal_basis, pdi, can_view_identity=True, legal_basis="Oficio 12/2024 del fiscal regional")
    consent_case = CaseFactory(lead_institution=fiscalia)
    consenting = victim_in(consent_case, document=DOCUMENT)
    lead_officer = UserFactory(institution=fiscalia, role=Role.CASE_OFFICER)
    consent = consent_record(
        actor=lead_officer, victim_id=consenting.pk, given_on=datetime.date(2024, 1, 5), scope="Con la PDI"
    )
    share(consent_case, pdi, can_view_identity=True, consent_ids=[consent.pk])
    invisible = CaseFactory(lead_institution=fiscalia)
    victim_in(invisible, document=DOCUMENT)
    return {
        "led": led,
        "ver_only": ver_only,
        "legal_basis": legal_basis,
        "consent": consent_case,
        "invisible": invisible,
    }


def document_search(client, number=DOCUMENT, tipo="run"):
    return client.post(reverse("cases:list"), {"documento-tipo": tipo, "documento-numero": number})


def test_a_document_search_finds_only_the_cases_where_the_institution_may_read_that_identity(
    as_officer, document_cases
):
    response = document_search(as_officer, number=DOCUMENT.replace(".", ""))  # typed without dots

    assert response.status_code == 200
    found = {row.id for row in response.context["document_rows"]}
    assert found == {document_cases[name].pk for name in ("led", "legal_basis", "consent")}
    body = response.content.decode()
    assert document_cases["ver_only"].ruc not in body and document_cases["invisible"].ruc not in body
    assert "3 causas con una víctima con ese documento" in body
    assert response["Cache-Control"].startswith("no-store")


def test_every_document_search_is_in_the_access_log_without_the_document(as_officer, officer, document_cases):
    from kernel.constants import AccessAction
    from kernel.models import AccessEvent

    document_search(as_officer)
    document_search(as_officer, number="11.111.111-1")  # a valid RUN nobody has: logged too
    events = list(AccessEvent.objects.filter(action=AccessAction.DOCUMENT_SEARCH, actor_id=officer.pk).order_by("id"))
    assert len(events) == 2
    assert sorted(events[0].details["cases"]) == sorted(document_cases[n].pk for n in ("led", "legal_basis", "consent"))
    assert events[1].details["cases"] == []
    digits = DOCUMENT.replace(".", "").split("-")[0]
    assert all(digits not in str(event.details) and "11111111" not in str(event.details) for event in events)


def test_a_document_search_agrees_with_who_may_reveal_each_victim(officer, document_cases):
    """The bulk rule the search and the víctimas tab use is victim_identity_allowed's."""
    links = set(case_victim_links_with_identity(user=officer).values_list("case_id", "victim_id"))
    for case in document_cases.values():
        for victim in Victim.objects.filter(case_links__case=case):
            through_this_case = (case.pk, victim.pk) in links
            assert through_this_case == victim_identity_allowed(user=officer, victim=victim), case


def test_a_document_search_by_a_ver_only_institution_reveals_no_case(client, fiscalia, document_cases):
    ver_only_institution = InstitutionFactory(short_name="SERMIG")
    share(document_cases["led"], ver_only_institution)
    client.force_login(UserFactory(institution=ver_only_institution, role=Role.CASE_OFFICER))

    response = document_search(client)

    assert response.status_code == 200
    assert response.context["document_rows"] == []
    assert document_cases["led"].ruc not in response.content.decode()
    assert "Ninguna causa en que su institución tenga acceso a la identidad" in response.content.decode()


def test_the_document_number_never_appears_in_a_url(as_officer, document_cases):
    page = as_officer.get(reverse("cases:list")).content.decode()
    form = re.search(r'<form method="post" action="([^"]*)"[^>]*>(?:(?!</form>).)*name="documento-numero"', page, re.S)
    assert form is not None and form.group(1) == reverse("cases:list")  # POST, to a URL without it

    response = document_search(as_officer)
    body = response.content.decode()
    digits = DOCUMENT.replace(".", "").replace("-", "")
    for url in re.findall(r'(?:href|action|hx-get|hx-post)="([^"]*)"', body):
        assert digits[:-1] not in url.replace(".", "").replace("-", ""), url
    # Sent as a query string it is not searched at all.
    leaked = as_officer.get(reverse("cases:list"), {"documento-tipo": "run", "documento-numero": DOCUMENT})
    assert leaked.context["document_rows"] is None


def test_an_invalid_document_is_reported_on_its_field(as_officer, document_cases):
    response = document_search(as_officer, number="12.345.678-0")  # wrong check digit
    assert response.status_code == 400
    assert "dígito verificador" in " ".join(response.context["document_form"].errors["numero"])
    body = response.content.decode()
    assert 'id="id_documento-numero_error"' in body and 'aria-invalid="true"' in body
    assert response.context["document_rows"] is None


# --- Inicio -------------------------------------------------------------------------------------


def test_home_lists_the_open_cases_we_lead_or_collaborate_on_most_recently_changed_first(as_officer, pdi, fiscalia):
    led = CaseFactory.create_batch(11, lead_institution=pdi)
    CaseFactory(
        lead_institution=pdi,
        status=CaseStatus.CLOSED,
        termination_type=TerminationType.CONVICTION,
        termination_date=datetime.date(2023, 6, 1),
    )
    collaborating = CaseFactory(lead_institution=fiscalia)
    share(collaborating, pdi, can_collaborate=True)
    viewing = CaseFactory(lead_institution=fiscalia)
    share(viewing, pdi)  # ver only: not "ours"
    CaseFactory(lead_institution=fiscalia)  # not visible

    response = as_officer.get(reverse("home"))

    open_cases = response.context["open_cases"]
    assert open_cases.total == 12
    assert [row.id for row in open_cases.rows] == [collaborating.pk, *[case.pk for case in reversed(led)]][:10]
    assert "colabora en 12 causas no terminadas" in response.content.decode()


def test_home_lists_pending_access_requests_addressed_to_us(as_officer, pdi, fiscalia, fiscalia_officer):
    ours, theirs = CaseFactory(lead_institution=pdi), CaseFactory(lead_institution=fiscalia)
    pending = AccessRequest.objects.create(
        case=ours, institution=fiscalia, requested_by=fiscalia_officer, reason="La atendemos"
    )
    AccessRequest.objects.create(
        case=ours,
        institution=InstitutionFactory(),
        requested_by=fiscalia_officer,
        reason="Otra",
        status=AccessRequestStatus.DECLINED,
        decided_by=fiscalia_officer,
        decided_at=timezone.now(),
    )
    AccessRequest.objects.create(case=theirs, institution=pdi, requested_by=fiscalia_officer, reason="No es nuestra")

    response = as_officer.get(reverse("home"))

    requests = response.context["pending_requests"]
    assert [request.pk for request in requests.rows] == [pending.pk] and requests.total == 1
    assert "1 solicitud pendiente dirigida a su institución" in response.content.decode()
    assert reverse("cases:share", args=[ours.pk]) in response.content.decode()


def test_home_lists_the_cases_shared_with_us_since_the_previous_login(client, officer, pdi, fiscalia):
    before, after, revoked = CaseFactory.create_batch(3, lead_institution=fiscalia)
    old_share = share(before, pdi)
    CaseShare.objects.filter(pk=old_share.pk).update(created_at=timezone.now() - datetime.timedelta(days=3))
    share(after, pdi, can_view_identity=True, legal_basis="Oficio 3/2024")
    gone = share(revoked, pdi)
    CaseShare.objects.filter(pk=gone.pk).update(
        revoked_at=timezone.now(), revoked_by=gone.granted_by, revoke_reason="Error"
    )
    client.force_login(officer)
    session = client.session
    session[PREVIOUS_LOGIN] = (timezone.now() - datetime.timedelta(days=1)).isoformat()
    session.save()

    response = client.get(reverse("home"))

    shares = response.context["new_shares"]
    assert [row.case_id for row in shares.rows] == [after.pk] and shares.total == 1
    body = response.content.decode()
    assert "1 causa compartida desde su última visita" in body and after.ruc in body and before.ruc not in body


def test_without_a_previous_login_home_counts_the_shares_of_the_last_30_days(client, officer, pdi, fiscalia):
    recent, old = CaseFactory.create_batch(2, lead_institution=fiscalia)
    share(recent, pdi)
    old_share = share(old, pdi)
    CaseShare.objects.filter(pk=old_share.pk).update(created_at=timezone.now() - datetime.timedelta(days=31))
    client.force_login(officer)  # force_login stores no previous login

    response = client.get(reverse("home"))

    assert [row.case_id for row in response.context["new_shares"].rows] == [recent.pk]
    assert "1 causa compartida en los últimos 30 días" in response.content.decode()


def test_home_shows_nothing_of_any_case_to_a_system_administrator(client, pdi):
    CaseFactory(lead_institution=pdi)
    client.force_login(UserFactory(institution=None, role="", is_staff=True, is_superuser=True))
    response = client.get(reverse("home"))
    assert response.status_code == 200
    context = response.context
    assert (context["open_cases"].total, context["pending_requests"].total, context["new_shares"].total) == (0, 0, 0)


# --- the case page and its tabs -----------------------------------------------------------------

TAB_ROUTES = ["cases:detail", "cases:victims", "cases:offenders", "cases:share", "cases:history"]


@pytest.fixture
def full_case(pdi, fiscalia):
    """A PDI case with two victims (one a minor) and an offender, shared with the Fiscalía at
    *ver* and with a third institution with identity on a legal basis."""
    case = CaseFactory(lead_institution=pdi, ruc="2300012345-6")
    adult = victim_in(case, document=DOCUMENT)
    minor = victim_in(case, minor=True, sex=Sex.MALE, nationality="")
    offender = offender_in(case)
    share(case, fiscalia)
    identity_institution = InstitutionFactory(short_name="SERNAMEG")
    share(case, identity_institution, can_view_identity=True, legal_basis="Oficio 7/2024")
    return {
        "case": case,
        "adult": adult,
        "minor": minor,
        "offender": offender,
        "identity_institution": identity_institution,
    }


def tab_links(body: str) -> dict[str, bool]:
    """Tab label → is it the current page, from the case's tab bar."""
    nav = re.search(r'<nav class="tabs"[^>]*>(.*?)</nav>', body, re.S).group(1)
    links = re.findall(r'<a href="[^"]+"( aria-current="page")?>([^<]+)</a>', nav)
    return {label: bool(current) for current, label in links}


@pytest.mark.parametrize(
    ("route", "label"),
    [
        ("cases:detail", "Resumen"),
        ("cases:victims", "Víctimas"),
        ("cases:offenders", "Imputados"),
        ("cases:share", "Compartir"),
        ("cases:history", "Historial"),
    ],
)
def test_each_tab_is_its_own_page_marked_current_in_the_tab_bar_and_never_stored(as_officer, full_case, route, label):
    response = as_officer.get(reverse(route, args=[full_case["case"].pk]))

    assert response.status_code == 200
    tabs = tab_links(response.content.decode())
    assert list(tabs) == ["Resumen", "Víctimas", "Imputados", "Compartir", "Historial"]
    assert [name for name, current in tabs.items() if current] == [label]
    assert response["Cache-Control"].startswith("no-store")
    assert f'<h2 id="tab-heading">{label}</h2>' in response.content.decode()


def test_a_grantee_has_every_tab_but_compartir(client, full_case, fiscalia_officer):
    client.force_login(fiscalia_officer)
    tabs = tab_links(client.get(reverse("cases:detail", args=[full_case["case"].pk])).content.decode())
    assert list(tabs) == ["Resumen", "Víctimas", "Imputados", "Historial"]


def test_resumen_shows_the_facts_and_who_is_in_the_case_by_code(as_officer, full_case):
    body = as_officer.get(reverse("cases:detail", args=[full_case["case"].pk])).content.decode()
    assert "2300012345-6" in body and "Policía de Investigaciones de Chile" in body
    assert "Fiscalía Regional de Tarapacá" in body and "Explotación sexual" in body
    for key in ("adult", "minor", "offender"):
        assert full_case[key].code in body
    assert "Rosa" not in body and "Quispe" not in body


def test_the_victims_tab_shows_pseudonyms_and_statistics_and_the_reveal_only_with_identity_access(
    client, full_case, officer, fiscalia_officer
):
    case = full_case["case"]
    client.force_login(officer)
    body = client.get(reverse("cases:victims", args=[case.pk])).content.decode()
    assert full_case["adult"].code in body and full_case["minor"].code in body
    assert "24 años" in body and "Menor de edad, edad exacta desconocida" in body
    assert "Bolivia" in body and "Sin información" in body
    assert re.search(r'<strong class="tag">Sí</strong>', body)  # the minor is flagged NNA
    assert body.count(">Mostrar identidad<") == 2
    assert reverse("victims:identity", args=[full_case["adult"].pk]) in body
    assert "Rosa" not in body

    client.force_login(fiscalia_officer)  # ver only
    body = client.get(reverse("cases:victims", args=[case.pk])).content.decode()
    assert full_case["adult"].code in body and ">Mostrar identidad<" not in body
    assert "Sin acceso a la identidad" in body


def test_mostrar_identidad_on_the_victims_tab_reveals_and_is_audited(client, full_case):
    reader = UserFactory(institution=full_case["identity_institution"], role=Role.READER)
    client.force_login(reader)
    tab = client.get(reverse("cases:victims", args=[full_case["case"].pk])).content.decode()
    action = reverse("victims:identity", args=[full_case["adult"].pk])
    assert f'action="{action}"' in tab

    revealed = client.post(action)

    assert revealed.status_code == 200 and "Rosa" in revealed.content.decode()
    event = AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).latest("id")
    assert event.victim_code == full_case["adult"].code and event.actor_id == reader.pk


def test_the_offenders_tab_offers_the_reveal_to_the_lead_and_legal_basis_grantees_only(
    client, full_case, officer, fiscalia_officer
):
    case, offender = full_case["case"], full_case["offender"]
    reveal_url = reverse("cases:offender_identity", args=[case.pk, offender.pk])
    for user, offered in [
        (officer, True),
        (UserFactory(institution=full_case["identity_institution"], role=Role.READER), True),
        (fiscalia_officer, False),
    ]:
        client.force_login(user)
        body = client.get(reverse("cases:offenders", args=[case.pk])).content.decode()
        assert offender.code in body and "Chile" in body
        assert (reveal_url in body) is offered, user.username
        assert "Juan" not in body and "Soto" not in body
        assert (client.post(reveal_url).status_code == 200) is offered


@pytest.mark.parametrize(
    ("who", "offered"),
    [("lead-officer", True), ("lead-reader", False), ("collaborating-officer", True), ("ver", False)],
)
def test_edit_and_add_links_are_offered_to_officers_of_institutions_that_may_collaborate(
    client, full_case, pdi, who, offered
):
    case = full_case["case"]
    collaborator = InstitutionFactory(short_name="OIM")
    share(case, collaborator, can_collaborate=True)
    users = {
        "lead-officer": lambda: UserFactory(institution=pdi, role=Role.CASE_OFFICER),
        "lead-reader": lambda: UserFactory(institution=pdi, role=Role.READER),
        "collaborating-officer": lambda: UserFactory(institution=collaborator, role=Role.CASE_OFFICER),
        "ver": lambda: UserFactory(institution=full_case["identity_institution"], role=Role.CASE_OFFICER),
    }
    client.force_login(users[who]())
    links = {
        "cases:detail": [reverse("cases:edit", args=[case.pk])],
        "cases:victims": [
            reverse("victims:create", args=[case.pk]),
            reverse("victims:edit", args=[case.pk, full_case["adult"].pk]),
        ],
        "cases:offenders": [
            reverse("cases:offender_create", args=[case.pk]),
            reverse("cases:offender_edit", args=[case.pk, full_case["offender"].pk]),
        ],
    }
    for tab, urls in links.items():
        body = client.get(reverse(tab, args=[case.pk])).content.decode()
        for url in urls:
            assert (f'href="{url}"' in body) is offered, (tab, url)


def test_the_share_tab_lists_grants_consents_and_requests_about_the_case(as_officer, full_case, officer):
    case = full_case["case"]
    consent_record(actor=officer, victim_id=full_case["adult"].pk, given_on=datetime.date(2024, 2, 1), scope="Con FN")
    requester = UserFactory(institution=InstitutionFactory(short_name="OIM"), role=Role.CASE_OFFICER)
    AccessRequest.objects.create(case=case, institution=requester.institution, requested_by=requester, reason="Retorno")

    body = as_officer.get(reverse("cases:share", args=[case.pk])).content.decode()

    assert "FN" in body and "SERNAMEG" in body and "Fundamento legal: Oficio 7/2024" in body
    assert "Con FN" in body and full_case["adult"].code in body
    assert "OIM" in body and "Retorno" in body and ">Aprobar<" in body
    assert f'action="{reverse("victims:consent_record", args=[full_case["minor"].pk])}"' in body


def test_a_lector_of_the_lead_sees_the_share_tab_without_its_forms(client, full_case, pdi):
    client.force_login(UserFactory(institution=pdi, role=Role.READER))
    body = client.get(reverse("cases:share", args=[full_case["case"].pk])).content.decode()
    assert "FN" in body
    assert "Compartir con otra institución" not in body and ">Revocar<" not in body


def test_a_refused_share_comes_back_with_errors_next_to_the_fields_and_the_input_kept(as_officer, full_case):
    case = full_case["case"]
    other = InstitutionFactory(short_name="SENAME")

    response = as_officer.post(
        reverse("cases:share", args=[case.pk]),
        {"institution": other.pk, "reason": "", "can_view_identity": "on", "legal_basis": ""},
    )

    assert response.status_code == 400
    body = response.content.decode()
    assert 'id="reason-error"' in body and "Indique el motivo" in body
    assert 'id="legal_basis-error"' in body
    assert re.search(r'<input id="reason" name="reason" value="" required aria-invalid="true"', body)
    assert f'<option value="{other.pk}" selected>' in body
    assert re.search(r'id="can_view_identity" name="can_view_identity" checked', body)
    assert not CaseShare.objects.filter(case=case, institution=other).exists()


def test_the_lead_shares_identity_resting_on_consents_from_the_share_tab(as_officer, full_case, officer):
    case = full_case["case"]
    consents = [
        consent_record(actor=officer, victim_id=full_case[key].pk, given_on=datetime.date(2024, 2, 1), scope="OIM")
        for key in ("adult", "minor")
    ]
    oim = InstitutionFactory(short_name="OIM")
    body = as_officer.get(reverse("cases:share", args=[case.pk])).content.decode()
    assert all(f'name="consents" value="{consent.pk}"' in body for consent in consents)

    response = as_officer.post(
        reverse("cases:share", args=[case.pk]),
        {
            "institution": oim.pk,
            "reason": "Retorno asistido",
            "can_view_identity": "on",
            "consents": [consent.pk for consent in consents],
        },
    )

    assert response.status_code == 302
    granted = CaseShare.objects.get(case=case, institution=oim)
    assert granted.can_view_identity and sorted(granted.consents.values_list("pk", flat=True)) == sorted(
        consent.pk for consent in consents
    )


def test_the_history_shows_changes_to_the_case_in_words(as_officer, full_case):
    case = full_case["case"]
    case.status = CaseStatus.SUSPENDED
    case.save()

    response = as_officer.get(reverse("cases:history", args=[case.pk]))

    body = response.content.decode()
    assert "Estado: Vigente → Suspendida" in body
    assert f"Víctima {full_case['minor'].code}" in body and f"Imputado {full_case['offender'].code}" in body
    subjects = [row.subject for row in response.context["changes"].object_list]
    assert subjects.count("Causa") == 2  # registered, then suspended
    assert "Rosa" not in body


def test_the_lead_sees_in_the_history_an_identity_reveal_by_another_institution(client, full_case, officer):
    reader = UserFactory(username="lectora.sernameg", institution=full_case["identity_institution"], role=Role.READER)
    client.force_login(reader)
    assert client.post(reverse("victims:identity", args=[full_case["adult"].pk])).status_code == 200

    client.force_login(officer)
    response = client.get(reverse("cases:history", args=[full_case["case"].pk]))

    reveals = [row for row in response.context["accesses"].object_list if row.action == "Lectura de identidad"]
    assert [(row.actor, row.institution, row.victim_code) for row in reveals] == [
        ("lectora.sernameg", "SERNAMEG", full_case["adult"].code)
    ]
    body = response.content.decode()
    assert "lectora.sernameg" in body and "Lectura de identidad" in body


def test_a_grantee_sees_its_own_reveals_in_the_history_but_not_other_institutions_activity(client, full_case, officer):
    case = full_case["case"]
    client.force_login(officer)
    client.post(reverse("victims:identity", args=[full_case["minor"].pk]))  # the lead's own reveal
    reader = UserFactory(username="lectora.sernameg", institution=full_case["identity_institution"], role=Role.READER)
    client.force_login(reader)
    client.post(reverse("victims:identity", args=[full_case["adult"].pk]))

    response = client.get(reverse("cases:history", args=[case.pk]))

    rows = response.context["accesses"].object_list
    assert [(row.actor, row.victim_code) for row in rows] == [("lectora.sernameg", full_case["adult"].code)]
    body = response.content.decode()
    assert "oficial.pdi" not in body and "Causa compartida" not in body
    assert "Solo se muestran los accesos de su institución" in body


def test_the_history_pages_its_access_log_keeping_the_other_list_page(as_officer, full_case, officer):
    for _ in range(30):
        as_officer.post(reverse("victims:identity", args=[full_case["adult"].pk]))

    first = as_officer.get(reverse("cases:history", args=[full_case["case"].pk]))
    second = as_officer.get(reverse("cases:history", args=[full_case["case"].pk]), {"pagina_accesos": 2})

    total = first.context["accesses"].paginator.count
    assert total == 32  # 30 reveals and the two shares
    assert len(first.context["accesses"].object_list) == 25 and len(second.context["accesses"].object_list) == 7
    assert 'href="?pagina_cambios=1&amp;pagina_accesos=2"' in first.content.decode()


@pytest.mark.parametrize("route", TAB_ROUTES)
def test_tabs_of_a_case_the_institution_cannot_see_answer_404(client, full_case, route):
    client.force_login(UserFactory(institution=InstitutionFactory(), role=Role.CASE_OFFICER))
    assert client.get(reverse(route, args=[full_case["case"].pk])).status_code == 404


# --- "Mostrar la identidad de todas las víctimas" ------------------------------------------------


def test_revealing_all_victims_shows_each_readable_identity_and_logs_one_read_each(as_officer, officer, pdi):
    case = CaseFactory(lead_institution=pdi)
    victims = [victim_in(case, document=valid_run(12_000_000 + n)) for n in range(3)]
    page = as_officer.get(reverse("cases:victims", args=[case.pk])).content.decode()
    assert "Mostrar la identidad de todas las víctimas" in page and "Quispe" not in page

    response = as_officer.post(reverse("cases:victims_identity", args=[case.pk]))

    assert response.status_code == 200 and response["Cache-Control"].startswith("no-store")
    body = response.content.decode()
    assert body.count("Rosa Quispe") == 3
    events = AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ, actor_id=officer.pk, case_id=case.pk)
    assert sorted(events.values_list("victim_code", flat=True)) == sorted(v.code for v in victims)
    assert not any(e.rests_on_legal_basis for e in events)  # the lead reads its own case


def test_a_grantee_on_a_legal_basis_reveals_all_and_the_log_says_so(client, pdi, fiscalia):
    case = CaseFactory(lead_institution=fiscalia)
    victims = [victim_in(case), victim_in(case, minor=True)]
    share(case, pdi, can_view_identity=True, legal_basis="Oficio 7/2025 de la Fiscalía Regional")
    grantee = UserFactory(institution=pdi, role=Role.CASE_OFFICER)
    client.force_login(grantee)

    response = client.post(reverse("cases:victims_identity", args=[case.pk]))

    assert response.status_code == 200 and response.content.decode().count("Rosa Quispe") == 2
    logged = AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ, actor_id=grantee.pk)
    assert sorted(logged.values_list("victim_code", flat=True)) == sorted(v.code for v in victims)
    assert all(event.rests_on_legal_basis and event.institution_id == pdi.pk for event in logged)


def test_revealing_all_without_identity_access_is_refused_and_logs_nothing(client, pdi, fiscalia):
    case = CaseFactory(lead_institution=fiscalia)
    victim_in(case)
    share(case, pdi)  # *ver* only
    client.force_login(UserFactory(institution=pdi, role=Role.CASE_OFFICER))
    before = AccessEvent.objects.count()

    assert client.post(reverse("cases:victims_identity", args=[case.pk])).status_code == 403
    assert AccessEvent.objects.filter(action=AccessAction.IDENTITY_READ).count() == 0
    assert AccessEvent.objects.count() == before


def test_revealing_all_keeps_the_access_log_chain_intact(as_officer, pdi):
    from kernel.audit import audit_verify

    case = CaseFactory(lead_institution=pdi)
    for _ in range(4):
        victim_in(case)
    as_officer.post(reverse("cases:victims_identity", args=[case.pk]))
    as_officer.post(reverse("cases:victims_identity", args=[case.pk]))
    checked, broken = audit_verify()
    assert broken is None and checked >= 8
