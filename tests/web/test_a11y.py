"""Accessibility and phone layout, measured: axe-core (from npm, node_modules/axe-core) on
every page of the navigation menu, the detail and edit pages behind them and every tab of
a contract, at a desk (1366×768) and on a phone (390×844); on the phone no page may scroll
sideways. Critical or serious violations fail; the per-page figures are printed at the end
of the run (tests/web/fixtures_browser.py) and screenshots go to test-output/screenshots/."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from playwright.sync_api import expect

from agrega.web.navigation import MENU
from tests.fixtures import default_platform_only
from tests.web.fixtures_browser import A11Y_RESULTS, SCREENSHOTS

sva_platform = default_platform_only()

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SIZES = {"desk": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844}}
FAILING = ("critical", "serious")
# pages screenshotted at both sizes (the main ones)
MAIN_PAGES = {"web:dashboard", "customers:list", "contracts:list", "customers:detail", "billing:invoice_list",
              "sva:detail", "dunning:edit"}


def menu_url_names(entries=MENU) -> list[str]:
    """Every page the menu links to, so a page added to the menu is measured too."""
    names = []
    for entry in entries:
        if "url_name" in entry:
            names.append(entry["url_name"])
        names += menu_url_names(entry.get("children", []))
    return names


def detail_pages() -> list[tuple[str, str]]:
    """The pages behind the menu's lists, on the demo data (seed_demo)."""
    from agrega.billing.models import Invoice
    from agrega.catalog.models import Product
    from agrega.customers.models import Customer
    from agrega.dunning.models import DunningPolicy
    from agrega.integrations.models import SvaIntegration
    from agrega.sva.models import SvaUser

    customer = Customer.objects.order_by("pk").first()
    product = Product.objects.filter(sva_integration__isnull=False).order_by("pk").first()
    pages = [
        ("customers:create", reverse("customers:create")),
        ("customers:detail", reverse("customers:detail", args=[customer.pk])),
        ("customers:edit", reverse("customers:edit", args=[customer.pk])),
        ("contracts:create", reverse("contracts:create")),
        ("catalog:create", reverse("catalog:create")),
        ("catalog:detail", reverse("catalog:detail", args=[product.pk])),
        ("catalog:edit", reverse("catalog:edit", args=[product.pk])),
        ("plans:create", reverse("plans:create")),
        ("integrations:create", reverse("integrations:create")),
        ("integrations:edit", reverse("integrations:edit", args=[SvaIntegration.objects.first().pk])),
        ("dunning:create", reverse("dunning:create")),
        ("dunning:edit", reverse("dunning:edit", args=[DunningPolicy.objects.order_by("pk").first().pk])),
        ("billing:invoice_detail", reverse("billing:invoice_detail", args=[Invoice.objects.first().pk])),
        ("sva:detail", reverse("sva:detail", args=[SvaUser.objects.order_by("pk").first().pk])),
        ("fiscal:products", reverse("fiscal:products")),  # fiscal:settings and fiscal:list are in the menu
        ("fiscal:reports", reverse("fiscal:reports")),
    ]
    return pages


def run_axe(page) -> list[dict]:
    """Load axe-core into the page and run it. ``page.add_script_tag`` would add an inline
    script, which the app's Content-Security-Policy (script-src 'self') refuses, so the
    source is evaluated through the DevTools protocol (``page.evaluate``), which the policy
    does not govern; the page's own CSP stays as served."""
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `npm ci` (axe-core is a devDependency in package.json)")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;void 0")  # a script, not a function
    page.wait_for_function("() => document.getAnimations().every(a => a.playState !== 'running')")
    return page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5), count: v.nodes.length}));
    }""")


def overflow(page) -> tuple[int, list[str]]:
    """How many pixels the page scrolls sideways (0 when it fits), and the outermost
    elements that stick out past the right edge (to say where)."""
    return page.evaluate("""() => {
        const wide = document.documentElement.scrollWidth - window.innerWidth;
        const culprits = [];
        if (wide > 0) {
            for (const el of document.body.querySelectorAll('*')) {
                const r = el.getBoundingClientRect();
                const clipped = el.parentElement && el.parentElement.closest('.table-responsive');
                if (!clipped && r.right > window.innerWidth + 1 && r.width > 0) {
                    culprits.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
                        + (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\\s+/).join('.') : ''));
                }
                if (culprits.length >= 8) break;
            }
        }
        return [wide, culprits];
    }""")


@pytest.fixture
def demo_data(transactional_db, sandbox_kit, converge):
    """The demo's customers, contracts, títulos and régua, with the SVA users converged."""
    call_command("seed_demo", sandbox_url=sandbox_kit.url, stdout=io.StringIO())
    from agrega.dunning.services import default_policy

    default_policy()
    converge(timeout=30, allow_errors=True)


@pytest.mark.parametrize("size", list(SIZES))
def test_every_page_has_no_serious_axe_violation_and_fits(size, browser, live_server, demo_data):
    # reduced motion: Bootstrap's fades off, so axe never samples a colour mid-transition
    context = browser.new_context(base_url=live_server.url, locale="pt-BR", viewport=SIZES[size],
                                  reduced_motion="reduce")
    context.set_default_timeout(15_000)
    page = context.new_page()
    csp = []
    page.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        page.goto("/entrar/")
        failures, too_wide = [], []

        def measure(name: str, shot: bool):
            text = page.locator("body").inner_text()
            assert "{#" not in text and "#}" not in text, f"{name}: a template comment reached the page"
            violations = run_axe(page)
            wide, culprits = overflow(page) if size == "phone" else (0, [])
            A11Y_RESULTS.append({"page": name, "size": size, "violations": violations, "overflow": wide})
            bad = [v for v in violations if v["impact"] in FAILING]
            if bad:
                failures.append((name, [(v["impact"], v["id"], v["nodes"][:2]) for v in bad]))
            if wide > 0:
                too_wide.append((name, wide, culprits))
            if shot:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                safe = re.sub(r"[^a-z0-9_-]+", "-", name.lower())
                page.screenshot(path=str(SCREENSHOTS / f"a11y-{safe}-{size}.png"), full_page=True)

        measure("web:login", shot=False)
        page.fill("#id_username", "admin")
        page.fill("#id_password", "agrega-demo")
        page.click("button[type=submit]")
        page.wait_for_load_state()

        pages = [(name, reverse(name)) for name in menu_url_names()] + detail_pages()
        for name, url in pages:
            page.goto(url)
            page.wait_for_load_state("networkidle")
            measure(name, shot=name in MAIN_PAGES)

        from agrega.contracts.models import Contract

        # one contract of each status (pre-contract, active, suspended, inactive …)
        contracts = {f"{c.status}/{c.access_status}": c for c in Contract.objects.order_by("-pk")}
        for status, contract in sorted(contracts.items()):
            page.goto(reverse("contracts:detail", args=[contract.pk]))
            page.wait_for_load_state("networkidle")
            tabs = page.get_by_role("tab")
            for i in range(tabs.count()):
                tab = tabs.nth(i)
                label = re.sub(r"\s+", " ", tab.inner_text()).strip().split(" ")[0]
                if size == "phone":
                    tab.scroll_into_view_if_needed()
                tab.click()
                page.wait_for_load_state("networkidle")
                measure(f"contracts:detail {status} #{label}", shot=status == "A/A")

        # a lupa, open with its rows
        page.goto(reverse("contracts:create"))
        page.get_by_role("button", name="Lupa: Cliente").click()
        page.get_by_role("dialog").get_by_role("row").nth(1).wait_for()
        measure("contracts:create (lupa)", shot=False)

        # a failed save: the error summary is shown (and measured)
        page.goto(reverse("customers:create"))
        page.locator("main form button[type=submit]").last.click()
        page.wait_for_load_state()
        measure("customers:create (erro)", shot=False)

        assert not failures, "axe-core: violações críticas/sérias:\n" + "\n".join(
            f"{name}: {items}" for name, items in failures)
        assert not too_wide, f"páginas que rolam para o lado a 390 px: {too_wide}"
        assert not csp, csp
    finally:
        context.close()


def test_axe_runs_under_the_pages_content_security_policy(phone):
    """The measurement is of the page as served: its CSP forbids inline scripts (so a
    script tag cannot carry axe in) and axe still runs, through the DevTools protocol."""
    page = phone
    response = page.goto("/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    with pytest.raises(Exception, match="Content Security Policy"):
        page.add_script_tag(path=str(AXE))
    assert page.evaluate("() => typeof window.axe") == "undefined"
    violations = run_axe(page)
    assert isinstance(violations, list)
    assert not [v for v in violations if v["impact"] in FAILING]


@pytest.fixture
def phone(browser, live_server, make_user):
    """A phone-sized page (390×844), logged in as an administrator."""
    make_user("celular", "administrador")
    context = browser.new_context(base_url=live_server.url, locale="pt-BR", viewport=SIZES["phone"])
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto("/entrar/")
    page.fill("#id_username", "celular")
    page.fill("#id_password", "senha-de-teste-123")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    yield page
    context.close()


def test_phone_menu_collapses_and_skip_link_jumps_to_the_content(phone):
    page = phone
    menu = page.get_by_role("navigation", name="Menu principal")
    assert not menu.get_by_role("button", name="Sistema").is_visible()  # folded behind the toggler
    toggler = menu.get_by_role("button", name="Abrir o menu")
    expect(toggler).to_be_visible()
    toggler.click()
    menu.get_by_role("button", name="Sistema").click()
    menu.get_by_role("link", name="Clientes").click()
    page.wait_for_url(re.compile("/clientes/$"))
    assert overflow(page)[0] <= 0

    page.keyboard.press("Tab")  # the first stop on every page is the skip link
    skip = page.get_by_role("link", name="Pular para o conteúdo")
    assert skip.evaluate("el => el === document.activeElement") and skip.is_visible()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "conteudo"


def test_required_fields_marked_and_failed_save_focuses_the_error_summary(make_user, login, page):
    make_user("erros", "administrador")
    login("erros")
    page.goto(reverse("customers:create"))
    name = page.get_by_label("Nome / razão social")  # the label reads "… (obrigatório)"
    assert page.locator("label[for=id_name]").inner_text().endswith("(obrigatório)")
    assert name.get_attribute("aria-required") == "true"
    assert page.locator("#id_document").get_attribute("aria-required") == "true"
    assert page.locator("#id_email").get_attribute("aria-required") is None

    page.get_by_role("button", name="Salvar").click()
    page.wait_for_load_state()
    summary = page.locator("#error-summary")
    assert summary.evaluate("el => el === document.activeElement")
    assert "Nada foi salvo" in summary.inner_text()
    summary.get_by_role("link", name="Nome / razão social").click()
    assert page.evaluate("() => document.activeElement.id") == "id_name"


def test_lupa_focuses_its_search_box_when_it_opens(make_user, login, page):
    make_user("lupa", "administrador")
    login("lupa")
    page.goto(reverse("contracts:create"))
    page.get_by_role("button", name="Lupa: Cliente").click()
    dialog = page.get_by_role("dialog")
    search = dialog.get_by_role("searchbox")
    search.wait_for()
    page.wait_for_function("() => document.activeElement && document.activeElement.matches('[data-lupa-search]')")
    page.keyboard.type("maria")  # typing goes straight into the search
    assert search.input_value() == "maria"


def test_sva_tab_shows_state_and_sync_first_on_a_phone(phone, make_platform_integration, make_product, make_customer,
                                                       make_contract, converge):
    from agrega.contracts import services

    product = make_product(make_platform_integration(), name="EXA Família Celular")
    contract = make_contract(make_customer())
    services.contract_add_product(contract=contract, product_id=product.pk)
    services.contract_activate(contract=contract)
    converge()
    page = phone
    page.goto(reverse("contracts:detail", args=[contract.pk]) + "#sva")
    row = page.locator("#sva tr[data-sva-user]").filter(has_text="EXA Família Celular")
    visible = page.locator("#sva .table-responsive").first.bounding_box()  # what the scroll box shows
    for column in ("confirmed", "sync"):
        box = row.locator(f"[data-col={column}]").bounding_box()
        assert box["x"] + box["width"] <= visible["x"] + visible["width"], column  # no sideways scrolling
    assert row.locator("[data-col=sync]").inner_text().strip() == "Sincronizado"
    assert overflow(page)[0] <= 0


@pytest.mark.parametrize("size", list(SIZES))
def test_pix_account_pages_with_their_warnings_and_the_psp_ca(size, browser, live_server, make_user, tmp_path):
    """Contas PIX (the demo has none): the list with a failed check, a scopes warning and
    a refused Pix Automático webhook; the form with the CA do PSP, and refused."""
    from agrega.pix import services
    from agrega.pix.models import PixAccount
    from pix_sandbox.pki import make_pki

    ca = make_pki(tmp_path).ca_cert.read_text()
    account = services.account_create(name="Banco Homologação", base_url="https://psp.example/api",
                                      client_id="c", client_secret="s", chave="k", psp_ca_pem=ca)
    PixAccount.objects.filter(pk=account.pk).update(
        last_check_ok=False, last_check_code="pix_tls_client_refused",
        last_check_message="O PSP recusou a conexão TLS: o certificado do cliente está ausente ou não foi "
                           "emitido pelo PSP. Envie na conta o certificado que o PSP emitiu para ela.",
        last_check_warning="Pix Automático indisponível: faltam os escopos rec.write, rec.read, solicrec.write, "
                           "solicrec.read, cobr.write, cobr.read, webhookrec.write, webhookcobr.write.",
        webhook_automatico_error="Webhooks do Pix Automático não registrados — as autorizações e cobranças "
                                 "recorrentes não serão notificadas (webhookrec: PSP respondeu HTTP 403)")
    make_user("pixadm", "administrador")
    context = browser.new_context(base_url=live_server.url, locale="pt-BR", viewport=SIZES[size],
                                  reduced_motion="reduce")
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/entrar/")
        page.fill("#id_username", "pixadm")
        page.fill("#id_password", "senha-de-teste-123")
        page.click("button[type=submit]")
        page.wait_for_load_state()
        failures, too_wide = [], []

        def measure(name):
            bad = [(v["impact"], v["id"], v["nodes"][:2]) for v in run_axe(page) if v["impact"] in FAILING]
            if bad:
                failures.append((name, bad))
            wide, culprits = overflow(page) if size == "phone" else (0, [])
            if wide > 0:
                too_wide.append((name, wide, culprits))

        page.goto(reverse("pix:list"))
        expect(page.locator("[data-field=check-warning]")).to_contain_text("Pix Automático")
        measure("pix:list")
        page.goto(reverse("pix:edit", args=[account.pk]))
        expect(page.get_by_label("CA do PSP (PEM, opcional)")).to_have_value(ca)
        measure("pix:edit")
        page.goto(reverse("pix:create"))
        page.get_by_label("Nome").fill("Outro")
        page.get_by_label("URL da API Pix").fill("https://psp.example/api")
        page.get_by_label("Client id").fill("c")
        page.get_by_label("Client secret").fill("s")
        page.get_by_label("Chave Pix").fill("k")
        page.get_by_label("CA do PSP (PEM, opcional)").fill(
            "-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----")
        page.get_by_role("button", name="Salvar").click()
        page.wait_for_load_state()
        expect(page.locator("main")).to_contain_text("CA do PSP inválida")
        measure("pix:create (erro)")
        assert not failures, failures
        assert not too_wide, too_wide
    finally:
        context.close()
