"""Reconciliations: the runs' filters are ReconciliationRunFilterSet's and a run's
differences' are ReconciliationItemFilterSet's (sva/filtersets.py), so the pages, the API
and the CLI answer the same filter with the same rows; an unknown value is refused
everywhere, and a link from before (``?diferenca=``) still filters."""

from __future__ import annotations

import re

import pytest
from django.core.management import CommandError

from agrega.integrations.models import SvaIntegration
from agrega.sva.models import ReconciliationItem, ReconciliationRun
from tests.cli.helpers import run

pytestmark = pytest.mark.django_db

ITEMS = (("u-1", "state_differs", "marked_for_sync"), ("u-2", "unknown_on_platform", "reported"),
         ("u-3", "state_differs", "already_pending"), ("u-4", "missing_on_platform", "marked_for_sync"))


@pytest.fixture
def runs(db):
    """Rows only (a list calls no platform): three runs of one integration, one of another;
    the first run found the four differences of ITEMS."""
    mine, other = (SvaIntegration.objects.create(name=name, platform="exa", base_url=f"https://{name}.example.com.br",
                                                 prefix=name) for name in ("mine", "other"))
    made = [ReconciliationRun.objects.create(integration=integration, status=status, runner="teste")
            for integration, status in ((mine, "done"), (mine, "failed"), (mine, "done"), (other, "done"))]
    ReconciliationItem.objects.bulk_create(
        ReconciliationItem(run=made[0], external_id=external_id, kind=kind, action=action)
        for external_id, kind, action in ITEMS)
    return mine, made


@pytest.fixture
def page(client_as):
    return client_as("administrador", "reconcilia-admin", raise_request_exception=False)


def get(page, url: str, params: dict) -> str:
    response = page.get(url, params)
    assert response.status_code == 200, response.content[:300]
    return response.content.decode()


def test_runs_page_api_and_cli_agree(page, api, runs):
    mine, made = runs
    for status in ("done", "failed"):
        want = sorted(r.pk for r in made if r.integration_id == mine.pk and r.status == status)
        assert want
        body = get(page, f"/configuracoes/integracoes-sva/{mine.pk}/reconciliacao/", {"status": status})
        assert sorted(int(pk) for pk in re.findall(r'data-run="(\d+)"', body)) == want
        items = api.get("/reconciliations", {"integration_id": mine.pk, "status": status}).json()["items"]
        assert sorted(r["id"] for r in items) == want
        result = run("reconcile", "--list", "--integration", mine.pk, "--status", status, "--json")
        assert result.code == 0, result.err
        assert sorted(r["id"] for r in result.json) == want
    every = sorted(r["id"] for r in run("reconcile", "--list", "--status", "done", "--json").json)
    assert every == sorted(r["id"] for r in api.get("/reconciliations", {"status": "done"}).json()["items"])
    assert len(every) == 3


@pytest.mark.parametrize("params, cli", [
    ({"kind": "state_differs"}, ["--kind", "state_differs"]),
    ({"action": "marked_for_sync"}, ["--action", "marked_for_sync"]),
    ({"kind": "state_differs", "action": "already_pending"}, ["--kind", "state_differs", "--action", "already_pending"]),
    ({}, []),
])
def test_a_runs_differences_page_api_and_cli_agree(page, api, runs, params, cli):
    mine, made = runs
    want = sorted(e for e, kind, action in ITEMS
                  if params.get("kind", kind) == kind and params.get("action", action) == action)
    body = get(page, f"/configuracoes/integracoes-sva/{mine.pk}/reconciliacao/{made[0].pk}/", params)
    assert sorted(re.findall(r'<code class="small">([^<]+)</code>', body)) == want
    items = api.get(f"/reconciliations/{made[0].pk}/items", params).json()["items"]
    assert sorted(i["external_id"] for i in items) == want
    result = run("reconcile", "--show", made[0].pk, *cli, "--json")
    assert result.code == 0, result.err
    assert sorted(i["external_id"] for i in result.json["items"]) == want


def test_a_link_from_before_still_filters_by_the_difference(page, runs):
    mine, made = runs
    body = get(page, f"/configuracoes/integracoes-sva/{mine.pk}/reconciliacao/{made[0].pk}/",
               {"diferenca": "unknown_on_platform"})
    assert re.findall(r'<code class="small">([^<]+)</code>', body) == ["u-2"]


def test_unknown_values_are_refused_everywhere(page, api, runs):
    mine, made = runs
    for path, name in (("/reconciliations", "status"), (f"/reconciliations/{made[0].pk}/items", "kind"),
                       (f"/reconciliations/{made[0].pk}/items", "action")):
        response = api.get(path, {name: "feita"})
        assert response.status_code == 422 and name in response.json()["error"]["fields"]
    for url, name in ((f"/configuracoes/integracoes-sva/{mine.pk}/reconciliacao/", "status"),
                      (f"/configuracoes/integracoes-sva/{mine.pk}/reconciliacao/{made[0].pk}/", "kind")):
        assert "Faça uma escolha válida" in get(page, url, {name: "feita"})
    with pytest.raises(CommandError, match="Diferença: valor não aceito"):
        run("reconcile", "--show", made[0].pk, "--kind", "feita")
    with pytest.raises(CommandError, match="Situação: valor não aceito"):
        run("reconcile", "--list", "--status", "feita")
