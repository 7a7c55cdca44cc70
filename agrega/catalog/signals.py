from django.dispatch import Signal

# Sent inside the transaction that changed a product. kwargs: product, changed (set of
# field names), previous (dict of old values). Receivers may raise ApplicationError.
product_changed = Signal()
