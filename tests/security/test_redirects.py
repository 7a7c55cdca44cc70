"""No open redirect: every view that follows a ``next`` (or any redirect built from user
input) sends a hostile target back home (web.views.safe_next, Django's
``url_has_allowed_host_and_scheme``). The first tests find every place that reads
``next``, so a new one cannot be added without being tried here."""

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from agrega.contracts import services
from agrega.sva.models import SvaUser
from tests.fixtures import default_platform_only

sva_platform = default_platform_only()

ROOT = Path(__file__).resolve().parents[2] / "agrega"
HOSTILE = ["//evil.example", "https://evil.example", "\\\\evil.example", "/\\evil.example",
           "javascript:alert(1)", "http:evil.example", " //evil.example", "https:///evil.example"]
PASSWORD = "senha-de-teste-123"
# templates whose form sends a ``next`` → the view tested below for it
NEXT_TEMPLATES = {"registration/login.html": "login", "sva/detail.html": "sva sync",
                  "customers/form.html": "customer edit"}
# Python files that read ``next`` from a request: only the helper itself
NEXT_READERS = {"core/web.py"}


def test_every_python_reader_of_next_is_the_helper():
    pattern = re.compile(r"""(GET|POST|REQUEST|query_params|data)\s*(\.get\(|\[)\s*["']next["']""")
    readers = {str(p.relative_to(ROOT)) for p in ROOT.rglob("*.py") if pattern.search(p.read_text())}
    assert readers == NEXT_READERS


def test_every_form_sending_next_is_tried_here():
    found = {str(p.relative_to(p.parents[1])) for p in ROOT.rglob("templates/**/*.html")
             if re.search(r"""name=["']next["']""", p.read_text())}
    assert found == set(NEXT_TEMPLATES)


def _is_local(location: str) -> bool:
    parts = urlsplit(location.strip())
    return (parts.scheme in ("", "http", "https") and parts.netloc in ("", "testserver")
            and not location.startswith(("//", "\\")) and "\\" not in location and "evil" not in location)


@pytest.fixture
def operator(db):
    from agrega.core.roles import assign_role

    user = get_user_model().objects.create_user("redir", password=PASSWORD, is_staff=True, is_superuser=True)
    assign_role(user, "administrador")
    return user


def _login(next_target, path="/entrar/"):
    client = Client()
    answer = client.post(path, {"username": "redir", "password": PASSWORD, "next": next_target})
    assert answer.status_code == 302, answer.content[:500]
    return answer["Location"]


@pytest.mark.parametrize("target", HOSTILE)
def test_login_pages_refuse_hostile_next(operator, target):
    assert _is_local(_login(target))
    assert _is_local(_login(target, path="/admin/login/"))
    page = Client().get("/entrar/", {"next": target}).content.decode()
    assert "evil.example" not in page


@pytest.mark.parametrize("target", HOSTILE)
def test_logout_refuses_hostile_next(operator, target):
    client = Client()
    client.force_login(operator)
    answer = client.post("/sair/", {"next": target})
    assert answer.status_code == 302 and _is_local(answer["Location"])


def test_a_local_next_is_followed(operator):
    assert _login("/contratos/?status=A") == "/contratos/?status=A"


def test_sva_sync_refuses_hostile_next(operator, make_platform_integration, make_product, make_contract):
    integration = make_platform_integration(auto_create_users=True)
    contract = make_contract()
    services.contract_add_product(contract=contract, product_id=make_product(integration).pk)
    services.contract_activate(contract=contract)
    user = SvaUser.objects.get(contract=contract)
    client = Client()
    client.force_login(operator)
    url = f"/usuarios-sva/{user.pk}/sincronizar/"
    for target in HOSTILE:
        for answer in (client.post(url, {"next": target}), client.post(f"{url}?next={target}")):
            assert answer.status_code == 302 and _is_local(answer["Location"]), (target, answer["Location"])
    assert client.post(url, {"next": f"/usuarios-sva/{user.pk}/"})["Location"] == f"/usuarios-sva/{user.pk}/"


def test_customer_edit_refuses_hostile_next(operator, make_customer):
    """The "Corrigir o cadastro" link returns to the page that showed the problem (?next=)."""
    from agrega.core.br import format_document

    customer = make_customer()
    client = Client()
    client.force_login(operator)
    url = f"/clientes/{customer.pk}/editar/"
    data = {"name": customer.name, "document": format_document(customer.document), "email": customer.email,
            "mobile_phone": customer.mobile_phone, "city": customer.city, "state": customer.state}
    for target in HOSTILE:
        assert "evil.example" not in client.get(url, {"next": target}).content.decode()
        answer = client.post(f"{url}?next={target}", {**data, "next": target})
        assert answer.status_code == 302 and _is_local(answer["Location"]), (target, answer["Location"])
    answer = client.post(f"{url}?next=/contratos/", {**data, "next": "/contratos/"})
    assert answer["Location"] == "/contratos/"
