"""Keyboard only: a person who cannot use a mouse signs in, reaches the case list, filters it
and opens a case, with the focus always visible."""

from __future__ import annotations

from tests.e2e.helpers import PASSWORD, enroll
from tests.factories import CaseFactory, InstitutionFactory, UserFactory

FOCUS_IS_VISIBLE = """() => {
    const element = document.activeElement;
    const style = getComputedStyle(element);
    return element !== document.body && style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2;
}"""


def focused(page) -> str:
    return page.evaluate(
        "() => document.activeElement.getAttribute('name') || document.activeElement.textContent.trim()"
    )


def tab_until(page, wanted: str, limit: int = 40) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page) == wanted:
            assert page.evaluate(FOCUS_IS_VISIBLE), f"no visible focus on {wanted!r}"
            return
    raise AssertionError(f"{wanted!r} cannot be reached with Tab")


def test_sign_in_filter_and_open_a_case_with_the_keyboard_only(page):
    institution = InstitutionFactory(short_name="PDI")
    UserFactory(username="oficial.teclado", institution=institution)
    case = CaseFactory(lead_institution=institution, status="vigente")

    page.goto("/ingresar/")
    assert focused(page) == "username"  # the form opens with the focus on its first field
    page.keyboard.type("oficial.teclado")
    page.keyboard.press("Tab")
    assert focused(page) == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/ingresar/segundo-factor/**")
    enroll(page)  # reads the manual key; the code field is reached and typed like any other

    page.goto("/causas/")
    page.keyboard.press("Tab")
    assert focused(page) == "Ir al contenido"  # the skip link comes first on every page
    assert page.evaluate(FOCUS_IS_VISIBLE)
    tab_until(page, "estado")
    page.keyboard.press("End")  # the last status in the list
    page.keyboard.press("Home")
    tab_until(page, "Filtrar")
    page.keyboard.press("Enter")
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(200)  # htmx settles the swap, then restores the focus
    # htmx replaced the form with the results; the focus is back on the same button, not lost.
    assert focused(page) == "Filtrar" and page.evaluate(FOCUS_IS_VISIBLE)
    link_text = case.ruc or str(case.pk)
    tab_until(page, link_text, limit=120)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/causas/{case.pk}/")
    assert page.get_by_role("heading", level=1).is_visible()
