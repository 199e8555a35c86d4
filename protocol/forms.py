"""Web forms of the Protocolo de Atención. They parse and label; protocol services decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from cases.forms import IDENTITY_LEGEND, VersionField
from institutions.models import Institution
from kernel.forms import ServiceForm, date_input, model_field
from protocol.models import ProtocolActivation, Referral, ResidenceApplication
from victims.models import Victim

ACTIVATION_FIELDS = ("requested_by", "requested_on", "requester_name", "requester_contact", "consent_on", "note")


class ActivationOpenForm(ServiceForm):
    """Ask for the protocol for a victim (protocol.services.activation_open)."""

    requested_by = model_field(ProtocolActivation, "requested_by")
    requested_on = model_field(ProtocolActivation, "requested_on")
    requester_name = model_field(
        ProtocolActivation, "requester_name", required=False, help_text=_("Solo si solicita un tercero.")
    )
    requester_contact = model_field(
        ProtocolActivation, "requester_contact", required=False, help_text=_("Teléfono o correo del tercero.")
    )
    consent_on = model_field(ProtocolActivation, "consent_on")
    note = forms.CharField(label=_("Observaciones"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("requester_name", "requester_contact"):
            self.fields[name].widget = forms.TextInput(attrs={"autocomplete": "off"})

    def activation_data(self) -> dict:
        data = self.values(ACTIVATION_FIELDS)
        for name in ("requester_name", "requester_contact", "note"):
            data[name] = data.get(name) or ""
        return data


class NewPersonActivationForm(ActivationOpenForm):
    """A person with no criminal case enters the protocol: who they are, and the request
    (protocol.services.activation_open_for_new_person)."""

    given_names = model_field(Victim, "given_names")
    surnames = model_field(Victim, "surnames")
    document_type = model_field(Victim, "document_type", blank_label=_("Sin documento"))
    document_number = model_field(
        Victim, "document_number", help_text=_("RUN con dígito verificador (12.345.678-5), pasaporte u otro.")
    )
    birth_date = model_field(Victim, "birth_date")
    phone = model_field(Victim, "phone", widget=forms.TextInput(attrs={"type": "tel"}))
    email = forms.EmailField(label=_("Correo electrónico"), required=False, max_length=254)
    sex = model_field(Victim, "sex")
    nationality = model_field(Victim, "nationality")
    birth_year = model_field(Victim, "birth_year")
    age_at_identification = model_field(Victim, "age_at_identification")

    person_fields = (
        "given_names",
        "surnames",
        "document_type",
        "document_number",
        "birth_date",
        "phone",
        "email",
        "sex",
        "nationality",
        "birth_year",
        "age_at_identification",
    )
    sections = (
        (IDENTITY_LEGEND, person_fields[:7]),
        (_("Datos estadísticos"), person_fields[7:]),
        (_("Solicitud de ingreso al protocolo"), ACTIVATION_FIELDS),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.person_fields[:7]:
            self.fields[name].widget.attrs["autocomplete"] = "off"  # no identity in browser autofill

    def person_data(self) -> dict:
        return {name: value for name, value in self.values(self.person_fields).items() if value not in (None, "")}


class InstitutionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Institution) -> str:
        return obj.name


class ReferralCreateForm(ServiceForm):
    """Refer the victim of an active protocol to a service (protocol.referrals.referral_create)."""

    service_type = model_field(Referral, "service_type")
    provider = InstitutionChoiceField(
        label=_("Institución prestadora"),
        queryset=Institution.objects.none(),
        empty_label=_("Seleccione una institución"),
        error_messages={"invalid_choice": _("Elija una institución prestadora activa.")},
    )
    note = forms.CharField(
        label=_("Observaciones para la institución prestadora"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("No escriba aquí hechos de la causa: la institución prestadora no tiene acceso a ella."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["provider"].queryset = Institution.objects.filter(is_active=True).order_by("name")


class TransitionForm(forms.Form):
    """One move of a state machine, from the version the officer read."""

    action = forms.CharField(widget=forms.HiddenInput)
    version = VersionField()
    note = forms.CharField(label=_("Nota o motivo"), required=False)


class ResidenceGrantForm(ServiceForm):
    """Sermig grants the permit (protocol.residence.residence_transition, action «otorgar»)."""

    version = VersionField()
    permit_number = model_field(ResidenceApplication, "permit_number")
    valid_from = forms.DateField(label=_("Vigente desde"), widget=date_input())
    valid_until = forms.DateField(label=_("Vigente hasta"), widget=date_input())
    note = forms.CharField(label=_("Observaciones"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["permit_number"].widget.attrs["autocomplete"] = "off"
