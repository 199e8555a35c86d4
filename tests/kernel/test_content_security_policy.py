"""The strict Content-Security-Policy: sent on every page, and no template needs it relaxed.

The browser tests (tests/e2e) additionally watch the console for CSP violations on every screen.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

TEMPLATE_FILES = sorted(
    path
    for directory in [settings.BASE_DIR / "templates", *settings.BASE_DIR.glob("*/templates")]
    for path in Path(directory).rglob("*.html")
    if ".venv" not in path.parts
)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_ELEMENT = re.compile(r"<style\b", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"javascript:", re.IGNORECASE)


def test_there_are_templates_to_check():
    assert len(TEMPLATE_FILES) >= 10


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: str(p.relative_to(settings.BASE_DIR)))
def test_no_template_carries_inline_script_or_style(path):
    text = path.read_text()
    for name, pattern in [
        ("inline <script>", INLINE_SCRIPT),
        ("<style> element", STYLE_ELEMENT),
        ("style attribute", STYLE_ATTRIBUTE),
        ("on* event handler", EVENT_HANDLER),
        ("javascript: URL", JAVASCRIPT_URL),
    ]:
        assert not pattern.search(text), f"{name} in {path}"


def _policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.django_db
@pytest.mark.parametrize("url_name", ["login", "home", "cases:list"])
def test_pages_send_a_strict_policy(client, officer, url_name):
    if url_name != "login":
        client.force_login(officer)
    policy = _policy(client.get(reverse(url_name)))
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert not any("unsafe" in value for values in policy.values() for value in values)
