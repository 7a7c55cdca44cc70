"""Strings bounded and clean, types strict, bodies bounded — in the API's error shape."""

from __future__ import annotations

import json

import pytest

from agrega.core.br import make_cpf

from tests.fixtures_api import error, field_codes

pytestmark = pytest.mark.django_db


def customer(**kw) -> dict:
    return {"name": "Maria Souza", "document": make_cpf(4242), **kw}


@pytest.mark.parametrize(("field", "value", "code"), [
    ("name", "x" * 100_000, "text_too_long"),
    ("name", "x" * 201, "text_too_long"),
    ("street", "r" * 201, "text_too_long"),
    ("number", "1" * 21, "text_too_long"),
    ("name", "Maria\x00Souza", "text_control_chars"),
    ("name", "Maria\x1b[31m", "text_control_chars"),
    ("name", "Maria\nSouza", "text_control_chars"),
    ("city", "Campinas\u2028", "text_control_chars"),
    ("name", "\u200b\u200b", "text_blank"),
    ("name", "\u00a0\u3164\ufeff", "text_blank"),
    ("district", "\u200d", "text_blank"),
])
def test_customer_free_text_is_bounded_and_clean(api, field, value, code):
    response = api.post("/customers", customer(**{field: value}))
    assert code in field_codes(response)[field]


def test_text_is_trimmed_of_invisible_characters_and_fits_after_trimming(api):
    body = api.post("/customers", customer(name="\u200b Maria Souza\u00a0", city=" " + "c" * 100 + " ")).json()
    assert body["name"] == "Maria Souza" and body["city"] == "c" * 100


def test_control_characters_are_refused_in_any_field_and_any_query(api):
    # a field without a text rule of its own (the document) and a search: the parser's backstop
    assert field_codes(api.post("/customers", customer(document="529\x00982"))) == {
        "document": ["text_control_chars"]}
    response = api.client.get("/api/customers?q=a%00b", **api._headers())
    assert field_codes(response) == {"q": ["text_control_chars"]}
    response = api.client.get("/api/contracts?status=%1B", **api._headers())
    assert response.status_code == 422


@pytest.mark.parametrize("value", [True, 1.0, "1", [1]])
def test_an_id_in_a_body_is_an_integer_and_nothing_else(api, value):
    response = api.post("/products", {"name": "Produto", "sva_integration_id": value})
    assert "sva_integration_id" in field_codes(response)


@pytest.mark.parametrize("value", [1, 0, "true", "sim"])
def test_a_boolean_in_a_body_is_a_json_boolean(api, value):
    response = api.post("/products", {"name": "Produto", "active": value})
    assert field_codes(response) == {"active": ["bool_type"]}


def test_a_huge_integer_in_a_body_is_422_not_500(api):
    response = api.post("/products", {"name": "Produto", "sva_integration_id": 10**30})
    assert field_codes(response) == {"sva_integration_id": ["value_out_of_range"]}


def test_a_body_over_the_limit_is_413_in_the_error_shape(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    big = json.dumps(customer(name="x" * 20_000))
    for headers in ({}, {"HTTP_IDEMPOTENCY_KEY": "chave-1"}):  # whoever reads the body first
        response = api.client.post("/api/customers", big, content_type="application/json",
                                   **api._headers(), **headers)
        assert error(response, 413)["code"] == "request_too_large"
        assert response["Content-Type"].startswith("application/json")


def test_too_many_form_fields_is_413_in_the_error_shape(api, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    data = "&".join(f"f{i}=1" for i in range(50))
    response = api.client.post("/api/imports", data, content_type="application/x-www-form-urlencoded",
                               **api._headers())
    assert error(response, 413)["code"] == "request_too_large"


def test_the_openapi_document_bounds_free_text_from_the_models(api):
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["CustomerCreateIn"]["properties"]["name"]["maxLength"] == 200
    assert schemas["CustomerCreateIn"]["properties"]["number"]["maxLength"] == 20
    assert schemas["PlanCreateIn"]["properties"]["name"]["maxLength"] == 120
