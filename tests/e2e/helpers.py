"""What the browser tests share: signing in through the real two factors, axe-core, CSP watching."""

from __future__ import annotations

import base64
import re
import time
from urllib.parse import urlsplit

from django.urls import resolve
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from institutions.two_factor import DEVICE_NAME

PASSWORD = "clave-de-prueba-segura"
TOTP_STEP = 30


# --- CSP and script errors ----------------------------------------------------------------------


class BrowserProblems:
    """Collects, from every watched page, console messages about the Content-Security-Policy,
    uncaught script errors and static files that failed to load. Chromium reports a refused
    inline script, style attribute or third-party load as a console error mentioning
    "Content Security Policy"."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def watch(self, page) -> None:
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.seen.append(f"{page.url}: uncaught error: {error}"))
        page.on("response", self._on_response)

    def _on_response(self, response) -> None:
        if "/static/" in response.url and response.status >= 400:
            self.seen.append(f"{response.url}: static file answered {response.status}")

    def _on_console(self, message) -> None:
        if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
            self.seen.append(f"{message.location.get('url', '?')}: {message.text}")

    def assert_none(self) -> None:
        assert not self.seen, "The browser reported problems:\n" + "\n".join(self.seen)


# --- the second factor --------------------------------------------------------------------------


def manual_key(page) -> bytes:
    """The secret shown on the enrollment page, as an authenticator app would take it."""
    shown = page.locator("#clave-manual").inner_text()
    assert re.fullmatch(r"([A-Z2-7]{4} )*[A-Z2-7]{1,4}", shown.strip()), shown
    compact = shown.replace(" ", "").strip()
    return base64.b32decode(compact + "=" * (-len(compact) % 8))


def fresh_code(key: bytes, *, after_step: int = -1) -> str:
    """A code for the current 30-second step, or, when that step was already used (django-otp
    refuses a replayed step), for the next one, which the device's tolerance of one step accepts.
    Waits for the clock only if even the next step is taken."""
    totp = TOTP(key, step=TOTP_STEP)
    now_step = int(time.time()) // TOTP_STEP
    step = max(now_step, after_step + 1)
    if step > now_step + 1:
        time.sleep((step - 1) * TOTP_STEP - time.time() + 0.5)
    totp.time = step * TOTP_STEP
    return f"{totp.token():06d}"


def code_for_user(user) -> str:
    device = TOTPDevice.objects.get(user=user, name=DEVICE_NAME)
    return fresh_code(device.bin_key, after_step=device.last_t)


def enrolled_device(user) -> TOTPDevice:
    """A confirmed device for a user whose enrollment is not what the test is about: their
    next login goes through the verification page with a code computed from its key."""
    device, _ = TOTPDevice.objects.get_or_create(user=user, name=DEVICE_NAME, defaults={"confirmed": True})
    return device


# --- signing in ---------------------------------------------------------------------------------


def submit_password(page, username: str, password: str = PASSWORD) -> None:
    page.goto("/ingresar/")
    page.get_by_label("Usuario").fill(username)
    page.get_by_label("Contraseña").fill(password)
    page.get_by_role("button", name="Ingresar").click()
    page.wait_for_load_state()


def enroll(page) -> bytes:
    """On the enrollment page: reads the manual key, types the first code. Returns the key."""
    assert "/ingresar/segundo-factor/" in page.url, page.url
    key = manual_key(page)
    page.get_by_label("Código de 6 dígitos que muestra la aplicación").fill(fresh_code(key))
    page.get_by_role("button", name="Activar y continuar").click()
    page.wait_for_load_state()
    return key


def verify(page, user) -> None:
    assert "/ingresar/verificar/" in page.url, page.url
    page.get_by_label("Código").fill(code_for_user(user))
    page.get_by_role("button", name="Verificar").click()
    page.wait_for_load_state()


def sign_in(page, user, password: str = PASSWORD) -> None:
    """Password, then whichever second-factor step the application asks for."""
    submit_password(page, user.username, password)
    if "/ingresar/segundo-factor/" in page.url:
        enroll(page)
    else:
        verify(page, user)
    assert "/ingresar/" not in page.url, f"still signing in at {page.url}"


# --- accessibility ------------------------------------------------------------------------------

BLOCKING_IMPACTS = ("serious", "critical")


def axe_violations(page, axe_source: str) -> list[dict]:
    """Runs axe-core on the page as it is now; returns its serious and critical violations.

    The script is evaluated through the DevTools protocol (``page.evaluate``), which the page's
    Content-Security-Policy does not govern, so the CSP stays intact: no ``bypass_csp``, no
    inline <script> tag.
    """
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(axe_source)
    results = page.evaluate(
        "async () => await window.axe.run(document, {resultTypes: ['violations']})",
    )
    return [v for v in results["violations"] if v["impact"] in BLOCKING_IMPACTS]


def describe(violations: list[dict]) -> str:
    lines = []
    for violation in violations:
        lines.append(f"- {violation['id']} ({violation['impact']}): {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {node.get('failureSummary', '').splitlines()[-1:]}")
    return "\n".join(lines)


def assert_accessible(page, axe_source: str) -> None:
    violations = axe_violations(page, axe_source)
    assert not violations, f"axe-core on {page.url}:\n{describe(violations)}"


class ScreenAudit:
    """Checks screen after screen, and reports every finding of the walk at once.

    For each screen: the response carries the strict Content-Security-Policy; the browser
    reported no CSP violation or script error while loading it; axe-core finds no serious or
    critical violation.
    """

    def __init__(self, axe_source: str, problems: BrowserProblems) -> None:
        self.axe_source = axe_source
        self.problems = problems
        self.findings: dict[str, list[str]] = {}
        self.checked: list[str] = []
        self.routes: set[str] = set()  # URL names of the screens checked

    def visit(self, page, name: str, url: str, *, status: int = 200) -> None:
        response = page.goto(url)
        assert response is not None
        assert response.status == status, f"{name}: {url} answered {response.status}, not {status}"
        self.check(page, name, response=response)

    def check(self, page, name: str, *, response=None) -> None:
        page.wait_for_load_state("load")
        findings = []
        if response is not None:
            policy = response.headers.get("content-security-policy", "")
            if "script-src 'self'" not in policy or "style-src 'self'" not in policy:
                findings.append(f"no strict Content-Security-Policy header (got {policy!r})")
        if self.problems.seen:
            findings.extend(self.problems.seen)
            self.problems.seen.clear()
        violations = axe_violations(page, self.axe_source)
        if violations:
            findings.append("axe-core:\n" + describe(violations))
        # The axe run itself must not trip the CSP either (it would hide a real finding next time).
        if self.problems.seen:
            findings.extend(f"(while axe ran) {seen}" for seen in self.problems.seen)
            self.problems.seen.clear()
        self.checked.append(name)
        self.routes.add(resolve(urlsplit(page.url).path).view_name)
        if findings:
            self.findings[f"{name} ({page.url})"] = findings

    def assert_clean(self, *, routes: set[str]) -> None:
        """No findings, and every route this walk is meant to cover was indeed checked."""
        missed = routes - self.routes
        assert not missed, f"the walk never reached {sorted(missed)}"
        report = "\n".join(f"{screen}:\n  " + "\n  ".join(found) for screen, found in self.findings.items())
        assert not self.findings, f"{len(self.findings)} of {len(self.checked)} screens have problems:\n{report}"
