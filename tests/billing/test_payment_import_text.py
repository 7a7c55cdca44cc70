"""The payment file's cells go through the rule for free text: a line with a NUL or a
control character is refused (and reported without it), the good lines still apply."""

from __future__ import annotations

import pytest


pytestmark = pytest.mark.django_db


def test_payment_file_lines_with_control_characters_are_refused_and_reported_clean(billed):
    from agrega.billing.imports import payments_import_csv
    from agrega.billing.models import Payment

    _, invoice = billed()
    content = ("id_pagamento;titulo;valor;data_pagamento\r\n"
               f"PG\x00-1;{invoice.pk};1,00;01/11/2026\r\n"
               f"PG-2;{invoice.pk};1,00;01/11/2026\x1b\r\n"
               f"PG-3;{invoice.pk};1,00;01/11/2026\r\n").encode()
    record = payments_import_csv(content=content, file_name="ret\x00orno.csv", provider="Banco")
    by_line = {e["line"]: e for e in record.report}
    assert by_line[2]["code"] == by_line[3]["code"] == "text_control_chars"
    assert "\x00" not in by_line[2]["external_id"]
    assert by_line[4]["status"] == "applied"
    assert list(Payment.objects.values_list("external_id", flat=True)) == ["PG-3"]
    assert "\x00" not in record.file_name
