"""Login, logout, the menu at the manual's paths, and assets served locally."""

import re

from playwright.sync_api import expect


def test_login_menu_and_logout(make_user, login, page, screenshot):
    make_user("ana", "administrador")
    login("ana")
    expect(page.locator("nav").get_by_text("ana · Administrador")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile("Início"))).to_be_visible()
    screenshot("inicio")
    page.get_by_role("button", name="Sair").click()
    page.wait_for_url(re.compile("/entrar/"))


def test_wrong_password_is_refused(make_user, login, page):
    make_user("bia", "operador")
    login("bia", "errada")
    expect(page.get_by_text("Usuário ou senha incorretos.")).to_be_visible()


def test_pages_require_login(page):
    page.goto("/")
    assert "/entrar/" in page.url


def test_no_request_leaves_the_machine(make_user, login, page, live_server):
    """Every asset comes from the app itself (no CDN)."""
    hosts = set()
    page.on("request", lambda r: hosts.add(re.sub(r"^https?://([^/]+).*", r"\1", r.url)))
    make_user("caio", "somente leitura")
    login("caio")
    page.goto("/")
    assert hosts == {live_server.url.split("//")[1]}
