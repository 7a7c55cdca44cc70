"""Hooks the billing app offers, sent inside the transaction that made the change.

The dunning app listens: a payment or a cancellation that leaves nothing overdue
releases the contract at once (docs/decisions/0006-billing-and-dunning.md); and it adds
its part (stage, régua, trust release) to a contract's financial summary, so billing
never imports dunning (dunning depends on billing, not the reverse)."""

from django.dispatch import Signal

# kwargs: contract_ids — their open títulos changed (paid, cancelled); oldest_open_due
# on those contracts is already recomputed when this is sent.
open_invoices_changed = Signal()

# kwargs: run_id, period — sent when a billing run finished (agrega/fiscal emits the NFCom).
billing_run_finished = Signal()

# kwargs: invoice_id — sent inside the transaction that cancelled the título
# (agrega/fiscal cancels its NFCom after commit).
invoice_cancelled = Signal()

# kwargs: invoice_ids — títulos just created (billing run), sent inside its transaction;
# the pix app creates their cobranças after the commit.
invoices_created = Signal()

# kwargs: contract — receivers return a dict of ContractBilling's dunning fields
# (dunning_level, dunning_stage, dunning_policy, trust_release_until, trust); a read,
# sent outside any transaction of billing's.
contract_billing_summary = Signal()
