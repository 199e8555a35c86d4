"""The statistics dashboard in the browser (issue 7): the Secretaría MITP finds no snapshot for
the default filters, asks for the calculation (the Celery task runs at once in tests), follows
the request to «Lista» and reads the charts with their data tables; bad filters are refused
field by field; a pending request's page polls its progress with htmx. Every screen is checked
for accessibility (axe-core) and the Content-Security-Policy, as in test_screens.py."""

from __future__ import annotations

import datetime

from django.urls import reverse

from stats.models import RequestStatus, StatisticsRequest
from tests.e2e.helpers import ScreenAudit, sign_in
from tests.factories import CaseFactory, InstitutionFactory, UserFactory, VictimFactory
from victims.models import CaseVictim

# The statistics screens this walk checks (test_screens.py counts them as walked).
STATS_ROUTES = {"stats:dashboard", "stats:request_status"}


def test_the_secretariat_computes_and_reads_the_statistics(new_page, axe_source, browser_problems):
    audit = ScreenAudit(axe_source, browser_problems)
    mitp = InstitutionFactory(short_name="SUBINT", name="Subsecretaría del Interior")
    secretariat = UserFactory(username="secretaria.mitp", institution=mitp, is_mitp_secretariat=True)
    for year, nationality in ((2019, "PE"), (2022, "BO"), (2023, "BO")):
        case = CaseFactory(intake_date=datetime.date(year, 3, 1))
        CaseVictim.objects.create(case=case, victim=VictimFactory(nationality=nationality))

    page = new_page()
    sign_in(page, secretariat)
    page.get_by_role("navigation", name="Principal").get_by_role("link", name="Estadísticas").click()
    page.wait_for_load_state()
    audit.check(page, "estadísticas (sin instantánea)")
    assert page.get_by_role("heading", name="Aún no hay estadísticas calculadas para estos filtros").is_visible()

    page.get_by_role("button", name="Calcular", exact=True).click()
    page.wait_for_load_state()
    stats_request = StatisticsRequest.objects.get()
    assert stats_request.status == RequestStatus.READY
    audit.check(page, "cálculo de estadísticas (lista)")
    page.get_by_role("link", name="Ver las estadísticas calculadas").click()
    page.wait_for_load_state()
    audit.check(page, "estadísticas con gráficos y tablas")
    assert page.get_by_role("img", name="Causas por año", exact=False).first.is_visible()
    assert page.get_by_role("table", name="Causas por año", exact=False).first.is_visible()

    audit.visit(
        page, "estadísticas (filtros con errores)", reverse("stats:dashboard") + "?desde=dos&hasta=1800", status=400
    )
    assert page.get_by_text("Indique un año entre 1990 y 2100.").first.is_visible()

    pending = StatisticsRequest.objects.create(
        year_from=2020, year_to=2023, registers=["formalizadas"], requested_by=secretariat
    )
    audit.visit(page, "cálculo de estadísticas (pendiente)", reverse("stats:request_status", args=[pending.pk]))
    with page.expect_response(lambda response: "/estadisticas/solicitudes/" in response.url):
        pass  # htmx polls the progress fragment every 2 s
    audit.check(page, "cálculo de estadísticas (tras consultar el progreso)")
    assert page.get_by_text("Pendiente").is_visible()

    audit.assert_clean(routes=STATS_ROUTES)
