"""Configurações > Integrações SVA > (integração) > Reconciliação, in a real browser
against the real EXA sandbox: run it, read the report, follow it to the fixed users."""

from __future__ import annotations

import re

from django.test import Client
from playwright.sync_api import expect

from agrega.contracts.services import contract_add_product, contract_transition
from agrega.integrations.services import connector_for
from agrega.sva.models import ReconciliationRun, SvaUser
from tests.fixtures import default_platform_only
from tests.sva.reconcile.conftest import spec

sva_platform = default_platform_only()

LIST = "/configuracoes/integracoes-sva/"


def _synced(integration, make_product, make_contract, converge, n: int) -> list[SvaUser]:
    product = make_product(integration)
    for _ in range(n):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=product.pk)
        contract_transition(contract=contract, action="activate")
    converge()
    return list(SvaUser.objects.filter(integration=integration).order_by("id"))


def test_admin_runs_a_reconciliation_and_reads_the_report(make_user, login, page, screenshot, platform_integration,
                                                          make_product, make_contract, converge, platform_account,
                                                          task_runner,):
    users = _synced(platform_integration, make_product, make_contract, converge, 3)
    platform = connector_for(platform_integration)
    try:
        platform.block_user(users[0].external_id)  # changed in EXA's own panel
        platform.delete_user(users[1].external_id)
        stranger = platform.create_user(spec())
    finally:
        platform.close()

    make_user("ana", "administrador")
    login("ana")
    page.goto(LIST)
    page.locator(f"tr[data-integration='{platform_integration.pk}']").get_by_role("link", name="Reconciliação").click()
    expect(page.get_by_role("heading", name=f"Reconciliação — {platform_integration.name}")).to_be_visible()
    expect(page.locator("#runs-table")).to_contain_text("Nenhuma reconciliação feita ainda.")
    expect(page.get_by_label("Remover da plataforma os usuários desconhecidos ou excluídos no Agrega")) \
        .not_to_be_checked()
    screenshot("reconciliacao-lista-vazia")

    page.get_by_role("button", name="Reconciliar agora").click()
    # enqueued: the task's page follows it (htmx) and, when it ends, links to the report
    page.wait_for_url(re.compile(r"/tarefas/[0-9a-f-]+/$"))
    expect(page.locator(".alert-info")).to_contain_text("Reconciliação na fila")
    expect(page.locator("[data-task-status]")).to_have_text("concluída", timeout=30_000)
    run = ReconciliationRun.objects.get()
    page.get_by_role("link", name=f"Reconciliação {run.pk}").click()
    page.wait_for_url(re.compile(r"/reconciliacao/\d+/$"))
    expect(page.get_by_role("heading", name=f"Reconciliação {run.pk} — {platform_integration.name}")).to_be_visible()
    expect(page.locator("#run-summary")).to_contain_text("Concluída")
    expect(page.locator("#run-summary")).to_contain_text("ana")
    counts = page.locator("#run-counts")
    expect(counts.locator("[data-count=remote_users] td").last).to_have_text("3")
    expect(counts.locator("[data-count=differences] td").last).to_have_text("3")
    expect(counts.locator("[data-count=marked_for_sync] td").last).to_have_text("2")
    expect(counts.locator("[data-count=reported] td").last).to_have_text("1")
    rows = page.locator("#items-table tbody tr")
    expect(rows).to_have_count(3)
    blocked = page.locator("#items-table tr[data-kind=state_differs]")
    expect(blocked).to_contain_text("Situação diferente")
    expect(blocked).to_contain_text("Marcado para sincronizar")
    expect(blocked).to_contain_text("situação: Agrega ativo, plataforma bloqueado")
    expect(page.locator("#items-table tr[data-kind=missing_on_platform]")).to_contain_text("Ausente na plataforma")
    unknown = page.locator("#items-table tr[data-kind=unknown_on_platform]")
    expect(unknown).to_contain_text(stranger.external_id)
    expect(unknown).to_contain_text("Apenas relatado")
    screenshot("reconciliacao-relatorio")

    # Filter by kind.
    page.select_option("#id_kind", "unknown_on_platform")
    page.get_by_role("button", name="Filtrar").click()
    page.wait_for_url(re.compile(r"kind=unknown_on_platform"))
    expect(page.locator("#items-table tbody tr")).to_have_count(1)

    # The worker repairs what was marked; the user's page shows it.
    converge()
    assert platform_account.user(users[0].external_id)["status"] == "active"
    assert platform_account.user(users[1].external_id)["status"] == "active"
    page.select_option("#id_kind", "state_differs")
    page.get_by_role("button", name="Filtrar").click()
    page.wait_for_url(re.compile(r"kind=state_differs"))
    page.locator("#items-table").get_by_role("link", name=str(users[0].pk)).click()
    expect(page.get_by_role("heading", name=re.compile(f"Usuário SVA {users[0].pk}"))).to_be_visible()

    # Removal asked for once, from the page.
    page.goto(f"{LIST}{platform_integration.pk}/reconciliacao/")
    page.get_by_label("Remover da plataforma os usuários desconhecidos ou excluídos no Agrega").check()
    page.get_by_role("button", name="Reconciliar agora").click()
    page.wait_for_url(re.compile(r"/tarefas/[0-9a-f-]+/$"))
    expect(page.locator("[data-task-status]")).to_have_text("concluída", timeout=30_000)
    page.get_by_role("link", name=re.compile(r"^Reconciliação \d+$")).click()
    page.wait_for_url(re.compile(r"/reconciliacao/\d+/$"))
    expect(page.locator("#items-table tr[data-kind=unknown_on_platform]")).to_contain_text("Removido da plataforma")
    assert platform_account.user(stranger.external_id) is None

    page.goto(f"{LIST}{platform_integration.pk}/reconciliacao/")
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    newest = page.locator("#runs-table tbody tr").first
    expect(newest).to_contain_text("Concluída")
    expect(newest).to_contain_text("web:ana")
    screenshot("reconciliacao-lista")


def test_policy_on_the_integration_form_and_the_link_there(make_user, login, page, platform_integration):
    make_user("ana", "administrador")
    login("ana")
    page.goto(f"{LIST}{platform_integration.pk}/editar/")
    box = page.get_by_label("Reconciliação remove usuários desconhecidos")
    expect(box).not_to_be_checked()
    box.check()
    page.get_by_role("button", name="Salvar").click()
    page.wait_for_url(re.compile(LIST + "$"))
    platform_integration.refresh_from_db()
    assert platform_integration.reconcile_remove_unknown is True
    page.goto(f"{LIST}{platform_integration.pk}/editar/")
    expect(page.get_by_label("Reconciliação remove usuários desconhecidos")).to_be_checked()
    page.locator("#reconcile-link").click()
    expect(page.get_by_text("e removidos da plataforma (política da integração)")).to_be_visible()
    expect(page.get_by_label("Remover da plataforma os usuários desconhecidos ou excluídos no Agrega")).to_be_checked()


def test_read_only_and_operator_see_but_cannot_run(make_user, login, page, screenshot, platform_integration,
                                                   make_product, make_contract, converge, run_tasks):
    _synced(platform_integration, make_product, make_contract, converge, 1)
    admin = make_user("ana", "administrador")
    client = Client()
    client.force_login(admin)
    response = client.post(f"{LIST}{platform_integration.pk}/reconciliacao/")
    assert response.status_code == 302
    assert run_tasks() == 1
    run = ReconciliationRun.objects.get()

    make_user("leo", "somente leitura")
    login("leo")
    page.goto(f"{LIST}{platform_integration.pk}/reconciliacao/")
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    expect(page.get_by_role("button", name="Reconciliar agora")).to_have_count(0)
    page.get_by_role("link", name=str(run.pk), exact=True).click()
    expect(page.locator("#run-summary")).to_contain_text("Concluída")
    screenshot("reconciliacao-somente-leitura")

    for username, role in (("leo", "somente leitura"), ("olga", "operador")):
        user = make_user(username, role) if username == "olga" else admin.__class__.objects.get(username="leo")
        client = Client()
        client.force_login(user)
        assert client.post(f"{LIST}{platform_integration.pk}/reconciliacao/").status_code == 403
        assert client.get(f"{LIST}{platform_integration.pk}/reconciliacao/").status_code == 200
    assert ReconciliationRun.objects.count() == 1
    assert Client().get(f"{LIST}{platform_integration.pk}/reconciliacao/").status_code == 302  # to the login page
    assert client.get(f"{LIST}{platform_integration.pk}/reconciliacao/999999/").status_code == 404


def test_refusal_is_shown(make_user, login, page, platform_integration):
    from agrega.sva.reconcile.services import _start

    _start(platform_integration, runner="outra-maquina:7", actor=None, remove_unknown=False, page_size=500)
    make_user("ana", "administrador")
    login("ana")
    page.goto(f"{LIST}{platform_integration.pk}/reconciliacao/")
    expect(page.locator("#runs-table [data-status=running]")).to_have_count(1)
    page.get_by_role("button", name="Reconciliar agora").click()
    expect(page.locator(".alert-danger")).to_contain_text("Reconciliação já em execução")
    expect(page.locator(".alert-danger")).to_contain_text("outra-maquina:7")
