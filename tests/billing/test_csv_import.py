"""Payments from a CSV file: each line in its own savepoint, bad lines reported with line
number, code and message and changing nothing, good lines applied once however often the
file comes in; encodings (UTF-8, BOM, latin-1) and delimiters; the API upload."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from agrega.billing.imports import payments_import_csv
from agrega.billing.models import Invoice, Payment, PaymentImport
from agrega.billing.services import invoice_cancel, payment_register
from agrega.contracts.choices import AccessStatus as AS
from agrega.core.errors import ApplicationError
from agrega.core.models import ApiToken
from tests.fixtures_api import ApiClient



def by_line(record: PaymentImport) -> dict[int, dict]:
    return {entry["line"]: entry for entry in record.report}


@pytest.fixture
def five(billed, blocked):
    """Títulos: a blocked contract's, two open, one cancelled, one paid earlier by webhook."""
    blocked_contract, late = blocked()
    _, a = billed()
    _, b = billed()
    _, cancelled = billed()
    invoice_cancel(invoice_id=cancelled.pk, reason="duplicado")
    _, earlier = billed()
    payment_register(invoice_id=earlier.pk, amount="109.90", method="webhook", provider="banco",
                     external_id="PIX-OLD")
    return blocked_contract, late, a, b, cancelled, earlier


def mixed_file(late, a, b, cancelled, earlier) -> str:
    today = timezone.localdate()
    return "\n".join([
        "id_pagamento;titulo;valor;data_pagamento",
        f"PIX-1;{late.pk};109,90;{today:%d/%m/%Y}",           # 2 good: releases the blocked contract
        f"PIX-2;{a.pk};50.00;{today:%Y-%m-%d}",                # 3 good (partial, ISO date)
        "PIX-3;999999;10,00;01/11/2026",                       # 4 unknown título
        f"PIX-4;{b.pk};dez reais;01/11/2026",                  # 5 bad amount
        f"PIX-5;{b.pk};10,00;31/02/2026",                      # 6 bad date
        f"PIX-6;{cancelled.pk};109,90;01/11/2026",             # 7 cancelled título
        f"PIX-2;{a.pk};50.00;{today:%Y-%m-%d}",                # 8 repeated line, same data
        f"PIX-2;{b.pk};70,00;{today:%Y-%m-%d}",                # 9 same id, other data
        f"PIX-OLD;{earlier.pk};99,00;01/11/2026",              # 10 id applied before with other data
        f";{b.pk};10,00;01/11/2026",                           # 11 no id
        f"PIX-7;{b.pk};10,00;{(today.replace(year=today.year + 1)):%d/%m/%Y}",  # 12 future
        f"PIX-8;{b.pk};10,00",                                 # 13 short line
        "",
        f"PIX-9;#{b.pk};R$ 1.000,00;{today:%d/%m/%Y}",          # 15 good: thousands, R$ and #
    ]) + "\n"


EXPECTED = {
    2: ("applied", "applied"),
    3: ("applied", "applied"),
    4: ("rejected", "invoice_not_found"),
    5: ("rejected", "amount_invalid"),
    6: ("rejected", "date_invalid"),
    7: ("rejected", "invoice_cancelled"),
    8: ("duplicate", "duplicate_in_file"),
    9: ("rejected", "duplicate_in_file"),
    10: ("rejected", "payment_id_reused"),
    11: ("rejected", "payment_id_missing"),
    12: ("rejected", "paid_on_future"),
    13: ("rejected", "line_invalid"),
    15: ("applied", "applied"),
}


def test_mixed_file_imported_twice(five):
    blocked_contract, late, a, b, cancelled, earlier = five
    content = mixed_file(late, a, b, cancelled, earlier).encode()
    first = payments_import_csv(content=content, file_name="retorno.csv", provider="banco", actor=None)
    lines = by_line(first)
    assert {n: (e["status"], e["code"]) for n, e in lines.items()} == EXPECTED
    assert (first.lines_total, first.lines_applied, first.lines_duplicate, first.lines_rejected) == (13, 3, 1, 9)
    assert lines[4]["message"] == "Título 999999 não encontrado."
    assert "linha 3" in lines[9]["message"] and "linha 3" in lines[8]["message"]
    assert "futuro" in lines[12]["message"] and "Valor inválido" in lines[5]["message"]
    assert first.provider == "banco" and first.actor_label == "sistema" and len(first.sha256) == 64

    for invoice in (late, a, b, cancelled, earlier):
        invoice.refresh_from_db()
    assert late.status == "paid" and a.paid_amount == Decimal("50.00")
    assert b.paid_amount == Decimal("1000.00") and b.overpaid == Decimal("890.10")
    assert cancelled.paid_amount == 0 and earlier.paid_amount == Decimal("109.90")
    blocked_contract.refresh_from_db()
    assert blocked_contract.access_status == AS.ACTIVE
    payments = Payment.objects.filter(payment_import=first)
    assert sorted(payments.values_list("external_id", flat=True)) == ["PIX-1", "PIX-2", "PIX-9"]
    assert set(payments.values_list("method", "provider")) == {("csv", "banco")}

    second = payments_import_csv(content=content, file_name="retorno.csv", provider="banco", actor=None)
    again = by_line(second)
    assert (second.lines_applied, second.lines_duplicate, second.lines_rejected) == (0, 4, 9)
    for n in (2, 3, 15):
        assert (again[n]["status"], again[n]["code"]) == ("duplicate", "already_applied")
        assert again[n]["payment"] == lines[n]["payment"] and "Já aplicado" in again[n]["message"]
    assert {n: e["code"] for n, e in again.items() if e["status"] == "rejected"} == {
        n: code for n, (status, code) in EXPECTED.items() if status == "rejected"}
    assert Payment.objects.count() == 4  # the three lines + the earlier webhook payment
    a.refresh_from_db()
    assert a.paid_amount == Decimal("50.00")


def test_latin1_file_with_comma_delimiter_and_quoted_amounts(billed):
    _, invoice = billed()
    text = (
        "Pagador,Título,Valor,Data_Pagamento,ID_Pagamento\n"
        f'"João Conceição",{invoice.pk},"109,90",{timezone.localdate():%d/%m/%Y},BOLETO-ÇÃ-1\n'
    )
    record = payments_import_csv(content=text.encode("latin-1"), file_name="retorno.csv", provider="caixa")
    entry = record.report[0]
    assert (entry["status"], entry["external_id"], entry["amount"]) == ("applied", "BOLETO-ÇÃ-1", "109.90")
    assert Payment.objects.get().external_id == "BOLETO-ÇÃ-1"


def test_utf8_bom_and_crlf(billed):
    _, invoice = billed()
    text = f"id_pagamento;titulo;valor;data_pagamento\r\nTED-ção;{invoice.pk};109,90;{timezone.localdate():%d/%m/%Y}\r\n"
    record = payments_import_csv(content=b"\xef\xbb\xbf" + text.encode("utf-8"), file_name="r.csv", provider="itau")
    assert record.lines_applied == 1 and record.report[0]["line"] == 2
    assert Payment.objects.get().external_id == "TED-ção"


@pytest.mark.parametrize("content,code", [
    (b"", "validation_failed"),
    (b"\n\n", "file_empty"),
    (b"id;titulo;valor;data\n1;2;3;4\n", "header_invalid"),
])
def test_file_level_refusals_store_nothing(db, content, code):
    with pytest.raises(ApplicationError) as exc:
        payments_import_csv(content=content, file_name="x.csv", provider="banco")
    assert exc.value.code == code
    assert not PaymentImport.objects.exists()


def test_provider_is_required(db):
    with pytest.raises(ApplicationError) as exc:
        payments_import_csv(content=b"id_pagamento;titulo;valor;data_pagamento\n", file_name="x.csv", provider=" ")
    assert "provider" in exc.value.fields


# -- through the API -------------------------------------------------------------------------

@pytest.fixture
def upload(role_user):
    def make(role: str):
        raw = ApiToken.issue(user=role_user(f"csv-{role.replace(' ', '-')}", role), name="t")[1]
        client = ApiClient(raw)

        def send(content: bytes, provider="banco", name="retorno.csv"):
            return client.client.post("/api/payments/imports",
                                      {"file": SimpleUploadedFile(name, content, "text/csv"), "provider": provider},
                                      HTTP_AUTHORIZATION=f"Bearer {raw}")

        send.api = client
        return send

    return make


def test_api_upload_and_read_back(five, upload):
    _, late, a, b, cancelled, earlier = five
    send = upload("operador")
    response = send(mixed_file(late, a, b, cancelled, earlier).encode("utf-8"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["lines_applied"], body["lines_rejected"], body["actor_label"]) == (3, 9, "csv-operador")
    assert {e["line"]: (e["status"], e["code"]) for e in body["report"]} == EXPECTED
    detail = send.api.get(f"/payments/imports/{body['id']}").json()
    assert detail["report"] == body["report"] and detail["file_name"] == "retorno.csv"
    assert [i["id"] for i in send.api.get("/payments/imports").json()["items"]] == [body["id"]]
    assert send.api.get("/payments/imports/999999").json()["error"]["code"] == "payment_import_not_found"

    bad = send(b"a;b\n1;2\n")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "header_invalid"
    missing = send.api.client.post("/api/payments/imports", {"provider": "banco"},
                                   HTTP_AUTHORIZATION=f"Bearer {send.api.raw_token}")
    assert missing.status_code == 422


def test_api_upload_refused_to_read_only(five, upload):
    _, late, a, b, cancelled, earlier = five
    send = upload("somente leitura")
    response = send(mixed_file(late, a, b, cancelled, earlier).encode())
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert not PaymentImport.objects.exists()
    assert Payment.objects.count() == 1  # only the earlier webhook payment
    assert Invoice.objects.filter(status="paid").count() == 1
