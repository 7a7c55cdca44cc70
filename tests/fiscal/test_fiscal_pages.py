"""The fiscal pages in a real browser (Playwright + Debian's Chromium, live server, the
SEFAZ sandbox): Configurações > Fiscal with the A1 upload (wrong password named, then
stored and its expiry shown), Fiscal — produtos (a named error, then saved), and the
título page's NFCom section — emitted, XML downloaded, DANFE-COM fetched in the
browser's session, cancelled — then Financeiro > NFCom lists it as cancelled."""

from __future__ import annotations

import pytest
from django.utils.timezone import localtime
from playwright.sync_api import expect

from agrega.core.roles import Role
from tests.fiscal.conftest import CNPJ, PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def emitter_without_certificate(db, tax_rules, sefaz_sandbox):
    from agrega.fiscal.services import emitter_save

    sefaz_sandbox.admin.reset()
    return emitter_save(cnpj=CNPJ, ie="1234567890", razao_social="PROVEDOR TESTE LTDA", street="Rua das Fibras",
                        number="100", district="Centro", city="Curitiba", ibge_code="4106902", uf="PR",
                        zip_code="80010-000", crt=3, environment=2, serie=1, sefaz_url=sefaz_sandbox.url)


def test_settings_page_uploads_the_a1_certificate(page, login, make_user, emitter_without_certificate, a1):
    from agrega.fiscal.models import Emitter

    make_user("adm", Role.ADMIN)
    login("adm")
    page.goto("/configuracoes/fiscal/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Fiscal (NFCom")
    expect(page.get_by_text("Nenhum certificado enviado.")).to_be_visible()
    upload = {"name": "empresa.pfx", "mimeType": "application/x-pkcs12", "buffer": a1[0]}

    page.set_input_files("#id_file", upload)
    page.fill("#id_password", "senha-errada")
    page.get_by_role("button", name="Enviar certificado").click()
    expect(page.get_by_text("senha incorreta")).to_be_visible()
    assert not Emitter.objects.get(pk=1).certificate_subject

    page.set_input_files("#id_file", upload)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Enviar certificado").click()
    expect(page.get_by_text("Certificado A1 guardado (cifrado).")).to_be_visible()
    saved = Emitter.objects.get(pk=1)
    assert saved.certificate_not_after is not None
    expect(page.locator("[data-certificate-expiry]")).to_have_text(f"{localtime(saved.certificate_not_after):%d/%m/%Y}")
    assert PASSWORD not in page.content()  # write-only


def test_product_fiscal_page_names_the_error_then_saves(page, login, make_user, emitter, make_product):
    from agrega.fiscal.models import ProductFiscal

    product = make_product(name="Internet Fibra", fiscal_class="SCM")
    make_user("adm", Role.ADMIN)
    login("adm")
    page.goto("/configuracoes/fiscal/produtos/")
    row = page.locator(f"tr[data-product='{product.pk}']")
    row.get_by_label("Classe de Internet Fibra").select_option("SCM")
    row.get_by_label("cClass de Internet Fibra").select_option("0100401")
    row.get_by_label("CFOP de Internet Fibra").fill("")
    row.get_by_role("button", name="Salvar").click()
    expect(page.locator("main")).to_contain_text("CFOP")  # SCM without CFOP: named, nothing saved
    assert not ProductFiscal.objects.filter(product=product).exists()

    row = page.locator(f"tr[data-product='{product.pk}']")
    row.get_by_label("cClass de Internet Fibra").select_option("0100401")
    row.get_by_label("CFOP de Internet Fibra").fill("5307")
    row.get_by_role("button", name="Salvar").click()
    page.wait_for_load_state()
    saved = ProductFiscal.objects.get(product=product)
    assert (saved.kind, saved.cclass, saved.cfop) == ("SCM", "0100401", "5307")
    expect(page.locator(f"tr[data-product='{product.pk}']").get_by_label("CFOP de Internet Fibra")).to_have_value("5307")


def test_titulo_page_emits_downloads_and_cancels_its_nfcom(page, login, make_user, emitter, billed):
    from agrega.fiscal.models import DocStatus, NFCom

    invoice = billed(1)[0]
    make_user("op", Role.OPERATOR)
    login("op")
    page.goto(f"/financeiro/titulos/{invoice.pk}/")
    section = page.locator("#nfcom-section")
    expect(section).to_contain_text("Este título ainda não tem NFCom")
    section.get_by_role("button", name="Emitir NFCom").click()
    section = page.locator("#nfcom-section")
    expect(section.locator("[data-nfcom-status]")).to_have_attribute("data-nfcom-status", "authorised")
    doc = NFCom.objects.get(invoice=invoice)
    expect(section.locator("[data-nfcom-key]")).to_have_text(doc.key)

    with page.expect_download() as download:
        section.get_by_role("link", name="XML").click()
    xml = open(download.value.path(), "rb").read()
    assert b"nfcomProc" in xml and doc.key.encode() in xml
    danfe_url = section.get_by_role("link", name="DANFE-COM (PDF)").get_attribute("href")
    danfe = page.context.request.get(danfe_url)  # the browser's session (cookies) asks for it
    assert danfe.ok and danfe.headers["content-type"] == "application/pdf" and danfe.body().startswith(b"%PDF")

    section.get_by_label("Justificativa do cancelamento").fill("Cobranca emitida em duplicidade")
    section.get_by_role("button", name="Cancelar NFCom").click()
    expect(page.locator("#nfcom-section [data-nfcom-status]")).to_have_attribute("data-nfcom-status", "cancelled")
    assert NFCom.objects.get(pk=doc.pk).status == DocStatus.CANCELLED

    page.goto("/financeiro/nfcom/")
    expect(page.get_by_role("table", name="NFCom")).to_contain_text("Cancelada")
    page.get_by_label("Situação").select_option("authorised")
    page.get_by_role("button", name="Filtrar").click()
    expect(page.get_by_role("table", name="NFCom")).not_to_contain_text("Cancelada")


@pytest.mark.parametrize("size", ["desk", "phone"])
def test_fiscal_pages_have_no_serious_axe_violation_and_fit(size, browser, live_server, make_user, emitter, billed):
    """The a11y check (tests/web/test_a11y.py's axe run and measure) on the fiscal pages
    with data in them: a certificate stored, products classified, one NFCom authorised
    and one cancelled, so the título's NFCom section shows its downloads and the
    cancellation form. 0 critical/serious violations; on the phone nothing scrolls sideways."""
    from django.urls import reverse

    from agrega.fiscal import services

    from tests.web.fixtures_browser import A11Y_RESULTS
    from tests.web.test_a11y import FAILING, SIZES, overflow, run_axe

    first, second = billed(2)
    for invoice in (first, second):
        services.nfcom_send(nfcom_id=services.nfcom_create(invoice_id=invoice.pk).pk)
    services.nfcom_cancel(nfcom_id=services.nfcom_create(invoice_id=second.pk).pk,
                          reason="Cobranca emitida em duplicidade")
    make_user("adm", Role.ADMIN)
    context = browser.new_context(base_url=live_server.url, locale="pt-BR", viewport=SIZES[size],
                                  reduced_motion="reduce")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/entrar/")
        page.fill("#id_username", "adm")
        page.fill("#id_password", "senha-de-teste-123")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        failures, too_wide = [], []
        for name, url in [("fiscal:settings", reverse("fiscal:settings")), ("fiscal:products", reverse("fiscal:products")),
                          ("fiscal:list", reverse("fiscal:list")), ("fiscal:reports", reverse("fiscal:reports")),
                          ("billing:invoice_detail (NFCom autorizada)", reverse("billing:invoice_detail", args=[first.pk])),
                          ("billing:invoice_detail (NFCom cancelada)", reverse("billing:invoice_detail", args=[second.pk]))]:
            page.goto(url)
            page.wait_for_load_state("networkidle")
            assert page.locator("main").count() == 1, name
            violations = run_axe(page)
            wide, culprits = overflow(page) if size == "phone" else (0, [])
            A11Y_RESULTS.append({"page": name, "size": size, "violations": violations, "overflow": wide})
            bad = [(v["impact"], v["id"], v["nodes"][:2]) for v in violations if v["impact"] in FAILING]
            if bad:
                failures.append((name, bad))
            if wide > 0:
                too_wide.append((name, wide, culprits))
        assert not failures, f"axe-core: violações críticas/sérias: {failures}"
        assert not too_wide, f"páginas que rolam para o lado a 390 px: {too_wide}"
    finally:
        context.close()
