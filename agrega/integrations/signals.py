from django.dispatch import Signal

# Sent inside the transaction that updated an integration. kwargs: integration, changed
# (set of field names). The SVA app re-checks the consent gate of the integration's users
# when ``requires_consent`` changed (agrega/sva/receivers.py).
integration_changed = Signal()
