"""POST /api/payments/webhook: HMAC-signed body instead of a user token, idempotent by
(provider, payment_id) — also when two deliveries race over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from agrega.billing.models import Payment
from agrega.contracts.choices import AccessStatus as AS


SECRET = "segredo-do-webhook-de-teste"
OTHER_SECRET = "segredo-do-outro-banco"


@pytest.fixture
def webhook_secret(settings):
    settings.PAYMENT_WEBHOOK_SECRET = ""
    settings.PAYMENT_WEBHOOK_SECRETS = f"gateway:{SECRET}, outro-banco:{OTHER_SECRET}"
    settings.PAYMENT_WEBHOOK_TOLERANCE = 300
    settings.PAYMENT_HOLD_MARGIN = "20.00"
    return SECRET


@pytest.fixture
def api_token_for(role_user):
    from agrega.core.models import ApiToken

    def make(role: str) -> str:
        return ApiToken.issue(user=role_user(f"tok-{role}", role), name="testes")[1]

    return make


def now() -> str:
    return str(int(time.time()))


def signature(body: bytes, secret: str = SECRET, timestamp: str | None = None) -> str:
    # the provider's side, written independently of agrega.billing.webhooks.sign
    message = (timestamp or now()).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def delivery(invoice, *, payment_id="PAY-1", amount="109.90", provider="gateway", paid_on=None) -> bytes:
    data = {"payment_id": payment_id, "invoice_id": invoice.pk, "amount": amount,
            "paid_on": str(paid_on or timezone.localdate())}
    if provider is not None:
        data["provider"] = provider
    return json.dumps(data).encode()


def post(body: bytes, sig: str | None = "auto", *, secret: str = SECRET, timestamp: str | None = "now", **headers):
    timestamp = now() if timestamp == "now" else timestamp
    if sig == "auto":
        sig = signature(body, secret, timestamp)
    if sig is not None:
        headers["X-Agrega-Signature"] = sig
    if timestamp is not None:
        headers["X-Agrega-Timestamp"] = timestamp
    return Client().post("/api/payments/webhook", body, content_type="application/json", headers=headers)


def test_first_delivery_pays_and_releases_redelivery_changes_nothing(webhook_secret, blocked):
    contract, invoice = blocked()
    assert contract.access_status == AS.OVERDUE
    body = delivery(invoice)
    first = post(body)
    assert first.status_code == 201, first.content
    payment = first.json()["payment"]
    assert first.json()["created"] is True
    assert (payment["method"], payment["provider"], payment["external_id"], payment["amount"]) == (
        "webhook", "gateway", "PAY-1", "109.90")
    assert payment["actor_label"] == "webhook gateway"
    assert first.json()["invoice"]["status"] == "paid"
    contract.refresh_from_db()
    assert contract.access_status == AS.ACTIVE  # released in the payment's transaction

    for _ in range(3):
        again = post(body)
        assert again.status_code == 200, again.content
        assert again.json()["created"] is False and again.json()["payment"]["id"] == payment["id"]
    invoice.refresh_from_db()
    assert invoice.paid_amount == Decimal("109.90") and Payment.objects.count() == 1


def test_redelivery_with_other_data_is_a_conflict(webhook_secret, billed):
    _, invoice = billed()
    _, other = billed()
    assert post(delivery(invoice, amount="50.00")).status_code == 201
    reused = post(delivery(invoice, amount="60.00"))
    assert reused.status_code == 409 and reused.json()["error"]["code"] == "payment_id_reused"
    assert post(delivery(other, amount="50.00")).json()["error"]["code"] == "payment_id_reused"
    invoice.refresh_from_db()
    assert invoice.paid_amount == Decimal("50.00")


@pytest.mark.parametrize("make_sig", [
    lambda body: None,                                          # no header
    lambda body: "sha256=" + "0" * 64,                           # wrong
    lambda body: signature(body, "outro-segredo"),              # unknown secret
    lambda body: signature(body, timestamp=str(int(time.time()) - 1)),  # another timestamp than the header's
    lambda body: "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),  # old scheme: body only
    lambda body: signature(body + b" "),                         # other body
    lambda body: signature(body).replace("sha256=", ""),         # no scheme
    lambda body: signature(body).upper(),                         # not the hex we sent
])
def test_bad_signature_is_401_and_changes_nothing(webhook_secret, billed, make_sig):
    _, invoice = billed()
    body = delivery(invoice)
    response = post(body, make_sig(body))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "signature_invalid"
    assert not Payment.objects.exists()


def test_no_secret_configured_means_the_webhook_is_off(settings, billed):
    settings.PAYMENT_WEBHOOK_SECRET = ""
    settings.PAYMENT_WEBHOOK_SECRETS = ""
    _, invoice = billed()
    body = delivery(invoice)
    response = post(body, signature(body))
    assert response.status_code == 503 and response.json()["error"]["code"] == "webhook_disabled"
    assert not Payment.objects.exists()


def test_a_user_token_is_neither_needed_nor_enough(webhook_secret, billed, api_token_for):
    _, invoice = billed()
    body = delivery(invoice)
    with_token = post(body, None, Authorization=f"Bearer {api_token_for('administrador')}")
    assert with_token.status_code == 401 and with_token.json()["error"]["code"] == "signature_invalid"
    assert post(body).status_code == 201  # no token at all


def test_signed_but_invalid_body(webhook_secret, billed):
    _, invoice = billed()
    for raw, status, code in [
        (b"{not json", 400, "invalid_json"),
        (b"[1, 2]", 400, "invalid_json"),
        (json.dumps({"provider": "gateway"}).encode(), 422, "validation_failed"),
        (delivery(invoice, amount="abc"), 422, "amount_invalid"),
        (delivery(invoice, paid_on=timezone.localdate() + timedelta(days=3)), 422, "validation_failed"),
        (json.dumps({"payment_id": "X", "invoice_id": 999999, "amount": "1.00",
                     "paid_on": "2026-01-02"}).encode(), 404, "invoice_not_found"),
    ]:
        response = post(raw)
        assert response.status_code == status, (raw, response.content)
        assert response.json()["error"]["code"] == code
    fields = post(json.dumps({"provider": "gateway"}).encode()).json()["error"]["fields"]
    assert {"payment_id", "invoice_id", "amount", "paid_on"} <= set(fields)
    assert not Payment.objects.exists()


def test_amount_as_json_number_and_partial_payment(webhook_secret, billed):
    _, invoice = billed()
    raw = json.dumps({"payment_id": 77, "invoice_id": str(invoice.pk), "amount": 9.9,
                      "paid_on": str(timezone.localdate())}).encode()
    response = post(raw)
    assert response.status_code == 201, response.content
    assert response.json()["payment"]["external_id"] == "77" and response.json()["invoice"]["balance"] == "100.00"


def test_cancelled_invoice_is_refused(webhook_secret, billed):
    from agrega.billing.services import invoice_cancel

    _, invoice = billed()
    invoice_cancel(invoice_id=invoice.pk, reason="erro")
    response = post(delivery(invoice))
    assert response.status_code == 409 and response.json()["error"]["code"] == "invoice_cancelled"


@pytest.mark.django_db(transaction=True)
def test_concurrent_redeliveries_over_http_apply_once(webhook_secret, blocked, live_server):
    """Two deliveries of the same payment race (real HTTP to a threaded server): one
    creates, the other answers 200 with the same payment; the título is paid once."""
    contract, invoice = blocked()
    for n in range(4):
        body = delivery(invoice, payment_id=f"RACE-{n}", amount="10.00")
        barrier = threading.Barrier(3)
        results = []

        def send():
            with httpx.Client(base_url=live_server.url, timeout=30) as client:
                barrier.wait()
                stamp = now()
                response = client.post("/api/payments/webhook", content=body,
                                       headers={"Content-Type": "application/json", "X-Agrega-Timestamp": stamp,
                                                "X-Agrega-Signature": signature(body, timestamp=stamp)})
                results.append((response.status_code, response.json()))

        threads = [threading.Thread(target=send) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(code for code, _ in results)
        assert statuses == [200, 200, 201], results
        assert len({r["payment"]["id"] for _, r in results}) == 1
    invoice.refresh_from_db()
    assert invoice.paid_amount == Decimal("40.00")
    assert Payment.objects.filter(invoice=invoice).count() == 4
