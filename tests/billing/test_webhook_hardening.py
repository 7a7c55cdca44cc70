"""The payment webhook cannot be replayed or re-labelled (timestamp in the signature, the
provider named by its secret, a payment id applied once whatever the provider), and an
amount far above the open balance is held for an operator instead of becoming credit."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest
from django.test import Client

from agrega.billing.models import CreditEntry, Payment
from agrega.contracts.choices import AccessStatus as AS
from agrega.core.models import ApiToken
from tests.fixtures_api import ApiClient
from tests.cli.helpers import run

from .test_webhook import OTHER_SECRET, SECRET, delivery, post, signature, webhook_secret  # noqa: F401


def code(response) -> str:
    return response.json()["error"]["code"]


# -- timestamp ------------------------------------------------------------------------------

# a stamp in the future gets closer to the window while the test runs (a loaded machine took
# over a second between stamping and checking): -360, not -301, so it is still outside
@pytest.mark.parametrize("age", [301, 3600, 86400 * 30, -360, -86400])
def test_a_genuine_delivery_outside_the_window_is_refused(webhook_secret, billed, age):
    _, invoice = billed()
    body = delivery(invoice)
    stamp = str(int(time.time()) - age)
    response = post(body, signature(body, timestamp=stamp), timestamp=stamp)
    assert response.status_code == 401 and code(response) == "timestamp_expired", response.content
    assert not Payment.objects.exists()


def test_the_window_is_a_setting(webhook_secret, settings, billed):
    _, invoice = billed()
    body = delivery(invoice)
    stamp = str(int(time.time()) - 200)
    settings.PAYMENT_WEBHOOK_TOLERANCE = 60
    assert code(post(body, signature(body, timestamp=stamp), timestamp=stamp)) == "timestamp_expired"
    settings.PAYMENT_WEBHOOK_TOLERANCE = 300
    assert post(body, signature(body, timestamp=stamp), timestamp=stamp).status_code == 201


@pytest.mark.parametrize("stamp", [None, "", "abc", "1.5e9", "-1", "12345678901234567890", "0x10"])
def test_missing_or_unreadable_timestamp_is_refused(webhook_secret, billed, stamp):
    _, invoice = billed()
    body = delivery(invoice)
    response = post(body, signature(body, timestamp=stamp or "0"), timestamp=stamp)
    assert response.status_code == 401 and code(response) == "timestamp_invalid"
    assert not Payment.objects.exists()


def test_tampered_body_or_timestamp_is_refused(webhook_secret, billed):
    _, invoice = billed()
    body = delivery(invoice, amount="10.00")
    stamp = str(int(time.time()))
    sig = signature(body, timestamp=stamp)
    tampered = body.replace(b'"10.00"', b'"99.00"')
    assert code(post(tampered, sig, timestamp=stamp)) == "signature_invalid"
    assert code(post(body, sig, timestamp=str(int(stamp) + 1))) == "signature_invalid"
    assert not Payment.objects.exists()
    assert post(body, sig, timestamp=stamp).status_code == 201


# -- the provider is the secret's ------------------------------------------------------------

def test_the_provider_comes_from_the_secret_not_the_body(webhook_secret, billed):
    _, invoice = billed()
    by_gateway = post(delivery(invoice, payment_id="G-1", amount="10.00", provider=None))
    assert by_gateway.status_code == 201 and by_gateway.json()["payment"]["provider"] == "gateway"
    by_bank = post(delivery(invoice, payment_id="B-1", amount="10.00", provider=None), secret=OTHER_SECRET)
    assert by_bank.status_code == 201 and by_bank.json()["payment"]["provider"] == "outro-banco"
    assert by_bank.json()["payment"]["actor_label"] == "webhook outro-banco"
    # a body that claims another provider than the secret's is refused
    relabelled = post(delivery(invoice, payment_id="B-2", amount="10.00", provider="gateway"), secret=OTHER_SECRET)
    assert relabelled.status_code == 422
    assert relabelled.json()["error"]["fields"]["provider"][0]["code"] == "provider_mismatch"
    assert Payment.objects.count() == 2


def test_a_payment_replayed_under_another_provider_is_refused(webhook_secret, blocked):
    contract, invoice = blocked()
    body = delivery(invoice, provider=None)
    assert post(body).status_code == 201
    for _ in range(2):  # the same bytes signed with the other provider's secret
        replay = post(body, secret=OTHER_SECRET)
        assert replay.status_code == 409 and code(replay) == "payment_id_other_provider", replay.content
    invoice.refresh_from_db()
    assert invoice.paid_amount == Decimal("109.90") and Payment.objects.count() == 1
    assert not CreditEntry.objects.exists()


def test_the_single_secret_still_works_as_provider_webhook(settings, billed):
    settings.PAYMENT_WEBHOOK_SECRETS = ""
    settings.PAYMENT_WEBHOOK_SECRET = "so-um-segredo"
    _, invoice = billed()
    response = post(delivery(invoice, provider=None), secret="so-um-segredo")
    assert response.status_code == 201 and response.json()["payment"]["provider"] == "webhook"


@pytest.mark.parametrize("configured", ["gateway", "gateway:", ":segredo", "a:s1,a:s2", "a:mesmo,b:mesmo"])
def test_misconfigured_secrets_turn_the_webhook_off(settings, billed, configured):
    settings.PAYMENT_WEBHOOK_SECRET = ""
    settings.PAYMENT_WEBHOOK_SECRETS = configured
    _, invoice = billed()
    response = post(delivery(invoice), secret="s1")
    assert response.status_code == 503 and code(response) == "webhook_misconfigured"


# -- amounts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("amount", ["1e3", "NaN", "Infinity", "-10.00", "0", "1234.567", "10,001", "1,234.56", "99999999999",
                                    1e308, 0.1 + 0.2, True, None, [1], "R$ 10.000.000,00"])
def test_absurd_amounts_are_422_amount_invalid(webhook_secret, billed, amount):
    _, invoice = billed()
    body = json.dumps({"payment_id": "X-1", "invoice_id": invoice.pk, "amount": amount,
                       "paid_on": str(invoice.due_date)}).encode()
    response = post(body)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["fields"]["amount"][0]["code"] == "amount_invalid"
    assert not Payment.objects.exists()


def test_a_brazilian_thousands_amount_is_read_as_meant(webhook_secret, billed):
    _, invoice = billed()
    response = post(delivery(invoice, amount="1.234"))  # one thousand two hundred thirty-four: held, not 1,23
    assert response.status_code == 201 and response.json()["payment"]["amount"] == "1234.00"
    assert response.json()["payment"]["status"] == "held"


# -- over-payment held for an operator --------------------------------------------------------

@pytest.fixture
def operator(role_user):
    return ApiClient(ApiToken.issue(user=role_user("op-retido", "operador"), name="testes")[1])


def test_overpayment_within_the_margin_becomes_credit(webhook_secret, billed):
    _, invoice = billed()
    response = post(delivery(invoice, amount="129.90"))  # balance 109.90 + margin 20.00
    assert response.status_code == 201 and response.json()["payment"]["status"] == "applied"
    assert CreditEntry.objects.get().amount == Decimal("20.00")


def test_overpayment_beyond_the_margin_is_held_then_applied_by_an_operator(webhook_secret, blocked, operator):
    contract, invoice = blocked()
    body = delivery(invoice, amount="10990.00")  # a misplaced comma: 100 times the título
    first = post(body)
    assert first.status_code == 201, first.content
    held = first.json()["payment"]
    assert held["status"] == "held" and "aguarda um operador" in held["hold_reason"]
    assert first.json()["invoice"]["status"] == "open" and first.json()["invoice"]["paid_amount"] == "0.00"
    contract.refresh_from_db()
    assert contract.access_status == AS.OVERDUE  # nothing counted yet
    assert not CreditEntry.objects.exists()
    again = post(body)  # a redelivery finds the held payment and changes nothing
    assert again.status_code == 200 and again.json()["payment"]["id"] == held["id"]

    listed = operator.get("/payments?status=held").json()["items"]
    assert [p["id"] for p in listed] == [held["id"]]
    applied = operator.post(f"/payments/{held['id']}/apply", {"note": "cliente confirmou"})
    assert applied.status_code == 200, applied.content
    assert applied.json()["payment"]["status"] == "applied"
    assert applied.json()["payment"]["decided_by"] == "op-retido"
    assert applied.json()["invoice"]["status"] == "paid"
    assert CreditEntry.objects.get().amount == Decimal("10880.10")
    contract.refresh_from_db()
    assert contract.access_status == AS.ACTIVE
    twice = operator.post(f"/payments/{held['id']}/apply", {})
    assert twice.status_code == 409 and code(twice) == "payment_not_held"
    assert operator.get("/payments?status=held").json()["items"] == []


def test_held_payment_refused_is_never_counted(webhook_secret, billed, operator):
    _, invoice = billed()
    held = post(delivery(invoice, amount="5000.00")).json()["payment"]
    no_reason = operator.post(f"/payments/{held['id']}/refuse", {"note": " "})
    assert no_reason.status_code == 422
    refused = operator.post(f"/payments/{held['id']}/refuse", {"note": "valor errado do banco"})
    assert refused.status_code == 200 and refused.json()["payment"]["status"] == "refused"
    invoice.refresh_from_db()
    assert invoice.paid_amount == 0 and invoice.status == "open"
    assert post(delivery(invoice, amount="5000.00")).json()["payment"]["status"] == "refused"
    assert code(operator.post(f"/payments/{held['id']}/apply", {})) == "payment_not_held"


def test_a_paid_invoice_paid_again_is_held(webhook_secret, billed):
    _, invoice = billed()
    assert post(delivery(invoice, payment_id="P-1")).json()["payment"]["status"] == "applied"
    second = post(delivery(invoice, payment_id="P-2"))  # the same título paid twice
    assert second.status_code == 201 and second.json()["payment"]["status"] == "held"
    assert not CreditEntry.objects.exists()


def test_cli_lists_applies_and_refuses_held_payments(webhook_secret, billed, role_user):
    role_user("cli-op", "operador")
    _, invoice = billed()
    one = post(delivery(invoice, payment_id="H-1", amount="900.00")).json()["payment"]
    two = post(delivery(invoice, payment_id="H-2", amount="800.00")).json()["payment"]
    listing = run("payments", "held")
    assert listing.code == 0 and "H-1" in listing.out and "H-2" in listing.out
    refused = run("payments", "refuse", str(two["id"]), "--note", "duplicado", "--as", "cli-op")
    assert refused.code == 0, refused.err
    applied = run("payments", "apply", str(one["id"]), "--as", "cli-op")
    assert applied.code == 0, applied.err
    again = run("payments", "apply", str(one["id"]), "--as", "cli-op")
    assert again.code == 2 and "payment_not_held" in again.err and "Traceback" not in again.err
    assert run("payments", "held").out.strip().startswith("Nenhum pagamento retido")
    invoice.refresh_from_db()
    assert invoice.paid_amount == Decimal("900.00")


def test_held_payments_page_applies_and_refuses(webhook_secret, billed, role_user):
    _, invoice = billed()
    one = post(delivery(invoice, payment_id="W-1", amount="900.00")).json()["payment"]
    two = post(delivery(invoice, payment_id="W-2", amount="800.00")).json()["payment"]
    reader, op = Client(), Client()
    reader.force_login(role_user("pg-leitura", "somente leitura"))
    op.force_login(role_user("pg-op", "operador"))
    page = op.get("/financeiro/pagamentos/retidos/")
    assert page.status_code == 200 and b"W-1" in page.content and b"W-2" in page.content
    assert reader.post("/financeiro/pagamentos/retidos/", {"payment": one["id"], "action": "apply"}).status_code == 403
    refused = op.post("/financeiro/pagamentos/retidos/", {"payment": two["id"], "action": "refuse", "note": ""})
    assert refused.status_code == 422 and "Informe o motivo".encode() in refused.content
    assert op.post("/financeiro/pagamentos/retidos/",
                   {"payment": two["id"], "action": "refuse", "note": "duplicado"}).status_code == 302
    assert op.post("/financeiro/pagamentos/retidos/", {"payment": one["id"], "action": "apply"}).status_code == 302
    assert b"Nenhum pagamento retido" in op.get("/financeiro/pagamentos/retidos/").content
    detail = op.get(f"/financeiro/titulos/{invoice.pk}/")
    assert "Recusado pelo operador".encode() in detail.content
    invoice.refresh_from_db()
    assert invoice.status == "paid" and invoice.paid_amount == Decimal("900.00")
