"""The case list's search, filters and sort (GET), and the search by document number (POST).

Parameter names are the Spanish words users see in the address bar (``?estado=vigente&anio=2023``).
A value that does not validate is reported on its field and left out of the query; the
other filters still apply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django import forms
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _

from cases.constants import CaseStatus, TraffickingPurpose
from kernel.choices import FiscaliaRegional, Region
from kernel.identity_documents import DocumentType, normalise_document

FIRST_YEAR = 2000  # RUC years start in 2000: the first two digits are the intake year
FORMALISED_CHOICES = [("", _("Todas")), ("si", _("Sí")), ("no", _("No"))]

# Sort keys (the ``orden`` parameter) and the columns they order by. A whitelist: anything else
# is a field error, never a column name passed to order_by.
SORT_COLUMNS = {
    "actualizacion": "updated_at",
    "ingreso": "intake_date",
    "ruc": "ruc",
    "estado": "status",
    "institucion": "lead_institution__short_name",
}
SORT_LABELS = {
    "actualizacion": _("Última modificación"),
    "ingreso": _("Fecha de ingreso"),
    "ruc": _("RUC"),
    "estado": _("Estado"),
    "institucion": _("Institución a cargo"),
}
DEFAULT_SORT = "-actualizacion"
SORT_CHOICES = [(f"{sign}{key}", label) for key, label in SORT_LABELS.items() for sign in ("", "-")]

_RUC_FULL = re.compile(r"^(\d{10})-?([0-9K])$")
_RUC_PREFIX = re.compile(r"^\d{1,10}-?$")
_CODE = re.compile(r"^([VI])-\d{4}-\d{6,}$")
_CASE_NUMBER_MAX = 2**31 - 1


@dataclass(frozen=True)
class CaseQuery:
    """What the search box asked for, already normalised. Any of the parts may match."""

    ruc: str = ""  # a complete RUC: exact match
    ruc_prefix: str = ""  # the start of a RUC: digits only
    case_number: int | None = None  # the number shown for a case without RUC ("Causa 123")
    victim_code: str = ""
    offender_code: str = ""


def parse_query(value: str) -> CaseQuery | None:
    """Read the search box: a RUC (whole or its start), a case number, or a victim's or
    offender's pseudonymous code. None if it is none of these."""
    compact = re.sub(r"[\s.]", "", value or "").upper()
    if match := _CODE.match(compact):
        return CaseQuery(victim_code=compact) if match.group(1) == "V" else CaseQuery(offender_code=compact)
    if match := _RUC_FULL.match(compact):
        return CaseQuery(ruc=f"{match.group(1)}-{match.group(2)}")
    if _RUC_PREFIX.match(compact):
        digits = compact.rstrip("-")
        number = int(digits)
        return CaseQuery(ruc_prefix=digits, case_number=number if 0 < number <= _CASE_NUMBER_MAX else None)
    return None


def _choices(blank_label, choices) -> list[tuple[str, str]]:
    return [("", blank_label), *choices]


class ListSelect(forms.Select):
    """A select rendered in Python. The list's filters offer about a hundred options, and
    Django's widget templates render each option through its own template include: that alone
    took most of the list page's server time (see bench/case_list.py). Same markup, same
    attributes (id, aria-invalid, aria-describedby come from the bound field)."""

    def render(self, name, value, attrs=None, renderer=None):
        selected = {str(item) for item in self.format_value(value)}
        options = format_html_join(
            "",
            '<option value="{}"{}>{}</option>',
            ((key, mark_safe(" selected") if str(key) in selected else "", label) for key, label in self.choices),
        )
        return format_html(
            '<select name="{}"{}>{}</select>', name, flatatt(self.build_attrs(self.attrs, attrs)), options
        )


class CaseFilterForm(forms.Form):
    """The list's GET form. ``institutions`` are the (id, short name) pairs offered as lead."""

    q = forms.CharField(
        label=_("Buscar"),
        required=False,
        max_length=40,
        help_text=_("RUC (completo o sus primeros dígitos), número de causa o código de víctima o imputado."),
        widget=forms.SearchInput,
    )
    estado = forms.ChoiceField(
        label=_("Estado"), required=False, choices=_choices(_("Todos"), CaseStatus.choices), widget=ListSelect
    )
    anio = forms.IntegerField(
        label=_("Año de ingreso"),
        required=False,
        error_messages={"invalid": _("Indique el año con cuatro dígitos, por ejemplo 2023.")},
    )
    fin = forms.ChoiceField(
        label=_("Fin de explotación"),
        required=False,
        choices=_choices(_("Todos"), TraffickingPurpose.choices),
        widget=ListSelect,
    )
    region = forms.ChoiceField(
        label=_("Región de detección"), required=False, choices=_choices(_("Todas"), Region.choices), widget=ListSelect
    )
    fiscalia = forms.ChoiceField(
        label=_("Fiscalía regional"),
        required=False,
        choices=_choices(_("Todas"), FiscaliaRegional.choices),
        widget=ListSelect,
    )
    formalizada = forms.ChoiceField(
        label=_("Formalizada"), required=False, choices=FORMALISED_CHOICES, widget=ListSelect
    )
    institucion = forms.TypedChoiceField(
        label=_("Institución a cargo"), required=False, coerce=int, empty_value=None, widget=ListSelect
    )
    orden = forms.ChoiceField(label=_("Ordenar por"), required=False, choices=SORT_CHOICES, widget=forms.HiddenInput)

    FILTERS = ("estado", "anio", "fin", "region", "fiscalia", "formalizada", "institucion")

    def __init__(self, *args, institutions: list[tuple[int, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["institucion"].choices = _choices(_("Todas"), [(str(pk), name) for pk, name in institutions])
        self.fields["anio"].widget.attrs.update({"min": FIRST_YEAR, "max": timezone.localdate().year})
        self.fields["q"].widget.attrs.update({"autocomplete": "off"})

    def clean_q(self) -> CaseQuery | None:
        value = self.cleaned_data["q"].strip()
        if not value:
            return None
        query = parse_query(value)
        if query is None:
            raise forms.ValidationError(
                _(
                    "Escriba un RUC (por ejemplo 2300123456-7), un número de causa o un código como "
                    "V-2024-000123. Para buscar por número de documento use la búsqueda por documento."
                ),
                code="unrecognised",
            )
        return query

    def clean_anio(self) -> int | None:
        year = self.cleaned_data["anio"]
        last = timezone.localdate().year
        if year is not None and not FIRST_YEAR <= year <= last:
            raise forms.ValidationError(
                _("Indique un año entre %(first)s y %(last)s."),
                code="year_range",
                params={"first": FIRST_YEAR, "last": last},
            )
        return year

    def clean_orden(self) -> str:
        return self.cleaned_data["orden"] or DEFAULT_SORT

    def clean_formalizada(self) -> bool | None:
        return {"si": True, "no": False}.get(self.cleaned_data["formalizada"])

    def criteria(self) -> dict:
        """The valid filters and search, for cases.selectors.case_list_page (call after is_valid)."""
        data = getattr(self, "cleaned_data", {})
        filters = {name: data[name] for name in self.FILTERS if data.get(name) not in (None, "")}
        return {"query": data.get("q"), "filters": filters, "sort": data.get("orden") or DEFAULT_SORT}

    def kept_parameters(self, *, without: tuple[str, ...] = ()) -> str:
        """The submitted search, filters and sort as a query string, for pagination and sort
        links (only what validated: a link never carries an invalid value forward)."""
        data = getattr(self, "cleaned_data", {})
        pairs = [
            (name, self.data.get(name, ""))
            for name in ("q", *self.FILTERS, "orden")
            if name not in without and name in data and self.data.get(name, "") not in ("", None)
        ]
        return urlencode(pairs)


class CaseDocumentSearchForm(forms.Form):
    """Search by a victim's document number, through the blind index.

    Sent by POST only, a separate form from the GET search above: a document number in a URL
    would land in server and proxy logs, browser history and the Referer of the next page
    (conventions: identity never in URLs or logs). The results page is not bookmarkable
    and is sent with Cache-Control: no-store (kernel.web.confidential).
    """

    tipo = forms.ChoiceField(
        label=_("Tipo de documento"), choices=DocumentType.choices, initial=DocumentType.RUN, widget=ListSelect
    )
    numero = forms.CharField(label=_("Número de documento"), max_length=40)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, prefix="documento", **kwargs)
        self.fields["numero"].widget.attrs.update({"autocomplete": "off"})

    def clean(self):
        data = super().clean()
        if "tipo" in data and "numero" in data:
            try:
                normalise_document(data["tipo"], data["numero"])
            except forms.ValidationError as exc:
                self.add_error("numero", exc)
        return data
