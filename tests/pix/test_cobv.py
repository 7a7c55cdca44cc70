"""A cobv for every título, on the PSP sandbox: created by the billing run (PUT with a
txid derived from the título, so a retry is the same PUT), revised when the amount
changes (PATCH), removed when the título is cancelled; its copia-e-cola and QR code in
the API, the CLI and the pages."""

from __future__ import annotations

import json
import re
from datetime import timedelta

from django.utils import timezone

import pytest
from django.core.management import call_command

from agrega.billing.models import Invoice
from agrega.billing.services import invoice_cancel, payment_register
from agrega.pix import services
from agrega.pix.models import ChargeStatus, PixCharge
from tests.fixtures import bearer_headers

pytestmark = pytest.mark.django_db(transaction=True)


def test_txid_is_stable_and_valid():
    assert services.txid_for(7) == services.txid_for(7)
    assert services.txid_for(7) != services.txid_for(8)
    for n in (1, 10**12):
        assert re.fullmatch(r"[a-zA-Z0-9]{26,35}", services.txid_for(n))


def test_billing_run_creates_the_cobv_on_the_psp(pix_account, billed, psp, fast_pix):
    contract, invoice = billed()
    charge = PixCharge.objects.get(invoice=invoice)
    assert charge.status == ChargeStatus.ACTIVE, charge.last_error
    assert charge.txid == services.txid_for(invoice.pk)
    remote = psp.api("GET", f"/cobv/{charge.txid}").json()
    assert remote["status"] == "ATIVA"
    assert remote["valor"]["original"] == "109.90"
    assert remote["calendario"]["dataDeVencimento"] == invoice.due_date.isoformat()
    assert remote["devedor"]["nome"] == invoice.customer.name
    assert charge.pix_copia_e_cola == remote["pixCopiaECola"]
    assert charge.pix_copia_e_cola.startswith("000201")


def test_a_retry_is_the_same_put_and_never_a_second_cobranca(pix_account, billed, psp, fast_pix):
    contract, invoice = billed()
    first = PixCharge.objects.get(invoice=invoice).txid
    PixCharge.objects.filter(invoice=invoice).update(status=ChargeStatus.PENDING, amount_sent=None)
    charge = services.charge_sync(invoice_id=invoice.pk)  # the first answer "lost": PUT again
    assert charge.status == ChargeStatus.ACTIVE and charge.txid == first
    remote = psp.api("GET", f"/cobv/{charge.txid}").json()
    assert remote["status"] == "ATIVA" and remote["valor"]["original"] == "109.90"
    listed = psp.api("GET", "/cobv", params={"inicio": "2000-01-01T00:00:00Z", "fim": "2100-01-01T00:00:00Z"}).json()
    assert [c["txid"] for c in listed["cobs"]] == [first]  # one cobrança, not two
    assert PixCharge.objects.filter(invoice=invoice).count() == 1


def test_amount_change_is_a_patch_and_cancel_removes(pix_account, billed, psp, fast_pix):
    contract, invoice = billed()
    Invoice.objects.filter(pk=invoice.pk).update(amount="99.90")
    charge = services.charge_sync(invoice_id=invoice.pk)
    remote = psp.api("GET", f"/cobv/{charge.txid}").json()
    assert remote["valor"]["original"] == "99.90" and remote["revisao"] == 1
    invoice_cancel(invoice_id=invoice.pk, reason="erro de cadastro")  # hook → task after commit
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.REMOVED
    assert psp.api("GET", f"/cobv/{charge.txid}").json()["status"] == "REMOVIDA_PELO_USUARIO_RECEBEDOR"


def test_a_manual_baixa_removes_the_cobv_so_nobody_pays_twice(pix_account, billed, psp, fast_pix):
    contract, invoice = billed()
    payment_register(invoice_id=invoice.pk, amount="109.90")
    charge = PixCharge.objects.get(invoice=invoice)
    assert charge.status == ChargeStatus.REMOVED
    assert psp.api("GET", f"/cobv/{charge.txid}").json()["status"] == "REMOVIDA_PELO_USUARIO_RECEBEDOR"


def test_first_setup_charges_the_open_titulos(billed, psp, fast_pix, db):
    contract, invoice = billed()  # billed before any account exists: no charge
    assert not PixCharge.objects.filter(invoice=invoice).exists()
    account = services.account_create(name="PSP", base_url=psp.url, token_url=psp.token_url, client_id=psp.client_id,
                                      client_secret=psp.client_secret, chave=psp.chave)
    assert services.charges_for_open_invoices(account_id=account.pk) == 1
    assert PixCharge.objects.get(invoice=invoice).status == ChargeStatus.ACTIVE


def test_copia_e_cola_and_qr_in_api_and_cli(pix_account, billed, role_user, client, capsys, fast_pix):
    contract, invoice = billed()
    user = role_user("leitor", "somente leitura")
    answer = client.get(f"/api/invoices/{invoice.pk}/pix", **bearer_headers(user))
    assert answer.status_code == 200
    data = answer.json()
    assert data["copia_e_cola"].startswith("000201") and data["qr_svg"].startswith("<svg")
    call_command("pix", "show", str(invoice.pk), "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["copia_e_cola"] == data["copia_e_cola"]
    call_command("pix", "show", str(invoice.pk))
    assert data["copia_e_cola"] in capsys.readouterr().out


def test_the_invoice_detail_carries_its_pix_in_api_and_cli(pix_account, billed, role_user, client, capsys, fast_pix):
    contract, invoice = billed()
    charge = PixCharge.objects.get(invoice=invoice)
    user = role_user("leitor", "somente leitura")
    detail = client.get(f"/api/invoices/{invoice.pk}", **bearer_headers(user)).json()
    assert detail["pix"]["txid"] == charge.txid and detail["pix"]["status"] == ChargeStatus.ACTIVE
    assert detail["pix"]["copia_e_cola"] == charge.pix_copia_e_cola and charge.pix_copia_e_cola.startswith("000201")
    call_command("invoice", "show", str(invoice.pk), "--json")
    assert json.loads(capsys.readouterr().out)["pix"]["copia_e_cola"] == charge.pix_copia_e_cola
    call_command("invoice", "show", str(invoice.pk))
    text = capsys.readouterr().out
    assert "PIX:" in text and charge.txid in text and charge.pix_copia_e_cola in text
    # a título without a cobv: no PIX block, null in the API
    charge.delete()
    assert client.get(f"/api/invoices/{invoice.pk}", **bearer_headers(user)).json()["pix"] is None
    call_command("invoice", "show", str(invoice.pk))
    assert "PIX:" not in capsys.readouterr().out



def test_psp_faults_5xx_429_lost_answers_and_expired_tokens_are_survived(pix_account, billed, psp, fast_pix):
    psp.payer.expire_tokens(psp.client_id)
    psp.faults(error_rate=0.3, throttle_rate=0.2, retry_after_seconds=0, lost_response_rate=0.2, seed=7)
    for m in (5, 4, 3, 2):  # each run bills every contract so far: 10 títulos
        billed(months=m)
    psp.payer.clear_faults()
    # what the retries could not place under the faults, the job's next pass does
    PixCharge.objects.exclude(status=ChargeStatus.ACTIVE).update(updated_at=timezone.now() - timedelta(minutes=2))
    services.reconcile_job()
    charges = list(PixCharge.objects.all())
    assert len(charges) == Invoice.objects.count() == 10
    for charge in charges:
        assert charge.status == ChargeStatus.ACTIVE, charge.last_error
    listed = psp.api("GET", "/cobv", params={"inicio": "2000-01-01T00:00:00Z", "fim": "2100-01-01T00:00:00Z",
                                             "paginacao.itensPorPagina": 100}).json()
    assert sorted(c["txid"] for c in listed["cobs"]) == sorted(c.txid for c in charges)  # one each, none twice
