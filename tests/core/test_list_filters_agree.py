"""The lists whose filters are declared once (customers, products, sales plans, campaigns, imports, notices, consents
and the report of SVA without consent, core/filtersets.py): the page, the API and the CLI answer
the same filter with the same rows, the ORM's; a bad value is a 422 with a stable code in
the API, a Portuguese message on the page (never a 500) and an error in the CLI."""

from __future__ import annotations

import re

import pytest

from agrega.consent.services import consent_record
from agrega.contracts.services import contract_activate, contract_add_product
from agrega.customers.models import Customer
from agrega.imports.models import ImportJob, ImportRow, ImportStatus, RowStatus
from agrega.notices.filtersets import NoticeFilterSet
from agrega.notices.models import CustomerNotice, NoticeEvent, NoticeStatus
from agrega.sva.models import SvaUser
from tests.cli.helpers import run
from tests.fixtures import default_platform_only
from tests.fixtures_api import field_codes

pytestmark = pytest.mark.django_db
sva_platform = default_platform_only()


@pytest.fixture
def page(client_as):
    return client_as("administrador", "filtros-admin", raise_request_exception=False)


def page_ids(page, url: str, params: dict, link: str) -> list[int]:
    """The ids a list page links to (``link``: the href with ``{}`` for the id)."""
    response = page.get(url, params)
    assert response.status_code == 200, response.content[:300]
    pattern = re.escape(link).replace(r"\{\}", r"(\d+)")
    return sorted({int(pk) for pk in re.findall(pattern, response.content.decode())})


def api_ids(api, path: str, params: dict) -> list[int]:
    response = api.get(path, params)
    assert response.status_code == 200, response.content[:300]
    return sorted(item["id"] for item in response.json()["items"])


def cli_ids(command: str, *args, key: str = "id") -> list[int]:
    result = run(command, *args, "--json")
    assert result.code == 0, result.err
    return sorted(row[key] for row in result.json)


# -- customers -----------------------------------------------------------------------------

@pytest.fixture
def customers(make_customer):
    return [make_customer(name="Maria Niterói", city="Niterói", state="RJ"),
            make_customer(name="Ana Campinas", city="Campinas", state="SP"),
            make_customer(name="Maria Santos", city="Santos", state="SP")]


@pytest.mark.parametrize("params, cli, expected", [
    ({"state": "rj"}, ["--state", "rj"], Customer.objects.filter(state="RJ")),
    ({"state": "SP", "q": "maria"}, ["--state", "SP", "--q", "maria"], Customer.objects.filter(city="Santos")),
    ({"city": "CAMPINAS"}, ["--city", "CAMPINAS"], Customer.objects.filter(city="Campinas")),
])
def test_customers_page_api_and_cli_agree(page, api, customers, params, cli, expected):
    want = sorted(expected.values_list("pk", flat=True))
    assert want
    assert page_ids(page, "/clientes/", params, 'href="/clientes/{}/"') == want
    assert api_ids(api, "/customers", params) == want
    assert cli_ids("customer", "list", *cli) == want


def test_customers_document_filter_agrees_and_refuses_with_its_reason(page, api, customers):
    document = customers[1].document
    typed = f"{document[:3]}.{document[3:6]}.{document[6:9]}-{document[9:]}"
    assert page_ids(page, "/clientes/", {"document": typed}, 'href="/clientes/{}/"') == [customers[1].pk]
    assert api_ids(api, "/customers", {"document": typed}) == [customers[1].pk]
    assert cli_ids("customer", "list", "--document", typed) == [customers[1].pk]
    # a CPF with a wrong check digit: the same reason everywhere
    wrong = typed[:-1] + str((int(typed[-1]) + 1) % 10)
    assert field_codes(api.get("/customers", {"document": wrong})) == {"document": ["cpf_invalid"]}
    shown = page.get("/clientes/", {"document": wrong})
    assert shown.status_code == 200 and "CPF inválido" in shown.content.decode()
    result = run("customer", "list", "--document", wrong)
    assert result.code == 2 and "erro [validation_failed]" in result.err and "CPF inválido" in result.err


def test_customers_unknown_state_is_refused(page, api, customers):
    response = api.get("/customers", {"state": "XX"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"
    shown = page.get("/clientes/", {"state": "XX"})
    assert shown.status_code == 200 and "Faça uma escolha válida" in shown.content.decode()


# -- products ------------------------------------------------------------------------------

def test_products_page_api_and_cli_agree(page, api, platform_integration, make_product):
    from agrega.catalog.models import Product
    from agrega.catalog.services import product_update

    sva = make_product(platform_integration, name="Pacote Família")
    make_product(name="Internet 300 Mega", fiscal_class="SCM")
    old = make_product(name="Internet 100 Mega", fiscal_class="SCM")
    product_update(product=old, active=False)
    for params, cli, expected in (
        ({"is_sva": "true"}, ["--is-sva"], Product.objects.filter(pk=sva.pk)),
        ({"active": "true", "q": "internet"}, ["--active", "--search", "internet"],
         Product.objects.filter(name="Internet 300 Mega")),
        ({"q": "MEGA"}, ["--search", "MEGA"], Product.objects.filter(name__contains="Mega")),
    ):
        want = sorted(expected.values_list("pk", flat=True))
        page_params = {k: {"true": "sim"}.get(v, v) for k, v in params.items()}  # the page's yes/no select
        assert page_ids(page, "/produtos/", page_params, 'href="/produtos/{}/"') == want, params
        assert api_ids(api, "/products", params) == want
        assert cli_ids("product", "list", *cli) == want
    response = api.get("/products", {"active": "talvez"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"
    shown = page.get("/produtos/", {"active": "talvez"})
    assert shown.status_code == 200 and "Faça uma escolha válida" in shown.content.decode()
    result = run("product", "list", "--integration", "abc")
    assert result.code == 2 and "erro [validation_failed]" in result.err


# -- sales plans ---------------------------------------------------------------------------

def test_plans_page_api_and_cli_agree(page, api, make_product):
    from agrega.plans.models import SalesPlan
    from agrega.plans.services import plan_create

    internet = make_product(name="Internet 300 Mega", fiscal_class="SCM")
    for name, active in (("Combo Família", True), ("Combo Empresa", True), ("Família antigo", False)):
        plan_create(name=name, description="", active=active, items=[{"product_id": internet.pk}])
    for params, cli, expected in (
        ({"q": "família"}, ["--search", "família"], SalesPlan.objects.filter(name__icontains="amília")),
        ({"q": "combo", "active": "true"}, ["--search", "combo", "--active"], SalesPlan.objects.filter(active=True)),
    ):
        want = sorted(expected.values_list("pk", flat=True))
        page_params = {k: {"true": "sim"}.get(v, v) for k, v in params.items()}
        assert page_ids(page, "/planos-de-venda/", page_params, 'href="/planos-de-venda/{}/"') == want, params
        assert api_ids(api, "/plans", params) == want
        assert cli_ids("plan", "list", *cli) == want
    shown = page.get("/planos-de-venda/", {"q": "x" * 300})
    assert shown.status_code == 200 and "200 caracteres" in shown.content.decode()
    assert api.get("/plans", {"active": "talvez"}).status_code == 422


# -- campaigns -------------------------------------------------------------------------------

@pytest.fixture
def campaigns(make_product, make_contract):
    from agrega.campaigns.models import Campaign, CampaignItem, CampaignStatus, ItemStatus

    product = make_product(name="Produto da campanha")
    made = [Campaign.objects.create(name=f"Campanha {status}", product=product, status=status)
            for status in (CampaignStatus.DONE, CampaignStatus.PAUSED, CampaignStatus.DONE)]
    for status, reason in ((ItemStatus.ADDED, ""), (ItemStatus.ADDED, ""), (ItemStatus.SKIPPED, "consent_missing")):
        CampaignItem.objects.create(campaign=made[0], contract=make_contract(), status=status, reason=reason)
    return made


def test_campaigns_page_api_and_cli_agree(page, api, campaigns):
    want = sorted(c.pk for c in campaigns if c.status == "done")
    assert page_ids(page, "/campanhas-sva/", {"status": "done"}, 'href="/campanhas-sva/{}/"') == want
    assert api_ids(api, "/campaigns", {"status": "done"}) == want
    assert cli_ids("campaign", "list", "--status", "done") == want
    response = api.get("/campaigns", {"status": "feita"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"
    shown = page.get("/campanhas-sva/", {"status": "feita"})
    assert shown.status_code == 200 and "Faça uma escolha válida" in shown.content.decode()


def test_campaign_report_page_api_and_cli_agree(page, api, campaigns):
    campaign = campaigns[0]
    skipped = sorted(campaign.items.filter(status="skipped").values_list("contract_id", flat=True))

    def page_contracts(params):
        body = page.get(f"/campanhas-sva/{campaign.pk}/", params).content.decode()
        return sorted({int(pk) for pk in re.findall(r'<tr data-contract="(\d+)"', body)})

    items = api.get(f"/campaigns/{campaign.pk}/items", {"status": "skipped"}).json()["items"]
    assert sorted(i["contract_id"] for i in items) == skipped
    assert page_contracts({"status": "skipped"}) == skipped
    report = run("campaign", "report", campaign.pk, "--status", "skipped", "--json").json
    assert sorted(i["contract_id"] for i in report["items"]) == skipped
    by_reason = run("campaign", "report", campaign.pk, "--reason", "consent_missing", "--json").json
    assert sorted(i["contract_id"] for i in by_reason["items"]) == skipped
    assert api.get(f"/campaigns/{campaign.pk}/items", {"status": "feito"}).status_code == 422
    shown = page.get(f"/campanhas-sva/{campaign.pk}/", {"status": "feito"})
    assert shown.status_code == 200 and "Situação do contrato na campanha: valor não aceito" in shown.content.decode()


# -- imports -------------------------------------------------------------------------------

WARNING = {"field": "email", "code": "email_missing", "message": "Sem e-mail.", "level": "warning"}
ERROR = {"field": "document", "code": "cpf_invalid", "message": "CPF inválido.", "level": "error"}


@pytest.fixture
def jobs():
    made = [ImportJob.objects.create(file_name=f"{status}.csv", sha256=status, status=status)
            for status in (ImportStatus.DONE, ImportStatus.FAILED, ImportStatus.DONE)]
    for index, (status, messages) in enumerate([(RowStatus.APPLIED, []), (RowStatus.APPLIED, [WARNING]),
                                                (RowStatus.REJECTED, [ERROR]), (RowStatus.SKIPPED_DUPLICATE, [])]):
        ImportRow.objects.create(job=made[0], index=index, line=index + 2, status=status, messages=messages)
    return made


def test_imports_page_api_and_cli_agree(page, api, jobs):
    want = sorted(j.pk for j in jobs if j.status == ImportStatus.DONE)
    assert page_ids(page, "/importacoes/", {"status": "done"}, 'href="/importacoes/{}/"') == want
    assert api_ids(api, "/imports", {"status": "done"}) == want
    assert cli_ids("import", "list", "--status", "done") == want


def test_import_rows_page_api_and_cli_agree(page, api, jobs):
    job = jobs[0]

    def page_lines(params):
        body = page.get(f"/importacoes/{job.pk}/", params).content.decode()
        return sorted(int(n) for n in re.findall(r'<tr data-line="(\d+)"', body))

    def api_lines(params):
        return sorted(r["line"] for r in api.get(f"/imports/{job.pk}/rows", params).json()["items"])

    def cli_lines(*args):
        return sorted(r["line"] for r in run("import", "show", job.pk, *args, "--json").json["rows"])

    assert page_lines({"status": "applied"}) == api_lines({"status": "applied"}) == cli_lines(
        "--status", "applied") == [2, 3]
    assert page_lines({}) == cli_lines() == [3, 4]  # without a status: the lines with messages
    assert api_lines({}) == [2, 3, 4, 5]  # the API lists every line


def test_imports_refuse_an_unknown_status(page, api, jobs):
    for path in ("/imports", f"/imports/{jobs[0].pk}/rows"):
        response = api.get(path, {"status": "feito"})
        assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"
    listing = page.get("/importacoes/", {"status": "feito"})
    assert listing.status_code == 200 and "Faça uma escolha válida" in listing.content.decode()
    detail = page.get(f"/importacoes/{jobs[0].pk}/", {"status": "feito"})
    assert detail.status_code == 200 and "Situação da linha: valor não aceito" in detail.content.decode()


# -- consents and the report of SVA without consent -------------------------------------------

@pytest.fixture
def charged(platform_integration, make_product, make_contract):
    """Three active contracts charging an SVA of the integration; the last one's has a consent."""
    rows = []
    product = make_product(platform_integration)
    for _ in range(3):
        contract = make_contract()
        contract_add_product(contract=contract, product_id=product.pk)
        contract_activate(contract=contract)
        rows.append((contract, product))
    contract, product = rows[2]
    consent_record(contract_id=contract.pk, product_id=product.pk, channel="site", evidence_ref="protocolo 1")
    return platform_integration, rows


def test_without_consent_report_page_api_and_cli_agree(page, api, charged):
    integration, rows = charged
    for params, cli, want in (
        ({"integration_id": integration.pk}, ["--integration", integration.pk], [rows[0][0].pk, rows[1][0].pk]),
        ({"contract_id": rows[1][0].pk}, ["--contract", rows[1][0].pk], [rows[1][0].pk]),
        ({"integration_id": 999999}, ["--integration", 999999], []),
    ):
        if "contract_id" not in params:  # the page offers the integration only
            assert page_ids(page, "/consentimentos/relatorio-sva-sem-consentimento/", params,
                            'data-contract="{}"') == want
        items = api.get("/reports/sva-without-consent", params).json()["items"]
        assert sorted(r["contract_id"] for r in items) == want
        assert cli_ids("consent", "report", *cli, key="contract_id") == want


def test_without_consent_report_refuses_a_bad_integration(page, api, charged):
    response = api.get("/reports/sva-without-consent", {"integration_id": "abc"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_input"
    shown = page.get("/consentimentos/relatorio-sva-sem-consentimento/", {"integration_id": "abc"})
    assert shown.status_code == 200 and "Informe um número inteiro" in shown.content.decode()
    result = run("consent", "report", "--integration", "abc")
    assert result.code == 2 and "erro [validation_failed]" in result.err


def test_consent_list_api_and_cli_agree(api, charged):
    _, rows = charged
    contract, _ = rows[2]
    want = api_ids(api, "/consents", {"contract_id": contract.pk})
    assert len(want) == 1
    assert cli_ids("consent", "list", "--contract", contract.pk) == want
    assert cli_ids("consent", "list", "--valid") == api_ids(api, "/consents", {"valid": "true"}) == want
    assert api_ids(api, "/consents", {"valid": "false"}) == []


# -- notices (CLI only) ----------------------------------------------------------------------

def test_notices_cli_filters_as_the_filterset(platform_integration, make_product, make_contract):
    product = make_product(platform_integration)
    contract = make_contract()
    contract_add_product(contract=contract, product_id=product.pk)
    contract_activate(contract=contract)
    user = SvaUser.objects.get(contract=contract)
    sent, failed = (CustomerNotice.objects.create(sva_user=user, event=NoticeEvent.values[0], to="a@example.com.br",
                                                  subject="Aviso", body="texto", status=status)
                    for status in (NoticeStatus.SENT, NoticeStatus.FAILED))
    assert cli_ids("notices", "list", "--status", "failed") == [failed.pk]
    assert cli_ids("notices", "list", "--integration", platform_integration.pk) == sorted([sent.pk, failed.pk])
    assert list(NoticeFilterSet({"status": "sent"}).queryset()) == [sent]
    result = run("notices", "list", "--sva-user", "abc")
    assert result.code == 2 and "erro [validation_failed]" in result.err
