"""The inbox of the PSP's ``/pix`` callbacks: record fast, confirm, apply in batches.

Why: the PSP waits for the callback's answer (and retries it when slow), and a baixa
done inside the request — the confirmation ``GET /pix/{e2eid}``, the payment, the
release, the SVA intent, one commit each — made the webhook path the bottleneck
(bench/README.md, payment_to_access). So:

1. ``record`` (the webhook view): one upsert of a ``PixNotification`` per
   ``endToEndId`` named in the body, committed, and the 200. A duplicate delivery is the
   same row (``deliveries`` + 1). On PostgreSQL the same transaction sends
   ``NOTIFY agrega_pix_inbox``, so the consumer wakes at the commit.
2. ``drain`` (the consumer, ``InboxConsumer`` in ``agrega worker``; tests call it):
   claims the due rows under a lease (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), confirms
   each Pix with the PSP concurrently — **never trust a callback alone** — and applies the
   confirmed ones in **one transaction per batch**: each baixa through
   ``services.pix_apply`` (``billing.payment_register``: once per ``endToEndId``, whatever
   the order and number of deliveries) in its own savepoint, and the release of all the
   batch's contracts set-based at the end (``billing.changes_batched``). The rows are
   marked done in that same transaction: a consumer killed between record and apply, or
   mid-batch, leaves them due, and the next one (after the lease) applies them — once.

A Pix the PSP could not confirm now is tried again with backoff, then left to the
reconciliation (``services.reconcile``), which pulls ``GET /pix`` anyway."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from agrega.billing import services as billing
from agrega.core.dbapi import raw_connection
from agrega.core.errors import ApplicationError

from . import sql
from .client import PixError
from .models import PixAccount, PixNotification

log = logging.getLogger("agrega.pix.inbox")
CHANNEL = "agrega_pix_inbox"
LEASE = timedelta(seconds=60)
BATCH = 200
# On SQLite a batch's transaction holds the database's single write lock from its BEGIN
# IMMEDIATE to its commit, and every webhook's record waits for it: smaller batches
# there keep that wait short (bench/README.md, payment_to_access on SQLite).
SQLITE_BATCH = 25
CONFIRM_THREADS = 8
MAX_ATTEMPTS = 8  # then the reconciliation's GET /pix is what catches it
MAX_E2EIDS = 1000  # per callback body


def _conf(name: str, default):
    return getattr(settings, "PIX_INBOX", {}).get(name, default)


# ---------------------------------------------------------------- recording (the webhook)

def valid_e2eids(items) -> list[str]:
    """The ``endToEndId`` of each item, in order, once each; what is not one is skipped
    (the API Pix's e2eid: exactly 32 ASCII letters and digits, ``[a-zA-Z0-9]{32}``; a
    longer one is not cut down to 32, which could name another Pix, and a number is not
    an e2eid), so a malformed callback never costs a ``GET /pix`` to the PSP."""
    seen: dict[str, None] = {}
    for item in items:
        e2eid = item.get("endToEndId") if isinstance(item, dict) else None
        if isinstance(e2eid, str) and len(e2eid) == 32 and e2eid.isascii() and e2eid.isalnum():
            seen.setdefault(e2eid, None)
    return list(seen)


def record(*, secret: str, e2eids: list[str], now=None) -> int:
    """Record that a callback to the webhook URL of ``secret`` named these Pix (one
    statement: ``pix.sql.record_notifications``). Returns the rows written: 0 when no
    active account has this secret."""
    return sql.record_notifications(secret=secret, e2eids=e2eids, now=now, channel=CHANNEL)


# ---------------------------------------------------------------- the consumer

@dataclass
class Claimed:
    id: int
    account_id: int
    e2eid: str
    deliveries: int
    attempts: int
    pix: dict | None = None
    error: PixError | None = None
    outcome: str = ""


def _claim(limit: int) -> list[Claimed]:
    now = timezone.now()
    due = (PixNotification.objects.filter(due_at__lte=now)
           .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
           .order_by("due_at", "id"))
    with transaction.atomic():
        qs = due.values_list("pk", flat=True)
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs[:limit])
        if not ids:
            return []
        PixNotification.objects.filter(pk__in=ids).update(claimed_until=now + LEASE)
        rows = PixNotification.objects.filter(pk__in=ids).order_by("id").values_list(
            "pk", "account_id", "e2eid", "deliveries", "attempts")
        return [Claimed(*row) for row in rows]


def _confirm(batch: list[Claimed]) -> None:
    """``GET /pix/{e2eid}`` for each, concurrently, through each account's shared client
    (pooled connections and token, services.shared_client)."""
    from . import services

    accounts = {a.pk: a for a in PixAccount.objects.filter(pk__in={c.account_id for c in batch})}

    def one(item: Claimed) -> None:
        account = accounts.get(item.account_id)
        if account is None or not account.active:
            item.outcome = "ignored"
            return
        try:
            item.pix = services.shared_client(account).pix_get(item.e2eid)
        except PixError as exc:
            item.error = exc

    threads = min(_conf("CONFIRM_THREADS", CONFIRM_THREADS), len(batch))
    if threads <= 1:
        for item in batch:
            one(item)
        return
    with ThreadPoolExecutor(threads, thread_name_prefix="pix-confirm") as pool:
        list(pool.map(one, batch))


def _apply(batch: list[Claimed]) -> None:
    """The confirmed Pix of the batch in one transaction, set-based
    (``services.pix_apply_many``), the contracts' release once for all at the end, the
    rows' outcomes in the same transaction."""
    from . import services

    confirmed = [item for item in batch if item.pix is not None]
    with transaction.atomic():
        with billing.changes_batched():
            results = services.pix_apply_many(pixes=[item.pix for item in confirmed]) if confirmed else []
        for item, result in zip(confirmed, results):
            _note(item, result)
        _write_outcomes(batch)


def _note(item: Claimed, result) -> None:
    if result is None:
        item.outcome = "ignored"  # no título of ours (or a cancelled one, noted on its cobrança)
    elif isinstance(result, Exception):  # e.g. payment_id_reused: needs a person, not a retry
        item.outcome, item.error = "refused", PixError(getattr(result, "message", str(result))[:480])
    else:
        item.outcome = "applied"  # the payment: Payment(provider "pix", external_id e2eid)


def _apply_alone(item: Claimed) -> None:
    """One Pix in a transaction of its own, row by row (``services.pix_apply``): the way
    back when a batch failed as a whole."""
    from . import services

    with transaction.atomic():
        if item.pix is not None:
            try:
                with transaction.atomic():
                    _note(item, services.pix_apply(pix=item.pix))
            except ApplicationError as exc:
                _note(item, exc)
            except Exception as exc:  # noqa: BLE001 — kept on the row, tried again later
                log.exception("pix %s: baixa failed", item.e2eid)
                item.outcome, item.error = "", PixError(f"baixa falhou: {exc}")
        _write_outcomes([item])


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(300.0, _conf("RETRY_BASE_SECONDS", 2.0) * 2 ** max(attempts - 1, 0)))


def _write_outcomes(batch: list[Claimed]) -> None:
    """Done rows get ``due_at`` NULL — unless a delivery came after the claim (then they
    are due again at once, to be confirmed again); failed ones are due again after a
    backoff, and after ``MAX_ATTEMPTS`` left to the reconciliation. Two statements for
    the batch: the rows locked (a redelivery waits for this commit), an UPDATE per
    distinct outcome."""
    now = timezone.now()
    deliveries = dict(PixNotification.objects.select_for_update().filter(pk__in=[i.id for i in batch])
                      .values_list("pk", "deliveries"))
    groups: dict[tuple, list[int]] = {}
    for item in batch:
        outcome, error, attempts, due_at = item.outcome, item.error, item.attempts, None
        if not outcome and error is not None and error.status == 404:
            outcome = "rejected"  # the PSP does not know this Pix: a forged or mistaken callback
        elif not outcome:
            attempts += 1
            if attempts >= MAX_ATTEMPTS:
                outcome = "unconfirmed"
                log.warning("pix %s not confirmed after %s attempts: left to the reconciliation", item.e2eid,
                            attempts)
            else:
                due_at = now + _backoff(attempts)
        if deliveries.get(item.id, item.deliveries) != item.deliveries:
            due_at = now  # delivered again meanwhile: confirm again, at once
        key = (outcome, attempts, due_at, str(error)[:500] if error is not None else "")
        groups.setdefault(key, []).append(item.id)
    # one UPDATE per distinct outcome (a batch is mostly "applied")
    for (outcome, attempts, due_at, last_error), ids in groups.items():
        PixNotification.objects.filter(pk__in=ids).update(claimed_until=None, handled_at=now, outcome=outcome,
                                                          attempts=attempts, due_at=due_at, last_error=last_error)


def batch_size() -> int:
    return SQLITE_BATCH if connection.vendor == "sqlite" else BATCH


def drain_once(limit: int | None = None) -> dict:
    """Claim one batch, confirm it with the PSP, apply it. Returns counts (empty when
    nothing was due)."""
    batch = _claim(limit or batch_size())
    if not batch:
        return {}
    _confirm([item for item in batch if not item.outcome])
    try:
        _apply(batch)
    except DatabaseError:
        # the batch's transaction failed as a whole (a payment id committed meanwhile by
        # the reconciliation, a deadlock with a sweep): nothing of it committed; each Pix
        # now in a transaction of its own, row by row
        log.warning("pix inbox: batch of %s failed; applying one by one", len(batch), exc_info=True)
        for item in batch:
            if item.pix is not None:
                item.outcome = ""
            try:
                _apply_alone(item)
            except DatabaseError:
                log.exception("pix %s: baixa failed; the row stays due", item.e2eid)
    counts: dict[str, int] = {"claimed": len(batch)}
    for item in batch:
        key = item.outcome or ("rejected" if item.error is not None and item.error.status == 404 else "retry")
        counts[key] = counts.get(key, 0) + 1
    return counts


def drain(*, limit: int | None = None, max_batches: int | None = None) -> dict:
    """Apply everything due now (the tests, ``agrega pix inbox``); returns summed counts."""
    total: dict[str, int] = {}
    batches = 0
    while max_batches is None or batches < max_batches:
        counts = drain_once(limit)
        if not counts:
            break
        batches += 1
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
    return total


class InboxConsumer:
    """The consumer thread of ``agrega worker``: drains the inbox, then waits for the next
    callback — woken by ``NOTIFY agrega_pix_inbox`` on PostgreSQL (at the commit of the
    webhook's record), by a short poll on SQLite (``AGREGA_PIX_INBOX_POLL``, 0.05 s) — and
    calls ``on_applied`` after a batch that applied baixas (the SVA worker wakes at once
    instead of at its next poll)."""

    def __init__(self, *, on_applied=None):
        self.on_applied = on_applied
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="pix-inbox", daemon=True)
        self._listener = None

    def start(self) -> None:
        self.thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.stop_event.set()
        self.thread.join(timeout)

    def _run(self) -> None:
        poll = _conf("POLL_SECONDS", 0.05)
        while not self.stop_event.is_set():
            try:
                counts = drain_once()
                if counts.get("applied") and self.on_applied:
                    self.on_applied()
                if not counts:
                    self._wait(poll)
            except Exception:  # noqa: BLE001 — the database restarting, a bug: log, pause, go on
                log.exception("pix inbox consumer: error; retrying in 1 s")
                close_old_connections()
                connection.close()
                self._close_listener()
                self.stop_event.wait(1.0)
        self._close_listener()
        connection.close()

    def _wait(self, poll: float) -> None:
        if connection.vendor != "postgresql":
            self.stop_event.wait(poll)
            return
        listener = self._listen()
        # a NOTIFY sent while the batch was being applied is already queued: returns at once
        for _ in listener.notifies(timeout=max(poll, 1.0), stop_after=1):
            break
        for _ in listener.notifies(timeout=0):  # coalesce the burst: one drain serves them all
            pass

    def _listen(self):
        if self._listener is None or self._listener.closed:
            import psycopg

            # the same server, database and user as Django's connection, read from psycopg's
            # public ConnectionInfo (its dsn leaves the password out)
            info = raw_connection().info
            self._listener = psycopg.connect(info.dsn, autocommit=True,
                                             **({"password": info.password} if info.password else {}))
            self._listener.execute(f"LISTEN {CHANNEL}")
        return self._listener

    def _close_listener(self) -> None:
        if self._listener is not None:
            try:
                self._listener.close()
            except Exception:  # noqa: BLE001
                pass
            self._listener = None
