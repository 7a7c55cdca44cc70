"""/api/dunning/policies (CONFIGURE to change) and /api/dunning-sweeps (OPERATE): real
tokens, role refusals, validation errors with the stage named, the sweep's result."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from agrega.contracts.choices import AccessStatus as AS
from agrega.core.models import ApiToken, ChangeRecord
from agrega.core.roles import assign_role
from agrega.dunning.models import DunningPolicy
from tests.fixtures_api import ApiClient, error, field_codes

pytestmark = pytest.mark.django_db


class Client(ApiClient):
    def put(self, path: str, body: dict):
        return self._keep(self.client.put("/api" + path, json.dumps(body), content_type="application/json",
                                          **self._headers()))


@pytest.fixture
def as_role(db):
    clients = {}

    def get(role: str) -> Client:
        if role not in clients:
            user = get_user_model().objects.create_user(f"u-{role.replace(' ', '-')}", password="x-senha-123")
            assign_role(user, role)
            clients[role] = Client(ApiToken.issue(user=user, name="t")[1])
            clients[role].user = user
        return clients[role]

    return get


def test_list_policies_with_stages_in_portuguese(as_role):
    body = as_role("somente leitura").get("/dunning/policies").json()
    anatel = body[0]
    assert (anatel["name"], anatel["is_default"], anatel["preset"]) == ("Anatel (RGC)", True, "anatel")
    assert [(s["level"], s["days_after_due"], s["action"]) for s in anatel["stages"]] == [
        (1, 1, "notice"), (2, 16, "partial_suspension"), (3, 46, "block_automatic"), (4, 76, "rescind")]
    assert anatel["stages"][0]["action_display"] == "Aviso de débito"
    assert (anatel["trust_release_days"], anatel["trust_release_max_uses"], anatel["trust_release_period_days"],
            anatel["contracts_count"]) == (3, 1, 30, 0)
    actions = as_role("somente leitura").get("/dunning/actions").json()
    assert {"value": "rescind", "label": "Rescisão (status N)"} in actions
    one = as_role("operador").get(f"/dunning/policies/{anatel['id']}").json()
    assert one["stages"] == anatel["stages"]
    assert error(as_role("operador").get("/dunning/policies/999999"), 404)["code"] == "policy_not_found"


def test_create_from_preset_edit_stages_patch_limits_and_default(as_role):
    admin = as_role("administrador")
    response = admin.post("/dunning/policies", {"preset": "simples", "name": "Bloqueio em 20", "block_after_days": 20,
                                                "make_default": True})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["is_default"] and [(s["days_after_due"], s["action"]) for s in created["stages"]] == [
        (20, "block_automatic")]
    pid = created["id"]
    response = admin.put(f"/dunning/policies/{pid}/stages", {"stages": [
        {"days_after_due": 2, "action": "notice"}, {"days_after_due": 20, "action": "partial_suspension"},
        {"days_after_due": 40, "action": "block_automatic"}]})
    assert response.status_code == 200, response.content
    assert [s["level"] for s in response.json()["stages"]] == [1, 2, 3]
    response = admin.patch(f"/dunning/policies/{pid}", {"trust_release_days": 5, "trust_release_max_uses": 2,
                                                        "trust_release_period_days": 60})
    assert response.status_code == 200, response.content
    assert (response.json()["trust_release_days"], response.json()["trust_release_max_uses"],
            response.json()["trust_release_period_days"]) == (5, 2, 60)
    anatel = DunningPolicy.objects.get(preset="anatel")
    assert admin.patch(f"/dunning/policies/{anatel.pk}", {"is_default": True}).json()["is_default"] is True
    assert DunningPolicy.objects.get(is_default=True).pk == anatel.pk
    assert ChangeRecord.objects.filter(object_type="dunning.dunningpolicy", actor=admin.user).count() == 4


def test_validation_errors_name_the_stage_and_change_nothing(as_role):
    admin = as_role("administrador")
    anatel = DunningPolicy.objects.get(preset="anatel")
    response = admin.put(f"/dunning/policies/{anatel.pk}/stages", {"stages": [
        {"days_after_due": 10, "action": "notice"}, {"days_after_due": 5, "action": "block_automatic"}]})
    assert field_codes(response) == {"stages.2.days_after_due": ["days_not_increasing"]}
    assert "Etapa 2: os dias devem crescer" in error(response, 422)["fields"]["stages.2.days_after_due"][0]["message"]
    response = admin.put(f"/dunning/policies/{anatel.pk}/stages", {"stages": [
        {"days_after_due": 10, "action": "cortar_tudo"}]})
    assert field_codes(response) == {"stages.1.action": ["action_invalid"]}
    response = admin.put(f"/dunning/policies/{anatel.pk}/stages", {"stages": [{"days_after_due": "dez",
                                                                              "action": "notice"}]})
    assert error(response, 422)["code"] == "invalid_input"
    assert anatel.stages.count() == 4
    response = admin.post("/dunning/policies", {"preset": "trimestral"})
    assert field_codes(response) == {"preset": ["preset_unknown"]}
    response = admin.post("/dunning/policies", {"preset": "anatel"})
    assert error(response, 409)["code"] == "policy_exists"
    response = admin.patch(f"/dunning/policies/{anatel.pk}", {"trust_release_days": 0})
    assert field_codes(response) == {"trust_release_days": ["value_out_of_range"]}
    response = admin.patch(f"/dunning/policies/{anatel.pk}", {"is_default": False})
    assert error(response, 409)["code"] == "policy_default_required"
    assert error(admin.patch("/dunning/policies/999999", {"trust_release_days": 2}), 404)["code"] == "policy_not_found"


@pytest.mark.parametrize("role", ["operador", "somente leitura"])
def test_only_administrators_configure_policies(as_role, role):
    client = as_role(role)
    anatel = DunningPolicy.objects.get(preset="anatel")
    before = DunningPolicy.objects.count()
    for response in (
        client.post("/dunning/policies", {"preset": "simples", "name": "X"}),
        client.put(f"/dunning/policies/{anatel.pk}/stages", {"stages": [{"days_after_due": 1, "action": "notice"}]}),
        client.patch(f"/dunning/policies/{anatel.pk}", {"trust_release_days": 9}),
    ):
        assert error(response, 403)["code"] == "forbidden"
    assert DunningPolicy.objects.count() == before and anatel.stages.count() == 4
    anatel.refresh_from_db()
    assert anatel.trust_release_days == 3


def test_sweep_by_an_operator_applies_the_stages(as_role, run_tasks, billed_long_ago):
    contract, due = billed_long_ago()
    operator = as_role("operador")
    response = operator.post("/dunning-sweeps", {"today": (due + timedelta(days=16)).isoformat()})
    # a sweep may move every overdue contract: the request only enqueues it
    assert response.status_code == 202, response.content
    task = response.json()
    assert response["Location"] == task["url"] == f"/api/tasks/{task['id']}" and task["status"] == "READY"
    contract.refresh_from_db()
    assert contract.dunning_level == 0 and not ChangeRecord.objects.filter(object_type="dunning.sweep").exists()
    assert run_tasks() == 1
    body = operator.get(f"/tasks/{task['id']}").json()
    assert body["status"] == "SUCCESSFUL" and body["link_url"] == "/configuracoes/regua-de-cobranca/"
    body = body["result"]
    assert body["today"] == (due + timedelta(days=16)).isoformat()
    # 16 days late: the notice (stage 1) and the partial suspension (stage 2) in one run
    assert body["access_changed"] == 1 and body["notices"] == 1
    assert body["by_stage"] == {"Anatel (RGC) · 1: Aviso de débito": 1, "Anatel (RGC) · 2: Suspensão parcial (FA)": 1}
    contract.refresh_from_db()
    assert (contract.access_status, contract.dunning_level) == (AS.OVERDUE, 2)
    assert ChangeRecord.objects.get(object_type="dunning.sweep").actor == operator.user
    # without a body: today
    task = operator.post("/dunning-sweeps").json()
    assert run_tasks() == 1
    assert operator.get(f"/tasks/{task['id']}").json()["result"]["today"] == timezone.localdate().isoformat()


def test_sweep_refusals(as_role):
    operator = as_role("operador")
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    assert error(operator.post("/dunning-sweeps", {"today": future}), 422)["code"] == "sweep_date_future"
    assert error(operator.post("/dunning-sweeps", {"today": "ontem"}), 422)["code"] == "invalid_input"
    assert error(as_role("somente leitura").post("/dunning-sweeps", {}), 403)["code"] == "forbidden"
    assert error(Client(None).post("/dunning-sweeps", {}), 401)["code"] == "not_authenticated"
    assert not ChangeRecord.objects.filter(object_type="dunning.sweep").exists()


def test_openapi_documents_the_new_routes(as_role):
    paths = as_role("somente leitura").client.get("/api/openapi.json").json()["paths"]
    for path in ("/api/dunning/policies", "/api/dunning/policies/{policy_id}/stages", "/api/dunning-sweeps",
                 "/api/tax-rates", "/api/reports/revenue", "/api/reports/revenue.csv"):
        assert path in paths, path
