"""sva_effects_of: what a contract action would do to each SVA user (confirmation pages)."""

from __future__ import annotations

import pytest

from agrega.contracts import services
from agrega.contracts.choices import AccessStatus as AS
from agrega.contracts.choices import ContractStatus as CS
from agrega.integrations.connectors.registry import connector_class, sandbox_platforms
from agrega.sva.selectors import sva_effects_of

from tests.fixtures import default_platform_only

# what a contract action does to SVA users is Agrega's rule: on every platform for the
# rules table, once (the default platform's) for what a platform's data rules add to it
sva_platform = default_platform_only()


def _kinds(effects):
    return [e.kind for e in effects]


@pytest.mark.parametrize("sva_platform", sandbox_platforms())
def test_effects_follow_the_rules_table(make_platform_integration, make_product, make_customer, make_contract):
    integration = make_platform_integration(auto_create_users=True)
    label = connector_class(integration.platform).label  # the effects name the platform by its label
    product = make_product(integration, name="Segurança Básico")
    customer = make_customer(email="efeito@example.com.br")
    contract = make_contract(customer)
    services.contract_add_product(contract=contract, product_id=product.pk)

    activation = sva_effects_of(contract, to_status=CS.ACTIVE, to_access_status=AS.ACTIVE)
    assert _kinds(activation) == ["create"]
    assert "criado automaticamente" in activation[0].message and "efeito@example.com.br" in activation[0].message
    assert sva_effects_of(contract, to_status=CS.CANCELLED, to_access_status=AS.DISABLED) == []

    services.contract_activate(contract=contract)
    contract.refresh_from_db()
    block = sva_effects_of(contract, to_status=CS.ACTIVE, to_access_status=AS.MANUAL_BLOCK)
    assert [e.message for e in block] == [
        f"Usuário SVA de Segurança Básico (efeito@example.com.br): ficará bloqueado na {label}"]
    same = sva_effects_of(contract, to_status=CS.ACTIVE, to_access_status=AS.ACTIVE)
    assert _kinds(same) == ["none"] and "continua ativo" in same[0].message

    services.contract_mark_overdue(contract=contract)
    contract.refresh_from_db()
    release = sva_effects_of(contract, to_status=CS.ACTIVE, to_access_status=AS.ACTIVE)
    assert _kinds(release) == ["activate"] and release[0].message.endswith(f"será ativado na {label}")


def test_effects_name_missing_fields_and_manual_integrations(make_platform_integration, make_product, make_customer,
                                                             make_contract, platform_account):
    auto = make_platform_integration(auto_create_users=True)
    manual = make_platform_integration(auto_create_users=False, prefix=platform_account.prefix + "x", name="manual")
    customer = make_customer(mobile_phone="")
    contract = make_contract(customer)
    services.contract_add_product(contract=contract, product_id=make_product(auto, name="Auto").pk)
    services.contract_add_product(contract=contract, product_id=make_product(manual, name="Manual").pk)

    effects = sva_effects_of(contract, to_status=CS.ACTIVE, to_access_status=AS.ACTIVE)
    assert _kinds(effects) == ["pending", "manual"]
    assert "Telefone celular no cadastro do cliente: Informe o telefone celular." in effects[0].message
    assert "manualmente na aba SVA" in effects[1].message

    services.contract_activate(contract=contract)  # the auto user is kept with its problem
    contract.refresh_from_db()
    effects = sva_effects_of(contract, to_status=CS.ACTIVE, to_access_status=AS.MANUAL_BLOCK)
    assert _kinds(effects) == ["pending", "manual"]
    assert "continua pendente" in effects[0].message
