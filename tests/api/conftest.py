"""Machine clients for API tests: a registered ApiClient and a real token from /o/token/."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client

from api.services import api_client_create
from cases.constants import SyncSource

ALL_SCOPES = ["cases:read", "cases:write", "identity:read", "identity:write"]


@dataclass
class Machine:
    """A source system: its registration, and an HTTP client sending its bearer token."""

    client_id: str
    client_secret: str
    token: str
    user: object
    http: Client

    def headers(self, **extra) -> dict:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}", **extra}

    def get(self, path, **extra):
        return self.http.get(path, **self.headers(**extra))

    def put(self, path, data, **extra):
        return self.http.put(path, data, content_type="application/json", **self.headers(**extra))

    def patch(self, path, data, **extra):
        return self.http.patch(path, data, content_type="application/json", **self.headers(**extra))

    def post(self, path, data, **extra):
        return self.http.post(path, data, content_type="application/json", **self.headers(**extra))


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def obtain_token(http: Client, client_id: str, secret: str, scope: str | None = None):
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return http.post("/o/token/", data, HTTP_AUTHORIZATION=basic(client_id, secret))


# Tests' institutions own every source system unless a test says otherwise: ownership itself
# is tested in tests/api/test_source_ownership.py.
ALL_SOURCES = list(SyncSource.values)


def machine_for(institution, scopes=ALL_SCOPES, name="Sistema de prueba", sources=ALL_SOURCES, sermig=False) -> Machine:
    """``sermig``: the client works the residence queue (its institution must be a migration service)."""
    new = api_client_create(
        institution=institution, name=name, scopes=list(scopes), sources=list(sources), sermig_officer=sermig
    )
    http = Client()
    response = obtain_token(http, new.client.client_id, new.client_secret)
    assert response.status_code == 200, response.content
    return Machine(new.client.client_id, new.client_secret, response.json()["access_token"], new.client.user, http)


def clear_rate_limits() -> None:
    """Forget this test process's throttling counters. Only its own keys (KEY_PREFIX is per
    process in the test settings): cache.clear() would empty the Redis database under the other
    xdist worker's tests too."""
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    client = cache._cache.get_client()
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    clear_rate_limits()
    yield


@pytest.fixture
def machine(institution):
    """A client of ``institution`` (PDI) with every scope."""
    return machine_for(institution)
