"""Access follows the money in seconds, end to end on the real sandboxes: título → cobv on
the PSP sandbox → paid by the payer → webhook → confirmed → baixa → contract released →
the worker unblocks the SVA user on the EXA sandbox. The same with the webhook lost (the
reconciliation catches it), duplicated and out of order: 0 lost, 0 duplicate baixas."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from agrega.billing.models import Payment
from agrega.contracts.choices import AccessStatus as AS
from agrega.contracts.models import Contract
from agrega.contracts.services import contract_add_product
from agrega.dunning.services import dunning_sweep
from agrega.pix import services
from agrega.pix.models import PixCharge

from tests.fixtures import default_platform_only
from tests.pix.backdated import activated_months_ago, billed_months_ago
from tests.pix.waiting import wait_for

pytestmark = pytest.mark.django_db(transaction=True)

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


@pytest.fixture
def hooked(pix_account, live_server, fast_pix):
    return services.account_register_webhook(account_id=pix_account.pk, public_url=live_server.url)


@pytest.fixture
def blocked_sva(platform_integration, make_product, make_contract, hooked, converge):
    """``make()``: an active contract with an EXA product, billed 2 months back (its cobv on
    the PSP), blocked on the platform by the régua."""
    exa = make_product(platform_integration, name="EXA Segurança", price="9.90", fiscal_class="SVA")

    def make():
        contract = make_contract(billing_day=10)
        contract_add_product(contract=contract, product_id=exa.pk)
        activated_months_ago(contract)
        invoice = billed_months_ago(contract)
        dunning_sweep(today=invoice.due_date + timedelta(days=20))
        contract.refresh_from_db()
        assert contract.access_status != AS.ACTIVE
        return contract, invoice

    return make


def platform_status(platform_account, contract):
    return platform_account.user(contract.sva_users.get().external_id)["status"]


def released(contract):
    return Contract.objects.filter(pk=contract.pk, access_status=AS.ACTIVE).exists()


def test_pix_paid_releases_the_contract_and_the_worker_unblocks_on_exa(blocked_sva, psp, platform_account, converge,
                                                                       inbox_consumer):
    contract, invoice = blocked_sva()
    converge()
    assert platform_status(platform_account, contract) == "blocked"
    psp.pay(PixCharge.objects.get(invoice=invoice).txid)
    psp.wait_webhooks()
    assert wait_for(lambda: released(contract))
    converge()
    assert platform_status(platform_account, contract) == "active"
    assert Payment.objects.filter(invoice=invoice).count() == 1


@pytest.mark.parametrize("faults", [
    {"webhook_lost_rate": 1.0},
    {"webhook_duplicate_rate": 1.0},
    {"webhook_duplicate_rate": 1.0, "webhook_reorder_ms": 400},
], ids=["lost", "duplicated", "out-of-order"])
def test_lost_duplicated_out_of_order_zero_lost_zero_duplicates(blocked_sva, psp, platform_account, converge,
                                                                  hooked, faults, inbox_consumer):
    pairs = [blocked_sva() for _ in range(3)]
    converge()
    psp.faults(**faults)
    paid = {}
    for contract, invoice in pairs:
        paid[invoice.pk] = psp.pay(PixCharge.objects.get(invoice=invoice).txid)["endToEndId"]
    psp.wait_webhooks()
    services.reconcile(account_id=hooked.pk)  # the periodic job's pass
    for contract, invoice in pairs:
        assert wait_for(lambda: released(contract)), "lost"
        payments = list(Payment.objects.filter(invoice=invoice).values_list("external_id", flat=True))
        assert payments == [paid[invoice.pk]], payments  # 0 lost, 0 duplicate baixas
    converge()
    for contract, _ in pairs:
        assert platform_status(platform_account, contract) == "active"


def test_the_inbox_consumer_wakes_the_sva_worker(blocked_sva, platform_account, converge, settings, psp):
    """The production wiring of ``agrega worker``: the SVA loop and the inbox consumer in
    one process, the consumer waking the loop after a batch. The loop's idle poll is set
    to a minute here, so the user is unblocked within seconds only because it was woken."""
    import threading

    from agrega.pix.inbox import InboxConsumer
    from agrega.sva.controller.worker import SvaWorker

    contract, invoice = blocked_sva()
    converge()
    assert platform_status(platform_account, contract) == "blocked"
    settings.SVA_WORKER = {**settings.SVA_WORKER, "IDLE_POLL_SECONDS": 60.0}
    worker = SvaWorker()
    loop = threading.Thread(target=worker.run, daemon=True)
    loop.start()
    consumer = InboxConsumer(on_applied=worker.wake)
    consumer.start()
    try:
        time.sleep(0.5)  # the loop found nothing and sleeps its minute
        psp.pay(PixCharge.objects.get(invoice=invoice).txid)
        assert wait_for(lambda: platform_status(platform_account, contract) == "active", timeout=20)
    finally:
        consumer.stop()
        worker.stop_event.set()
        worker.wake()
        loop.join(10)
        worker.close()
    assert Payment.objects.filter(invoice=invoice).count() == 1
