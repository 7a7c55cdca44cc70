"""Tax rates of the SCM/SVA report: the rules (0–100 %, three places, one row per tax,
all or nothing, author recorded), the API with its role refusals, and the CLI."""

from __future__ import annotations

import json
from decimal import Decimal
from functools import partial

import pytest
from django.contrib.auth import get_user_model

from agrega.billing.models import TaxRate
from agrega.billing.taxes.services import parse_rate, tax_rate_remove, tax_rate_set, tax_rates_replace
from agrega.core.errors import ApplicationError, ValidationFailed
from agrega.core.models import ApiToken, ChangeRecord
from agrega.core.roles import assign_role
from tests.fixtures_api import ApiClient, error, field_codes
from tests.cli.helpers import run as run_command

pytestmark = pytest.mark.django_db


def rates() -> dict[str, dict[str, Decimal]]:
    out: dict = {}
    for row in TaxRate.objects.all():
        out.setdefault(row.fiscal_class, {})[row.tax] = row.rate
    return out


class Client(ApiClient):
    def put(self, path: str, body: dict):
        return self._keep(self.client.put("/api" + path, json.dumps(body), content_type="application/json",
                                          **self._headers()))


@pytest.fixture
def client_for(db):
    def make(role: str) -> Client:
        user = get_user_model().objects.create_user(f"u-{role.replace(' ', '-')}", password="x-senha-123")
        assign_role(user, role)
        return Client(ApiToken.issue(user=user, name="t")[1])

    return make


# -- rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("given,expected", [
    ("25", Decimal("25.000")), ("3,65", Decimal("3.650")), ("0.65", Decimal("0.650")), (5, Decimal("5.000")),
    ("100", Decimal("100.000")), ("0", Decimal("0.000")), ("7,125 %", Decimal("7.125")), (2.5, Decimal("2.500")),
])
def test_rates_accept_percent_with_up_to_three_places(given, expected):
    assert parse_rate(given) == expected


@pytest.mark.parametrize("given,code", [
    ("120", "rate_out_of_range"), ("-1", "rate_out_of_range"), ("100.001", "rate_out_of_range"),
    ("1,2345", "rate_too_precise"), ("abc", "rate_invalid"), ("", "rate_invalid"), ("NaN", "rate_invalid"),
    (True, "rate_invalid"),
])
def test_rates_refuse_what_is_not_a_percent(given, code):
    with pytest.raises(ApplicationError) as caught:
        parse_rate(given)
    assert caught.value.code == code


def test_replace_sets_each_class_given_and_keeps_the_others(admin_user):
    tax_rates_replace(rates={"SCM": [{"tax": "icms", "rate": "25"}, {"tax": "PIS", "rate": "0,65"}],
                             "SVA": [{"tax": "ISS", "rate": "5"}]}, actor=admin_user)
    tax_rates_replace(rates={"SCM": [{"tax": "ICMS", "rate": "18"}, {"tax": "COFINS", "rate": "3"}]},
                      actor=admin_user)
    assert rates() == {"SCM": {"ICMS": Decimal("18.000"), "COFINS": Decimal("3.000")},
                       "SVA": {"ISS": Decimal("5.000")}}
    record = ChangeRecord.objects.filter(object_type="billing.taxrate", object_id="SCM").first()
    assert record.actor == admin_user and record.actor_label == admin_user.username
    assert record.changes == {"COFINS": [None, "3"], "ICMS": ["25", "18"], "PIS": ["0.65", None]}


def test_replace_with_a_bad_row_changes_nothing_and_names_every_bad_row():
    tax_rates_replace(rates={"SVA": [{"tax": "ISS", "rate": "5"}]})
    with pytest.raises(ValidationFailed) as caught:
        tax_rates_replace(rates={
            "SVA": [{"tax": "ISS", "rate": "2"}],
            "SCM": [{"tax": "ICMS", "rate": "120"}, {"tax": "ICMS", "rate": "25"}, {"tax": "=cmd", "rate": "1"}],
            "XYZ": [],
        })
    fields = {k: [e.code for e in v] for k, v in caught.value.fields.items()}
    assert fields == {"SCM.1.rate": ["rate_out_of_range"], "SCM.2.tax": ["tax_repeated"],
                      "SCM.3.tax": ["tax_name_invalid"], "XYZ": ["fiscal_class_invalid"]}
    assert "nada foi salvo" in caught.value.message
    assert rates() == {"SVA": {"ISS": Decimal("5.000")}}


def test_set_and_remove_one_tax():
    tax_rate_set(fiscal_class="scm", tax="icms", rate="25")
    tax_rate_set(fiscal_class="SCM", tax="ICMS", rate="18,5")
    tax_rate_set(fiscal_class="SCM", tax="FUST", rate="1")
    assert rates() == {"SCM": {"ICMS": Decimal("18.500"), "FUST": Decimal("1.000")}}
    tax_rate_remove(fiscal_class="SCM", tax="FUST")
    assert rates() == {"SCM": {"ICMS": Decimal("18.500")}}
    with pytest.raises(ApplicationError) as caught:
        tax_rate_remove(fiscal_class="SCM", tax="FUST")
    assert caught.value.code == "tax_rate_not_found"
    with pytest.raises(ValidationFailed) as caught:
        tax_rate_set(fiscal_class="TV", tax="ICMS", rate="120")
    assert set(caught.value.fields) == {"fiscal_class", "rate"}


# -- API ---------------------------------------------------------------------------------

def test_api_get_and_put_rates(client_for):
    admin = client_for("administrador")
    response = admin.put("/tax-rates", {"SCM": [{"tax": "ICMS", "rate": "25"}, {"tax": "PIS", "rate": 0.65}],
                                        "SVA": [{"tax": "ISS", "rate": 5}]})
    assert response.status_code == 200, response.content
    body = admin.get("/tax-rates").json()
    assert body == response.json()
    by_class = {c["fiscal_class"]: c for c in body["classes"]}
    assert list(by_class) == ["SCM", "SVA", "OUTRO"]
    assert by_class["SCM"]["rates"] == [{"tax": "ICMS", "rate": "25"}, {"tax": "PIS", "rate": "0.65"}]
    assert by_class["SCM"]["total_rate"] == "25.65"
    assert by_class["SVA"]["rates"] == [{"tax": "ISS", "rate": "5"}]
    assert by_class["OUTRO"] == {"fiscal_class": "OUTRO", "label": "Outro", "rates": [], "total_rate": "0"}
    # an empty list clears a class; a class left out stays
    admin.put("/tax-rates", {"SVA": []})
    assert rates() == {"SCM": {"ICMS": Decimal("25.000"), "PIS": Decimal("0.650")}}


def test_api_refuses_a_rate_of_120_percent_with_the_row_named(client_for):
    admin = client_for("administrador")
    response = admin.put("/tax-rates", {"SCM": [{"tax": "ICMS", "rate": "120"}]})
    assert field_codes(response) == {"SCM.1.rate": ["rate_out_of_range"]}
    assert "entre 0% e 100%" in error(response, 422)["fields"]["SCM.1.rate"][0]["message"]
    response = admin.put("/tax-rates", {"SCM": [{"rate": "1"}]})
    assert error(response, 422)["code"] == "invalid_input"
    assert TaxRate.objects.count() == 0


@pytest.mark.parametrize("role", ["operador", "somente leitura"])
def test_api_only_administrators_change_rates_but_everyone_reads(client_for, role):
    tax_rate_set(fiscal_class="SVA", tax="ISS", rate="5")
    client = client_for(role)
    assert client.get("/tax-rates").status_code == 200
    response = client.put("/tax-rates", {"SVA": [{"tax": "ISS", "rate": "2"}]})
    assert error(response, 403)["code"] == "forbidden"
    assert rates() == {"SVA": {"ISS": Decimal("5.000")}}
    assert Client(None).get("/tax-rates").status_code == 401


# -- CLI ---------------------------------------------------------------------------------

run = partial(run_command, "tax_rates")  # (code, out, err), tests/cli/helpers.py


def test_cli_set_list_remove(admin_user):
    code, out, _ = run("set", "SCM", "ICMS", "25", "--as", admin_user.username)
    assert code == 0 and "ICMS de SCM: 25%." in out
    run("set", "SCM", "PIS", "0,65")
    code, out, _ = run("list")
    assert code == 0
    lines = [line.split() for line in out.splitlines()]
    assert ["SCM", "ICMS", "25%"] in lines and ["SCM", "PIS", "0,65%"] in lines
    assert ["SCM", "(soma)", "25,65%"] in lines and ["SVA", "(nenhum", "tributo)", "0%"] in lines
    code, out, _ = run("list", "--json")
    assert json.loads(out)["classes"][0]["rates"] == [{"tax": "ICMS", "rate": "25"}, {"tax": "PIS", "rate": "0.65"}]
    assert ChangeRecord.objects.filter(object_type="billing.taxrate", actor=admin_user).count() == 1
    code, out, _ = run("remove", "SCM", "PIS")
    assert code == 0 and rates() == {"SCM": {"ICMS": Decimal("25.000")}}


def test_cli_refuses_with_exit_2_and_the_code():
    code, out, err = run("set", "SCM", "ICMS", "120")
    assert code == 2 and "erro [validation_failed]" in err and "rate: [rate_out_of_range]" in err
    code, out, err = run("set", "SCM", "ICMS", "1,2345", "--json")
    assert code == 2 and json.loads(out)["error"]["fields"]["rate"][0]["code"] == "rate_too_precise"
    assert TaxRate.objects.count() == 0
