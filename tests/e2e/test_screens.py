"""Every screen, in the browser: axe-core finds no serious or critical accessibility violation,
and the strict Content-Security-Policy holds (the header is sent and nothing on the page
violates it: no inline script, no style attribute, no third-party load).

Screens are walked in a few tests, one per kind of user, so that the two xdist workers share
them; each test reports all the problems of its walk at once.
"""

from __future__ import annotations

import datetime
import re
import time

import pytest
from django.urls import reverse

from cases.services import case_create, case_update, offender_link_to_case, offender_register
from cases.sharing import access_request_create, case_share
from institutions.constants import Role
from kernel.choices import Sex
from tests.access.scenario import application_routes
from tests.e2e.helpers import ScreenAudit, axe_violations, code_for_user, enrolled_device, sign_in, submit_password
from tests.e2e.test_protocol_scenario import PROTOCOL_ROUTES
from tests.e2e.test_stats_screens import STATS_ROUTES
from tests.factories import InstitutionFactory, UserFactory, valid_run
from victims.consent import consent_record
from victims.services import victim_link_to_case, victim_register

# The routes each walk checks. Together with NOT_SCREENS they must be every route of the
# application (test_every_route_is_walked_or_says_why_not), so a new page cannot go unchecked.
SIGN_IN_ROUTES = {"login", "two_factor_enroll", "two_factor_verify", "home"}
OFFICER_ROUTES = {
    "home",
    "cases:list",
    "cases:create",
    "cases:detail",
    "cases:edit",
    "cases:victims",
    "cases:offenders",
    "cases:history",
    "cases:share",
    "cases:offender_create",
    "cases:offender_edit",
    "cases:offender_identity",
    "cases:access_requests",
    "victims:create",
    "victims:edit",
    "victims:detail",
    "victims:identity",
    "cases:victims_identity",
    "victims:duplicate_check",
    "victims:access_request_create",
    "victims:share",
}
ADMIN_ROUTES = {
    "access_log",
    "institutions:user_list",
    "institutions:user_invite",
    "institutions:user_detail",
    "institutions:user_deactivate",
    "institutions:user_two_factor_reset",
    "institutions:password_change",
    "institutions:account_activate",
    "institutions:account_activated",
}
NOT_SCREENS = {
    "logout": "POST only, redirects to the login page",
    "health": "JSON for the load balancer",
    "cases:unshare": "POST only, redirects to compartir",
    "cases:access_request_decide": "POST only, redirects to solicitudes",
    "victims:consent_record": "POST only, redirects to the victim's page",
    "victims:consent_withdraw": "POST only, redirects to the victim's page",
    "victims:duplicate_warning": "htmx fragment of the victim form, checked inside it",
    "victims:link": "POST only, from the victim form's duplicate warning; redirects to the case's victims",
    "institutions:user_role": "POST only, answers with the user's page",
    "institutions:user_reactivate": "POST only, redirects to the user's page",
    "institutions:user_unlock": "POST only, redirects to the user's page",
    "institutions:user_invitation_resend": "POST only, redirects to the user's page",
    "oauth2_provider:token": "OAuth2 token endpoint for machine clients, JSON (tests/api)",
    "oauth2_provider:revoke-token": "OAuth2 revocation endpoint for machine clients (tests/api)",
    "victims:unshare": "POST only, redirects to compartir",
    "protocol:activation_transition": "POST only, redirects to the victim's protocol page",
    "protocol:activation_consent": "POST only, redirects to the victim's protocol page",
    "protocol:residence_derive": "POST only, redirects to the victim's protocol page",
    "protocol:referral_transition": "POST only, redirects to the referral",
    "stats:recalculate": "POST only, redirects to the recalculation request's page",
    "stats:table_csv": "a CSV file download (tests/stats/test_dashboard.py)",
    "stats:snapshot_xlsx": "an XLSX file download (tests/stats/test_dashboard.py)",
}


def test_every_route_is_walked_or_says_why_not():
    routes = {route.name for route in application_routes() if not route.is_api}
    walked = SIGN_IN_ROUTES | OFFICER_ROUTES | ADMIN_ROUTES | PROTOCOL_ROUTES | STATS_ROUTES
    assert walked.isdisjoint(NOT_SCREENS)
    assert routes - walked - set(NOT_SCREENS) == set(), (
        "routes no screen walk checks: add each to a walk in tests/e2e/test_screens.py, or to NOT_SCREENS saying why"
    )
    assert (walked | set(NOT_SCREENS)) - routes == set(), "walks name routes that do not exist"


@pytest.fixture
def audit(axe_source, browser_problems) -> ScreenAudit:
    return ScreenAudit(axe_source, browser_problems)


def test_sign_in_screens_are_accessible_and_keep_the_csp(new_page, audit):
    page = new_page()
    UserFactory(username="oficial.nuevo")
    audit.visit(page, "ingresar", "/ingresar/")

    # The login form with its error message.
    submit_password(page, "oficial.nuevo", "contraseña-equivocada")
    audit.check(page, "ingresar (contraseña incorrecta)")

    submit_password(page, "oficial.nuevo")
    audit.check(page, "activar segundo factor")
    page.get_by_label("Código de 6 dígitos que muestra la aplicación").fill("000000")
    page.get_by_role("button", name="Activar y continuar").click()
    audit.check(page, "activar segundo factor (código incorrecto)")

    returning = UserFactory(username="oficial.conocido")
    enrolled_device(returning)
    page = new_page()
    submit_password(page, "oficial.conocido")
    audit.check(page, "verificar segundo factor")
    page.get_by_label("Código").fill("000000")
    page.get_by_role("button", name="Verificar").click()
    audit.check(page, "verificar segundo factor (código incorrecto)")
    time.sleep(1.2)  # django-otp's throttle after a wrong code
    page.get_by_label("Código").fill(code_for_user(returning))
    page.get_by_role("button", name="Verificar").click()
    audit.check(page, "inicio")

    UserFactory(username="oficial.bloqueado")
    page = new_page()
    for _ in range(5):
        submit_password(page, "oficial.bloqueado", "contraseña-equivocada")
    audit.check(page, "cuenta bloqueada")
    assert page.get_by_role("heading", name="Cuenta bloqueada temporalmente").is_visible()

    audit.assert_clean(routes=SIGN_IN_ROUTES)


def test_the_csp_watch_notices_a_violation(page, browser_problems):
    """The CSP checks above pass only because nothing is reported: prove a violation would be."""
    page.goto("/ingresar/")
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.x = 1'; document.body.append(s); }"
    )
    page.wait_for_timeout(100)
    assert any("Content Security Policy" in seen for seen in browser_problems.seen), browser_problems.seen
    assert page.evaluate("() => window.x") is None, "the inline script must not have run"
    browser_problems.seen.clear()


def test_axe_runs_in_the_page_and_notices_an_unlabelled_field(page, axe_source, browser_problems):
    """The accessibility checks pass only because axe finds nothing: prove it finds something."""
    page.goto("/ingresar/")
    assert not axe_violations(page, axe_source)
    page.evaluate("() => document.querySelector('form').append(document.createElement('input'))")
    found = {violation["id"] for violation in axe_violations(page, axe_source)}
    assert "label" in found
    assert not browser_problems.seen, "injecting axe-core must not trip the page's CSP"


def test_institution_administrator_screens_are_accessible_and_keep_the_csp(new_page, audit, mailoutbox):
    institution = InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")
    admin = UserFactory(username="admin.pdi", role=Role.INSTITUTION_ADMIN, institution=institution)
    member = UserFactory(username="lector.pdi", role=Role.READER, institution=institution, first_name="Luis")
    page = new_page()
    sign_in(page, admin)

    audit.visit(page, "usuarios de mi institución", reverse("institutions:user_list"))
    audit.visit(page, "auditoría de la institución", reverse("access_log"))
    audit.visit(page, "invitar a un usuario", reverse("institutions:user_invite"))
    page.get_by_role("button", name="Crear la cuenta y enviar la invitación").click()
    audit.check(page, "invitar a un usuario (con errores)")
    page.get_by_label("Nombre de usuario").fill("oficial.nuevo")
    page.get_by_label("Nombres").fill("Nora")
    page.get_by_label("Apellidos").fill("Vidal")
    page.get_by_label("Correo electrónico").fill("nora.vidal@pdi.cl")
    page.get_by_label("Rol").select_option(label="Oficial de casos")
    page.get_by_role("button", name="Crear la cuenta y enviar la invitación").click()
    audit.check(page, "ficha de un usuario invitado")

    audit.visit(page, "ficha de un usuario", reverse("institutions:user_detail", args=[member.pk]))
    audit.visit(page, "desactivar (confirmación)", reverse("institutions:user_deactivate", args=[member.pk]))
    audit.visit(page, "restablecer segundo factor", reverse("institutions:user_two_factor_reset", args=[member.pk]))

    audit.visit(page, "cambiar contraseña", reverse("institutions:password_change"))
    page.get_by_role("button", name="Cambiar la contraseña").click()
    audit.check(page, "cambiar contraseña (con errores)")

    # The invitation link, opened by the invited person (signed out).
    (invitation,) = mailoutbox
    link = re.search(r"https?://\S+/cuenta/activar/\S+/", invitation.body).group(0)
    invited = new_page()
    audit.visit(invited, "crear su contraseña (invitación)", link)
    invited.get_by_role("button", name="Guardar la contraseña").click()
    audit.check(invited, "crear su contraseña (con errores)")
    audit.visit(invited, "enlace de invitación no válido", reverse("institutions:account_activate", args=["MQ", "x-y"]))
    audit.visit(invited, "contraseña creada", reverse("institutions:account_activated"))

    audit.assert_clean(routes=ADMIN_ROUTES)


def case_with_everything(lead_officer):
    """A case led by the officer's institution with a victim (with consent), an offender, a share
    and a pending access request; plus a case of another institution holding a document the
    officer may look up. Built with the services: the screens, not the set-up, are under test."""
    other = InstitutionFactory(short_name="FISCALIA", name="Fiscalía Nacional")
    other_officer = UserFactory(username="oficial.fiscalia", institution=other)
    case = case_create(
        actor=lead_officer,
        lead_institution=lead_officer.institution,
        data={
            "ruc": "2300123456-7",
            "intake_date": datetime.date(2023, 3, 1),
            "purpose": "explotacion_sexual",
            "region_detected": "CL-TA",
            "fiscalia_regional": "FR-TA",
        },
    )
    victim = victim_register(
        actor=lead_officer,
        institution=lead_officer.institution,
        given_names="Matilde",
        surnames="Ccori",
        document_type="run",
        document_number=valid_run(16_482_337),
        birth_date=datetime.date(1994, 4, 2),
        sex=Sex.FEMALE,
        nationality="BO",
    )
    victim_link_to_case(actor=lead_officer, victim=victim, case=case)
    offender = offender_register(actor=lead_officer, given_names="Ruperto", surnames="Lagos", sex=Sex.MALE)
    offender_link_to_case(actor=lead_officer, offender=offender, case=case)
    consent_record(
        actor=lead_officer, victim_id=victim.pk, given_on=datetime.date(2024, 1, 10), scope="Con la Fiscalía"
    )
    case_share(actor=lead_officer, case_id=case.pk, institution=other, reason="Coordinación de la investigación")
    # The other institution's own case, with a person the lead officer may ask about.
    elsewhere = case_create(
        actor=other_officer,
        lead_institution=other,
        data={"intake_date": datetime.date(2022, 5, 4), "purpose": "trabajo_forzoso"},
    )
    held_elsewhere = victim_register(
        actor=other_officer,
        institution=other,
        given_names="Rosa",
        surnames="Mamani",
        document_type="run",
        document_number=valid_run(17_111_222),
        sex=Sex.FEMALE,
    )
    victim_link_to_case(actor=other_officer, victim=held_elsewhere, case=elsewhere)
    # ... and a request from a third institution waiting for the lead's decision.
    access_request_create(
        actor=UserFactory(username="oficial.ong", institution=InstitutionFactory(short_name="ONG")),
        document_type="run",
        document_number=valid_run(16_482_337),
        reason="La atendemos en nuestro programa",
    )
    return case, victim, offender, held_elsewhere, other_officer


def test_case_officer_screens_are_accessible_and_keep_the_csp(new_page, audit):
    lead = InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")
    officer = UserFactory(username="oficial.pdi", institution=lead, first_name="Paula", last_name="Díaz")
    case, victim, offender, held_elsewhere, partner = case_with_everything(officer)
    page = new_page()
    sign_in(page, officer)
    audit.check(page, "inicio")

    audit.visit(page, "causas", reverse("cases:list"))
    audit.visit(page, "causas (búsqueda sin resultados)", reverse("cases:list") + "?q=9999999999-9")
    audit.visit(page, "registrar causa", reverse("cases:create"))
    submit(page)
    audit.check(page, "registrar causa (con errores)")

    for name, route in [
        ("ficha: resumen", "cases:detail"),
        ("ficha: víctimas", "cases:victims"),
        ("ficha: imputados", "cases:offenders"),
        ("ficha: historial", "cases:history"),
        ("registrar imputado", "cases:offender_create"),
        ("ficha: compartir", "cases:share"),
    ]:
        audit.visit(page, name, reverse(route, args=[case.pk]))
    page.get_by_role("button", name="Compartir", exact=True).click()
    audit.check(page, "ficha: compartir (con errores)")

    audit.visit(page, "editar causa", reverse("cases:edit", args=[case.pk]))
    # Someone else saves first: the officer's save is refused with both versions side by side.
    case_update(actor=officer, case_id=case.pk, expected_version=case.version, data={"status": "suspendida"})
    page.get_by_role("button", name="Guardar cambios").click()
    assert page.get_by_role("heading", name="Sus cambios no se guardaron").is_visible()
    audit.check(page, "editar causa (conflicto: otra persona la modificó)")
    audit.visit(page, "registrar víctima", reverse("victims:create", args=[case.pk]))
    document_type = page.get_by_label(re.compile(r"^Tipo de documento"))
    document_number = page.get_by_label(re.compile(r"^Número de documento"))
    document_type.select_option(label="RUN")
    document_number.fill("12.345.678-0")  # wrong check digit
    submit(page)
    audit.check(page, "registrar víctima (con errores)")
    assert document_number.get_attribute("aria-invalid") == "true"
    # The duplicate warning, swapped in by htmx as soon as the document is typed (not saved yet).
    document_number.fill(held_elsewhere.document_number)
    document_number.press("Tab")
    page.get_by_text("Posible persona ya registrada").wait_for()
    audit.check(page, "registrar víctima (aviso de posible duplicado)")
    submit(page)
    assert page.get_by_role("heading", name=re.compile("No se registró todavía")).is_visible()
    audit.check(page, "registrar víctima (posible duplicado: no se registró)")
    audit.visit(page, "editar víctima", reverse("victims:edit", args=[case.pk, victim.pk]))
    audit.visit(page, "editar imputado", reverse("cases:offender_edit", args=[case.pk, offender.pk]))

    audit.visit(page, "víctima", reverse("victims:detail", args=[victim.pk]))
    page.get_by_role("button", name="Mostrar identidad").first.click()
    audit.check(page, "identidad de la víctima")
    audit.visit(page, "ficha: víctimas", reverse("cases:victims", args=[case.pk]))
    page.get_by_role("button", name="Mostrar la identidad de todas las víctimas").click()
    page.get_by_text("Esta consulta quedó registrada").wait_for()
    audit.check(page, "ficha: víctimas con su identidad")
    audit.visit(page, "ficha: imputados", reverse("cases:offenders", args=[case.pk]))
    page.get_by_role("button", name="Mostrar identidad").first.click()
    audit.check(page, "identidad del imputado")

    audit.visit(page, "solicitudes de acceso", reverse("cases:access_requests"))
    audit.visit(page, "buscar persona registrada", reverse("victims:duplicate_check"))
    page.get_by_label(re.compile(r"^Número")).fill(held_elsewhere.document_number)
    submit(page)
    audit.check(page, "buscar persona registrada (resultado)")
    page.get_by_label("Motivo").fill("Es víctima en una causa nuestra")
    page.get_by_role("button", name="Solicitar acceso").click()
    audit.check(page, "solicitud de acceso enviada")

    # A person the institution registered with no case (Protocolo de Atención): shared from its page.
    caseless = victim_register(
        actor=officer, institution=lead, given_names="Inés", surnames="Sin Causa", sex=Sex.FEMALE
    )
    audit.visit(page, "víctima sin causa", reverse("victims:detail", args=[caseless.pk]))
    audit.visit(page, "compartir víctima sin causa", reverse("victims:share", args=[caseless.pk]))
    submit(page)
    audit.check(page, "compartir víctima sin causa (con errores)")

    # The case as the institution it is shared with (at *ver*) sees it: pseudonyms only.
    page = new_page()
    sign_in(page, partner)
    for name, route in [
        ("ficha compartida: resumen", "cases:detail"),
        ("ficha compartida: víctimas", "cases:victims"),
        ("ficha compartida: imputados", "cases:offenders"),
        ("ficha compartida: historial", "cases:history"),
    ]:
        audit.visit(page, name, reverse(route, args=[case.pk]))
    audit.visit(page, "víctima (sin acceso a la identidad)", reverse("victims:detail", args=[victim.pk]))
    audit.visit(page, "causa de otra institución (404)", reverse("cases:detail", args=[case.pk + 1000]), status=404)

    audit.assert_clean(routes=OFFICER_ROUTES)


def submit(page) -> None:
    """Sends the page's main form as it is (empty, for the error states)."""
    page.locator("main form[method=post] button[type=submit]").last.click()
    page.wait_for_load_state()
