"""The token cache (``AGREGA_API_TOKEN_CACHE_SECONDS``, 10 s by default): within its time a
token's user and role come from the process's memory, without the token query; after it
the token is read again. A revocation, a deactivation or a role change made in this
process applies at once; one made elsewhere (another process: here a bare UPDATE, which
no signal sees) within the cache's time."""

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


def test_a_token_revoked_in_this_process_is_refused_at_once(clock):
    from agrega.core.services import api_token_revoke

    user = get_user_model().objects.create_user("revogada", password="senha-de-teste-123")
    assign_role(user, "operador")
    token, raw = ApiToken.issue(user=user, name="t")
    client = ApiClient(raw)
    assert token_queries(client)[0] == 200
    assert token_queries(client) == (200, 0)  # cached
    api_token_revoke(user=user, token_id=token.pk)
    assert error(client.get("/contracts"), 401)["code"] == "not_authenticated"


def test_revoking_through_the_api_refuses_the_token_on_its_next_request(clock):
    user = get_user_model().objects.create_user("revoga-se", password="senha-de-teste-123")
    assign_role(user, "operador")
    token, raw = ApiToken.issue(user=user, name="t")
    client = ApiClient(raw)
    assert client.get("/contracts").status_code == 200
    assert client.delete(f"/tokens/{token.pk}").status_code == 200
    assert error(client.get("/contracts"), 401)["code"] == "not_authenticated"


def test_a_deactivated_user_and_a_changed_role_apply_at_once(clock, make_customer):
    from agrega.core.services import user_deactivate

    admin = get_user_model().objects.create_user("admin-cache", password="senha-de-teste-123")
    assign_role(admin, "administrador")
    user = get_user_model().objects.create_user("muda-cache", password="senha-de-teste-123")
    assign_role(user, "operador")
    _, raw = ApiToken.issue(user=user, name="t")
    client = ApiClient(raw)
    customer = make_customer(name="Ana Souza")
    assert client.post("/contracts", {"customer_id": customer.pk}).status_code == 201
    assign_role(get_user_model().objects.get(pk=user.pk), "somente leitura")
    assert client.post("/contracts", {"customer_id": customer.pk}).status_code == 403
    assert token_queries(client) == (200, 0)  # the new role is cached in turn
    user_deactivate(actor=admin, user_id=user.pk)
    assert error(client.get("/contracts"), 401)["code"] == "not_authenticated"


def test_a_read_that_a_revocation_overtook_is_not_kept(clock):
    """A request read the token just before another request of this process revoked it:
    what it read is not cached (it would outlive the revocation)."""
    user = get_user_model().objects.create_user("corrida", password="senha-de-teste-123")
    assign_role(user, "operador")
    token, raw = ApiToken.issue(user=user, name="t")
    auth = core_api.TokenAuth()
    read = auth._read_user

    def read_then_revoked_meanwhile(raw_token):
        found = read(raw_token)
        core_api.forget_cached_tokens()  # what the revoking request's signal does
        return found

    auth._read_user = read_then_revoked_meanwhile
    assert auth._user_for(raw) is not None
    assert core_api._TOKEN_CACHE == {}
