"""Billing hooks: after a billing run the NFCom of its títulos are emitted (a task);
a cancelled título cancels its NFCom."""

from django.conf import settings
from django.db import transaction
from django.dispatch import receiver

from agrega.billing.signals import billing_run_finished, invoice_cancelled


@receiver(billing_run_finished)
def _emit_after_run(sender, run_id: int, period, **kwargs):
    from . import tasks

    if getattr(settings, "FISCAL_AUTO_EMIT", True):  # AGREGA_FISCAL_AUTO_EMIT=0: emit by hand (CLI/page)
        transaction.on_commit(lambda: tasks.enqueue_safely(tasks.emit_period, period.isoformat()))


@receiver(invoice_cancelled)
def _cancel_nfcom(sender, invoice_id: int, **kwargs):
    from . import tasks

    transaction.on_commit(lambda: tasks.enqueue_safely(tasks.cancel_for_invoice, invoice_id))
