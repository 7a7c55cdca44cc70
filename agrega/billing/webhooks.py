"""The payment webhook: a payment provider tells Agrega that a título was paid.

It is authenticated by the request itself, not by a user token. Each provider has its own
secret (``AGREGA_PAYMENT_WEBHOOK_SECRETS="banco1:s1,gateway:s2"``; the single
``AGREGA_PAYMENT_WEBHOOK_SECRET`` is provider ``webhook``) and sends

    X-Agrega-Timestamp: <unix seconds>
    X-Agrega-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + raw body>

The secret that verifies the signature names the provider — never the body — and a
timestamp outside ``PAYMENT_WEBHOOK_TOLERANCE`` seconds is refused, so a captured delivery
can be neither replayed later nor re-labelled as another provider's. A delivery is
identified by its ``payment_id``, unique among webhook payments whatever the provider: a
redelivery returns the payment the first one created and changes nothing; the same id from
another provider is refused. An amount above the título's open balance by more than
``PAYMENT_HOLD_MARGIN`` is held for an operator (docs/payments.md)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import date
from decimal import Decimal

from django.conf import settings

from agrega.core.errors import ApplicationError, FieldErrors
from agrega.core.money import AmountInvalid, parse_amount

from .models import PaymentMethod
from .services import PaymentOutcome, payment_register

SIGNATURE_HEADER = "X-Agrega-Signature"
TIMESTAMP_HEADER = "X-Agrega-Timestamp"
LEGACY_PROVIDER = "webhook"
MAX_BODY_BYTES = 64 * 1024


def sign(body: bytes, secret: str, timestamp: int | str) -> str:
    """The signature header value a provider sends for ``body`` at ``timestamp``."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _misconfigured(detail: str) -> ApplicationError:
    return ApplicationError(
        "webhook_misconfigured",
        f"Webhook de pagamentos mal configurado: {detail} (AGREGA_PAYMENT_WEBHOOK_SECRETS="
        '"provedor:segredo,provedor2:segredo2").',
        status_code=503,
    )


def provider_secrets() -> dict[str, str]:
    """Provider name → secret, from the settings (a dict is accepted as it is)."""
    configured = getattr(settings, "PAYMENT_WEBHOOK_SECRETS", "") or ""
    secrets: dict[str, str] = {}
    if isinstance(configured, dict):
        secrets.update(configured)
    else:
        for item in configured.split(","):
            if not item.strip():
                continue
            name, sep, secret = item.partition(":")
            name, secret = name.strip(), secret.strip()
            if not sep or not name or not secret or len(name) > 60:
                raise _misconfigured(f"item sem 'provedor:segredo' ({name[:20] or '?'})")
            if name in secrets:
                raise _misconfigured(f"provedor {name} repetido")
            secrets[name] = secret
    legacy = getattr(settings, "PAYMENT_WEBHOOK_SECRET", "") or ""
    if legacy and LEGACY_PROVIDER not in secrets:
        secrets[LEGACY_PROVIDER] = legacy
    if len(set(secrets.values())) != len(secrets):
        # one secret for two providers: the signature could not tell which one sent it
        raise _misconfigured("o mesmo segredo para dois provedores")
    return secrets


def _unauthorized(code: str, message: str) -> ApplicationError:
    return ApplicationError(code, message, status_code=401)


def verify_signature(body: bytes, signature: str | None, timestamp: str | None, *, now: float | None = None) -> str:
    """The provider whose secret signed ``timestamp.body``; raises unless one did and the
    timestamp is within the tolerance (503 when no secret is configured: webhook off)."""
    secrets = provider_secrets()
    if not secrets:
        raise ApplicationError(
            "webhook_disabled",
            "Webhook de pagamentos desativado: configure AGREGA_PAYMENT_WEBHOOK_SECRETS.",
            status_code=503,
        )
    if len(body) > MAX_BODY_BYTES:
        raise ApplicationError("body_too_large", "Corpo da requisição grande demais.", status_code=413)
    stamp = (timestamp or "").strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise _unauthorized(
            "timestamp_invalid",
            f"Envie {TIMESTAMP_HEADER}: <segundos desde 1970-01-01 UTC> e assine '<timestamp>.<corpo>'.",
        )
    given = (signature or "").strip().encode()
    provider = None
    for name, secret in secrets.items():  # every secret compared, in constant time
        if hmac.compare_digest(sign(body, secret, stamp).encode(), given):
            provider = name
    if provider is None:
        raise _unauthorized(
            "signature_invalid",
            f"Assinatura inválida: envie {SIGNATURE_HEADER}: sha256=<HMAC-SHA256 hex de "
            "'<timestamp>.<corpo>' com o segredo do provedor>.",
        )
    tolerance = int(getattr(settings, "PAYMENT_WEBHOOK_TOLERANCE", 300))
    skew = (time.time() if now is None else now) - int(stamp)
    if abs(skew) > tolerance:
        raise _unauthorized(
            "timestamp_expired",
            f"Entrega fora da janela de {tolerance} s ({int(skew)} s de diferença): reenvie com um "
            "timestamp novo (e confira o relógio do servidor).",
        )
    return provider


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


def parse_delivery(body: bytes, provider: str = "") -> dict:
    """The delivery's fields, checked: payment_id, invoice_id, amount, paid_on. ``provider``
    in the body is optional; when sent it must be the provider that signed."""
    try:
        data = json.loads(body.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError):
        raise ApplicationError("invalid_json", "O corpo não é um JSON válido (UTF-8).", status_code=400) from None
    if not isinstance(data, dict):
        raise ApplicationError("invalid_json", "O corpo deve ser um objeto JSON.", status_code=400)
    errors = FieldErrors()
    if data.get("provider") not in (None, "", provider):
        errors.add("provider", "provider_mismatch",
                   f"provider difere do provedor dono do segredo que assinou ({provider}); omita-o ou envie {provider}.")
    payment_id = _text(data, "payment_id", errors, max_length=120)
    invoice_id = data.get("invoice_id")
    if isinstance(invoice_id, str) and invoice_id.strip().isdigit():
        invoice_id = int(invoice_id)
    if not isinstance(invoice_id, int) or isinstance(invoice_id, bool) or invoice_id < 1:
        errors.add("invoice_id", "invalid", "invoice_id deve ser o número do título (inteiro).")
    amount = data.get("amount")
    try:
        amount = parse_amount(amount)
    except AmountInvalid as exc:
        errors.add("amount", exc.code, exc.message)
    paid_on = data.get("paid_on")
    try:
        paid_on = date.fromisoformat(paid_on) if isinstance(paid_on, str) else None
    except ValueError:
        paid_on = None
    if paid_on is None:
        errors.add("paid_on", "date_invalid", "paid_on deve ser uma data AAAA-MM-DD.")
    errors.raise_if_any()
    return {"provider": provider, "payment_id": payment_id, "invoice_id": invoice_id,
            "amount": amount, "paid_on": paid_on}


def hold_margin() -> Decimal:
    try:
        return parse_amount(getattr(settings, "PAYMENT_HOLD_MARGIN", "20.00"), allow_zero=True)
    except AmountInvalid:
        raise _misconfigured("AGREGA_PAYMENT_HOLD_MARGIN não é um valor (ex.: 20.00)") from None


def payment_webhook_receive(*, body: bytes, signature: str | None, timestamp: str | None = None) -> PaymentOutcome:
    """Check the signature and its timestamp, then apply the delivery once (``created``
    False on a redelivery); an amount too far above the open balance is held."""
    provider = verify_signature(body, signature, timestamp)
    delivery = parse_delivery(body, provider)
    return payment_register(
        invoice_id=delivery["invoice_id"],
        amount=delivery["amount"],
        paid_on=delivery["paid_on"],
        method=PaymentMethod.WEBHOOK,
        provider=provider,
        external_id=delivery["payment_id"],
        actor=f"webhook {provider}"[:150],
        hold_margin=hold_margin(),
    )
