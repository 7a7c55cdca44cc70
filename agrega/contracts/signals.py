"""Hooks the contracts app offers; sent inside the transaction that made the change.

The SVA app listens to them to record its intent in that same transaction
(docs/decisions/0002-convergence.md). Receivers may raise ApplicationError to refuse.
"""

from django.dispatch import Signal

# kwargs: contract_ids (list of ids whose status or access status changed)
contracts_changed = Signal()
# kwargs: contract, actor — the contract became active (status A, access A)
contract_activated = Signal()
# kwargs: contract_product, actor, replaces — the item it replaced on the same contract
# (another product of the same SVA integration, whose account it keeps), or None
contract_product_added = Signal()
# kwargs: contract_product, actor
contract_product_removed = Signal()
