""""Webhook genérico": for any SVA platform that can receive HTTPS calls.

Agrega POSTs each SVA user change as a signed JSON event to the platform's URL; the
platform's 2xx confirms it. ``signing.py`` signs (HMAC-SHA256, Stripe-style header),
``connector.py`` maps Agrega's data objects to events and answers to ``ErrorKind``. The
contract platforms implement is docs/connectors/webhook.md.
"""
