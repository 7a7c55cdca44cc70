"""The cClass table shipped as data: every row has seven digits and a source; the one
code an official document prints (NT 2024.001: 0500601) is marked OFICIAL; pré-pago codes
(the NFCom would need indPrePago, rule G87) are refused for a product."""

from __future__ import annotations

import pytest

from agrega.core.errors import ApplicationError
from agrega.fiscal import cclass


def test_every_row_has_seven_digits_and_a_source():
    rows = cclass.rows()
    assert len(rows) >= 16
    for code, row in rows.items():
        assert len(code) == 7 and code.isdigit(), code
        assert row["description"] and row["source"].split(":")[0] in ("OFICIAL", "SECUNDARIA"), code
    assert rows["0500601"]["source"].startswith("OFICIAL: NFCom Nota Técnica 2024.001")


@pytest.mark.django_db
def test_prepaid_codes_are_refused_for_a_product(make_product):
    from agrega.fiscal.services import product_fiscal_save

    product = make_product(name="Recarga")
    with pytest.raises(ApplicationError) as exc:
        product_fiscal_save(product_id=product.pk, kind="SCM", cclass_code="0500601", cfop="5307")
    assert exc.value.fields["cclass"][0].code == "cclass_prepaid_unsupported"
    saved = product_fiscal_save(product_id=product.pk, kind="SCM", cclass_code="0100401", cfop="5307")
    assert saved.cclass == "0100401"
