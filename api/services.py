"""Registering and retiring machine clients. The secret is returned once, at creation, and
only its hash is stored (django-oauth-toolkit hashes it on save)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_secret

from api.models import ApiClient
from cases.constants import SyncSource
from institutions.constants import InstitutionKind, Role
from institutions.models import Institution, User

WRITE_SCOPES = {"cases:write", "identity:write"}


@dataclass(frozen=True)
class NewClient:
    client: ApiClient
    client_secret: str  # shown once; never stored in clear


def _checked_scopes(scopes: list[str]) -> list[str]:
    known = settings.OAUTH2_PROVIDER["SCOPES"]
    unknown = sorted(set(scopes) - set(known))
    if unknown or not scopes:
        raise ValidationError(
            {
                "scopes": _("Alcances desconocidos: %(names)s. Use: %(known)s.")
                % {"names": ", ".join(unknown) or "-", "known": ", ".join(known)}
            }
        )
    return sorted(set(scopes))


@transaction.atomic
def api_client_create(
    *,
    institution: Institution,
    name: str,
    scopes: list[str],
    sources: list[str] = (),
    sermig_officer: bool = False,
) -> NewClient:
    """A client of ``institution``: a service user (a case officer if it may write, a reader
    otherwise) that cannot sign in to the web, and the OAuth2 application acting as it.
    ``sources``: source systems the institution owns from now on (Institution.sync_sources).
    ``sermig_officer``: the service user holds the *oficial Sermig* capability (the residence
    queue: protocol.residence.has_sermig_capability), which counts only in a migration-service
    institution; refused for any other, so a flag set by mistake is caught here and not ignored."""
    scopes = _checked_scopes(scopes)
    if sermig_officer and institution.kind != InstitutionKind.MIGRATION:
        raise ValidationError(
            {
                "sermig_officer": _(
                    "Solo un cliente de una institución de tipo «%(kind)s» puede ser oficial Sermig; "
                    "%(name)s es «%(own)s»."
                )
                % {
                    "kind": InstitutionKind.MIGRATION.label,
                    "name": institution.short_name,
                    "own": institution.get_kind_display(),
                }
            }
        )
    unknown = sorted(set(sources) - set(SyncSource.values))
    if unknown:
        raise ValidationError(
            {"sources": _("Sistemas de origen desconocidos: %(names)s.") % {"names": ", ".join(unknown)}}
        )
    if set(sources) - set(institution.sync_sources):
        institution.sync_sources = sorted(set(institution.sync_sources) | set(sources))
        institution.save(update_fields=["sync_sources"])
    if not name.strip():
        raise ValidationError({"name": _("Indique un nombre para el cliente.")})
    role = Role.CASE_OFFICER if WRITE_SCOPES & set(scopes) else Role.READER
    user = User(
        username=f"api-{slugify(institution.short_name)}-{secrets.token_hex(4)}",
        institution=institution,
        role=role,
        is_api_client=True,
        is_sermig_officer=sermig_officer,
        first_name=name[:150],
    )
    user.set_unusable_password()
    user.save()
    secret = generate_client_secret()
    client = ApiClient.objects.create(
        name=name,
        user=user,
        client_type=ApiClient.CLIENT_CONFIDENTIAL,
        authorization_grant_type=ApiClient.GRANT_CLIENT_CREDENTIALS,
        client_secret=secret,
        allowed_scopes=" ".join(scopes),
    )
    return NewClient(client=client, client_secret=secret)


@transaction.atomic
def api_client_revoke(*, client: ApiClient) -> None:
    """Cut a client off at once: its tokens are deleted and its service user deactivated."""
    client.accesstoken_set.all().delete()
    User.objects.filter(pk=client.user_id).update(is_active=False)
