"""/api/customers: registration rules through the API, filters and keyset pagination."""

import pytest

from agrega.core.br import make_cnpj, make_cpf

from tests.fixtures_api import error, field_codes

pytestmark = pytest.mark.django_db


def customer_body(**kw):
    body = {
        "name": "Maria da Silva",
        "document": "529.982.247-25",
        "email": "Maria@Example.com.br",
        "mobile_phone": "(11) 98765-4321",
        "city": "Campinas",
        "state": "sp",
        "zip_code": "13010-000",
    }
    body.update(kw)
    return body


def test_create_normalises_and_formats(api):
    response = api.post("/customers", customer_body())
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["document"] == "52998224725"
    assert body["document_formatted"] == "529.982.247-25"
    assert body["person_type"] == "F"
    assert body["mobile_phone"] == "+5511987654321"
    assert body["mobile_phone_formatted"] == "(11) 98765-4321"
    assert body["email"] == "Maria@example.com.br"
    assert body["state"] == "SP" and body["zip_code"] == "13010000"
    assert api.get(f"/customers/{body['id']}").json() == body


def test_create_company_with_cnpj(api):
    body = api.post("/customers", customer_body(name="Provedor Ltda", document="11.222.333/0001-81")).json()
    assert body["person_type"] == "J"
    assert body["document_formatted"] == "11.222.333/0001-81"


@pytest.mark.parametrize(
    "field, value, code",
    [
        ("document", "529.982.247-24", "cpf_invalid"),
        ("document", "11.222.333/0001-82", "cnpj_invalid"),
        ("document", "1234567", "document_invalid"),
        ("document", "", "document_required"),
        ("mobile_phone", "(11) 3333-4444", "mobile_not_mobile"),
        ("mobile_phone", "(11) 12345", "mobile_invalid"),
        ("email", "maria@", "email_invalid"),
        ("state", "XX", "state_invalid"),
        ("zip_code", "123", "zip_code_invalid"),
        ("name", "  ", "name_required"),
    ],
)
def test_create_names_the_invalid_field(api, field, value, code):
    response = api.post("/customers", customer_body(**{field: value}))
    assert error(response, 422)["code"] == "validation_failed"
    assert field_codes(response) == {field: [code]}
    assert api.get("/customers").json()["items"] == []


def test_every_invalid_field_is_reported_at_once(api):
    response = api.post("/customers", customer_body(document="111", email="x@", mobile_phone="3333-4444"))
    assert set(field_codes(response)) == {"document", "email", "mobile_phone"}
    assert "document" in error(response, 422)["message"]


def test_missing_required_field_is_named(api):
    body = customer_body()
    del body["document"]
    response = api.post("/customers", body)
    assert error(response, 422)["code"] == "invalid_input"
    assert "document" in field_codes(response)


def test_duplicate_document_is_a_conflict(api):
    assert api.post("/customers", customer_body()).status_code == 201
    response = api.post("/customers", customer_body(name="Outra", document="52998224725"))
    assert error(response, 409)["code"] == "document_in_use"
    assert field_codes(response, 409) == {"document": ["document_in_use"]}


def test_get_unknown_customer_is_404(api):
    assert error(api.get("/customers/999999"), 404)["code"] == "customer_not_found"
    assert error(api.patch("/customers/999999", {"city": "X"}), 404)["code"] == "customer_not_found"


def test_patch_changes_only_what_is_sent(api):
    created = api.post("/customers", customer_body()).json()
    response = api.patch(f"/customers/{created['id']}", {"city": "Sorocaba", "mobile_phone": "11 91234-5678"})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["city"] == "Sorocaba" and body["mobile_phone"] == "+5511912345678"
    assert body["name"] == created["name"] and body["email"] == created["email"]
    assert body["document"] == created["document"]


def test_patch_invalid_changes_nothing(api):
    created = api.post("/customers", customer_body()).json()
    response = api.patch(f"/customers/{created['id']}", {"city": "Sorocaba", "document": "52998224724"})
    assert field_codes(response) == {"document": ["cpf_invalid"]}
    assert api.get(f"/customers/{created['id']}").json()["city"] == "Campinas"


def test_patch_to_a_document_in_use_is_a_conflict(api):
    api.post("/customers", customer_body())
    other = api.post("/customers", customer_body(document=make_cpf(77))).json()
    response = api.patch(f"/customers/{other['id']}", {"document": "529.982.247-25"})
    assert error(response, 409)["code"] == "document_in_use"


def test_list_filters(api):
    ana = api.post("/customers", customer_body(name="Ana Souza", document=make_cpf(1), email="ana@provedor.net",
                                                city="Campinas", state="SP")).json()
    bia = api.post("/customers", customer_body(name="Beatriz Lima", document=make_cnpj(2), email="bia@x.com",
                                                city="Curitiba", state="PR")).json()

    def ids(**params):
        return [c["id"] for c in api.get("/customers", params).json()["items"]]

    assert ids() == [ana["id"], bia["id"]]
    assert ids(q="souza") == [ana["id"]]
    assert ids(q="PROVEDOR.NET") == [ana["id"]]
    assert ids(q=bia["document_formatted"]) == [bia["id"]]  # formatted or not, digits match
    assert ids(q=bia["document"][:6]) == [bia["id"]]
    assert ids(document=ana["document_formatted"]) == [ana["id"]]
    assert ids(city="curitiba") == [bia["id"]]
    assert ids(state="sp") == [ana["id"]]
    assert ids(q="ninguém") == []


def test_pagination_walks_every_item_exactly_once(api):
    created = [api.post("/customers", customer_body(document=make_cpf(100 + i))).json()["id"] for i in range(7)]
    first = api.get("/customers", {"limit": 3}).json()
    assert len(first["items"]) == 3 and first["next_cursor"] == created[2]
    assert [c["id"] for c in api.walk("/customers", limit=3)] == created
    assert [c["id"] for c in api.walk("/customers", limit=7)] == created
    assert [c["id"] for c in api.walk("/customers", limit=500)] == created
    assert api.get("/customers", {"cursor": created[-1]}).json() == {"items": [], "next_cursor": None}


@pytest.mark.parametrize("limit", [0, 501, "x"])
def test_limit_out_of_range_is_refused(api, limit):
    assert error(api.get("/customers", {"limit": limit}), 422)["code"] == "invalid_input"
