"""Reconciliation through the API (real tokens, real roles, the real sandbox) and the CLI."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from agrega.core.models import ApiToken
from agrega.core.roles import assign_role
from agrega.sva.models import ReconciliationRun
from agrega.sva.reconcile.services import _start
from tests.fixtures import default_platform_only
from tests.fixtures_api import ApiClient, error

from .conftest import spec

sva_platform = default_platform_only()

pytestmark = pytest.mark.django_db


def client_for(role: str) -> ApiClient:
    user = get_user_model().objects.create_user(role.replace(" ", "-"), password="senha-de-teste-123")
    assign_role(user, role)
    return ApiClient(ApiToken.issue(user=user, name="testes")[1])


@pytest.fixture
def admin():
    return client_for("administrador")


@pytest.fixture
def reconcile(admin, run_tasks, platform_integration):
    """POST …/reconcile (202 and its task), the task worker's turn, then the report."""
    def do(body=None, client=None):
        runs = ReconciliationRun.objects.count()
        response = (client or admin).post(f"/integrations/{platform_integration.pk}/reconcile", body)
        assert response.status_code == 202, response.content
        task = response.json()
        assert response["Location"] == task["url"] and task["status"] == "READY"
        assert ReconciliationRun.objects.count() == runs  # nothing listed inside the request
        assert run_tasks() == 1
        task = admin.get(task["url"].removeprefix("/api")).json()
        assert task["status"] == "SUCCESSFUL", task
        assert task["link_url"].endswith(f"/{task['result']['run_id']}/")
        return admin.get(f"/reconciliations/{task['result']['run_id']}").json()

    return do


def test_post_reconcile_enqueues_and_the_task_makes_the_report(admin, platform_integration, synced_users, platform,
                                                               platform_account, reconcile):
    users = synced_users(3)
    platform.block_user(users[0].external_id)
    stranger = platform.create_user(spec())

    run = reconcile({"page_size": 2})
    assert run["status"] == "done" and run["status_label"] == "Concluída"
    assert run["integration_id"] == platform_integration.pk and run["integration_name"] == platform_integration.name
    assert run["runner"] == "api:administrador" and run["actor"] == "administrador"
    assert run["page_size"] == 2 and run["remove_unknown"] is False
    assert run["differences"] == 2 and run["counts"]["pages"] == 2 and run["counts"]["remote_users"] == 4
    by_kind = {i["kind"]: i for i in run["items"]}
    assert by_kind["state_differs"]["sva_user_id"] == users[0].pk
    assert by_kind["state_differs"]["action"] == "marked_for_sync"
    assert by_kind["state_differs"]["action_label"] == "Marcado para sincronizar"
    assert by_kind["unknown_on_platform"]["external_id"] == stranger.external_id
    assert by_kind["unknown_on_platform"]["action"] == "reported"
    assert run["items_next_cursor"] is None

    # Removal asked for this run only.
    actions = {i["kind"]: i["action"] for i in reconcile({"remove_unknown": True})["items"]}
    assert actions["unknown_on_platform"] == "removed"
    assert platform_account.user(stranger.external_id) is None


def test_post_without_a_body_follows_the_policy(admin, platform_integration, synced_users, platform, platform_account,
                                                reconcile):
    synced_users(1)
    stranger = platform.create_user(spec())
    assert admin.patch(f"/integrations/{platform_integration.pk}", {"reconcile_remove_unknown": True}).status_code == 200
    assert admin.get(f"/integrations/{platform_integration.pk}").json()["reconcile_remove_unknown"] is True
    run = reconcile()
    assert run["remove_unknown"] is True
    assert [i["action"] for i in run["items"]] == ["removed"]
    assert platform_account.user(stranger.external_id) is None


def test_list_detail_and_items(admin, platform_integration, synced_users, platform, reconcile):
    users = synced_users(3)
    for user in users:
        platform.delete_user(user.external_id)
    first = reconcile()
    second = reconcile()
    assert [i["action"] for i in second["items"]] == ["already_pending"] * 3  # the worker has not run

    listed = admin.walk("/reconciliations", {"integration_id": platform_integration.pk}, limit=1)
    assert [r["id"] for r in listed] == [first["id"], second["id"]]
    assert admin.get("/reconciliations", {"integration_id": platform_integration.pk + 1000}).json()["items"] == []
    assert [r["id"] for r in admin.get("/reconciliations", {"status": "done"}).json()["items"]] == \
        [first["id"], second["id"]]

    detail = admin.get(f"/reconciliations/{first['id']}").json()
    assert detail["counts"]["missing_on_platform"] == 3 and len(detail["items"]) == 3
    assert {i["sva_user_id"] for i in detail["items"]} == {u.pk for u in users}

    items = admin.walk(f"/reconciliations/{first['id']}/items", {"kind": "missing_on_platform"}, limit=2)
    assert len(items) == 3
    assert admin.get(f"/reconciliations/{first['id']}/items", {"kind": "data_differs"}).json()["items"] == []
    assert error(admin.get(f"/reconciliations/{first['id']}/items", {"kind": "nada"}), 422)["code"] == "invalid_input"

    labels = {c["key"]: c["label"] for c in admin.get("/reconciliations/count-labels").json()}
    assert labels["missing_on_platform"] == "Ausentes na plataforma"
    assert set(detail["counts"]) <= set(labels)


def test_errors(admin, platform_integration, synced_users):
    synced_users(1)
    assert error(admin.post("/integrations/999999/reconcile"), 404)["code"] == "integration_not_found"
    assert error(admin.get("/reconciliations/999999"), 404)["code"] == "reconciliation_not_found"
    assert error(admin.post(f"/integrations/{platform_integration.pk}/reconcile", {"page_size": 0}), 422)["code"] == \
        "invalid_input"
    # Another machine holds the lock of this integration.
    running = _start(platform_integration, runner="outra:1", actor=None, remove_unknown=False, page_size=500)
    body = error(admin.post(f"/integrations/{platform_integration.pk}/reconcile"), 409)
    assert body["code"] == "reconcile_running" and "já em execução" in body["message"]
    assert body["running_run_id"] == running.pk
    assert ReconciliationRun.objects.count() == 1
    running.delete()
    assert admin.patch(f"/integrations/{platform_integration.pk}", {"active": False}).status_code == 200
    assert error(admin.post(f"/integrations/{platform_integration.pk}/reconcile"), 409)["code"] == "integration_inactive"


@pytest.mark.parametrize("role", ["operador", "somente leitura"])
def test_only_administrators_run_it_everyone_reads_it(role, admin, platform_integration, synced_users, reconcile):
    synced_users(1)
    run_id = reconcile()["id"]
    other = client_for(role)
    assert error(other.post(f"/integrations/{platform_integration.pk}/reconcile"), 403)["code"] == "forbidden"
    assert ReconciliationRun.objects.count() == 1
    assert other.get(f"/reconciliations/{run_id}").status_code == 200
    assert other.get("/reconciliations").status_code == 200
    assert error(ApiClient(None).get("/reconciliations"), 401)["code"] == "not_authenticated"


def test_openapi_documents_the_routes(admin):
    paths = admin.get("/openapi.json").json()["paths"]
    assert "post" in paths["/api/integrations/{integration_id}/reconcile"]
    assert "get" in paths["/api/reconciliations"] and "get" in paths["/api/reconciliations/{run_id}"]


# -- CLI -------------------------------------------------------------------------------


def run_cli(*args) -> tuple[int, str, str]:
    from io import StringIO

    out, err = StringIO(), StringIO()
    try:
        call_command("reconcile", *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


def test_cli_prints_the_report(platform_integration, synced_users, platform, platform_account, converge):
    users = synced_users(2)
    platform.delete_user(users[1].external_id)
    code, out, err = run_cli("--integration", str(platform_integration.pk))
    assert code == 0, err
    run = ReconciliationRun.objects.get()
    assert f"Reconciliação {run.pk} — integração {platform_integration.pk}" in out and "concluída" in out
    assert "Ausentes na plataforma" in out and "Marcados para sincronizar" in out
    assert users[1].external_id in out and "Marcado para sincronizar" in out
    converge()
    assert platform_account.user(users[1].external_id) is not None

    code, out, _ = run_cli("--show", str(run.pk), "--json")
    assert code == 0 and json.loads(out)["items"][0]["kind"] == "missing_on_platform"


def test_cli_all_integrations_remove_unknown_and_json(platform_integration, synced_users, platform, platform_account):
    synced_users(1)
    stranger = platform.create_user(spec())
    code, out, _ = run_cli("--remove-unknown", "--json", "--page-size", "1")
    assert code == 0
    [run] = json.loads(out)["runs"]
    assert run["remove_unknown"] is True and run["counts"]["pages"] == 2
    assert [(i["kind"], i["action"]) for i in run["items"]] == [("unknown_on_platform", "removed")]
    assert platform_account.user(stranger.external_id) is None


def test_cli_refusals(platform_integration, synced_users, platform_admin):
    synced_users(1)
    code, _, err = run_cli("--integration", "999999")
    assert code == 2 and "integration_not_found" in err
    code, _, err = run_cli("--show", "999999")
    assert code == 2 and "reconciliation_not_found" in err
    running = _start(platform_integration, runner="outra:1", actor=None, remove_unknown=False, page_size=500)
    code, out, err = run_cli("--integration", str(platform_integration.pk), "--json")
    assert code == 2 and json.loads(out)["error"]["code"] == "reconcile_running"
    assert "erro [reconcile_running]" in err
    running.delete()
    platform_admin.set_faults(down=True, prefix=platform_integration.prefix)
    code, out, err = run_cli("--integration", str(platform_integration.pk))
    assert code == 3 and "falhou" in out and "platform_unavailable" in out
