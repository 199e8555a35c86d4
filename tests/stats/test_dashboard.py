"""The statistics dashboard (issue 7): who sees it, its filters, a snapshot shown as charts with
their data tables, the secretariat's recalculation through the Celery task, and the exports in
publication mode."""

from __future__ import annotations

import csv
import datetime
import io
from unittest import mock

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from institutions.constants import Role
from kernel.constants import AccessAction
from kernel.models import AccessEvent
from stats.models import RequestStatus, SnapshotKind, StatisticsRequest, StatisticsSnapshot
from stats.snapshots import snapshot_compute
from stats.tasks import run_statistics_request
from tests.factories import CaseFactory, UserFactory, VictimFactory
from victims.models import CaseVictim

pytestmark = pytest.mark.django_db

DASHBOARD = "stats:dashboard"
MODE_WORDS = {"supresion": "Supresión de celdas", "ctdc": "Redondeo hacia abajo"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

SUBJECTS = {
    # name: (user attributes or None for anonymous, reads statistics, may recalculate)
    "secretaría MITP": ({"is_mitp_secretariat": True}, True, True),
    "secretaría MITP lectora": ({"is_mitp_secretariat": True, "role": Role.READER}, True, True),
    "oficial con capacidad de estadísticas": ({"has_statistics_access": True}, True, False),
    "lector con capacidad de estadísticas": ({"has_statistics_access": True, "role": Role.READER}, True, False),
    "oficial sin capacidad": ({}, False, False),
    "lector sin capacidad": ({"role": Role.READER}, False, False),
    "administrador institucional": ({"role": Role.INSTITUTION_ADMIN}, False, False),
    "staff": ({"institution": None, "role": "", "is_staff": True}, False, False),
    "superusuario": ({"institution": None, "role": "", "is_staff": True, "is_superuser": True}, False, False),
}


def user_for(attributes: dict):
    return UserFactory(**attributes)


def data_world():
    """Two identified cases in 2023 (one formalised) and one in 2022, a victim each."""
    for year, formalised in ((2022, False), (2023, True), (2023, False)):
        case = CaseFactory(
            intake_date=datetime.date(year, 3, 1),
            is_formalised=formalised,
            investigation_start_date=datetime.date(year, 2, 1) if formalised else None,
            formalised_date=datetime.date(year, 4, 1) if formalised else None,
        )
        CaseVictim.objects.create(case=case, victim=VictimFactory(nationality="BO" if year == 2023 else "PE"))


@pytest.fixture
def secretariat():
    return UserFactory(username="secretaria.mitp", is_mitp_secretariat=True)


@pytest.fixture
def analyst():
    return UserFactory(username="analista", has_statistics_access=True)


@pytest.fixture
def snapshot():
    data_world()
    snapshot, _created = snapshot_compute(year_from=2022, year_to=2023, registers=["identificadas", "protocolo"])
    return snapshot


# --- who sees it -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SUBJECTS))
def test_the_dashboard_is_for_the_secretariat_and_statistics_users_only(client, name):
    attributes, reads, recalculates = SUBJECTS[name]
    client.force_login(user_for(attributes))
    response = client.get(reverse(DASHBOARD))
    if reads:
        assert response.status_code == 200
        assert response["Cache-Control"].startswith("no-store")
        assert ('action="/estadisticas/recalcular/"' in response.content.decode()) == recalculates
    else:
        assert response.status_code == 403
        assert "Las estadísticas son para la Secretaría MITP" in response.content.decode()


def test_anonymous_users_are_sent_to_sign_in(client):
    for url in (
        reverse(DASHBOARD),
        reverse("stats:request_status", args=[1]),
        reverse("stats:snapshot_xlsx", args=[1]),
    ):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize("name", list(SUBJECTS))
def test_the_nav_link_shows_exactly_for_statistics_users(client, name):
    attributes, reads, _recalculates = SUBJECTS[name]
    client.force_login(user_for(attributes))
    page = client.get(reverse("home")).content.decode()
    assert (f'href="{reverse(DASHBOARD)}"' in page) == reads


# --- filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"registro": "nada"}, "registro", "Elija un registro de la lista."),
        ({"desde": "dos mil"}, "desde", "Indique un año entre 1990 y 2100."),
        ({"hasta": "1800"}, "hasta", "Indique un año entre 1990 y 2100."),
        ({"desde": "2020", "hasta": "2019"}, "hasta", "El año final no puede ser anterior al inicial."),
        ({"desde": ""}, "desde", "Indique el año."),
    ],
)
def test_bad_filters_are_refused_field_by_field(client, analyst, query, field, message):
    client.force_login(analyst)
    response = client.get(reverse(DASHBOARD), query)
    assert response.status_code == 400
    assert response.context["form"].errors == {field: [message]}
    page = response.content.decode()
    assert message in page and 'aria-invalid="true"' in page
    assert "Aún no hay estadísticas" not in page


def test_without_a_snapshot_the_page_says_so_and_offers_the_secretariat_to_compute(client, secretariat, analyst):
    query = {"registro": "formalizadas", "desde": "2015", "hasta": "2016"}
    client.force_login(analyst)
    page = client.get(reverse(DASHBOARD), query).content.decode()
    assert "Aún no hay estadísticas calculadas para estos filtros" in page
    assert "La Secretaría MITP puede calcularla." in page and "recalcular" not in page
    client.force_login(secretariat)
    page = client.get(reverse(DASHBOARD), query).content.decode()
    assert 'action="/estadisticas/recalcular/"' in page and ">Calcular</button>" in page
    assert 'name="desde" value="2015"' in page and 'name="registro" value="formalizadas"' in page


# --- a snapshot, shown ---------------------------------------------------------------------------


def test_the_latest_snapshot_for_the_filters_is_shown_with_a_chart_and_a_table_per_table(client, analyst, snapshot):
    client.force_login(analyst)
    response = client.get(reverse(DASHBOARD), {"registro": "identificadas", "desde": "2022", "hasta": "2023"})
    assert response.status_code == 200
    assert response.context["snapshot"] == snapshot
    panels = response.context["panels"]
    keys = [panel["table"]["key"] for panel in panels]
    assert keys == [table["key"] for table in snapshot.tables if table["register"] == "identificadas"]
    assert "protocolo_ingresos_por_anio" not in keys
    kinds = {panel["table"]["key"]: panel["chart"].kind for panel in panels}
    assert kinds["casos_por_anio"] == "years"
    assert kinds["casos_por_estado"] == kinds["terminos_por_grupo"] == "stacked"
    assert kinds["victimas_por_nacionalidad"] == kinds["victimas_por_sexo"] == "categories"
    page = response.content.decode()
    assert page.count('role="img"') == len(panels) and page.count("<table") == len(panels)
    assert "style=" not in page and "<script>" not in page
    assert snapshot.data_fingerprint in page and "Versión de las definiciones" in page
    # Exact counts in the data table: three cases, two of them in 2023.
    by_year = next(panel for panel in panels if panel["table"]["key"] == "casos_por_anio")
    assert [row["counts"] for row in by_year["rows"]] == [[1], [2]]
    assert f'href="{reverse("stats:snapshot_xlsx", args=[snapshot.pk])}"' in page
    assert "Redondeo hacia abajo a múltiplos de 10" in page, "the system's one publication mode is named"
    # Another range of years has no snapshot (exactly these parameters).
    other = client.get(reverse(DASHBOARD), {"registro": "identificadas", "desde": "2021", "hasta": "2023"})
    assert other.context["snapshot"] is None


def test_the_protocol_register_shows_its_own_tables(client, analyst, snapshot):
    client.force_login(analyst)
    response = client.get(reverse(DASHBOARD), {"registro": "protocolo", "desde": "2022", "hasta": "2023"})
    keys = [panel["table"]["key"] for panel in response.context["panels"]]
    assert keys and all(key.startswith("protocolo_") for key in keys)


def test_nationality_charts_show_the_top_ten_and_others():
    from stats.charts import category_totals

    rows = [{"label": f"País {n}", "key": f"P{n}", "counts": [20 - n, 20 - n]} for n in range(12)]
    rows.append({"label": "Sin información", "key": "sin_informacion", "counts": [3, 3]})
    table = {"key": "victimas_por_nacionalidad", "columns": ["2023", "Total"], "rows": rows}
    bars = category_totals(table)
    assert [label for label, _total in bars] == [*(f"País {n}" for n in range(10)), "Otras", "Sin información"]
    assert bars[10] == ("Otras", 10 + 9) and bars[-1] == ("Sin información", 3)


# --- recalculation -----------------------------------------------------------------------------


def test_the_secretariat_recalculates_and_follows_the_request_until_ready(
    client, secretariat, django_capture_on_commit_callbacks
):
    data_world()
    client.force_login(secretariat)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("stats:recalculate"), {"registro": "identificadas", "desde": "2022", "hasta": "2023"}
        )
    stats_request = StatisticsRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("stats:request_status", args=[stats_request.pk])
    assert stats_request.status == RequestStatus.READY and stats_request.requested_by == secretariat
    snapshot = stats_request.snapshot
    assert snapshot.kind == SnapshotKind.REQUESTED and snapshot.requested_by == secretariat
    assert (snapshot.year_from, snapshot.year_to, snapshot.registers) == (2022, 2023, ["identificadas"])
    assert stats_request.started_at <= stats_request.finished_at and stats_request.error == ""
    page = client.get(response["Location"]).content.decode()
    assert "Lista" in page and "hx-trigger" not in page
    assert "?registro=identificadas&amp;desde=2022&amp;hasta=2023" in page
    shown = client.get(reverse(DASHBOARD), {"registro": "identificadas", "desde": "2022", "hasta": "2023"})
    assert shown.context["snapshot"] == snapshot


def test_a_pending_request_polls_its_progress_with_htmx(client, secretariat, analyst):
    stats_request = StatisticsRequest.objects.create(
        year_from=2022, year_to=2023, registers=["formalizadas"], requested_by=secretariat
    )
    url = reverse("stats:request_status", args=[stats_request.pk])
    client.force_login(analyst)  # any statistics reader may follow a request: it holds no data
    page = client.get(url).content.decode()
    assert f'hx-get="{url}"' in page and 'hx-trigger="every 2s"' in page and "Pendiente" in page
    fragment = client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and 'id="progreso"' in fragment
    assert client.get(reverse("stats:request_status", args=[stats_request.pk + 1000])).status_code == 404


def test_a_failed_computation_marks_the_request_failed_without_data(secretariat, caplog):
    stats_request = StatisticsRequest.objects.create(
        year_from=2022, year_to=2023, registers=["identificadas"], requested_by=secretariat
    )
    with mock.patch("stats.tasks.snapshot_compute", side_effect=RuntimeError("Matilde Ccori")):
        assert run_statistics_request(stats_request.pk) is None
    stats_request.refresh_from_db()
    assert stats_request.status == RequestStatus.FAILED and stats_request.snapshot is None
    assert "Matilde" not in stats_request.error and stats_request.error
    assert "statistics request" in caplog.text
    # Done is done: running it again changes nothing.
    assert run_statistics_request(stats_request.pk) is None


@pytest.mark.parametrize("name", [name for name, (_a, _r, recalculates) in SUBJECTS.items() if not recalculates])
def test_only_the_secretariat_may_recalculate(client, name, django_capture_on_commit_callbacks):
    attributes, _reads, _recalculates = SUBJECTS[name]
    client.force_login(user_for(attributes))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("stats:recalculate"), {"registro": "identificadas", "desde": "2022", "hasta": "2023"}
        )
    assert response.status_code == 403
    assert not StatisticsRequest.objects.exists() and not StatisticsSnapshot.objects.exists()


def test_a_recalculation_with_bad_parameters_is_refused_and_creates_nothing(client, secretariat):
    client.force_login(secretariat)
    response = client.post(
        reverse("stats:recalculate"), {"registro": "identificadas", "desde": "2024", "hasta": "2023"}
    )
    assert response.status_code == 400
    assert "El año final no puede ser anterior al inicial." in response.content.decode()
    assert not StatisticsRequest.objects.exists()


# --- exports -----------------------------------------------------------------------------------


def test_a_table_exports_as_csv_in_the_systems_publication_mode_and_is_audited(client, analyst, snapshot):
    client.force_login(analyst)
    url = reverse("stats:table_csv", args=[snapshot.pk, "victimas_por_nacionalidad"])
    for query in ({"registro": "identificadas"}, {"registro": "identificadas", "modo": "ctdc"}):
        response = client.get(url, query)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert response["Content-Disposition"].startswith("attachment;")
        assert "-identificadas-victimas_por_nacionalidad-ctdc.csv" in response["Content-Disposition"]
        lines = list(csv.reader(io.StringIO(response.content.decode())))
        assert lines[0] == ["Víctimas por nacionalidad", "Causas identificadas"]
        mode_line = next(line for line in lines if line and line[0] == "Modo de publicación")
        assert mode_line[1].startswith(MODE_WORDS["ctdc"])
        assert [snapshot.data_fingerprint] == [line[1] for line in lines if line and line[0] == "Huella de los datos"]
    events = AccessEvent.objects.filter(action=AccessAction.EXPORT, actor_id=analyst.pk)
    assert events.count() == 2
    assert {event.details["tabla"] for event in events} == {"victimas_por_nacionalidad"}


def test_the_snapshot_exports_as_xlsx_and_is_audited(client, analyst, snapshot):
    client.force_login(analyst)
    response = client.get(reverse("stats:snapshot_xlsx", args=[snapshot.pk]))
    assert response.status_code == 200 and response["Content-Type"] == XLSX
    assert response["Content-Disposition"] == f'attachment; filename="estadisticas-{snapshot.pk}-ctdc.xlsx"'
    workbook = load_workbook(io.BytesIO(response.content))
    about = {row[0]: row[1] for row in workbook["Parámetros"].iter_rows(values_only=True)}
    assert about["Huella de los datos"] == snapshot.data_fingerprint
    assert about["Modo de publicación"].startswith(MODE_WORDS["ctdc"]), "CTDC rounding unless configured"
    event = AccessEvent.objects.get(action=AccessAction.EXPORT)
    assert event.details == {"estadisticas": snapshot.pk, "modo": "ctdc", "huella": snapshot.data_fingerprint}


@override_settings(STATISTICS_PUBLICATION={"mode": "supresion", "threshold": 5})
def test_a_system_configured_for_suppression_exports_with_suppression_only(client, analyst, snapshot):
    client.force_login(analyst)
    response = client.get(reverse("stats:snapshot_xlsx", args=[snapshot.pk]))
    assert response["Content-Disposition"] == f'attachment; filename="estadisticas-{snapshot.pk}-supresion.xlsx"'
    about = {
        row[0]: row[1] for row in load_workbook(io.BytesIO(response.content))["Parámetros"].iter_rows(values_only=True)
    }
    assert about["Modo de publicación"].startswith(MODE_WORDS["supresion"])
    refused = client.get(reverse("stats:snapshot_xlsx", args=[snapshot.pk]), {"modo": "ctdc"})
    assert refused.status_code == 400 and "un solo modo, «supresion»" in refused.content.decode()


def test_exports_refuse_other_modes_and_unknown_registers_field_by_field(client, analyst, snapshot):
    client.force_login(analyst)
    csv_url = reverse("stats:table_csv", args=[snapshot.pk, "casos_por_anio"])
    xlsx_url = reverse("stats:snapshot_xlsx", args=[snapshot.pk])
    for url in (csv_url, xlsx_url):
        response = client.get(url, {"modo": "supresion"})
        page = response.content.decode()
        assert response.status_code == 400 and "Modo de publicación" in page and "un solo modo" in page
    response = client.get(csv_url)  # the snapshot has several registers: which one?
    assert response.status_code == 400 and "Elija el registro de la tabla" in response.content.decode()
    response = client.get(csv_url, {"registro": "otro"})
    assert response.status_code == 400 and "Registro" in response.content.decode()
    response = client.get(csv_url, {"registro": "formalizadas"})  # a register the snapshot does not have
    assert response.status_code == 400 and "no tiene ese registro" in response.content.decode()
    assert not AccessEvent.objects.filter(action=AccessAction.EXPORT).exists(), "a refused export left nothing"


def test_exports_answer_404_for_unknown_tables_and_snapshots(client, analyst, snapshot):
    client.force_login(analyst)
    table = reverse("stats:table_csv", args=[snapshot.pk, "no_existe"])
    assert client.get(table, {"registro": "identificadas"}).status_code == 404
    assert client.get(reverse("stats:table_csv", args=[snapshot.pk + 1000, "casos_por_anio"])).status_code == 404
    assert client.get(reverse("stats:snapshot_xlsx", args=[snapshot.pk + 1000])).status_code == 404


@pytest.mark.parametrize("name", [name for name, (_a, reads, _r) in SUBJECTS.items() if not reads])
def test_exports_need_the_statistics_capability(client, snapshot, name):
    attributes, _reads, _recalculates = SUBJECTS[name]
    client.force_login(user_for(attributes))
    assert client.get(reverse("stats:snapshot_xlsx", args=[snapshot.pk])).status_code == 403
    assert client.get(reverse("stats:table_csv", args=[snapshot.pk, "casos_por_anio"])).status_code == 403


QUERY = {"registro": "identificadas", "desde": "2022", "hasta": "2023"}


def test_asking_again_for_what_is_being_computed_joins_the_open_request(
    client, secretariat, django_capture_on_commit_callbacks
):
    client.force_login(secretariat)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        responses = [client.post(reverse("stats:recalculate"), QUERY) for _ in range(5)]
    stats_request = StatisticsRequest.objects.get()
    assert {response["Location"] for response in responses} == {
        reverse("stats:request_status", args=[stats_request.pk])
    }
    assert len(queued) == 1, "one computation queued, not five"
    # Once it is done, a new request may be made.
    StatisticsRequest.objects.filter(pk=stats_request.pk).update(status=RequestStatus.READY)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        client.post(reverse("stats:recalculate"), QUERY)
    assert StatisticsRequest.objects.count() == 2 and len(queued) == 1


def test_a_broker_that_refuses_the_message_fails_the_request_instead_of_leaving_it_pending(
    client, secretariat, django_capture_on_commit_callbacks
):
    from kombu.exceptions import OperationalError as BrokerDown

    client.force_login(secretariat)
    with (
        mock.patch("stats.tasks.run_statistics_request.delay", side_effect=BrokerDown("connection refused")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        response = client.post(reverse("stats:recalculate"), QUERY)
    assert response.status_code == 302
    stats_request = StatisticsRequest.objects.get()
    assert stats_request.status == RequestStatus.FAILED and "encolar" in stats_request.error
    page = client.get(response["Location"]).content.decode()
    assert "hx-trigger" not in page and "Fallida" in page


def test_the_sweep_queues_lost_requests_again_and_fails_abandoned_ones(secretariat):
    from stats.tasks import STALE_PENDING, STALE_RUNNING, sweep_requests

    now = timezone.now()
    lost = StatisticsRequest.objects.create(year_from=2022, year_to=2023, registers=["identificadas"])
    recent = StatisticsRequest.objects.create(year_from=2021, year_to=2023, registers=["identificadas"])
    abandoned = StatisticsRequest.objects.create(
        year_from=2020, year_to=2023, registers=["identificadas"], status=RequestStatus.RUNNING
    )
    StatisticsRequest.objects.filter(pk=lost.pk).update(created_at=now - STALE_PENDING - datetime.timedelta(minutes=1))
    StatisticsRequest.objects.filter(pk=abandoned.pk).update(
        started_at=now - STALE_RUNNING - datetime.timedelta(minutes=1)
    )
    with mock.patch("stats.tasks.run_statistics_request.delay") as queued:
        assert sweep_requests() == {"requeued": 1, "abandoned": 1}
    queued.assert_called_once_with(lost.pk)
    abandoned.refresh_from_db()
    recent.refresh_from_db()
    assert abandoned.status == RequestStatus.FAILED and abandoned.error and abandoned.finished_at
    assert recent.status == RequestStatus.PENDING


def test_a_polled_fragment_sends_the_browser_to_the_whole_page_when_the_session_ended_or_access_is_gone(
    client, secretariat
):
    """htmx swaps no 4xx: a withdrawn capability would poll refusals for ever; a session that
    ended would swap the login form into the fragment (institutions.middleware answers that)."""
    stats_request = StatisticsRequest.objects.create(year_from=2022, year_to=2023, registers=["identificadas"])
    url = reverse("stats:request_status", args=[stats_request.pk])
    polled = client.get(url, HTTP_HX_REQUEST="true")  # signed out
    assert polled.status_code == 204 and polled["HX-Redirect"].startswith(reverse("login"))
    client.force_login(secretariat)
    assert 'id="progreso"' in client.get(url, HTTP_HX_REQUEST="true").content.decode()
    secretariat.is_mitp_secretariat = False  # the capability was withdrawn meanwhile
    secretariat.save()
    refused = client.get(url, HTTP_HX_REQUEST="true")
    assert refused.status_code == 200 and refused["HX-Redirect"] == url and refused.content == b""
    assert client.get(url).status_code == 403, "the whole page says why"


def test_a_duplicate_message_does_not_rerun_a_live_request_and_a_swept_request_stays_failed(secretariat):
    """Review 8: a requeued message reran a request already running; a run the sweep had failed
    came back «lista» when it ended."""
    from stats.tasks import STALE_RUNNING, sweep_requests

    stats_request = StatisticsRequest.objects.create(year_from=2022, year_to=2023, registers=["identificadas"])
    StatisticsRequest.objects.filter(pk=stats_request.pk).update(
        status=RequestStatus.RUNNING, started_at=timezone.now()
    )
    with mock.patch("stats.tasks.snapshot_compute") as computed:
        assert run_statistics_request(stats_request.pk) is None
    computed.assert_not_called()

    def swept_while_running(**kwargs):
        StatisticsRequest.objects.filter(pk=stats_request.pk).update(
            started_at=timezone.now() - STALE_RUNNING - datetime.timedelta(minutes=1)
        )
        sweep_requests()  # fails it: the requester is told to ask again
        return snapshot_compute(**kwargs)

    StatisticsRequest.objects.filter(pk=stats_request.pk).update(status=RequestStatus.PENDING, started_at=None)
    with mock.patch("stats.tasks.snapshot_compute", side_effect=swept_while_running):
        run_statistics_request(stats_request.pk)
    stats_request.refresh_from_db()
    assert stats_request.status == RequestStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_another_integrity_error_is_raised_not_retried_for_ever():
    """Review 8: any IntegrityError made _open_request call itself until RecursionError."""
    from django.db import IntegrityError

    from institutions.models import User
    from stats.views import _open_request

    with pytest.raises(IntegrityError):
        _open_request(year_from=2022, year_to=2023, registers=["identificadas"], requested_by=User(pk=987654321))
