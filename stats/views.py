"""The MITP statistics dashboard (issue 7): the latest snapshot for a register and a year range,
each table as a chart with its data table beside it; the secretariat's recalculation (a Celery
task, whose progress page polls with htmx); and the exports in publication mode.

Who: ``stats.access.can_read_statistics`` (the Secretaría MITP and users given the statistics
capability) for every page, ``can_request_recalculation`` (the secretariat) to recalculate;
anyone else signed in gets 403 with the reason, anonymous users the login page. A recalculation
request holds parameters and progress, never a count, so any statistics reader may follow one
(a secretariat colleague's too). Exact counts are shown only here, in the authenticated
dashboard; exports are always in a publication mode (stats.exports).
"""

from __future__ import annotations

import copy

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from kernel.web import confidential, refused_input, refused_page
from stats.access import can_read_statistics, can_request_recalculation
from stats.charts import chart, data_rows, has_total_column
from stats.disclosure import MODE_SUPPRESSION
from stats.exports import MODES, snapshot_table_csv, snapshot_xlsx
from stats.models import RequestStatus, StatisticsRequest, StatisticsSnapshot
from stats.registers import REGISTER_LABELS, Register
from stats.snapshots import MAX_YEAR, MIN_YEAR
from stats.tables import DEFINITION_VERSION
from stats.tasks import FIRST_YEAR, run_statistics_request

NOT_ALLOWED = gettext_lazy(
    "Las estadísticas son para la Secretaría MITP y los usuarios con la capacidad de estadísticas de su institución."
)
NOT_SECRETARIAT = gettext_lazy("Solo la Secretaría MITP puede pedir que se recalculen las estadísticas.")
UNKNOWN_MODE = gettext_lazy("Modo de publicación desconocido: use «supresion» o «ctdc».")
FILTER_LABELS = {
    "registro": gettext_lazy("Registro"),
    "desde": gettext_lazy("Desde el año"),
    "hasta": gettext_lazy("Hasta el año"),
}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _year_field(label) -> forms.IntegerField:
    message = _("Indique un año entre %(min)s y %(max)s.") % {"min": MIN_YEAR, "max": MAX_YEAR}
    return forms.IntegerField(
        label=label,
        min_value=MIN_YEAR,
        max_value=MAX_YEAR,
        error_messages={
            "required": _("Indique el año."),
            "invalid": message,
            "min_value": message,
            "max_value": message,
        },
    )


class StatisticsFilterForm(forms.Form):
    registro = forms.ChoiceField(
        label=FILTER_LABELS["registro"],
        choices=Register.choices,
        error_messages={
            "required": gettext_lazy("Elija un registro."),
            "invalid_choice": gettext_lazy("Elija un registro de la lista."),
        },
    )
    desde = _year_field(FILTER_LABELS["desde"])
    hasta = _year_field(FILTER_LABELS["hasta"])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Built per form: the messages are in the request's language.
        self.fields["desde"] = _year_field(FILTER_LABELS["desde"])
        self.fields["hasta"] = _year_field(FILTER_LABELS["hasta"])

    def clean(self):
        data = super().clean()
        if "desde" in data and "hasta" in data and data["hasta"] < data["desde"]:
            self.add_error("hasta", _("El año final no puede ser anterior al inicial."))
        return data


def _defaults() -> dict[str, str]:
    """The series from the 2011 law to the last closed year (the annual closing snapshot)."""
    last = timezone.localdate().year - 1
    return {"registro": Register.IDENTIFIED.value, "desde": str(FIRST_YEAR), "hasta": str(last)}


def _require_reader(request):
    if not can_read_statistics(request.user):
        return refused_page(request, NOT_ALLOWED, status=403)
    return None


def latest_snapshot(*, register: str, year_from: int, year_to: int) -> StatisticsSnapshot | None:
    """The latest snapshot of exactly these years, under today's definitions, that has the register."""
    return (
        StatisticsSnapshot.objects.filter(
            year_from=year_from,
            year_to=year_to,
            registers__contains=[register],
            definition_version=str(DEFINITION_VERSION),
        )
        .order_by("-computed_at")
        .first()
    )


def _panels(snapshot: StatisticsSnapshot, register: str) -> list[dict]:
    panels = []
    for table in snapshot.tables:
        if table["register"] != register:
            continue
        panels.append(
            {
                "table": table,
                "chart": chart(table),
                "rows": data_rows(table),
                "with_total": has_total_column(table),
                "with_percentages": bool(table.get("percentages")),
            }
        )
    return panels


@require_GET
@login_required
@confidential
def dashboard_view(request):
    if refused := _require_reader(request):
        return refused
    form = StatisticsFilterForm({**_defaults(), **request.GET.dict()})
    context = {
        "form": form,
        "can_recalculate": can_request_recalculation(request.user),
        "snapshot": None,
        "panels": [],
        "modes": MODES,
    }
    if not form.is_valid():
        return render(request, "stats/dashboard.html", context, status=400)
    register, year_from, year_to = (form.cleaned_data[name] for name in ("registro", "desde", "hasta"))
    snapshot = latest_snapshot(register=register, year_from=year_from, year_to=year_to)
    context.update(
        {
            "register": register,
            "register_label": REGISTER_LABELS[register],
            "year_from": year_from,
            "year_to": year_to,
            "snapshot": snapshot,
            "panels": _panels(snapshot, register) if snapshot else [],
        }
    )
    return render(request, "stats/dashboard.html", context)


@require_POST
@login_required
@refused_input(labels=FILTER_LABELS)
def recalculate_view(request):
    if not can_request_recalculation(request.user):
        return refused_page(request, NOT_SECRETARIAT, status=403)
    form = StatisticsFilterForm(request.POST)
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    with transaction.atomic():
        stats_request = StatisticsRequest.objects.create(
            year_from=form.cleaned_data["desde"],
            year_to=form.cleaned_data["hasta"],
            registers=[form.cleaned_data["registro"]],
            requested_by=request.user,
        )
        transaction.on_commit(lambda: run_statistics_request.delay(stats_request.pk))
    return redirect("stats:request_status", statistics_request_id=stats_request.pk)


@require_GET
@login_required
@confidential
def request_status_view(request, statistics_request_id: int):
    if refused := _require_reader(request):
        return refused
    stats_request = get_object_or_404(StatisticsRequest, pk=statistics_request_id)
    register = stats_request.registers[0] if stats_request.registers else Register.IDENTIFIED.value
    context = {
        "stats_request": stats_request,
        "polling": stats_request.status in (RequestStatus.PENDING, RequestStatus.RUNNING),
        "register": register,
        "register_label": ", ".join(REGISTER_LABELS.get(name, name) for name in stats_request.registers),
    }
    template = "stats/_request_progress.html" if request.headers.get("HX-Request") else "stats/request_status.html"
    return render(request, template, context)


def _mode(request) -> str | None:
    mode = request.GET.get("modo", MODE_SUPPRESSION)
    return mode if mode in MODES else None


def _attachment(content, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@login_required
@confidential
def table_csv_view(request, snapshot_id: int, table_key: str):
    if refused := _require_reader(request):
        return refused
    snapshot = get_object_or_404(StatisticsSnapshot, pk=snapshot_id)
    if (mode := _mode(request)) is None:
        return refused_page(request, UNKNOWN_MODE, status=400)
    register = request.GET.get("registro")
    if register:
        # A snapshot of several registers has tables of the same key in each: the register's one.
        snapshot = copy.copy(snapshot)
        snapshot.tables = [table for table in snapshot.tables if table["register"] == register]
    try:
        content = snapshot_table_csv(snapshot, table_key=table_key, mode=mode)
    except KeyError:
        raise Http404(_("La instantánea no tiene esa tabla.")) from None
    name = "-".join(part for part in ("estadisticas", str(snapshot.pk), register, table_key, mode) if part)
    return _attachment(content, content_type="text/csv; charset=utf-8", filename=f"{name}.csv")


@require_GET
@login_required
@confidential
def snapshot_xlsx_view(request, snapshot_id: int):
    if refused := _require_reader(request):
        return refused
    snapshot = get_object_or_404(StatisticsSnapshot, pk=snapshot_id)
    if (mode := _mode(request)) is None:
        return refused_page(request, UNKNOWN_MODE, status=400)
    return _attachment(
        snapshot_xlsx(snapshot, mode=mode), content_type=XLSX, filename=f"estadisticas-{snapshot.pk}-{mode}.xlsx"
    )
