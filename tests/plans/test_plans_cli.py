"""``agrega plan …`` and ``agrega contract create --plan``."""

import pytest
from django.core.management.base import CommandError

from agrega.contracts.models import Contract
from tests.fixtures import default_platform_only
from tests.cli.helpers import ok, run

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


def test_plan_commands_and_contract_from_plan(make_platform_integration, make_product, make_customer, sandbox_kit):
    integration = make_platform_integration(auto_create_users=True)
    internet = make_product(name="Internet 1 Giga", price="149.90", fiscal_class="SCM")
    exa = make_product(integration, name="EXA Família", price="19.90", package=sandbox_kit.package_codes[1])

    created = ok("plan", "create", "--name", "Giga Família", "--description", "1 Giga + EXA",
                 "--item", f"{internet.pk}:129,90", "--json").json
    assert [(i["product_id"], i["price"]) for i in created["items"]] == [(internet.pk, "129.90")]
    shown = ok("plan", "add-item", created["id"], "--product", exa.pk).out
    assert "EXA Família" in shown and "R$ 19,90 (do produto)" in shown and "R$ 149,80" in shown
    listing = ok("plan", "list").out
    assert "Giga Família" in listing and "1 plano(s)." in listing

    result = run("plan", "add-item", created["id"], "--product", exa.pk)
    assert result.code == 2 and "erro [plan_product_exists]" in result.err
    with pytest.raises(CommandError, match="PRODUTO ou PRODUTO:VALOR"):  # argparse refuses (exit 2 in a shell)
        run("plan", "create", "--name", "X", "--item", "abc")

    customer = make_customer()
    contract = ok("contract", "create", "--customer", customer.pk, "--plan", created["id"], "--json").json
    assert [(p["product_id"], str(p["price"])) for p in contract["products"]] == [
        (internet.pk, "129.90"), (exa.pk, "19.90")]
    assert Contract.objects.get(pk=contract["id"]).sales_plan_id == created["id"]

    ok("plan", "update", created["id"], "--inactive")
    result = run("contract", "create", "--customer", customer.pk, "--plan", created["id"])
    assert result.code == 2 and "erro [plan_inactive]" in result.err
    result = run("plan", "delete", created["id"])
    assert result.code == 2 and "erro [plan_in_use]" in result.err
