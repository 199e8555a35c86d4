"""OAuth2 scopes: what a token may do, on top of what its institution may (ADR 0005).

A client is registered with the scopes its institution agreed to (``ApiClient.allowed_scopes``);
it can never obtain a token with more, and a token asked for without a scope gets all of them.
"""

from __future__ import annotations

from oauth2_provider.scopes import SettingsScopes

CASES_READ = "cases:read"
CASES_WRITE = "cases:write"
IDENTITY_READ = "identity:read"
IDENTITY_WRITE = "identity:write"

SCOPES = {
    CASES_READ: "Leer causas, víctimas e imputados (con códigos, sin identidad) que su institución puede ver.",
    CASES_WRITE: "Crear y actualizar causas, víctimas e imputados en nombre de su institución.",
    IDENTITY_READ: "Leer la identidad de víctimas e imputados donde su institución tiene acceso a ella (auditado).",
    IDENTITY_WRITE: "Registrar o modificar la identidad de víctimas e imputados donde su institución tiene acceso.",
}


class ClientScopes(SettingsScopes):
    def get_available_scopes(self, application=None, request=None, *args, **kwargs):
        scopes = super().get_available_scopes(application, request, *args, **kwargs)
        if application is None:
            return scopes
        allowed = set(application.allowed_scopes.split())
        return [scope for scope in scopes if scope in allowed]

    def get_default_scopes(self, application=None, request=None, *args, **kwargs):
        return self.get_available_scopes(application, request)
