import logging
from datetime import timedelta

from celery import shared_task
from django.db import OperationalError
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from stats.models import SnapshotKind
from stats.snapshots import snapshot_compute

logger = logging.getLogger(__name__)

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


# Beat's own runs retry like compute_snapshot: they call it as a function (one worker, one
# after the other), so its retry policy would not apply to them. A database hiccup at 02:30, or
# on 2 January, must not cost a night's, or a year's, closing snapshot.
BEAT_RETRY = {"acks_late": True, "autoretry_for": (OperationalError,), "retry_backoff": 60, "max_retries": 8}
STALE_PENDING = timedelta(minutes=10)  # queued but never started: the broker lost it, or was down
STALE_RUNNING = timedelta(hours=2)  # started and never finished: the worker died mid-run


@shared_task(name="stats.nightly_refresh", **BEAT_RETRY)
def nightly_refresh() -> int:
    """Beat, nightly: the current year's tables (a new snapshot only if the data changed)."""
    year = timezone.localdate().year
    return compute_snapshot(year, year, kind=SnapshotKind.NIGHTLY)


@shared_task(name="stats.annual_closing", **BEAT_RETRY)
def annual_closing() -> int:
    """Beat, in January: the closing snapshot of the previous year, and the series up to it."""
    year = timezone.localdate().year - 1
    compute_snapshot(year, year, kind=SnapshotKind.ANNUAL_CLOSING)
    return compute_snapshot(FIRST_YEAR, year, kind=SnapshotKind.ANNUAL_CLOSING)


# Fixed sentences (never an exception's text, which could quote data).
FAILED_MESSAGE = gettext_noop("El cálculo no pudo completarse. Vuelva a intentarlo o avise a soporte.")
ABANDONED_MESSAGE = gettext_noop("El cálculo se interrumpió y no terminó. Vuelva a pedirlo.")
NOT_QUEUED_MESSAGE = gettext_noop("No se pudo encolar el cálculo. Vuelva a pedirlo en unos minutos.")


def queue_statistics_request(request_id: int) -> None:
    """Queue a request (after its transaction commits). A broker that refuses the message does
    not leave the request *pendiente* forever with its page polling: it fails, saying so."""
    from stats.models import RequestStatus, StatisticsRequest

    try:
        run_statistics_request.delay(request_id)
    except Exception:
        logger.exception("statistics request %s could not be queued", request_id)
        StatisticsRequest.objects.filter(pk=request_id, status=RequestStatus.PENDING).update(
            status=RequestStatus.FAILED, finished_at=timezone.now(), error=gettext(NOT_QUEUED_MESSAGE)
        )


@shared_task(name="stats.sweep_requests")
def sweep_requests() -> dict[str, int]:
    """Beat, every 10 minutes: queue again the requests left *pendiente* (a message lost, a
    broker down at commit), and fail those *en curso* for too long (a worker killed mid-run), so
    no page polls for ever. Returns how many of each."""
    from stats.models import RequestStatus, StatisticsRequest

    now = timezone.now()
    stale = StatisticsRequest.objects.filter(status=RequestStatus.PENDING, created_at__lt=now - STALE_PENDING)
    requeued = list(stale.values_list("pk", flat=True))
    for request_id in requeued:
        queue_statistics_request(request_id)
    abandoned = StatisticsRequest.objects.filter(
        status=RequestStatus.RUNNING, started_at__lt=now - STALE_RUNNING
    ).update(status=RequestStatus.FAILED, finished_at=now, error=gettext(ABANDONED_MESSAGE))
    return {"requeued": len(requeued), "abandoned": abandoned}


@shared_task(name="stats.run_statistics_request", acks_late=True)
def run_statistics_request(request_id: int) -> int | None:
    """A recalculation asked for from the dashboard: en curso, then lista with its snapshot, or
    fallida (logged; the request keeps a fixed sentence, never the exception's text). Safe to run
    again: a request already done is left as it is, and the snapshot is found, not recomputed,
    when the data did not change."""
    from stats.models import RequestStatus, StatisticsRequest

    # Claim the run: a pending request, or one whose run has been silent for longer than
    # STALE_RUNNING (its worker died). A duplicate message for a live run claims nothing. The
    # start time is the claim's token: only the run holding it may finish the request.
    started = timezone.now()
    claimable = Q(status=RequestStatus.PENDING) | Q(
        status=RequestStatus.RUNNING, started_at__lt=started - STALE_RUNNING
    )
    if not StatisticsRequest.objects.filter(claimable, pk=request_id).update(
        status=RequestStatus.RUNNING, started_at=started
    ):
        return None
    mine = StatisticsRequest.objects.filter(pk=request_id, status=RequestStatus.RUNNING, started_at=started)
    stats_request = StatisticsRequest.objects.select_related("requested_by").get(pk=request_id)
    try:
        snapshot, _created = snapshot_compute(
            year_from=stats_request.year_from,
            year_to=stats_request.year_to,
            registers=stats_request.registers,
            kind=SnapshotKind.REQUESTED,
            requested_by=stats_request.requested_by,
        )
    except Exception:
        logger.exception("statistics request %s failed", request_id)
        mine.update(status=RequestStatus.FAILED, finished_at=timezone.now(), error=gettext(FAILED_MESSAGE))
        return None
    # Not if the sweep failed it meanwhile (ran too long): the requester was told, and may have
    # asked again.
    mine.update(status=RequestStatus.READY, snapshot=snapshot, finished_at=timezone.now(), error="")
    return snapshot.pk
