"""The alphanumeric CNPJ and the named reasons a CPF/CNPJ is refused, through the API:
create, edit, the ``document`` filter and the ``q`` search, manual SVA users."""

import pytest

from tests.fixtures_api import error, field_codes
from .test_customers_api import customer_body

pytestmark = pytest.mark.django_db

ALNUM_CNPJ = "12ABC34501DE35"  # the Receita Federal's example


def test_alphanumeric_cnpj_typed_in_lower_case_with_punctuation(api):
    response = api.post("/customers", customer_body(name="Provedor Novo Ltda", document="12.abc.345/01de-35"))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["document"] == ALNUM_CNPJ
    assert body["document_formatted"] == "12.ABC.345/01DE-35"
    assert body["person_type"] == "J"
    # the same CNPJ typed another way is the same customer
    again = api.post("/customers", customer_body(name="Outro", document=" 12 ABC 345 01DE 35 "))
    assert field_codes(again, 409) == {"document": ["document_in_use"]}


@pytest.mark.parametrize(
    "value, code, words",
    [
        ("12.ABC.345/01DE-36", "cnpj_invalid", "dígitos verificadores"),
        ("529.982.247-24", "cpf_invalid", "dígitos verificadores"),
        ("12.ABC.345/01DE-3", "document_invalid", "tamanho errado (13 caracteres)"),
        ("12.ABC.345/01DE-35X", "document_invalid", "tamanho errado (15 caracteres)"),
        ("12.ABC.345/01DE_35", "document_invalid_character", "caractere não permitido «_»"),
        ("12,ABC,345/01DE-35", "document_invalid_character", "caractere não permitido «,»"),
        ("12.ÁBC.345/01DE-35", "document_invalid_character", "caractere não permitido «Á»"),
        ("529.982.247-2A", "document_invalid_character", "o CPF tem só números"),
        ("12.ABC.345/01DE-3A", "document_invalid_character", "dígitos verificadores) são números"),
        ("111.111.111-11", "document_same_digits", "todos os dígitos iguais"),
        ("00.000.000/0000-00", "document_same_digits", "todos os dígitos iguais"),
    ],
)
def test_each_refusal_names_its_reason(api, value, code, words):
    response = api.post("/customers", customer_body(document=value))
    err = error(response, 422)
    assert field_codes(response) == {"document": [code]}
    assert words in err["fields"]["document"][0]["message"]
    assert api.get("/customers").json()["items"] == []


def test_patch_to_an_alphanumeric_cnpj(api):
    created = api.post("/customers", customer_body()).json()
    body = api.patch(f"/customers/{created['id']}", {"document": "12abc34501de35"}).json()
    assert (body["document"], body["person_type"], body["document_formatted"]) == (
        ALNUM_CNPJ, "J", "12.ABC.345/01DE-35")


def test_document_filter_and_search_take_any_typing(api):
    company = api.post("/customers", customer_body(name="Provedor Novo Ltda", document=ALNUM_CNPJ)).json()
    person = api.post("/customers", customer_body(name="Maria", document="52998224725",
                                                  email="m2@example.com.br")).json()

    def ids(params):
        response = api.get("/customers", params)
        assert response.status_code == 200, response.content
        return [c["id"] for c in response.json()["items"]]

    for typed in ("12.abc.345/01de-35", "12ABC34501DE35", "12 abc 345 01de 35"):
        assert ids({"document": typed}) == [company["id"]]
    assert ids({"document": "529.982.247-25"}) == [person["id"]]
    assert ids({"q": "12.abc"}) == [company["id"]]
    assert ids({"q": "abc.345/01"}) == [company["id"]]
    assert ids({"q": "982.247"}) == [person["id"]]
    assert ids({"q": "provedor"}) == [company["id"]]


@pytest.mark.parametrize("value, code", [("12.ABC.345/01DE-36", "cnpj_invalid"), ("12#ABC", "document_invalid_character"),
                                         ("1234", "document_invalid")])
def test_an_invalid_document_filter_is_refused_with_its_reason(api, value, code):
    response = api.get("/customers", {"document": value})
    assert field_codes(response) == {"document": [code]}
