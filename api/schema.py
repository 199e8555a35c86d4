"""OpenAPI (drf-spectacular): our bearer authentication, and the error responses every operation
can return, each as application/problem+json (kernel.api_errors)."""

from __future__ import annotations

from drf_spectacular.contrib.django_oauth_toolkit import DjangoOAuthToolkitScheme
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from kernel.api_errors import PROBLEM_CONTENT_TYPE


class ClientCredentialsScheme(DjangoOAuthToolkitScheme):
    target_class = "api.authentication.ClientCredentialsAuthentication"


class FieldErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text="Ruta del campo, por ejemplo «victims.0.sex» ('' para todo el cuerpo).")
    message = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField(allow_blank=True)
    errors = FieldErrorSerializer(many=True, required=False)


_DESCRIPTIONS = {
    400: "Datos no válidos: `errors` indica cada campo con su mensaje.",
    401: "Falta el token, o expiró o fue revocado.",
    403: "El token no tiene el alcance necesario, o su institución no puede hacer esto con el recurso.",
    404: "No existe, o su institución no puede verlo (no se distingue).",
    406: "Solo se responde application/json.",
    409: "La operación contradice el estado actual del recurso.",
    412: "If-Match no coincide con la versión actual: nada se modificó.",
    413: "El cuerpo supera el tamaño máximo.",
    415: "El cuerpo debe ser application/json.",
    422: "La Idempotency-Key ya se usó con otra solicitud.",
    429: "Demasiadas solicitudes: espere los segundos que indica Retry-After.",
}


class ApiAutoSchema(AutoSchema):
    def get_description(self):
        # Docstrings are for engineers, in English; what integrators read is set in Spanish with
        # extend_schema(description=...), which overrides this.
        return ""

    def _sends_etag(self) -> bool:
        """``sends_etag``: True for every method of the view, or the set of methods that do."""
        sends = getattr(self.view, "sends_etag", False)
        return self.method in sends if isinstance(sends, (set, frozenset)) else bool(sends)

    def _problem_codes(self) -> list[int]:
        codes = [401, 403, 406, 429]
        if self.path_regex and "{" in self.path:
            codes.append(404)
        if self.method in ("POST", "PUT", "PATCH"):
            codes += [400, 409, 413, 415]
        if self.method in ("PUT", "PATCH") or (self.method == "POST" and getattr(self.view, "checks_if_match", False)):
            codes.append(412)
        if self.method == "POST":
            codes.append(422)
        if self.method == "GET":
            codes.append(400)  # filters and cursors
        return sorted(set(codes))

    def _get_response_bodies(self, direction="response"):
        bodies = super()._get_response_bodies(direction)
        if direction != "response":
            return bodies
        if self._sends_etag():
            for code in ("200", "201"):
                if code in bodies:
                    bodies[code]["headers"] = {
                        "ETag": {"schema": {"type": "string"}, "description": "Versión del recurso, para If-Match."}
                    }
        for code in self._problem_codes():
            if str(code) in bodies:
                continue
            response = OpenApiResponse(ProblemSerializer, description=_DESCRIPTIONS[code])
            bodies[str(code)] = self._get_response_for_code(response, str(code), [PROBLEM_CONTENT_TYPE])
            if code == 429:
                bodies[str(code)]["headers"] = {
                    "Retry-After": {"schema": {"type": "integer"}, "description": "Segundos de espera."}
                }
        return bodies


def closed_request_bodies(result, generator, **kwargs):
    """POSTPROCESSING_HOOKS: request bodies refuse keys they do not declare
    (cases.serializers.StrictSerializer), and the schema says so. Serializer docstrings (English,
    for engineers) are not descriptions for integrators: field help texts are, in Spanish."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        component.pop("description", None)
        if name.endswith("Request") and component.get("type") == "object":
            component["additionalProperties"] = False
    return result
