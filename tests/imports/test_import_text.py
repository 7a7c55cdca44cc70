"""Every text cell of an import goes through the one rule for free text (core.text): a
NUL, a control character, an invisible-only or over-long value rejects its line, and
the good lines still import (the payment file: tests/billing/test_payment_import_text.py)."""

from __future__ import annotations

import pytest

from agrega.customers.models import Customer
from agrega.imports import services

from .helpers import csv_bytes, row

pytestmark = pytest.mark.django_db


def test_bad_text_cells_reject_their_line_and_the_good_lines_import():
    content = csv_bytes([
        row(1),                                   # line 2: good
        row(2, nome="Maria\x00Souza"),            # line 3: NUL
        row(3, cidade="Campinas\x1b[31m"),        # line 4: ESC
        row(4, nome="\u200b\u00a0"),              # line 5: invisible only
        row(5, nome="n" * 201),                   # line 6: longer than the column
        row(6, contrato_ref="CT-\x07"),           # line 7: BEL in the reference
        row(7, nome="\u200bJoão Lima\u00a0"),     # line 8: good once trimmed
    ])
    job = services.import_job_create(file_name="clientes.csv", content=content)
    job = services.import_job_run(job_id=job.pk)
    rows = {r.line: r for r in job.rows.all()}
    assert rows[2].status == "applied" and rows[8].status == "applied"
    assert {m["code"] for m in rows[3].messages} == {"text_control_chars"}
    assert {m["code"] for m in rows[4].messages} == {"text_control_chars"}
    assert {m["code"] for m in rows[5].messages} == {"text_blank"}
    assert {m["code"] for m in rows[6].messages} == {"text_too_long"}
    assert "text_control_chars" in {m["code"] for m in rows[7].messages}
    assert all(rows[n].status == "rejected" for n in (3, 4, 5, 6, 7))
    assert set(Customer.objects.values_list("name", flat=True)) == {"Cliente Importado 1", "João Lima"}

