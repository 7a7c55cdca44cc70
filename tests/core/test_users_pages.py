"""Configurações > Usuários in a real browser: an administrator creates a user, sees the
generated password once, revokes one of the user's tokens and deactivates the user (whose
other token then stops working); the last administrator cannot deactivate themselves.
Plus the page's answers to each role, without a browser."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.web.fixtures_browser import PASSWORD

LIST = "/configuracoes/usuarios/"


def _api_status(live_server, raw):
    import httpx

    return httpx.get(f"{live_server.url}/api/customers", headers={"Authorization": f"Bearer {raw}"}).status_code


def test_admin_creates_a_user_revokes_a_token_and_deactivates_the_user(make_user, login, page, live_server,
                                                                        screenshot):
    from django.contrib.auth import get_user_model

    from agrega.core.models import ApiToken, ChangeRecord

    make_user("ana", "administrador")
    login("ana")
    page.get_by_role("button", name=re.compile("Configurações")).click()
    page.get_by_role("link", name="Usuários").click()
    expect(page).to_have_url(re.compile(LIST + "$"))
    expect(page.locator("#users-table tr[data-user=ana]")).to_contain_text("Administrador")

    page.get_by_role("link", name="Novo").click()
    page.fill("#id_username", "joana")
    page.fill("#id_name", "Joana da Silva")
    page.fill("#id_email", "joana@example")  # no domain dot: refused next to the field
    page.select_option("#id_role", "operador")
    page.fill("#id_password", "curta")
    page.get_by_role("button", name="Criar usuário").click()
    expect(page.locator(".invalid-feedback, .text-danger").filter(has_text="E-mail inválido")).to_be_visible()
    assert not get_user_model().objects.filter(username="joana").exists()

    page.fill("#id_email", "joana@example.com.br")
    page.fill("#id_password", "")
    page.check("#id_generate")
    page.get_by_role("button", name="Criar usuário").click()
    expect(page.locator("#generated-password")).to_be_visible()
    generated = page.locator("#generated-password [data-password]").inner_text().strip()
    assert Client().login(username="joana", password=generated)
    expect(page.locator("#user-role")).to_have_text("Operador")
    screenshot("users-created")

    joana = get_user_model().objects.get(username="joana")
    erp, erp_raw = ApiToken.issue(user=joana, name="erp")
    bi, bi_raw = ApiToken.issue(user=joana, name="bi")
    page.goto(f"{LIST}{joana.pk}/")  # the generated password is not shown again
    expect(page.locator("#generated-password")).to_have_count(0)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Revogar token erp").click()
    expect(page.locator(f"#token-{erp.pk} [data-token-state]")).to_contain_text("Revogado")
    expect(page.locator(f"#token-{bi.pk} [data-token-state]")).to_contain_text("Ativo")
    assert _api_status(live_server, erp_raw) == 401
    assert _api_status(live_server, bi_raw) == 200

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Desativar usuário").click()
    expect(page.locator("#user-state")).to_have_text("Desativado")
    expect(page.get_by_role("alert").filter(has_text="Usuário desativado")).to_be_visible()
    assert _api_status(live_server, bi_raw) == 401
    assert not Client().login(username="joana", password=generated)
    screenshot("users-deactivated")

    page.goto(LIST)
    expect(page.locator("#users-table tr[data-user=joana] [data-active]")).to_contain_text("Não")
    actions = list(ChangeRecord.objects.filter(object_type="auth.user", object_id=str(joana.pk))
                   .order_by("id").values_list("action", flat=True))
    assert actions == ["create", "token_revoke", "deactivate"]


def test_the_last_administrator_cannot_deactivate_themselves(make_user, login, page):
    ana = make_user("ana", "administrador")
    login("ana")
    page.goto(f"{LIST}{ana.pk}/")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Desativar usuário").click()
    expect(page.locator("#user-error")).to_contain_text("único administrador ativo")
    expect(page.locator("#user-state")).to_have_text("Ativo")
    page.select_option("#id_role", "operador")
    page.get_by_role("button", name="Salvar papel").click()
    expect(page.locator("#user-error")).to_contain_text("único administrador ativo")


@pytest.mark.parametrize("role", ["operador", "somente leitura"])
def test_other_roles_do_not_see_the_page_or_the_menu_entry(make_user, role):
    user = make_user("outro", role)
    client = Client()
    client.login(username="outro", password=PASSWORD)
    assert client.get(LIST).status_code == 403
    assert client.post(f"{LIST}{user.pk}/papel/", {"role": "administrador"}).status_code == 403
    assert LIST not in client.get("/").content.decode()


def test_an_administrator_acting_on_themselves(make_user):
    """Resetting one's own password keeps one logged in; deactivating oneself (another
    administrator remaining) logs one out at once."""
    ana = make_user("ana", "administrador")
    make_user("bia", "administrador")
    client = Client()
    client.login(username="ana", password=PASSWORD)
    response = client.post(f"{LIST}{ana.pk}/senha/", {"password": "nova-senha-da-ana-1"})
    assert response.status_code == 302 and client.get(LIST).status_code == 200
    response = client.post(f"{LIST}{ana.pk}/desativar/")
    assert response.status_code == 302 and "/entrar/" in response.url
    assert client.get(LIST).status_code == 302  # to the login page
