"""The régua's multa, juros, desconto and validade on the título's cobv (issue 17, item 2):
the policy holds them (checked by the yaml's rules), the ``PUT /cobv`` carries them, a
change of the policy revises the open cobv (PATCH), the sandbox computes what is due on
a payment date as the yaml describes, and a Pix of the computed amount is a full payment
in Agrega (multa/juros recorded as such, not as credit; a desconto settles the título)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.core.management import call_command

from django.contrib.auth import get_user_model

from agrega.billing.models import CreditEntry, Invoice, InvoiceStatus, Payment
from agrega.contracts.models import Contract
from agrega.core.models import ApiToken
from agrega.core.roles import assign_role
from agrega.core.errors import ValidationFailed
from agrega.dunning import services as dunning
from agrega.dunning.models import DunningPolicy
from agrega.pix import services
from agrega.pix.models import PixCharge
from pix_sandbox import store as psp_store
from tests.fixtures_api import ApiClient, field_codes

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal


def _default_policy(**charges) -> DunningPolicy:
    """The default régua (made from the Anatel preset when a transactional test's flush
    removed the one the migrations create)."""
    policy = DunningPolicy.objects.filter(is_default=True).first() or dunning.policy_create(
        preset="anatel", make_default=True)
    if charges:
        dunning.policy_update(policy_id=policy.pk, **charges)
        policy.refresh_from_db()
    return policy


# ---------------------------------------------------------------- the policy's rules

@pytest.mark.parametrize("charges, field, code", [
    ({"multa_modalidade": 3, "multa_valor": "2.00"}, "multa_modalidade", "modalidade_invalid"),
    ({"juros_modalidade": 9, "juros_valor": "1.00"}, "juros_modalidade", "modalidade_invalid"),
    ({"multa_modalidade": 2, "multa_valor": "100.00"}, "multa_valor", "multa_percent_too_large"),
    ({"desconto_modalidade": 2, "desconto_valor": "100.00"}, "desconto_valor", "desconto_percent_too_large"),
    ({"multa_modalidade": 2, "multa_valor": "0"}, "multa_valor", "multa_value_required"),
    ({"juros_valor": "1.00"}, "juros_modalidade", "juros_modalidade_required"),
    ({"multa_modalidade": 1, "multa_valor": "1.234"}, "multa_valor", "value_invalid"),
    ({"desconto_modalidade": 3, "desconto_valor": "1.00", "desconto_dias": 2}, "desconto_dias",
     "desconto_dias_unused"),
    ({"validade_apos_vencimento": -1}, "validade_apos_vencimento", "value_out_of_range"),
])
def test_the_policy_refuses_what_the_yaml_refuses(charges, field, code):
    policy = _default_policy()
    with pytest.raises(ValidationFailed) as caught:
        dunning.policy_update(policy_id=policy.pk, **charges)
    assert code in [e.code for e in caught.value.fields[field]]
    policy.refresh_from_db()
    assert policy.multa_modalidade == 0 and policy.juros_modalidade == 0  # nothing saved


def test_the_policy_page_saves_the_charges(client):
    user = get_user_model().objects.create_user("adm-regua", password="x-senha-123")
    assign_role(user, "administrador")
    client.force_login(user)
    policy = _default_policy()
    url = f"/configuracoes/regua-de-cobranca/{policy.pk}/editar/"
    page = client.get(url)
    assert page.status_code == 200 and "Cobrança PIX: multa, juros e desconto" in page.content.decode()
    data = {"name": policy.name, "trust_release_days": 3, "trust_release_max_uses": 1,
            "trust_release_period_days": 30, "multa_modalidade": 2, "multa_valor": "2.00",
            "juros_modalidade": 3, "juros_valor": "1.00", "desconto_modalidade": 1, "desconto_valor": "5.00",
            "desconto_dias": 3, "validade_apos_vencimento": "60", "form-INITIAL_FORMS": "0"}
    stages = list(policy.stages.all())
    for i, stage in enumerate(stages):
        data.update({f"form-{i}-days_after_due": stage.days_after_due, f"form-{i}-action": stage.action})
    data["form-TOTAL_FORMS"] = str(len(stages))
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]
    policy.refresh_from_db()
    assert (policy.multa_modalidade, policy.multa_valor, policy.juros_modalidade, policy.juros_valor) == \
        (2, D("2.00"), 3, D("1.00"))
    assert (policy.desconto_modalidade, policy.desconto_valor, policy.desconto_dias,
            policy.validade_apos_vencimento) == (1, D("5.00"), 3, 60)
    data.update({"multa_valor": "150", "desconto_dias": "0"})
    response = client.post(url, data)
    assert response.status_code == 422
    assert "A multa percentual deve ser menor que 100%." in response.content.decode()
    policy.refresh_from_db()
    assert policy.multa_valor == D("2.00")


def test_api_and_cli_set_the_charges(capsys):
    user = get_user_model().objects.create_user("api-regua", password="x-senha-123")
    assign_role(user, "administrador")
    admin = ApiClient(ApiToken.issue(user=user, name="t")[1])
    policy = _default_policy()
    response = admin.patch(f"/dunning/policies/{policy.pk}", {"juros_modalidade": 2, "juros_valor": "0.50",
                                                              "validade_apos_vencimento": 15})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["juros_modalidade"] == 2 and D(str(body["juros_valor"])) == D("0.50")
    assert body["validade_apos_vencimento"] == 15
    response = admin.patch(f"/dunning/policies/{policy.pk}", {"multa_modalidade": 7, "multa_valor": "1.00"})
    assert field_codes(response) == {"multa_modalidade": ["modalidade_invalid"]}
    call_command("dunning", "update", str(policy.pk), "--multa", "1:10.00", "--desconto", "2:3.00:5",
                 "--validade", "conta", "--as", user.username)
    policy.refresh_from_db()
    assert (policy.multa_modalidade, policy.multa_valor) == (1, D("10.00"))
    assert (policy.desconto_modalidade, policy.desconto_valor, policy.desconto_dias) == (2, D("3.00"), 5)
    assert policy.validade_apos_vencimento is None
    assert "multa 1:10.00" in capsys.readouterr().out


# ---------------------------------------------------------------- the cobv carries them

def test_the_cobv_carries_the_policy_and_a_change_is_a_patch(pix_account, billed, psp, fast_pix):
    _default_policy(multa_modalidade=2, multa_valor="2.00", juros_modalidade=3, juros_valor="1.00",
                    desconto_modalidade=1, desconto_valor="5.00", desconto_dias=3, validade_apos_vencimento=20)
    contract, invoice = billed()
    charge = PixCharge.objects.get(invoice=invoice)
    remote = psp.api("GET", f"/cobv/{charge.txid}").json()
    assert remote["valor"]["multa"] == {"modalidade": 2, "valorPerc": "2.00"}
    assert remote["valor"]["juros"] == {"modalidade": 3, "valorPerc": "1.00"}
    until = (invoice.due_date - dt.timedelta(days=3)).isoformat()
    assert remote["valor"]["desconto"] == {"modalidade": 1, "descontoDataFixa": [{"data": until, "valorPerc": "5.00"}]}
    assert remote["calendario"]["validadeAposVencimento"] == 20
    assert charge.terms_sent["valor"]["multa"]["valorPerc"] == "2.00"

    # the régua changes: the open cobv is revised (PATCH) by its task, after the commit
    policy = _default_policy()
    dunning.policy_update(policy_id=policy.pk, multa_modalidade=1, multa_valor="7.50", desconto_modalidade=0,
                          desconto_valor="0", desconto_dias=0)
    remote = psp.api("GET", f"/cobv/{charge.txid}").json()
    assert remote["revisao"] == 1
    assert remote["valor"]["multa"] == {"modalidade": 1, "valorPerc": "7.50"}
    # the API Pix cannot delete a part by PATCH: the desconto the régua dropped is zeroed
    assert remote["valor"]["desconto"] == {"modalidade": 3, "valorPerc": "0.00"}
    assert remote["valor"]["original"] == "109.90"
    charge.refresh_from_db()
    assert charge.terms_sent["valor"]["multa"]["valorPerc"] == "7.50"


def test_a_contract_on_another_policy_follows_its_own(pix_account, billed, psp, fast_pix):
    own = dunning.policy_create(preset="simples", name="Régua com juros")
    dunning.policy_update(policy_id=own.pk, juros_modalidade=2, juros_valor="0.10")
    _default_policy(multa_modalidade=2, multa_valor="2.00")
    contract, invoice = billed()
    txid = services.txid_for(invoice.pk)
    assert psp.api("GET", f"/cobv/{txid}").json()["valor"]["multa"]["valorPerc"] == "2.00"
    Contract.objects.filter(pk=contract.pk).update(dunning_policy=own)  # the contract moves to its own régua
    services.charge_sync(invoice_id=invoice.pk)
    remote = psp.api("GET", f"/cobv/{txid}").json()
    assert remote["valor"]["juros"] == {"modalidade": 2, "valorPerc": "0.10"}
    assert remote["valor"]["multa"] == {"modalidade": 2, "valorPerc": "0.00"}  # zeroed: no PATCH deletes
    assert remote["revisao"] == 1
    # the default régua's change does not touch it
    dunning.policy_update(policy_id=_default_policy().pk, multa_valor="3.00")
    assert psp.api("GET", f"/cobv/{txid}").json()["revisao"] == 1


# ---------------------------------------------------------------- paying what is due

def _due_today(invoice) -> PixCharge:
    """The título due today (the PSP's date): its cobv is revised to say so."""
    Invoice.objects.filter(pk=invoice.pk).update(due_date=psp_store.today())
    services.charge_sync(invoice_id=invoice.pk)
    return PixCharge.objects.get(invoice=invoice)


def test_a_discounted_pix_on_time_settles_the_titulo(pix_account, billed, psp, fast_pix):
    _default_policy(desconto_modalidade=1, desconto_valor="5.00", desconto_dias=0)
    contract, invoice = billed()
    charge = _due_today(invoice)
    pix = psp.pay(charge.txid)  # what the payer's app charges today: 109.90 − 5.00
    assert pix["valor"] == "104.90"
    services.reconcile(account_id=pix_account.pk)
    invoice.refresh_from_db()
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.amount, payment.discount, payment.late_fees) == (D("104.90"), D("5.00"), D("0"))
    assert invoice.status == InvoiceStatus.PAID and invoice.balance == 0
    assert not CreditEntry.objects.filter(contract=contract).exists()


def test_a_late_pix_of_the_computed_amount_is_a_full_payment(pix_account, billed, psp, fast_pix):
    today = psp_store.today()
    if not psp_store.is_business_day(today):
        pytest.skip("the PSP's date is not a business day: a due date today moves, nothing is late tomorrow")
    _default_policy(multa_modalidade=2, multa_valor="2.00", juros_modalidade=2, juros_valor="1.00")
    contract, invoice = billed()
    charge = _due_today(invoice)
    tomorrow_noon = dt.datetime.combine(today + dt.timedelta(days=1), dt.time(12), tzinfo=psp_store.BRT)
    pix = psp.pay(charge.txid, at=tomorrow_noon)
    # 109.90 + multa 2 % (2.20) + juros 1 % a.d. × 1 day (1.10) = 113.20
    assert pix["valor"] == "113.20"
    services.reconcile(account_id=pix_account.pk, now=tomorrow_noon + dt.timedelta(minutes=1))
    invoice.refresh_from_db()
    payment = Payment.objects.get(invoice=invoice)
    assert (payment.amount, payment.late_fees, payment.discount) == (D("113.20"), D("3.30"), D("0"))
    assert invoice.status == InvoiceStatus.PAID and invoice.paid_amount == invoice.amount
    assert not CreditEntry.objects.filter(contract=contract).exists()  # juros are not credit


def test_more_than_due_is_still_over_payment(pix_account, billed, psp, fast_pix):
    """A Pix whose parts do not add up to the rules (the payer typed another amount)
    follows the usual over-payment rule: the excess is credit."""
    _default_policy(multa_modalidade=2, multa_valor="2.00")
    contract, invoice = billed()
    charge = _due_today(invoice)
    psp.pay(charge.txid, amount="120.00")
    services.reconcile(account_id=pix_account.pk)
    payment = Payment.objects.get(invoice=invoice)
    assert payment.late_fees == 0 and payment.discount == 0
    assert sum(c.amount for c in CreditEntry.objects.filter(contract=contract)) == D("10.10")


# ---------------------------------------------------------------- the sandbox's arithmetic

def _cobv(**valor) -> dict:
    return {"_kind": "cobv", "calendario": {"dataDeVencimento": "2020-10-20", "validadeAposVencimento": 4},
            "valor": {"original": "100.00", **valor}}


def _due(charge: dict, day: str) -> tuple[str, dict]:
    total, parts = psp_store.Store.amount_due(None, charge, dt.date.fromisoformat(day))
    return str(total), parts


def test_sandbox_the_yaml_example_multa_3_juros_1_a_day_two_days_late():
    """yaml, PixComponentesValor: R$100,00, 2 days late, multa 3 %, juros 1 % a.d. → 105,00."""
    charge = _cobv(multa={"modalidade": 2, "valorPerc": "3.00"}, juros={"modalidade": 2, "valorPerc": "1.00"})
    assert _due(charge, "2020-10-20") == ("100.00", {"original": {"valor": "100.00"}})  # on the due date
    total, parts = _due(charge, "2020-10-22")
    assert total == "105.00" and parts["multa"] == {"valor": "3.00"} and parts["juros"] == {"valor": "2.00"}


@pytest.mark.parametrize("modalidade, rate, day, expected", [
    (1, "0.50", "2020-10-26", "103.00"),   # 0,50 × 6 calendar days
    (3, "3.00", "2020-10-30", "101.00"),   # 3 % a.m. / 30 × 10 days
    (4, "36.00", "2020-10-30", "101.00"),  # 36 % a.a. / 360 × 10 days
    (5, "0.50", "2020-10-26", "102.00"),   # 0,50 × 4 business days (24, 25 are a weekend)
    (6, "1.00", "2020-10-26", "104.00"),   # 1 % × 4 business days
    (7, "21.00", "2020-10-26", "104.00"),  # 21 % a.m. / 21 × 4 business days
    (8, "252.00", "2020-10-26", "104.00"),  # 252 % a.a. / 252 × 4 business days
])
def test_sandbox_juros_per_modalidade(modalidade, rate, day, expected):
    charge = _cobv(juros={"modalidade": modalidade, "valorPerc": rate})
    assert _due(charge, day)[0] == expected


def test_sandbox_multa_once_and_a_due_date_on_a_holiday_moves():
    charge = _cobv(multa={"modalidade": 1, "valorPerc": "2.00"})
    assert _due(charge, "2020-10-21")[0] == "102.00" and _due(charge, "2020-10-30")[0] == "102.00"
    christmas = {**charge, "calendario": {"dataDeVencimento": "2020-12-25", "validadeAposVencimento": 0}}
    assert _due(christmas, "2020-12-28")[0] == "100.00"  # moved to Monday: not late
    assert _due(christmas, "2020-12-29")[0] == "102.00"


def test_sandbox_descontos_until_their_dates_and_per_day_ahead():
    fixed = _cobv(desconto={"modalidade": 1, "descontoDataFixa": [
        {"data": "2020-10-10", "valorPerc": "10.00"}, {"data": "2020-10-15", "valorPerc": "5.00"}]})
    assert _due(fixed, "2020-10-09")[0] == "90.00"
    assert _due(fixed, "2020-10-12")[0] == "90.00"  # 10-10 is a Saturday and 10-12 a holiday: moved to 10-13
    assert _due(fixed, "2020-10-14")[0] == "95.00"
    assert _due(fixed, "2020-10-16")[0] == "100.00"
    percent = _cobv(desconto={"modalidade": 2, "descontoDataFixa": [{"data": "2020-10-20", "valorPerc": "2.50"}]})
    assert _due(percent, "2020-10-20")[0] == "97.50" and _due(percent, "2020-10-21")[0] == "100.00"
    per_day = _cobv(desconto={"modalidade": 3, "valorPerc": "0.10"})
    assert _due(per_day, "2020-10-10")[0] == "99.00"  # 10 calendar days ahead
    per_business_day = _cobv(desconto={"modalidade": 6, "valorPerc": "1.00"})
    assert _due(per_business_day, "2020-10-16")[0] == "98.00"  # 19, 20: 2 business days ahead


@pytest.mark.parametrize("due, validade, last", [
    ("2020-10-20", 4, "2020-10-26"),   # example A
    ("2020-12-25", 0, "2020-12-28"),   # example B
    ("2020-12-25", 1, "2020-12-29"),   # example C
    ("2020-12-25", 3, "2020-12-31"),   # example D
    ("2020-12-25", 4, "2021-01-04"),   # example E
    ("2021-08-27", 5, "2021-09-01"),   # example F
    ("2021-08-28", 5, "2021-09-06"),   # example G
])
def test_sandbox_validade_as_the_yaml_examples(due, validade, last):
    charge = {"calendario": {"dataDeVencimento": due, "validadeAposVencimento": validade}}
    assert psp_store.Store.last_payable_day(None, charge) == dt.date.fromisoformat(last)
