"""The partials the pages poll while an SVA user waits for the worker (issue 20): they
keep polling (200 + ``hx-trigger``) only while something is pending, end it (htmx's 286)
once settled, and cost a bounded number of queries whatever the number of users."""

from __future__ import annotations

import time

import pytest
from django.db import connection

from agrega.contracts import services as contract_services
from agrega.sva.models import SvaUser
from tests.fixtures import default_platform_only

sva_platform = default_platform_only()

POLLS = 20


@pytest.fixture
def operator_client(client, django_user_model):
    from agrega.core.roles import assign_role

    user = django_user_model.objects.create_user("plantonista", "p@example.com.br", "x")
    assign_role(user, "operador")
    client.force_login(user)
    return client


def _active_contract(make_contract, product):
    contract = make_contract()
    contract_services.contract_add_product(contract=contract, product_id=product.pk, kind="SVA")
    return contract_services.contract_activate(contract=contract)


def _cost(client, url):
    """(mean ms, queries) of one poll."""
    client.get(url)  # warm caches (templates, sessions)
    queries = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    # (CaptureQueriesContext loses them: each request resets the connection's query log.)
    with connection.execute_wrapper(count):
        response = client.get(url)
    started = time.perf_counter()
    for _ in range(POLLS):
        client.get(url)
    return (time.perf_counter() - started) * 1000 / POLLS, len(queries), response


@pytest.mark.django_db
def test_the_contract_tab_polls_while_pending_and_stops_when_settled(operator_client, platform_integration,
                                                                     make_product, make_contract, converge):
    contract = _active_contract(make_contract, make_product(platform_integration, name="EXA Live"))
    url = f"/contratos/{contract.pk}/sva/estado/"
    page = operator_client.get(f"/contratos/{contract.pk}/").content.decode()
    assert f'hx-get="{url}"' in page and 'hx-trigger="every 1s"' in page

    response = operator_client.get(url)
    assert response.status_code == 200 and b'hx-trigger="every 1s"' in response.content
    assert b"Pendente" in response.content
    converge()
    response = operator_client.get(url)
    assert response.status_code == 286  # htmx: stop polling (the settled tab is still swapped in)
    assert b'hx-trigger="every 1s"' not in response.content and b"data-live" not in response.content
    assert b"Sincronizado" in response.content
    page = operator_client.get(f"/contratos/{contract.pk}/").content.decode()
    assert '<div id="sva-live">' in page and "data-live" not in page  # settled: the page does not poll

    # "Sincronizar agora": pending again, so the page polls again.
    user = SvaUser.objects.get(contract=contract)
    operator_client.post(f"/usuarios-sva/{user.pk}/sincronizar/")
    assert operator_client.get(url).status_code == 200


@pytest.mark.django_db
def test_the_user_page_and_the_dashboard_poll_while_pending(operator_client, platform_integration, make_product,
                                                            make_contract, converge):
    contract = _active_contract(make_contract, make_product(platform_integration, name="EXA Live"))
    user = SvaUser.objects.get(contract=contract)
    for url, page_url in ((f"/usuarios-sva/{user.pk}/estado/", f"/usuarios-sva/{user.pk}/"),
                          ("/inicio/estado/", "/")):
        assert f'hx-get="{url}"'.encode() in operator_client.get(page_url).content
        assert operator_client.get(url).status_code == 200
    converge()
    for url in (f"/usuarios-sva/{user.pk}/estado/", "/inicio/estado/"):
        response = operator_client.get(url)
        assert response.status_code == 286 and b"data-live" not in response.content


@pytest.mark.django_db
def test_the_cost_of_one_poll(operator_client, platform_integration, make_product, make_contract):
    """Measured (printed; docs/architecture.md) and bounded: the queries of one poll are a
    handful, and the dashboard's do not grow with the number of pending users."""
    product = make_product(platform_integration, name="EXA Live")
    contract = _active_contract(make_contract, product)
    user = SvaUser.objects.get(contract=contract)
    pages = (("aba SVA do contrato", f"/contratos/{contract.pk}/sva/estado/"),
             ("página do usuário SVA", f"/usuarios-sva/{user.pk}/estado/"),
             ("início", "/inicio/estado/"))
    results = {name: _cost(operator_client, url) for name, url in pages}
    for _ in range(9):
        _active_contract(make_contract, product)
    results["início, 10 pendentes"] = _cost(operator_client, "/inicio/estado/")
    print("\n" + "\n".join(f"poll {name}: {ms:.1f} ms, {q} consultas" for name, (ms, q, _r) in results.items()))
    for ms, queries, response in results.values():
        assert response.status_code == 200 and queries <= 30
    assert results["início, 10 pendentes"][1] == results["início"][1]
