"""Background work on Django's task framework (django-tasks, the backport of Django 6's
``django.tasks``, with its database backend django-tasks-db).

Every app that has background work keeps a ``tasks.py`` of ``@task`` functions that call
its services (``agrega/billing/tasks.py``, ``agrega/imports/tasks.py``, …); entry points
(pages, API, CLI, the periodic scheduler) only *enqueue* them. The queue is a table of
our own database, so SQLite and PostgreSQL behave alike and a task is enqueued in the
same transaction as the row it works on.

What this module adds to the framework, and why (docs/decisions/0008-task-framework.md):

* ``TaskWorker``: django-tasks-db's worker plus a heartbeat thread. django-tasks-db marks
  a task RUNNING when a worker claims it and never looks at it again: a worker killed
  mid-task (SIGKILL, OOM, machine lost) leaves it RUNNING forever. Each worker writes
  ``TaskWorkerBeat`` every ``TASK_HEARTBEAT_SECONDS``; any live worker puts a RUNNING
  task whose worker has been silent for ``TASK_LEASE_SECONDS`` back to READY
  (``reclaim_orphans``), up to ``TASK_MAX_ATTEMPTS`` claims in all. Every task is
  written to be run again (the services resume: see each ``tasks.py``).
* The periodic scheduler (``agrega/core/jobs.py``): the framework has none, so the
  heartbeat thread also enqueues the periodic jobs that are due, once per due time and
  on one machine only (the ScheduledJob claim).
* ``task_link``: what a task works on (a billing run, an import…), so that the progress
  page, the API and the CLI can point from the task to the domain row that keeps its
  progress and result.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection
from django.urls import reverse
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from .models import TaskWorkerBeat

log = logging.getLogger("agrega.tasks")

STATUS_LABELS = {
    TaskResultStatus.READY: "na fila",
    TaskResultStatus.RUNNING: "em execução",
    TaskResultStatus.SUCCESSFUL: "concluída",
    TaskResultStatus.FAILED: "falhou",
}
if hasattr(TaskResultStatus, "CANCELLED"):
    STATUS_LABELS[TaskResultStatus.CANCELLED] = "cancelada"

WORKER_LOST = "agrega.core.tasks.WorkerLost"


class WorkerLost(Exception):
    """Recorded on a task whose workers died ``TASK_MAX_ATTEMPTS`` times while running it."""


# ------------------------------------------------------------------ links to domain rows

_LINKS: dict[str, Callable[[dict, object], tuple[str, str] | None]] = {}


def links_to(task_obj, describe: Callable[[dict, object], tuple[str, str] | None]):
    """Declare what a task works on: ``describe(kwargs, return_value)`` → (label, page
    URL); the return value is None until the task has finished. The progress
    page and the API show it, so the operator follows the task to the row that keeps its
    progress (BillingRun, ImportJob, Campaign, ReconciliationRun…)."""
    _LINKS[task_obj.module_path] = describe
    return task_obj


def task_link(row: DBTaskResult) -> tuple[str, str] | None:
    describe = _LINKS.get(row.task_path)
    if describe is None:
        return None
    try:
        return describe(row.args_kwargs.get("kwargs", {}), row.return_value)
    except Exception:  # a link is a convenience: never break the page for it
        log.exception("task %s: no link", row.pk)
        return None


def task_get(task_id) -> DBTaskResult | None:
    """The task's row, or None (an id that is not a UUID is simply not found)."""
    try:
        return DBTaskResult.objects.filter(pk=uuid.UUID(str(task_id))).first()
    except ValueError:
        return None


def task_data(row: DBTaskResult) -> dict:
    """The task as the API and the CLI show it."""
    link = task_link(row)
    error = ""
    if row.status == TaskResultStatus.FAILED:
        error = (row.traceback.strip().splitlines() or [""])[-1][:500]
    return {
        "id": str(row.pk),
        "name": row.task_path.rsplit(".", 1)[-1],
        "status": row.status,
        "status_label": STATUS_LABELS.get(row.status, row.status),
        "enqueued_at": row.enqueued_at,
        "started_at": row.started_at,
        "finished_at": row.finished_at,
        "attempts": len(row.worker_ids or []),
        "result": row.return_value,
        "error": error,
        "link_label": link[0] if link else "",
        "link_url": link[1] if link else "",
        "url": reverse("api:task_detail", args=[str(row.pk)]),
        "page_url": reverse("web:task", args=[str(row.pk)]),
    }


def task_list(*, limit: int = 50):
    return DBTaskResult.objects.order_by("-enqueued_at")[:limit]


# ------------------------------------------------------------------ the worker

def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"[:64]


def beat(worker: str, now=None) -> None:
    now = now or timezone.now()
    if not TaskWorkerBeat.objects.filter(worker_id=worker).update(beat_at=now):
        TaskWorkerBeat.objects.get_or_create(worker_id=worker, defaults={"beat_at": now, "started_at": now})


def reclaim_orphans(now=None) -> dict:
    """Put back in the queue each RUNNING task whose worker stopped beating; fail it for
    good after ``TASK_MAX_ATTEMPTS`` claims (a task that kills its worker every time)."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.TASK_LEASE_SECONDS)
    alive = set(TaskWorkerBeat.objects.filter(beat_at__gte=stale).values_list("worker_id", flat=True))
    requeued, failed = [], []
    for row in DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).only(
            "id", "worker_ids", "started_at"):
        last = row.worker_ids[-1] if row.worker_ids else None
        if last in alive or (row.started_at and row.started_at >= stale):
            continue
        same = DBTaskResult.objects.filter(pk=row.pk, status=TaskResultStatus.RUNNING, started_at=row.started_at)
        if len(row.worker_ids or []) >= settings.TASK_MAX_ATTEMPTS:
            if same.update(status=TaskResultStatus.FAILED, finished_at=now, exception_class_path=WORKER_LOST,
                           traceback=f"{WORKER_LOST}: o processo que executava a tarefa parou "
                                     f"{len(row.worker_ids)} vez(es); sem novas tentativas."):
                failed.append(str(row.pk))
        elif same.update(status=TaskResultStatus.READY, started_at=None):
            requeued.append(str(row.pk))
    if requeued or failed:
        log.warning("tasks of dead workers: %s queued again, %s failed", requeued, failed)
    TaskWorkerBeat.objects.filter(beat_at__lt=now - timedelta(days=1)).delete()
    return {"requeued": requeued, "failed": failed}


class TaskWorker(Worker):
    """django-tasks-db's worker (one task at a time, SKIP LOCKED on PostgreSQL) with the
    heartbeat thread described in the module docstring. ``scheduler`` False: this worker
    does not enqueue the periodic jobs (another process does, or cron runs
    ``agrega jobs enqueue-due``)."""

    def __init__(self, *, scheduler: bool = True, interval: float | None = None, batch: bool = False,
                 max_tasks: int | None = None, worker: str | None = None):
        super().__init__(queue_names=["*"], interval=settings.TASK_POLL_SECONDS if interval is None else interval,
                         batch=batch, backend_name="default", startup_delay=False, max_tasks=max_tasks,
                         worker_id=worker or worker_id(), excluded_queue_names=[])
        self.scheduler = scheduler
        self.stop_event = threading.Event()
        self._beats: threading.Thread | None = None

    def _heartbeat(self) -> None:
        from .jobs import enqueue_due_jobs

        next_schedule = 0.0
        while not self.stop_event.is_set():
            try:
                close_old_connections()
                beat(self.worker_id)
                reclaim_orphans()
                if self.scheduler and timezone.now().timestamp() >= next_schedule:
                    enqueue_due_jobs(runner=self.worker_id)
                    next_schedule = timezone.now().timestamp() + settings.JOBS_POLL_SECONDS
            except Exception:  # the database may be away a while: try again at the next beat
                log.exception("task worker %s: heartbeat failed", self.worker_id)
            self.stop_event.wait(settings.TASK_HEARTBEAT_SECONDS)
        connection.close()

    def shutdown(self, signum, frame) -> None:
        """The first SIGINT/SIGTERM: finish the task in hand, then stop (django-tasks-db's
        own). Another SIGTERM while it finishes changes nothing — a supervisor that
        signals the whole control group and the parent's own stop may both send one —;
        only a second Ctrl+C (SIGINT) forces the stop, as the message says."""
        import signal

        if not self.running and signum == signal.SIGTERM:
            log.warning("task worker %s: SIGTERM again; still finishing the task in hand", self.worker_id)
            return
        super().shutdown(signum, frame)

    def start_heartbeat(self) -> None:
        beat(self.worker_id)  # before the first claim: a fresh task is never taken for an orphan
        reclaim_orphans()
        self._beats = threading.Thread(target=self._heartbeat, name="agrega-task-heartbeat", daemon=True)
        self._beats.start()

    def run(self) -> None:
        self.start_heartbeat()
        try:
            super().run()
        finally:
            self.stop_event.set()
            if self._beats:
                self._beats.join(timeout=10)
            TaskWorkerBeat.objects.filter(worker_id=self.worker_id).delete()


def run_ready_tasks(*, max_tasks: int | None = None) -> int:
    """Run the tasks ready now in this process, one after the other, then return how many
    ran (``agrega tasks run-ready``; tests drive the pages' work with it). The claim and
    the run are django-tasks-db's own (``Worker.run_task``); unlike its loop this keeps
    the caller's database connection (a test's transaction)."""
    from django_tasks_db.utils import exclusive_transaction

    worker = Worker(queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
                    max_tasks=max_tasks, worker_id=f"inline:{os.getpid()}", excluded_queue_names=[])
    ran = 0
    while max_tasks is None or ran < max_tasks:
        with exclusive_transaction(DBTaskResult.objects.db):
            row = DBTaskResult.objects.ready().filter(backend_name="default").get_locked()
            if row is not None:
                row.claim(worker.worker_id)
        if row is None:
            break
        worker.run_task(row)
        ran += 1
    return ran


@task()
def run_periodic_job(name: str) -> dict:
    """One run of a periodic job (settings.PERIODIC_JOBS), enqueued by the scheduler."""
    from .jobs import execute_job

    job = execute_job(name)
    return {"job": name, "ok": job.last_ok, "result": job.last_result, "error": job.last_error}


links_to(run_periodic_job, lambda kwargs, result: (f"Tarefa periódica {kwargs.get('name')}", reverse("web:tasks")))


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies, even by SIGKILL (Linux),
    so a killed ``agrega worker`` never leaves its task worker behind. The child finishes
    the task in hand; if it is killed too, its tasks are reclaimed (``reclaim_orphans``)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class TaskProcess:
    """The task worker as a child process of ``agrega worker`` (decision 0008: a second
    process, not a thread, so a CPU-heavy task — a 100k billing run — never shares the
    SVA loop's interpreter lock). A watcher restarts the child if it dies; ``stop`` sends
    it SIGTERM (it finishes the task in hand) and waits.

    The child gets **exactly one** SIGTERM: it runs in a session (process group) of its
    own, so a SIGTERM to ``agrega worker``'s group (a supervisor, ``kill -- -PGID``, a
    bench) reaches only the parent, which then stops the child itself; and the watcher
    thread — the thread that spawned a restarted child, whose end fires the child's
    parent-death signal (``_die_with_parent``: PR_SET_PDEATHSIG is per thread) — ends
    only after the child has. Before, the second SIGTERM made django-tasks-db's worker
    abandon the task in hand ("Received Terminated" twice, the task FAILED)."""

    def __init__(self, *, scheduler: bool = True, restart_delay: float = 2.0):
        self.scheduler = scheduler
        self.restart_delay = restart_delay
        self.proc = None
        self._stop = threading.Event()  # no more restarts
        self._done = threading.Event()  # the child has ended: the watcher may end too
        self._spawning = threading.Lock()
        self._watch: threading.Thread | None = None

    def _spawn(self):
        import subprocess
        import sys

        cmd = [sys.executable, "-m", "agrega.cli", "tasks", "worker"]
        if not self.scheduler:
            cmd.append("--no-scheduler")
        self.proc = subprocess.Popen(cmd, env=dict(os.environ), preexec_fn=_die_with_parent,
                                     start_new_session=True)
        log.info("task worker started (pid %s)", self.proc.pid)

    def _watcher(self) -> None:
        while not self._done.wait(1.0):
            with self._spawning:
                if self._stop.is_set() or self.proc is None or self.proc.poll() is None:
                    continue
                log.warning("task worker (pid %s) ended with %s; starting another", self.proc.pid,
                            self.proc.returncode)
            if self._stop.wait(self.restart_delay):
                continue
            with self._spawning:
                if not self._stop.is_set():
                    self._spawn()

    def start(self) -> None:
        self._spawn()
        self._watch = threading.Thread(target=self._watcher, name="agrega-task-watch", daemon=True)
        self._watch.start()

    def stop(self, timeout: float = 30.0) -> None:
        import signal
        import subprocess

        with self._spawning:
            self._stop.set()
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            self._done.set()
            if self._watch:
                self._watch.join(timeout=5)


def actor_of(actor_id: int | None):
    """The user a task acts for (tasks take JSON arguments: the user's id, not the user)."""
    if actor_id is None:
        return None
    from django.contrib.auth import get_user_model

    return get_user_model().objects.filter(pk=actor_id).first()


def actor_id(actor) -> int | None:
    return actor.pk if getattr(actor, "is_authenticated", False) else None


def again_later(task_obj, *, seconds: float, **kwargs):
    """Enqueue the task once more, to run after ``seconds``: for work another runner still
    holds under its own lease (an import or campaign whose process has just died)."""
    return task_obj.using(run_after=timezone.now() + timedelta(seconds=seconds)).enqueue(**kwargs)
