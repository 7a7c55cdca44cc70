"""Periodic jobs: the daily billing run and dunning sweep, trust-release expiry, customer
notices, campaigns.

The table of jobs is ``settings.PERIODIC_JOBS`` (name → dotted callable and either
``every_seconds`` or ``daily_at`` "HH:MM" local time). Any number of runners (the
``agrega worker`` processes start one each, or ``agrega jobs run-due``) may poll: a
runner claims a due job with one conditional UPDATE on its ScheduledJob row and holds
it for a lease, so a job runs on one machine at a time and never twice for one due time.
A job that fails is retried at its next due time; its error is kept on the row.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.module_loading import import_string

from .models import ScheduledJob

log = logging.getLogger("agrega.jobs")
LEASE_SECONDS = 3600


@dataclass(frozen=True)
class JobSpec:
    name: str
    call: str
    every_seconds: int | None = None
    daily_at: str | None = None

    def next_after(self, moment: datetime) -> datetime:
        if self.every_seconds:
            return moment + timedelta(seconds=self.every_seconds)
        hour, minute = (int(x) for x in (self.daily_at or "00:00").split(":"))
        local = timezone.localtime(moment)
        candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
        if candidate <= local:
            candidate = timezone.make_aware(
                datetime.combine(local.date() + timedelta(days=1), candidate.time().replace(tzinfo=None)))
        return candidate


def job_specs() -> dict[str, JobSpec]:
    return {name: JobSpec(name=name, **spec) for name, spec in getattr(settings, "PERIODIC_JOBS", {}).items()}


def ensure_jobs(now=None) -> None:
    """Create the rows of jobs new to this installation: interval jobs are due at once,
    daily jobs at their next occurrence."""
    now = now or timezone.now()
    known = set(ScheduledJob.objects.values_list("name", flat=True))
    for spec in job_specs().values():
        if spec.name not in known:
            first = now if spec.every_seconds else spec.next_after(now)
            ScheduledJob.objects.get_or_create(name=spec.name, defaults={"next_run_at": first})


def claim(name: str, *, runner: str, now=None, force: bool = False) -> bool:
    """Take the job for ``runner`` if it is due (or ``force``) and nobody holds it."""
    now = now or timezone.now()
    free = Q(locked_until__isnull=True) | Q(locked_until__lt=now)
    due = Q() if force else Q(next_run_at__lte=now)
    return ScheduledJob.objects.filter(free, due, name=name).update(
        locked_until=now + timedelta(seconds=LEASE_SECONDS), locked_by=runner) == 1


def run_job(name: str, *, runner: str | None = None, force: bool = False) -> ScheduledJob | None:
    """Run one job if this runner can claim it; return its row afterwards (None if not run)."""
    spec = job_specs().get(name)
    if spec is None:
        raise KeyError(name)
    runner = runner or runner_id()
    ensure_jobs()
    if not claim(name, runner=runner, force=force):
        return None
    started = timezone.now()
    clock = time.monotonic()
    ok, result, error = True, {}, ""
    try:
        outcome = import_string(spec.call)()
        result = outcome if isinstance(outcome, dict) else ({"result": outcome} if outcome is not None else {})
    except Exception as exc:  # a job's failure is recorded, never kills the runner
        ok, error = False, f"{type(exc).__name__}: {exc}"[:500]
        log.exception("job %s failed", name)
    duration = (time.monotonic() - clock) * 1000
    with transaction.atomic():
        job = ScheduledJob.objects.select_for_update().get(name=name)
        job.runs += 1
        job.failures = 0 if ok else job.failures + 1
        job.last_started_at, job.last_finished_at = started, timezone.now()
        job.last_duration_ms, job.last_ok, job.last_result, job.last_error = duration, ok, result, error
        job.next_run_at = spec.next_after(started)
        job.locked_until, job.locked_by = None, ""
        job.save()
    log.info("job %s %s in %.0f ms", name, "ok" if ok else "failed", duration)
    return job


def run_due_jobs(*, runner: str | None = None) -> list[str]:
    """Run every job that is due now; return the names run."""
    ensure_jobs()
    now = timezone.now()
    names = list(ScheduledJob.objects.filter(name__in=list(job_specs()), next_run_at__lte=now)
                 .order_by("next_run_at").values_list("name", flat=True))
    return [name for name in names if run_job(name, runner=runner) is not None]


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class JobRunner(threading.Thread):
    """Polls for due jobs in a thread of the worker process until ``stop`` is set."""

    def __init__(self, *, poll_seconds: float = 15.0):
        super().__init__(name="agrega-jobs", daemon=True)
        self.poll_seconds = poll_seconds
        self.stop_event = threading.Event()

    def run(self) -> None:
        runner = runner_id() + ":jobs"
        while not self.stop_event.is_set():
            try:
                close_old_connections()
                run_due_jobs(runner=runner)
            except Exception:  # the database may be away for a while; try again later
                log.exception("job runner cycle failed")
            finally:
                close_old_connections()
            self.stop_event.wait(self.poll_seconds)

    def stop(self) -> None:
        self.stop_event.set()


def purge_expired_records() -> dict:
    """Hourly: forget old login failures and idempotency answers."""
    from .idempotency import purge_expired
    from .throttle import purge_old

    return {"login_failures": purge_old(), "idempotency": purge_expired()["deleted"]}
