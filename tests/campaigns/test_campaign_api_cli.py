"""/api/campaigns and `agrega campaign …`: thin entry points over the same services."""

from __future__ import annotations

import re
import json
from functools import partial

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agrega.campaigns.models import Campaign, CampaignItem
from agrega.contracts.services import contract_transition
from agrega.core.models import ApiToken
from agrega.core.roles import assign_role
from agrega.sva.models import SvaUser
from tests.fixtures import default_platform_only
from tests.cli.helpers import run as run_command

pytestmark = pytest.mark.django_db

# Agrega's behaviour, not a platform's: the neutral fixtures on the default platform
sva_platform = default_platform_only()


def client_for(role: str):
    user = get_user_model().objects.create_user(f"c-{role.split()[0]}", password="x")
    assign_role(user, role)
    _, raw = ApiToken.issue(user=user, name="t")
    return Client(), {"HTTP_AUTHORIZATION": f"Bearer {raw}"}, user


def post(client, headers, path, body=None):
    return client.post("/api/campaigns" + path, json.dumps(body or {}), content_type="application/json", **headers)


cli = partial(run_command, "campaign")  # (code, out, err), tests/cli/helpers.py


@pytest.fixture
def setup(platform_integration, make_product, make_contract, make_customer):
    sva = make_product(platform_integration, name="EXA Segurança")
    contracts = []
    for city in ("Campinas", "Campinas", "Sorocaba"):
        contract = make_contract(make_customer(city=city))
        contract_transition(contract=contract, action="activate")
        contracts.append(contract)
    return sva, contracts


def test_api_preview_create_start_pause_items_and_roles(setup):
    sva, contracts = setup
    client, headers, user = client_for("operador")
    body = {"product_id": sva.pk, "filters": {"city": "Campinas"}}
    response = post(client, headers, "/preview", body)
    assert response.status_code == 200 and response.json()["eligible"] == 2
    response = post(client, headers, "", {**body, "name": "Campinas", "rate_per_second": "20"})
    assert response.status_code == 201, response.content
    campaign = response.json()
    assert campaign["status"] == "draft" and campaign["filters"] == {"city": "Campinas"}
    response = post(client, headers, f"/{campaign['id']}/start?background=false")
    assert response.status_code == 202 and response.json()["status"] == "running" and response.json()["total"] == 2
    response = post(client, headers, f"/{campaign['id']}/pause")
    assert response.status_code == 200 and response.json()["status"] == "paused"
    assert post(client, headers, f"/{campaign['id']}/pause").json()["error"]["code"] == "invalid_transition"
    response = post(client, headers, f"/{campaign['id']}/resume?background=false")
    assert response.status_code == 202
    from agrega.campaigns.services import run_due_campaigns

    assert run_due_campaigns(max_seconds=10) == {"campaigns": [campaign["id"]]}
    items = client.get(f"/api/campaigns/{campaign['id']}/items", **headers).json()["items"]
    assert {(i["contract_id"], i["status"], i["reason"]) for i in items} == {
        (contracts[0].pk, "added", "sva_user_created"), (contracts[1].pk, "added", "sva_user_created")}
    assert client.get(f"/api/campaigns/{campaign['id']}", **headers).json()["status"] == "done"

    reader, read_headers, _ = client_for("somente leitura")
    assert post(reader, read_headers, "/preview", body).status_code == 403
    assert reader.get("/api/campaigns", **read_headers).status_code == 200
    response = post(client, headers, "", {"product_id": sva.pk, "name": "X", "filters": {"status": "Q"}})
    assert response.status_code == 422 and "status" in response.json()["error"]["fields"]


def test_cli_preview_create_run_report(setup, tmp_path):
    sva, contracts = setup
    code, out, err = cli("preview", "--product", sva.pk, "--city", "Campinas")
    assert code == 0 and re.search(r"Receberão o produto: +2\n", out), err
    code, out, err = cli("create", "--name", "Campinas", "--product", sva.pk, "--city", "Campinas", "--rate", "20",
                         "--json")
    assert code == 0, err
    campaign_id = json.loads(out)["id"]
    code, out, err = cli("run", campaign_id)
    assert code == 0, err
    assert "progresso: 2/2 (100%)" in out and "concluída" in out
    assert SvaUser.objects.filter(contract__in=contracts[:2]).count() == 2
    path = tmp_path / "relatorio.csv"
    code, out, err = cli("report", campaign_id, "--csv", path)
    assert code == 0 and "sva_user_created" in out
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("contrato;cliente;situacao;motivo") and len(lines) == 3
    code, out, err = cli("cancel", campaign_id)
    assert code == 2 and "erro [invalid_transition]" in err
    code, out, err = cli("create", "--name", "X", "--product", 999999)
    assert code == 2 and "product_not_found" in err
    assert Campaign.objects.count() == 1 and CampaignItem.objects.count() == 2
