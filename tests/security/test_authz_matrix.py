"""The authorization matrix: every role against every API operation and every page.

The expectations below are written from the roles as designed (docs/decisions/0005-roles.md):
somente leitura sees everything and changes nothing; operador works customers,
contracts, SVA users, títulos, payments, consents, campaigns and imports; administrador
also configures integrations, products, plans, taxes and the régua, and answers LGPD
requests and administers users. A new API resource or page that is not listed here fails the test until
someone decides who may use it."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from agrega.core.models import ApiToken
from agrega.core.roles import assign_role

pytestmark = pytest.mark.django_db

VIEW, OPERATE, CONFIGURE, PUBLIC = "view", "operate", "configure", "public"
ROLES = {"leitura": "somente leitura", "operador": "operador", "administrador": "administrador"}
GRANTS = {"leitura": {VIEW}, "operador": {VIEW, OPERATE}, "administrador": {VIEW, OPERATE, CONFIGURE}}

# What an API write needs, by the first segment of its path.
API_WRITES = {
    "customers": OPERATE, "contracts": OPERATE, "sva-users": OPERATE, "invoices": OPERATE,
    "payments": OPERATE, "billing": OPERATE, "consents": OPERATE, "campaigns": OPERATE,
    "imports": OPERATE, "dunning-sweeps": OPERATE, "tokens": VIEW,
    "integrations": CONFIGURE, "products": CONFIGURE, "plans": CONFIGURE, "tax-rates": CONFIGURE,
    "dunning": CONFIGURE, "reconciliations": CONFIGURE, "users": CONFIGURE,
    "nfcom": OPERATE, "fiscal": CONFIGURE, "pix-accounts": CONFIGURE,
}
# Operations whose rule is not the resource's (method, path regex) → capability.
API_EXCEPTIONS = [
    ("GET", r"^/customers/\{[^}]+\}/personal-data$", CONFIGURE),
    ("POST", r"^/customers/\{[^}]+\}/anonymize$", CONFIGURE),
    ("POST", r"^/integrations/\{[^}]+\}/reconcile$", CONFIGURE),
    ("POST", r"^/payments/webhook$", PUBLIC),  # authenticated by its HMAC signature
    ("GET", r"^/users(/.*)?$", CONFIGURE),  # who has access: administrators only, even to read
    ("GET", r"^/fiscal(/.*)?$", CONFIGURE),  # the emitter's configuration: administrators only
    ("GET", r"^/pix-accounts(/.*)?$", CONFIGURE),  # PSP accounts (credentials): administrators only
]
READ_METHODS = {"GET", "HEAD"}


def api_operations():
    from agrega.api import api

    schema = api.get_openapi_schema()
    for path, item in schema["paths"].items():
        for method in item:
            if method.upper() in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
                yield method.upper(), path.removeprefix("/api")


def needed_for(method: str, path: str) -> str:
    for m, pattern, capability in API_EXCEPTIONS:
        if m == method and re.match(pattern, path):
            return capability
    if method in READ_METHODS:
        return VIEW
    resource = path.strip("/").split("/")[0]
    assert resource in API_WRITES, f"{method} /api{path}: resource {resource!r} is not in the matrix"
    return API_WRITES[resource]


@pytest.fixture
def tokens(db):
    out = {}
    for name, role in ROLES.items():
        user = get_user_model().objects.create_user(f"matriz-{name}")
        assign_role(user, role)
        out[name] = ApiToken.issue(user=user, name="matriz")[1]
    return out


def call(client, method, path, token=None):
    url = "/api" + re.sub(r"\{[^}]+\}", "999999", path)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    if method in READ_METHODS:
        return client.get(url, **headers)
    return client.generic(method, url, "{}", content_type="application/json", **headers)


def test_every_api_operation_for_every_role(tokens):
    client = Client()
    operations = sorted(set(api_operations()))
    assert len(operations) > 40
    problems = []
    for method, path in operations:
        needed = needed_for(method, path)
        if needed == PUBLIC:
            continue
        anonymous = call(client, method, path)
        if anonymous.status_code != 401:
            problems.append(f"anonymous {method} {path}: {anonymous.status_code}")
        for name, token in tokens.items():
            status = call(client, method, path, token).status_code
            allowed = needed in GRANTS[name]
            if allowed and status in (401, 403):
                problems.append(f"{name} {method} {path}: refused ({status}) but should be allowed")
            if not allowed and status != 403:
                problems.append(f"{name} {method} {path}: {status} but should be 403")
            if status >= 500:
                problems.append(f"{name} {method} {path}: server error {status}")
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- pages

# Pages. A list, a detail or a report needs VIEW to be seen; a page that exists to act
# (a form, a confirmation, a helper of a form) needs the action's capability even to be
# seen. The action's capability comes from the area: configuration areas need CONFIGURE,
# the rest OPERATE. Names: "namespace:view".
PAGE_RULES = {
    "web:login": (PUBLIC, PUBLIC), "web:logout": (PUBLIC, PUBLIC),
    "customers:personal_data": (CONFIGURE, None), "customers:anonymize": (CONFIGURE, CONFIGURE),
    "dunning:sweep": (OPERATE, OPERATE),  # running the régua is daily operation
    # pages that list (everyone sees) and hold the form to act (OPERATE)
    "billing:import": (VIEW, OPERATE), "billing:import_detail": (VIEW, OPERATE), "billing:runs": (VIEW, OPERATE),
    "billing:held_payments": (VIEW, OPERATE),
    # progress pages of queued work (agrega/core/tasks.py): to see, not to act
    "billing:run_detail": (VIEW, None), "web:tasks": (VIEW, None), "web:task": (VIEW, None),
    "plans:items_preview": (VIEW, None),  # the products of a plan, shown on the contract form
    # Configurações > Usuários: who has access is for administrators only, even to see
    "users:list": (CONFIGURE, None), "users:detail": (CONFIGURE, None), "users:create": (CONFIGURE, CONFIGURE),
    "users:role": (CONFIGURE, CONFIGURE), "users:deactivate": (CONFIGURE, CONFIGURE),
    "users:reactivate": (CONFIGURE, CONFIGURE), "users:password": (CONFIGURE, CONFIGURE),
    "users:revoke_token": (CONFIGURE, CONFIGURE),
    # Configurações > Fiscal: the emitter, its A1 and the products' fiscal data — administrators only
    "fiscal:settings": (CONFIGURE, CONFIGURE), "fiscal:products": (CONFIGURE, CONFIGURE),
    # Configurações > Contas PIX: administrators only; the PSP's callbacks are authenticated by
    # the secret in their path (and mTLS at the proxy), each Pix confirmed with the PSP
    "pix:list": (CONFIGURE, None), "pix:create": (CONFIGURE, CONFIGURE), "pix:edit": (CONFIGURE, CONFIGURE),
    "pix:action": (CONFIGURE, CONFIGURE), "pix:refund": (OPERATE, OPERATE), "pix:recurrence": (OPERATE, OPERATE),
    "pix:webhook": (PUBLIC, PUBLIC), "pix:webhook_rec": (PUBLIC, PUBLIC), "pix:webhook_cobr": (PUBLIC, PUBLIC),
}
CONFIGURE_NAMESPACES = {"integrations", "catalog", "plans", "dunning", "taxes", "notices", "reconcile", "users"}
ACTION_WORDS = ("create", "edit", "delete", "remove", "cancel", "action", "revoke", "sync", "new", "upload",
                "start", "pause", "remap", "mapping", "check", "default", "sweep", "trust_release", "add",
                "anonymize", "validate", "field", "preview", "retry", "texts", "pay", "run", "import")
SKIP_PREFIXES = ("admin/", "api/", "static/", "healthz", "readyz", "metrics", "__")


def page_urls():
    def walk(patterns, prefix="", namespace=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = p.namespace or namespace
                yield from walk(p.url_patterns, prefix + str(p.pattern), ns)
            elif isinstance(p, URLPattern) and p.name:
                route = prefix + str(p.pattern)
                if route.startswith(SKIP_PREFIXES):
                    continue
                yield f"{namespace}:{p.name}" if namespace else p.name, route

    for name, route in walk(get_resolver().url_patterns):
        url = "/" + re.sub(r"<(?:\w+:)?\w+>", "999999", route).lstrip("^").rstrip("$")
        yield name, url


def page_rule(name: str) -> tuple[str, str | None]:
    if name in PAGE_RULES:
        return PAGE_RULES[name]
    namespace, _, view = name.partition(":")
    action = CONFIGURE if namespace in CONFIGURE_NAMESPACES else OPERATE
    if any(word in view for word in ACTION_WORDS):
        return action, action
    return VIEW, action


@pytest.fixture
def sessions(db):
    out = {}
    for name, role in ROLES.items():
        user = get_user_model().objects.create_user(f"pagina-{name}")
        assign_role(user, role)
        client = Client()
        client.force_login(user)
        out[name] = client
    return out


def test_every_page_for_every_role(sessions):
    pages = sorted(set(page_urls()))
    assert len(pages) > 20
    problems = []
    for name, url in pages:
        see, act = page_rule(name)
        if see == PUBLIC:
            continue
        anonymous = Client().get(url)
        if anonymous.status_code not in (302, 403) or (anonymous.status_code == 302 and "/entrar/" not in anonymous.url):
            problems.append(f"anonymous GET {url} ({name}): {anonymous.status_code}")
        for role, client in sessions.items():
            status = client.get(url).status_code
            allowed = see in GRANTS[role]
            if allowed and status == 403:
                problems.append(f"{role} GET {url} ({name}): 403 but should see it")
            if not allowed and status != 403:
                problems.append(f"{role} GET {url} ({name}): {status} but should be 403")
            if status >= 500:
                problems.append(f"{role} GET {url} ({name}): server error {status}")
            if act is None:
                continue
            status = client.post(url, {}).status_code
            allowed = act in GRANTS[role]
            if not allowed and status not in (403, 405):
                problems.append(f"{role} POST {url} ({name}): {status} but should be 403")
            if allowed and status == 403:
                problems.append(f"{role} POST {url} ({name}): 403 but should be allowed")
            if status >= 500:
                problems.append(f"{role} POST {url} ({name}): server error {status}")
    assert not problems, "\n".join(problems)
