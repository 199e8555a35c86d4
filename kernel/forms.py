"""What the web forms share: fields built from the models (Spanish labels, choices, limits), the
bridge from a service's ValidationError back onto the form's fields, and the form page answers
(400 with the errors, 409 on an edit conflict).

A form only parses input into Python values; the rules live in the models and services, which
raise field-keyed ValidationErrors. ``add_service_errors`` puts each message next to its field,
so the page shows the error where the officer has to act, with what they typed kept.
Templates: templates/cases/forms/ (_field.html renders the ids that Django's aria-describedby
points at: ``<id>_helptext`` and ``<id>_error``).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.http import HttpRequest
from django.shortcuts import render
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _

NO_CHOICE = _("Sin información")
# On an edit page: reveal the identity (audited) to correct it.
REVEAL_ACTION = "mostrar_identidad"
WITH_IDENTITY = "con_identidad"


def date_input() -> forms.DateInput:
    # The browser's date picker sends and expects ISO dates, whatever the display locale.
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def model_field(model: type[models.Model], name: str, *, blank_label=None, **kwargs) -> forms.Field:
    """The form field Django derives from the model field (label, help text, choices, length),
    with dates as ``<input type="date">`` and the empty choice of a select labelled in Spanish."""
    field = model._meta.get_field(name).formfield(**kwargs)
    if isinstance(field, forms.DateField) and "widget" not in kwargs:
        field.widget = date_input()
    if isinstance(field, forms.ChoiceField):
        field.choices = [
            ("", blank_label or NO_CHOICE) if value == "" else (value, label) for value, label in field.choices
        ]
    return field


class ServiceForm(forms.Form):
    """A form whose cleaned data goes to one service call."""

    # Sections of the page: (legend, field names). Fields not named are rendered after them.
    sections: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # Fields the page renders somewhere of its own, not in a section.
    unlisted: tuple[str, ...] = ()

    def add_service_errors(self, error: ValidationError) -> None:
        """Show a service's ValidationError on the form: each message next to its field, or at
        the top for errors of no field the form shows."""
        errors = error.message_dict if hasattr(error, "error_dict") else {NON_FIELD_ERRORS: error.messages}
        for name, messages in errors.items():
            target = name if name in self.fields and name != NON_FIELD_ERRORS else None
            for message in messages:
                self.add_error(target, message)

    def fieldsets(self) -> list[tuple[str, list[forms.BoundField]]]:
        shown: set[str] = set(self.unlisted)
        result = []
        for legend, names in self.sections:
            fields = [self[name] for name in names if name in self.fields and not self.fields[name].widget.is_hidden]
            shown.update(names)
            if fields:
                result.append((legend, fields))
        rest = [field for field in self.visible_fields() if field.name not in shown]
        if rest:
            result.append(("", rest))
        return result

    def values(self, names: Iterable[str]) -> dict:
        """The cleaned values of the named fields the form has."""
        return {name: self.cleaned_data[name] for name in names if name in self.fields}


def shown_value(field: forms.Field, value) -> str:
    """A value as the officer reads it: choice labels, Sí/No, dates in the Chilean format."""
    if value is None or value == "":
        return "—"
    if isinstance(field, forms.BooleanField):
        return str(_("Sí") if value else _("No"))
    if isinstance(field, forms.ChoiceField):
        return str(dict(field.choices).get(value, value))
    if isinstance(value, datetime.date):
        return date_format(value, "SHORT_DATE_FORMAT")
    return str(value)


def _blank_as_none(value):
    return None if value == "" else value


def differences(form: ServiceForm, submitted: dict, current: dict) -> list[tuple[str, str, str]]:
    """(label, the officer's value, the stored value) for each field where they differ: what an
    optimistic-lock conflict page shows, so the officer can apply their changes again."""
    rows = []
    for name, mine in submitted.items():
        if name in form.fields and name in current and _blank_as_none(mine) != _blank_as_none(current[name]):
            field = form.fields[name]
            rows.append((str(field.label), shown_value(field, mine), shown_value(field, current[name])))
    return rows


def initial_values(instance: models.Model, names: Iterable[str]) -> dict:
    """The instance's values for a form's initial data (countries as their codes)."""
    values = {}
    for name in names:
        value = getattr(instance, name)
        values[name] = getattr(value, "code", value)
    return values


def render_form(request: HttpRequest, template: str, form: ServiceForm, context: dict, status: int = 200):
    """The form page; 400 when it comes back with errors."""
    if form.is_bound and form.errors and status == 200:
        status = 400
    return render(request, template, {"form": form, **context}, status=status)


def render_conflict(request, template: str, *, form: ServiceForm, message, submitted: dict, current: dict, context):
    """409: the form filled with the current values (and the current version), the officer's
    own changes listed beside them so they can be applied again."""
    return render(
        request,
        template,
        {
            "form": form,
            "conflict": message,
            "changes": differences(form, submitted, current),
            **context,
        },
        status=409,
    )
