"""Helpers shared by the contract / SVA page tests (imported, not a conftest)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest


@pytest.fixture
def admin_page(make_user, login):
    make_user("admin-web", "administrador")
    return login("admin-web")


def open_tab(page, name: str):
    page.get_by_role("tab", name=re.compile(f"^{name}")).click()


def search_in_lupa(page, search: str):
    """Type ``search`` in the open lupa and wait until its rows are the answer to it.

    htmx replaces the rows when the answer arrives; a click on the rows shown before could
    land while they are replaced and be lost (the button under the pointer moves). The box
    is cleared first, so the search is sent even when it already held the same text."""
    dialog = page.get_by_role("dialog")
    box = dialog.get_by_role("searchbox")
    box.wait_for()
    with page.expect_response(lambda r: parse_qs(urlsplit(r.url).query).get("q") == [search]):
        box.fill("")
        box.fill(search)
    page.wait_for_function("() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')")
    return dialog


def pick_in_lupa(page, label: str, search: str, row_text: str):
    """Open the lupa of ``label``, search, and choose the row containing ``row_text``."""
    page.get_by_role("button", name=f"Lupa: {label}").click()
    dialog = search_in_lupa(page, search)
    row = dialog.get_by_role("row").filter(has_text=row_text)
    row.get_by_role("button", name="Selecionar").click()
    dialog.wait_for(state="hidden")


def sva_row(page, product_name: str):
    return page.locator("#sva tr[data-sva-user]").filter(has_text=product_name)
