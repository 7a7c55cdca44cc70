"""Webhook registration and delivery: the sandbox calls a real HTTP receiver back."""

from __future__ import annotations

import time

import pytest

from pix_sandbox.conformance import validate_callback

from .conftest import call
from .test_cobv_pix import cobv_body, txid


@pytest.fixture
def account(pix_sandbox, pix_spec):
    acc = pix_sandbox.new_account()
    yield acc
    acc.payer.clear_faults()
    acc.payer.close()


@pytest.fixture
def api(account, receiver):
    with account.client() as client:
        assert call(client, "PUT", f"/webhook/{account.chave}", {"webhookUrl": receiver.url}).status_code == 200
        yield client


def pay_some(account, api, n: int) -> list[str]:
    e2e = []
    for _ in range(n):
        t = txid()
        call(api, "PUT", f"/cobv/{t}", cobv_body(account.chave))
        e2e.append(account.payer.pay(t)["endToEndId"])
    return e2e


def delivered(receiver) -> list[str]:
    return [p["endToEndId"] for c in receiver.calls if c["status"] == 200 for p in c["body"]["pix"]]


def test_webhook_crud(account, api, receiver):
    got = call(api, "GET", f"/webhook/{account.chave}").json()
    assert got["webhookUrl"] == receiver.url and got["chave"] == account.chave
    assert call(api, "PUT", "/webhook/outra-chave", {"webhookUrl": receiver.url}).status_code == 400
    assert call(api, "PUT", f"/webhook/{account.chave}", {"webhookUrl": "nota url"},
                check_request=False).status_code == 400
    assert call(api, "DELETE", f"/webhook/{account.chave}").status_code == 204
    assert call(api, "GET", f"/webhook/{account.chave}").status_code == 404
    assert call(api, "DELETE", f"/webhook/{account.chave}").status_code == 404


def test_a_paid_charge_is_notified_at_url_slash_pix_with_the_yaml_body(account, api, receiver):
    e2e = pay_some(account, api, 1)[0]
    assert account.payer.wait_webhooks(10)
    assert len(receiver.calls) == 1
    call_ = receiver.calls[0]
    assert call_["path"] == "/hooks/secret-path/pix"
    validate_callback("pix", call_["body"])
    assert call_["body"]["pix"][0]["endToEndId"] == e2e
    # the notified Pix is the one GET /pix/{e2eid} confirms
    assert call(api, "GET", f"/pix/{e2e}").json() == call_["body"]["pix"][0]


def test_a_devolucao_is_notified_too(account, api, receiver):
    e2e = pay_some(account, api, 1)[0]
    call(api, "PUT", f"/pix/{e2e}/devolucao/r1", {"valor": "1.00"})
    assert account.payer.wait_webhooks(10)
    # the payment's and the devolução's notifications go out on the sandbox's delivery
    # threads, as a PSP's may: either may arrive last, so the devolução's is looked for
    refunds = [c["body"] for c in receiver.calls if "devolucoes" in c["body"]["pix"][0]]
    assert len(refunds) == 1 and len(receiver.calls) == 2, receiver.calls
    validate_callback("pix", refunds[0])
    assert refunds[0]["pix"][0]["endToEndId"] == e2e
    assert refunds[0]["pix"][0]["devolucoes"][0]["status"] == "DEVOLVIDO"


def test_no_webhook_no_call(account, api, receiver):
    call(api, "DELETE", f"/webhook/{account.chave}")
    pay_some(account, api, 1)
    assert account.payer.wait_webhooks(10)
    assert receiver.calls == []


def test_failed_deliveries_are_retried_until_accepted(account, api, receiver):
    account.payer.set_faults(webhook_retry_base_ms=20.0)
    receiver.status = 503
    e2e = pay_some(account, api, 1)[0]
    deadline = time.monotonic() + 10
    while len(receiver.calls) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    receiver.status = 200
    assert account.payer.wait_webhooks(10)
    assert [c["status"] for c in receiver.calls][-1] == 200
    assert len(receiver.calls) >= 3
    assert delivered(receiver) == [e2e]
    log = account.payer.webhooks(account.chave)["deliveries"]
    assert [d["outcome"] for d in log][-1] == "delivered" and "retry" in [d["outcome"] for d in log]


def test_delivery_gives_up_after_max_attempts(account, api, receiver):
    account.payer.set_faults(webhook_retry_base_ms=10.0, webhook_max_attempts=3)
    receiver.status = 500
    pay_some(account, api, 1)
    assert account.payer.wait_webhooks(10)
    assert len(receiver.calls) == 3
    assert account.payer.webhooks(account.chave)["deliveries"][-1]["outcome"] == "gave_up"


def test_lost_webhooks_are_never_sent_but_the_pix_is_listed(account, api, receiver):
    account.payer.set_faults(webhook_lost_rate=1.0)
    e2e = pay_some(account, api, 3)
    assert account.payer.wait_webhooks(10)
    assert receiver.calls == []
    listed = call(api, "GET", "/pix", params={"inicio": "2000-01-01T00:00:00Z",
                                              "fim": "2100-01-01T00:00:00Z"}).json()
    assert sorted(p["endToEndId"] for p in listed["pix"]) == sorted(e2e)


def test_duplicated_webhooks(account, api, receiver):
    account.payer.set_faults(webhook_duplicate_rate=1.0)
    e2e = pay_some(account, api, 2)
    assert account.payer.wait_webhooks(10)
    assert sorted(delivered(receiver)) == sorted(e2e * 2)


def test_delayed_and_out_of_order_webhooks(account, api, receiver):
    account.payer.set_faults(webhook_reorder_ms=2000.0, webhook_delay_ms=100.0, seed=7)
    started = time.monotonic()
    e2e = pay_some(account, api, 8)
    assert account.payer.wait_webhooks(20)
    got = delivered(receiver)
    assert sorted(got) == sorted(e2e)
    assert got != e2e  # up to 2 s of random wait each: eight in order has odds ~1/8!
    assert time.monotonic() - started >= 0.1
