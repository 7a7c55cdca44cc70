from django.dispatch import Signal

# Sent inside the transaction that changed a customer. kwargs: customer, changed (set of
# field names). Receivers may raise ApplicationError to refuse the change.
customer_changed = Signal()
