"""Machine clients (PDI, Fiscalía and other institutional systems) and the responses of their
idempotent requests.

Each client is an OAuth2 application (django-oauth-toolkit, swapped model) that acts through its
own *service user*: a User of the client's institution, with a role, that never signs in to the
web. Every selector and service already takes a user, so a client sees and does exactly what its
institution's grants allow that role, narrowed further by the token's scopes (ADR 0005).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from oauth2_provider.models import AbstractApplication

from kernel.fields import EncryptedTextField


class ApiClient(AbstractApplication):
    allowed_scopes = models.TextField(
        _("alcances permitidos"), help_text=_("Separados por espacios, por ejemplo «cases:read cases:write».")
    )

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"
        verbose_name = _("cliente de la API")
        verbose_name_plural = _("clientes de la API")
        constraints = [
            # Only machine-to-machine clients exist here: no browser flows, no public clients.
            models.CheckConstraint(
                name="api_client_credentials_only",
                condition=Q(authorization_grant_type="client-credentials", client_type="confidential"),
            ),
            models.CheckConstraint(name="api_client_has_service_user", condition=Q(user__isnull=False)),
            models.CheckConstraint(name="api_client_has_scopes", condition=~Q(allowed_scopes="")),
        ]

    @property
    def institution(self):
        return self.user.institution

    def is_usable(self, request):
        """django-oauth-toolkit asks this before issuing a token and on every use of one: a client
        whose service user or institution was deactivated (api_client_revoke) gets no new token."""
        user = self.user
        return user.is_active and user.institution_id is not None and user.institution.is_active


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an ``Idempotency-Key``, replayed for 24 hours.

    Responses may hold victim data, so the body is encrypted like identity (ADR 0001); rows are
    purged after 24 hours (api.tasks).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)  # the encryption context
    # The caller: a machine client's service user, or a person using the API from a session.
    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = EncryptedTextField(max_length=50_000_000)
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        default_permissions = ()
        constraints = [models.UniqueConstraint(fields=["caller", "key"], name="idempotency_key_unique_per_caller")]

    def __str__(self) -> str:
        return f"Idempotency-Key {self.key}"
