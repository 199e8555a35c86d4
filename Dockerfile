# Production image. One image serves every role in docker-compose.yml: gunicorn (the default
# command), the Celery worker, Celery beat and the one-shot migrate job.
# Only requirements/base.txt is installed: no dev tools and no embedded servers.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production

WORKDIR /app

RUN groupadd --system --gid 10001 mitp \
 && useradd --system --uid 10001 --gid mitp --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mitp

# Dependencies first, so code changes do not reinstall them. The lock pins every version.
COPY requirements/base.txt requirements/base.txt
RUN pip install -r requirements/base.txt

# The code. .dockerignore keeps out var/ (a developer's keys and data), .env (production
# secrets), the virtualenv, tests and developer tools.
COPY . .

# collectstatic needs settings to load, and settings need these variables; the kernel app
# refuses to start without valid keys. The values below are throw-away, generated for this
# one command, and exist in no layer or image environment.
RUN DJANGO_SECRET_KEY=build-only-not-a-secret \
    DATABASE_URL=postgres://build@localhost:5432/build \
    REDIS_URL=redis://localhost:6379/0 \
    FIELD_ENCRYPTION_KEYS="1:$(python -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')" \
    BLIND_INDEX_KEY="$(python -c 'import base64,os;print(base64.b64encode(os.urandom(32)).decode())')" \
    python manage.py collectstatic --noinput

# Code and static files stay owned by root: the service user can read them, not change them.
USER mitp

EXPOSE 8000

# gunicorn reads WEB_CONCURRENCY (number of workers) and GUNICORN_CMD_ARGS from the environment.
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--timeout", "60"]
