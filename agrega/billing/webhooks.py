"""The payment webhook: a payment provider tells Agrega that a título was paid.

It is authenticated by the body itself, not by a user token: the provider signs the raw
body with HMAC-SHA256 and the shared secret ``PAYMENT_WEBHOOK_SECRET`` and sends
``X-Agrega-Signature: sha256=<hex>``. A delivery is identified by ``(provider,
payment_id)``, so a redelivery returns the payment the first one created and changes
nothing (docs/payments.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date
from decimal import Decimal

from django.conf import settings

from agrega.core.errors import ApplicationError, FieldErrors

from .models import PaymentMethod
from .services import PaymentOutcome, payment_register

SIGNATURE_HEADER = "X-Agrega-Signature"
MAX_BODY_BYTES = 64 * 1024


def sign(body: bytes, secret: str) -> str:
    """The header value a provider sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(body: bytes, header: str | None) -> None:
    """Raise unless ``header`` is the signature of ``body`` with the configured secret
    (503 when no secret is configured: the webhook is off)."""
    secret = getattr(settings, "PAYMENT_WEBHOOK_SECRET", "")
    if not secret:
        raise ApplicationError(
            "webhook_disabled",
            "Webhook de pagamentos desativado: configure AGREGA_PAYMENT_WEBHOOK_SECRET.",
            status_code=503,
        )
    if len(body) > MAX_BODY_BYTES:
        raise ApplicationError("body_too_large", "Corpo da requisição grande demais.", status_code=413)
    expected = sign(body, secret)
    if not header or not hmac.compare_digest(expected.encode(), header.strip().encode()):
        raise ApplicationError(
            "signature_invalid",
            f"Assinatura inválida: envie {SIGNATURE_HEADER}: sha256=<HMAC-SHA256 hex do corpo com o segredo>.",
            status_code=401,
        )


def _text(data: dict, name: str, errors: FieldErrors, *, max_length: int) -> str:
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        errors.add(name, "required", f"Informe {name} (texto).")
        return ""
    if len(value.strip()) > max_length:
        errors.add(name, "too_long", f"{name}: no máximo {max_length} caracteres.")
    return value.strip()


def parse_delivery(body: bytes) -> dict:
    """The delivery's fields, checked: provider, payment_id, invoice_id, amount, paid_on."""
    try:
        data = json.loads(body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        raise ApplicationError("invalid_json", "O corpo não é um JSON válido (UTF-8).", status_code=400) from None
    if not isinstance(data, dict):
        raise ApplicationError("invalid_json", "O corpo deve ser um objeto JSON.", status_code=400)
    errors = FieldErrors()
    provider = _text(data, "provider", errors, max_length=60)
    payment_id = _text(data, "payment_id", errors, max_length=120)
    invoice_id = data.get("invoice_id")
    if isinstance(invoice_id, str) and invoice_id.strip().isdigit():
        invoice_id = int(invoice_id)
    if not isinstance(invoice_id, int) or isinstance(invoice_id, bool) or invoice_id < 1:
        errors.add("invoice_id", "invalid", "invoice_id deve ser o número do título (inteiro).")
    amount = data.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (str, int, Decimal)):
        errors.add("amount", "amount_invalid", 'amount deve ser um valor como "109.90".')
    paid_on = data.get("paid_on")
    try:
        paid_on = date.fromisoformat(paid_on) if isinstance(paid_on, str) else None
    except ValueError:
        paid_on = None
    if paid_on is None:
        errors.add("paid_on", "date_invalid", "paid_on deve ser uma data AAAA-MM-DD.")
    errors.raise_if_any()
    return {"provider": provider, "payment_id": payment_id, "invoice_id": invoice_id,
            "amount": str(amount), "paid_on": paid_on}


def payment_webhook_receive(*, body: bytes, signature: str | None) -> PaymentOutcome:
    """Check the signature, then apply the delivery once (``created`` False on a redelivery)."""
    verify_signature(body, signature)
    delivery = parse_delivery(body)
    return payment_register(
        invoice_id=delivery["invoice_id"],
        amount=delivery["amount"],
        paid_on=delivery["paid_on"],
        method=PaymentMethod.WEBHOOK,
        provider=delivery["provider"],
        external_id=delivery["payment_id"],
        actor=f"webhook {delivery['provider']}"[:150],
    )
