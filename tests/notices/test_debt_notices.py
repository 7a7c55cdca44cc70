"""The régua's debt notices (dunning's DunningNotice, written by the sweep) e-mailed to the
customer by the notices job: once, with the amount and the oldest due date, not to a
customer who paid meanwhile, and marked when the customer has no e-mail."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from django.core import mail
from django.db import connections
from django.utils import timezone

from agrega.billing.models import Invoice
from agrega.billing.services import billing_run, payment_register
from agrega.contracts.choices import ContractAction
from agrega.contracts.models import Contract, ContractEvent
from agrega.contracts.services import contract_activate, contract_add_product
from agrega.core.money import format_brl
from agrega.dunning.models import DunningNotice, DunningPolicy
from agrega.dunning.services import dunning_sweep, policy_set_stages
from agrega.notices import jobs
from agrega.notices.models import CustomerNotice, NoticeStatus
from tests.billing.fixtures_billing import at

pytestmark = pytest.mark.django_db(transaction=True)

PERIOD = date(2026, 10, 1)
DUE = date(2026, 10, 10)


@pytest.fixture
def overdue(make_contract, make_customer, make_product, settings):
    """An active contract whose título (due on DUE) is 20 days late: the sweep moved it
    through the notice and the partial suspension at once (its DunningNotice: stage 1)."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEBT_NOTICE_SETTLE_SECONDS = 0  # taken at once (test_a_notice_waits_until_the_sweep_has_settled)
    product = make_product(name="Internet", price="100.00", fiscal_class="SCM")

    def make(policy=None, days_late=20, level=2, **customer):
        contract = make_contract(customer=make_customer(**customer), billing_day=10)
        if policy is not None:
            Contract.objects.filter(pk=contract.pk).update(dunning_policy=policy)
        contract_add_product(contract=contract, product_id=product.pk)
        contract_activate(contract=contract)
        Contract.objects.filter(pk=contract.pk).update(activated_at=at(date(2026, 8, 1)))
        contract.products.update(added_at=at(date(2026, 8, 1)))
        billing_run(period=PERIOD)
        dunning_sweep(today=DUE + timedelta(days=days_late))
        contract.refresh_from_db()
        assert contract.dunning_level == level
        return contract

    return make


def notes(contract) -> list[str]:
    return [e.detail.get("note", "") for e in ContractEvent.objects.filter(
        contract=contract, action=ContractAction.DUNNING_NOTICE).order_by("id") if e.detail.get("note")]


def test_the_sweep_s_notice_is_emailed_once_with_amount_due_date_and_next_stage(overdue):
    contract = overdue()
    assert DunningNotice.objects.filter(contract=contract).count() == 1  # the notice stage's
    invoice = Invoice.objects.get(contract=contract)
    result = jobs.run()
    assert result["written"]["debt"]["debt"] == 1
    assert result["sending"]["sent"] == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [contract.customer.email]
    assert message.subject == f"Aviso de débito do contrato {contract.pk}"
    assert f"Olá, {contract.customer.name}!" in message.body
    assert f"o valor de {format_brl(invoice.amount)}, com o vencimento mais antigo em 10/10/2026" in message.body
    assert "o serviço está parcialmente suspenso" in message.body  # the contract's stage now
    # the Anatel preset's next stage: suspensão total 46 days after the due date
    assert "(25/11/2026) haverá a suspensão total do serviço" in message.body

    sent = DunningNotice.objects.get(contract=contract)
    assert sent.sent_at is not None and sent.send_error == ""
    assert notes(contract) == [f"aviso de débito enviado por e-mail para {contract.customer.email}"]

    again = jobs.run()
    assert again["written"]["debt"] == {"notices": 0}
    assert again["sending"]["sent"] == 0
    assert len(mail.outbox) == 1


def test_two_notice_stages_crossed_at_once_make_one_email(overdue):
    policy = DunningPolicy.objects.create(name="Dois avisos")
    policy_set_stages(policy=policy, stages=[{"days_after_due": 1, "action": "notice"},
                                             {"days_after_due": 5, "action": "notice"},
                                             {"days_after_due": 10, "action": "partial_suspension"}])
    contract = overdue(policy=policy, days_late=7)
    low, high = DunningNotice.objects.filter(contract=contract).order_by("level")
    assert jobs.run()["sending"]["sent"] == 1
    assert len(mail.outbox) == 1
    assert "(20/10/2026) haverá a suspensão parcial do serviço" in mail.outbox[0].body
    low.refresh_from_db()
    high.refresh_from_db()
    assert high.sent_at is not None
    assert low.sent_at is None and low.send_error == f"Reunido no aviso de débito {high.pk}"


def test_two_runs_at_once_send_once(overdue):
    contracts = [overdue() for _ in range(3)]
    barrier = threading.Barrier(2)
    errors = []

    def run():
        try:
            barrier.wait(timeout=10)
            jobs.run()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(m.to[0] for m in mail.outbox) == sorted(c.customer.email for c in contracts)
    assert CustomerNotice.objects.filter(contract__in=contracts).count() == 3


def test_a_contract_paid_before_sending_is_not_told_it_owes(overdue):
    contract = overdue()
    from agrega.notices.services import enqueue_debt_notices, send_pending_notices

    assert enqueue_debt_notices()["debt"] == 1
    invoice = Invoice.objects.get(contract=contract)
    payment_register(invoice_id=invoice.pk, amount=invoice.amount, paid_on=DUE + timedelta(days=21))
    contract.refresh_from_db()
    assert contract.dunning_level == 0  # released on payment
    assert send_pending_notices() == {"sent": 0, "failed": 0, "skipped": 1}
    assert mail.outbox == []
    notice = CustomerNotice.objects.get(contract=contract)
    assert notice.status == NoticeStatus.SKIPPED and "regularizado" in notice.last_error
    high = DunningNotice.objects.get(contract=contract)
    assert high.sent_at is None and "regularizado antes do envio" in high.send_error


def test_a_customer_without_email_is_marked_and_not_retried(overdue):
    contract = overdue(email="")
    assert jobs.run()["written"]["debt"]["skipped"] == 1
    assert mail.outbox == []
    notice = CustomerNotice.objects.get(contract=contract)
    assert notice.status == NoticeStatus.SKIPPED and notice.next_attempt_at is None
    high = DunningNotice.objects.get(contract=contract)
    assert high.sent_at is None and high.send_error == "Cliente sem e-mail válido"
    assert notes(contract) == ["aviso de débito não enviado: cliente sem e-mail válido"]
    assert jobs.run()["sending"] == {"sent": 0, "failed": 0}
    assert mail.outbox == []


def test_a_failing_mail_server_keeps_the_error_and_retries(overdue, settings, closed_port):
    contract = overdue()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port, 2
    assert jobs.run()["sending"]["failed"] == 1
    notice = CustomerNotice.objects.get(contract=contract)
    assert notice.status == NoticeStatus.FAILED and notice.attempts == 1 and notice.next_attempt_at is not None
    high = DunningNotice.objects.get(contract=contract)
    assert high.sent_at is None and "Servidor de e-mail indisponível" in high.send_error


def test_a_notice_waits_until_the_sweep_has_settled(overdue, settings):
    """The sweep writes notices from parallel transactions, so a lower id may commit after
    a higher one: the job reads by id only the notices older than the settle time, and its
    cursor does not pass a fresh one (nor, so, one still uncommitted below it)."""
    from agrega.notices.models import DebtNoticeCursor

    contract = overdue()
    settings.DEBT_NOTICE_SETTLE_SECONDS = 600
    before = DebtNoticeCursor.objects.get(pk=1).last_id if DebtNoticeCursor.objects.exists() else 0
    assert jobs.run()["written"]["debt"] == {"notices": 0}
    assert not mail.outbox
    assert (DebtNoticeCursor.objects.get(pk=1).last_id if DebtNoticeCursor.objects.exists() else 0) == before
    DunningNotice.objects.filter(contract=contract).update(created_at=timezone.now() - timedelta(minutes=11))
    assert jobs.run()["sending"]["sent"] == 1
    assert len(mail.outbox) == 1
