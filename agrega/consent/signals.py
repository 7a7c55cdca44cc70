from django.dispatch import Signal

# Sent inside the transaction that recorded or revoked a consent. kwargs: contract_id,
# product_id. The SVA app re-checks the consent gate of the matching users
# (agrega/sva/receivers.py), so a user waiting for consent converges once it is recorded.
consent_changed = Signal()
