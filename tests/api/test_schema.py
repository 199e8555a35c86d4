"""The OpenAPI schema is valid, complete enough to generate clients from, and honest about
errors: drf-spectacular's own validation with every warning treated as a failure."""

from __future__ import annotations

import pytest
import yaml
from django.core.management import call_command
from django.urls import reverse

from config import api_urls


def test_the_schema_validates_without_a_single_warning(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    schema = yaml.safe_load(target.read_text())
    assert schema["openapi"].startswith("3.")
    assert schema["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"] == "/o/token/"


@pytest.mark.django_db
def test_every_api_route_is_in_the_schema_with_its_errors_as_problem_json(client):
    schema = yaml.safe_load(client.get(reverse("api:schema")).content)
    documented = set(schema["paths"])
    routes = {
        "/api/v1/" + str(pattern.pattern).replace("<int:", "{").replace("<uuid:", "{")
        for pattern in api_urls.urlpatterns
        if pattern.name not in ("schema", "docs")
    }
    routes = {route.replace("<source:", "{").replace("<reference:", "{").replace(">", "}") for route in routes}
    assert routes == documented
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            assert {"401", "403", "429"} <= codes, (method, path)
            for code, response in operation["responses"].items():
                if code.startswith(("4", "5")):
                    assert set(response["content"]) == {"application/problem+json"}, (method, path, code)
            if method in ("put", "patch", "post"):
                assert {"400", "413", "415"} <= codes, (method, path)
            # A bearer token with the operation's scopes, or a browser session; never anonymous.
            security = operation["security"]
            assert {} not in security and any(requirement.get("oauth2") for requirement in security), (method, path)
