import pytest
from celery.contrib.testing.worker import start_worker

from config.celery import app
from tests.clients import VerifiedClient
from tests.factories import InstitutionFactory, UserFactory


@pytest.fixture
def client():
    """Django's test client, with force_login passing the second factor (tests/clients.py)."""
    return VerifiedClient()


@pytest.fixture
def institution(db):
    return InstitutionFactory(short_name="PDI", name="Policía de Investigaciones de Chile")


@pytest.fixture
def officer(institution):
    return UserFactory(username="oficial.pdi", institution=institution)


@pytest.fixture
def lead(institution):
    """The institution that leads the case under test (a module may define its own)."""
    return institution


@pytest.fixture
def officer_client(client, officer):
    """A browser signed in as ``officer`` (a case officer of ``institution``), second factor passed."""
    client.force_login(officer)
    return client


@pytest.fixture
def celery_worker():
    """A real Celery worker, in this process, in a thread, consuming this process's own queue in
    Redis (config.settings.test). Tasks sent while it runs go through Redis to it instead of
    running at once (the test settings' eager mode is off meanwhile). Needs committed data:
    ``pytest.mark.django_db(transaction=True)``, as the worker's thread has a connection of its
    own."""
    app.conf.task_always_eager = False
    try:
        with start_worker(app, perform_ping_check=False, pool="solo", shutdown_timeout=10) as worker:
            yield worker
    finally:
        app.conf.task_always_eager = True
