"""Billing's hooks → cobranças: a new título gets its cobv, a changed, paid or cancelled
one has it revised or removed — all as tasks after the billing transaction commits."""

from __future__ import annotations

from django.dispatch import receiver

from agrega.billing.signals import invoices_created, open_invoices_changed
from agrega.contracts.signals import contracts_changed
from agrega.dunning.charges import policy_charges_changed

from .models import PixAccount


def _configured() -> bool:
    return PixAccount.objects.filter(active=True).exists()


@receiver(invoices_created)
def _on_invoices_created(sender, invoice_ids, **kwargs):
    if not invoice_ids or not _configured():
        return
    from .tasks import enqueue_charges_sync

    enqueue_charges_sync(invoice_ids)


@receiver(open_invoices_changed)
def _on_open_invoices_changed(sender, contract_ids, **kwargs):
    from django.db import transaction

    from . import services
    from .tasks import charge_sync_task

    def later():
        from . import recurrence
        from .tasks import cobr_cancel_task

        for invoice_id in services.charges_to_refresh(contract_ids):
            charge_sync_task.enqueue(invoice_id)
        # a título settled while its Pix Automático cobr is open: the cobr is cancelled
        for invoice_id in recurrence.cobrs_to_cancel(contract_ids):
            cobr_cancel_task.enqueue(invoice_id)

    transaction.on_commit(later)


@receiver(invoices_created)
def _schedule_recurring(sender, invoice_ids, **kwargs):
    """Pix Automático: títulos of contracts with an approved authorisation get their cobr."""
    from django.db import transaction

    from .models import PixRecurrence, RecurrenceStatus

    if not invoice_ids or not PixRecurrence.objects.filter(status=RecurrenceStatus.APPROVED).exists():
        return
    from .tasks import cobr_schedule_task  # not before: the billing run asks once per chunk

    transaction.on_commit(lambda: [cobr_schedule_task.enqueue(i) for i in invoice_ids])


@receiver(contracts_changed)
def _cancel_recurrences(sender, contract_ids, **kwargs):
    """A cancelled (rescinded) contract cancels its Pix Automático."""
    from django.db import transaction

    from agrega.contracts.choices import ContractStatus
    from agrega.contracts.models import Contract

    from .models import PixRecurrence

    if not PixRecurrence.objects.exists():  # no Pix Automático in use: one cheap read per announcement
        return
    from .recurrence import LIVE
    from .tasks import recurrence_cancel_task

    ids = list(PixRecurrence.objects.filter(contract_id__in=list(contract_ids), status__in=LIVE)
               .values_list("contract_id", flat=True))
    if not ids:
        return
    cancelled = list(Contract.objects.filter(pk__in=ids, status=ContractStatus.CANCELLED).values_list("pk", flat=True))
    for contract_id in cancelled:
        transaction.on_commit(lambda c=contract_id: recurrence_cancel_task.enqueue(c))


@receiver(policy_charges_changed)
def _on_policy_charges_changed(sender, policy_id, is_default, **kwargs):
    """A régua's multa/juros/desconto/validade changed: the open cobv of its contracts
    are revised (PATCH) by their tasks — sent after the policy's commit."""
    from . import services
    from .tasks import enqueue_charges_sync

    enqueue_charges_sync(services.charges_of_policy(policy_id, is_default=is_default))
