"""The dunning app's side of the billing hooks: a payment (or a cancellation) that
leaves nothing overdue releases the contract at once, in the payment's transaction; and
a contract's financial summary gets its dunning part from here."""

from django.dispatch import receiver

from agrega.billing.signals import contract_billing_summary, open_invoices_changed

from . import selectors, services


@receiver(open_invoices_changed)
def _open_invoices_changed(sender, contract_ids, **kwargs):
    services.release_settled(contract_ids=contract_ids)


@receiver(contract_billing_summary)
def _contract_billing_summary(sender, contract, **kwargs):
    return selectors.contract_dunning(contract)
