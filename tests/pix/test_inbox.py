"""The inbox of the /pix callbacks (agrega/pix/inbox.py): the webhook records, the
consumer confirms with the PSP and applies in batches — exactly once per endToEndId,
whatever the deliveries, and nothing lost when a consumer dies between record and apply
or in the middle of a batch. On the real PSP sandbox, both databases."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import httpx
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from agrega.billing.models import InvoiceStatus, Payment
from agrega.contracts.choices import AccessStatus as AS
from agrega.contracts.choices import ContractAction as Act
from agrega.contracts.models import ContractEvent
from agrega.pix import inbox, services
from agrega.pix.models import PixCharge, PixNotification
from tests.pix.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def hooked(pix_account, live_server, fast_pix):
    """The webhook registered at a live Agrega — and no consumer running: the tests here
    drive it themselves."""
    return services.account_register_webhook(account_id=pix_account.pk, public_url=live_server.url)


def pay(psp, invoice) -> dict:
    return psp.pay(PixCharge.objects.get(invoice=invoice).txid)


def test_the_webhook_records_and_the_consumer_applies(hooked, billed, psp):
    _, invoice = billed()
    pix = pay(psp, invoice)
    psp.wait_webhooks()
    assert wait_for(lambda: PixNotification.objects.filter(e2eid=pix["endToEndId"]).exists())
    row = PixNotification.objects.get(e2eid=pix["endToEndId"])
    assert row.due_at is not None and row.deliveries >= 1  # the PSP may have retried a slow answer
    assert not Payment.objects.filter(invoice=invoice).exists()  # recorded, not applied in the request
    assert inbox.drain() == {"claimed": 1, "applied": 1}
    row.refresh_from_db()
    assert row.due_at is None and row.outcome == "applied"
    assert Payment.objects.get(provider="pix", external_id=row.e2eid).invoice_id == invoice.pk
    invoice.refresh_from_db()
    assert invoice.status == InvoiceStatus.PAID
    psp.wait_webhooks()
    inbox.drain()  # a late redelivery by the PSP (a slow answer under load) changes nothing
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_duplicate_deliveries_are_one_row_and_one_baixa(hooked, billed, psp):
    _, invoice = billed()
    pix = pay(psp, invoice)
    psp.wait_webhooks()
    body = {"pix": [pix, pix]}  # twice in one body, and the body three more times
    for _ in range(3):
        assert httpx.post(f"{hooked.webhook_url}/pix", json=body).status_code == 200
    row = PixNotification.objects.get(e2eid=pix["endToEndId"])
    delivered = len([d for d in psp.webhooks() if d["outcome"] == "delivered"])
    assert row.deliveries == delivered + 3  # one row; each delivery counted
    inbox.drain()
    # delivered again after the baixa: confirmed again (a devolução could have come), not applied again
    assert httpx.post(f"{hooked.webhook_url}/pix", json={"pix": [pix]}).status_code == 200
    row.refresh_from_db()
    assert row.due_at is not None and row.deliveries == delivered + 4
    assert inbox.drain() == {"claimed": 1, "applied": 1}
    assert list(Payment.objects.filter(invoice=invoice).values_list("external_id", flat=True)) == [pix["endToEndId"]]


def test_a_consumer_dead_between_record_and_apply_loses_nothing(hooked, billed, psp):
    _, invoice = billed()
    pix = pay(psp, invoice)
    psp.wait_webhooks()
    claimed = inbox._claim(10)  # a consumer claims the row… and dies before it confirms or applies
    assert [c.e2eid for c in claimed] == [pix["endToEndId"]]
    assert inbox.drain() == {}  # its lease holds the row: no one else takes it meanwhile
    PixNotification.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))  # the lease expired
    assert inbox.drain() == {"claimed": 1, "applied": 1}
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_a_batch_that_fails_before_its_commit_applies_nothing_and_is_applied_later(hooked, billed, psp,
                                                                                   monkeypatch):
    pairs = [billed(months=m) for m in (4, 3)]
    for _, invoice in pairs:
        pay(psp, invoice)
    psp.wait_webhooks()

    def crash(batch):
        raise RuntimeError("the consumer died before the commit")

    monkeypatch.setattr(inbox, "_write_outcomes", crash)
    with pytest.raises(RuntimeError):
        inbox.drain()
    # the baixas and the release were in the batch's transaction: rolled back with it
    assert not Payment.objects.filter(invoice__in=[i for _, i in pairs]).exists()
    assert PixNotification.objects.filter(due_at__isnull=False).count() == 2
    monkeypatch.undo()
    PixNotification.objects.update(claimed_until=None)  # its lease, as after the process died
    assert inbox.drain() == {"claimed": 2, "applied": 2}
    for _, invoice in pairs:
        assert Payment.objects.filter(invoice=invoice).count() == 1


def test_unconfirmed_now_is_retried_and_unknown_to_the_psp_is_rejected(hooked, billed, psp):
    _, invoice = billed()
    pix = pay(psp, invoice)
    psp.wait_webhooks()
    forged = "E99999999202601011200zzzzzzzzzzz"
    services.webhook_receive(secret=hooked.webhook_secret, body={"pix": [{"endToEndId": forged}]})
    psp.faults(error_rate=1.0)  # the PSP answers 5xx for now
    counts = inbox.drain()
    assert counts == {"claimed": 2, "retry": 2}
    row = PixNotification.objects.get(e2eid=pix["endToEndId"])
    assert row.attempts == 1 and row.due_at > timezone.now() and row.last_error
    assert not Payment.objects.filter(invoice=invoice).exists()
    psp.payer.clear_faults()
    PixNotification.objects.update(due_at=timezone.now())  # the backoff passed
    assert inbox.drain() == {"claimed": 2, "applied": 1, "rejected": 1}
    assert PixNotification.objects.get(e2eid=forged).outcome == "rejected"
    assert Payment.objects.filter(invoice=invoice).count() == 1


def test_one_batch_releases_its_contracts_set_based(hooked, billed, blocked, psp, monkeypatch):
    """A batch of three Pix: three baixas, three contracts released (one event each,
    through the one status writer), in one transaction whose release is one pass."""
    from agrega.dunning import services as dunning

    pairs = [blocked() for _ in range(3)]
    for contract, invoice in pairs:
        assert contract.access_status != AS.ACTIVE
        pay(psp, invoice)
    psp.wait_webhooks()
    release, passes = dunning.release_settled, []

    def spy(**kw):
        passes.append(sorted(kw["contract_ids"]))
        return release(**kw)

    monkeypatch.setattr(dunning, "release_settled", spy)
    with CaptureQueriesContext(connection) as queries:
        assert inbox.drain() == {"claimed": 3, "applied": 3}
    assert passes == [sorted(c.pk for c, _ in pairs)]  # once for the batch, not once per baixa
    for contract, invoice in pairs:
        contract.refresh_from_db()
        assert contract.access_status == AS.ACTIVE and contract.dunning_level == 0
        assert ContractEvent.objects.filter(contract=contract, action=Act.PAYMENT_RELEASE).count() == 1
    # three commits: the claim, the batch (baixas, release, outcomes), the empty claim that ends the drain
    assert sum(q["sql"].startswith("COMMIT") for q in queries.captured_queries) == 3


def test_the_consumer_thread_wakes_on_a_callback_and_wakes_the_sva_worker(hooked, billed, psp):
    _, invoice = billed()
    woken = threading.Event()
    consumer = inbox.InboxConsumer(on_applied=woken.set)
    consumer.start()
    try:
        pay(psp, invoice)
        assert wait_for(lambda: Payment.objects.filter(invoice=invoice).exists())
        assert woken.wait(5)
    finally:
        consumer.stop()
    assert not consumer.thread.is_alive()


def test_on_sqlite_the_record_waits_for_a_held_write_lock_then_commits(pix_account):
    """Another connection holds SQLite's write lock (a worker's transaction): the
    webhook's record keeps trying (pix.sql._sqlite_write_promptly) and commits once the
    lock is free — one row, the usual busy timeout back on the connection."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's single write lock")
    import sqlite3

    other = sqlite3.connect(connection.settings_dict["NAME"], timeout=20, isolation_level=None,
                            check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")  # the write lock, held
    released = threading.Event()

    def release_later():
        time.sleep(0.5)
        other.execute("COMMIT")
        released.set()

    thread = threading.Thread(target=release_later)
    thread.start()
    try:
        written = inbox.record(secret=pix_account.webhook_secret, e2eids=["E" + "1" * 31])
    finally:
        thread.join()
        other.close()
    assert released.is_set() and written == 1
    assert PixNotification.objects.filter(e2eid="E" + "1" * 31, deliveries=1).count() == 1
    assert connection.connection.execute("PRAGMA busy_timeout").fetchone()[0] == 20_000


def test_only_well_formed_end_to_end_ids_are_recorded():
    # the yaml's pattern [a-zA-Z0-9]{32}: a number, a short id, a longer one (never cut
    # down to 32: that could name another Pix) and a non-ASCII one are skipped
    from agrega.pix.inbox import valid_e2eids

    good = "E12345678202009091221abcdef12345"
    items = [{"endToEndId": good}, {"endToEndId": 5}, {"endToEndId": "E123"}, {"endToEndId": good + "X"},
             {"endToEndId": "É" + good[1:]}, {"endToEndId": good}, "x", None, {"txid": "a"}]
    assert valid_e2eids(items) == [good]
