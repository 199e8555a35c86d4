"""The whole journey of a case, in the browser, through the real forms and the real two factors.

An officer of the PDI registers a case with two victims (one a child) and an offender; shares it
with the Fiscalía at *ver*; the Fiscalía's officer sees it with pseudonyms only; the PDI records
the victims' consent and grants *ver identidad* on it; the Fiscalía's officer now reveals a
victim's identity, and that reveal is in the case's history; an ONG's officer gets 404.
"""

from __future__ import annotations

import re

from cases.models import Case
from institutions.constants import InstitutionKind
from tests.e2e.helpers import sign_in
from tests.factories import InstitutionFactory, UserFactory, valid_run
from victims.models import Victim

ADULT = {"Nombres": "María José", "Apellidos": "Quispe Mamani", "document": valid_run(21_345_678)}
CHILD = {"Nombres": "Camila Andrea", "Apellidos": "Flores Choque", "document": valid_run(24_987_654)}
OFFENDER = {"Nombres": "Jorge Luis", "Apellidos": "Castro Pinto"}
# Nothing of these may appear on a page of an institution without identity access.
IDENTITY_TEXTS = [
    *ADULT["Nombres"].split(),
    *ADULT["Apellidos"].split(),
    *CHILD["Nombres"].split(),
    *CHILD["Apellidos"].split(),
    *OFFENDER["Nombres"].split(),
    *OFFENDER["Apellidos"].split(),
    ADULT["document"],
    CHILD["document"],
    ADULT["document"].replace(".", ""),
    CHILD["document"].replace(".", ""),
]


def field(page, label: str):
    """The form control labelled exactly ``label`` (required fields add " (obligatorio)")."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \(obligatorio\))?$"))


def fill_person(page, person: dict) -> None:
    field(page, "Nombres").fill(person["Nombres"])
    field(page, "Apellidos").fill(person["Apellidos"])


def register_victim(page, person: dict, *, birth_date: str, age: str, nationality: str) -> None:
    page.get_by_role("link", name="Agregar víctima").click()
    fill_person(page, person)
    field(page, "Tipo de documento").select_option(label="RUN")
    field(page, "Número de documento").fill(person["document"])
    field(page, "Fecha de nacimiento").fill(birth_date)
    field(page, "Sexo").select_option(label="Femenino")
    field(page, "Nacionalidad").select_option(label=nationality)
    field(page, "Edad a la fecha de los hechos").select_option(label="Edad conocida")
    field(page, "Edad a la fecha de los hechos (años)").fill(age)
    page.get_by_role("button", name="Registrar víctima").click()
    page.wait_for_load_state()
    assert page.get_by_text("registrada en la causa").is_visible(), page.url


def assert_no_identity(page) -> None:
    text = page.locator("body").inner_text()
    shown = [value for value in IDENTITY_TEXTS if value in text]
    assert not shown, f"{page.url} shows identity: {shown}"


def test_case_is_registered_shared_and_its_identity_revealed_only_as_granted(new_page):
    pdi = InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")
    fiscalia = InstitutionFactory(short_name="Fiscalía", name="Fiscalía Nacional", kind=InstitutionKind.PROSECUTION)
    ong = InstitutionFactory(short_name="ONG Raíces", name="ONG Raíces", kind=InstitutionKind.NGO)
    lead_officer = UserFactory(username="oficial.pdi", institution=pdi, first_name="Paula", last_name="Díaz")
    partner = UserFactory(username="oficial.fiscalia", institution=fiscalia, first_name="Fernanda", last_name="Ríos")
    outsider = UserFactory(username="oficial.ong", institution=ong)

    # --- the PDI's officer enrolls the second factor and registers the case ---------------------
    lead = new_page()
    sign_in(lead, lead_officer)
    lead.get_by_role("navigation", name="Principal").get_by_role("link", name="Causas").click()
    lead.get_by_role("link", name="Nueva causa").click()
    field(lead, "RUC").fill("2300456789-1")
    field(lead, "Fecha de ingreso").fill("2023-04-12")
    field(lead, "Fin de explotación").select_option(label="Explotación sexual")
    field(lead, "Región de detección").select_option(label="Tarapacá")
    field(lead, "Fiscalía regional").select_option(label="Fiscalía Regional de Tarapacá")
    lead.get_by_role("button", name="Registrar causa").click()
    lead.wait_for_load_state()
    case = Case.objects.get(ruc="2300456789-1")
    assert case.lead_institution == pdi
    assert re.search(rf"/causas/{case.pk}/$", lead.url), lead.url
    case_url = f"/causas/{case.pk}/"

    lead.get_by_role("link", name="Víctimas").click()
    register_victim(lead, ADULT, birth_date="1991-08-30", age="31", nationality="Bolivia")
    lead.goto(f"{case_url}victimas/")
    register_victim(lead, CHILD, birth_date="2008-02-14", age="15", nationality="Perú")
    lead.goto(f"{case_url}imputados/")
    lead.get_by_role("link", name="Agregar imputado").click()
    fill_person(lead, OFFENDER)
    field(lead, "Sexo").select_option(label="Masculino")
    field(lead, "Nacionalidad").select_option(label="Chile")
    lead.get_by_role("button", name="Registrar imputado").click()
    lead.wait_for_load_state()

    adult, child = Victim.objects.filter(case_links__case=case).order_by("created_at")
    assert (adult.given_names, child.given_names) == (ADULT["Nombres"], CHILD["Nombres"])
    lead.goto(f"{case_url}victimas/")
    rows = lead.get_by_role("table").get_by_role("row")
    assert rows.filter(has_text=adult.code).get_by_role("cell").nth(3).inner_text() == "No"
    assert rows.filter(has_text=child.code).get_by_role("cell").nth(3).inner_text() == "Sí", "the child is an NNA"
    assert case.offender_links.count() == 1

    # --- shared with the Fiscalía at *ver* ---------------------------------------------------------
    lead.get_by_role("link", name="Compartir").click()
    share_case(lead, institution="Fiscalía Nacional", reason="Coordinación de la investigación")
    shared = lead.get_by_role("row").filter(has_text="Coordinación de la investigación")
    assert "ver" in shared.inner_text() and "ver identidad" not in shared.inner_text()

    # --- the Fiscalía's officer sees pseudonyms only -----------------------------------------------
    other = new_page()
    sign_in(other, partner)
    other.get_by_role("navigation", name="Principal").get_by_role("link", name="Causas").click()
    other.get_by_role("link", name="2300456789-1").click()
    assert re.search(rf"/causas/{case.pk}/$", other.url)
    assert_no_identity(other)
    other.get_by_role("link", name="Víctimas").click()
    assert other.get_by_text(adult.code).is_visible() and other.get_by_text(child.code).is_visible()
    assert other.get_by_role("button", name=re.compile("Mostrar identidad")).count() == 0
    assert other.get_by_text("Sin acceso a la identidad").count() == 2
    assert_no_identity(other)
    other.get_by_role("link", name="Imputados").click()
    assert other.get_by_text(case.offender_links.get().offender.code).is_visible()
    assert_no_identity(other)
    other.goto(f"/victimas/{adult.pk}/")
    assert_no_identity(other)

    # --- the PDI records both victims' consent and grants *ver identidad* on it ------------------
    for victim in (adult, child):
        lead.goto(f"/victimas/{victim.pk}/")
        record_consent(lead, scope="Compartir su identidad con la Fiscalía para la investigación")
    lead.goto(f"{case_url}compartir/")
    grant_identity_with_consent(
        lead, institution="Fiscalía Nacional", short_name="Fiscalía", consents=[adult.code, child.code]
    )
    granted = lead.get_by_role("row").filter(has_text="ver identidad")
    assert granted.count() == 1 and adult.code in granted.inner_text() and child.code in granted.inner_text()

    # --- the Fiscalía's officer reveals the adult's identity ------------------------------------
    other.goto(f"{case_url}victimas/")
    other.get_by_role("button", name=f"Mostrar identidad de {adult.code}").click()
    other.wait_for_load_state()
    assert other.get_by_text("María José").is_visible()
    assert other.get_by_text("Quispe Mamani").is_visible()
    assert "Camila" not in other.locator("body").inner_text(), "one reveal shows one person"
    # Consent covers the victims only: the offender's identity still needs a legal basis.
    other.goto(f"{case_url}imputados/")
    assert other.get_by_role("button", name=re.compile("Mostrar identidad")).count() == 0
    assert not any(name in other.locator("body").inner_text() for name in OFFENDER["Apellidos"].split())

    # ... and the reveal is in the case's history, for the lead.
    lead.goto(f"{case_url}historial/")
    reveals = lead.get_by_role("row").filter(has_text="Lectura de identidad")
    assert reveals.count() == 1, lead.locator("main").inner_text()
    reveal = reveals.inner_text()
    assert adult.code in reveal and "Fiscalía" in reveal, reveal
    assert "Fernanda Ríos" in reveal or "oficial.fiscalia" in reveal, reveal

    # --- an ONG not party to the case: 404 everywhere ---------------------------------------------
    third = new_page()
    sign_in(third, outsider)
    for path in (case_url, f"{case_url}victimas/", f"{case_url}historial/", f"/victimas/{adult.pk}/"):
        response = third.goto(path)
        assert response.status == 404, f"{path} answered {response.status}"
        assert_no_identity(third)
    third.goto("/causas/")
    assert "2300456789-1" not in third.locator("main").inner_text()


def share_case(page, *, institution: str, reason: str, consents: list[str] = ()) -> None:
    """Fills "Compartir con otra institución"; with ``consents`` (victim codes), *ver identidad*
    resting on those victims' consents."""
    page.get_by_label("Institución", exact=True).select_option(label=institution)
    page.get_by_label("Motivo", exact=True).fill(reason)
    if consents:
        page.get_by_label("Ver identidad", exact=True).check()
        for code in consents:
            page.get_by_label(re.compile(rf"^{re.escape(code)} ")).check()
    page.get_by_role("button", name="Compartir", exact=True).click()
    page.wait_for_load_state()


def record_consent(page, *, scope: str) -> None:
    """On the victim's page."""
    page.get_by_label("Fecha del consentimiento").fill("2024-01-10")
    page.get_by_label("Alcance").fill(scope)
    page.get_by_role("button", name="Registrar consentimiento").click()
    page.wait_for_load_state()
    assert page.get_by_role("listitem").filter(has_text=scope).is_visible(), page.url


def grant_identity_with_consent(page, *, institution: str, short_name: str, consents: list[str]) -> None:
    """A share's permissions are changed by revoking it and sharing again (cases.sharing)."""
    page.get_by_label(f"Motivo para revocar el acceso de {short_name}").fill("Se amplía a ver identidad")
    page.get_by_role("button", name="Revocar").click()
    page.wait_for_load_state()
    share_case(page, institution=institution, reason="Las víctimas consintieron", consents=consents)
