"""Signing in, in the browser: enrolling the second factor, logging in again, being locked out."""

from __future__ import annotations

import time

from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.e2e.helpers import PASSWORD, code_for_user, enroll, manual_key, submit_password
from tests.factories import InstitutionFactory, UserFactory

LOCKED_TEXT = "Cuenta bloqueada temporalmente"


def test_officer_enrolls_the_second_factor_on_first_login_and_signs_in_with_a_code_afterwards(page):
    officer = UserFactory(
        username="oficial.pdi", first_name="Paula", last_name="Díaz", institution=InstitutionFactory(short_name="PDI")
    )

    submit_password(page, "oficial.pdi")
    # A password alone opens nothing: first the enrollment page, with a QR code and a manual key.
    assert "/ingresar/segundo-factor/" in page.url
    assert page.get_by_role("heading", name="Activar el segundo factor").is_visible()
    assert page.locator("figure.qr svg").is_visible()
    page.goto("/causas/")
    assert "/ingresar/segundo-factor/" in page.url, "the case list must wait for the second factor"

    # A wrong code is refused next to the field, and nothing is confirmed.
    page.get_by_label("Código de 6 dígitos que muestra la aplicación").fill("000000")
    page.get_by_role("button", name="Activar y continuar").click()
    code_field = page.get_by_label("Código de 6 dígitos que muestra la aplicación")
    assert code_field.get_attribute("aria-invalid") == "true"
    assert "El código no es válido" in page.locator("#token-error").inner_text()
    assert not TOTPDevice.objects.get(user=officer).confirmed

    # django-otp throttles after a wrong code (OTP_TOTP_THROTTLE_FACTOR = 1: one second after the
    # first failure); a person retyping takes longer than that anyway.
    time.sleep(1.2)
    key = enroll(page)
    assert page.url.endswith("/causas/"), "after enrolling, the page first asked for"
    assert page.get_by_role("navigation", name="Principal").is_visible()
    device = TOTPDevice.objects.get(user=officer)
    assert device.confirmed and device.bin_key == key

    # Signing out and in again asks for a code from the enrolled device, not a new enrollment.
    page.get_by_role("button", name="Cerrar sesión").click()
    page.wait_for_load_state()
    submit_password(page, "oficial.pdi")
    assert "/ingresar/verificar/" in page.url
    page.get_by_label("Código").fill(code_for_user(officer))
    page.get_by_role("button", name="Verificar").click()
    page.wait_for_load_state()
    assert page.get_by_role("navigation", name="Principal").get_by_role("link", name="Causas").is_visible()
    assert "Paula Díaz" in page.locator("header").inner_text()


def test_five_wrong_passwords_lock_the_account_and_then_even_the_right_one_is_refused(page):
    UserFactory(username="oficial.bloqueado")

    for attempt in range(1, 5):
        submit_password(page, "oficial.bloqueado", "contraseña-equivocada")
        assert page.get_by_role("alert").is_visible(), f"attempt {attempt} shows the login error"
        assert LOCKED_TEXT not in page.content()
    submit_password(page, "oficial.bloqueado", "contraseña-equivocada")
    assert page.get_by_role("heading", name=LOCKED_TEXT).is_visible()

    response = page.goto("/ingresar/")
    page.get_by_label("Usuario").fill("oficial.bloqueado")
    page.get_by_label("Contraseña").fill(PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Ingresar").click()
    assert posted.value.status == 429
    assert page.get_by_role("heading", name=LOCKED_TEXT).is_visible()
    assert "15 minutos" in page.get_by_role("alert").inner_text()
    assert response.ok
    # Still locked: no session was opened.
    page.goto("/causas/")
    assert "/ingresar/" in page.url


def test_enrollment_page_shows_the_manual_key_in_groups_of_four(page):
    UserFactory(username="oficial.clave")
    submit_password(page, "oficial.clave")
    shown = page.locator("#clave-manual").inner_text()
    assert all(len(group) == 4 for group in shown.split()[:-1])
    assert len(manual_key(page)) >= 20  # django-otp's 160-bit default secret
