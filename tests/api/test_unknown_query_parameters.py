"""A query parameter the operation does not declare is refused (422 ``unknown_parameter``),
never ignored: a client that misspells a filter (``due_from`` for ``period``) would
otherwise get every row and think it filtered. The operations come from the served
OpenAPI document (the list of what each one accepts), so an operation added later is
covered without touching this file."""

from __future__ import annotations

import re

import pytest

from agrega.api import api as ninja_api

DOCUMENT = ninja_api.get_openapi_schema()


def every_operation():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            declared = sorted(p["name"] for p in operation.get("parameters", []) if p.get("in") == "query")
            yield pytest.param(method, path, declared, id=f"{method} {path}")


CASES = list(every_operation())


def test_the_document_has_operations_with_and_without_query_parameters():
    with_query = [case for case in CASES if case.values[2]]
    assert len(with_query) > 10 and len(CASES) - len(with_query) > 50


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "declared"), CASES)
def test_an_undeclared_query_parameter_is_refused(api, method, path, declared):
    url = re.sub(r"\{[^}]+\}", "1", path).removeprefix("/api") + "?parametro_inexistente=1"
    body = {"content_type": "application/json", "data": "{}"} if method in ("post", "put", "patch") else {}
    response = getattr(api.client, method)("/api" + url, **body, **api._headers())
    if response.status_code in (401, 403):  # refused before the operation ran (role, webhook secret)
        return
    assert response.status_code == 422, (response.status_code, response.content[:300])
    error = response.json()["error"]
    assert error["code"] == "unknown_parameter"
    assert error["message"] == "Parâmetros desconhecidos na consulta: parametro_inexistente."
    [field_error] = error["fields"]["parametro_inexistente"]
    assert field_error["code"] == "unknown_parameter"
    assert field_error["message"].startswith("parâmetro desconhecido nesta operação; aceitos: ")
    for name in declared:
        assert name in field_error["message"]


@pytest.mark.django_db
def test_declared_parameters_still_filter_and_a_misspelt_one_is_named(api, make_customer):
    make_customer(name="Zélia Parâmetro")
    assert api.get("/customers?q=Zélia&limit=5").status_code == 200
    response = api.get("/invoices?due_from=2026-01-01&status=A&limite=3")
    assert response.status_code == 422
    error = response.json()["error"]
    assert sorted(error["fields"]) == ["due_from", "limite"]
    assert "contract_id" in error["fields"]["due_from"][0]["message"]
    assert "status" not in error["fields"]
    # nothing to refuse: an operation without query parameters answers as before
    assert api.get("/customers/999999").status_code == 404
