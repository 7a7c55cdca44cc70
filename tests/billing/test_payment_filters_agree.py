"""Payments: the filter is PaymentFilterSet's (billing/filtersets.py), so ``GET
/api/payments`` and ``agrega payments list`` give the same payments for the same status, and
the held ones are the same queue as the page of held payments and ``agrega payments held``;
an unknown status is refused alike."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError
from django.test import Client

from agrega.billing.models import Payment
from tests.cli.helpers import run

pytestmark = pytest.mark.django_db


@pytest.fixture
def payments(billed):
    _, invoice = billed()
    return [Payment.objects.create(invoice=invoice, amount=Decimal("10.00"), paid_on=date(2026, 11, 5),
                                   method="webhook", provider="banco", external_id=f"P-{n}", status=status)
            for n, status in enumerate(("applied", "held", "refused", "held"))]


@pytest.mark.parametrize("status", ["applied", "held", "refused"])
def test_payments_api_and_cli_agree(api, payments, status):
    want = sorted(p.pk for p in payments if p.status == status)
    assert sorted(p["id"] for p in api.get("/payments", {"status": status}).json()["items"]) == want
    result = run("payments", "list", "--status", status, "--json")
    assert result.code == 0, result.err
    assert sorted(p["id"] for p in result.json) == want


def test_the_held_queue_is_the_held_filter(api, payments, role_user):
    want = sorted(p.pk for p in payments if p.status == "held")
    assert sorted(p["id"] for p in run("payments", "held", "--json").json) == want
    page = Client()
    page.force_login(role_user("pagamentos-op", "operador"))
    body = page.get("/financeiro/pagamentos/retidos/").content.decode()
    assert sorted({int(pk) for pk in re.findall(r'name="payment" value="(\d+)"', body)}) == want


def test_an_unknown_status_is_refused_alike(api, payments):
    response = api.get("/payments", {"status": "pago"})
    assert response.status_code == 422 and "status" in response.json()["error"]["fields"]
    with pytest.raises(CommandError, match="Situação: valor não aceito; use applied, held, refused"):
        run("payments", "list", "--status", "pago")
