"""The integrators' API reference page (Swagger UI, drf-spectacular-sidecar) in Chromium: it
renders every operation from our own static files and keeps the strict CSP."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import axe_violations, describe

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


# Swagger UI nests its "copy" and "lock" buttons inside the operation's summary button: a
# structure of the third-party page that CSS cannot change. Everything else axe-core reports
# on the reference page is ours to fix (contrast: api/docs.css; lang: the template).
SWAGGER_UI_STRUCTURE = {"nested-interactive"}


def test_the_api_reference_renders_every_operation_under_the_strict_csp(
    new_page, browser_problems, live_server, axe_source
):
    page = new_page()
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    response = page.goto("/api/v1/docs/")
    assert response is not None and response.status == 200
    policy = response.headers.get("content-security-policy", "")
    assert "script-src 'self'" in policy and "style-src 'self'" in policy

    page.get_by_text("/api/v1/cases/by-ref/{source}/{reference}").first.wait_for()
    for path in ("/api/v1/cases/bulk", "/api/v1/cases/{case_id}/", "/api/v1/victims/{victim_id}/identity/"):
        assert page.get_by_text(path, exact=True).count() >= 1, path
    assert page.get_by_text("oauth2").count() >= 1 or page.get_by_role("button", name="Authorize").count() == 1

    violations = [v for v in axe_violations(page, axe_source) if v["id"] not in SWAGGER_UI_STRUCTURE]
    assert violations == [], describe(violations)
    browser_problems.assert_none()  # no CSP violation, script error or missing static file
    assert all(url.startswith(live_server.url) for url in requests), "the page loaded something from elsewhere"
