"""/api/invoices, /api/billing, /api/contracts/{id}/billing and trust-release: real
tokens, real roles, the real billing run and dunning sweep underneath."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from agrega.billing.models import BillingRun, CreditEntry, Invoice, Payment
from agrega.contracts.choices import AccessStatus as AS
from agrega.contracts.models import ContractEvent
from agrega.core.models import ApiToken
from agrega.dunning.models import TrustRelease
from tests.fixtures_api import ApiClient, error

from .fixtures_billing import at, months_ago


@pytest.fixture
def client_for(role_user):
    def make(role: str) -> ApiClient:
        user = role_user(f"api-{role.replace(' ', '-')}", role)
        return ApiClient(ApiToken.issue(user=user, name="testes")[1])

    return make


@pytest.fixture
def operator(client_for):
    return client_for("operador")


@pytest.fixture
def reader(client_for):
    return client_for("somente leitura")


# -- reading títulos ------------------------------------------------------------------------

def test_list_filters_and_money_as_strings(operator, billed, make_customer):
    from agrega.billing.services import billing_run, payment_register

    maria = make_customer(name="Maria Títulos")
    contract, old = billed(months=3, customer=maria)
    billing_run(period=months_ago(2))
    newer = Invoice.objects.get(contract=contract, period=months_ago(2))
    payment_register(invoice_id=newer.pk, amount="109.90")
    _, someone_else = billed(months=3)

    body = operator.get("/invoices", {"contract_id": contract.pk}).json()
    assert [i["id"] for i in body["items"]] == [old.pk, newer.pk]
    first = body["items"][0]
    assert first["amount"] == "109.90" and first["balance"] == "109.90" and first["paid_amount"] == "0.00"
    assert first["period"] == f"{months_ago(3):%Y-%m}" and first["customer_name"] == "Maria Títulos"
    assert first["status"] == "open" and first["overdue"] is True

    assert [i["id"] for i in operator.get("/invoices", {"customer_id": maria.pk, "status": "paid"}).json()["items"]] == [newer.pk]
    period = operator.get("/invoices", {"period": f"{months_ago(3):%Y-%m}"}).json()["items"]
    assert {i["id"] for i in period} == {old.pk, someone_else.pk}
    period = operator.get("/invoices", {"period": f"{months_ago(2):%Y-%m}"}).json()["items"]
    assert {i["id"] for i in period} == {newer.pk}
    overdue = {i["id"] for i in operator.get("/invoices", {"overdue": "true"}).json()["items"]}
    assert old.pk in overdue and newer.pk not in overdue
    not_overdue = {i["id"] for i in operator.get("/invoices", {"overdue": "false"}).json()["items"]}
    assert newer.pk in not_overdue and old.pk not in not_overdue
    assert error(operator.get("/invoices", {"period": "2026-13"}), 400)["code"] == "period_invalid"
    assert error(operator.get("/invoices", {"period": "novembro"}), 422)["code"] == "invalid_input"
    assert error(operator.get("/invoices", {"status": "late"}), 422)["code"] == "invalid_input"


def test_list_is_keyset_paginated(operator, billed):
    created = {billed()[1].pk for _ in range(5)}
    walked = operator.walk("/invoices", limit=2)
    assert [i["id"] for i in walked] == sorted(created)


def test_detail_with_lines_payments_balance_overpaid_and_credit(operator, billed, make_product):
    from agrega.billing.services import billing_run

    from agrega.contracts.services import contract_add_product

    contract, invoice = billed(months=2)
    # a partial month line: a product added on the 16th of the next period
    extra = contract_add_product(contract=contract, product_id=make_product(price="30.00").pk)
    next_period = months_ago(1)
    contract.products.filter(pk=extra.pk).update(added_at=at(next_period.replace(day=16)))

    paid = operator.post(f"/invoices/{invoice.pk}/payments", {"amount": "120,00", "note": "balcão"})
    assert paid.status_code == 201, paid.content
    body = paid.json()
    assert body["created"] is True and body["payment"]["amount"] == "120.00" and body["payment"]["method"] == "manual"
    assert body["payment"]["actor_label"] == "api-operador"
    assert body["invoice"]["status"] == "paid" and body["invoice"]["overpaid"] == "10.10"
    assert body["invoice"]["balance"] == "0.00"

    detail = operator.get(f"/invoices/{invoice.pk}").json()
    assert {(line["fiscal_class"], line["amount"], line["prorated"]) for line in detail["lines"]} == {
        ("SCM", "99.90", False), ("SVA", "10.00", False)}
    assert [p["amount"] for p in detail["payments"]] == ["120.00"] and detail["payments"][0]["note"] == "balcão"
    assert detail["overpaid"] == "10.10" and detail["credit_applied"] == "0.00"

    billing_run(period=next_period)
    following = Invoice.objects.get(contract=contract, period=next_period)
    detail = operator.get(f"/invoices/{following.pk}").json()
    days_in_month = following.lines.first().days_in_period
    partial = [line for line in detail["lines"] if line["prorated"]]
    assert len(partial) == 1 and partial[0]["days"] == days_in_month - 15
    assert partial[0]["days_in_period"] == days_in_month and "proporcional" in partial[0]["description"]
    assert detail["credit_applied"] == "10.10"
    gross = sum(Decimal(line["amount"]) for line in detail["lines"])
    assert Decimal(detail["amount"]) == gross - Decimal("10.10")

    assert error(operator.get("/invoices/999999"), 404)["code"] == "invoice_not_found"


# -- baixa ---------------------------------------------------------------------------------

def test_manual_payment_is_idempotent_by_external_id_and_refuses_reuse(operator, billed):
    contract, invoice = billed()
    first = operator.post(f"/invoices/{invoice.pk}/payments",
                          {"amount": "50.00", "paid_on": str(timezone.localdate()), "external_id": "REC-1"})
    assert first.status_code == 201, first.content
    again = operator.post(f"/invoices/{invoice.pk}/payments",
                          {"amount": "50.00", "paid_on": str(timezone.localdate()), "external_id": "REC-1"})
    assert again.status_code == 200
    assert again.json()["created"] is False and again.json()["payment"]["id"] == first.json()["payment"]["id"]
    invoice.refresh_from_db()
    assert invoice.paid_amount == Decimal("50.00") and Payment.objects.filter(invoice=invoice).count() == 1

    reused = operator.post(f"/invoices/{invoice.pk}/payments", {"amount": "59.90", "external_id": "REC-1"})
    assert error(reused, 409)["code"] == "payment_id_reused"
    # a JSON number works as well as a string
    rest = operator.post(f"/invoices/{invoice.pk}/payments", {"amount": 59.9, "external_id": "REC-2"})
    assert rest.status_code == 201 and rest.json()["invoice"]["status"] == "paid"


def test_payment_refusals_change_nothing(operator, billed):
    contract, invoice = billed()
    bad = operator.post(f"/invoices/{invoice.pk}/payments", {"amount": "0"})
    assert error(bad, 422)["fields"]["amount"][0]["code"] == "amount_invalid"
    future = operator.post(f"/invoices/{invoice.pk}/payments",
                           {"amount": "10", "paid_on": str(timezone.localdate() + timedelta(days=5))})
    assert error(future, 422)["fields"]["paid_on"][0]["code"] == "paid_on_future"
    assert error(operator.post(f"/invoices/{invoice.pk}/payments", {"amount": "1,234"}), 422)["code"] == "amount_invalid"
    assert error(operator.post("/invoices/999999/payments", {"amount": "10"}), 404)["code"] == "invoice_not_found"
    assert error(operator.post(f"/invoices/{invoice.pk}/payments", {}), 422)["code"] == "invalid_input"
    invoice.refresh_from_db()
    assert invoice.paid_amount == 0 and not Payment.objects.exists()


def test_payment_releases_a_contract_blocked_by_the_regua(operator, blocked):
    contract, invoice = blocked()
    assert contract.access_status == AS.OVERDUE
    response = operator.post(f"/invoices/{invoice.pk}/payments", {"amount": "109,90"})
    assert response.status_code == 201
    contract.refresh_from_db()
    assert (contract.access_status, contract.dunning_level) == (AS.ACTIVE, 0)
    assert ContractEvent.objects.filter(contract=contract, action="payment_release").exists()
    summary = operator.get(f"/contracts/{contract.pk}/billing").json()
    assert summary["open_balance"] == "0.00" and summary["oldest_open_due"] is None


def test_cancel_invoice(operator, billed):
    contract, invoice = billed()
    response = operator.post(f"/invoices/{invoice.pk}/cancel", {"reason": "cobrança indevida"})
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "cancelled" and response.json()["cancel_reason"] == "cobrança indevida"
    assert error(operator.post(f"/invoices/{invoice.pk}/cancel", {"reason": "de novo"}), 409)["code"] == "invoice_cancelled"
    paying = operator.post(f"/invoices/{invoice.pk}/payments", {"amount": "10"})
    assert error(paying, 409)["code"] == "invoice_cancelled"

    other_contract, paid = billed()
    operator.post(f"/invoices/{paid.pk}/payments", {"amount": "10"})
    assert error(operator.post(f"/invoices/{paid.pk}/cancel", {"reason": "x"}), 409)["code"] == "invoice_has_payments"
    assert error(operator.post("/invoices/999999/cancel", {"reason": "x"}), 404)["code"] == "invoice_not_found"


# -- roles ---------------------------------------------------------------------------------

def test_read_only_sees_but_cannot_pay_cancel_run_or_release(reader, blocked, anonymous):
    contract, invoice = blocked()
    assert reader.get(f"/invoices/{invoice.pk}").status_code == 200
    assert reader.get(f"/contracts/{contract.pk}/billing").status_code == 200
    assert reader.get("/billing/runs").status_code == 200
    for path, body in [
        (f"/invoices/{invoice.pk}/payments", {"amount": "109.90"}),
        (f"/invoices/{invoice.pk}/cancel", {"reason": "x"}),
        ("/billing/runs", {"period": f"{months_ago(1):%Y-%m}"}),
        (f"/contracts/{contract.pk}/trust-release", {}),
    ]:
        assert error(reader.post(path, body), 403)["code"] == "forbidden", path
    assert error(anonymous.get("/invoices"), 401)["code"] == "not_authenticated"
    assert error(anonymous.post(f"/invoices/{invoice.pk}/payments", {"amount": "1"}), 401)
    invoice.refresh_from_db()
    contract.refresh_from_db()
    assert invoice.paid_amount == 0 and invoice.status == "open" and contract.access_status == AS.OVERDUE
    assert not TrustRelease.objects.exists() and BillingRun.objects.count() == 1


# -- billing runs --------------------------------------------------------------------------

def test_billing_run_endpoint_enqueues_runs_and_lists(operator, active_contract, run_tasks):
    contracts = [active_contract() for _ in range(3)]
    period = f"{months_ago(1):%Y-%m}"
    response = operator.post("/billing/runs", {"period": period})
    assert response.status_code == 202, response.content
    queued = response.json()
    # nothing is billed inside the request: the task does it
    assert queued["finished_at"] is None and queued["invoices_created"] == 0
    assert not Invoice.objects.filter(contract__in=contracts).exists()
    assert response["Location"] == queued["task_url"] == f"/api/tasks/{queued['task_id']}"
    task = operator.get(queued["task_url"].removeprefix("/api")).json()
    assert task["status"] == "READY" and task["link_url"] == f"/financeiro/faturamento/{queued['id']}/"

    assert run_tasks() == 1
    run = operator.get(f"/billing/runs/{queued['id']}").json()
    assert run["period"] == period and run["invoices_created"] == 3 and run["lines_created"] == 6
    assert run["total_amount"] == "329.70" and run["actor_label"] == "api-operador" and run["finished_at"]
    assert Invoice.objects.filter(contract__in=contracts).count() == 3
    task = operator.get(queued["task_url"].removeprefix("/api")).json()
    assert task["status"] == "SUCCESSFUL" and task["result"]["invoices"] == 3 and task["attempts"] == 1

    again = operator.post("/billing/runs", {"period": period}).json()
    run_tasks()
    again = operator.get(f"/billing/runs/{again['id']}").json()
    assert again["invoices_created"] == 0 and again["total_amount"] == "0.00"
    listed = operator.get("/billing/runs").json()["items"]
    assert [r["id"] for r in listed] == [run["id"], again["id"]]
    assert error(operator.post("/billing/runs", {"period": "11/2026"}), 400)["code"] == "period_invalid"
    assert error(operator.post("/billing/runs", {}), 422)["code"] == "invalid_input"


# -- the contract's billing and the trust release --------------------------------------------

def test_contract_billing_summary_and_trust_release(operator, blocked):
    contract, invoice = blocked()
    summary = operator.get(f"/contracts/{contract.pk}/billing").json()
    assert summary["open_balance"] == "109.90" and summary["overdue_balance"] == "109.90"
    assert summary["oldest_open_due"] == invoice.due_date.isoformat()
    assert summary["dunning_level"] == 2 and "Suspensão parcial" in summary["dunning_stage"]
    assert summary["access_status"] == "FA" and summary["credit_balance"] == "0.00"
    assert summary["trust_release_available"] is True and summary["trust_releases_used"] == 0
    assert (summary["trust_release_max_uses"], summary["trust_release_max_days"]) == (1, 3)

    too_long = operator.post(f"/contracts/{contract.pk}/trust-release", {"days": 10})
    assert error(too_long, 422)["code"] == "trust_days_invalid"

    released = operator.post(f"/contracts/{contract.pk}/trust-release", {"days": 2, "note": "prometeu pagar"})
    assert released.status_code == 201, released.content
    body = released.json()
    assert body["contract_id"] == contract.pk and body["note"] == "prometeu pagar"
    assert body["actor_label"] == "api-operador" and body["restore_access"] == "FA"
    contract.refresh_from_db()
    assert contract.access_status == AS.ACTIVE and contract.trust_release_until is not None

    summary = operator.get(f"/contracts/{contract.pk}/billing").json()
    assert summary["trust_releases_used"] == 1 and summary["trust_release_until"]
    assert summary["trust_release_available"] is False
    assert summary["trust_release_unavailable_code"] == "trust_release_not_blocked"

    # blocked again (the release expired without payment): the limit is what refuses now
    from agrega.dunning.services import expire_trust_releases

    expire_trust_releases(now=contract.trust_release_until + timedelta(seconds=1))
    contract.refresh_from_db()
    assert contract.access_status == AS.OVERDUE
    summary = operator.get(f"/contracts/{contract.pk}/billing").json()
    assert summary["trust_release_unavailable_code"] == "trust_release_limit"
    assert summary["trust_release_next_available_at"]
    limit = error(operator.post(f"/contracts/{contract.pk}/trust-release", {}), 409)
    assert limit["code"] == "trust_release_limit" and limit["next_available_at"]
    assert TrustRelease.objects.filter(contract=contract).count() == 1


def test_trust_release_refused_for_a_contract_in_good_standing(operator, billed):
    contract, _ = billed(months=0)
    refused = error(operator.post(f"/contracts/{contract.pk}/trust-release"), 409)
    assert refused["code"] == "trust_release_not_blocked" and "FA ou CA" in refused["message"]
    assert error(operator.post("/contracts/999999/trust-release", {}), 404)["code"] == "contract_not_found"
    assert error(operator.get("/contracts/999999/billing"), 404)["code"] == "contract_not_found"


def test_credit_balance_in_the_summary(operator, billed):
    contract, invoice = billed()
    operator.post(f"/invoices/{invoice.pk}/payments", {"amount": "200.00"})
    summary = operator.get(f"/contracts/{contract.pk}/billing").json()
    assert summary["credit_balance"] == "90.10"
    assert CreditEntry.objects.filter(contract=contract).count() == 1
