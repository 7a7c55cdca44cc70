"""Fast reads (agrega/core/fast_reads.py, decision 0016): the customer search's plain page,
the contract list's plain page and the contract detail answered before the token chain must be, for every request it answers, byte- and
header-identical to the chain's answer, and every request it does not fully understand
must reach Django and get Django's answer.

Both sides are driven as a WSGI server drives them: ``agrega.wsgi.application`` (whose token
handler tries the fast read first) and the same token handler with its fast reads left out
(Django's own ``get_response``: the middleware chain, URL resolution, ninja).
"""

from __future__ import annotations

import functools
import json

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.handlers.wsgi import WSGIHandler

from agrega.core import fast_reads
from agrega.core.br import make_cpf
from agrega.core.handlers import TokenApiHandler
from agrega.core.models import ApiToken
from agrega.core.roles import assign_role
from agrega.core.services import api_token_revoke
from agrega.api import api
from agrega.wsgi import application

from .test_token_chain import call, environ, without_csrf_values

pytestmark = pytest.mark.django_db

NAMES = ["Ana Souza", "Bia Lima", "João Araújo", "Maria Conceição da Silva", "MARIA JOSÉ", "Zoë Ünal",
         "Çedilha Ñandú", "José 40x", "Luiz Antônio", "Ana Paula Souza"]


@pytest.fixture(scope="module")
def chain():
    """The token handler without its fast reads: exactly what served these requests before."""
    handler = TokenApiHandler()
    handler.get_response = functools.partial(WSGIHandler.get_response, handler)
    return handler


@pytest.fixture
def taken(monkeypatch):
    """What the fast read answered to each request it was asked (None: left to the chain)."""
    answers = []
    fast = application.token_api.fast_reads
    original = fast.get_response

    def recording(request):
        answers.append(original(request))
        return answers[-1]

    monkeypatch.setattr(fast, "get_response", recording)
    return answers


@pytest.fixture
def customers(api):
    ids = []
    for n, name in enumerate(NAMES):
        body = {"name": name, "document": make_cpf(770000 + n), "email": f"c{n}@exemplo.com.br",
                "mobile_phone": f"(11) 97777-00{n:02d}", "city": "São Paulo", "state": "SP"}
        response = api.post("/customers", body)
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


@pytest.fixture
def token_for(db):
    def make(role: str | None, *, active: bool = True, name: str = "fast") -> str:
        user = get_user_model().objects.create_user(f"{name}-{role or 'sem-papel'}", password="senha-de-teste-123",
                                                    is_active=active)
        if role:
            assign_role(user, role)
        return ApiToken.issue(user=user, name="testes")[1]

    return make


def get(path: str, query: str, token: str, **kwargs) -> dict:
    return environ(kwargs.pop("method", "GET"), path, query=query,
                   headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}, **kwargs)


def both(chain, make_env) -> tuple[tuple, tuple]:
    return call(application, make_env()), call(chain, make_env())


def test_the_route_is_found_and_every_token_middleware_is_known():
    read = fast_reads.registered()["/api/customers"]
    assert read.operation() is not None
    assert read.params == {"q", "cursor", "limit"}
    # a middleware added to the token chain turns fast reads off until core.fast_reads knows
    # what it does to a GET (and this test says so)
    assert application.token_api.fast_reads.steps.unknown == []
    assert fast_reads.TokenChainSteps([*settings.API_TOKEN_MIDDLEWARE, "x.New"]).unknown == ["x.New"]
    # the parameters it answers are the route's own (a removed one would be a 422 there)
    operation = api.get_openapi_schema()["paths"]["/api/customers"]["get"]
    declared = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
    assert read.params <= declared


SEARCHES = [
    "", "q=", "q=ana", "q=Ana+Souza", "q=souza+ana", "q=maria", "q=MARIA+jos%C3%A9", "q=jose",
    "q=Jo%C3%A3o", "q=araujo", "q=%C3%A7edilha", "q=%C3%B1and%C3%BA", "q=zo%C3%AB", "q=40x", "q=jos%C3%A9+40x",
    "q=" + make_cpf(770003), "q=" + make_cpf(770003)[:6],
    "q=" + "{}.{}.{}-{}".format(*(make_cpf(770004)[i:j] for i, j in ((0, 3), (3, 6), (6, 9), (9, 11)))),
    "q=c5%40exemplo", "q=97777-0007", "q=(11)+97777-0008", "q=%E2%9C%93", "q=%F0%9F%98%80", "q=nobody+here",
    "limit=1", "limit=2", "limit=50", "limit=500", "q=ana&limit=1", "cursor=0", "cursor=0&limit=3",
    "q=a&cursor=1&limit=2", "cursor=9223372036854775807", "limit=+5", "limit=05", "q=" + "a" * 200,
    "q=%ED%A0%80",  # not UTF-8: Django's replacement character, on both sides
]


@pytest.mark.parametrize("query", SEARCHES)
def test_the_fast_read_answers_what_the_token_chain_answers(chain, customers, api_token, taken, query):
    if "cursor=1&" in query:
        query = query.replace("cursor=1", f"cursor={customers[2]}")
    fast, slow = both(chain, lambda: get("/api/customers", query, api_token))
    assert taken and taken[-1] is not None, "the fast read was not taken"
    assert fast == slow
    assert fast[0] == "200 OK"
    assert json.loads(fast[2])["items"] is not None


def test_the_fast_read_runs_no_middleware_url_resolution_or_ninja(customers, api_token, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the chain ran")

    handler = application.token_api
    monkeypatch.setattr(handler, "_middleware_chain", never)
    status, headers, body = call(application, get("/api/customers", "q=ana&limit=2", api_token))
    assert status == "200 OK" and len(json.loads(body)["items"]) == 2
    names = [name for name, _ in headers]
    for header in ("Content-Security-Policy", "Permissions-Policy", "Cache-Control", "X-Frame-Options",
                   "Content-Length", "X-Content-Type-Options", "Referrer-Policy"):
        assert header in names


def test_the_fast_read_walks_every_page_as_the_chain_does(chain, customers, api_token, taken):
    cursor, pages = None, 0
    while True:
        query = "limit=3" + (f"&cursor={cursor}" if cursor is not None else "")
        fast, slow = both(chain, lambda: get("/api/customers", query, api_token))
        assert fast == slow and fast[0] == "200 OK"
        cursor, pages = json.loads(fast[2])["next_cursor"], pages + 1
        if cursor is None:
            break
    assert pages >= 4 and all(answer is not None for answer in taken)


FALL_THROUGH = [
    ("GET", "/api/customers", "limt=5", {}),  # unknown parameter: 422 unknown_parameter
    ("GET", "/api/customers", "city=S%C3%A3o+Paulo", {}),  # a filter it does not take: the chain answers 200
    ("GET", "/api/customers", "state=sp", {}),
    ("GET", "/api/customers", "q=ana&q=bia", {}),  # repeated
    ("GET", "/api/customers", "limit=5&limit=6", {}),
    ("GET", "/api/customers", "limit=0", {}),
    ("GET", "/api/customers", "limit=501", {}),
    ("GET", "/api/customers", "limit=abc", {}),
    ("GET", "/api/customers", "limit=", {}),
    ("GET", "/api/customers", "cursor=-1", {}),
    ("GET", "/api/customers", "cursor=abc", {}),
    ("GET", "/api/customers", "cursor=9223372036854775808", {}),
    ("GET", "/api/customers", "q=" + "a" * 201, {}),  # over the filter's max_length
    ("GET", "/api/customers", "q=a%00b", {}),  # a control character
    ("GET", "/api/customers", "q=ana", {"Cookie": "sessionid=abc"}),  # the full chain
    ("GET", "/api/customers", "q=ana", {"Host": "evil.example.com"}),
    ("POST", "/api/customers", "", {}),
    ("HEAD", "/api/customers", "q=ana", {}),
    ("GET", "/api/customers/", "q=ana", {}),  # the slash
    ("GET", "/api/customers/1", "", {}),
]


@pytest.mark.parametrize(("method", "path", "query", "headers"), FALL_THROUGH,
                         ids=[f"{m} {p} {q[:20]} {list(h)}" for m, p, q, h in FALL_THROUGH])
def test_what_it_does_not_fully_understand_reaches_django(chain, customers, api_token, taken, method, path,
                                                          query, headers):
    headers = dict(headers)
    host = headers.pop("Host", "testserver")
    if path.endswith("/1"):
        path = f"/api/customers/{customers[0]}"

    def make():
        return get(path, query, api_token, method=method, headers=headers, host=host)

    through_app = without_csrf_values(call(application, make()))
    assert all(answer is None for answer in taken), "the fast read answered"
    # Django's HTML 404 carries a fresh CSRF token on every answer: masked on both sides
    assert through_app == without_csrf_values(call(application.full if "Cookie" in headers else chain, make()))


@pytest.mark.parametrize("case", ["wrong", "malformed", "no-role", "inactive", "revoked"])
def test_a_token_that_does_not_read_customers_reaches_django(chain, customers, token_for, taken, case):
    raw = token_for("operador", active=case != "inactive") if case != "no-role" else token_for(None)
    raw = {"wrong": "agr_nao-existe", "malformed": raw + " extra"}.get(case, raw)
    if case == "revoked":  # just revoked, cached before: decision 0012 applies it at once in this process
        assert call(application, get("/api/customers", "q=ana", raw))[0] == "200 OK"
        assert taken[-1] is not None
        token = ApiToken.objects.get(user__username="fast-operador")
        api_token_revoke(user=token.user, token_id=token.pk)
        taken.clear()
    fast, slow = both(chain, lambda: get("/api/customers", "q=ana", raw))
    assert all(answer is None for answer in taken)
    assert fast == slow
    assert fast[0][:3] == ("403" if case == "no-role" else "401")


def test_an_exception_in_the_read_leaves_the_answer_to_django(chain, customers, api_token, taken, monkeypatch):
    from agrega.customers import selectors

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "customer_page", broken)
    fast, slow = both(chain, lambda: get("/api/customers", "q=ana", api_token))
    assert taken == [None]  # the chain ran the view again, and its error is Django's to answer
    assert fast[0].startswith("500") and fast == slow


# The contract list's plain page and the contract detail (decision 0016, as for the search).

@pytest.fixture
def contracts(api, make_customer, make_product):
    customer = make_customer(name='José "Zé" d\'Ávila \\ 100% Ünal')
    ids = [api.post("/contracts", {"customer_id": customer.pk, "description": d}).json()["id"]
           for d in ("", "Sítio — fundos", "a" * 100, "✓ 😀", "plain", "sexto")]
    assert api.post(f"/contracts/{ids[1]}/activate").status_code == 200
    assert api.post(f"/contracts/{ids[2]}/activate").status_code == 200
    assert api.post(f"/contracts/{ids[2]}/block-manual").status_code == 200
    assert api.post(f"/contracts/{ids[3]}/activate").status_code == 200
    assert api.post(f"/contracts/{ids[3]}/deactivate").status_code == 200
    product = api.post(f"/contracts/{ids[1]}/products", {"product_id": make_product().pk})
    assert product.status_code == 201, product.content
    extra = api.post(f"/contracts/{ids[1]}/products", {"product_id": make_product().pk, "price": "12.34"})
    assert api.delete(f"/contracts/{ids[1]}/products/{extra.json()['id']}").status_code in (200, 204)
    assert api.post(f"/contracts/{ids[4]}/products", {"product_id": make_product().pk}).status_code == 201
    return ids


def test_the_contract_routes_are_found():
    reads = fast_reads.registered()
    assert reads["/api/contracts"].operation() is not None and reads["/api/contracts"].params == {"cursor", "limit"}
    detail = reads["/api/contracts/{contract_id}"]
    assert detail.pattern and detail.prefix == "/api/contracts/" and detail.params == frozenset()
    with pytest.raises(ValueError):
        fast_reads.FastRead("/api/{a}/x", detail.view, ())


LISTS = ["", "limit=1", "limit=2", "limit=50", "limit=500", "limit=05", "limit=+5", "cursor=0", "cursor=0&limit=3",
         "cursor=FIRST&limit=50", "cursor=THIRD&limit=2", "limit=50&cursor=LAST", "cursor=9223372036854775807&limit=50"]


@pytest.mark.parametrize("query", LISTS)
def test_the_contract_list_answers_what_the_token_chain_answers(chain, contracts, api_token, taken, query):
    query = (query.replace("FIRST", str(contracts[0])).replace("THIRD", str(contracts[2]))
             .replace("LAST", str(contracts[-1])))
    fast, slow = both(chain, lambda: get("/api/contracts", query, api_token))
    assert taken and taken[-1] is not None, "the fast read was not taken"
    assert fast == slow and fast[0] == "200 OK"
    assert json.loads(fast[2])["items"] is not None


def test_the_contract_detail_answers_what_the_token_chain_answers(chain, contracts, api_token, taken):
    for pk in contracts:
        for spelled in (str(pk), f"0{pk}"):
            fast, slow = both(chain, lambda: get(f"/api/contracts/{spelled}", "", api_token))
            assert taken[-1] is not None, "the fast read was not taken"
            assert fast == slow and fast[0] == "200 OK"
            assert json.loads(fast[2])["id"] == pk
    assert len(taken) == 2 * len(contracts)


def test_the_contract_reads_run_no_middleware_or_ninja(contracts, api_token, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("the chain ran")

    monkeypatch.setattr(application.token_api, "_middleware_chain", never)
    for path, query in (("/api/contracts", "limit=2"), (f"/api/contracts/{contracts[1]}", "")):
        status, headers, body = call(application, get(path, query, api_token))
        assert status == "200 OK"
        assert {"Content-Security-Policy", "Cache-Control", "X-Frame-Options", "Content-Length"} <= {n for n, _ in headers}


CONTRACT_FALL_THROUGH = [
    ("GET", "/api/contracts", "status=A", {}),  # a filter it does not take: the chain answers 200
    ("GET", "/api/contracts", "customer_id=1", {}),
    ("GET", "/api/contracts", "access_status=AA", {}),
    ("GET", "/api/contracts", "limt=5", {}),  # unknown: 422
    ("GET", "/api/contracts", "cursor=1&cursor=2", {}),
    ("GET", "/api/contracts", "limit=5&limit=5", {}),
    ("GET", "/api/contracts", "limit=0", {}),
    ("GET", "/api/contracts", "limit=501", {}),
    ("GET", "/api/contracts", "limit=abc", {}),
    ("GET", "/api/contracts", "cursor=-1", {}),
    ("GET", "/api/contracts", "cursor=abc", {}),
    ("GET", "/api/contracts", "cursor=", {}),
    ("GET", "/api/contracts", "cursor=9223372036854775808", {}),
    ("GET", "/api/contracts", "limit=2", {"Cookie": "sessionid=abc"}),
    ("GET", "/api/contracts", "limit=2", {"Host": "evil.example.com"}),
    ("POST", "/api/contracts", "", {}),
    ("HEAD", "/api/contracts", "", {}),
    ("GET", "/api/contracts/", "", {}),
    ("GET", "/api/contracts/ID", "x=1", {}),  # a query the detail does not take: 422
    ("GET", "/api/contracts/999999999", "", {}),  # unknown contract: 404
    ("GET", "/api/contracts/abc", "", {}),  # not an integer: 422
    ("GET", "/api/contracts/-1", "", {}),
    ("GET", "/api/contracts/1.5", "", {}),
    ("GET", "/api/contracts/99999999999999999999999", "", {}),
    ("GET", "/api/contracts/ID/", "", {}),  # the slash
    ("GET", "/api/contracts/ID/anything", "", {}),
    ("GET", "/api/contracts/ID/history", "", {}),
    ("GET", "/api/contracts/ID", "", {"Cookie": "sessionid=abc"}),
    ("GET", "/api/contracts/ID", "", {"Host": "evil.example.com"}),
    ("POST", "/api/contracts/ID", "", {}),
    ("PATCH", "/api/contracts/ID", "", {}),
    ("HEAD", "/api/contracts/ID", "", {}),
    ("GET", "/api/customers/ID", "", {}),  # no fast read under that prefix
]


@pytest.mark.parametrize(("method", "path", "query", "headers"), CONTRACT_FALL_THROUGH,
                         ids=[f"{m} {p} {q[:20]} {list(h)}" for m, p, q, h in CONTRACT_FALL_THROUGH])
def test_what_the_contract_reads_do_not_fully_understand_reaches_django(chain, contracts, api_token, taken, method,
                                                                        path, query, headers):
    headers = dict(headers)
    host = headers.pop("Host", "testserver")
    path = path.replace("ID", str(contracts[1]))

    def make():
        return get(path, query, api_token, method=method, headers=headers, host=host)

    through_app = without_csrf_values(call(application, make()))
    assert all(answer is None for answer in taken), "the fast read answered"
    assert through_app == without_csrf_values(call(application.full if "Cookie" in headers else chain, make()))


@pytest.mark.parametrize("case", ["wrong", "no-role", "inactive", "revoked"])
@pytest.mark.parametrize("path", ["/api/contracts", "/api/contracts/ID"])
def test_a_token_that_does_not_read_contracts_reaches_django(chain, contracts, token_for, taken, case, path):
    path = path.replace("ID", str(contracts[0]))
    raw = token_for("operador", active=case != "inactive") if case != "no-role" else token_for(None)
    raw = {"wrong": "agr_nao-existe"}.get(case, raw)
    if case == "revoked":
        assert call(application, get(path, "", raw))[0] == "200 OK"
        assert taken[-1] is not None
        token = ApiToken.objects.get(user__username="fast-operador")
        api_token_revoke(user=token.user, token_id=token.pk)
        taken.clear()
    fast, slow = both(chain, lambda: get(path, "", raw))
    assert all(answer is None for answer in taken)
    assert fast == slow
    assert fast[0][:3] == ("403" if case == "no-role" else "401")


def test_a_digits_id_skips_resolution_only_where_the_url_patterns_prove_it(contracts, api_token, monkeypatch):
    from django.urls import resolve

    detail = fast_reads.registered()["/api/contracts/{contract_id}"]
    view = resolve(f"/api/contracts/{contracts[0]}").func
    name, _ = fast_reads._digits_route("/api/contracts/", view)
    assert name == "contract_id"
    # a route under the prefix with more segments is never proved; nor one shadowed by a literal
    assert fast_reads._digits_route("/api/contracts/", resolve(f"/api/contracts/{contracts[0]}/events").func) is None
    assert fast_reads._digits_route("/api/", view) is None
    # once proved, a digits id is answered without resolve(); anything else is resolved
    assert call(application, get(f"/api/contracts/{contracts[0]}", "", api_token))[0] == "200 OK"
    assert detail._digits is not None
    monkeypatch.setattr(fast_reads, "resolve", lambda path: (_ for _ in ()).throw(AssertionError(path)))
    assert call(application, get(f"/api/contracts/{contracts[1]}", "", api_token))[0] == "200 OK"


def test_a_literal_or_regex_route_that_could_take_a_digits_id_keeps_resolution(settings):
    import types

    from django.urls import path, re_path

    def detail(request, contract_id):  # pragma: no cover - never called
        raise AssertionError

    def other(request, **kwargs):  # pragma: no cover - never called
        raise AssertionError

    def proved(*earlier):
        urls = types.ModuleType("fast_read_test_urls")
        urls.urlpatterns = [*earlier, path("api/contracts/<contract_id>", detail)]
        settings.ROOT_URLCONF = urls
        return fast_reads._digits_route("/api/contracts/", detail)

    assert proved()[0] == "contract_id"
    assert proved(path("api/contracts", other), path("api/contracts/from-plan", other),
                  path("api/customers/<int:x>", other), path("admin/", other))[0] == "contract_id"
    assert proved(path("api/contracts/2024", other)) is None  # a literal digits id
    assert proved(path("api/<str:x>/<int:y>", other)) is None  # a converter that may take it
    assert proved(re_path(r"^api/", other)) is None  # a regex is not read
