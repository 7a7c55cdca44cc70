"""The dunning app's side of the billing hooks: a payment (or a cancellation) that
leaves nothing overdue releases the contract at once, in the payment's transaction."""

from django.dispatch import receiver

from agrega.billing.signals import open_invoices_changed

from . import services


@receiver(open_invoices_changed)
def _open_invoices_changed(sender, contract_ids, **kwargs):
    services.release_settled(contract_ids=contract_ids)
