"""The event signature, documented in docs/connectors/webhook.md ("Assinatura").

``Agrega-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>``; while
a secret is being rotated the header carries one ``v1`` per secret (the new one first),
so the platform accepts either until it has switched, like Stripe's signatures.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

HEADER = "Agrega-Signature"


def canonical(body: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys sorted, UTF-8."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def header(secrets: list[str], timestamp: int, body: bytes) -> str:
    """The header value for ``body`` signed with every given secret (empty ones skipped)."""
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets if s)])


def event_id(account: str, kind: str, data: dict[str, Any]) -> str:
    """Stable for one intent: the same change retried (after a timeout, a 5xx, a restart
    of the worker) carries the same id, so a platform can recognise the repetition."""
    digest = hashlib.sha256(canonical({"account": account, "type": kind, "data": data})).hexdigest()
    return "evt_" + digest[:32]
