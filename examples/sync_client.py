#!/usr/bin/env python3
"""A small MITP API client: obtains a token and upserts one case by its PDI report number.

It shows what a nightly sync does (docs/integration.md): OAuth2 client credentials, then
``PUT /api/v1/cases/by-ref/pdi-parte/{reference}`` with the case, its victims and its offender,
then the same request again, which answers 200 with an identical body because nothing changed.
Python 3.11+, standard library only.

    export MITP_BASE_URL=https://mitp.example.cl
    export MITP_CLIENT_ID=...          # from `manage.py create_api_client`
    export MITP_CLIENT_SECRET=...      # shown once, when the client was registered
    python examples/sync_client.py                                 # built-in sample, no identity
    python examples/sync_client.py --file examples/case-pdi-parte.json --reference 2025-000412

Exit status: 0 when both requests succeeded, 1 when the API refused a request or the replay
was not identical, 2 for a usage error (missing URL or credentials, unreadable file).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import email.utils
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

PROBLEM_JSON = "application/problem+json"
MAX_ATTEMPTS = 5  # per request, counting waits after 429 and retries after 502/503/504
MAX_WAIT_SECONDS = 600
TOKEN_MARGIN_SECONDS = 60  # ask for a new token this long before the current one expires

# Two victims and one offender, as the PDI system knows them (external ids in its own space).
# No identity: sending `identity` needs the identity:write scope (see examples/case-pdi-parte.json).
SAMPLE_REFERENCE = "2025-000123"
SAMPLE_CASE = {
    "intake_date": "2025-03-14",
    "investigation_start_date": "2025-03-20",
    "status": "vigente",
    "purpose": "trabajo_forzoso",
    "region_detected": "CL-TA",
    "fiscalia_regional": "FR-TA",
    "victims": [
        {
            "external_id": "PV-2025-0123-1",
            "sex": "femenino",
            "nationality": "BO",
            "birth_year": 1998,
            "age_status": "conocida",
            "age_at_facts": 26,
            "identified_date": "2025-03-12",
        },
        {
            "external_id": "PV-2025-0123-2",
            "sex": "femenino",
            "nationality": "PE",
            "age_status": "menor_sin_edad",
            "identified_date": "2025-03-12",
        },
    ],
    "offenders": [
        {"external_id": "PI-2025-0123-1", "sex": "masculino", "nationality": "CL", "is_formalised": False},
    ],
}


class UsageError(Exception):
    pass


class ApiError(Exception):
    """The API (or the network) refused a request; ``problem`` is the problem+json body, if any."""

    def __init__(self, method: str, path: str, status: int, problem: dict | None, text: str = "") -> None:
        super().__init__(f"{method} {path} -> {status}")
        self.method, self.path, self.status, self.problem, self.text = method, path, status, problem, text
        # text: a network failure, or what an answer that is not problem+json looked like


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)


@dataclass
class MitpClient:
    base_url: str
    client_id: str
    client_secret: str
    timeout: float = 60.0
    _token: str = field(default="", repr=False)
    _token_expires: float = 0.0

    # --- the token ------------------------------------------------------------------------------

    def token(self) -> str:
        """A bearer token, reused until shortly before it expires (each new one costs the server
        a deliberately slow check of the hashed secret)."""
        if self._token and time.monotonic() < self._token_expires - TOKEN_MARGIN_SECONDS:
            return self._token
        basic = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        response = self._send(
            "POST",
            "/o/token/",
            urllib.parse.urlencode({"grant_type": "client_credentials"}).encode(),
            {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"},
        )
        data = response.json()
        self._token = data["access_token"]
        self._token_expires = time.monotonic() + int(data["expires_in"])
        print(f"Token obtained: scopes «{data['scope']}», valid for {data['expires_in']} s")
        return self._token

    # --- API calls ------------------------------------------------------------------------------

    def request(self, method: str, path: str, body=None, headers: dict[str, str] | None = None) -> Response:
        """A call to /api/v1/ with the bearer token; a token the server no longer accepts (expired
        or revoked: 401) is replaced once."""
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        for renewed in (False, True):
            all_headers = {"Authorization": f"Bearer {self.token()}", "Accept": "application/json", **(headers or {})}
            if data is not None:
                all_headers["Content-Type"] = "application/json"
            try:
                return self._send(method, path, data, all_headers)
            except ApiError as error:
                if error.status != 401 or renewed:
                    raise
                self._token = ""
        raise AssertionError("unreachable")

    def _send(self, method: str, path: str, data: bytes | None, headers: dict[str, str]) -> Response:
        """One HTTP exchange, repeated after 429 (as long as Retry-After says) and after a
        temporary failure of the server or the network. Every request this client sends is safe
        to repeat: PUT by reference is idempotent, and the token request has no side effect."""
        url = self.base_url.rstrip("/") + path
        for attempt in range(1, MAX_ATTEMPTS + 1):
            # The scheme was checked in main(): https (or http for a local test server) only.
            request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as answer:  # noqa: S310
                    return Response(answer.status, answer.reason, dict(answer.headers.items()), answer.read())
            except urllib.error.HTTPError as answer:
                body = answer.read()
                status = answer.code
                retry_after = answer.headers.get("Retry-After")
                content_type = answer.headers.get("Content-Type", "")
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                if attempt == MAX_ATTEMPTS:
                    raise ApiError(method, path, 0, None, f"no answer from {url}: {exc}") from exc
                wait = 2**attempt
                print(f"{method} {path}: no answer ({exc}); trying again in {wait} s", file=sys.stderr)
                time.sleep(wait)
                continue
            if status == 429 and attempt < MAX_ATTEMPTS:
                wait = retry_after_seconds(retry_after)
                print(f"{method} {path} -> 429 Too Many Requests: waiting {wait} s (Retry-After: {retry_after})")
                time.sleep(wait)
                continue
            if status in (502, 503, 504) and attempt < MAX_ATTEMPTS:
                wait = 2**attempt
                print(f"{method} {path} -> {status}: the server is unavailable; trying again in {wait} s")
                time.sleep(wait)
                continue
            problem = None
            if content_type.startswith(PROBLEM_JSON) or (path.startswith("/o/") and body.startswith(b"{")):
                try:
                    problem = json.loads(body)
                except ValueError:
                    problem = None
            text = f"an answer of type {content_type or 'unknown'}, not {PROBLEM_JSON}"
            raise ApiError(method, path, status, problem, text)
        raise AssertionError("unreachable")


def retry_after_seconds(value: str | None) -> int:
    """Retry-After is a number of seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return 1
    if value.strip().isdigit():
        seconds = int(value)
    else:
        try:
            moment = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return 1
        seconds = int((moment - datetime.datetime.now(datetime.UTC)).total_seconds()) + 1
    return max(1, min(seconds, MAX_WAIT_SECONDS))


# --- output -------------------------------------------------------------------------------------


def print_problem(error: ApiError) -> None:
    """A refused request, as the API explained it: title, detail, and each field with its message
    ("victims.0.sex": the sex of the first victim in the body)."""
    print(f"{error.method} {error.path} -> {error.status or 'no answer'}", file=sys.stderr)
    problem = error.problem
    if problem is None:
        print(f"  {error.text}", file=sys.stderr)
        return
    if "error" in problem:  # the token endpoint answers as OAuth2 does (RFC 6749 §5.2)
        print(f"  OAuth2 error: {problem['error']} {problem.get('error_description', '')}".rstrip(), file=sys.stderr)
        return
    print(f"  {problem.get('title', '')}", file=sys.stderr)
    if problem.get("detail"):
        print(f"  {problem['detail']}", file=sys.stderr)
    for item in problem.get("errors", []):
        print(f"  - {item['field'] or '(body)'}: {item['message']}", file=sys.stderr)


def references(person: dict) -> str:
    return ", ".join(f"{ref['source']} {ref['reference']}" for ref in person["external_references"])


def summarise(response: Response) -> dict:
    case = response.json()
    print(f"  ETag {response.headers.get('ETag')} · case id {case['id']} · version {case['version']}")
    people = [
        ("victims", [link["victim"] for link in case["victims"]]),
        ("offenders", [link["offender"] for link in case["offenders"]]),
    ]
    for label, persons in people:
        names = ", ".join(f"{person['code']} ({references(person)})" for person in persons)
        print(f"  {label}: {names or '-'}")
    return case


# --- the run ------------------------------------------------------------------------------------


def upsert_twice(client: MitpClient, source: str, reference: str, case: dict) -> bool:
    path = f"/api/v1/cases/by-ref/{urllib.parse.quote(source)}/{urllib.parse.quote(reference)}"
    first = client.request("PUT", path, case)
    print(f"PUT {path} -> {first.status} {first.reason}")
    summarise(first)
    etag = first.headers.get("ETag", "")
    # The replay a retried or re-run sync sends. If-Match says which version this run wrote: had
    # anyone changed the case in between, the API would answer 412 and change nothing.
    print(f"Replaying the same request with If-Match: {etag}")
    second = client.request("PUT", path, case, headers={"If-Match": etag} if etag else None)
    print(f"PUT {path} -> {second.status} {second.reason}")
    summarise(second)
    if second.status == 200 and second.body == first.body and second.headers.get("ETag") == etag:
        print("The replay answered 200 with a body identical to the first answer: nothing changed.")
        return True
    print("The replay's answer differs from the first one.", file=sys.stderr)
    return False


def load_case(path: str | None) -> dict:
    if path is None:
        return SAMPLE_CASE
    try:
        with open(path, encoding="utf-8") as file:
            case = json.load(file)
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    if not isinstance(case, dict):
        raise UsageError(f"{path} must hold one JSON object: the body of PUT /api/v1/cases/by-ref/...")
    return case


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Upsert one case into the MITP database, then replay it.")
    parser.add_argument("--base-url", default=os.environ.get("MITP_BASE_URL"), help="default: $MITP_BASE_URL")
    parser.add_argument("--client-id", default=os.environ.get("MITP_CLIENT_ID"), help="default: $MITP_CLIENT_ID")
    parser.add_argument(
        "--client-secret",
        default=os.environ.get("MITP_CLIENT_SECRET"),
        help="default: $MITP_CLIENT_SECRET (prefer the variable: arguments are visible to other users)",
    )
    parser.add_argument("--file", help="JSON body of the upsert (default: a built-in sample without identity)")
    parser.add_argument("--source", default="pdi-parte", help="source system (default: pdi-parte)")
    parser.add_argument(
        "--reference", default=SAMPLE_REFERENCE, help=f"the case's reference (default: {SAMPLE_REFERENCE})"
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds per HTTP request (default: 60)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        missing = [name for name in ("base_url", "client_id", "client_secret") if not getattr(args, name)]
        if missing:
            raise UsageError("missing " + ", ".join("MITP_" + name.upper() for name in missing))
        if urllib.parse.urlsplit(args.base_url).scheme not in ("https", "http"):
            raise UsageError(f"MITP_BASE_URL must be an https:// URL (http:// for a test server): {args.base_url!r}")
        case = load_case(args.file)
    except UsageError as exc:
        print(f"sync_client: {exc}", file=sys.stderr)
        return 2
    client = MitpClient(args.base_url, args.client_id, args.client_secret, timeout=args.timeout)
    try:
        return 0 if upsert_twice(client, args.source, args.reference, case) else 1
    except ApiError as error:
        print_problem(error)
        return 1


if __name__ == "__main__":
    sys.exit(main())
