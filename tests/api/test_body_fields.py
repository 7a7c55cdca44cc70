"""Request bodies refuse a field the operation does not know (a misspelt field must not
be silently dropped), and a body's field errors read in Portuguese, whatever pydantic's
own English says. The operations come from the served OpenAPI document, so a body added
later is covered without touching this file."""

from __future__ import annotations

import re

import pytest

from agrega.api import api as ninja_api
from agrega.core.api import FIELD_MESSAGES, field_message

DOCUMENT = ninja_api.get_openapi_schema()
SCHEMAS = DOCUMENT["components"]["schemas"]


def json_body_operations():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content", {})
            schema = (content.get("application/json") or {}).get("schema")
            if schema and "$ref" in schema:
                yield pytest.param(method, path, SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]],
                                   id=f"{method} {path}")


CASES = list(json_body_operations())


def test_the_document_has_bodies_to_check():
    names = {(case.values[0], case.values[1]) for case in CASES}
    assert ("post", "/api/contracts/{contract_id}/pix-automatico") in names
    assert ("post", "/api/customers") in names
    assert len(CASES) > 30


@pytest.mark.parametrize(("method", "path", "schema"), CASES)
def test_the_document_says_no_other_fields(method, path, schema):
    # what a client generator reads: the same rule as the server's
    assert schema.get("additionalProperties") is False, schema


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "schema"), CASES)
def test_an_unknown_field_is_refused_in_portuguese(api, method, path, schema):
    url = re.sub(r"\{[^}]+\}", "1", path)
    response = getattr(api.client, method)(url, '{"campo_inexistente": 1}', content_type="application/json",
                                           **api._headers())
    if response.status_code in (403, 404, 409):  # the operation refused before reading the body
        return
    assert response.status_code == 422, (response.status_code, response.content[:300])
    fields = response.json()["error"]["fields"]
    assert fields["campo_inexistente"] == [{"code": "extra_forbidden",
                                            "message": "campo desconhecido nesta operação."}]
    for errors in fields.values():
        for error in errors:
            assert not re.search(r"\b(Field|required|should|Input|valid)\b", error["message"]), error


@pytest.mark.django_db
def test_a_missing_field_and_a_wrong_type_read_in_portuguese(api, make_customer):
    contract = api.post("/contracts", {"customer_id": make_customer().pk, "billing_day": 10}).json()
    response = api.post(f"/contracts/{contract['id']}/products", {"product_id": "um"})
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["product_id"] == [
        {"code": "int_type", "message": "deve ser um número inteiro (não um texto, decimal ou booleano)."}]
    response = api.post("/customers", {"document": "52998224725"})
    assert response.status_code == 422
    assert response.json()["error"]["fields"]["name"] == [{"code": "missing", "message": "campo obrigatório."}]


def test_every_known_type_formats_without_its_context():
    # a type whose message names a limit still reads well when pydantic gives no ctx
    for kind in FIELD_MESSAGES:
        assert field_message({"type": kind, "msg": "English"}).endswith(".")
    assert field_message({"type": "string_too_long", "ctx": {"max_length": 5}}) == "longo demais (máximo 5 caracteres)."
    assert field_message({"type": "enum", "msg": "Input should be 'a' or 'b'", "ctx": {"expected": "'a' or 'b'"}}) == \
        "valor não aceito; aceitos: 'a' ou 'b'."
    assert field_message({"type": "value_error", "msg": "Value error, CPF inválido."}) == "CPF inválido."
    assert field_message({"type": "something_new", "msg": "Some English text"}) == "valor inválido."
