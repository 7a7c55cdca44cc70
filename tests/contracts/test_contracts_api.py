"""/api/contracts: creation, the status actions of the rules table, products, Histórico."""

import pytest

from tests.fixtures import default_platform_only
from tests.fixtures_api import error, field_codes

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


@pytest.fixture
def contract(api, make_customer):
    customer = make_customer()
    response = api.post("/contracts", {"customer_id": customer.pk, "billing_day": 15, "description": " Casa "})
    assert response.status_code == 201, response.content
    return response.json()


def act(api, contract_id, action, body=None):
    return api.post(f"/contracts/{contract_id}/{action}", body)


def statuses(response):
    assert response.status_code == 200, response.content
    body = response.json()
    return body["status"], body["access_status"]


def test_create(contract):
    assert contract["status"] == "P" and contract["access_status"] == "AA"
    assert contract["status_display"] == "Pré-contrato"
    assert contract["access_status_display"] == "Aguardando assinatura"
    assert contract["billing_day"] == 15 and contract["description"] == "Casa"
    assert contract["customer_name"].startswith("Cliente") and contract["grants_access"] is False


def test_create_validation(api):
    response = api.post("/contracts", {"customer_id": 999999, "billing_day": 40})
    assert field_codes(response) == {"customer_id": ["customer_not_found"], "billing_day": ["billing_day_invalid"]}
    assert "customer_id" in field_codes(api.post("/contracts", {"billing_day": 10}))


def test_the_rules_table_through_the_actions(api, contract):
    pk = contract["id"]
    assert statuses(act(api, pk, "activate")) == ("A", "A")
    assert statuses(act(api, pk, "mark-overdue")) == ("A", "FA")
    assert statuses(act(api, pk, "block-automatic")) == ("A", "CA")
    assert statuses(act(api, pk, "block-manual", {"note": "pedido do cliente"})) == ("A", "CM")
    assert statuses(act(api, pk, "release")) == ("A", "A")
    assert statuses(act(api, pk, "block-manual")) == ("A", "CM")  # the body is optional
    assert statuses(act(api, pk, "release")) == ("A", "A")
    assert statuses(act(api, pk, "deactivate")) == ("I", "D")
    assert statuses(act(api, pk, "activate")) == ("A", "A")
    response = act(api, pk, "cancel")
    assert statuses(response) == ("D", "D") and response.json()["ended_at"] is not None
    assert response.json()["version"] > contract["version"]


@pytest.mark.parametrize(
    "setup, action, status, access",
    [
        (["activate"], "release", "A", "A"),
        ([], "block-manual", "P", "AA"),
        ([], "release", "P", "AA"),
        (["activate", "block-manual"], "block-manual", "A", "CM"),
        (["activate", "block-manual"], "mark-overdue", "A", "CM"),
        (["cancel"], "activate", "D", "D"),
        (["cancel"], "cancel", "D", "D"),
        (["activate", "deactivate"], "deactivate", "I", "D"),
    ],
)
def test_invalid_transitions_are_409_and_change_nothing(api, contract, setup, action, status, access):
    pk = contract["id"]
    for step in setup:
        assert act(api, pk, step).status_code == 200
    before = api.get(f"/contracts/{pk}").json()
    body = error(act(api, pk, action), 409)
    assert body["code"] == "invalid_transition"
    assert body["status"] == status and body["access_status"] == access
    assert f"status {status}" in body["message"]
    after = api.get(f"/contracts/{pk}").json()
    assert after == before


def test_unknown_contract_is_404(api):
    assert error(api.get("/contracts/999999"), 404)["code"] == "contract_not_found"
    assert error(act(api, 999999, "activate"), 404)["code"] == "contract_not_found"
    assert error(api.get("/contracts/999999/events"), 404)["code"] == "contract_not_found"
    assert error(api.get("/contracts/999999/sva-users"), 404)["code"] == "contract_not_found"
    assert error(api.post("/contracts/999999/products", {"product_id": 1}), 404)["code"] == "contract_not_found"


def test_events_are_the_history_with_author(api, contract, api_user):
    pk = contract["id"]
    act(api, pk, "activate")
    act(api, pk, "block-manual", {"note": "inadimplente"})
    act(api, pk, "release")
    events = api.walk(f"/contracts/{pk}/events", limit=2)
    assert [e["action"] for e in events] == ["create", "activate", "block_manual", "release"]
    block = events[2]
    assert block["action_display"] == "Bloqueio manual"
    assert (block["from_status"], block["from_access_status"]) == ("A", "A")
    assert (block["to_status"], block["to_access_status"]) == ("A", "CM")
    assert block["detail"] == {"note": "inadimplente"}
    assert all(e["actor_label"] == api_user.username and e["actor_id"] == api_user.pk for e in events)



def test_history_outlives_its_author(api, contract, api_user):
    """``ContractEvent.actor`` has no database constraint (docs/decisions/0006, item 8):
    deleting the user through the ORM still empties it, and the label stays."""
    from agrega.contracts.models import ContractEvent

    name = api_user.username
    api_user.delete()
    event = ContractEvent.objects.get(contract_id=contract["id"])
    assert (event.action, event.actor_id, event.actor_label) == ("create", None, name)

def test_products_add_and_remove(api, contract, platform_integration, make_product, sandbox_kit):
    pk = contract["id"]
    sva = make_product(platform_integration)
    plain = make_product(name="Internet", fiscal_class="SCM")
    response = api.post(f"/contracts/{pk}/products", {"product_id": sva.pk})
    assert response.status_code == 201, response.content
    item = response.json()
    assert item["kind"] == "SVA" and item["product_id"] == sva.pk and item["removed"] is False
    assert item["sva_package_code"] == sandbox_kit.package_codes[0] and item["price"] is None
    other = api.post(f"/contracts/{pk}/products", {"product_id": plain.pk, "price": "79.9"}).json()
    assert other["kind"] == "OUTRO" and other["price"] == "79.90"

    response = api.delete(f"/contracts/{pk}/products/{other['id']}")
    assert response.status_code == 200, response.content
    assert response.json()["removed"] is True and response.json()["removed_at"] is not None
    detail = api.get(f"/contracts/{pk}").json()
    assert [(p["id"], p["removed"]) for p in detail["products"]] == [(item["id"], False), (other["id"], True)]
    response = api.delete(f"/contracts/{pk}/products/{other['id']}")
    assert error(response, 404)["code"] == "contract_product_not_found"
    actions = [e["action"] for e in api.walk(f"/contracts/{pk}/events", limit=50)]
    assert actions == ["create", "add_product", "add_product", "remove_product"]


def test_add_product_validation(api, contract, make_product):
    pk = contract["id"]
    plain = make_product()
    inactive = make_product(active=False)
    assert field_codes(api.post(f"/contracts/{pk}/products", {"product_id": 999999})) == {
        "product_id": ["product_not_found"]}
    assert field_codes(api.post(f"/contracts/{pk}/products", {"product_id": plain.pk, "kind": "SVA"})) == {
        "kind": ["product_not_sva"]}
    assert field_codes(api.post(f"/contracts/{pk}/products", {"product_id": plain.pk, "kind": "X"})) == {
        "kind": ["kind_invalid"]}
    assert field_codes(api.post(f"/contracts/{pk}/products", {"product_id": plain.pk, "price": "-3"})) == {
        "price": ["amount_invalid"]}
    assert field_codes(api.post(f"/contracts/{pk}/products", {"product_id": inactive.pk})) == {
        "product_id": ["product_inactive"]}
    act(api, pk, "cancel")
    response = api.post(f"/contracts/{pk}/products", {"product_id": plain.pk})
    assert error(response, 409)["code"] == "contract_cancelled"


def test_detail_summarises_the_sva_users(api, contract, platform_integration, make_product):
    pk = contract["id"]
    item = api.post(f"/contracts/{pk}/products", {"product_id": make_product(platform_integration).pk}).json()
    assert api.get(f"/contracts/{pk}").json()["sva_users"] == []
    act(api, pk, "activate")
    users = api.get(f"/contracts/{pk}").json()["sva_users"]
    assert len(users) == 1
    user = users[0]
    assert user["contract_product_id"] == item["id"] and user["integration_id"] == platform_integration.pk
    assert user["desired_state"] == "active" and user["confirmed_state"] == "absent"
    assert user["sync_status"] == "pending" and user["registration_problems"] == []
    act(api, pk, "block-manual")
    assert api.get(f"/contracts/{pk}").json()["sva_users"][0]["desired_state"] == "blocked"


def test_list_filters(api, make_customer):
    ana, bia = make_customer(), make_customer()
    c1 = api.post("/contracts", {"customer_id": ana.pk}).json()
    c2 = api.post("/contracts", {"customer_id": ana.pk}).json()
    c3 = api.post("/contracts", {"customer_id": bia.pk}).json()
    act(api, c2["id"], "activate")
    act(api, c3["id"], "activate")
    act(api, c3["id"], "mark-overdue")

    def ids(**params):
        return [c["id"] for c in api.get("/contracts", params).json()["items"]]

    assert ids() == [c1["id"], c2["id"], c3["id"]]
    assert ids(status="P") == [c1["id"]]
    assert ids(status="A") == [c2["id"], c3["id"]]
    assert ids(access_status="FA") == [c3["id"]]
    assert ids(status="A", access_status="A") == [c2["id"]]
    assert ids(customer_id=ana.pk) == [c1["id"], c2["id"]]
    assert [c["id"] for c in api.walk("/contracts", limit=1)] == [c1["id"], c2["id"], c3["id"]]
