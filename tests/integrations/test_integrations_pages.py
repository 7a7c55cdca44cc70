"""Configurações > Integrações > Integrações SVA, in a real browser against the EXA sandbox.

On the exa_* fixtures: the form's credential fields and the connection test are EXA's own."""

from __future__ import annotations

import re

from playwright.sync_api import expect

LIST = "/configuracoes/integracoes-sva/"


class HtmlRecorder:
    """Keeps every HTML body the browser receives (pages and htmx fragments)."""

    def __init__(self, page):
        self.bodies = []
        page.on("response", self._keep)

    def _keep(self, response):
        if "text/html" in (response.headers.get("content-type") or "") and response.status != 302:
            self.bodies.append(response.text())


def _fill_new_integration(page, exa_account, name: str):
    page.goto(LIST)
    page.get_by_role("link", name="Novo").click()
    expect(page.get_by_role("heading", name="Nova integração SVA")).to_be_visible()
    page.fill("#id_name", name)
    page.select_option("#id_platform", "exa")
    page.fill("#id_base_url", exa_account.url)
    page.fill("#id_prefix", exa_account.prefix)
    page.get_by_label("Sim").check()
    page.fill("#id_cred_client_id", exa_account.client_id)
    page.fill("#id_cred_client_secret", exa_account.client_secret)


def test_admin_registers_checks_and_edits_an_integration(
    make_user, login, page, screenshot, exa_account, sandbox_admin
):
    from agrega.integrations.models import SvaIntegration
    from agrega.integrations.services import integration_check_credentials

    recorder = HtmlRecorder(page)
    make_user("ana", "administrador")
    login("ana")

    # The menu path of the manual.
    page.get_by_role("button", name=re.compile("Configurações")).click()
    page.get_by_role("link", name="Integrações SVA").click()
    expect(page).to_have_url(re.compile(LIST + "$"))

    _fill_new_integration(page, exa_account, "EXA Produção")
    # Choosing the platform swaps in its credential fields (htmx), a moment after the answer.
    page.locator("#credential-fields").evaluate("el => el.dataset.before = '1'")
    with page.expect_response(re.compile("campos-credenciais")):
        page.dispatch_event("#id_platform", "change")
    expect(page.locator("#credential-fields[data-before]")).to_have_count(0)
    expect(page.locator("#id_cred_client_secret")).to_have_attribute("type", "password")
    page.fill("#id_cred_client_id", exa_account.client_id)
    page.fill("#id_cred_client_secret", exa_account.client_secret)
    screenshot("integracao-nova")
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Integração “EXA Produção” cadastrada.")).to_be_visible()

    integration = SvaIntegration.objects.get(prefix=exa_account.prefix)
    assert integration.auto_create_users is True
    assert integration.credentials == {"client_id": exa_account.client_id,
                                       "client_secret": exa_account.client_secret}

    row = page.locator("tr", has_text="EXA Produção")
    expect(row).to_contain_text(exa_account.prefix)
    expect(row).to_contain_text("fechado")
    row.get_by_role("button", name="Testar conexão").click()
    ok = page.locator(f"#check-result-{integration.pk} [data-check=ok]")
    expect(ok).to_contain_text("Conexão estabelecida: credenciais aceitas, 3 pacote(s)")
    screenshot("integracoes-lista")

    # The platform goes down: the test says so, in Portuguese, in red.
    sandbox_admin.set_faults(down=True, prefix=exa_account.prefix)
    row.get_by_role("button", name="Testar conexão").click()
    fail = page.locator(f"#check-result-{integration.pk} [data-check=fail]")
    expect(fail).to_contain_text("Falha ao testar a conexão")
    expect(fail).to_have_class(re.compile("alert-danger"))
    sandbox_admin.clear_faults()

    # Edit without retyping the credentials: they are kept, never shown.
    row.get_by_role("link", name="Editar").click()
    expect(page.get_by_text("Deixe em branco para manter as credenciais atuais.").first).to_be_visible()
    assert page.input_value("#id_cred_client_id") == ""
    assert page.input_value("#id_cred_client_secret") == ""
    page.fill("#id_name", "EXA Produção (matriz)")
    page.get_by_label("Não").check()
    screenshot("integracao-editar")
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Integração “EXA Produção (matriz)” salva.")).to_be_visible()
    integration.refresh_from_db()
    assert integration.auto_create_users is False
    assert integration.credentials["client_secret"] == exa_account.client_secret
    assert integration_check_credentials(integration=integration)["ok"] is True

    # The edit page's own "Testar conexão" uses the stored credentials.
    page.locator("tr", has_text="EXA Produção (matriz)").get_by_role("link", name="Editar").click()
    page.locator("#check-button").click()
    expect(page.locator("#check-result [data-check=ok]")).to_be_visible()

    bodies = recorder.bodies
    assert len(bodies) >= 6
    for body in bodies:
        assert exa_account.client_secret not in body
        assert integration.credentials_encrypted not in body


def test_invalid_integration_form_saves_nothing(make_user, login, page, exa_account):
    from agrega.integrations.models import SvaIntegration

    make_user("ana", "administrador")
    login("ana")
    _fill_new_integration(page, exa_account, "")
    page.fill("#id_base_url", "ftp://exemplo")
    page.fill("#id_cred_client_secret", "")
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Informe um nome para a integração.")).to_be_visible()
    expect(page.get_by_text("URL inválida: use http:// ou https:// seguido do endereço.")).to_be_visible()
    expect(page.get_by_text("Informe Client secret.")).to_be_visible()
    # What was typed comes back, except the secret.
    assert page.input_value("#id_prefix") == exa_account.prefix
    assert page.input_value("#id_cred_client_secret") == ""
    assert not SvaIntegration.objects.filter(prefix=exa_account.prefix).exists()


def test_wrong_credentials_fail_the_check_and_can_be_replaced(make_user, login, page, exa_account, make_integration):
    integration = make_integration(credentials={"client_id": exa_account.client_id, "client_secret": "errada"})
    make_user("ana", "administrador")
    login("ana")
    page.goto(f"{LIST}{integration.pk}/editar/")
    page.locator("#check-button").click()
    expect(page.locator("#check-result [data-check=fail]")).to_contain_text("recusou as credenciais")

    # Replacing only one credential field is refused: all of them or none.
    page.fill("#id_cred_client_secret", exa_account.client_secret)
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("Informe Client ID.")).to_be_visible()
    integration.refresh_from_db()
    assert integration.credentials["client_secret"] == "errada"

    page.fill("#id_cred_client_id", exa_account.client_id)
    page.fill("#id_cred_client_secret", exa_account.client_secret)
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text("salva.")).to_be_visible()
    page.locator("tr", has_text=integration.name).get_by_role("button", name="Testar conexão").click()
    expect(page.locator(f"#check-result-{integration.pk} [data-check=ok]")).to_be_visible()


def test_any_platform_is_registered_from_its_declared_fields(make_user, login, page, sva_platform, platform_account):
    """The form is built from the connector's declaration: choosing the platform brings its
    credential fields (secret ones as password inputs), optional ones may stay empty, and
    the reconciliation link shows only where the platform lists its users."""
    from agrega.integrations.connectors.registry import connector_class, platform_allows
    from agrega.integrations.models import SvaIntegration

    declared = connector_class(sva_platform)
    fields = platform_account.integration_fields()
    make_user("ana", "administrador")
    login("ana")
    page.goto(LIST)
    page.get_by_role("link", name="Novo").click()
    name = f"Conta {sva_platform}"
    page.fill("#id_name", name)
    # the platform's fields replace the first ones (htmx, outerHTML) a moment after the
    # answer arrives: typed before that, a value would go into the replaced box
    page.locator("#credential-fields").evaluate("el => el.dataset.before = '1'")
    with page.expect_response(re.compile("campos-credenciais")):
        page.select_option("#id_platform", sva_platform)
    expect(page.locator("#credential-fields[data-before]")).to_have_count(0)
    page.fill("#id_base_url", fields["base_url"])
    if fields["prefix"]:
        page.fill("#id_prefix", fields["prefix"])
    for field in declared.credential_fields:
        box = page.locator(f"#id_cred_{field.name}")
        expect(box).to_have_attribute("type", "password" if field.secret else "text")
        value = fields["credentials"].get(field.name)
        if value:
            box.fill(value)
    page.get_by_role("button", name="Salvar").click()
    expect(page.get_by_text(f"Integração “{name}” cadastrada.")).to_be_visible()
    integration = SvaIntegration.objects.get(name=name)
    assert integration.platform == sva_platform
    assert integration.credentials == {k: v for k, v in fields["credentials"].items() if v}
    row = page.locator("tr", has_text=name)
    row.get_by_role("button", name="Testar conexão").click()
    expect(page.locator(f"#check-result-{integration.pk} [data-check=ok]")).to_contain_text("Conexão estabelecida")
    expect(row.get_by_role("link", name="Reconciliação")).to_have_count(
        1 if platform_allows(sva_platform, "list_users") else 0)
