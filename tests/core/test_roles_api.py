"""Roles over the API: the same capability table as the pages (agrega.core.roles)."""

import pytest
from django.contrib.auth import get_user_model

from agrega.core.models import ApiToken
from agrega.core.roles import assign_role

from tests.fixtures_api import ApiClient

pytestmark = pytest.mark.django_db


def client_for(role: str | None) -> ApiClient:
    user = get_user_model().objects.create_user(f"u-{role or 'nenhum'}".replace(" ", "-"), password="x" * 12)
    if role:
        assign_role(user, role)
    return ApiClient(ApiToken.issue(user=user, name="t")[1])


CUSTOMER = {"name": "Cliente Papel", "document": "529.982.247-25", "email": "p@example.com.br"}
INTEGRATION = {"name": "X", "platform": "exa", "base_url": "http://127.0.0.1:9", "prefix": "papel",
               "credentials": {"client_id": "a", "client_secret": "b"}}


@pytest.mark.parametrize(
    "role, read, operate, configure",
    [
        ("administrador", 200, 201, 201),
        ("operador", 200, 201, 403),
        ("somente leitura", 200, 403, 403),
        (None, 403, 403, 403),
    ],
)
def test_capabilities_by_role(role, read, operate, configure):
    api = client_for(role)
    assert api.get("/customers").status_code == read
    assert api.get("/integrations").status_code == read
    assert api.post("/customers", CUSTOMER).status_code == operate
    assert api.post("/integrations", INTEGRATION).status_code == configure
    forbidden = [r for r in api.responses if r.status_code == 403]
    for response in forbidden:
        assert response.json()["error"]["code"] == "forbidden"


def test_readonly_cannot_act_on_contracts_or_sva_users():
    api = client_for("somente leitura")
    assert api.post("/contracts", {"customer_id": 1}).status_code == 403
    assert api.post("/contracts/1/activate").status_code == 403
    assert api.delete("/sva-users/1").status_code == 403
    assert api.post("/sva-users/1/sync").status_code == 403


def test_operator_cannot_change_products_or_check_integrations():
    api = client_for("operador")
    assert api.post("/products", {"name": "P", "price": "1"}).status_code == 403
    assert api.post("/integrations/1/check").status_code == 403
    assert api.patch("/integrations/1", {"name": "Y"}).status_code == 403
