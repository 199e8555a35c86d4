"""Web forms for a victim registered into a case. They parse and label; victims.services decides."""

from __future__ import annotations

from django import forms
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cases.forms import IDENTITY_LEGEND, PersonInCaseForm, VersionField
from kernel.forms import model_field
from victims.models import CaseVictim, Victim
from victims.services import CASE_VICTIM_EDITABLE_FIELDS, VICTIM_EDITABLE_FIELDS

DUPLICATE_WARNING_ID = "aviso-duplicado"
# Where "Vincular a esta víctima" appears: among the form's buttons, after "Registrar víctima",
# so that Enter in a field still registers (the first submit button of a form is its default).
LINK_ACTIONS_ID = "acciones-vincular"


class VictimForm(PersonInCaseForm):
    """A victim and their part in the case (who may write identity:
    victims.services.victim_register_in_case and victim_update)."""

    given_names = model_field(Victim, "given_names")
    surnames = model_field(Victim, "surnames")
    document_type = model_field(Victim, "document_type", blank_label=_("Sin documento"))
    document_number = model_field(
        Victim, "document_number", help_text=_("RUN con dígito verificador (12.345.678-5), pasaporte u otro.")
    )
    birth_date = model_field(Victim, "birth_date")
    phone = model_field(Victim, "phone", widget=forms.TextInput(attrs={"type": "tel"}))
    email = forms.EmailField(label=_("Correo electrónico"), required=False, max_length=254)
    address = model_field(Victim, "address")
    notes = model_field(Victim, "notes", widget=forms.Textarea(attrs={"rows": 3}))

    sex = model_field(Victim, "sex")
    nationality = model_field(Victim, "nationality")
    birth_year = model_field(
        Victim, "birth_year", help_text=_("Si no se conoce la fecha exacta. Con la fecha, se toma su año.")
    )
    age_at_identification = model_field(Victim, "age_at_identification")

    age_status = model_field(
        CaseVictim,
        "age_status",
        help_text=_("Para una niña, niño o adolescente cuya edad exacta se ignora, elija «Menor de edad»."),
    )
    age_at_facts = model_field(CaseVictim, "age_at_facts", help_text=_("Solo si la edad es conocida."))
    purpose = model_field(CaseVictim, "purpose")
    region_detected = model_field(CaseVictim, "region_detected")
    identified_date = model_field(CaseVictim, "identified_date")

    identity_fields = (
        "given_names",
        "surnames",
        "document_type",
        "document_number",
        "birth_date",
        "phone",
        "email",
        "address",
        "notes",
    )
    sections = (
        (IDENTITY_LEGEND, identity_fields),
        (_("Datos estadísticos"), ("sex", "nationality", "birth_year", "age_at_identification")),
        (_("En esta causa"), ("age_status", "age_at_facts", "purpose", "region_detected", "identified_date")),
    )
    person_field_names = VICTIM_EDITABLE_FIELDS
    link_field_names = CASE_VICTIM_EDITABLE_FIELDS


class VictimCreateForm(VictimForm):
    # Shown with the duplicate warning only (templates/victims/forms/_duplicate_warning.html).
    unlisted = ("confirm_duplicate",)
    confirm_duplicate = forms.BooleanField(
        label=_("Registrar de todas formas"),
        required=False,
        help_text=_("Marque esta casilla si revisó el aviso y se trata de otra persona, o debe registrarla igual."),
    )

    def __init__(self, *args, identity: bool, case_id: int, **kwargs):
        super().__init__(*args, identity=identity, **kwargs)
        if identity:
            # As soon as the document is typed, ask whether the person is already registered
            # (victims.form_views.duplicate_warning_view). A POST, so the number stays out of URLs;
            # only the document and the CSRF token are sent.
            checked = {
                "hx-post": reverse("victims:duplicate_warning", args=[case_id]),
                "hx-trigger": "change",
                "hx-target": f"#{DUPLICATE_WARNING_ID}",
                "hx-params": "document_type,document_number,csrfmiddlewaretoken",
            }
            self.fields["document_number"].widget.attrs.update(checked)
            self.fields["document_type"].widget.attrs.update(checked)

    def keep_link_errors_only(self) -> None:
        """For "Vincular a esta víctima": the person is not registered, so only their part in
        the case is taken from the form; errors of the other fields do not stand in the way."""
        for name in set(self.errors) - self.link_field_names:
            del self.errors[name]

    def wants_duplicate_check(self) -> bool:
        data = self.cleaned_data
        return bool(
            self.with_identity
            and data.get("document_type")
            and data.get("document_number")
            and not data.get("confirm_duplicate")
        )


class VictimEditForm(VictimForm):
    version = VersionField()
