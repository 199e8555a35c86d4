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

from functools import partial

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from kernel.client_ip import client_ip
from kernel.web import confidential, htmx_full_page_when_refused, refused_input, refused_page
from stats.access import can_read_statistics, can_request_recalculation
from stats.charts import chart, data_rows, has_total_column
from stats.disclosure import mode_label
from stats.exports import audit_export, snapshot_table_csv, snapshot_xlsx
from stats.models import RequestStatus, StatisticsRequest, StatisticsSnapshot
from stats.publication import PublicationSettings
from stats.registers import REGISTER_LABELS, Register
from stats.snapshots import MAX_YEAR, MIN_YEAR
from stats.tables import DEFINITION_VERSION
from stats.tasks import FIRST_YEAR, queue_statistics_request

NOT_ALLOWED = gettext_lazy(
    "Las estadísticas son para la Secretaría MITP y los usuarios con la capacidad de estadísticas de su institución."
)
NOT_SECRETARIAT = gettext_lazy("Solo la Secretaría MITP puede pedir que se recalculen las estadísticas.")
ONE_OPEN_REQUEST = "statistics_request_one_open_per_parameters"  # stats.models constraint
EXPORT_LABELS = {"registro": gettext_lazy("Registro"), "modo": gettext_lazy("Modo de publicación")}
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
        .order_by("-confirmed_at", "-computed_at")
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
        "publication_mode_label": _publication_label(),
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
    stats_request = _open_request(
        year_from=form.cleaned_data["desde"],
        year_to=form.cleaned_data["hasta"],
        registers=[form.cleaned_data["registro"]],
        requested_by=request.user,
    )
    return redirect("stats:request_status", statistics_request_id=stats_request.pk)


def _open_request(*, year_from: int, year_to: int, registers: list[str], requested_by) -> StatisticsRequest:
    """A new request, queued on commit; or the one already pending or running for the same
    parameters (a unique constraint: a double click, or fifty, is one computation)."""
    parameters = {"year_from": year_from, "year_to": year_to, "registers": registers}
    open_statuses = (RequestStatus.PENDING, RequestStatus.RUNNING)
    for attempt in range(2):  # the open one may finish between the insert and the read: once more
        try:
            with transaction.atomic():
                stats_request = StatisticsRequest.objects.create(**parameters, requested_by=requested_by)
                transaction.on_commit(partial(queue_statistics_request, stats_request.pk))
            return stats_request
        except IntegrityError as error:
            if ONE_OPEN_REQUEST not in str(error) or attempt:
                raise
            existing = StatisticsRequest.objects.filter(**parameters, status__in=open_statuses).first()
            if existing is not None:
                return existing
    raise AssertionError("unreachable")  # pragma: no cover


@require_GET
@htmx_full_page_when_refused
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


def _publication_label() -> str:
    config = PublicationSettings.configured()
    return mode_label(config.mode, threshold=config.threshold)


class ExportForm(forms.Form):
    """An export's parameters. ``modo`` is optional and, if given, must be the system's mode: a
    client asking for another one is told so rather than silently given a different treatment."""

    registro = forms.ChoiceField(
        label=EXPORT_LABELS["registro"],
        required=False,
        choices=Register.choices,
        error_messages={"invalid_choice": gettext_lazy("Elija un registro de la lista.")},
    )
    modo = forms.CharField(label=EXPORT_LABELS["modo"], required=False)

    def __init__(self, *args, snapshot: StatisticsSnapshot, table_wanted: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.snapshot, self.table_wanted = snapshot, table_wanted

    def clean_modo(self):
        mode = self.cleaned_data["modo"]
        configured = PublicationSettings.configured().mode
        if mode and mode != configured:
            raise ValidationError(
                _("Este sistema publica en un solo modo, «%(mode)s»: %(label)s.")
                % {"mode": configured, "label": _publication_label()}
            )
        return configured

    def clean_registro(self):
        register = self.cleaned_data["registro"]
        if not self.table_wanted:
            return register
        if not register and len(self.snapshot.registers) == 1:
            return self.snapshot.registers[0]
        if not register:
            raise ValidationError(_("Elija el registro de la tabla: la instantánea tiene varios."))
        if register not in self.snapshot.registers:
            raise ValidationError(_("La instantánea no tiene ese registro."))
        return register


def _export_parameters(request, snapshot: StatisticsSnapshot, *, table_wanted: bool) -> dict:
    form = ExportForm(request.GET, snapshot=snapshot, table_wanted=table_wanted)
    if not form.is_valid():
        raise ValidationError(form.errors.as_data())
    return form.cleaned_data


def _attachment(content, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@login_required
@confidential
@refused_input(labels=EXPORT_LABELS)
def table_csv_view(request, snapshot_id: int, table_key: str):
    if refused := _require_reader(request):
        return refused
    snapshot = get_object_or_404(StatisticsSnapshot, pk=snapshot_id)
    parameters = _export_parameters(request, snapshot, table_wanted=True)
    register, mode = parameters["registro"], parameters["modo"]
    try:
        content = snapshot_table_csv(snapshot, table_key=table_key, register=register)
    except KeyError:
        raise Http404(_("La instantánea no tiene esa tabla.")) from None
    audit_export(
        request.user, snapshot, table_key=table_key, register=register, mode=mode, ip_address=client_ip(request)
    )
    name = "-".join(("estadisticas", str(snapshot.pk), register, table_key, mode))
    return _attachment(content, content_type="text/csv; charset=utf-8", filename=f"{name}.csv")


@require_GET
@login_required
@confidential
@refused_input(labels=EXPORT_LABELS)
def snapshot_xlsx_view(request, snapshot_id: int):
    if refused := _require_reader(request):
        return refused
    snapshot = get_object_or_404(StatisticsSnapshot, pk=snapshot_id)
    mode = _export_parameters(request, snapshot, table_wanted=False)["modo"]
    content = snapshot_xlsx(snapshot)
    audit_export(request.user, snapshot, table_key=None, register=None, mode=mode, ip_address=client_ip(request))
    return _attachment(content, content_type=XLSX, filename=f"estadisticas-{snapshot.pk}-{mode}.xlsx")
