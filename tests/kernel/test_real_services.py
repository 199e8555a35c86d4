"""PostgreSQL, Redis and a Celery worker over real connections."""

import pytest
from celery.result import EagerResult
from django.core.cache import cache
from django.db import connection

from kernel.tasks import heartbeat


def test_the_database_is_a_real_postgresql(db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        assert int(cursor.fetchone()[0]) >= 150000
    assert connection.vendor == "postgresql"


def test_the_cache_round_trips_through_real_redis():
    cache.set("prueba:clave", {"valor": 1}, timeout=30)
    assert cache.get("prueba:clave") == {"valor": 1}
    cache.delete("prueba:clave")


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_task_from_the_redis_queue(celery_worker):
    cache.delete("kernel:last-heartbeat")
    result = heartbeat.delay()
    stamp = result.get(timeout=20)
    assert cache.get("kernel:last-heartbeat") == stamp
    assert not isinstance(result, EagerResult)  # sent through Redis, not run at once in the test
