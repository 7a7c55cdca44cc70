"""The BR Code that Agrega shows parses back with an independent decoder (issue 17, item
7): what the contract's Financeiro tab and the título page show (the copia-e-cola text
and the QR image as the browser draws it), what the API gives (text and SVG) and what
`agrega pix show` prints (text and the QR drawn in the terminal). Each QR image is
decoded by zxing-cpp back to the exact copia-e-cola, which is parsed by Stark Bank's BR
Code parser (tests/pix/brcode_check.py) and checked against the título: the recebedor
as the PSP registered it, the CRC16, and the location — which the PSP serves as the
cobv of this título's txid, for its amount. (A cobv's BR Code is dynamic: it carries the
location, not the txid or the amount, which the payer's bank reads from the PSP.)"""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import call_command
from PIL import Image
from playwright.sync_api import expect

from agrega.pix.models import ChargeStatus, PixCharge
from agrega.pix.services import txid_for
from tests.fixtures import bearer_headers

from .brcode_check import decode_qr, parse_brcode
from .conftest import Psp

MERCHANT = "Provedor Ação & Cia"


@pytest.fixture
def named_psp(pix_sandbox):
    """A usuário recebedor registered at the PSP under ``MERCHANT`` (the BR Code's name)."""
    p = Psp(pix_sandbox.new_account(nome=MERCHANT, cidade="São José dos Campos"))
    yield p
    p.payer.close()


@pytest.fixture
def named_account(transactional_db, named_psp):
    from agrega.pix.services import account_create

    return account_create(name="PSP sandbox", base_url=named_psp.url, token_url=named_psp.token_url,
                          client_id=named_psp.client_id, client_secret=named_psp.client_secret,
                          chave=named_psp.chave, validade_apos_vencimento=365)


def check_against_the_titulo(payload: str, invoice, psp: Psp) -> None:
    fields = parse_brcode(payload)  # CRC16 checked there
    assert fields["00"] == "01" and fields["01"] == "12"  # dynamic, one use
    assert fields["26"]["00"] == "br.gov.bcb.pix"
    assert fields["52"] == "0000" and fields["53"] == "986" and fields["58"] == "BR"
    assert fields["59"] == "PROVEDOR ACAO & CIA" and fields["60"] == "SAO JOSE DOS CA"
    assert fields["62"] == {"05": "***"}
    remote = psp.api("GET", f"/cobv/{txid_for(invoice.pk)}").json()
    assert remote["txid"] == txid_for(invoice.pk) and remote["status"] == "ATIVA"
    assert remote["loc"]["location"] == fields["26"]["25"]
    assert remote["valor"]["original"] == f"{invoice.amount:.2f}"
    assert remote["calendario"]["dataDeVencimento"] == invoice.due_date.isoformat()


def terminal_qr_image(text: str) -> Image.Image:
    """The QR that `agrega pix show` draws with half blocks (segno's compact terminal
    output: the blocks are the light modules, a space two dark ones), as pixels."""
    rows = [line for line in text.splitlines() if line and set(line) <= set("█▀▄ ")]
    assert rows, text
    halves = {"█": (255, 255), "▀": (255, 0), "▄": (0, 255), " ": (0, 0)}
    width, scale = max(len(r) for r in rows), 4
    image = Image.new("L", (width, len(rows) * 2), 255)
    for y, row in enumerate(rows):
        for x, char in enumerate(row):
            top, bottom = halves[char]
            image.putpixel((x, 2 * y), top)
            image.putpixel((x, 2 * y + 1), bottom)
    border = Image.new("L", (width + 8, len(rows) * 2 + 8), 255)
    border.paste(image, (4, 4))
    return border.resize((border.width * scale, border.height * scale), Image.NEAREST)


def test_what_the_pages_api_and_cli_show_decodes_to_the_titulos_cobv(
        named_account, named_psp, billed, fast_pix, make_user, login, page, role_user, client, capsys):
    contract, invoice = billed()
    charge = PixCharge.objects.get(invoice=invoice)
    assert charge.status == ChargeStatus.ACTIVE, charge.last_error

    # the contract's Financeiro tab: the text in its field, the QR as the browser draws it
    make_user("ana", "operador")
    login("ana")
    page.goto(f"/contratos/{contract.pk}/")
    page.get_by_role("tab", name="Financeiro").click()
    row = page.locator(f"tr[data-invoice='{invoice.pk}']")
    row.locator("summary").click()
    shown = row.locator("textarea[data-field=pix_copia_e_cola]").input_value()
    assert decode_qr(row.locator(".pix-qr svg").screenshot()) == shown
    check_against_the_titulo(shown, invoice, named_psp)

    # the título page
    page.goto(f"/financeiro/titulos/{invoice.pk}/")
    box = page.locator(f"[data-pix='{charge.txid}']")
    expect(box.locator(".pix-qr svg")).to_be_visible()
    assert box.locator("textarea[data-field=pix_copia_e_cola]").input_value() == shown
    assert decode_qr(box.locator(".pix-qr svg").screenshot()) == shown

    # the API: the text, and its SVG drawn by the browser
    user = role_user("leitor", "somente leitura")
    data = client.get(f"/api/invoices/{invoice.pk}/pix", **bearer_headers(user)).json()
    assert data["copia_e_cola"] == shown
    page.set_content(f'<html><body style="background:#fff;margin:20px">{data["qr_svg"]}</body></html>')
    assert decode_qr(page.locator("svg").screenshot()) == shown

    # the CLI: the text, and the QR it draws in the terminal
    call_command("pix", "show", str(invoice.pk))
    out = capsys.readouterr().out
    assert re.search(r"^" + re.escape(shown) + r"$", out, re.M), out
    assert decode_qr(terminal_qr_image(out)) == shown


def test_a_wrong_crc_or_another_image_is_refused():
    """The checks can fail: one changed CRC digit, or an image of another text."""
    import segno

    payload = ("00020126580014br.gov.bcb.pix0136123e4567-e12b-12d1-a456-4266554400005204000053039865802BR"
               "5913Fulano de Tal6008BRASILIA62070503***63041D3D")
    assert parse_brcode(payload)["59"] == "Fulano de Tal"
    with pytest.raises(ValueError, match="CRC16"):
        parse_brcode(payload[:-1] + "E")
    out = io.BytesIO()
    segno.make(payload[:-1] + "E", error="m", micro=False).save(out, kind="png", scale=4)
    assert decode_qr(out.getvalue()) != payload
