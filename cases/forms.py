"""Web forms for cases and offenders. They parse and label; cases.services decides."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cases.models import Case, CaseOffender, Offender
from cases.services import CASE_EDITABLE_FIELDS, CASE_OFFENDER_EDITABLE_FIELDS, OFFENDER_EDITABLE_FIELDS
from kernel.forms import ServiceForm, model_field

IDENTITY_LEGEND = _("Identidad (se guarda cifrada)")


class VersionField(forms.IntegerField):
    """The version of the record the editor read: the optimistic lock travels with the form."""

    def __init__(self, **kwargs):
        missing = _("Falta la versión de la ficha que se editaba: vuelva a abrir el formulario.")
        kwargs.setdefault("error_messages", {"required": missing, "invalid": missing, "min_value": missing})
        super().__init__(widget=forms.HiddenInput, min_value=1, **kwargs)


class CaseForm(ServiceForm):
    ruc = model_field(Case, "ruc", max_length=20)  # "23.001.234.56-7" is normalised by the service
    intake_date = model_field(Case, "intake_date", help_text=_("Fecha en que la causa ingresó a la Fiscalía."))
    investigation_start_date = model_field(
        Case, "investigation_start_date", help_text=_("Obligatoria si la causa está formalizada.")
    )
    is_formalised = model_field(Case, "is_formalised")
    formalised_date = model_field(Case, "formalised_date", help_text=_("Solo si la causa está formalizada."))
    status = model_field(Case, "status")
    termination_type = model_field(
        Case, "termination_type", blank_label=_("No aplica"), help_text=_("Solo para causas terminadas.")
    )
    termination_date = model_field(Case, "termination_date", help_text=_("Solo para causas terminadas."))
    purpose = model_field(Case, "purpose")
    region_detected = model_field(Case, "region_detected")
    fiscalia_regional = model_field(Case, "fiscalia_regional")

    sections = (
        (_("Identificación"), ("ruc", "intake_date")),
        (_("Investigación"), ("investigation_start_date", "is_formalised", "formalised_date")),
        (_("Estado"), ("status", "termination_type", "termination_date")),
        (_("Clasificación"), ("purpose", "region_detected", "fiscalia_regional")),
    )

    def case_data(self) -> dict:
        return self.values(CASE_EDITABLE_FIELDS)


class CaseEditForm(CaseForm):
    version = VersionField()


class PersonInCaseForm(ServiceForm):
    """A person (offender or victim) and their part in a case, for the register and edit pages.
    Identity fields only for ``identity=True``: the page offers them only to whoever may write
    them, and a form without them leaves the stored identity untouched."""

    identity_fields: tuple[str, ...] = ()
    # What person_data() and link_data() hand to the service: its editable fields.
    person_field_names: frozenset[str] = frozenset()
    link_field_names: frozenset[str] = frozenset()

    def __init__(self, *args, identity: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.with_identity = identity
        for name in self.identity_fields:
            if identity:
                self.fields[name].widget.attrs["autocomplete"] = "off"  # no identity in browser autofill
            else:
                del self.fields[name]

    def person_data(self) -> dict:
        return self.values(self.person_field_names)

    def link_data(self) -> dict:
        return self.values(self.link_field_names)


class OffenderForm(PersonInCaseForm):
    """An offender and their part in the case (who may write identity:
    cases.services.offender_register_in_case)."""

    given_names = model_field(Offender, "given_names")
    surnames = model_field(Offender, "surnames")
    document_type = model_field(Offender, "document_type", blank_label=_("Sin documento"))
    document_number = model_field(Offender, "document_number", help_text=_("RUN con dígito verificador, o pasaporte."))
    sex = model_field(Offender, "sex")
    nationality = model_field(Offender, "nationality")
    is_formalised = model_field(CaseOffender, "is_formalised")
    is_convicted = model_field(CaseOffender, "is_convicted")
    sentence_date = model_field(CaseOffender, "sentence_date", help_text=_("Solo si fue condenado."))

    identity_fields = ("given_names", "surnames", "document_type", "document_number")
    sections = (
        (IDENTITY_LEGEND, identity_fields),
        (_("Datos estadísticos"), ("sex", "nationality")),
        (_("En esta causa"), ("is_formalised", "is_convicted", "sentence_date")),
    )
    person_field_names = OFFENDER_EDITABLE_FIELDS
    link_field_names = CASE_OFFENDER_EDITABLE_FIELDS


class OffenderEditForm(OffenderForm):
    version = VersionField()
