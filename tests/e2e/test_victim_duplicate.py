"""The duplicate warning of "Registrar una víctima", in the browser, with and without JavaScript:
a person the institution already knows is named by code and case and linked to the new case
instead of being registered twice; a victim of the same case is refused on the document field.
Form-level behaviour (who may, what is logged, what is never shown): tests/victims/test_victim_forms.py.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.urls import reverse

from cases.services import case_create
from institutions.constants import Role
from kernel.choices import Sex
from tests.e2e.helpers import assert_accessible, sign_in
from tests.factories import InstitutionFactory, UserFactory, valid_run
from victims.models import CaseVictim, Victim
from victims.services import victim_link_to_case, victim_register

DOCUMENT = valid_run(18_765_432)


@pytest.fixture
def world(transactional_db):
    lead = InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")
    officer = UserFactory(username="oficial.pdi", institution=lead, role=Role.CASE_OFFICER)

    def new_case(day: int):
        return case_create(actor=officer, lead_institution=lead, data={"intake_date": datetime.date(2024, 3, day)})

    first = new_case(1)
    victim = victim_register(
        actor=officer, institution=lead, given_names="Matilde", surnames="Ccori",
        document_type="run", document_number=DOCUMENT, sex=Sex.FEMALE,
    )  # fmt: skip
    victim_link_to_case(actor=officer, victim=victim, case=first)
    return officer, victim, first, new_case(2)


def type_the_person(page, document: str = DOCUMENT) -> None:
    page.get_by_label(re.compile(r"^Tipo de documento")).select_option(label="RUN")
    page.get_by_label(re.compile(r"^Número de documento")).fill(document)
    page.get_by_label(re.compile(r"^Sexo")).select_option(label="Femenino")
    page.get_by_label("Edad a la fecha de los hechos (obligatorio)").select_option(value="conocida")
    page.get_by_role("spinbutton", name="Edad a la fecha de los hechos").fill("23")


def test_a_known_person_is_linked_from_the_htmx_warning(new_page, axe_source, world):
    officer, victim, first, second = world
    page = new_page()
    sign_in(page, officer)
    page.goto(reverse("victims:create", args=[second.pk]))

    type_the_person(page)
    page.get_by_label(re.compile(r"^Número de documento")).press("Tab")
    warning = page.locator("#aviso-duplicado")
    warning.get_by_text(f"Esta persona ya está registrada como {victim.code}").wait_for()
    assert f"en la causa {first}." in " ".join(warning.inner_text().split())
    assert warning.get_by_role("link", name=victim.code).get_attribute("href") == reverse(
        "victims:detail", args=[victim.pk]
    )
    assert page.get_by_role("button", name=re.compile("^Vincular a esta víctima")).is_visible()
    assert DOCUMENT not in page.url
    assert_accessible(page, axe_source)

    # Enter in a field still means "Registrar víctima" (the form's first button), never a link:
    # the registration stops at the warning, and the officer links from there.
    page.get_by_role("spinbutton", name="Edad a la fecha de los hechos").press("Enter")
    page.wait_for_load_state()
    assert page.get_by_role("heading", name=re.compile("No se registró todavía")).is_visible()
    assert not CaseVictim.objects.filter(case=second).exists()
    page.get_by_role("button", name=re.compile("^Vincular a esta víctima")).click()
    page.wait_for_load_state()

    assert page.url.endswith(reverse("cases:victims", args=[second.pk]))
    page.get_by_text(f"Víctima {victim.code} vinculada a la causa.").wait_for()
    assert CaseVictim.objects.get(case=second).victim_id == victim.pk
    assert Victim.objects.count() == 1


def test_without_javascript_the_submit_warns_and_links_too(browser, live_server, browser_problems, world):
    officer, victim, _, second = world
    context = browser.new_context(base_url=live_server.url, locale="es-CL", java_script_enabled=False)
    try:
        page = context.new_page()
        browser_problems.watch(page)
        sign_in(page, officer)
        page.goto(reverse("victims:create", args=[second.pk]))
        type_the_person(page)
        page.get_by_role("button", name="Registrar víctima").click()
        page.wait_for_load_state()

        assert page.get_by_role("heading", name=re.compile("No se registró todavía")).is_visible()
        assert page.get_by_text(f"Esta persona ya está registrada como {victim.code}").is_visible()
        assert not CaseVictim.objects.filter(case=second).exists()
        page.get_by_role("button", name=re.compile("^Vincular a esta víctima")).click()
        page.wait_for_load_state()

        assert page.url.endswith(reverse("cases:victims", args=[second.pk]))
        link = CaseVictim.objects.get(case=second)
        assert (link.victim_id, link.age_at_facts) == (victim.pk, 23)
    finally:
        context.close()
    browser_problems.assert_none()


def test_the_same_person_twice_in_one_case_is_refused_on_the_document(new_page, axe_source, world):
    officer, victim, first, _ = world
    page = new_page()
    sign_in(page, officer)
    page.goto(reverse("victims:create", args=[first.pk]))

    type_the_person(page)
    page.get_by_label(re.compile(r"^Número de documento")).press("Tab")
    page.get_by_text("Ya es víctima de esta causa: no se puede registrar otra vez.").wait_for()
    assert page.get_by_role("button", name=re.compile("^Vincular")).count() == 0
    page.get_by_role("button", name="Registrar víctima").click()
    page.wait_for_load_state()

    number = page.get_by_label(re.compile(r"^Número de documento"))
    assert number.get_attribute("aria-invalid") == "true"
    page.locator("#id_document_number_error").get_by_text(f"ya es víctima de esta causa, como {victim.code}").wait_for()
    assert_accessible(page, axe_source)
    assert CaseVictim.objects.filter(case=first).count() == 1 and Victim.objects.count() == 1
