"""Idempotency-Key: a client's retry of a POST never acts twice."""

import json
import threading

import pytest
from django.db import connection
from django.test import Client

from agrega.contracts.models import Contract, ContractEvent
from agrega.customers.models import Customer


def post(client, token, path, body, key=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    if key is not None:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return client.post("/api" + path, json.dumps(body), content_type="application/json", **headers)


@pytest.fixture
def customer_body():
    from agrega.core.br import make_cpf

    return {"name": "Cliente Idempotente", "document": make_cpf(777001), "email": "idem@example.com.br",
            "mobile_phone": "(11) 98888-7777"}


def test_a_retry_with_the_same_key_replays_the_answer_and_acts_once(api_token, customer_body):
    client = Client()
    first = post(client, api_token, "/customers", customer_body, key="k-1")
    again = post(client, api_token, "/customers", customer_body, key="k-1")
    assert first.status_code == 201 and again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Customer.objects.count() == 1


def test_without_a_key_a_repeat_is_a_new_request(api_token, customer_body):
    client = Client()
    assert post(client, api_token, "/customers", customer_body).status_code == 201
    assert post(client, api_token, "/customers", customer_body).status_code in (409, 422)


def test_the_same_key_for_another_request_is_refused(api_token, customer_body):
    client = Client()
    post(client, api_token, "/customers", customer_body, key="k-2")
    other = post(client, api_token, "/customers", {**customer_body, "name": "Outro"}, key="k-2")
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


def test_refusals_are_replayed_too_and_keys_are_per_user(api_token, customer_body, db):
    from django.contrib.auth import get_user_model

    from agrega.core.models import ApiToken
    from agrega.core.roles import assign_role

    client = Client()
    bad = {**customer_body, "document": "111.111.111-11"}
    first = post(client, api_token, "/customers", bad, key="k-3")
    assert first.status_code == 422
    assert post(client, api_token, "/customers", bad, key="k-3")["Idempotent-Replayed"] == "true"
    other_user = get_user_model().objects.create_user("outra")
    assign_role(other_user, "operador")
    _, other_token = ApiToken.issue(user=other_user, name="t")
    # the same key from another user is that user's own key
    assert post(client, other_token, "/customers", customer_body, key="k-3").status_code == 201


def test_key_too_long_is_refused(api_token, customer_body):
    response = post(Client(), api_token, "/customers", customer_body, key="x" * 201)
    assert response.status_code == 400 and response.json()["error"]["code"] == "idempotency_key_invalid"


@pytest.mark.django_db(transaction=True)
def test_two_identical_requests_at_once_act_once(customer_body):
    from django.contrib.auth import get_user_model

    from agrega.core.models import ApiToken
    from agrega.core.roles import assign_role

    user = get_user_model().objects.create_user("concorrente")
    assign_role(user, "operador")
    _, token = ApiToken.issue(user=user, name="t")
    results, barrier = [], threading.Barrier(2)

    def send():
        try:
            barrier.wait(5)
            results.append(post(Client(), token, "/customers", customer_body, key="same"))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.status_code for r in results) == [201, 201]
    assert results[0].json() == results[1].json()
    assert Customer.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_operators_acting_on_one_contract_at_once_leave_it_consistent(make_contract):
    """Two blocks at once: one succeeds, the other is refused as an invalid transition;
    the contract ends blocked once, with one event."""
    from django.contrib.auth import get_user_model

    from agrega.contracts.services import contract_activate
    from agrega.core.models import ApiToken
    from agrega.core.roles import assign_role

    contract = make_contract()
    contract_activate(contract=contract)
    tokens = []
    for name in ("op1", "op2"):
        user = get_user_model().objects.create_user(name)
        assign_role(user, "operador")
        tokens.append(ApiToken.issue(user=user, name="t")[1])
    results, barrier = [], threading.Barrier(2)

    def act(token):
        try:
            barrier.wait(5)
            results.append(post(Client(), token, f"/contracts/{contract.pk}/block-manual", {}))
        finally:
            connection.close()

    threads = [threading.Thread(target=act, args=(t,)) for t in tokens]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r.status_code for r in results) == [200, 409], [r.content for r in results]
    contract.refresh_from_db()
    assert contract.access_status == "CM"
    assert ContractEvent.objects.filter(contract=contract, action="block_manual").count() == 1
    assert Contract.objects.get(pk=contract.pk).version == contract.version
