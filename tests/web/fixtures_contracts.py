"""Helpers shared by the contract / SVA page tests (imported, not a conftest)."""

from __future__ import annotations

import re

import pytest


@pytest.fixture
def admin_page(make_user, login):
    make_user("admin-web", "administrador")
    return login("admin-web")


def open_tab(page, name: str):
    page.get_by_role("tab", name=re.compile(f"^{name}")).click()


def pick_in_lupa(page, label: str, search: str, row_text: str):
    """Open the lupa of ``label``, search, and choose the row containing ``row_text``."""
    page.get_by_role("button", name=f"Lupa: {label}").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("searchbox").fill(search)
    # the search answers by htmx: pick from its rows, not from the list it replaces
    page.wait_for_load_state("networkidle")
    row = dialog.get_by_role("row").filter(has_text=row_text)
    row.get_by_role("button", name="Selecionar").click()
    dialog.wait_for(state="hidden")


def sva_row(page, product_name: str):
    return page.locator("#sva tr[data-sva-user]").filter(has_text=product_name)
