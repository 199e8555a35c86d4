"""Forms of the institutional administrator's pages: input parsing and field-level Spanish errors.
The rules of the transitions themselves live in institutions.services."""

from __future__ import annotations

from django import forms
from django.contrib.auth.models import BaseUserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.utils.translation import gettext_lazy as _

from institutions.constants import Role
from institutions.models import User


class UserInviteForm(forms.Form):
    username = forms.CharField(
        label=_("Nombre de usuario"),
        max_length=150,
        validators=[
            UnicodeUsernameValidator(
                message=_("Use solo letras, dígitos y los signos @ . + - _ (sin espacios) en el nombre de usuario.")
            )
        ],
        help_text=_("Con el que ingresará. Letras, dígitos y los signos @ . + - _ (sin espacios)."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}),
    )
    first_name = forms.CharField(label=_("Nombres"), max_length=150)
    last_name = forms.CharField(label=_("Apellidos"), max_length=150)
    email = forms.EmailField(
        label=_("Correo electrónico"),
        max_length=254,
        help_text=_("Recibirá aquí el enlace para crear su contraseña."),
        error_messages={"invalid": _("Ingrese un correo electrónico válido, por ejemplo nombre@institucion.cl.")},
    )
    role = forms.ChoiceField(label=_("Rol"), choices=Role.choices, initial=Role.READER)

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        # Case-insensitive, as Django's own user creation form: "JPerez" and "jperez" would be
        # one person to every reader of the audit trail.
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("Ya existe un usuario con ese nombre de usuario."), code="unique")
        return username

    def clean_email(self) -> str:
        email = BaseUserManager.normalize_email(self.cleaned_data["email"].strip())
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError(_("Ya existe un usuario con ese correo electrónico."), code="unique")
        return email


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Rol"), choices=Role.choices)
