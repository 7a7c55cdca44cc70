"""Configurações > Régua de cobrança in a real browser: the réguas and their stages in
Portuguese, a new one from the simple preset, stages edited (rows added and removed, a
refusal shown on its row), trust-release limits, the default moved; operators apply the
régua now; read-only users only look."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

LIST = "/configuracoes/regua-de-cobranca/"


def _post(page, url: str, form: dict | None = None):
    page.goto("/")
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    return page.request.post(url, form=form or {}, headers={"X-CSRFToken": token}, max_redirects=0)


def _stages(policy_id):
    from agrega.dunning.models import DunningStage

    return list(DunningStage.objects.filter(policy_id=policy_id).order_by("level")
                .values_list("days_after_due", "action"))


def test_admin_creates_edits_and_makes_default(make_user, login, page, screenshot):
    from agrega.dunning.models import DunningPolicy
    from agrega.dunning.services import default_policy

    anatel = default_policy()
    make_user("ana", "administrador")
    login("ana")
    page.get_by_role("button", name=re.compile("Configurações")).click()
    page.get_by_role("link", name="Régua de cobrança").click()
    expect(page).to_have_url(re.compile(LIST + "$"))
    expect(page.locator("#anatel-explained")).to_contain_text("Resolução Anatel nº 632/2014")
    expect(page.locator("#anatel-explained")).to_contain_text("1, 16, 46 e 76 dias após o vencimento")
    card = page.locator(f"[data-policy='{anatel.pk}']")
    expect(card).to_contain_text("padrão")
    expect(card.locator("tr[data-stage='2']")).to_contain_text("16 dias após o vencimento")
    expect(card.locator("tr[data-stage='2']")).to_contain_text("Suspensão parcial (FA)")
    expect(card.locator("tr[data-stage='4']")).to_contain_text("Rescisão (status N)")
    screenshot("regua-lista")

    # new régua from the simple preset
    form = page.locator("#preset-form")
    form.get_by_label("Modelo").select_option("simples")
    form.get_by_label("Nome").fill("Bloqueio em 20 dias")
    form.get_by_label("Bloquear após (dias)").fill("20")
    form.get_by_role("button", name="Criar régua").click()
    expect(page.get_by_text("Régua “Bloqueio em 20 dias” criada.")).to_be_visible()
    policy = DunningPolicy.objects.get(name="Bloqueio em 20 dias")
    assert _stages(policy.pk) == [(20, "block_automatic")] and not policy.is_default

    # edit: add two rows, days not increasing first (refused on its row), then fixed
    page.locator(f"[data-policy='{policy.pk}']").get_by_role("link", name="Editar").click()
    expect(page.get_by_role("heading", name=re.compile("Bloqueio em 20 dias"))).to_be_visible()
    page.get_by_role("button", name="Adicionar etapa").click()
    page.get_by_role("button", name="Adicionar etapa").click()
    expect(page.locator("#stages-table tbody tr")).to_have_count(3)
    page.fill("#id_form-1-days_after_due", "10")
    page.select_option("#id_form-1-action", "partial_suspension")
    page.fill("#id_form-2-days_after_due", "5")
    page.select_option("#id_form-2-action", "rescind")
    page.fill("#id_trust_release_days", "5")
    page.fill("#id_trust_release_max_uses", "2")
    page.get_by_role("button", name="Salvar").click()
    error = page.locator("tr[data-row='1'] [data-field-error=days_after_due]")
    expect(error).to_contain_text("os dias devem crescer")
    screenshot("regua-editar-erro")
    assert _stages(policy.pk) == [(20, "block_automatic")]
    policy.refresh_from_db()
    assert policy.trust_release_days == 3  # nothing saved

    # fix: first row becomes the notice on day 2; remove the rescission row
    page.fill("#id_form-0-days_after_due", "2")
    page.select_option("#id_form-0-action", "notice")
    page.fill("#id_form-1-days_after_due", "20")
    page.select_option("#id_form-1-action", "block_automatic")
    page.locator("tr[data-row='2']").get_by_role("checkbox").check()
    screenshot("regua-editar")
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Régua “Bloqueio em 20 dias” salva.")).to_be_visible()
    assert _stages(policy.pk) == [(2, "notice"), (20, "block_automatic")]
    card = page.locator(f"[data-policy='{policy.pk}']")
    expect(card.locator("tr[data-stage='1']")).to_contain_text("2 dias após o vencimento")
    expect(card.locator("tr[data-stage='1']")).to_contain_text("Aviso de débito")
    expect(card).to_contain_text("até 5 dias, 2 usos a cada 30 dias")

    card.get_by_role("button", name="Tornar padrão").click()
    expect(page.get_by_text("“Bloqueio em 20 dias” é agora a régua padrão.")).to_be_visible()
    expect(page.locator(f"[data-policy='{policy.pk}'] .badge", has_text="padrão")).to_be_visible()
    expect(page.locator(f"[data-policy='{anatel.pk}']").get_by_role("button", name="Tornar padrão")).to_be_visible()
    assert DunningPolicy.objects.get(is_default=True).pk == policy.pk
    screenshot("regua-nova-padrao")


def test_operator_applies_the_regua_but_does_not_configure(make_user, login, page, screenshot, task_runner):
    from agrega.core.models import ChangeRecord
    from agrega.dunning.services import default_policy

    anatel = default_policy()
    make_user("bia", "operador")
    login("bia")
    page.goto(LIST)
    expect(page.locator(f"[data-policy='{anatel.pk}']")).to_contain_text("Aviso de débito")
    expect(page.get_by_role("link", name="Editar")).to_have_count(0)
    expect(page.get_by_role("button", name="Tornar padrão")).to_have_count(0)
    expect(page.locator("#preset-form")).to_have_count(0)
    page.get_by_role("button", name="Aplicar régua agora").click()
    # enqueued: the task's page follows it, then links back to the régua with the counts
    page.wait_for_url(re.compile(r"/tarefas/[0-9a-f-]+/$"))
    expect(page.locator(".alert-info")).to_contain_text("Régua na fila")
    expect(page.locator("[data-task-status]")).to_have_text("concluída", timeout=30_000)
    page.get_by_role("link", name=re.compile(r"Régua de cobrança aplicada em \d{4}-\d\d-\d\d")).click()
    expect(page.locator("#last-sweep")).to_contain_text(" por bia (data de referência ")
    expect(page.locator("#last-sweep")).to_contain_text(": 0 liberado(s), 0 acesso(s) alterado(s), 0 aviso(s)")
    screenshot("regua-operador")
    assert ChangeRecord.objects.get(object_type="dunning.sweep").actor_label == "bia"
    assert page.goto(f"{LIST}{anatel.pk}/editar/").status == 403
    assert _post(page, f"{LIST}{anatel.pk}/padrao/").status == 403
    assert _post(page, f"{LIST}nova/", {"preset": "simples", "name": "X"}).status == 403


def test_read_only_only_looks(make_user, login, page):
    from agrega.core.models import ChangeRecord
    from agrega.dunning.services import default_policy

    anatel = default_policy()
    make_user("caio", "somente leitura")
    login("caio")
    page.goto(LIST)
    expect(page.locator(f"[data-policy='{anatel.pk}']")).to_contain_text("Rescisão (status N)")
    expect(page.get_by_role("button", name="Aplicar régua agora")).to_have_count(0)
    assert _post(page, f"{LIST}aplicar/").status == 403
    assert not ChangeRecord.objects.filter(object_type="dunning.sweep").exists()


@pytest.mark.parametrize("url", [LIST, "/configuracoes/tributos/", "/financeiro/receita/"])
def test_pages_need_login(page, url, transactional_db):
    page.goto(url)
    assert "/entrar/" in page.url
