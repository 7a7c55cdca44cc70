"""/api/products, including the SVA tab checked against the sandbox's catalogue."""

import pytest

from tests.fixtures import default_packages, default_platform_only
from tests.fixtures_api import error, field_codes

sva_platform = default_platform_only()
PACKAGES = default_packages()

pytestmark = pytest.mark.django_db


def sva_body(integration, package=PACKAGES[0], **kw):
    body = {"name": "EXA Segurança", "price": "9.90", "fiscal_class": "SVA",
            "sva_integration_id": integration.pk, "sva_package_code": package}
    body.update(kw)
    return body


def test_create_plain_product(api):
    response = api.post("/products", {"name": "Internet 500 Mega", "price": "99.9", "fiscal_class": "SCM"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["price"] == "99.90" and body["fiscal_class"] == "SCM" and body["active"] is True
    assert body["is_sva"] is False and body["sva_integration_id"] is None and body["sva_package_code"] == ""
    assert body["warnings"] == []
    detail = api.get(f"/products/{body['id']}").json()
    assert "warnings" not in detail
    assert detail == {k: v for k, v in body.items() if k != "warnings"}


def test_create_sva_product_checks_the_catalogue(api, platform_integration):
    response = api.post("/products", sva_body(platform_integration))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["is_sva"] is True and body["sva_integration_id"] == platform_integration.pk
    assert body["sva_package_code"] == PACKAGES[0] and body["warnings"] == []


def test_unknown_package_is_refused_with_the_catalogue(api, platform_integration):
    response = api.post("/products", sva_body(platform_integration, package="NAO-EXISTE"))
    body = error(response, 422)
    assert body["code"] == "sva_package_unknown"
    assert field_codes(response) == {"sva_package_code": ["sva_package_unknown"]}
    message = body["fields"]["sva_package_code"][0]["message"]
    assert PACKAGES[0] in message and PACKAGES[2] in message
    assert api.get("/products").json()["items"] == []


def test_package_not_verified_when_the_platform_is_down(api, platform_integration, platform_admin, platform_account):
    platform_admin.set_faults(down=True, prefix=platform_account.prefix)
    response = api.post("/products", sva_body(platform_integration, package="QUALQUER"))
    assert response.status_code == 201, response.content
    warnings = response.json()["warnings"]
    assert len(warnings) == 1 and "não verificado" in warnings[0]


def test_one_package_one_product_per_integration(api, platform_integration):
    first = api.post("/products", sva_body(platform_integration)).json()
    response = api.post("/products", sva_body(platform_integration, name="Outro nome"))
    body = error(response, 409)
    assert body["code"] == "sva_package_in_use"
    assert field_codes(response, 409) == {"sva_package_code": ["sva_package_in_use"]}
    assert str(first["id"]) in body["message"]
    other = api.post("/products", sva_body(platform_integration, package=PACKAGES[1])).json()
    response = api.patch(f"/products/{other['id']}", {"sva_package_code": PACKAGES[0]})
    assert error(response, 409)["code"] == "sva_package_in_use"


@pytest.mark.parametrize(
    "changes, field, code",
    [
        ({"name": ""}, "name", "name_required"),
        ({"price": "-1"}, "price", "amount_invalid"),
        ({"fiscal_class": "XYZ"}, "fiscal_class", "fiscal_class_invalid"),
        ({"sva_package_code": ""}, "sva_package_code", "sva_package_required"),
        ({"sva_integration_id": 999999}, "sva_integration_id", "integration_not_found"),
        ({"sva_integration_id": None}, "sva_integration_id", "sva_integration_required"),
    ],
)
def test_create_validation(api, platform_integration, changes, field, code):
    response = api.post("/products", sva_body(platform_integration, **changes))
    # an invalid amount alone names itself at the top level too (core.errors.ValidationFailed)
    assert error(response, 422)["code"] == ("amount_invalid" if code == "amount_invalid" else "validation_failed")
    assert field_codes(response)[field] == [code]


def test_price_must_be_a_number(api):
    response = api.post("/products", {"name": "X", "price": "dez reais"})
    assert error(response, 422)["code"] == "amount_invalid"
    assert field_codes(response)["price"] == ["amount_invalid"]


def test_patch(api, platform_integration):
    created = api.post("/products", sva_body(platform_integration)).json()
    response = api.patch(f"/products/{created['id']}", {"price": "12.5", "active": False})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["price"] == "12.50" and body["active"] is False and body["sva_package_code"] == PACKAGES[0]
    assert body["warnings"] == []

    response = api.patch(f"/products/{created['id']}", {"sva_package_code": "NAO-EXISTE"})
    assert error(response, 422)["code"] == "sva_package_unknown"
    response = api.patch(f"/products/{created['id']}", {"sva_package_code": PACKAGES[2]})
    assert response.json()["sva_package_code"] == PACKAGES[2]

    response = api.patch(f"/products/{created['id']}", {"sva_integration_id": None})
    body = response.json()
    assert body["is_sva"] is False and body["sva_package_code"] == "" and body["sva_integration_id"] is None


def test_patch_while_platform_down_warns(api, platform_integration, platform_admin, platform_account):
    created = api.post("/products", sva_body(platform_integration)).json()
    platform_admin.set_faults(down=True, prefix=platform_account.prefix)
    body = api.patch(f"/products/{created['id']}", {"sva_package_code": PACKAGES[1]}).json()
    assert body["sva_package_code"] == PACKAGES[1] and len(body["warnings"]) == 1


def test_unknown_product_is_404(api):
    assert error(api.get("/products/999999"), 404)["code"] == "product_not_found"
    assert error(api.patch("/products/999999", {"name": "x"}), 404)["code"] == "product_not_found"


def test_list_filters_and_pagination(api, platform_integration):
    plain = api.post("/products", {"name": "Internet Fibra", "fiscal_class": "SCM"}).json()
    basic = api.post("/products", sva_body(platform_integration, name="Segurança básica")).json()
    family = api.post("/products", sva_body(platform_integration, name="Família", package=PACKAGES[1],
                                            active=False)).json()

    def ids(**params):
        return [p["id"] for p in api.get("/products", params).json()["items"]]

    assert ids() == [plain["id"], basic["id"], family["id"]]
    assert ids(q="fibra") == [plain["id"]]
    assert ids(q="seg-familia") == [family["id"]]
    assert ids(sva_integration_id=platform_integration.pk) == [basic["id"], family["id"]]
    assert ids(is_sva=True) == [basic["id"], family["id"]]
    assert ids(is_sva=False) == [plain["id"]]
    assert ids(active=False) == [family["id"]]
    assert ids(active=True, is_sva=True) == [basic["id"]]
    assert [p["id"] for p in api.walk("/products", limit=2)] == [plain["id"], basic["id"], family["id"]]
