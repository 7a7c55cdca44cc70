"""Customer notices from the platform-confirmed state, end to end against the real EXA
sandbox: created after the worker confirms the creation, blocked and released after it
confirms those; sending through Django's e-mail backends (memory, file, a real local
SMTP server, and an SMTP port nobody listens on)."""

from pathlib import Path

import pytest
from django.core import mail
from django.utils import timezone

from agrega.contracts.services import (
    contract_activate,
    contract_add_product,
    contract_block_manual,
    contract_release,
)
from agrega.customers.services import customer_update
from agrega.notices import services
from agrega.notices.models import CustomerNotice
from agrega.sva.models import SvaUser

from agrega.integrations.selectors import platform_labels
from tests.fixtures import default_platform_only

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


@pytest.fixture
def active_user(platform_integration, make_product, make_contract, converge, sandbox_kit):
    """A contract with an EXA product, activated and converged (the user is on EXA)."""
    product = make_product(platform_integration, name="EXA Segurança Família", package=sandbox_kit.package_codes[1])
    contract = make_contract()
    contract_add_product(contract=contract, product_id=product.pk)
    contract_activate(contract=contract)
    assert services.enqueue_state_notices()["users"] == 0  # nothing confirmed on the platform yet
    converge()
    user = SvaUser.objects.get(contract=contract)
    assert user.confirmed_state == "active"
    return user


def events(user) -> list[tuple[str, str]]:
    return list(CustomerNotice.objects.filter(sva_user=user).order_by("id").values_list("event", "status"))


def test_created_blocked_released_follow_the_platform(active_user, platform_account, converge):
    user, contract = active_user, active_user.contract
    customer = contract.customer
    written = services.enqueue_state_notices()
    assert written["created"] == 1
    assert events(user) == [("created", "pending")]
    assert services.enqueue_state_notices()["users"] == 0  # told once

    assert services.send_pending_notices() == {"sent": 1, "failed": 0}
    assert events(user) == [("created", "sent")]
    message = mail.outbox[-1]
    assert message.to == [customer.email]
    assert message.subject == "Seu acesso ao EXA Segurança Família está pronto"
    assert f"Olá, {customer.name}!" in message.body
    assert f"contrato {contract.pk}" in message.body
    assert "Baixe o aplicativo EXA" in message.body and customer.email in message.body

    contract_block_manual(contract=contract)
    assert services.enqueue_state_notices()["users"] == 0  # the action alone tells nothing
    converge()
    assert platform_account.user(user.external_id)["status"] == "blocked"
    assert services.enqueue_state_notices()["blocked"] == 1
    contract_release(contract=contract)
    converge()
    assert services.enqueue_state_notices()["released"] == 1
    assert services.send_pending_notices() == {"sent": 2, "failed": 0}
    assert events(user) == [("created", "sent"), ("blocked", "sent"), ("released", "sent")]
    assert [m.subject for m in mail.outbox[-2:]] == [
        "Seu acesso ao EXA Segurança Família foi bloqueado", "Seu acesso ao EXA Segurança Família foi liberado"]
    user.refresh_from_db()
    assert user.notified_state == "active"


def test_a_block_released_before_the_next_run_tells_nothing(active_user, converge):
    services.enqueue_state_notices()
    contract_block_manual(contract=active_user.contract)
    converge()
    contract_release(contract=active_user.contract)
    converge()
    assert services.enqueue_state_notices()["users"] == 0
    assert events(active_user) == [("created", "pending")]


def test_the_integrations_own_texts_and_disabled_events(active_user, platform_integration, converge, sandbox_kit):
    services.notice_texts_save(integration=platform_integration,
                               how_to_use="Abra o app {{ plataforma }} e use {{ usuario }}.", events={
        "created": {"enabled": True, "subject": "Bem-vindo, {{ cliente|upper }}",
                    "body": "Pacote {{ pacote }}.\nComo usar: {{ como_usar }}"},
        "blocked": {"enabled": False, "subject": "x", "body": "y"},
    })
    assert services.enqueue_state_notices()["created"] == 1
    notice = CustomerNotice.objects.get(sva_user=active_user)
    customer = active_user.contract.customer
    assert notice.subject == f"Bem-vindo, {customer.name.upper()}"
    platform = platform_labels()[platform_integration.platform]
    assert notice.body == (f"Pacote {sandbox_kit.package_codes[1]}.\n"
                           f"Como usar: Abra o app {platform} e use {customer.email}.\n")
    contract_block_manual(contract=active_user.contract)
    converge()
    assert services.enqueue_state_notices() == {"users": 1, "disabled": 1}
    active_user.refresh_from_db()
    assert active_user.notified_state == "blocked" and events(active_user) == [("created", "pending")]


def test_a_customer_without_a_valid_email_is_skipped_with_the_reason(active_user, converge):
    services.enqueue_state_notices()
    customer_update(customer=active_user.contract.customer, email="")
    contract_block_manual(contract=active_user.contract)
    converge()
    assert services.enqueue_state_notices()["skipped"] == 1
    notice = CustomerNotice.objects.get(sva_user=active_user, event="blocked")
    assert notice.status == "skipped" and "Cliente sem e-mail válido" in notice.last_error
    sent = services.send_pending_notices()
    assert sent["sent"] == 1  # only the "created" one
    assert CustomerNotice.objects.get(pk=notice.pk).status == "skipped"


def test_a_real_smtp_server_receives_the_notice(active_user, settings, smtp_server):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", smtp_server.port, 5
    settings.DEFAULT_FROM_EMAIL = "Provedor <avisos@provedor.example.com.br>"
    services.enqueue_state_notices()
    assert services.send_pending_notices() == {"sent": 1, "failed": 0}
    received = smtp_server.messages[-1]
    assert received["to"] == [active_user.contract.customer.email]
    assert received["from"] == "avisos@provedor.example.com.br"
    assert received["message"]["Subject"].strip() == "Seu acesso ao EXA Segurança Família está pronto"
    assert "Como começar a usar" in received["message"].get_content()


def test_a_mail_server_that_is_down_fails_retries_and_never_raises(active_user, settings, closed_port,
                                                                  monkeypatch):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", closed_port, 2
    services.enqueue_state_notices()
    assert services.send_pending_notices() == {"sent": 0, "failed": 1}
    notice = CustomerNotice.objects.get(sva_user=active_user)
    assert notice.status == "failed" and notice.attempts == 1
    assert "Servidor de e-mail indisponível" in notice.last_error and "ConnectionRefusedError" in notice.last_error
    assert notice.next_attempt_at > notice.created_at  # retried later, not now
    assert services.send_pending_notices() == {"sent": 0, "failed": 0}

    # the retry time comes (instead of waiting a minute), and later retries come at once
    CustomerNotice.objects.filter(pk=notice.pk).update(next_attempt_at=timezone.now())
    monkeypatch.setattr(services, "BACKOFF_SECONDS", (0,))
    for attempt in range(2, services.MAX_ATTEMPTS + 1):
        assert services.send_pending_notices()["failed"] == 1
    notice.refresh_from_db()
    assert notice.attempts == services.MAX_ATTEMPTS and notice.next_attempt_at is None  # gave up
    assert services.send_pending_notices() == {"sent": 0, "failed": 0}

    # the contract keeps working meanwhile; a broken backend setting does not raise either
    contract_block_manual(contract=active_user.contract)
    settings.EMAIL_BACKEND = "agrega.no.such.Backend"
    services.notice_retry(notice=notice)
    assert services.send_pending_notices() == {"sent": 0, "failed": 0, "error": 1}

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    CustomerNotice.objects.filter(pk=notice.pk).update(claimed_until=None)  # the crashed run's claim expired
    assert services.send_pending_notices() == {"sent": 1, "failed": 0}
    notice.refresh_from_db()
    assert notice.status == "sent" and notice.last_error == ""


def test_the_file_backend_and_the_cli(active_user, settings, tmp_path):
    from tests.cli.helpers import ok

    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    out = ok("notices", "run").out
    assert "1 criado(s)" in out and "1 enviado(s)" in out
    files = list(Path(tmp_path).iterdir())
    assert len(files) == 1
    content = files[0].read_text()
    assert "Subject: =?utf-8?q?Seu_acesso_ao_EXA_Seguran" in content or "Seu acesso ao EXA" in content
    assert f"To: {active_user.contract.customer.email}" in content
    listed = ok("notices", "list", "--json").json
    assert [(n["event"], n["status"]) for n in listed] == [("created", "sent")]
    assert ok("notices", "run", "--json").json["written"]["users"] == 0


def test_a_notice_shows_the_document_formatted(platform_integration, make_product, make_customer, make_contract,
                                               converge):
    customer = make_customer(document="12abc34501de35", name="Provedor Alfa Ltda")
    contract = make_contract(customer)
    contract_add_product(contract=contract, product_id=make_product(platform_integration).pk)
    contract_activate(contract=contract)
    converge()
    services.notice_texts_save(integration=platform_integration, how_to_use="App {{ plataforma }}.", events={
        "created": {"enabled": True, "subject": "Acesso de {{ cliente }}", "body": "CNPJ {{ documento }}."}})
    assert services.enqueue_state_notices()["created"] == 1
    assert CustomerNotice.objects.get(sva_user__contract=contract).body == "CNPJ 12.ABC.345/01DE-35.\n"
