"""Browser tests: Playwright for Python driving Debian's Chromium against pytest-django's live server.

Chromium comes from the distribution (``apt-get install chromium``), never from
``playwright install``. Without it these tests skip with that hint, unless
``MITP_REQUIRE_BROWSER=1`` (set by ``.ci/run``): then they fail, so CI cannot go green by
silently not running them. The same holds for axe-core, installed from the npm registry by
``make test`` (``package-lock.json``).

Every page a test opens is watched for Content-Security-Policy violations and script errors;
one of either fails the test that caused it (see ``BrowserProblems``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.helpers import BrowserProblems

CHROMIUM = Path("/usr/bin/chromium")
AXE_SCRIPT = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
E2E_DIR = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config, items):
    # Every test in this folder is a browser test: `pytest -m e2e` selects them, `-m "not e2e"` skips them.
    for item in items:
        if E2E_DIR in Path(str(item.path)).parents:
            item.add_marker(pytest.mark.e2e)


def _missing(what: str, how: str) -> None:
    message = f"{what} is not available; {how}"
    if os.environ.get("MITP_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{message} (MITP_REQUIRE_BROWSER=1: browser tests must run here)", pytrace=False)
    pytest.skip(f"{message} to run the browser tests (tests/e2e)")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """One headless Chromium per test module (and xdist worker).

    Module scope, not session: while Playwright's sync API is running, its event loop counts as
    running in this thread, which would change how every later test of this worker sees asyncio.
    Stopping it after the module restores that for the rest of the suite.
    """
    if not CHROMIUM.exists():
        _missing(f"Chromium ({CHROMIUM})", "install it with `sudo apt-get install chromium`")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop marked as running in the main thread, so every
    # Django ORM call the test itself makes (factories, assertions on the database) would raise
    # SynchronousOnlyOperation. The calls are in fact synchronous and the live server runs in its
    # own thread, so the guard is lifted, only while this browser is up.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_problems() -> BrowserProblems:
    return BrowserProblems()


@pytest.fixture
def new_page(browser, live_server, browser_problems):
    """Opens pages in fresh browser contexts (one per signed-in person), each watched for CSP
    violations and script errors; the test fails at teardown if any page saw one."""
    contexts = []
    problems = browser_problems

    def open_page():
        context = browser.new_context(base_url=live_server.url, locale="es-CL", timezone_id="America/Santiago")
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        problems.watch(page)
        return page

    yield open_page
    for context in contexts:
        context.close()
    problems.assert_none()


@pytest.fixture
def page(new_page):
    return new_page()


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE_SCRIPT.exists():
        _missing(f"axe-core ({AXE_SCRIPT})", "run `make install-js` (npm ci; needs npm: `sudo apt-get install npm`)")
    return AXE_SCRIPT.read_text()
