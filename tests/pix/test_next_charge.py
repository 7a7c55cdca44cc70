"""The rest of a título gets a new cobv, end to end on the PSP sandbox: after a partial Pix
(the cobv is concluded at the PSP whatever was paid) or a devolução that reopens the
título, Agrega issues the next cobv for the balance — txid from the título and a sequence,
so a retry is the same PUT — and every channel shows only that one; the earlier ones stay
as history, and a Pix of an earlier one still counts once (keyed by endToEndId)."""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse

from agrega.billing.models import InvoiceStatus, Payment
from agrega.billing.services import payment_refund, payment_register
from agrega.contracts.choices import AccessStatus as AS
from agrega.pix import selectors, services
from agrega.pix.models import ChargeStatus, PixCharge
from tests.fixtures import bearer_headers
from tests.pix.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

EVER = {"inicio": "2000-01-01T00:00:00Z", "fim": "2100-01-01T00:00:00Z"}


@pytest.fixture
def hooked(pix_account, live_server, fast_pix, inbox_consumer):
    return services.account_register_webhook(account_id=pix_account.pk, public_url=live_server.url)


def charge(invoice, sequence):
    return PixCharge.objects.filter(invoice=invoice, sequence=sequence).first()


def active(invoice, sequence):
    return PixCharge.objects.filter(invoice=invoice, sequence=sequence, status=ChargeStatus.ACTIVE).exists()


def cobv_on_psp(psp) -> list[str]:
    return sorted(c["txid"] for c in psp.api("GET", "/cobv", params=EVER).json()["cobs"])


def releases(contract) -> int:
    return contract.events.filter(from_access_status__in=[AS.OVERDUE, AS.AUTOMATIC_BLOCK],
                                  to_access_status=AS.ACTIVE).count()


def partially_paid(blocked, psp, amount="50.00"):
    """A blocked contract whose título got a Pix of ``amount`` on its first cobv, and the
    next cobv made for the rest."""
    contract, invoice = blocked()
    assert contract.access_status in (AS.OVERDUE, AS.AUTOMATIC_BLOCK)
    first = PixCharge.objects.get(invoice=invoice)
    psp.pay(first.txid, amount=amount)
    psp.wait_webhooks()
    assert wait_for(lambda: active(invoice, 1)), list(PixCharge.objects.filter(invoice=invoice).values())
    first.refresh_from_db()
    return contract, invoice, first, charge(invoice, 1)


def test_txids_of_a_titulo_follow_the_sequence_and_the_yaml():
    assert services.txid_for(7, 0) == services.txid_for(7)  # the first keeps its form
    seen = {services.txid_for(n, s) for n in (7, 8, 10**12) for s in (0, 1, 2, 32767)}
    assert len(seen) == 12
    for txid in seen:
        assert re.fullmatch(r"[a-zA-Z0-9]{26,35}", txid)
    assert services.txid_for(7, 1) == services.txid_for(7, 1)


def test_a_partial_pix_gets_a_cobv_for_the_rest_and_paying_it_settles_and_releases_once(hooked, blocked, psp):
    contract, invoice, first, rest = partially_paid(blocked, psp)
    assert first.status == ChargeStatus.PAID
    assert rest.txid == services.txid_for(invoice.pk, 1) and rest.amount_sent == invoice.amount - 50
    remote = psp.api("GET", f"/cobv/{rest.txid}").json()
    assert remote["status"] == "ATIVA" and remote["valor"]["original"] == "59.90"
    assert remote["calendario"]["dataDeVencimento"] == invoice.due_date.isoformat()
    assert rest.pix_copia_e_cola == remote["pixCopiaECola"] and rest.pix_copia_e_cola != first.pix_copia_e_cola
    assert psp.api("GET", f"/cobv/{first.txid}").json()["status"] == "CONCLUIDA"
    contract.refresh_from_db()
    assert contract.access_status != AS.ACTIVE and releases(contract) == 0  # 59,90 still owed

    psp.pay(rest.txid)  # what is due now (the régua's fees, if any, are not the título's)
    psp.wait_webhooks()
    assert wait_for(lambda: Payment.objects.filter(invoice=invoice, provider="pix").count() == 2)
    invoice.refresh_from_db()
    contract.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID and invoice.balance == 0
    assert contract.access_status == AS.ACTIVE and releases(contract) == 1
    rest.refresh_from_db()
    assert rest.status == ChargeStatus.PAID

    # the Pix of the older, concluded cobv comes again (the reconciliation's pull): once
    services.reconcile(account_id=hooked.pk)
    services.charge_sync(invoice_id=invoice.pk)  # the título is paid: nothing more to charge
    assert Payment.objects.filter(invoice=invoice, provider="pix").count() == 2
    assert PixCharge.objects.filter(invoice=invoice).count() == 2
    assert cobv_on_psp(psp) == sorted([first.txid, rest.txid])
    contract.refresh_from_db()
    assert releases(contract) == 1


def test_a_retry_of_the_step_is_the_same_put_and_never_a_second_cobranca(hooked, blocked, psp):
    contract, invoice, first, rest = partially_paid(blocked, psp)
    # the PUT's answer lost: the charge is still pending; the retry is the same PUT
    PixCharge.objects.filter(pk=rest.pk).update(status=ChargeStatus.PENDING, amount_sent=None)
    again = services.charge_sync(invoice_id=invoice.pk)
    assert again.txid == rest.txid and again.status == ChargeStatus.ACTIVE
    services.charge_sync(invoice_id=invoice.pk)  # and the task run once more: nothing new
    services.retry_failed_charges()
    assert cobv_on_psp(psp) == sorted([first.txid, rest.txid])
    assert list(PixCharge.objects.filter(invoice=invoice).order_by("sequence").values_list("txid", flat=True)) \
        == [first.txid, rest.txid]
    # a twin task that read the título before the next cobv was made cannot add a third:
    # one live cobv per título (the same INSERT … ON CONFLICT DO NOTHING it would run)
    twin = PixCharge(invoice=invoice, account=first.account, sequence=2, txid=services.txid_for(invoice.pk, 2))
    PixCharge.objects.bulk_create([twin], ignore_conflicts=True)
    assert PixCharge.objects.filter(invoice=invoice).count() == 2
    with pytest.raises(IntegrityError), transaction.atomic():
        PixCharge.objects.create(invoice=invoice, account=first.account, sequence=2,
                                 txid=services.txid_for(invoice.pk, 2))


def test_the_page_the_api_and_the_cli_show_only_the_current_cobv(hooked, blocked, psp, role_user, client, capsys):
    contract, invoice, first, rest = partially_paid(blocked, psp)
    user = role_user("leitor", "somente leitura")
    pix = client.get(f"/api/invoices/{invoice.pk}/pix", **bearer_headers(user)).json()
    assert pix["txid"] == rest.txid and pix["copia_e_cola"] == rest.pix_copia_e_cola
    assert pix["amount"] == "59.90" and pix["qr_svg"].startswith("<svg")
    assert [(h["txid"], h["status"], h["amount"]) for h in pix["history"]] == [(first.txid, "paid", "109.90")]
    detail = client.get(f"/api/invoices/{invoice.pk}", **bearer_headers(user)).json()
    assert detail["pix"]["txid"] == rest.txid and detail["pix"]["copia_e_cola"] == rest.pix_copia_e_cola
    call_command("pix", "show", str(invoice.pk))
    out = capsys.readouterr().out
    assert rest.pix_copia_e_cola in out and first.pix_copia_e_cola not in out and first.txid in out
    call_command("invoice", "show", str(invoice.pk), "--json")
    assert json.loads(capsys.readouterr().out)["pix"]["txid"] == rest.txid
    client.force_login(user)
    for url in (reverse("billing:invoice_detail", args=[invoice.pk]), reverse("contracts:detail", args=[contract.pk])):
        html = client.get(url).content.decode()
        assert rest.pix_copia_e_cola in html and first.pix_copia_e_cola not in html, url
    assert selectors.contract_open_copia_e_cola(contract.pk) == rest.pix_copia_e_cola  # the notice e-mail's


def test_a_refund_that_reopens_the_titulo_gets_a_new_cobv(hooked, billed, psp):
    contract, invoice = billed()
    first = PixCharge.objects.get(invoice=invoice)
    psp.pay(first.txid)
    psp.wait_webhooks()
    assert wait_for(lambda: Payment.objects.filter(invoice=invoice, provider="pix").exists())
    payment = Payment.objects.get(invoice=invoice, provider="pix")
    assert not PixCharge.objects.filter(invoice=invoice, sequence=1).exists()  # paid in full: nothing to charge
    refund = services.refund_request(payment_id=payment.pk, amount="40.00", reason="cobrança indevida")
    psp.wait_webhooks()
    refund.refresh_from_db()
    if refund.status == "requested":  # EM_PROCESSAMENTO at the PUT: the PSP's list settles it
        services.reconcile(account_id=hooked.pk)
        refund.refresh_from_db()
    assert refund.status == "done"
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.OPEN and str(invoice.balance) == "40.00"
    assert wait_for(lambda: active(invoice, 1))
    rest = charge(invoice, 1)
    remote = psp.api("GET", f"/cobv/{rest.txid}").json()
    assert remote["status"] == "ATIVA" and remote["valor"]["original"] == "40.00"
    assert selectors.invoice_pix(invoice.pk)["txid"] == rest.txid
    # a second devolução of the same Pix: the open cobv follows the balance (PATCH), no third
    refund = services.refund_request(payment_id=payment.pk, amount="10.00", reason="ajuste")
    if PixCharge.objects.get(pk=rest.pk).amount_sent != 50:
        services.reconcile(account_id=hooked.pk)
    assert wait_for(lambda: PixCharge.objects.get(pk=rest.pk).amount_sent == 50)
    assert psp.api("GET", f"/cobv/{rest.txid}").json()["valor"]["original"] == "50.00"
    assert cobv_on_psp(psp) == sorted([first.txid, rest.txid])


def test_an_overpayment_leaves_nothing_to_charge(hooked, billed, psp):
    contract, invoice = billed()
    first = PixCharge.objects.get(invoice=invoice)
    psp.pay(first.txid, amount="120.00")
    psp.wait_webhooks()
    assert wait_for(lambda: Payment.objects.filter(invoice=invoice, provider="pix").exists())
    services.charge_sync(invoice_id=invoice.pk)
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    assert list(PixCharge.objects.filter(invoice=invoice).values_list("status", flat=True)) == [ChargeStatus.PAID]
    assert cobv_on_psp(psp) == [first.txid]


def test_a_manual_baixa_of_the_rest_removes_the_open_cobv_and_an_undone_one_charges_again(hooked, blocked, psp):
    contract, invoice, first, rest = partially_paid(blocked, psp)
    manual = payment_register(invoice_id=invoice.pk, amount="59.90").payment  # paid at the counter
    rest.refresh_from_db()
    assert rest.status == ChargeStatus.REMOVED
    assert psp.api("GET", f"/cobv/{rest.txid}").json()["status"] == "REMOVIDA_PELO_USUARIO_RECEBEDOR"
    assert selectors.invoice_pix(invoice.pk)["qr_svg"] == ""  # nothing to pay
    # the baixa undone (money given back): the título is open again, its cobv removed
    payment_refund(payment_id=manual.pk, amount="59.90", note="cheque devolvido")
    assert wait_for(lambda: active(invoice, 2))
    again = charge(invoice, 2)
    assert psp.api("GET", f"/cobv/{again.txid}").json()["valor"]["original"] == "59.90"
    assert cobv_on_psp(psp) == sorted([first.txid, rest.txid, again.txid])
    assert [h["txid"] for h in selectors.invoice_pix(invoice.pk)["history"]] == [rest.txid, first.txid]


def test_a_next_cobv_that_could_not_be_made_is_made_by_the_periodic_job(pix_account, billed, psp, fast_pix):
    from datetime import timedelta

    from django.utils import timezone

    from agrega.pix.models import PixAccount

    contract, invoice = billed()
    first = PixCharge.objects.get(invoice=invoice)
    PixAccount.objects.filter(pk=pix_account.pk).update(active=False)  # no account for new cobranças
    psp.pay(first.txid, amount="9.90")
    services.reconcile(account_id=pix_account.pk)  # the Pix pulled (no webhook here): a partial baixa
    invoice.refresh_from_db()
    assert str(invoice.balance) == "100.00"
    assert list(PixCharge.objects.filter(invoice=invoice).values_list("status", flat=True)) == [ChargeStatus.PAID]
    PixAccount.objects.filter(pk=pix_account.pk).update(active=True)
    PixCharge.objects.filter(pk=first.pk).update(updated_at=timezone.now() - timedelta(minutes=5))
    assert services.retry_failed_charges() == 1
    rest = charge(invoice, 1)
    assert rest.status == ChargeStatus.ACTIVE
    assert psp.api("GET", f"/cobv/{rest.txid}").json()["valor"]["original"] == "100.00"
    assert services.retry_failed_charges() == 0  # a live cobv now: nothing to do
