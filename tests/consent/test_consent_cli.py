"""``agrega consent record|revoke|list|show|report``: thin over the services, JSON with
--json, exit 2 with ``erro [code]`` on refusal."""

import pytest

from agrega.contracts.services import contract_activate, contract_add_product
from tests.fixtures import default_platform_only
from tests.cli.helpers import ok, run

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


@pytest.fixture
def setup(make_platform_integration, make_product, make_contract, django_user_model):
    django_user_model.objects.create_user("atendente", password="x")
    product = make_product(make_platform_integration(auto_create_users=False), name="EXA Segurança")
    contract = make_contract()
    contract_add_product(contract=contract, product_id=product.pk)
    contract_activate(contract=contract)
    return contract, product


def test_record_show_list_revoke_report(setup):
    contract, product = setup
    report = ok("consent", "report", "--json").json
    assert [r["contract_id"] for r in report] == [contract.pk]
    assert "1 produto(s) SVA cobrado(s) sem consentimento." in ok("consent", "report").out

    created = ok("consent", "record", "--contract", contract.pk, "--product", product.pk, "--channel", "whatsapp",
                 "--evidence", "conversa 123", "--at", "2025-05-02T10:00", "--as", "atendente", "--json").json
    assert created["valid"] and created["recorded_by"] == "atendente" and created["channel"] == "whatsapp"
    text = ok("consent", "show", created["id"]).out
    assert "WhatsApp" in text and "conversa 123" in text and "02/05/2025 10:00" in text
    assert ok("consent", "report").out.strip() == "Nenhuma cobrança de SVA sem consentimento."
    assert [c["id"] for c in ok("consent", "list", "--contract", contract.pk, "--json").json] == [created["id"]]

    revoked = ok("consent", "revoke", created["id"], "--reason", "engano", "--json").json
    assert revoked["valid"] is False and revoked["revoke_reason"] == "engano"
    assert [r["contract_id"] for r in ok("consent", "report", "--json").json] == [contract.pk]


def test_refusals_exit_2(setup):
    contract, product = setup
    result = run("consent", "record", "--contract", contract.pk, "--product", product.pk, "--channel", "fax",
                 "--evidence", "x")
    assert result.code == 2 and "erro [validation_failed]" in result.err and "channel_invalid" in result.err
    result = run("consent", "revoke", 999999)
    assert result.code == 2 and "erro [consent_not_found]" in result.err
