"""The PIX reconciliation an operator asks for (API, page) is a task: the request answers
202 with the task's link and never calls the PSP itself; the task pulls GET /pix and
applies what a lost webhook missed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from agrega.billing.models import Payment
from agrega.core.roles import Role
from agrega.pix import services
from agrega.pix.models import PixCharge
from tests.fixtures import bearer_headers

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _tasks_in_the_database(settings, _tasks_run_when_enqueued):
    """Here the tasks go through the database queue, as in production, so the request's
    202 and the task's row are what is tested (the other PIX tests run them at once)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


@pytest.fixture
def hooked(pix_account, live_server, fast_pix):
    return services.account_register_webhook(account_id=pix_account.pk, public_url=live_server.url)


def test_the_api_enqueues_the_reconciliation_and_the_task_applies_the_lost_pix(hooked, billed, psp, role_user,
                                                                               client, run_tasks):
    psp.faults(webhook_lost_rate=1.0)
    _, invoice = billed()
    run_tasks()  # the título's cobv at the PSP
    psp.pay(PixCharge.objects.get(invoice=invoice).txid)
    psp.wait_webhooks()
    assert not Payment.objects.filter(invoice=invoice, provider="pix").exists()
    admin = role_user("adm", Role.ADMIN)

    answer = client.post(f"/api/pix-accounts/{hooked.pk}/reconcile", **bearer_headers(admin))
    assert answer.status_code == 202, answer.content
    task = answer.json()
    assert answer["Location"] == task["url"] == f"/api/tasks/{task['id']}"
    assert task["link_url"] == reverse("pix:list") and task["status"] == "READY"
    assert not Payment.objects.filter(invoice=invoice, provider="pix").exists()  # the request did not pull
    assert run_tasks() == 1
    body = client.get(task["url"], **bearer_headers(admin)).json()
    assert body["status"] == "SUCCESSFUL" and body["result"]["applied"] == 1, body
    assert Payment.objects.filter(invoice=invoice, provider="pix").count() == 1

    assert client.post("/api/pix-accounts/999999/reconcile", **bearer_headers(admin)).status_code == 404


def test_the_page_enqueues_the_reconciliation_and_shows_its_task(hooked, role_user, client, run_tasks):
    client.force_login(role_user("adm", Role.ADMIN))
    answer = client.post(reverse("pix:action", args=[hooked.pk, "reconciliar"]))
    assert answer.status_code == 302 and answer["Location"].startswith("/tarefas/")
    page = client.get(answer["Location"]).content.decode()
    assert "Reconciliação PIX na fila" in page and "Resultado" not in page
    assert run_tasks() == 1
    page = client.get(answer["Location"]).content.decode()
    assert "Resultado" in page and "seen: 0 · applied: 0" in page
