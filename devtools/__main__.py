"""Developer entry points behind `make run`, `make test` and `make bench`.

python -m devtools init-env             create var/dev.env (secret key, encryption keys) once
python -m devtools run                  migrate, seed demo data, serve with worker and beat
python -m devtools with-services CMD..  run CMD with DATABASE_URL/REDIS_URL (embedded if unset)
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import time

from devtools.embedded import ROOT, VAR, services_environment

PYTHON = sys.executable
DEV_ENV = VAR / "dev.env"


def _key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def init_env() -> None:
    """Create the developer's own keys once; they never leave ./var/ (git-ignored)."""
    if DEV_ENV.exists():
        return
    VAR.mkdir(exist_ok=True)
    DEV_ENV.write_text(
        "# Created by `make install` for this machine only. Losing it makes the local data unreadable.\n"
        f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"FIELD_ENCRYPTION_KEYS=1:{_key()}\n"
        f"BLIND_INDEX_KEY={_key()}\n"
    )
    DEV_ENV.chmod(0o600)
    print(f"[make] created {DEV_ENV.relative_to(ROOT)} with fresh keys")


def with_services(command: list[str]) -> int:
    with services_environment() as env:
        return subprocess.call(command, env=env, cwd=ROOT)


def run() -> int:
    init_env()
    with services_environment() as env:
        env.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
        manage = [PYTHON, "manage.py"]
        for step in (["migrate", "--noinput"], ["seed_demo"]):
            if subprocess.call(manage + step, env=env, cwd=ROOT) != 0:
                return 1
        celery = [PYTHON, "-m", "celery", "-A", "config"]
        commands = {
            "web": [*manage, "runserver", "127.0.0.1:8000", "--noreload"],
            "worker": [*celery, "worker", "--loglevel", "INFO", "--concurrency", "2"],
            "beat": [*celery, "beat", "--loglevel", "INFO", "--schedule", str(VAR / "celerybeat-schedule")],
        }
        processes = {name: subprocess.Popen(cmd, env=env, cwd=ROOT) for name, cmd in commands.items()}
        print("[make] serving http://127.0.0.1:8000/ — Ctrl-C stops everything", flush=True)
        try:
            while all(p.poll() is None for p in processes.values()):
                time.sleep(0.5)
            stopped = [name for name, p in processes.items() if p.poll() is not None]
            print(f"[make] {', '.join(stopped)} stopped; stopping the rest", flush=True)
        except KeyboardInterrupt:
            print("\n[make] stopping", flush=True)
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 15
            for process in processes.values():
                try:
                    process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    process.kill()
    return 0


def main(argv: list[str]) -> int:
    os.chdir(ROOT)
    if not argv:
        print(__doc__)
        return 2
    match argv[0]:
        case "init-env":
            init_env()
            return 0
        case "run":
            return run()
        case "with-services":
            return with_services(argv[1:] if argv[1:2] != ["--"] else argv[2:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
