"""Statistics snapshots: computed once per parameters and data, by the service and by a real
Celery worker against Redis; what changes the data fingerprint and what does not."""

from __future__ import annotations

import datetime
from unittest import mock

import pytest
from django.core.exceptions import ValidationError

from cases.models import Case
from stats.models import SnapshotKind, StatisticsSnapshot
from stats.snapshots import data_fingerprint, snapshot_compute
from stats.tables import DEFINITION_VERSION
from stats.tasks import compute_snapshot
from tests.factories import CaseFactory, VictimFactory
from tests.protocol.conftest import TASK_TIMEOUT
from victims.models import CaseVictim, Victim


def a_case_with_a_victim(year: int = 2020) -> tuple:
    case = CaseFactory(intake_date=datetime.date(year, 3, 1))
    victim = VictimFactory()
    CaseVictim.objects.create(case=case, victim=victim)
    return case, victim


@pytest.mark.django_db
def test_the_same_parameters_over_the_same_data_make_one_snapshot():
    a_case_with_a_victim()
    first, created = snapshot_compute(year_from=2019, year_to=2021, registers=["identificadas"])
    again, created_again = snapshot_compute(year_from=2019, year_to=2021, registers=["identificadas"])
    assert (created, created_again) == (True, False) and again.pk == first.pk
    assert StatisticsSnapshot.objects.count() == 1
    assert first.definition_version == str(DEFINITION_VERSION)
    assert (first.year_from, first.year_to, first.registers) == (2019, 2021, ["identificadas"])
    assert first.tables and all(table["register"] == "identificadas" for table in first.tables)
    assert first.computation_ms >= 0 and len(first.data_fingerprint) == 64


@pytest.mark.django_db
def test_registers_in_another_order_are_the_same_parameters():
    a_case_with_a_victim()
    first, _ = snapshot_compute(year_from=2020, year_to=2020, registers=["identificadas", "formalizadas"])
    second, created = snapshot_compute(year_from=2020, year_to=2020, registers=["formalizadas", "identificadas"])
    assert not created and second.pk == first.pk


@pytest.mark.django_db
def test_a_counted_change_makes_a_new_snapshot_and_an_identity_correction_does_not():
    case, victim = a_case_with_a_victim()
    first, _ = snapshot_compute(year_from=2020, year_to=2020)
    before = data_fingerprint()

    victim.given_names = "Nombre corregido"  # identity: not read by the statistics
    victim.save()
    assert data_fingerprint() == before
    assert snapshot_compute(year_from=2020, year_to=2020)[1] is False

    Victim.objects.filter(pk=victim.pk).update(sex="masculino")  # a counted value
    assert data_fingerprint() != before
    second, created = snapshot_compute(year_from=2020, year_to=2020)
    assert created and second.pk != first.pk

    CaseVictim.objects.filter(case=case).delete()  # a record gone
    assert snapshot_compute(year_from=2020, year_to=2020)[1] is True
    assert StatisticsSnapshot.objects.count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"year_from": 2023, "year_to": 2011}, "year_to"),
        ({"year_from": 1800, "year_to": 2011}, "year_from"),
        ({"year_from": 2011, "year_to": 2023, "registers": ["todas"]}, "registers"),
    ],
)
def test_bad_parameters_are_refused_on_their_field_and_nothing_is_saved(arguments, field):
    with pytest.raises(ValidationError) as refused:
        snapshot_compute(**arguments)
    assert field in refused.value.message_dict
    assert not StatisticsSnapshot.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_computes_a_snapshot_and_a_second_run_dedupes(celery_worker):
    a_case_with_a_victim(2021)
    sent = [compute_snapshot.delay(2020, 2022, ["identificadas"]) for _ in range(2)]
    ids = {result.get(timeout=TASK_TIMEOUT) for result in sent}
    assert len(ids) == 1 and StatisticsSnapshot.objects.count() == 1
    snapshot = StatisticsSnapshot.objects.get()
    assert snapshot.kind == SnapshotKind.REQUESTED and snapshot.registers == ["identificadas"]
    # Run again later: still the same snapshot, the data has not changed.
    assert compute_snapshot.delay(2020, 2022, ["identificadas"]).get(timeout=TASK_TIMEOUT) == snapshot.pk
    assert StatisticsSnapshot.objects.count() == 1


@pytest.mark.django_db
def test_data_changed_and_changed_back_make_the_first_snapshot_current_again():
    """Review finding: A, B, A made no third snapshot (right) but the dashboard showed B's."""
    from stats.views import latest_snapshot

    case, _victim = a_case_with_a_victim(2022)
    first, _ = snapshot_compute(year_from=2022, year_to=2023, registers=["identificadas"])
    Case.objects.filter(pk=case.pk).update(status="suspendida")
    second, created = snapshot_compute(year_from=2022, year_to=2023, registers=["identificadas"])
    assert created
    assert latest_snapshot(register="identificadas", year_from=2022, year_to=2023) == second
    Case.objects.filter(pk=case.pk).update(status="vigente")
    again, created = snapshot_compute(year_from=2022, year_to=2023, registers=["identificadas"])
    assert (again.pk, created) == (first.pk, False)
    assert again.confirmed_at > second.confirmed_at
    assert latest_snapshot(register="identificadas", year_from=2022, year_to=2023) == first


def cases_counted(snapshot) -> int:
    table = next(t for t in snapshot.tables if t["key"] == "casos_por_anio")
    return table["totals"][0]


@pytest.mark.django_db(transaction=True)
def test_the_tables_are_exactly_the_data_the_fingerprint_describes_while_others_write():
    """Review finding: the fingerprint was read before the tables, each in its own statement; a
    case committed in between was counted in tables whose fingerprint did not cover it. Now both
    are read in one REPEATABLE READ transaction."""
    import threading

    from stats import snapshots

    a_case_with_a_victim(2022)
    real_compute = snapshots.compute_tables

    def compute_after_someone_commits(**kwargs):
        def another_officer():
            from django.db import connection

            a_case_with_a_victim(2022)
            connection.close()

        writer = threading.Thread(target=another_officer)
        writer.start()
        writer.join()
        return real_compute(**kwargs)

    with mock.patch.object(snapshots, "compute_tables", compute_after_someone_commits):
        first, _ = snapshot_compute(year_from=2022, year_to=2023, registers=["identificadas"])
    assert cases_counted(first) == 1, "the case committed during the computation is not in its tables"
    assert Case.objects.count() == 2
    second, created = snapshot_compute(year_from=2022, year_to=2023, registers=["identificadas"])
    assert created and cases_counted(second) == 2 and second.data_fingerprint != first.data_fingerprint
    # The first snapshot's fingerprint is the data it counted: without the second case.
    added = Case.objects.order_by("-pk").first()
    link = CaseVictim.objects.get(case=added)
    link.delete()
    added.delete()
    Victim.objects.filter(pk=link.victim_id).delete()
    assert data_fingerprint() == first.data_fingerprint


@pytest.mark.django_db
def test_beat_runs_retry_on_a_database_hiccup():
    """Review finding: nightly_refresh and annual_closing called compute_snapshot as a function,
    so its retry policy never applied; a hiccup on 2 January cost the year's closing snapshot."""
    from django.db import OperationalError

    from stats.tasks import annual_closing, nightly_refresh

    for task in (nightly_refresh, annual_closing):
        assert OperationalError in task.autoretry_for and task.acks_late and task.max_retries >= 5
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return StatisticsSnapshot(pk=7), True

    with mock.patch("stats.tasks.snapshot_compute", side_effect=flaky):
        result = nightly_refresh.apply()
    assert result.successful() and result.result == 7 and len(calls) == 2
