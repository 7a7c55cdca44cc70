"""Início: SVA users by state, the platforms' health and the latest problems."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from agrega.integrations.selectors import platform_labels
from tests.fixtures import default_platform_only

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


def test_dashboard_counts_health_and_problem_links(
    make_user, login, page, screenshot, platform_integration, make_product, make_customer, make_contract, converge
):
    from agrega.contracts.services import contract_activate, contract_add_product, contract_block_manual

    product = make_product(platform_integration)

    def active_contract(customer):
        contract = make_contract(customer)
        contract_add_product(contract=contract, product_id=product.pk)
        contract_activate(contract=contract)
        return contract

    active_contract(make_customer(name="Cliente Ativo"))
    blocked = active_contract(make_customer(name="Cliente Bloqueado"))
    contract_block_manual(contract=blocked)
    converge()
    # Automatic integration + a customer without celular: the SVA user is held back.
    problem = active_contract(make_customer(name="Cliente Sem Celular", mobile_phone=""))
    converge()

    make_user("caio", "somente leitura")
    login("caio")
    page.goto("/")
    counts = page.locator("#sva-counts")
    expect(counts.locator("[data-count=active] .stat-value")).to_have_text("1")
    expect(counts.locator("[data-count=blocked] .stat-value")).to_have_text("1")
    expect(counts.locator("[data-count=pending] .stat-value")).to_have_text("0")
    expect(counts.locator("[data-count=error] .stat-value")).to_have_text("0")
    expect(counts.locator("[data-count=registration] .stat-value")).to_have_text("1")

    item = page.locator("#sva-problems [data-contract]", has_text="Cliente Sem Celular")
    expect(item).to_contain_text("Cadastro incompleto")
    expect(item).to_contain_text("Telefone celular no cadastro do cliente: Informe o telefone celular.")
    expect(item.get_by_role("link", name=re.compile("Cliente Sem Celular"))).to_have_attribute(
        "href", re.compile(rf"/contratos/{problem.pk}/#sva$"))
    expect(page.locator("#sva-problems [data-contract]")).to_have_count(1)
    expect(item.locator("[data-fix]")).to_have_count(0)  # somente leitura: nothing to fix from here
    expect(page.locator("#dashboard-live[data-live]")).to_have_count(0)  # nothing pending: no polling

    health = page.locator("#platform-health tr", has_text=platform_integration.name)
    expect(health).to_contain_text("fechado")
    expect(health).to_contain_text(platform_labels()[platform_integration.platform])
    screenshot("inicio-painel")


def test_dashboard_shows_an_open_circuit_and_the_last_error(make_user, login, page, platform_integration):
    from datetime import timedelta

    from django.utils import timezone

    from agrega.integrations.models import SvaIntegration

    until = timezone.now() + timedelta(minutes=5)
    SvaIntegration.objects.filter(pk=platform_integration.pk).update(
        circuit_open_until=until, consecutive_failures=7, last_error_code="platform_unavailable",
        last_error_message="A plataforma EXA está indisponível no momento.", last_error_at=timezone.now(),
    )
    make_user("ana", "administrador")
    login("ana")
    page.goto("/")
    row = page.locator("#platform-health tr", has_text=platform_integration.name)
    local = timezone.localtime(until)
    expect(row).to_contain_text(f"aberto até {local:%d/%m/%Y %H:%M}")
    expect(row).to_contain_text("7")
    expect(row).to_contain_text("A plataforma EXA está indisponível no momento.")
    expect(page.get_by_text("Nenhum problema com usuários SVA.")).to_be_visible()
