"""Periodic jobs: the daily billing run and dunning sweep, trust-release expiry, customer
notices, campaigns, imports, reconciliation, SVA retention.

The table of jobs is ``settings.PERIODIC_JOBS`` (name → dotted callable and either
``every_seconds`` or ``daily_at`` "HH:MM" local time). Periodic work only *enqueues*:
django-tasks has no scheduler, so every task worker (agrega/core/tasks.py) polls here
and, for a due job, claims it with one conditional UPDATE on its ScheduledJob row and
enqueues the ``run_periodic_job`` task in the same transaction — once per due time, on
one machine, however many workers poll. The task runs the job and releases the claim.
A job that fails is retried at its next due time; its error is kept on the row.
``agrega jobs run``/``run-due`` still run a job in the calling process (cron).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
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
    """Run one job now in this process if this runner can claim it (``agrega jobs run``,
    ``run-due`` for an installation driven by cron); return its row afterwards (None if
    not run)."""
    if name not in job_specs():
        raise KeyError(name)
    runner = runner or runner_id()
    ensure_jobs()
    if not claim(name, runner=runner, force=force):
        return None
    return execute_job(name)


def execute_job(name: str) -> ScheduledJob:
    """Call the job and record its outcome on its row (the next due time, the result or
    the error), releasing its claim. The body of the ``run_periodic_job`` task."""
    spec = job_specs().get(name)
    if spec is None:
        raise KeyError(name)
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
        job.next_run_at = max(job.next_run_at, spec.next_after(started))
        job.locked_until, job.locked_by = None, ""
        job.save()
    log.info("job %s %s in %.0f ms", name, "ok" if ok else "failed", duration)
    return job


def run_due_jobs(*, runner: str | None = None) -> list[str]:
    """Run every job that is due now in this process; return the names run."""
    return [name for name in _due_names() if run_job(name, runner=runner) is not None]


def _due_names() -> list[str]:
    ensure_jobs()
    return list(ScheduledJob.objects.filter(name__in=list(job_specs()), next_run_at__lte=timezone.now())
                .order_by("next_run_at").values_list("name", flat=True))


def enqueue_job(name: str, *, runner: str | None = None, force: bool = False):
    """Claim the job (due, or ``force``) and enqueue its task in the same transaction:
    once per due time, on one machine. The claim is held until the task records its
    outcome (``execute_job``), so a job never runs twice at once. Returns the task
    result, or None when the job was not due or is queued/running already."""
    from .tasks import run_periodic_job

    spec = job_specs().get(name)
    if spec is None:
        raise KeyError(name)
    runner = runner or runner_id()
    ensure_jobs()
    now = timezone.now()
    with transaction.atomic():
        if not claim(name, runner=runner, now=now, force=force):
            return None
        result = run_periodic_job.enqueue(name=name)
        ScheduledJob.objects.filter(name=name).update(
            locked_by=f"task:{result.id}"[:64], next_run_at=spec.next_after(now))
    return result


def enqueue_due_jobs(*, runner: str | None = None) -> list[str]:
    """The scheduler: enqueue every job due now (agrega/core/tasks.py calls it from each
    task worker's heartbeat); return the names enqueued."""
    return [name for name in _due_names() if enqueue_job(name, runner=runner) is not None]


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def purge_expired_records() -> dict:
    """Hourly: forget old login failures and idempotency answers."""
    from .idempotency import purge_expired
    from .throttle import purge_old

    return {"login_failures": purge_old(), "idempotency": purge_expired()["deleted"]}
