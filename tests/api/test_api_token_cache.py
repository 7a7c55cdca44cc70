"""The opt-in token cache (``AGREGA_API_TOKEN_CACHE_SECONDS``): within its time a token's
user and role come from the process's memory, without the token query; after it the
token is read again, so a revoked token is refused. Off by default (other tests)."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext

from agrega.core import api as core_api
from agrega.core.models import ApiToken
from agrega.core.roles import assign_role

from tests.fixtures_api import ApiClient, error

pytestmark = pytest.mark.django_db


@pytest.fixture
def clock(monkeypatch, settings):
    settings.API_TOKEN_CACHE_SECONDS = 30
    core_api._TOKEN_CACHE.clear()
    now = [1000.0]
    monkeypatch.setattr(core_api.time, "monotonic", lambda: now[0])
    yield now
    core_api._TOKEN_CACHE.clear()


def token_queries(client) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        status = client.get("/contracts").status_code
    return status, sum("core_apitoken" in q["sql"] for q in queries.captured_queries)


def test_a_cached_token_skips_its_query_until_the_time_is_up(clock):
    user = get_user_model().objects.create_user("cacheada", password="senha-de-teste-123")
    assign_role(user, "somente leitura")
    token, raw = ApiToken.issue(user=user, name="t")
    client = ApiClient(raw)
    assert token_queries(client)[0] == 200
    assert token_queries(client) == (200, 0)  # from the cache
    ApiToken.objects.filter(pk=token.pk).update(revoked_at=token.created_at)
    assert token_queries(client) == (200, 0)  # the documented delay: still cached
    clock[0] += 31
    assert error(client.get("/contracts"), 401)["code"] == "not_authenticated"


def test_the_cached_role_still_governs_what_the_token_may_do(clock, make_customer):
    user = get_user_model().objects.create_user("leitora", password="senha-de-teste-123")
    assign_role(user, "somente leitura")
    _, raw = ApiToken.issue(user=user, name="t")
    client = ApiClient(raw)
    customer = make_customer(name="Ana Souza")
    assert client.get("/contracts").status_code == 200
    # a read-only role may not create, from the cache as from the database
    assert client.post("/contracts", {"customer_id": customer.pk}).status_code == 403
    assert client.post("/contracts", {"customer_id": customer.pk}).status_code == 403
