"""Billing rules: the monthly run, cancelling a título, and settling it (baixa).

Every change to what a contract owes ends with ``refresh_open_due`` and the
``open_invoices_changed`` signal, so the dunning rules see it in the same transaction
(a payment that leaves nothing overdue releases the contract at once)."""

from __future__ import annotations

import calendar
import threading
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Max, Min, OuterRef, Subquery, Sum
from django.utils import timezone

from agrega.catalog.models import Product
from agrega.contracts.models import Contract
from agrega.contracts.services import contracts_lower_open_due, contracts_set_open_due
from agrega.core.audit import record_change
from agrega.core.bulk import in_threads, insert_new, insert_returning
from agrega.core.errors import ApplicationError, Conflict, FieldErrors, InvalidTransition, NotFound
from agrega.core.money import format_brl, parse_amount

from .models import (
    ZERO,
    BillingRun,
    CreditEntry,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    PaymentStatus,
)
from . import sql
from .signals import billing_run_finished, invoice_cancelled, invoices_created, open_invoices_changed

CENT = Decimal("0.01")
CREDIT_APPLIED = "Crédito aplicado no título"  # the ledger's line for the credit a título took
RUN_CHUNK = 5000  # contracts per transaction (bench/README.md: fewer statements; ~110 MiB peak)
RUN_WORKERS = 2  # chunks billed at once on PostgreSQL (see billing_run)
# A past period is closed for the daily catch-up once a run of it began this long after
# it ended: every activation of the period had committed by then (billing_catch_up).
CATCH_UP_MARGIN = timedelta(minutes=30)


# ---------------------------------------------------------------- dates and amounts

def period_start(day: date) -> date:
    return day.replace(day=1)


def parse_period(text: str) -> date:
    """``AAAA-MM`` (or a full date) → the first day of that month."""
    try:
        if len(text) == 7:
            return datetime.strptime(text, "%Y-%m").date()
        return period_start(date.fromisoformat(text))
    except (TypeError, ValueError):
        raise ApplicationError("period_invalid", "Competência inválida: use AAAA-MM (ex.: 2026-11).") from None


def days_in_month(period: date) -> int:
    return calendar.monthrange(period.year, period.month)[1]


def due_date_for(period: date, billing_day: int) -> date:
    """The billing day in the period's month; day 31 in a 30-day month (or 29–31 in
    February) falls on the month's last day."""
    return period.replace(day=min(billing_day, days_in_month(period)))


def prorate_line(
    *, period: date, price: Decimal, starts_on: date | None, ends_before: date | None
) -> tuple[int, int, Decimal]:
    """(days billed, days in the month, amount) of a monthly price for the part of the
    period between ``starts_on`` (first day billed) and ``ends_before`` (first day not
    billed). A whole month is exactly the price; a part is price × days ÷ days, to the
    cent (half up)."""
    total = days_in_month(period)
    first = max(period, starts_on) if starts_on else period
    stop = period.replace(day=total) + timedelta(days=1)
    if ends_before is not None:
        stop = min(stop, ends_before)
    days = max((stop - first).days, 0)
    if days >= total:
        return total, total, price
    return days, total, (price * days / total).quantize(CENT, rounding=ROUND_HALF_UP)


# ---------------------------------------------------------------- the billing run

def billing_run_queue(*, period: date, actor=None) -> BillingRun:
    """The billing run as the pages and the API ask for it: the run's row (not finished)
    and its task (agrega/billing/tasks.py) in one transaction; the task worker bills
    and the row shows the progress. Never bills inside the request."""
    from .tasks import run_billing  # the task calls back into this module

    period = period_start(period)
    with transaction.atomic():
        run = BillingRun.objects.create(period=period, actor_label=_actor_label(actor))
        result = run_billing.enqueue(run_id=run.pk)
        run.task_id = str(result.id)
        run.save(update_fields=["task_id"])
    return run


def billing_run_resume(*, run_id: int, **options) -> BillingRun:
    """Bill a queued run (the task's body); run again after a worker died, it continues:
    contracts billed by the first attempt are skipped, the counts kept on the row."""
    run = BillingRun.objects.filter(pk=run_id).first()
    if run is None:
        raise NotFound("Faturamento", "billing_run_not_found")
    if run.finished_at is not None:
        return run
    return billing_run(period=run.period, run=run, **options)


def billing_run(*, period: date, actor=None, chunk_size: int = RUN_CHUNK, today: date | None = None,
                progress=None, workers: int = RUN_WORKERS, now: datetime | None = None,
                run: BillingRun | None = None) -> BillingRun:
    """Create one título per active contract for ``period`` (first day of a month),
    with a line per product, due on the contract's billing day.

    Works in chunks of contracts, each its own transaction, so memory stays flat and a
    run that stops half-way is finished by running it again: ``(contract, period)`` is
    unique and contracts already billed are skipped. On PostgreSQL, when not called
    inside a transaction, ``workers`` chunks are billed at once, each on its own
    connection: about two thirds of a run is the database's own work (bench/README.md),
    and one connection keeps it on one core."""
    period = period_start(period)
    started = now or timezone.now()
    today = today or timezone.localdate(started)
    if run is None:
        run = BillingRun.objects.create(period=period, actor_label=_actor_label(actor), started_at=started)
    elif not Invoice.objects.filter(billing_run=run).exists():
        run.started_at = started  # a queued run begins now (the catch-up reads when runs began)
        run.save(update_fields=["started_at"])
    period_end = period.replace(day=days_in_month(period))
    # activated before the end of the period, in local time
    activated_before = timezone.make_aware(datetime.combine(period_end + timedelta(days=1), datetime.min.time()))

    def chunks():
        last_id = 0
        while True:
            contracts = sql.contracts_to_bill(period=period, after=last_id, activated_before=activated_before,
                                              limit=chunk_size)
            if not contracts:
                return
            last_id = contracts[-1][0]
            yield contracts

    def bill(contracts):
        # the counts are added in the chunk's own transaction: after a kill, the row says
        # exactly what the committed chunks did, and a resumed run adds to it
        with transaction.atomic():
            counts = (len(contracts), *_bill_chunk(run, period, today, contracts))
            seen, created, lines, total = counts
            BillingRun.objects.filter(pk=run.pk).update(
                contracts_seen=F("contracts_seen") + seen, invoices_created=F("invoices_created") + created,
                lines_created=F("lines_created") + lines, total_amount=F("total_amount") + total)
            return counts

    parallel = workers > 1 and connection.vendor == "postgresql" and transaction.get_autocommit()
    for _ in (in_threads(bill, chunks(), workers) if parallel else map(bill, chunks())):
        if progress:
            run.refresh_from_db(fields=["contracts_seen", "invoices_created", "lines_created", "total_amount"])
            progress(run)
    run.refresh_from_db(fields=["contracts_seen", "invoices_created", "lines_created", "total_amount"])
    run.finished_at = max(timezone.now(), run.started_at)
    run.save(update_fields=["finished_at"])
    billing_run_finished.send(sender=BillingRun, run_id=run.pk, period=period)
    return run


def billing_catch_up(*, now: datetime | None = None, actor=None, **options) -> list[BillingRun]:
    """The daily run: bill the current month and every earlier month the runs may have
    missed, oldest first — a contract activated (or given its first product) after the
    last run of its month, e.g. on the 31st at 23:00 after the 01:00 run, is billed for
    that month by the next day's run, and an outage of the job is made up.

    Months from the latest one a finished run billed; one is done once a run of it began
    ``CATCH_UP_MARGIN`` after it ended. With no earlier run (a new installation), only
    the current month. ``(contract, period)`` is unique, so nothing is billed twice."""
    now = now or timezone.now()
    current = period_start(timezone.localdate(now))
    finished = BillingRun.objects.filter(finished_at__isnull=False)
    month = finished.filter(period__lt=current).aggregate(p=Max("period"))["p"]
    periods = []
    while month is not None and month < current:
        following = month.replace(day=days_in_month(month)) + timedelta(days=1)
        if not finished.filter(period=month, started_at__gte=_local_midnight(following) + CATCH_UP_MARGIN).exists():
            periods.append(month)
        month = following
    return [billing_run(period=period, actor=actor, now=now, **options) for period in [*periods, current]]


def _bill_chunk(run: BillingRun, period: date, today: date, contracts: list[tuple]) -> tuple[int, int, Decimal]:
    """Bill one chunk of contracts (``(id, customer id, billing day, activated at)``, by
    id); returns (títulos created, lines created, their total). On PostgreSQL the database
    computes and writes the rows in one statement (``sql.bill_chunk``), elsewhere
    ``_bill_chunk_rows`` does it here: the same rules (tests/billing/test_sql.py)."""
    if connection.vendor == "postgresql":
        return _bill_chunk_sql(run, period, today, contracts)
    return _bill_chunk_rows(run, period, today, contracts)


def _bill_chunk_sql(run: BillingRun, period: date, today: date, contracts: list[tuple]) -> tuple[int, int, Decimal]:
    import psycopg

    total_days = days_in_month(period)
    next_period = period.replace(day=total_days) + timedelta(days=1)
    if settings.BILLING_FIRST_DUE_MIN_DAYS:
        # a catch-up (issued after the period) gives every título the notice, else a first one only
        earliest, first_only = today + _notice(), not period < period_start(today)
    else:
        earliest, first_only = None, False
    options = dict(
        ids=[c[0] for c in contracts], period=period, today=today, now=timezone.now(), run_id=run.pk,
        total_days=total_days, next_period=next_period, begins=_local_midnight(period),
        second_day=_local_midnight(period + timedelta(days=1)), ends=_local_midnight(next_period),
        zone=timezone.get_current_timezone_name(), dues=[due_date_for(period, day) for day in range(1, 32)],
        earliest=earliest, first_only=first_only, open_status=InvoiceStatus.OPEN.value,
        paid_status=InvoiceStatus.PAID.value, credit_description=CREDIT_APPLIED)
    try:
        # no ON CONFLICT on the way every chunk takes (a speculative insertion costs a WAL
        # record more per título); a contract another run has just billed rolls the
        # savepoint back and the chunk is billed again skipping it
        with transaction.atomic():
            created, lines = sql.bill_chunk(**options)
    except IntegrityError as exc:
        if not isinstance(exc.__cause__, psycopg.errors.UniqueViolation):
            raise
        created, lines = sql.bill_chunk(**options, on_conflict=True)
    open_due = defaultdict(list)
    total = ZERO
    for _, contract_id, due, is_open, amount in created:
        total += amount
        if is_open:
            open_due[due].append(contract_id)
    _lower_open_due(open_due)
    if created:
        invoices_created.send(sender=Invoice, invoice_ids=[row[0] for row in created])
    return len(created), lines, total


def _bill_chunk_rows(run: BillingRun, period: date, today: date, contracts: list[tuple]) -> tuple[int, int, Decimal]:
    ids = [c[0] for c in contracts]
    total_days = days_in_month(period)
    next_period = period.replace(day=total_days) + timedelta(days=1)
    period_begins = _local_midnight(period)
    second_day = _local_midnight(period + timedelta(days=1))
    period_ends = _local_midnight(next_period)
    in_chunk = sql.chunk_condition(ids)
    items = defaultdict(list)
    rows = sql.contract_items(ids, period_begins=period_begins, period_ends=period_ends)
    for row in rows:
        items[row[0]].append(row)  # a contract of the id range outside the chunk is never looked up
    products = {
        pk: (name[:250], fiscal_class, price)
        for pk, name, fiscal_class, price in Product.objects.filter(
            pk__in={row[2] for lines in items.values() for row in lines}
        ).values_list("pk", "name", "fiscal_class", "price")
    }
    credits = dict(
        CreditEntry.objects.filter(in_chunk).values("contract_id")
        .annotate(balance=Sum("amount")).filter(balance__gt=0).values_list("contract_id", "balance")
    )
    local_date = _local_date_converter()
    dues = {day: due_date_for(period, day) for day in range(1, 32)}
    soon = today + _notice()  # once per chunk: a settings read and a timedelta per contract cost 4 µs each
    earliest, known = _earliest_due(period, today, [c for c in contracts if dues[c[2]] < soon])
    now = timezone.now()
    run_id = run.pk  # read once: a model's pk is a property (100,000 calls per 100,000 contracts)
    invoice_rows, drafts = [], {}
    for contract_id, customer_id, billing_day, activated_at in contracts:
        # Billed from the first day unless activated (or the product added) later.
        whole_from_start = activated_at is None or activated_at < second_day
        lines = []
        gross = ZERO
        for _, cp_id, product_id, price, added_at, removed_at in items.get(contract_id, ()):
            name, fiscal_class, product_price = products[product_id]
            unit = price if price is not None else product_price
            if whole_from_start and added_at < second_day and (removed_at is None or removed_at >= period_ends):
                # the whole month: what prorate_line returns, without the date arithmetic
                lines.append((cp_id, product_id, name, fiscal_class, unit, total_days, total_days, unit))
                gross += unit
                continue
            activated_on = local_date(activated_at)
            starts = max(activated_on, local_date(added_at)) if activated_on else local_date(added_at)
            days, total, amount = prorate_line(period=period, price=unit, starts_on=starts,
                                               ends_before=local_date(removed_at))
            if days <= 0:
                continue
            description = name if days == total else f"{name} (proporcional {days}/{total} dias)"
            lines.append((cp_id, product_id, description[:250], fiscal_class, unit, days, total, amount))
            gross += amount
        if not lines:
            continue
        credit = credits.get(contract_id)  # most contracts have none
        credit = min(credit, gross) if credit else ZERO
        amount = gross - credit
        status = InvoiceStatus.OPEN if amount > 0 else InvoiceStatus.PAID
        due = dues[billing_day]
        if due < earliest and contract_id not in known:
            due = earliest
        invoice_rows.append((contract_id, customer_id, period, today, due, amount, credit, ZERO, status,
                             today if status == InvoiceStatus.PAID else None, "", run_id, now))
        drafts[contract_id] = (lines, gross, credit, due if status == InvoiceStatus.OPEN else None)
    created = insert_new(
        Invoice,
        ["contract", "customer", "period", "issued_on", "due_date", "amount", "credit_applied", "paid_amount",
         "status", "paid_at", "cancel_reason", "billing_run", "created_at"],
        invoice_rows,
        conflict=["contract", "period"],
        key="contract",
    )
    line_rows, credit_rows, total = [], [], ZERO
    open_due = defaultdict(list)
    for invoice_id, contract_id in created:
        lines, gross, credit, due = drafts[contract_id]
        line_rows += [(invoice_id, *line) for line in lines]
        total += gross - credit
        if credit > 0:
            credit_rows.append((contract_id, -credit, invoice_id, CREDIT_APPLIED, now))
        if due is not None:
            open_due[due].append(contract_id)
    insert_returning(
        InvoiceLine,
        ["invoice", "contract_product", "product", "description", "fiscal_class", "unit_price", "days",
         "days_in_period", "amount"],
        line_rows,
        returning=(),
    )
    insert_returning(CreditEntry, ["contract", "amount", "invoice", "description", "created_at"], credit_rows,
                     returning=())
    _lower_open_due(open_due)
    if created:
        invoices_created.send(sender=Invoice, invoice_ids=[invoice_id for invoice_id, _ in created])
    return len(created), len(line_rows), total


def _notice() -> timedelta:
    return timedelta(days=settings.BILLING_FIRST_DUE_MIN_DAYS)


def _earliest_due(period: date, today: date, close: list[tuple]) -> tuple[date, set[int]]:
    """A título is due at least ``BILLING_FIRST_DUE_MIN_DAYS`` after it is issued when it
    is the contract's first (the customer was never told the billing day), or when it
    is issued after its period ended (the catch-up: else it would be born overdue).
    Returns that earliest due date and, of the contracts whose due date comes sooner
    (``close``), those it does not apply to: already billed, for an on-time título."""
    if not settings.BILLING_FIRST_DUE_MIN_DAYS:  # 0: off
        return date.min, set()
    earliest = today + _notice()
    if period < period_start(today) or not close:
        return earliest, set()
    return earliest, sql.contracts_billed([c[0] for c in close])


def _local_midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def _local_date_converter():
    """Local date of a moment, for a chunk: the current time zone looked up once, and each
    distinct moment converted once (a contract's products share its activation time)."""
    zone = timezone.get_current_timezone()
    seen: dict = {}

    def convert(moment):
        if moment is None:
            return None
        day = seen.get(moment)
        if day is None:
            day = seen[moment] = moment.astimezone(zone).date()
        return day

    return convert


def _lower_open_due(contracts_by_due: dict[date, list[int]]) -> None:
    """A new open título due on ``due`` makes the contract's oldest open due date
    ``min(oldest_open_due, due)`` (the contracts app writes it). Equivalent to
    ``refresh_open_due`` after inserting open títulos, which keeps the column right on
    every other change."""
    contracts_lower_open_due(contracts_by_due)


# ---------------------------------------------------------------- what is owed

def refresh_open_due(contract_ids) -> None:
    """Recompute ``Contract.oldest_open_due`` from the open títulos (one UPDATE)."""
    ids = list(contract_ids)
    if not ids:
        return
    oldest = (Invoice.objects.filter(contract=OuterRef("pk"), status=InvoiceStatus.OPEN)
              .values("contract").annotate(d=Min("due_date")).values("d"))
    contracts_set_open_due(ids, Subquery(oldest[:1]))


_batched = threading.local()


@contextmanager
def changes_batched():
    """Inside this block (which must run in a transaction), the refresh of what each
    changed contract owes and the ``open_invoices_changed`` signal (dunning's release, the
    SVA intent, the cobranças' refresh) are collected and done once, set-based, for all
    the contracts at the end of the block, instead of once per baixa: the PIX inbox
    applies a batch of Pix this way. Nested blocks join the outer one."""
    if getattr(_batched, "ids", None) is not None:
        yield
        return
    if transaction.get_autocommit():
        raise RuntimeError("changes_batched() needs a transaction: the release must commit with the baixas")
    _batched.ids = set()
    try:
        yield
        ids = sorted(_batched.ids)
    finally:
        _batched.ids = None
    if ids:
        _after_change(ids)


def _after_change(contract_ids) -> None:
    pending = getattr(_batched, "ids", None)
    if pending is not None:
        pending.update(contract_ids)
        return
    refresh_open_due(contract_ids)
    open_invoices_changed.send(sender=Invoice, contract_ids=list(contract_ids))


def _locked_invoice(invoice_id) -> Invoice:
    """Lock the contract first, then the título: the order every billing and dunning
    write takes, so a payment and a sweep never deadlock and the later sees the earlier."""
    invoice = Invoice.objects.filter(pk=invoice_id).values_list("contract_id", flat=True).first()
    if invoice is None:
        raise NotFound("Título", "invoice_not_found")
    Contract.objects.select_for_update().filter(pk=invoice).values_list("pk").first()
    return Invoice.objects.select_for_update().get(pk=invoice_id)


def invoice_lock(*, invoice_id: int) -> Invoice:
    """Lock a título (its contract first) before a change of another app's that ends in
    a billing write, e.g. a devolução's row then ``payment_refund``: taking the rows in
    billing's order first is what keeps that app's own lock from coming between them.
    Call it inside a transaction."""
    return _locked_invoice(invoice_id)


@transaction.atomic
def invoice_cancel(*, invoice_id: int, reason: str = "", actor=None) -> Invoice:
    invoice = _locked_invoice(invoice_id)
    if invoice.status == InvoiceStatus.CANCELLED:
        raise InvalidTransition("invoice_cancelled", "Este título já está cancelado.")
    if invoice.paid_amount > 0:
        raise InvalidTransition(
            "invoice_has_payments",
            "Este título tem pagamentos registrados e não pode ser cancelado.",
        )
    invoice.status = InvoiceStatus.CANCELLED
    invoice.cancelled_at = timezone.now()
    invoice.cancel_reason = (reason or "").strip()[:200]
    invoice.save(update_fields=["status", "cancelled_at", "cancel_reason"])
    record_change(instance=invoice, action="cancel", actor=actor,
                  changes={"status": [InvoiceStatus.OPEN, InvoiceStatus.CANCELLED], "motivo": invoice.cancel_reason})
    if invoice.credit_applied > 0:
        CreditEntry.objects.create(contract_id=invoice.contract_id, amount=invoice.credit_applied,
                                   invoice=invoice, description="Crédito devolvido (título cancelado)")
    _after_change([invoice.contract_id])
    invoice_cancelled.send(sender=Invoice, invoice_id=invoice.pk)
    return invoice


@dataclass(frozen=True)
class PaymentOutcome:
    payment: Payment
    created: bool  # False: this payment id was already applied; nothing changed


def payment_register(
    *,
    invoice_id: int,
    amount,
    paid_on: date | None = None,
    method: str = PaymentMethod.MANUAL,
    provider: str = "",
    external_id: str = "",
    note: str = "",
    actor=None,
    payment_import=None,
    hold_margin: Decimal | None = None,
    late_fees: Decimal = ZERO,
    discount: Decimal = ZERO,
) -> PaymentOutcome:
    """Settle (part of) a título. A payment id already applied for ``provider`` (for the
    webhook: by any provider) returns the payment it created, unchanged. An over-payment
    settles the título and the excess becomes credit for the contract's next títulos —
    unless ``hold_margin`` is given and the amount passes the open balance by more than
    it: then the payment is recorded as held and changes nothing until an operator
    applies it (``payment_hold_apply``) or refuses it (``payment_hold_refuse``).
    ``late_fees`` (multa and juros in the amount) and ``discount`` (desconto granted) come
    from a cobrança PIX: the título counts ``amount − late_fees + discount``."""
    errors = FieldErrors()
    try:
        amount = parse_amount(amount)
    except ApplicationError as exc:
        errors.add("amount", exc.code, exc.message)
    paid_on = paid_on or timezone.localdate()
    if paid_on > timezone.localdate() + timedelta(days=1):
        errors.add("paid_on", "paid_on_future", "A data do pagamento está no futuro.")
    external_id = (external_id or "").strip()
    provider = (provider or method).strip()[:60]
    if len(external_id) > 120:
        errors.add("external_id", "external_id_invalid", "Id do pagamento longo demais (máx. 120).")
    errors.raise_if_any()
    with transaction.atomic():
        if external_id:
            seen = _seen(method, provider, external_id)
            if seen is not None:
                return _same_payment(seen, invoice_id, amount, provider)
        invoice = _locked_invoice(invoice_id)
        if invoice.status == InvoiceStatus.CANCELLED:
            raise InvalidTransition("invoice_cancelled", "Título cancelado não recebe pagamento.")
        if external_id:  # a twin that committed while we waited for the lock
            seen = _seen(method, provider, external_id)
            if seen is not None:
                return _same_payment(seen, invoice_id, amount, provider)
        held = hold_margin is not None and amount > invoice.balance + hold_margin
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    invoice=invoice, amount=amount, paid_on=paid_on, method=method, provider=provider,
                    external_id=external_id, note=(note or "").strip()[:250], payment_import=payment_import,
                    actor=actor if getattr(actor, "is_authenticated", False) else None,
                    actor_label=_actor_label(actor),
                    status=PaymentStatus.HELD if held else PaymentStatus.APPLIED,
                    late_fees=min(max(late_fees, ZERO), amount), discount=max(discount, ZERO),
                    hold_reason=(f"Valor {format_brl(amount)} acima do saldo em aberto {format_brl(invoice.balance)} "
                                 f"mais a margem {format_brl(hold_margin)}: aguarda um operador.") if held else "",
                )
        except IntegrityError:
            # the same id committed meanwhile for another título (so under another lock)
            seen = _seen(method, provider, external_id) if external_id else None
            if seen is None:
                raise
            return _same_payment(seen, invoice_id, amount, provider)
        if not held:
            _apply(invoice, payment)
    return PaymentOutcome(payment, True)


@dataclass(frozen=True)
class PaymentIn:
    """One payment of ``payments_register_many``: a título, an amount, the day it was
    paid and the payer's id of it (required: it is what makes it apply once)."""

    invoice_id: int
    amount: Decimal
    paid_on: date
    external_id: str
    note: str = ""
    late_fees: Decimal = ZERO  # multa and juros in the amount (a cobrança PIX), as in payment_register
    discount: Decimal = ZERO  # desconto granted


def payments_register_many(items: list[PaymentIn], *, method: str, provider: str,
                           actor=None) -> list[PaymentOutcome | ApplicationError]:
    """``payment_register`` for many payments at once (the PIX inbox's batch), set-based:
    a handful of statements for the whole batch instead of a dozen per payment. The same
    rules: a payment id already applied for ``provider`` returns that payment unchanged
    (another título or amount: ``payment_id_reused``), a cancelled título refuses it, an
    over-payment settles the título and the excess becomes credit, the título's
    ``paid_at`` is the day of the payment that completed it in the order they were made,
    and the contracts' dunning sees it once at the end, in this transaction. No hold
    margin (the webhook's held payments stay on ``payment_register``). Returns, per item
    in order, its outcome or the error it got; runs in the caller's transaction or its
    own. ``tests/billing/test_payments_many.py`` compares it with ``payment_register``."""
    results: list[PaymentOutcome | ApplicationError | None] = [None] * len(items)
    provider = (provider or method).strip()[:60]
    wanted: list[int] = []
    for k, item in enumerate(items):
        external_id = (item.external_id or "").strip()
        if not external_id or len(external_id) > 120:
            results[k] = ApplicationError("external_id_invalid", "Id do pagamento ausente ou longo demais (máx. 120).")
        elif item.amount is None or item.amount <= 0:
            results[k] = ApplicationError("amount_invalid", "Valor inválido.")
        elif item.paid_on > timezone.localdate() + timedelta(days=1):
            results[k] = ApplicationError("paid_on_future", "A data do pagamento está no futuro.")
        else:
            wanted.append(k)
    if not wanted:
        return results
    with transaction.atomic():
        contract_of = dict(Invoice.objects.filter(pk__in={items[k].invoice_id for k in wanted})
                           .values_list("pk", "contract_id"))
        # the order every billing and dunning write takes: contracts, then títulos, by id
        list(Contract.objects.select_for_update().filter(pk__in=set(contract_of.values()))
             .order_by("pk").values_list("pk", flat=True))
        invoices = {i.pk: i for i in Invoice.objects.select_for_update().filter(pk__in=list(contract_of))
                    .order_by("pk")}
        seen = {p.external_id: p for p in Payment.objects.filter(
            **({"method": method} if method == PaymentMethod.WEBHOOK else {"provider": provider}),
            external_id__in=[items[k].external_id.strip() for k in wanted])}
        applied = defaultdict(list)  # título → [(paid_on, order, counted amount)] of its applied payments
        for invoice_id, paid_on, pk, amount, late_fees, discount in Payment.objects.filter(
                invoice_id__in=list(invoices), status=PaymentStatus.APPLIED).values_list(
                "invoice_id", "paid_on", "pk", "amount", "late_fees", "discount"):
            applied[invoice_id].append((paid_on, pk, amount - late_fees + discount))
        new_payments, credits, touched = [], [], {}
        first_of: dict[str, int] = {}
        for k in wanted:
            item = items[k]
            external_id = item.external_id.strip()
            twin = seen.get(external_id)
            if twin is None and external_id in first_of:  # twice in this batch: the first one counts
                twin = first_of[external_id]
            if twin is not None:
                if isinstance(twin, int):
                    results[k] = ("twin", twin)  # resolved once the first one is inserted
                else:
                    try:
                        results[k] = _same_payment(twin, item.invoice_id, item.amount, provider)
                    except ApplicationError as exc:
                        results[k] = exc
                continue
            invoice = invoices.get(int(item.invoice_id))
            if invoice is None:
                results[k] = NotFound("Título", "invoice_not_found")
                continue
            if invoice.status == InvoiceStatus.CANCELLED:
                results[k] = InvalidTransition("invoice_cancelled", "Título cancelado não recebe pagamento.")
                continue
            first_of[external_id] = k
            owed_before = invoice.balance
            late_fees, discount = min(max(item.late_fees, ZERO), item.amount), max(item.discount, ZERO)
            counted = item.amount - late_fees + discount  # what counts for the título
            invoice.paid_amount = invoice.paid_amount + counted
            later = len(new_payments) + 10 ** 18  # inserted after every existing payment, in this order
            applied[invoice.pk].append((item.paid_on, later, counted))
            if invoice.status == InvoiceStatus.OPEN and invoice.paid_amount >= invoice.amount:
                invoice.status = InvoiceStatus.PAID
                invoice.paid_at = _settled_on_among(applied[invoice.pk], invoice.amount)
            elif invoice.status == InvoiceStatus.PAID and invoice.amount > 0:
                invoice.paid_at = _settled_on_among(applied[invoice.pk], invoice.amount)  # an earlier one, late
            touched[invoice.pk] = invoice
            payment = Payment(invoice=invoice, amount=item.amount, paid_on=item.paid_on, method=method,
                              provider=provider, external_id=external_id, note=(item.note or "").strip()[:250],
                              actor=actor if getattr(actor, "is_authenticated", False) else None,
                              actor_label=_actor_label(actor), status=PaymentStatus.APPLIED,
                              late_fees=late_fees, discount=discount)
            excess = counted - owed_before if counted > owed_before else ZERO
            new_payments.append((k, payment, excess))
        # ids come back from the insert (PostgreSQL, SQLite ≥ 3.35); a collision with a
        # payment committed meanwhile fails the whole call: the caller goes one by one
        Payment.objects.bulk_create([p for _, p, _ in new_payments])
        for k, payment, excess in new_payments:
            results[k] = PaymentOutcome(payment, True)
            if excess > 0:
                credits.append(CreditEntry(contract_id=payment.invoice.contract_id, amount=excess, payment=payment,
                                           description=f"Pagamento a maior no título {payment.invoice_id}"))
        for k, result in enumerate(results):
            if isinstance(result, tuple):
                first = results[result[1]]
                item = items[k]
                try:
                    results[k] = _same_payment(first.payment, item.invoice_id, item.amount, provider)
                except ApplicationError as exc:
                    results[k] = exc
        # one UPDATE per distinct (paid amount, status, paid_at): few for a batch of
        # monthly bills (a CASE per row, Django's bulk_update, cost more to build than to run)
        groups = defaultdict(list)
        for invoice in touched.values():
            groups[(invoice.paid_amount, invoice.status, invoice.paid_at)].append(invoice.pk)
        for (paid_amount, status, paid_at), ids in groups.items():
            Invoice.objects.filter(pk__in=ids).update(paid_amount=paid_amount, status=status, paid_at=paid_at)
        if credits:
            CreditEntry.objects.bulk_create(credits)
        if touched:
            _after_change(sorted({i.contract_id for i in touched.values()}))
    return results


def _settled_on_among(payments: list[tuple], amount: Decimal) -> date | None:
    """``_settled_on`` over (paid_on, order, amount) already in hand."""
    total, day = ZERO, None
    for day, _order, paid in sorted(payments, key=lambda p: (p[0], p[1])):
        total += paid
        if total >= amount:
            break
    return day


def _seen(method: str, provider: str, external_id: str) -> Payment | None:
    """The payment this id already made: per provider, and for the webhook whatever
    provider sent it (``uniq_webhook_payment_id``)."""
    if method == PaymentMethod.WEBHOOK:
        return Payment.objects.filter(method=method, external_id=external_id).first()
    return Payment.objects.filter(provider=provider, external_id=external_id).first()


def _apply(invoice: Invoice, payment: Payment) -> None:
    """Count ``payment`` on the locked ``invoice``: settle it, credit the excess, and let
    the dunning rules see it (release) in this transaction."""
    owed_before = invoice.balance
    amount = payment.amount - payment.late_fees + payment.discount  # what counts for the título
    # the título's row is locked (``_locked_invoice``): its paid amount is the one read
    invoice.paid_amount = invoice.paid_amount + amount
    fields = ["paid_amount"]
    excess = amount - owed_before if amount > owed_before else ZERO
    if invoice.status == InvoiceStatus.OPEN and invoice.paid_amount >= invoice.amount:
        invoice.status = InvoiceStatus.PAID
        invoice.paid_at = _settled_on(invoice)
        fields += ["status", "paid_at"]
    elif invoice.status == InvoiceStatus.PAID and invoice.amount > 0:
        invoice.paid_at = _settled_on(invoice)  # a payment made earlier may arrive later
        fields += ["paid_at"]
    invoice.save(update_fields=fields)  # one UPDATE
    if excess > 0:
        CreditEntry.objects.create(contract_id=invoice.contract_id, amount=excess, payment=payment,
                                   description=f"Pagamento a maior no título {invoice.pk}")
    _after_change([invoice.contract_id])


def _settled_on(invoice: Invoice) -> date:
    """The day the título became fully paid: the date of the applied payment that, taken
    in the order they were made (not the order they arrived in), brought the total to the
    amount. Held and refused payments count nowhere."""
    total = ZERO
    day = None
    for day, amount, late_fees, discount in (
            Payment.objects.filter(invoice=invoice, status=PaymentStatus.APPLIED)
            .order_by("paid_on", "id").values_list("paid_on", "amount", "late_fees", "discount")):
        total += amount - late_fees + discount
        if total >= invoice.amount:
            break
    return day


def _same_payment(seen: Payment, invoice_id: int, amount: Decimal, provider: str = "") -> PaymentOutcome:
    if seen.method == PaymentMethod.WEBHOOK and provider and seen.provider != provider:
        raise Conflict(
            "payment_id_other_provider",
            f"O id de pagamento {seen.external_id} já foi recebido de outro provedor ({seen.provider}); "
            "um pagamento não é aplicado de novo sob outro nome.",
        )
    if seen.invoice_id != int(invoice_id) or seen.amount != amount:
        raise Conflict(
            "payment_id_reused",
            f"O id de pagamento {seen.external_id} já foi aplicado ao título {seen.invoice_id} "
            f"com valor {seen.amount}; não é possível reutilizá-lo com outros dados.",
        )
    return PaymentOutcome(seen, False)


def _locked_held_payment(payment_id: int) -> tuple[Payment, Invoice]:
    invoice_id = Payment.objects.filter(pk=payment_id).values_list("invoice_id", flat=True).first()
    if invoice_id is None:
        raise NotFound("Pagamento", "payment_not_found")
    invoice = _locked_invoice(invoice_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if payment.status != PaymentStatus.HELD:
        raise InvalidTransition(
            "payment_not_held",
            f"O pagamento {payment.pk} não está retido (situação: {payment.get_status_display()}).",
        )
    return payment, invoice


@transaction.atomic
def payment_hold_apply(*, payment_id: int, note: str = "", actor=None) -> Payment:
    """An operator applies a held payment: it settles the título like any payment (the
    excess becomes credit, the contract is released)."""
    payment, invoice = _locked_held_payment(payment_id)
    if invoice.status == InvoiceStatus.CANCELLED:
        raise InvalidTransition("invoice_cancelled", "Título cancelado não recebe pagamento: recuse o pagamento.")
    _decide(payment, PaymentStatus.APPLIED, note, actor)
    _apply(invoice, payment)
    return payment


@transaction.atomic
def payment_hold_refuse(*, payment_id: int, note: str = "", actor=None) -> Payment:
    """An operator refuses a held payment: it stays recorded (a redelivery finds it and
    changes nothing) and is never counted; the money is returned outside Agrega."""
    note = (note or "").strip()
    if not note:
        errors = FieldErrors()
        errors.add("note", "note_required", "Informe o motivo da recusa.")
        errors.raise_if_any()
    payment, _invoice = _locked_held_payment(payment_id)
    _decide(payment, PaymentStatus.REFUSED, note, actor)
    return payment


def _decide(payment: Payment, status: str, note: str, actor) -> None:
    before = payment.status
    payment.status = status
    payment.decided_at = timezone.now()
    payment.decided_by = _actor_label(actor)[:150]
    payment.decision_note = (note or "").strip()[:250]
    payment.save(update_fields=["status", "decided_at", "decided_by", "decision_note"])
    record_change(instance=payment, action="apply" if status == PaymentStatus.APPLIED else "refuse", actor=actor,
                  changes={"status": [before, status], "observação": payment.decision_note})


@dataclass(frozen=True)
class RefundSplit:
    """Where a refund's money comes from, in the payment's parts (``refund_split``)."""

    excess: Decimal  # the over-payment the payment left as credit
    late_fees: Decimal  # multa and juros
    principal: Decimal  # what paid the título itself
    counted: Decimal  # how much the título's paid amount goes down: excess + principal + discount undone


def _refund_layers(payment: Payment, refunded: Decimal) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """The parts of ``payment`` that ``refunded`` (a total, from the first refund) gives
    back, in the order of ``refund_split``: (excess, late fees, principal, counted)."""
    excess_paid = CreditEntry.objects.filter(payment=payment, amount__gt=0).aggregate(s=Sum("amount"))["s"] or ZERO
    late_fees = min(max(payment.late_fees, ZERO), payment.amount)
    excess_paid = min(excess_paid, payment.amount - late_fees)
    principal_paid = payment.amount - late_fees - excess_paid
    left = refunded
    excess = min(left, excess_paid)
    left -= excess
    fees = min(left, late_fees)
    left -= fees
    principal = min(left, principal_paid)
    # the desconto was granted for this money: undone in proportion to the principal
    # given back, so a full refund leaves the título owing all it did before
    discount = (payment.discount * principal / principal_paid).quantize(CENT) if principal_paid > 0 else ZERO
    return excess, fees, principal, excess + principal + discount


def refund_split(payment: Payment, amount: Decimal) -> RefundSplit:
    """How a refund of ``amount`` (after the ``refunded_amount`` already given back)
    undoes ``payment``: first the **over-payment** it left as credit (money that was
    never owed), then its **late fees** (multa and juros: the título stays paid — the
    usual refund of a charge the customer disputes), and only then the **principal**,
    which lowers the título's paid amount together with the same share of the
    **desconto** granted on it, and may reopen the título. Cumulative, so partial refunds
    add up to exactly the whole one (docs/payments.md, "Devoluções")."""
    before = _refund_layers(payment, payment.refunded_amount)
    after = _refund_layers(payment, payment.refunded_amount + amount)
    return RefundSplit(*(a - b for a, b in zip(after, before)))


@transaction.atomic
def payment_refund(*, payment_id: int, amount, note: str = "", actor=None) -> Payment:
    """Money given back from an applied payment (a Pix devolução), split by
    ``refund_split``: the credit the payment left is taken back first, then its late
    fees (the título's paid amount does not change), then its principal — the título's
    paid amount goes down and a paid título whose payments no longer cover it reopens
    (and dunning sees it)."""
    amount = parse_amount(amount)
    invoice_id = Payment.objects.filter(pk=payment_id).values_list("invoice_id", flat=True).first()
    if invoice_id is None:
        raise NotFound("Pagamento", "payment_not_found")
    invoice = _locked_invoice(invoice_id)
    payment = Payment.objects.select_for_update().get(pk=payment_id)
    if payment.status != PaymentStatus.APPLIED:
        raise InvalidTransition("payment_not_applied", "Só um pagamento aplicado pode ser devolvido.")
    if payment.refunded_amount + amount > payment.amount:
        raise InvalidTransition("refund_too_large",
                                f"A devolução passa do valor do pagamento (devolvido {format_brl(payment.refunded_amount)}).")
    split = refund_split(payment, amount)
    # the credit still there (some may have paid another título since: that part is not
    # taken from the contract's balance, which never goes below zero)
    from_credit = min(split.excess, max(contract_credit_balance(invoice.contract_id), ZERO))
    if from_credit > 0:
        CreditEntry.objects.create(contract_id=invoice.contract_id, amount=-from_credit, payment=payment,
                                   description=f"Devolução do pagamento {payment.pk}")
    payment.refunded_amount = F("refunded_amount") + amount
    payment.save(update_fields=["refunded_amount"])
    payment.refresh_from_db(fields=["refunded_amount"])
    fields = []
    if split.counted:
        invoice.paid_amount = max(invoice.paid_amount - split.counted, ZERO)
        fields.append("paid_amount")
    if invoice.status == InvoiceStatus.PAID and invoice.paid_amount < invoice.amount:
        invoice.status, invoice.paid_at = InvoiceStatus.OPEN, None
        fields += ["status", "paid_at"]
    if fields:
        invoice.save(update_fields=fields)
    record_change(instance=payment, action="refund", actor=actor,
                  changes={"devolvido": [None, str(amount)], "observação": (note or "")[:250],
                           "excedente": str(split.excess), "multa e juros": str(split.late_fees),
                           "principal": str(split.principal)})
    _after_change([invoice.contract_id])
    return payment


def contract_credit_balance(contract_id: int) -> Decimal:
    return CreditEntry.objects.filter(contract_id=contract_id).aggregate(s=Sum("amount"))["s"] or ZERO


def _actor_label(actor) -> str:
    if actor is None or not getattr(actor, "is_authenticated", False):
        return "sistema" if not isinstance(actor, str) else actor
    return actor.get_username()
