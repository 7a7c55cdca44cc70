"""Sistema > Campanhas SVA in a real browser: a campaign with filters and its preview,
started from the page (progress bar), paused, resumed, its report with the reason of
every contract (no consent: skipped, no SVA user), and roles."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from agrega.campaigns.models import Campaign, CampaignItem
from agrega.consent.services import consent_record
from agrega.contracts.services import contract_transition
from agrega.sva.models import SvaUser
from tests.fixtures import default_packages, default_platform_only
from playwright.sync_api import expect

sva_platform = default_platform_only()
PACKAGES = default_packages()


# the dry runs, imports and campaigns the pages start are run by the task worker
pytestmark = pytest.mark.usefixtures("task_runner")


def wait_for(campaign_id: int, condition, seconds: float = 30) -> Campaign:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        campaign = Campaign.objects.get(pk=campaign_id)
        if condition(campaign):
            return campaign
        time.sleep(0.1)
    raise AssertionError(f"campaign {campaign_id}: condition not met ({campaign.status}, {campaign.processed})")


def active(make_contract, make_customer, city):
    contract = make_contract(make_customer(city=city))
    contract_transition(contract=contract, action="activate")
    return contract


def test_campaign_with_consent_preview_start_and_report(admin_page, make_platform_integration, make_product,
                                                        make_contract, make_customer, screenshot):
    page = admin_page
    integration = make_platform_integration(auto_create_users=True, requires_consent=True)
    sva = make_product(integration, name="EXA Segurança Família", package=PACKAGES[1])
    chosen = [active(make_contract, make_customer, "Piracicaba") for _ in range(3)]
    active(make_contract, make_customer, "Limeira")
    for contract in chosen[:2]:
        consent_record(contract_id=contract.pk, product_id=sva.pk, channel="whatsapp", evidence_ref="msg 123")

    page.get_by_role("button", name="Sistema").click()
    page.get_by_role("link", name="Campanhas SVA").click()
    page.get_by_role("link", name="Novo").click()
    page.fill("#id_name", "Família em Piracicaba")
    page.select_option("#id_product", str(sva.pk))
    page.fill("#id_city", "Piracicaba")
    page.select_option("#id_status", "A")
    page.fill("#id_rate_per_second", "20")
    page.get_by_role("button", name="Prever").click()
    preview = page.get_by_label("Prévia da campanha")
    expect(preview.get_by_text("contratos escolhidos")).to_be_visible()
    assert preview.locator("[data-count=total]").inner_text().startswith("3")
    assert preview.locator("[data-count=eligible]").inner_text().startswith("2")
    assert preview.locator("[data-count=no_consent]").inner_text().startswith("1")
    screenshot("campanha-previa")
    page.get_by_role("button", name="Salvar rascunho").click()
    page.wait_for_url(re.compile(r"/campanhas-sva/\d+/$"))
    campaign = Campaign.objects.get()
    assert campaign.filters == {"city": "Piracicaba", "status": "A"} and str(campaign.rate_per_second) == "20.00"
    page.get_by_role("button", name="Iniciar").click()
    wait_for(campaign.pk, lambda c: c.status == "done")
    page.get_by_text("Concluída").first.wait_for(timeout=15_000)
    report = page.get_by_role("table", name="Contratos da campanha")
    for contract in chosen[:2]:
        expect(report.locator(f"tr[data-contract='{contract.pk}']").get_by_text("Incluído", exact=True)).to_be_visible()
    skipped = report.locator(f"tr[data-contract='{chosen[2].pk}']")
    expect(skipped.get_by_text("Sem consentimento")).to_be_visible()
    assert "no_consent" not in page.content()  # the message on the page, the code in the CSV below
    expect(page.get_by_text("Ignorado · sem consentimento: 1")).to_be_visible()
    screenshot("campanha-relatorio")
    assert SvaUser.objects.filter(contract__in=chosen[:2]).count() == 2
    assert not SvaUser.objects.filter(contract=chosen[2]).exists()
    csv_text = page.request.get(f"/campanhas-sva/{campaign.pk}/relatorio.csv").text()
    assert csv_text.count("\n") == 4 and "no_consent" in csv_text


def test_pause_resume_and_cancel_from_the_page(admin_page, platform_integration, make_product, make_contract,
                                               make_customer, screenshot):
    page = admin_page
    sva = make_product(platform_integration, name="EXA Backup", package=PACKAGES[2])
    contracts = [active(make_contract, make_customer, "Itu") for _ in range(4)]
    from agrega.campaigns.services import campaign_create

    campaign = campaign_create(name="Devagar", product_id=sva.pk, filters={"city": "Itu"}, rate_per_second="0.5")
    page.goto(f"/campanhas-sva/{campaign.pk}/")
    page.get_by_role("button", name="Iniciar").click()
    page.get_by_role("button", name="Pausar").click()
    paused = wait_for(campaign.pk, lambda c: c.status == "paused" and not c.runner)
    assert paused.processed < 4
    page.get_by_text("Pausada").first.wait_for()
    screenshot("campanha-pausada")
    page.get_by_role("button", name="Retomar").click()
    wait_for(campaign.pk, lambda c: c.processed > paused.processed)
    page.get_by_role("button", name="Cancelar campanha").click()
    done = wait_for(campaign.pk, lambda c: c.status == "cancelled" and not c.runner)
    assert done.added + done.skipped == 4 and done.skipped >= 1
    page.get_by_text("Cancelada").first.wait_for()
    assert set(CampaignItem.objects.filter(campaign=campaign, status="skipped").values_list("reason", flat=True)) == {
        "campaign_cancelled"}
    assert SvaUser.objects.filter(contract__in=contracts).count() == done.added


def test_read_only_sees_campaigns_but_cannot_act(make_user, login, page, platform_integration, make_product):
    sva = make_product(platform_integration)
    from agrega.campaigns.services import campaign_create

    campaign = campaign_create(name="Só ver", product_id=sva.pk)
    make_user("leitor", "somente leitura")
    login("leitor")
    page.goto(f"/campanhas-sva/{campaign.pk}/")
    expect(page.get_by_role("heading", name=re.compile("Só ver"))).to_be_visible()
    assert page.get_by_role("button", name="Iniciar").count() == 0
    client = Client()
    client.login(username="leitor", password="senha-de-teste-123")
    assert client.post(f"/campanhas-sva/{campaign.pk}/iniciar/").status_code == 403
    assert client.get("/campanhas-sva/nova/").status_code == 403
    assert Campaign.objects.get().status == "draft"
