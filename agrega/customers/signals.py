from django.dispatch import Signal

# Sent inside the transaction that changed a customer. kwargs: customer, changed (set of
# field names). Receivers may raise ApplicationError to refuse the change.
customer_changed = Signal()

# Sent inside the transaction that anonymised a customer (LGPD). kwargs: customer.
# Apps holding copies of the customer's personal data erase them in that transaction.
customer_anonymized = Signal()
