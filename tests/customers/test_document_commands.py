"""The CLI with the alphanumeric CNPJ: created as typed, shown formatted, found by a
piece typed in lower case; a refused document names its code and reason on stderr."""

from __future__ import annotations

import pytest

from tests.cli.helpers import ok, run

pytestmark = pytest.mark.django_db


def test_customer_with_an_alphanumeric_cnpj():
    created = ok("customer", "create", "--name", "Provedor Novo Ltda", "--document", "12.abc.345/01de-35",
                 "--email", "contato@provedor.com.br", "--mobile-phone", "(11) 98765-4321")
    assert "12.ABC.345/01DE-35" in created.out
    data = ok("customer", "list", "--q", "12.abc.345", "--json").json
    assert [c["document"] for c in data] == ["12ABC34501DE35"]
    assert "12.ABC.345/01DE-35" in ok("customer", "list", "--q", "12abc345").out


@pytest.mark.parametrize("value, code, words", [
    ("12.ABC.345/01DE-36", "cnpj_invalid", "dígitos verificadores"),
    ("12.ABC.345/01DE+35", "document_invalid_character", "«+»"),
    ("12.ABC.345", "document_invalid", "tamanho errado"),
    ("333.333.333-33", "document_same_digits", "todos os dígitos iguais"),
])
def test_a_refused_document_names_its_reason(value, code, words):
    result = run("customer", "create", "--name", "X", "--document", value)
    assert result.code == 2
    line = next(line for line in result.err.splitlines() if line.startswith("  document: "))
    assert line.startswith(f"  document: [{code}] ") and words in line


# EXA's own rule, on the exa_* fixtures
def test_customer_update_refused_with_the_platform_reason(make_integration, make_product, make_contract):
    from agrega.contracts.services import contract_add_product
    from agrega.sva.services import sva_user_create

    integration = make_integration(auto_create_users=False)
    contract = make_contract()
    item = contract_add_product(contract=contract, product_id=make_product(integration).pk)
    sva_user_create(contract_id=contract.pk, integration_id=integration.pk, contract_product_id=item.pk)
    result = run("customer", "update", contract.customer_id, "--email", "joão@exemplo.com.br")
    assert result.code == 2
    assert result.err.startswith("erro [validation_failed]: O cliente tem usuário SVA")
    line = next(line for line in result.err.splitlines() if line.startswith("  email: "))
    assert line.startswith("  email: [email_local_not_accepted] ") and "plataforma EXA" in line
