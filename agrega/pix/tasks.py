"""Background work of the PIX app (django-tasks): PSP calls never run in the request or
transaction that decided them; they are enqueued after its commit."""

from __future__ import annotations

import logging

from django.db import transaction
from django.urls import reverse
from django_tasks import task

from agrega.core.tasks import links_to

from .client import PixError

log = logging.getLogger("agrega.pix")


@task()
def charge_sync_task(invoice_id: int) -> str:
    from . import services

    try:
        charge = services.charge_sync(invoice_id=invoice_id)
    except PixError as exc:  # kept on the charge (status error); pix.reconcile sends it again
        log.warning("cobv of título %s failed: %s", invoice_id, exc)
        return "error"
    return charge.status if charge else "none"


@task()
def reconcile_task(account_id: int) -> dict:
    """Pull ``GET /pix`` and apply what a lost webhook missed (every page of it: no work
    for an HTTP request). Run again after its worker died, it applies nothing twice."""
    from . import services

    return services.reconcile(account_id=account_id)


def queue_reconcile(*, account_id: int):
    """The reconciliation an operator asks for (page, API): the account checked at once
    (404), the pull enqueued; returns the task result."""
    from .selectors import account_get

    account_get(account_id)
    return reconcile_task.enqueue(account_id=account_id)


links_to(reconcile_task, lambda kwargs, result: (f"Conta PIX {kwargs['account_id']}", reverse("pix:list")))


@task()
def charges_sync_task(invoice_ids: list[int]) -> dict:
    """The cobv of a batch of títulos (services.SYNC_BATCH): their reads and inserts are
    one query each; a PSP error stays on its charge (pix.reconcile sends it again)."""
    from . import services

    counts: dict[str, int] = {}
    for invoice_id, result in services.charges_sync(invoice_ids=invoice_ids).items():
        key = "error" if isinstance(result, PixError) else (result.status if result else "none")
        counts[key] = counts.get(key, 0) + 1
        if isinstance(result, PixError):
            log.warning("cobv of título %s failed: %s", invoice_id, result)
    return counts


def enqueue_charge_sync(invoice_id: int) -> None:
    """After the current transaction commits (at once outside one)."""
    transaction.on_commit(lambda: charge_sync_task.enqueue(invoice_id))


def enqueue_charges_sync(invoice_ids) -> None:
    """Batches of títulos, after the current transaction commits."""
    from .services import SYNC_BATCH

    ids = list(invoice_ids)
    for start in range(0, len(ids), SYNC_BATCH):
        batch = ids[start:start + SYNC_BATCH]
        transaction.on_commit(lambda b=batch: charges_sync_task.enqueue(b))


@task()
def cobr_schedule_task(invoice_id: int) -> bool:
    from . import recurrence

    try:
        return recurrence.schedule_cobr(invoice_id=invoice_id) is not None
    except PixError as exc:
        log.warning("cobr of título %s failed: %s", invoice_id, exc)
        return False


@task()
def recurrence_cancel_task(contract_id: int) -> int:
    from . import recurrence

    return recurrence.recurrence_cancel(contract_id=contract_id)


@task()
def cobr_cancel_task(invoice_id: int) -> str:
    from . import recurrence

    try:
        return recurrence.cobr_cancel_for_settled(invoice_id=invoice_id)
    except PixError as exc:
        log.warning("cobr of título %s not cancelled: %s", invoice_id, exc)
        return "error"


@task()
def automatico_drain_task() -> dict:
    """The webhookrec/webhookcobr notices due: read back from the PSP and applied
    (pix.automatico.drain). Enqueued after each callback's commit; the periodic job
    ``pix.reconcile_automatico`` drains what a failing PSP left due."""
    from . import automatico

    return automatico.drain()
