"""The Protocolo de Atención in the browser, end to end, through the real forms and two factors:

the PDI's officer asks for the protocol for a victim of its case (a third party asked), records
the evaluation and activates it, and refers the victim to a shelter; the shelter's officer finds
the referral first in its bandeja, reads the person's minimum data (audited), accepts, starts and
completes it, and then no longer sees the data; the PDI derives the victim to Sermig; Sermig's
officer receives, processes and grants the permit (a first try without the permit's data is
refused field by field), and reads the identity the permit needs. Every screen on the way is
checked for accessibility (axe-core) and the Content-Security-Policy, as in test_screens.py.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.utils import timezone

from cases.services import case_create
from institutions.constants import InstitutionKind
from kernel.choices import Sex
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from protocol.constants import ActivationState, ReferralState, ResidenceState
from protocol.models import ProtocolActivation, Referral, ResidenceApplication
from tests.e2e.helpers import ScreenAudit, sign_in
from tests.factories import InstitutionFactory, UserFactory, valid_run
from tests.protocol.referral_helpers import ensure_service_deadlines
from victims.services import victim_link_to_case, victim_register

# The protocol's screens this walk checks (test_screens.py counts them as walked).
PROTOCOL_ROUTES = {
    "protocol:victim_protocol",
    "protocol:activation_open",
    "protocol:activation_requester",
    "protocol:referral_create",
    "protocol:activations",
    "protocol:new_person",
    "protocol:referral_inbox",
    "protocol:referral_detail",
    "protocol:referral_person",
    "protocol:residence_queue",
    "protocol:residence_detail",
    "protocol:residence_transition",
    "protocol:residence_identity",
    "protocol:notifications",
}
NAME, SURNAME, PERMIT = "Matilde", "Ccori Huanca", "RTH-2026-00417"


def field(page, label: str):
    return page.get_by_label(re.compile(rf"^{re.escape(label)}( \(obligatorio\))?$"))


def nav(page, name: str) -> None:
    page.get_by_role("navigation", name="Principal").get_by_role("link", name=name).click()
    page.wait_for_load_state()


def click(page, button: str) -> None:
    page.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()


@pytest.fixture
def audit(axe_source, browser_problems) -> ScreenAudit:
    return ScreenAudit(axe_source, browser_problems)


def test_activate_refer_to_shelter_and_grant_humanitarian_residence(new_page, audit):
    ensure_service_deadlines()
    pdi = InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")
    shelter = InstitutionFactory(short_name="SernamEG", name="Casa de acogida SernamEG", kind=InstitutionKind.MINISTRY)
    sermig = InstitutionFactory(
        short_name="Sermig", name="Servicio Nacional de Migraciones", kind=InstitutionKind.MIGRATION
    )
    pdi_officer = UserFactory(username="oficial.pdi", institution=pdi, first_name="Paula", last_name="Díaz")
    shelter_officer = UserFactory(username="oficial.sernameg", institution=shelter, first_name="Sara")
    sermig_officer = UserFactory(username="oficial.sermig", institution=sermig, is_sermig_officer=True)
    case = case_create(
        actor=pdi_officer,
        lead_institution=pdi,
        data={"ruc": "2300777111-4", "intake_date": datetime.date(2023, 3, 1), "purpose": "explotacion_sexual"},
    )
    victim = victim_register(
        actor=pdi_officer,
        institution=pdi,
        given_names=NAME,
        surnames=SURNAME,
        document_type="run",
        document_number=valid_run(16_482_337),
        birth_date=datetime.date(1994, 4, 2),
        sex=Sex.FEMALE,
        nationality="BO",
    )
    victim_link_to_case(actor=pdi_officer, victim=victim, case=case)
    today = timezone.localdate().isoformat()

    # --- the PDI asks for the protocol, evaluates and activates it --------------------------------
    lead = new_page()
    sign_in(lead, pdi_officer)
    lead.goto(f"/victimas/{victim.pk}/")
    lead.get_by_role("link", name="Protocolo de Atención, derivaciones y residencia").click()
    audit.check(lead, "protocolo de la víctima (sin activación)")
    click(lead, "Registrar la solicitud")
    audit.check(lead, "solicitar el protocolo (con errores)")
    assert not ProtocolActivation.objects.exists()
    field(lead, "Solicitada por").select_option(label="Un tercero en nombre de la víctima")
    field(lead, "Fecha de la solicitud").fill(today)
    field(lead, "Nombre de quien solicita").fill("Rosa Huanca (tía)")
    field(lead, "Contacto de quien solicita").fill("+56 9 8765 4321")
    field(lead, "Fecha del consentimiento informado").fill(today)
    click(lead, "Registrar la solicitud")
    activation = ProtocolActivation.objects.get(victim=victim)
    assert activation.state == ActivationState.REQUESTED
    assert "Rosa Huanca" not in lead.locator("body").inner_text()
    click(lead, "Mostrar quién lo solicitó")
    assert lead.get_by_text("Rosa Huanca (tía)").is_visible()
    audit.check(lead, "quién solicitó el protocolo")
    lead.get_by_role("link", name="Volver al protocolo de la víctima").click()
    click(lead, "Iniciar la evaluación")
    click(lead, "Activar el protocolo")
    assert ProtocolActivation.objects.get(pk=activation.pk).state == ActivationState.ACTIVE
    audit.check(lead, "protocolo activo")

    # --- and refers the victim to a shelter ---------------------------------------------------------
    click(lead, "Enviar la derivación")
    audit.check(lead, "derivar (con errores)")
    assert not Referral.objects.exists()
    field(lead, "Servicio").select_option(label="Casa de acogida")
    field(lead, "Institución prestadora").select_option(label="Casa de acogida SernamEG")
    field(lead, "Observaciones para la institución prestadora").fill("Necesita cupo hoy mismo")
    click(lead, "Enviar la derivación")
    referral = Referral.objects.get(activation=activation)
    assert referral.response_due_at - referral.requested_at == datetime.timedelta(hours=24)
    assert lead.get_by_role("row").filter(has_text="Casa de acogida").get_by_text("Pendiente").is_visible()
    nav(lead, "Protocolo de Atención")
    audit.check(lead, "activaciones de la institución")
    lead.get_by_role("link", name="Registrar a una persona sin causa en el protocolo").click()
    audit.check(lead, "registrar persona sin causa")
    click(lead, "Registrar a la persona y la solicitud")
    audit.check(lead, "registrar persona sin causa (con errores)")

    # --- the shelter works it from its bandeja --------------------------------------------------------
    provider = new_page()
    sign_in(provider, shelter_officer)
    nav(provider, "Bandeja de derivaciones")
    audit.check(provider, "bandeja de derivaciones")
    assert NAME not in provider.locator("body").inner_text()
    assert case.ruc not in provider.locator("body").inner_text()
    provider.get_by_role("link", name="Casa de acogida").click()
    audit.check(provider, "derivación (prestadora)")
    click(provider, "Ver datos de la persona")
    assert provider.get_by_text(NAME).is_visible() and provider.get_by_text(SURNAME).is_visible()
    audit.check(provider, "datos de la persona derivada")
    assert AccessEvent.objects.filter(
        action=AccessAction.IDENTITY_READ, actor_id=shelter_officer.pk, details__referral=str(referral.pk)
    ).exists()
    provider.get_by_role("link", name="Volver a la derivación").click()
    for action in ("Aceptar la derivación", "Registrar la primera atención", "Completar la derivación"):
        click(provider, action)
    referral.refresh_from_db()
    assert referral.state == ReferralState.COMPLETED
    assert referral.accepted_at and referral.first_delivered_at and referral.closed_at
    # Closed, the referral leaves the provider's bandeja, and the person's data with it.
    assert provider.url.endswith("/derivaciones/") and provider.get_by_text("quedó «completada»").is_visible()
    assert provider.get_by_role("link", name="Casa de acogida").count() == 0
    assert provider.goto(f"/derivaciones/{referral.pk}/").status == 404
    provider.get_by_role("link", name=re.compile(r"^Notificaciones")).click()
    audit.check(provider, "notificaciones")

    # --- the PDI derives the victim to Sermig ----------------------------------------------------------
    lead.goto(f"/victimas/{victim.pk}/protocolo/")
    assert lead.get_by_role("row").filter(has_text="Casa de acogida").get_by_text("Completada").is_visible()
    lead.get_by_label("Observaciones para Sermig (sin hechos de la causa)").fill("Pasaporte retenido por el tratante")
    click(lead, "Derivar a Sermig para residencia humanitaria")
    application = ResidenceApplication.objects.get(victim=victim)
    assert application.state == ResidenceState.DERIVED

    # --- Sermig works its queue and grants the permit ---------------------------------------------------
    migration = new_page()
    sign_in(migration, sermig_officer)
    nav(migration, "Cola de residencia humanitaria")
    audit.check(migration, "cola de residencia humanitaria")
    migration.get_by_role("link", name=victim.code).click()
    audit.check(migration, "solicitud de residencia")
    body = migration.locator("body").inner_text()
    assert NAME not in body and case.ruc not in body and "cupo" not in body, "Sermig sees no case facts or referrals"
    click(migration, "Registrar la recepción")
    click(migration, "Iniciar el trámite")
    click(migration, "Otorgar el permiso")
    audit.check(migration, "otorgar el permiso (con errores)")
    assert ResidenceApplication.objects.get(pk=application.pk).state == ResidenceState.PROCESSING
    field(migration, "Número del permiso").fill(PERMIT)
    field(migration, "Vigente desde").fill(today)
    field(migration, "Vigente hasta").fill((timezone.localdate() + datetime.timedelta(days=365)).isoformat())
    click(migration, "Otorgar el permiso")
    application.refresh_from_db()
    assert application.state == ResidenceState.GRANTED and application.permit_number == PERMIT
    assert PERMIT not in migration.locator("body").inner_text()
    click(migration, "Ver la identidad para el permiso")
    assert migration.get_by_text(NAME).is_visible()
    audit.check(migration, "identidad para el permiso")

    # --- the PDI sees the permit granted (never its number) ---------------------------------------------
    lead.goto(f"/victimas/{victim.pk}/protocolo/")
    assert lead.get_by_role("row").filter(has_text="Sermig").get_by_text("Otorgada").is_visible() or (
        lead.get_by_text("Otorgada").first.is_visible()
    )
    assert PERMIT not in lead.locator("body").inner_text()
    audit.check(lead, "protocolo con residencia otorgada")
    nav(lead, "Residencia humanitaria")
    audit.check(lead, "residencia humanitaria (institución que deriva)")

    audit.assert_clean(routes=PROTOCOL_ROUTES)
