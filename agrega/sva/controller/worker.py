"""The SVA worker loop: claim → converge concurrently → write outcomes in batches.

Only the main thread touches the database; platform calls run in a bounded thread pool.
Work is claimed with a lease (``claimed_until``) taken under ``FOR UPDATE SKIP LOCKED``
on PostgreSQL, so several workers on several machines share the queue, and a killed
worker's claims simply expire.
"""

from __future__ import annotations

import logging
import os
import queue
import random
import signal
import socket
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import F, Q, Subquery
from django.utils import timezone

from agrega.core.bulk import db_datetime
from agrega.integrations.connectors.base import (
    PERMANENT_KINDS,
    CallRecord,
    Connector,
    ConnectorError,
    ErrorCode,
    ErrorKind,
)
from agrega.integrations.models import SvaIntegration
from agrega.integrations.services import (
    connector_for,
    integration_record_config_error,
    integration_record_failure,
    integration_record_success,
)
from agrega.sva import pending as pending_queue
from agrega.sva import sql as sva_sql
from agrega.sva.models import SvaUser
from agrega.sva.selectors import derive_desired

from .engine import Outcome, WorkItem, converge

log = logging.getLogger("agrega.sva.worker")

# Errors that say "the platform is unwell" (count towards the circuit breaker).
PLATFORM_DOWN_KINDS = {ErrorKind.TRANSIENT, ErrorKind.UNKNOWN_OUTCOME}
# Errors that only the data can fix (400, 409, 413, 422: base.PERMANENT_KINDS): park the
# user — status "erro", no further attempt — until its data, contract or product changes
# (that queues it again, sva/pending.py). They say nothing about the platform's health:
# the platform answered, so they never count towards the circuit breaker.
PARK_KINDS = PERMANENT_KINDS
# A call refused with 429 is tried again in the same pass this many times (after the
# platform's Retry-After) before the user is written back to wait for a later pass.
RATE_LIMIT_RETRIES = 3
RATE_LIMIT_RETRY_MAX_WAIT = 10.0  # seconds; 3 such waits stay well inside the lease


def _conf(name: str):
    return settings.SVA_WORKER[name]


@dataclass
class WorkerStats:
    claimed: int = 0
    converged: int = 0
    failed: int = 0
    deferred: int = 0
    calls: int = 0
    database_errors: int = 0
    claim_seconds: float = 0.0  # main-thread time spent claiming (database)
    write_seconds: float = 0.0  # main-thread time spent writing outcomes (database)


class CircuitBreaker:
    """Per-integration breaker shared with other workers through the integration row.

    Closed: calls go. After N consecutive platform failures it opens until a time; then
    one probe call is let through (half-open); its success closes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._open_until: dict[int, float] = {}
        self._failures: dict[int, int] = {}
        self._probe_in_flight: set[int] = set()
        self._probe_owner: dict[int, int] = {}  # integration -> thread holding the probe
        self._pause_until: dict[int, float] = {}

    def load(self, integration: SvaIntegration) -> None:
        with self._lock:
            self._failures[integration.pk] = integration.consecutive_failures
            if integration.circuit_open_until:
                self._open_until[integration.pk] = integration.circuit_open_until.timestamp()

    def allow(self, integration_id: int) -> float | None:
        """None when a call may go now; otherwise the epoch time to try again."""
        now = time.time()
        with self._lock:
            until = self._open_until.get(integration_id)
            if until is None:
                return None
            if now < until:
                return until
            if integration_id in self._probe_in_flight:
                return now + 1.0
            self._probe_in_flight.add(integration_id)
            self._probe_owner[integration_id] = threading.get_ident()
            return None

    def release_probe(self, integration_id: int) -> None:
        """Give back the half-open slot this thread holds without judging the platform,
        when its user needed no platform call (e.g. a block then a release before the
        worker got to it). Without this the slot stayed taken for good and every later
        user of the integration was deferred forever: the worker made no more calls to
        a platform that had recovered (found by tests/faults, platform down)."""
        with self._lock:
            if self._probe_owner.get(integration_id) == threading.get_ident():
                self._probe_in_flight.discard(integration_id)
                del self._probe_owner[integration_id]

    def pause_for_rate_limit(self, integration_id: int, seconds: float) -> None:
        with self._lock:
            self._pause_until[integration_id] = max(
                self._pause_until.get(integration_id, 0), time.time() + seconds
            )

    def wait_if_paused(self, integration_id: int, stop: threading.Event) -> None:
        """Honour a platform's Retry-After for every call to it, not just the refused one."""
        while not stop.is_set():
            with self._lock:
                remaining = self._pause_until.get(integration_id, 0) - time.time()
            if remaining <= 0:
                return
            stop.wait(min(remaining, 0.5))

    def record(self, integration_id: int, *, success: bool) -> tuple[int, float | None]:
        """Returns (consecutive failures, open-until epoch or None) after this result."""
        with self._lock:
            self._probe_in_flight.discard(integration_id)
            self._probe_owner.pop(integration_id, None)
            if success:
                self._failures[integration_id] = 0
                self._open_until.pop(integration_id, None)
                return 0, None
            failures = self._failures.get(integration_id, 0) + 1
            self._failures[integration_id] = failures
            if failures >= _conf("CIRCUIT_FAILURE_THRESHOLD"):
                until = time.time() + _conf("CIRCUIT_OPEN_SECONDS")
                self._open_until[integration_id] = until
                return failures, until
            return failures, None


_tls = threading.local()


def _record_call(record: CallRecord) -> None:
    calls = getattr(_tls, "calls", None)
    if calls is not None:
        if not record.at:
            record.at = time.time()  # the timeline shows when each call happened, not when it was written
        calls.append(record)


def _aware(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=dt_timezone.utc)


class SvaWorker:
    def __init__(self, *, concurrency: int | None = None, worker_id: str | None = None) -> None:
        self.concurrency = concurrency or _conf("CONCURRENCY")
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.stop_event = threading.Event()
        # set by ``wake()``: new work is pending (a Pix applied by the inbox consumer)
        self._woken = threading.Event()
        self.breaker = CircuitBreaker()
        self.stats = WorkerStats()
        self._connectors: dict[int, tuple[float, Connector]] = {}
        self._integration_health: dict[int, dict] = {}
        self._integration_config_errors: dict[int, ConnectorError] = {}  # egress refused
        self._health_written: dict[int, tuple[int, float]] = {}  # id -> (failures, monotonic time)
        self._integration_rows: dict[int, SvaIntegration] = {}
        self._integrations_read_at = 0.0
        self._deadline: float | None = None
        self._repaired_at: float | None = None
        self._claimed_bumps: dict[int, int | None] = {}  # user id → its queue row's bumps at the claim
        self._executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="sva")

    # -- connectors ----------------------------------------------------------------
    def _integrations(self, ids: set[int]) -> dict[int, SvaIntegration]:
        """Integration rows, re-read at most every 2 s (credentials or URL may change)."""
        now = time.monotonic()
        if now - self._integrations_read_at > 2.0 or not ids <= self._integration_rows.keys():
            # All of them: one deactivated after the claim still has its claimed users.
            self._integration_rows = {i.pk: i for i in SvaIntegration.objects.all()}
            self._integrations_read_at = now
        return self._integration_rows

    def _connector(self, integration: SvaIntegration) -> Connector:
        stamp = integration.updated_at.timestamp()
        cached = self._connectors.get(integration.pk)
        if cached and cached[0] == stamp:
            return cached[1]
        if cached:
            cached[1].close()
        connector = connector_for(integration, recorder=_record_call)
        self._connectors[integration.pk] = (stamp, connector)
        self.breaker.load(integration)
        return connector

    # -- claiming ------------------------------------------------------------------
    def claim(self, limit: int) -> list[tuple[WorkItem, Connector]]:
        if limit <= 0:
            return []
        started = time.perf_counter()
        try:
            self._repair_queue()
            return self._claim(limit)
        finally:
            self.stats.claim_seconds += time.perf_counter() - started

    def _repair_queue(self) -> None:
        """At start and every QUEUE_REPAIR_SECONDS: queue users whose version is ahead
        and have no row (loaded with SQL, restored from a backup), drop rows whose user
        is gone. Every write path keeps the queue in step; this is the net under them
        (sva/pending.py)."""
        now = time.monotonic()
        every = _conf("QUEUE_REPAIR_SECONDS")
        if every <= 0 or (self._repaired_at is not None and now - self._repaired_at < every):
            return  # 0: never (tests)
        self._repaired_at = now
        queued, dropped = pending_queue.repair()
        if queued or dropped:
            log.info("worker %s: pending-work queue repaired (%s queued, %s dropped)", self.worker_id, queued,
                     dropped)

    def _claim(self, limit: int) -> list[tuple[WorkItem, Connector]]:
        sva_sql.tune_session()
        now = timezone.now()
        # due in the queue (sva/pending.py), lease free or expired, integration active,
        # circuit closed; oldest due first (the queue's index on (due_at, user))
        ids = sva_sql.claim(now=now, lease=now + timedelta(seconds=_conf("LEASE_SECONDS")),
                            worker_id=self.worker_id, limit=limit)
        if not ids:
            return []
        rows = sva_sql.claimed_rows(ids)
        integrations = self._integrations({r["integration_id"] for r in rows})
        self.stats.claimed += len(rows)
        work = []
        for r in rows:
            # read with the contract, in one snapshot: a change committed after this
            # read changes the row's bumps, and the settle then keeps the user queued
            self._claimed_bumps[r["id"]] = r["pending_work__bumps"]
            own = not r["use_customer_data"]
            desired = derive_desired(
                contract_status=r["contract__status"],
                access_status=r["contract__access_status"],
                deleted=r["deleted_at"] is not None,
                product_removed=r["contract_product__removed_at"] is not None,
                name=r["contract__customer__name"],
                email=r["email"] if own else r["contract__customer__email"],
                phone=r["phone"] if own else r["contract__customer__mobile_phone"],
                document=r["document"] if own else r["contract__customer__document"],
                package_code=r["contract_product__product__sva_package_code"],
            )
            item = WorkItem(
                id=r["id"], version=r["version"], integration_id=r["integration_id"],
                external_id=r["external_id"], desired=desired, use_customer_data=r["use_customer_data"],
                confirmed_state=r["confirmed_state"], confirmed_package=r["confirmed_package"],
                confirmed_email=r["confirmed_email"], confirmed_phone=r["confirmed_phone"],
                confirmed_document=r["confirmed_document"], confirmed_name=r["confirmed_name"],
                creation_attempted=r["creation_attempted"], remote_id=r["remote_id"],
                registration_problems=r["registration_problems"] or [],
            )
            work.append((item, self._connector(integrations[r["integration_id"]])))
        return work

    # -- one user, in a pool thread -----------------------------------------------
    def _run_one(self, item: WorkItem, connector: Connector) -> Outcome:
        outcome = Outcome(item=item)
        retry_at = self.breaker.allow(item.integration_id)
        if retry_at is not None:
            outcome.deferred_until = retry_at
            return outcome
        _tls.calls = outcome.calls
        try:
            for attempt in range(RATE_LIMIT_RETRIES + 1):
                self.breaker.wait_if_paused(item.integration_id, self.stop_event)
                if attempt and (self.stop_event.is_set()
                                or (self._deadline and time.monotonic() > self._deadline)):
                    break  # stopping: the 429 is written back and the user waits for a later pass
                outcome.error = None
                try:
                    converge(connector, item, outcome)
                except ConnectorError as exc:
                    outcome.error = exc
                except Exception as exc:  # a bug or an unexpected answer: keep the worker alive
                    log.exception("sva user %s: unexpected error", item.id)
                    outcome.error = ConnectorError(ErrorKind.TRANSIENT, "internal_error",
                                                   f"Erro interno ao sincronizar: {type(exc).__name__}.")
                if outcome.error is None or outcome.error.kind != ErrorKind.RATE_LIMITED:
                    break
                # Refused, not applied: every call to this platform waits out its Retry-After,
                # then this user is tried again here. Written back as a failure it would be
                # parked for the Retry-After, shown as an error and tried again only after
                # a claim and a write of its own (bench/README.md, "convergence").
                wait = outcome.error.retry_after or 1.0
                self.breaker.pause_for_rate_limit(item.integration_id, wait)
                if wait > RATE_LIMIT_RETRY_MAX_WAIT:
                    break  # a long wait is kept in the database, not in a thread holding a lease
        finally:
            _tls.calls = None
        made_calls = bool(outcome.calls)
        if outcome.error is not None and outcome.error.kind == ErrorKind.CONFIG:
            # Refused by Agrega's own egress policy: nothing reached the platform, so it
            # says nothing about its health (no breaker count, no success either).
            self.breaker.release_probe(item.integration_id)
            self._integration_config_errors[item.integration_id] = outcome.error
        elif made_calls:
            down = outcome.error is not None and outcome.error.kind in PLATFORM_DOWN_KINDS
            failures, open_until = self.breaker.record(item.integration_id, success=not down)
            self._integration_health[item.integration_id] = {
                "failures": failures,
                "open_until": open_until,
                "error": outcome.error if down else None,
                "at": time.time(),
            }
        else:
            self.breaker.release_probe(item.integration_id)
        return outcome

    # -- writing outcomes ------------------------------------------------------------
    def _backoff(self, failures: int, error: ConnectorError) -> float:
        if error.kind == ErrorKind.RATE_LIMITED and error.retry_after:
            return error.retry_after + random.uniform(0, 0.25)
        delay = min(_conf("BACKOFF_MAX_SECONDS"), _conf("BACKOFF_BASE_SECONDS") * (2 ** max(failures - 1, 0)))
        return random.uniform(delay / 2, delay)  # jitter: workers don't retry in lockstep

    def write(self, outcomes: list[Outcome]) -> None:
        if not outcomes:
            return
        started = time.perf_counter()
        try:
            self._write(outcomes)
        finally:
            self.stats.write_seconds += time.perf_counter() - started

    @staticmethod
    def _is_plain_success(outcome: Outcome) -> bool:
        return (
            outcome.error is None
            and outcome.deferred_until is None
            and not outcome.registration_problems
            and not outcome.item.registration_problems
        )

    def _write(self, outcomes: list[Outcome]) -> None:
        now = timezone.now()
        db_now = db_datetime(now)
        adapt = db_datetime
        calls = []
        fast_rows = []
        written = []  # users this worker wrote back (it still held their claim): only those are settled
        with transaction.atomic():
            for outcome in outcomes:
                item = outcome.item
                for record in outcome.calls:
                    calls.append((
                        item.id, adapt(_aware(record.at)) if record.at else db_now, record.operation[:30], record.method[:10], record.path[:300],
                        record.status_code, round(record.duration_ms, 2), record.request, record.response,
                        record.error_code[:64], self.worker_id,
                    ))
                if self._is_plain_success(outcome):
                    c = outcome.confirmed
                    fast_rows.append((
                        c.get("confirmed_state", item.confirmed_state),
                        c.get("confirmed_package", item.confirmed_package),
                        c.get("confirmed_email", item.confirmed_email),
                        c.get("confirmed_phone", item.confirmed_phone),
                        c.get("confirmed_document", item.confirmed_document),
                        c.get("confirmed_name", item.confirmed_name),
                        c.get("remote_id", item.remote_id),
                        c.get("creation_attempted", item.creation_attempted),
                        db_now if "confirmed_state" in c else None,
                        item.version, db_now, db_now, item.id, self.worker_id,
                    ))
                    self.stats.converged += 1
                    continue
                if self._write_one(outcome, now):
                    written.append(item.id)
            if fast_rows:
                written += sva_sql.write_converged(fast_rows)
            bumps = [self._claimed_bumps.pop(outcome.item.id, None) for outcome in outcomes]
            mine = set(written)
            pending_queue.settle((outcome.item.id, claimed) for outcome, claimed in zip(outcomes, bumps)
                                 if outcome.item.id in mine)
            if calls:
                sva_sql.insert_calls(calls)
            self.stats.calls += len(calls)
            self._write_integration_health(now)

    def _write_one(self, outcome: Outcome, now) -> bool:
        """Errors, deferrals and registration problems: rarer, so plain ORM. Returns
        whether the user was written (this worker still held its claim)."""
        item = outcome.item
        fields: dict = dict(outcome.confirmed)
        fields.update(claimed_until=None, claimed_by="")
        if outcome.registration_problems is not None:
            fields["registration_problems"] = outcome.registration_problems
        if outcome.deferred_until is not None:
            fields["next_attempt_at"] = _aware(outcome.deferred_until)
            self.stats.deferred += 1
        elif outcome.error is None:
            fields.update(
                synced_version=item.version, failures=0, next_attempt_at=None,
                last_attempt_at=now, last_success_at=now,
            )
            if outcome.registration_problems:
                # waiting for the customer's data or consent: nothing was sent to the platform
                only_consent = all(p.get("field") == "consent" for p in outcome.registration_problems)
                code, label = (("consent_missing", "Aguardando consentimento: ") if only_consent
                               else ("registration_incomplete", "Cadastro incompleto: "))
                fields.update(last_error_code=code, last_error_message=(
                    label + "; ".join(p["message"] for p in outcome.registration_problems))[:500])
            else:
                fields.update(last_error_code="", last_error_message="")
            if "confirmed_state" in outcome.confirmed:
                fields["confirmed_at"] = now
            self.stats.converged += 1
        else:
            error = outcome.error
            fields.update(last_attempt_at=now, last_error_code=error.code[:64],
                          last_error_message=error.message[:500])
            if error.kind in PARK_KINDS and not self._conflict_may_clear(item, error, now):
                # Retrying cannot help; wait for a change of data (it bumps version).
                fields.update(synced_version=item.version, next_attempt_at=None, failures=F("failures") + 1)
            else:
                current = SvaUser.objects.filter(pk=item.id).values_list("failures", flat=True).first() or 0
                fields.update(failures=current + 1, next_attempt_at=now + timedelta(
                    seconds=self._backoff(current + 1, error)))
            self.stats.failed += 1
        # Only the claim holder writes: a claim that expired belongs to another worker now.
        return bool(SvaUser.objects.filter(pk=item.id, claimed_by=self.worker_id).update(**fields))

    @staticmethod
    def _conflict_may_clear(item: WorkItem, error: ConnectorError, now) -> bool:
        """Whether a duplicate e-mail may be held by this customer's own SVA user being
        removed from the same platform (a product swapped for another, or removed and
        added again): its deletion is still pending, or was confirmed so recently (within
        a lease) that this call may have reached the platform before it. Then retry with
        backoff instead of parking: parked, the new user waited for a change of data that
        never came and was never created (found by tests/faults)."""
        if error.code != ErrorCode.DUPLICATE_EMAIL:
            return False
        customer = SvaUser.objects.filter(pk=item.id).values("contract__customer_id")[:1]
        return (
            SvaUser.objects.filter(
                integration_id=item.integration_id, deleted_at__isnull=False,
                contract__customer_id=Subquery(customer),
            )
            .exclude(pk=item.id)
            .filter(Q(pending_work__isnull=False)
                    | Q(last_success_at__gte=now - timedelta(seconds=_conf("LEASE_SECONDS"))))
            .exists()
        )

    def _write_integration_health(self, now) -> None:
        """Persist the breaker for the interface and other workers, only when it changed
        (or every 30 s while healthy, to refresh ``last_success_at``)."""
        for integration_id, error in self._integration_config_errors.items():
            integration_record_config_error(integration_id=integration_id, code=error.code, message=error.message,
                                            at=now)
        self._integration_config_errors.clear()
        for integration_id, health in self._integration_health.items():
            error = health["error"]
            written = self._health_written.get(integration_id)
            if error is None:
                if written and written[0] == 0 and time.monotonic() - written[1] < 30:
                    continue
                integration_record_success(integration_id=integration_id, at=now)
            else:
                integration_record_failure(
                    integration_id=integration_id, failures=health["failures"],
                    open_until=_aware(health["open_until"]) if health["open_until"] else None,
                    error_code=error.code, error_message=error.message, at=now,
                )
            self._health_written[integration_id] = (health["failures"], time.monotonic())
        self._integration_health.clear()

    # -- the loop ----------------------------------------------------------------------
    def wake(self) -> None:
        """New pending work was committed by another thread of this process (the PIX
        inbox consumer: a payment released a contract): claim it now instead of at the
        next idle poll (``IDLE_POLL_SECONDS``) or after the pause that follows a short
        claim. Thread-safe; costs nothing when the worker is busy."""
        self._woken.set()

    def run(self, *, until_idle: bool = False, max_seconds: float | None = None) -> WorkerStats:
        """Run until stopped (SIGTERM/SIGINT), or with ``until_idle`` until no work is due.

        A database error (connection dropped, database restarting) is logged and the loop
        goes on after a pause: outcomes not written are redone once their lease expires,
        and every platform call is safe to repeat."""
        deadline = time.monotonic() + max_seconds if max_seconds else None
        # The main thread talks to the database and must get the GIL back quickly after
        # each round-trip; with the default 5 ms switch interval it queues behind the HTTP
        # threads for up to 5 ms per round-trip (measured: bench/README.md).
        previous_interval = sys.getswitchinterval()
        sys.setswitchinterval(_conf("SWITCH_INTERVAL_SECONDS"))
        try:
            return self._run(until_idle=until_idle, deadline=deadline)
        finally:
            sys.setswitchinterval(previous_interval)

    def _run(self, *, until_idle: bool, deadline: float | None) -> WorkerStats:
        self._deadline = deadline
        self._inflight: dict[Future, WorkItem] = {}
        self._pending: list[Outcome] = []
        while True:
            try:
                self._loop(until_idle=until_idle, deadline=deadline)
                break
            except DatabaseError:
                log.exception("worker %s: database error; retrying in 1 s", self.worker_id)
                self.stats.database_errors += 1
                for outcome in self._pending:  # not written: their users are claimed again after the lease
                    self._claimed_bumps.pop(outcome.item.id, None)
                self._pending.clear()
                close_old_connections()
                connection.close()
                if self.stop_event.wait(1.0) or (deadline and time.monotonic() > deadline):
                    break
        return self.stats

    def _loop(self, *, until_idle: bool, deadline: float | None) -> None:
        inflight, pending = self._inflight, self._pending
        done: queue.SimpleQueue[Future] = queue.SimpleQueue()
        last_flush = time.monotonic()
        next_claim = 0.0  # after a short claim, the queue is dry: don't ask again at once
        # Keep up to QUEUE_FACTOR×concurrency claimed, claim again at half and write back in
        # halves: the pool threads always have queued work while the main thread talks to
        # the database, and each claim or flush pays its fixed cost for many users.
        depth = max(self.concurrency * _conf("QUEUE_FACTOR"), _conf("BATCH_SIZE"))
        try:
            while True:
                if deadline and time.monotonic() > deadline:
                    break
                stopping = self.stop_event.is_set()
                if self._woken.is_set():
                    self._woken.clear()
                    next_claim = 0.0
                claimed = 0
                if not stopping and len(inflight) <= depth // 2 and (
                    not inflight or time.monotonic() >= next_claim
                ):
                    wanted = depth - len(inflight)
                    for item, connector in self.claim(wanted):
                        future = self._executor.submit(self._run_one, item, connector)
                        inflight[future] = item
                        future.add_done_callback(done.put)
                        claimed += 1
                    if claimed < wanted:
                        next_claim = time.monotonic() + 0.2
                if not inflight:
                    self.write(pending)
                    pending.clear()
                    if stopping or until_idle:
                        break
                    self._woken.wait(_conf("IDLE_POLL_SECONDS"))
                    continue
                # Completed calls arrive on a queue (O(1) each); concurrent.futures.wait()
                # would re-register a waiter on every in-flight future at each completion.
                try:
                    finished = [done.get(timeout=0.05)]
                except queue.Empty:
                    finished = []
                while True:
                    try:
                        finished.append(done.get_nowait())
                    except queue.Empty:
                        break
                for future in finished:
                    inflight.pop(future)
                    pending.append(future.result())
                if pending and (len(pending) >= depth // 2 or time.monotonic() - last_flush > 0.2
                                or not inflight):
                    self.write(pending)
                    pending.clear()
                    last_flush = time.monotonic()
        finally:
            for future in list(inflight):
                pending.append(future.result())
            inflight.clear()
            self.write(pending)
            pending.clear()

    def close(self) -> None:
        self._executor.shutdown(wait=True)
        for _, connector in self._connectors.values():
            connector.close()
        self._connectors.clear()

    def install_signal_handlers(self) -> None:
        def _stop(signum, frame):
            log.info("worker %s stopping (signal %s)", self.worker_id, signum)
            self.stop_event.set()
            self._woken.set()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
