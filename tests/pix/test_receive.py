"""Receiving exactly once, losing nothing: the PSP sandbox delivers its webhook to a live
Agrega, which records it in the inbox; the inbox consumer confirms each Pix with GET /pix/{e2eid} before the baixa; duplicated, lost
and out-of-order deliveries end in one baixa per endToEndId; a forged callback changes
nothing; a devolução reopens the título."""

from __future__ import annotations

import time

import httpx
import pytest

from agrega.billing.models import InvoiceStatus, Payment, PaymentMethod
from agrega.pix import services
from agrega.pix import inbox
from agrega.pix.models import ChargeStatus, PixCharge, PixNotification
from tests.pix.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hooked(pix_account, live_server, fast_pix, inbox_consumer):
    return services.account_register_webhook(account_id=pix_account.pk, public_url=live_server.url)


def pix_payments(invoice):
    return Payment.objects.filter(invoice=invoice, provider="pix")


def test_paid_by_the_payer_webhook_confirmed_then_baixa(hooked, billed, psp):
    contract, invoice = billed()
    charge = PixCharge.objects.get(invoice=invoice)
    pix = psp.pay(charge.txid)
    psp.wait_webhooks()
    assert wait_for(lambda: pix_payments(invoice).exists())
    payment = pix_payments(invoice).get()
    assert payment.external_id == pix["endToEndId"] and payment.method == PaymentMethod.PIX
    invoice.refresh_from_db()
    charge.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and charge.status == ChargeStatus.PAID
    assert any(d["url"].endswith("/pix") for d in psp.webhooks())


def test_duplicated_and_out_of_order_webhooks_make_one_baixa_each(hooked, billed, psp):
    psp.faults(webhook_duplicate_rate=1.0, webhook_reorder_ms=300)
    pairs = [billed(months=m) for m in (4, 3, 2)]
    for _, invoice in pairs:
        psp.pay(PixCharge.objects.get(invoice=invoice).txid)
    psp.wait_webhooks()
    for _, invoice in pairs:
        assert wait_for(lambda: pix_payments(invoice).exists())
    time.sleep(0.3)
    for _, invoice in pairs:
        assert pix_payments(invoice).count() == 1
        invoice.refresh_from_db()
        assert invoice.status == InvoiceStatus.PAID and invoice.paid_amount == invoice.amount


def test_a_lost_webhook_is_caught_by_the_reconciliation(hooked, billed, psp):
    psp.faults(webhook_lost_rate=1.0)
    contract, invoice = billed()
    psp.pay(PixCharge.objects.get(invoice=invoice).txid)
    psp.wait_webhooks()
    assert not pix_payments(invoice).exists()
    result = services.reconcile(account_id=hooked.pk)
    assert result["applied"] == 1
    assert pix_payments(invoice).count() == 1
    services.reconcile(account_id=hooked.pk)  # again: nothing new
    assert pix_payments(invoice).count() == 1


def test_a_forged_callback_changes_nothing(hooked, billed, live_server, psp):
    contract, invoice = billed()
    charge = PixCharge.objects.get(invoice=invoice)
    forged = {"pix": [{"endToEndId": "E00000000202601011200abcdefghijk", "txid": charge.txid,
                       "valor": "109.90", "horario": "2026-01-01T12:00:00Z"}]}
    answer = httpx.post(f"{hooked.webhook_url}/pix", json=forged)
    assert answer.status_code == 200 and answer.json()["recorded"] == 1
    notification = PixNotification.objects.get(e2eid=forged["pix"][0]["endToEndId"])
    assert wait_for(lambda: PixNotification.objects.filter(pk=notification.pk, outcome="rejected").exists())
    assert not pix_payments(invoice).exists()
    wrong_secret = httpx.post(f"{live_server.url}/pix/webhook/not-the-secret/pix", json=forged)
    assert wrong_secret.status_code == 404


def test_a_different_amount_follows_the_partial_payment_rules(hooked, billed, psp):
    contract, invoice = billed()
    psp.pay(PixCharge.objects.get(invoice=invoice).txid, amount="50.00")
    psp.wait_webhooks()
    assert wait_for(lambda: pix_payments(invoice).exists())
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN and str(invoice.balance) == "59.90"


def test_a_refund_reopens_the_titulo(hooked, billed, psp):
    contract, invoice = billed()
    psp.pay(PixCharge.objects.get(invoice=invoice).txid)
    psp.wait_webhooks()
    assert wait_for(lambda: pix_payments(invoice).exists())
    payment = pix_payments(invoice).get()
    refund = services.refund_request(payment_id=payment.pk, amount="109.90", reason="cobrança indevida")
    psp.wait_webhooks()
    refund.refresh_from_db()
    if refund.status == "requested":  # EM_PROCESSAMENTO at the PUT: the PSP's list settles it
        services.reconcile(account_id=hooked.pk)
        refund.refresh_from_db()
    assert refund.status == "done"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN and invoice.paid_amount == 0


def test_callbacks_reuse_one_client_and_one_token_per_account(pix_account, billed, psp, fast_pix):
    """The webhook path's cost: each callback used to open its own HTTP client (new
    connection, new TLS); now the account's client and its token are kept per process
    (the inbox consumer's confirmations) — and an expired token is still replaced on the
    PSP's 401, the confirmation kept."""
    invoices = [billed(months=m)[1] for m in (4, 3, 2)]
    pixes = [psp.pay(PixCharge.objects.get(invoice=inv).txid) for inv in invoices]
    tokens_before = psp.payer.stats()["requests"].get("token", 0)
    services.webhook_receive(secret=pix_account.webhook_secret, body={"pix": [pixes[0]]})
    first = inbox.drain()
    http = services.shared_client(pix_account).http()
    services.webhook_receive(secret=pix_account.webhook_secret, body={"pix": [pixes[1]]})
    second = inbox.drain()
    assert first["applied"] == second["applied"] == 1
    assert services.shared_client(pix_account).http() is http
    assert psp.payer.stats()["requests"].get("token", 0) == tokens_before  # the cobv's token, reused
    psp.payer.expire_tokens(psp.client_id)
    services.webhook_receive(secret=pix_account.webhook_secret, body={"pix": [pixes[2]]})
    third = inbox.drain()
    assert third["applied"] == 1 and psp.payer.stats()["requests"].get("token", 0) == tokens_before + 1
    for inv in invoices:
        assert pix_payments(inv).count() == 1
    kept = services.shared_client(pix_account)
    services.account_update(account_id=pix_account.pk, client_secret="outro-segredo")
    pix_account.refresh_from_db()
    renewed = services.shared_client(pix_account)  # changed secrets: a new client, the old one closed
    assert renewed is not kept and renewed.client_secret == "outro-segredo" and kept._http is None


def test_a_refund_names_a_pix_of_its_titulo_and_a_reason_the_psp_keeps_whole(hooked, billed, psp, role_user):
    """Through another título's URL a payment is not found (nothing sent to the PSP); a
    reason over the PSP's 140 characters is refused, never cut; both answer in Portuguese
    with stable codes, and no devolução row is left behind."""
    from django.test import Client

    from agrega.core.errors import ValidationFailed
    from agrega.pix.models import PixRefund
    from tests.fixtures import bearer_headers

    contract, invoice = billed()
    other_contract, other = billed()
    psp.pay(PixCharge.objects.get(invoice=invoice).txid)
    psp.wait_webhooks()
    assert wait_for(lambda: pix_payments(invoice).exists())
    payment = pix_payments(invoice).get()
    client, headers = Client(), bearer_headers(role_user("op-devolucao", "operador"))

    def refund(invoice_id, **body):
        return client.post(f"/api/invoices/{invoice_id}/pix/refunds", {"payment_id": payment.pk, **body},
                           content_type="application/json", **headers)

    answer = refund(other.pk, amount="10")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "pix_payment_not_found"
    assert "deste título" in answer.json()["error"]["message"]
    answer = refund(invoice.pk, amount="10", reason="x" * 141)
    assert answer.status_code == 422 and "reason" in answer.json()["error"]["fields"]
    with pytest.raises(ValidationFailed) as refused:  # the CLI's path: the service's own check
        services.refund_request(payment_id=payment.pk, amount="10", reason="y" * 141)
    assert refused.value.fields["reason"][0].code == "too_long" and "140" in refused.value.message
    assert not PixRefund.objects.exists()
    assert not psp.api("GET", f"/pix/{payment.external_id}").json().get("devolucoes")  # nothing sent

    answer = refund(invoice.pk, amount="10", reason="z" * 140)
    assert answer.status_code == 201, answer.content
    assert PixRefund.objects.get().reason == "z" * 140


def test_a_devolucao_is_settled_in_billings_lock_order(hooked, billed, psp):
    """Settling a devolução takes the contract and the título before the devolução's row,
    as the inbox's batch does (it holds the contract, then settles the devoluções of its
    Pix). Taken the other way round, a refund request and the inbox deadlocked on
    PostgreSQL: here the test holds the contract, as the inbox would, while another
    connection settles the devolução; the devolução's row must stay free meanwhile."""
    import threading

    from django.db import connection, connections, transaction
    from django.db.utils import OperationalError

    from agrega.contracts.models import Contract
    from agrega.pix.models import PixRefund

    if connection.vendor != "postgresql":
        pytest.skip("row locks: PostgreSQL (SQLite takes one lock for the whole database)")
    contract, invoice = billed()
    psp.pay(PixCharge.objects.get(invoice=invoice).txid)
    psp.wait_webhooks()
    assert wait_for(lambda: pix_payments(invoice).exists())
    payment = pix_payments(invoice).get()
    refund = PixRefund.objects.create(payment=payment, account=hooked, amount=payment.amount,
                                      refund_id="agregadev00000000000000000777", actor_label="teste")
    errors = []

    def settle():
        try:
            services._settle_refund(payment, {"id": refund.refund_id, "status": "DEVOLVIDO",
                                              "valor": f"{payment.amount:.2f}"}, hooked)
        except Exception as exc:  # reported by the test
            errors.append(exc)
        finally:
            connections.close_all()

    with transaction.atomic():
        Contract.objects.select_for_update().filter(pk=contract.pk).first()  # what the inbox holds
        worker = threading.Thread(target=settle)
        worker.start()
        with connection.cursor() as cursor:
            def others_waiting_on_a_lock() -> bool:
                cursor.execute("SELECT pg_stat_clear_snapshot()")  # else the transaction's first view
                cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                               "AND pid <> pg_backend_pid() AND datname = current_database()")
                return cursor.fetchone()[0] > 0

            assert wait_for(others_waiting_on_a_lock, timeout=10)  # the other connection waits on a row
            try:
                cursor.execute("SELECT id FROM pix_pixrefund WHERE id = %s FOR UPDATE NOWAIT", [refund.pk])
            except OperationalError:
                pytest.fail("the devolução's row was locked before the contract: the inbox would deadlock")
    worker.join(timeout=20)
    assert not worker.is_alive() and not errors, errors
    refund.refresh_from_db()
    invoice.refresh_from_db()
    assert refund.status == "done" and invoice.status == InvoiceStatus.OPEN and invoice.paid_amount == 0
