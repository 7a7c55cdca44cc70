"""Background work of the NFCom (django-tasks): emission of a period's títulos after the
billing run, sending what is signed, cancelling the NFCom of a cancelled título.

Each task is idempotent: a document is created once per título (unique), numbering is
transactional (services.py), and sending settles unknown outcomes first — so a task may
run twice or be killed half-way without harm.

``services`` (the XML schemas, the signature: nfelib, xsdata, cryptography — ~0.3 s of
CPU to import) is imported by the task bodies, not here: the billing run and the
cancellation only enqueue, and a process that enqueues never runs the emission."""

from __future__ import annotations

import logging
from datetime import date

from django_tasks import task

from agrega.billing.models import Invoice, InvoiceStatus
from agrega.core.errors import ApplicationError

from .models import NFCom

log = logging.getLogger(__name__)


def enqueue_safely(t, *args):
    """Enqueue, or log when the fiscal setup is missing (a billing run must not fail
    because the ISP has not configured the NFCom)."""
    try:
        return t.enqueue(*args)
    except ApplicationError as exc:
        log.warning("NFCom: %s", exc.message)
        return None


def emit_invoices(invoice_ids, *, send: bool = True) -> dict:
    from . import services

    counts = {"created": 0, "errors": {}}
    for invoice_id in invoice_ids:
        try:
            services.nfcom_create(invoice_id=invoice_id)
            counts["created"] += 1
        except ApplicationError as exc:
            counts["errors"][exc.code] = counts["errors"].get(exc.code, 0) + 1
    if send and services.emitter_get() and services.emitter_get().sefaz_url:
        try:
            counts["send"] = services.send_pending()
        except Exception as exc:  # SEFAZ down: documents wait for the next run
            counts["send"] = {"error": str(exc)}
    return counts


def invoices_without_nfcom(period: date) -> list[int]:
    return list(Invoice.objects.filter(period=period).exclude(status=InvoiceStatus.CANCELLED)
                .exclude(pk__in=NFCom.objects.values("invoice_id")).order_by("pk").values_list("pk", flat=True))


@task()
def emit_period(period: str) -> dict:
    """The NFCom of every título of ``period`` that has none yet, then send."""
    from . import services

    if services.emitter_get() is None:
        return {"skipped": "emitter_missing"}
    return emit_invoices(invoices_without_nfcom(date.fromisoformat(period)))


@task()
def send_pending() -> dict:
    from . import services

    return services.send_pending()


@task()
def cancel_for_invoice(invoice_id: int) -> str:
    from . import services

    doc = services.invoice_cancelled(invoice_id=invoice_id)
    return doc.status if doc else "none"
