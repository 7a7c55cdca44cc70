"""Every typed query parameter of the API refuses a value outside its type with 422 and
the error shape — never an empty list, never a 500. The operations and their parameters
come from the served OpenAPI document, so a filter added later is covered without
touching this file; a string filter that names a closed set must be declared as an enum
(the last test), or it would escape."""

from __future__ import annotations

import re

import pytest

from agrega.api import api as ninja_api

DOCUMENT = ninja_api.get_openapi_schema()
SCHEMAS = DOCUMENT["components"]["schemas"]


def _resolve(schema: dict) -> dict:
    """The parameter's own schema: ``anyOf [X, null]`` and ``$ref`` unwrapped."""
    if "anyOf" in schema:
        schema = next(s for s in schema["anyOf"] if s.get("type") != "null")
    if "$ref" in schema:
        schema = SCHEMAS[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def bad_values(schema: dict) -> list[str]:
    """Values the parameter's type refuses (as a client would send them, in the URL)."""
    if "enum" in schema or "const" in schema:
        return ["__desconhecido__", "x" * 300]
    kind = schema.get("type")
    if kind == "integer":
        return ["abc", "1.5", "true", "", "-1", "99999999999999999999999"]
    if kind == "boolean":
        return ["talvez", "2"]
    if schema.get("format") == "date":
        return ["2026-02-30", "ontem"]
    if "pattern" in schema:
        return ["abc", "2026-1"]
    return []


def typed_query_parameters():
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                for value in bad_values(_resolve(parameter["schema"])):
                    yield pytest.param(method, path, parameter["name"], value,
                                       id=f"{method} {path} {parameter['name']}={value[:20]}")


CASES = list(typed_query_parameters())


def test_the_document_has_typed_filters_to_check():
    # the enumeration must find the filters (a broken walk would pass every case vacuously)
    names = {(case.values[1], case.values[2]) for case in CASES}
    assert ("/api/contracts", "status") in names
    assert ("/api/contracts", "customer_id") in names
    assert ("/api/invoices", "period") in names
    assert ("/api/integrations", "platform") in names
    assert len(CASES) > 100


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path", "name", "value"), CASES)
def test_bad_filter_value_is_422(api, method, path, name, value):
    url = re.sub(r"\{[^}]+\}", "1", path).removeprefix("/api")
    query = f"{name}={value}"
    if method == "get":
        response = api.client.get(f"/api{url}?{query}", **api._headers())
    else:
        response = getattr(api.client, method)(f"/api{url}?{query}", "{}", content_type="application/json",
                                               **api._headers())
    assert response.status_code == 422, (response.status_code, response.content[:300])
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert name in error["fields"], error


# Query parameters that are free text by nature (a search, a name, a code without a
# closed list), or checked by their service with a code of their own (the revenue
# report's periods: 422 ``period_invalid``, tests/billing/test_revenue_report.py); any
# other string parameter must be an enum or carry a pattern.
FREE_TEXT_PARAMETERS = {"q", "document", "city", "reason", "period", "from", "to"}


def test_every_string_filter_is_closed_or_known_free_text():
    loose = []
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            for parameter in operation.get("parameters", []):
                schema = _resolve(parameter["schema"])
                if (parameter["in"] == "query" and schema.get("type") == "string"
                        and not {"enum", "const", "pattern"} & set(schema) and parameter["name"] not in FREE_TEXT_PARAMETERS):
                    loose.append(f"{method} {path} {parameter['name']}")
    assert loose == []


@pytest.mark.django_db
def test_known_filter_values_still_answer(api):
    for path, query in (("/contracts", "status=A&access_status=A"), ("/customers", "state=sp"),
                        ("/integrations", "platform=exa"), ("/invoices", "period=2026-11"),
                        ("/imports", "status=done"), ("/campaigns", "status=draft")):
        response = api.client.get(f"/api{path}?{query}", **api._headers())
        assert response.status_code == 200, (path, response.content[:300])
