from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from stats.models import SnapshotKind
from stats.snapshots import snapshot_compute

FIRST_YEAR = 2011  # the MITP's series starts with the 2011 law (Ley 20.507)


@shared_task(
    name="stats.compute_snapshot",
    acks_late=True,  # a worker lost mid-run leaves the message to another: the run is idempotent
    autoretry_for=(OperationalError,),
    retry_backoff=30,
    max_retries=5,
)
def compute_snapshot(
    year_from: int,
    year_to: int,
    registers: list[str] | None = None,
    kind: str = SnapshotKind.REQUESTED,
    requested_by_id=None,
) -> int:
    """Compute (or find) the snapshot for these parameters; returns its id."""
    from institutions.models import User

    requested_by = User.objects.filter(pk=requested_by_id).first() if requested_by_id else None
    snapshot, _created = snapshot_compute(
        year_from=year_from, year_to=year_to, registers=registers, kind=kind, requested_by=requested_by
    )
    return snapshot.pk


@shared_task(name="stats.nightly_refresh")
def nightly_refresh() -> int:
    """Beat, nightly: the current year's tables (a new snapshot only if the data changed)."""
    year = timezone.localdate().year
    return compute_snapshot(year, year, kind=SnapshotKind.NIGHTLY)


@shared_task(name="stats.annual_closing")
def annual_closing() -> int:
    """Beat, in January: the closing snapshot of the previous year, and the series up to it."""
    year = timezone.localdate().year - 1
    compute_snapshot(year, year, kind=SnapshotKind.ANNUAL_CLOSING)
    return compute_snapshot(FIRST_YEAR, year, kind=SnapshotKind.ANNUAL_CLOSING)
