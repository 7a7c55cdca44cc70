"""Financeiro > NFCom: the filters are NFComFilterSet's (fiscal/filtersets.py), so the page,
``GET /api/nfcom`` and ``agrega nfcom list`` answer the same filter with the same NFCom;
an unknown situação or a month that does not parse is refused alike (before, the page
quietly showed everything and the CLI took any status)."""

from __future__ import annotations

import re

import pytest
from django.core.management import CommandError
from django.utils import timezone

from agrega.core.roles import Role
from agrega.fiscal import services
from agrega.fiscal.models import DocStatus, NFCom
from tests.cli.helpers import run
from tests.fixtures import logged_in_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def documents(emitter, billed):
    """Three NFCom authorised by the sandbox SEFAZ; the first one cancelled."""
    made = [services.nfcom_send(nfcom_id=services.nfcom_create(invoice_id=invoice.pk).pk) for invoice in billed(3)]
    services.nfcom_cancel(nfcom_id=made[0].pk, reason="Cobranca emitida em duplicidade")
    assert sorted(NFCom.objects.values_list("status", flat=True)) == ["authorised", "authorised", "cancelled"]
    return made


def page_ids(page, params: dict) -> list[int]:
    response = page.get("/financeiro/nfcom/", params)
    assert response.status_code == 200, response.content[:300]
    return sorted(int(pk) for pk in re.findall(r'<tr data-nfcom="(\d+)">', response.content.decode()))


def api_ids(api, params: dict) -> list[int]:
    response = api.get("/nfcom", params)
    assert response.status_code == 200, response.content[:300]
    return sorted(NFCom.objects.filter(key__in=[d["key"] for d in response.json()["items"]]).values_list("pk", flat=True))


def cli_ids(*args) -> list[int]:
    result = run("nfcom", "list", *args, "--json")
    assert result.code == 0, result.err
    return sorted(NFCom.objects.filter(key__in=[d["key"] for d in result.json]).values_list("pk", flat=True))


def test_nfcom_page_api_and_cli_agree(role_user, api, documents):
    page = logged_in_client(role_user("op", Role.OPERATOR))
    this_month = timezone.localdate().strftime("%Y-%m")
    for params, cli, expected in (
        ({"status": "authorised"}, ["--status", "authorised"], NFCom.objects.filter(status=DocStatus.AUTHORISED)),
        ({"status": "cancelled", "period": this_month}, ["--status", "cancelled", "--period", this_month],
         NFCom.objects.filter(status=DocStatus.CANCELLED)),
        ({"period": "2020-01"}, ["--period", "2020-01"], NFCom.objects.none()),
    ):
        want = sorted(expected.values_list("pk", flat=True))
        assert page_ids(page, params) == want, params
        assert api_ids(api, params) == want
        assert cli_ids(*cli) == want


def test_nfcom_filters_refuse_alike(role_user, api, documents):
    page = logged_in_client(role_user("op", Role.OPERATOR))
    assert api.get("/nfcom", {"status": "feita"}).status_code == 422
    response = api.get("/nfcom", {"period": "12/2026"})
    assert response.status_code == 422
    assert [e["code"] for e in response.json()["error"]["fields"]["period"]] == ["period_invalid"]
    shown = page.get("/financeiro/nfcom/", {"status": "feita", "period": "12/2026"}).content.decode()
    assert "Faça uma escolha válida" in shown and "Competência inválida" in shown
    with pytest.raises(CommandError, match="Situação: valor não aceito"):
        run("nfcom", "list", "--status", "feita")
    result = run("nfcom", "list", "--period", "12/2026")
    assert result.code == 2 and "Competência inválida" in result.err


def test_the_api_pages_through_every_nfcom(api, documents):
    """Like every list that grows, ``GET /api/nfcom`` is a keyset page (before: the newest
    ``limit`` ≤ 500 and nothing after them; an ISP emits thousands a month)."""
    seen, cursor = [], None
    for _ in range(5):
        response = api.get("/nfcom", {"limit": 2, **({"cursor": cursor} if cursor is not None else {})})
        assert response.status_code == 200, response.content[:300]
        body = response.json()
        seen += [d["id"] for d in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(NFCom.objects.values_list("pk", flat=True)) and len(seen) == 3
    assert api.get("/nfcom", {"status": "authorised", "cursor": seen[0]}).json()["items"] == [
        d for d in api.get("/nfcom", {"status": "authorised"}).json()["items"] if d["id"] > seen[0]]
