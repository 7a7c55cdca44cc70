"""Pix Automático, losing nothing: the inbox of the webhookrec/webhookcobr callbacks, its
drain by the worker, the reconciliation that pulls ``GET /rec`` and ``GET /cobr``, and the
settling of the POSTs whose answer never came.

Why: a callback answered 200 while the PSP could not be read back was a notice lost —
and a lost webhookcobr was a payment never applied. So, as for ``/pix`` (inbox.py):

1. ``record`` (the webhook): one ``PixAutoNotification`` per ``idRec``/``txid`` named,
   committed before the 200; the drain task is enqueued after the commit.
2. ``drain`` (a task, and every run of the periodic job): reads each one back from the
   PSP (``GET /rec/{idRec}``, ``GET /cobr/{txid}``) and applies it — the cobr's settled
   attempt is the baixa, once per ``endToEndId`` (billing's unique payment id); a state
   only moves forward (``recurrence._advance``). A PSP that fails leaves the row due again
   after a backoff, with no limit: never dropped.
3. ``reconcile`` (periodic job ``pix.reconcile_automatico``): pages ``GET /rec`` and
   ``GET /cobr`` over the window in which Agrega still has something open (the API Pix
   filters both by creation time) and applies what differs — what a lost webhook
   missed. Applying twice changes nothing.
4. ``POST /rec`` and ``POST /solicrec`` are not repeated when their answer is lost
   (client.py); the row waits as ``INCERTA`` and is settled here from ``GET /rec``
   (filtered by the devedor's CPF/CNPJ and the time of the request, matched by
   ``vinculo.contrato``) — or, when the PSP never registered it, ended after
   ``UNKNOWN_GRACE`` as ``NAO_CRIADA`` (an operator may start again)."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .client import PixError
from .models import (PixAccount, PixAutoNotification, PixRecurrence, PixRecurringCharge, RecurrenceStatus,
                     SolicRecStatus)

log = logging.getLogger("agrega.pix.automatico")
ID_REC = re.compile(r"[a-zA-Z0-9]{29}")
TXID = re.compile(r"[a-zA-Z0-9]{26,35}")
MAX_REFS = 1000  # per callback body
LEASE = timedelta(seconds=60)
BATCH = 50
MAX_BACKOFF_SECONDS = 900.0
OVERLAP = timedelta(minutes=10)  # clocks of Agrega and the PSP apart; a list read while a row was written
UNKNOWN_GRACE = timedelta(minutes=30)  # a POST without answer not found by then never reached the PSP
PAGE = 1000  # yaml: paginacao.itensPorPagina ≤ 1000

NOT_CREATED_MESSAGE = ("O PSP não registrou a recorrência (o pedido não chegou até ele). "
                       "Solicite o Pix Automático de novo.")
SOLICREC_NOT_CREATED_MESSAGE = ("O PSP não registrou a solicitação ao banco do pagador (o pedido não chegou "
                                "até ele). Envie de novo.")


def _stamp(moment: datetime) -> str:
    return moment.astimezone(dt_timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- recording (the webhook)

def refs_of(kind: str, body) -> list[str] | None:
    """The idRec (``recs``) or txid (``cobsr``) of each item, once each, in order; None when
    the body is not the yaml's. What is not an id is skipped (it would only cost a read)."""
    items = body.get("recs" if kind == "rec" else "cobsr") if isinstance(body, dict) else None
    if not isinstance(items, list) or len(items) > MAX_REFS:
        return None
    pattern, key = (ID_REC, "idRec") if kind == "rec" else (TXID, "txid")
    seen: dict[str, None] = {}
    for item in items:
        ref = item.get(key) if isinstance(item, dict) else None
        if isinstance(ref, str) and ref.isascii() and pattern.fullmatch(ref):
            seen.setdefault(ref, None)
    return list(seen)


def record(*, account: PixAccount, kind: str, refs: list[str], now=None) -> int:
    """One due row per ref; a row already there counts one more delivery and is due again
    (at once if it was done; a due row keeps its time). Committed by the caller's
    autocommit before the webhook answers; the drain task follows the commit."""
    now = now or timezone.now()
    written = 0
    for ref in refs:
        again = dict(deliveries=F("deliveries") + 1, attempts=0,
                     due_at=Coalesce("due_at", Value(now, output_field=DateTimeField())))
        with transaction.atomic():
            if not PixAutoNotification.objects.filter(account=account, kind=kind, ref=ref).update(**again):
                try:
                    with transaction.atomic():
                        PixAutoNotification.objects.create(account=account, kind=kind, ref=ref, received_at=now,
                                                           due_at=now)
                except IntegrityError:  # a twin delivery inserted it meanwhile
                    PixAutoNotification.objects.filter(account=account, kind=kind, ref=ref).update(**again)
        written += 1
    if written:
        from .tasks import automatico_drain_task

        transaction.on_commit(lambda: automatico_drain_task.enqueue())
    return written


# ---------------------------------------------------------------- applying (the worker)

def _backoff(attempts: int) -> timedelta:
    base = getattr(settings, "PIX_INBOX", {}).get("RETRY_BASE_SECONDS", 2.0)
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, base * 2 ** max(attempts - 1, 0)))


def _claim(limit: int, start) -> list[PixAutoNotification]:
    now = timezone.now()
    due = (PixAutoNotification.objects.filter(due_at__lte=start)
           .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)).order_by("due_at", "id"))
    with transaction.atomic():
        qs = due.values_list("pk", flat=True)
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs[:limit])
        if not ids:
            return []
        PixAutoNotification.objects.filter(pk__in=ids).update(claimed_until=now + LEASE)
        return list(PixAutoNotification.objects.filter(pk__in=ids).select_related("account").order_by("id"))


def _handle(row: PixAutoNotification) -> str:
    """Read the notice's object back from the PSP and apply it; its outcome. Raises
    ``PixError`` when the PSP could not be read."""
    from . import recurrence
    from .services import shared_client

    account = row.account
    if not account.active:
        return "ignored"
    client = shared_client(account)
    if row.kind == "cobr":
        charge = PixRecurringCharge.objects.filter(txid=row.ref, recurrence__account=account) \
            .select_related("recurrence").first()
        if charge is None:
            return "ignored"
        return "applied" if recurrence._settle_cobr(charge, client.cobr_get(row.ref), client) else "done"
    known = PixRecurrence.objects.filter(account=account, id_rec=row.ref).exists()
    if not known and not PixRecurrence.objects.filter(account=account, status=RecurrenceStatus.UNKNOWN).exists():
        return "ignored"  # not ours, and no POST /rec of ours waits to be found: no read spent
    return "done" if apply_rec(account, client.rec_get(row.ref), client) else "ignored"


def drain(*, limit: int = BATCH, now=None) -> dict:
    """Apply every notice due at ``now`` (default: the call's start). A notice the PSP
    could not confirm is due again after a backoff (not within this call)."""
    start = now or timezone.now()
    counts: dict[str, int] = {}
    while True:
        batch = _claim(limit, start)
        if not batch:
            return counts
        for row in batch:
            outcome, error = "", ""
            try:
                outcome = _handle(row)
            except PixError as exc:
                if exc.status == 404:
                    outcome, error = "rejected", str(exc)
                else:
                    error = str(exc)
            except Exception as exc:  # noqa: BLE001 — kept on the row, tried again later
                log.exception("pix automático: notice %s %s failed", row.kind, row.ref)
                error = f"falha ao aplicar: {exc}"
            if _write(row, outcome, error):
                start = timezone.now()  # delivered again while read: read again in this call
            key = outcome or "retry"
            counts[key] = counts.get(key, 0) + 1


def _write(row: PixAutoNotification, outcome: str, error: str) -> bool:
    """The row's outcome; True when it was delivered again while being read (due at once:
    the read may predate what the new delivery announces)."""
    now = timezone.now()
    with transaction.atomic():
        current = PixAutoNotification.objects.select_for_update().filter(pk=row.pk) \
            .values_list("deliveries", flat=True).first()
        attempts, due_at = row.attempts, None
        if not outcome:
            attempts += 1
            due_at = now + _backoff(attempts)
            log.warning("pix automático: %s %s not read from the PSP (attempt %s): %s", row.kind, row.ref,
                        attempts, error)
        again = current is not None and current != row.deliveries
        if again:
            due_at = now
        PixAutoNotification.objects.filter(pk=row.pk).update(
            outcome=outcome, last_error=error[:500], attempts=attempts, due_at=due_at, claimed_until=None,
            handled_at=now)
    return again


# ---------------------------------------------------------------- a recurrence read from the PSP

def apply_rec(account: PixAccount, remote: dict, client=None) -> bool:
    """Keep what the PSP says of a recurrence (``GET /rec/{idRec}`` or an item of
    ``GET /rec``): its state, only forward, and its request to the payer's bank. A
    recurrence Agrega does not know by its idRec may be the answer lost of one of its
    ``POST /rec`` (``INCERTA``): matched by contract. False when it is none of ours."""
    from .recurrence import _REC_ORDER, _advance, solicrec_refresh

    id_rec = str(remote.get("idRec") or "")
    row = PixRecurrence.objects.filter(account=account, id_rec=id_rec).first() if id_rec else None
    matched = False
    if row is None:
        row = matched = _match_unknown(account, remote)
        if row is None:
            return False
    _advance(PixRecurrence.objects.filter(pk=row.pk), "status", remote.get("status"), _REC_ORDER)
    if matched:
        _cancel_if_contract_cancelled(row)
    solicitacoes = remote.get("solicitacao")
    if isinstance(solicitacoes, list) and solicitacoes:
        _apply_solicitacoes(row, solicitacoes)
    elif row.solicrec_id and client is not None:
        solicrec_refresh(row, client)  # a PSP whose rec does not list its requests
    return True


def _cancel_if_contract_cancelled(row: PixRecurrence) -> None:
    """A recurrence found after its contract was cancelled (the cancellation skipped it
    while its POST had no answer) is cancelled on the PSP now."""
    from agrega.contracts.choices import ContractStatus
    from agrega.contracts.models import Contract

    from .recurrence import recurrence_cancel

    from agrega.core.errors import ApplicationError

    if Contract.objects.filter(pk=row.contract_id, status=ContractStatus.CANCELLED).exists():
        try:
            recurrence_cancel(contract_id=row.contract_id)
        except ApplicationError as exc:  # kept for an operator; the contract page offers to cancel
            PixRecurrence.objects.filter(pk=row.pk).update(last_error=exc.message[:500])


def _created_at(remote: dict) -> datetime | None:
    for step in remote.get("atualizacao") or []:
        try:
            return datetime.fromisoformat(str(step.get("data")).replace("Z", "+00:00"))
        except (AttributeError, ValueError):
            return None
    return None


def _match_unknown(account: PixAccount, remote: dict) -> PixRecurrence | None:
    """The ``INCERTA`` row this recurrence answers: same contract (``vinculo.contrato``),
    created on the PSP after the row (less ``OVERLAP``), its idRec claimed by no other
    row. The idRec is written only where still empty: two readers never both take it."""
    id_rec = str(remote.get("idRec") or "")
    contrato = str((remote.get("vinculo") or {}).get("contrato") or "")
    if not ID_REC.fullmatch(id_rec) or not contrato.isdigit():
        return None
    if PixRecurrence.objects.filter(account=account, id_rec=id_rec).exists():
        return None
    created = _created_at(remote)
    for row in PixRecurrence.objects.filter(account=account, contract_id=int(contrato),
                                            status=RecurrenceStatus.UNKNOWN, id_rec="").order_by("id"):
        if created is not None and created < row.created_at - OVERLAP:
            continue
        if PixRecurrence.objects.filter(pk=row.pk, id_rec="").update(id_rec=id_rec[:35], last_error=""):
            log.info("pix automático: POST /rec of contract %s without answer found on the PSP: %s",
                     contrato, id_rec)
            row.id_rec = id_rec
            return row
    return None


def _apply_solicitacoes(row: PixRecurrence, solicitacoes: list) -> None:
    from .recurrence import _SOLICREC_ORDER, _advance

    items = [s for s in solicitacoes if isinstance(s, dict) and s.get("idSolicRec")]
    mine = next((s for s in items if s["idSolicRec"] == row.solicrec_id), None) if row.solicrec_id else None
    if mine is None and not row.solicrec_id and row.solicrec_status == SolicRecStatus.UNKNOWN and items:
        mine = items[-1]  # the answer lost of our POST /solicrec: the latest request of this recurrence
        PixRecurrence.objects.filter(pk=row.pk, solicrec_id="").update(
            solicrec_id=str(mine["idSolicRec"])[:35], last_error="")
    if mine is not None:
        _advance(PixRecurrence.objects.filter(pk=row.pk), "solicrec_status", mine.get("status"), _SOLICREC_ORDER)


# ---------------------------------------------------------------- the reconciliation

def _pages(fetch, key: str):
    page = 0
    while True:
        answer = fetch(page)
        yield from answer.get(key) or []
        pages = ((answer.get("parametros") or {}).get("paginacao") or {}).get("quantidadeDePaginas", 1)
        page += 1
        if page >= int(pages or 1):
            return


def settle_unknown(account: PixAccount, client, now=None) -> dict:
    """The ``POST /rec`` and ``POST /solicrec`` of this account whose answer was lost:
    found on the PSP and settled, or, after ``UNKNOWN_GRACE``, ended as never made."""
    now = now or timezone.now()
    found = ended = 0
    for row in PixRecurrence.objects.filter(account=account, status=RecurrenceStatus.UNKNOWN) \
            .select_related("contract__customer").order_by("id"):
        doc = (row.contract.customer.document or "").upper()
        filters = {"cpf": doc} if len(doc) == 11 else {"cnpj": doc} if len(doc) == 14 else {}
        inicio, fim = _stamp(row.created_at - OVERLAP), _stamp(now + timedelta(seconds=1))
        for remote in _pages(lambda p: client.rec_list(inicio, fim, page=p, per_page=PAGE, **filters), "recs"):
            if str((remote.get("vinculo") or {}).get("contrato") or "") == str(row.contract_id):
                apply_rec(account, remote, client)
                if PixRecurrence.objects.filter(pk=row.pk).exclude(id_rec="").exists():
                    found += 1
                    break
        else:
            if row.created_at < now - UNKNOWN_GRACE and PixRecurrence.objects.filter(
                    pk=row.pk, status=RecurrenceStatus.UNKNOWN, id_rec="").update(
                    status=RecurrenceStatus.NOT_CREATED, last_error=NOT_CREATED_MESSAGE):
                ended += 1
    from .recurrence import SOLICREC_DAYS

    for row in PixRecurrence.objects.filter(account=account, solicrec_status=SolicRecStatus.UNKNOWN) \
            .exclude(id_rec="").order_by("id"):
        apply_rec(account, client.rec_get(row.id_rec), client)
        row.refresh_from_db()
        if row.solicrec_id:
            found += 1
            continue
        sent_at = (row.solicrec_expires_at - timedelta(days=SOLICREC_DAYS)) if row.solicrec_expires_at else None
        if sent_at is None or sent_at < now - UNKNOWN_GRACE:
            PixRecurrence.objects.filter(pk=row.pk, solicrec_status=SolicRecStatus.UNKNOWN, solicrec_id="").update(
                solicrec_status="", last_error=SOLICREC_NOT_CREATED_MESSAGE)
            ended += 1
    return {"unknown_found": found, "unknown_ended": ended}


def reconcile(*, account_id: int, now=None, client=None) -> dict:
    """One account: the POSTs without answer, then ``GET /rec`` since the creation of the
    oldest recurrence still open here (``CRIADA``/``APROVADA``), then ``GET /cobr`` since
    the creation of the oldest cobr still open here (``CRIADA``/``ATIVA``: created at most
    ``WINDOW_MAX_DAYS`` before its due date) — every page, each item applied where it
    differs from what Agrega holds. Run again, it applies nothing twice."""
    from . import recurrence
    from .services import shared_client

    account = PixAccount.objects.get(pk=account_id)
    now = now or timezone.now()
    client = client or shared_client(account)
    counts = settle_unknown(account, client, now)
    fim = _stamp(now + timedelta(seconds=1))

    open_recs = PixRecurrence.objects.filter(account=account, status__in=[
        RecurrenceStatus.CREATED, RecurrenceStatus.APPROVED]).exclude(id_rec="")
    oldest = open_recs.order_by("created_at").values_list("created_at", flat=True).first()
    seen = updated = 0
    if oldest is not None:
        inicio = _stamp(oldest - OVERLAP)
        local = {row.id_rec: row for row in open_recs}
        for remote in _pages(lambda p: client.rec_list(inicio, fim, page=p, per_page=PAGE), "recs"):
            seen += 1
            row = local.get(str(remote.get("idRec") or ""))
            if row is not None and (remote.get("status") != row.status or _solicrec_differs(row, remote)):
                apply_rec(account, remote, client)
                updated += 1
    counts.update(recs_seen=seen, recs_updated=updated)

    open_cobrs = PixRecurringCharge.objects.filter(recurrence__account=account, status__in=recurrence.OPEN_COBR,
                                                   due_sent__isnull=False)
    first_due = open_cobrs.order_by("due_sent").values_list("due_sent", flat=True).first()
    seen = applied = 0
    if first_due is not None:
        created_from = first_due - timedelta(days=recurrence.WINDOW_MAX_DAYS + 1)
        inicio = _stamp(timezone.make_aware(datetime.combine(created_from, datetime.min.time())))
        local = {charge.txid: charge for charge in open_cobrs.select_related("recurrence")}
        for remote in _pages(lambda p: client.cobr_list(inicio, fim, page=p, per_page=PAGE), "cobsr"):
            seen += 1
            charge = local.get(str(remote.get("txid") or ""))
            if charge is not None:
                applied += recurrence._settle_cobr(charge, remote, client)
    counts.update(cobrs_seen=seen, applied=applied)
    return counts


def _solicrec_differs(row: PixRecurrence, remote: dict) -> bool:
    items = [s for s in remote.get("solicitacao") or [] if isinstance(s, dict)]
    mine = next((s for s in items if s.get("idSolicRec") == row.solicrec_id), None)
    return mine is not None and mine.get("status") != row.solicrec_status


def reconcile_job() -> dict:
    """The periodic job ``pix.reconcile_automatico``: the notices still due (a PSP that
    failed), then each active account's reconciliation."""
    totals: dict[str, int] = {f"notices_{k}": v for k, v in drain().items()}
    for account_id in PixAccount.objects.filter(active=True).values_list("pk", flat=True):
        if not PixRecurrence.objects.filter(account_id=account_id).exists():
            continue  # no Pix Automático on this account: no read spent
        try:
            for key, value in reconcile(account_id=account_id).items():
                totals[key] = totals.get(key, 0) + value
        except PixError as exc:
            log.warning("pix automático: reconciliation of account %s failed: %s", account_id, exc)
            totals["failed"] = totals.get("failed", 0) + 1
    return totals
