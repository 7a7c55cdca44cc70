"""The EXA sandbox on the wire: auth, prefixes, users, pagination, faults, admin, storage.

These tests speak raw HTTP (httpx) to a real sandbox process, the way EXA's contract in
docs/connectors/exa.md describes it; the connector is tested in test_exa_contract.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass

import httpx
import pytest

from exa_sandbox.testing import SandboxAdmin, SandboxProcess

PACKAGES = [
    ("EXA-SEG-BASICO", "EXA Segurança Básico"),
    ("EXA-SEG-FAMILIA", "EXA Família"),
]


@dataclass
class Account:
    prefix: str
    client_id: str
    client_secret: str
    http: httpx.Client  # authenticated for this prefix

    @property
    def base(self) -> str:
        return f"/v1/partners/{self.prefix}"

    def user_body(self, n: int = 1, **overrides) -> dict:
        body = {
            "external_id": f"ext-{n}",
            "name": f"Cliente {n}",
            "email": f"cliente{n}@example.com.br",
            "phone": f"+55119{n:08d}",
            "document": f"{n:011d}",
            "package_code": "EXA-SEG-BASICO",
        }
        body.update(overrides)
        return body

    def create(self, n: int = 1, **overrides) -> httpx.Response:
        return self.http.post(self.base + "/users", json=self.user_body(n, **overrides))


def token_for(url: str, client_id: str, client_secret: str) -> str:
    response = httpx.post(url + "/v1/auth/token",
                          json={"client_id": client_id, "client_secret": client_secret})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


@pytest.fixture
def new_account(exa_sandbox, sandbox_admin):
    clients: list[httpx.Client] = []

    def make(packages=PACKAGES) -> Account:
        prefix = "sb-" + uuid.uuid4().hex[:12]
        client_id, client_secret = "cid-" + prefix, "sec-" + uuid.uuid4().hex
        sandbox_admin.create_partner(prefix, client_id, client_secret, packages=packages)
        token = token_for(exa_sandbox.url, client_id, client_secret)
        http = httpx.Client(base_url=exa_sandbox.url, timeout=5.0,
                            headers={"Authorization": f"Bearer {token}"})
        clients.append(http)
        return Account(prefix, client_id, client_secret, http)

    yield make
    for http in clients:
        http.close()


@pytest.fixture
def account(new_account) -> Account:
    return new_account()


def error_of(response: httpx.Response) -> dict:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"])
    return body["error"]


# -- routing and auth -----------------------------------------------------------------


def test_unknown_routes_and_methods(exa_sandbox, account):
    assert httpx.get(exa_sandbox.url + "/_sandbox/health").json() == {"ok": True}
    response = httpx.get(exa_sandbox.url + "/v2/anything")
    assert response.status_code == 404 and error_of(response)["code"] == "not_found"
    response = account.http.delete(account.base + "/packages")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert error_of(response)["code"] == "method_not_allowed"


def test_token_endpoint(exa_sandbox, account):
    url = exa_sandbox.url + "/v1/auth/token"
    ok = httpx.post(url, json={"client_id": account.client_id,
                               "client_secret": account.client_secret})
    assert ok.status_code == 200
    body = ok.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert body["prefix"] == account.prefix and len(body["access_token"]) >= 20

    wrong = httpx.post(url, json={"client_id": account.client_id, "client_secret": "nope"})
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "invalid_credentials"
    unknown = httpx.post(url, json={"client_id": "nobody", "client_secret": "x"})
    assert unknown.status_code == 401 and error_of(unknown)["code"] == "invalid_credentials"
    garbage = httpx.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert garbage.status_code == 400 and error_of(garbage)["code"] == "invalid_json"


def test_partner_calls_need_a_valid_token(exa_sandbox, sandbox_admin, account):
    path = exa_sandbox.url + account.base + "/packages"
    missing = httpx.get(path)
    assert missing.status_code == 401 and error_of(missing)["code"] == "invalid_token"
    assert missing.headers["www-authenticate"].startswith("Bearer")
    bogus = httpx.get(path, headers={"Authorization": "Bearer not-a-token"})
    assert bogus.status_code == 401
    assert account.http.get(account.base + "/packages").status_code == 200
    assert sandbox_admin.expire_tokens(account.prefix) == 1
    expired = account.http.get(account.base + "/packages")
    assert expired.status_code == 401 and error_of(expired)["code"] == "invalid_token"


def test_a_token_only_opens_its_own_prefix(new_account):
    first, second = new_account(), new_account()
    response = first.http.get(second.base + "/users")
    assert response.status_code == 403 and error_of(response)["code"] == "forbidden"
    response = first.http.post(second.base + "/users", json=second.user_body())
    assert response.status_code == 403


def test_prefixes_are_isolated(new_account, sandbox_admin):
    first, second = new_account(), new_account()
    assert first.create(1).status_code == 201
    # same external id and e-mail on another partner: no conflict
    assert second.create(1).status_code == 201
    assert second.create(2).status_code == 201
    assert [u["external_id"] for u in sandbox_admin.users(first.prefix)] == ["ext-1"]
    assert len(sandbox_admin.users(second.prefix)) == 2
    assert first.http.get(first.base + "/users/ext-2").status_code == 404


def test_packages(account):
    response = account.http.get(account.base + "/packages")
    assert response.status_code == 200
    assert response.json() == {"packages": [
        {"code": "EXA-SEG-BASICO", "name": "EXA Segurança Básico", "description": ""},
        {"code": "EXA-SEG-FAMILIA", "name": "EXA Família", "description": ""},
    ]}


# -- users ------------------------------------------------------------------------------


def test_user_lifecycle_on_the_wire(account):
    created = account.create(1, status="blocked")
    assert created.status_code == 201
    user = created.json()
    assert user["id"].startswith("usr_") and user["status"] == "blocked"
    assert user["created_at"] == user["updated_at"] and user["created_at"].endswith("Z")
    path = account.base + "/users/ext-1"
    assert account.http.get(path).json() == user

    time.sleep(0.002)
    patched = account.http.patch(path, json={"package_code": "EXA-SEG-FAMILIA",
                                             "email": "novo@example.com.br"})
    assert patched.status_code == 200
    assert patched.json()["package_code"] == "EXA-SEG-FAMILIA"
    assert patched.json()["status"] == "blocked"
    assert patched.json()["updated_at"] > user["updated_at"]
    assert account.http.patch(path, json={}).json() == patched.json()  # nothing to change

    for action, status in (("unblock", "active"), ("unblock", "active"),
                           ("block", "blocked"), ("block", "blocked")):
        response = account.http.post(f"{path}/{action}")
        assert response.status_code == 200 and response.json()["status"] == status

    deleted = account.http.delete(path)
    assert deleted.status_code == 204 and deleted.content == b""
    for response in (account.http.get(path), account.http.delete(path),
                     account.http.post(path + "/block"), account.http.patch(path, json={})):
        assert response.status_code == 404
        assert error_of(response)["code"] == "user_not_found"
    # the e-mail is free again
    assert account.create(2, email="novo@example.com.br").status_code == 201


def test_validation_errors_name_every_field(account):
    response = account.http.post(account.base + "/users", json={"external_id": "x"})
    assert response.status_code == 422
    error = error_of(response)
    assert error["code"] == "invalid_fields"
    assert set(error["fields"]) == {"name", "email", "phone", "document", "package_code"}

    response = account.create(1, email="a@b", phone="+1555123456", document="123.456.789-01",
                              status="gone", name=" ", colour="blue")
    assert set(error_of(response)["fields"]) == {
        "email", "phone", "document", "status", "name", "colour"}
    response = account.create(1, external_id="x" * 65)
    assert set(error_of(response)["fields"]) == {"external_id"}
    for good in ("12345678901", "12345678000199"):
        assert account.create(int(good[-3:]), document=good).status_code == 201

    response = account.create(2, package_code="EXA-NAO-EXISTE")
    assert response.status_code == 422
    assert error_of(response)["code"] == "package_not_found"

    account.create(3)
    path = account.base + "/users/ext-3"
    assert error_of(account.http.patch(path, json={"status": "blocked"}))["fields"] == {
        "status": "Campo não aceito nesta operação."}
    assert error_of(account.http.patch(path, json={"package_code": "NOPE"}))["code"] == (
        "package_not_found")
    bad_json = account.http.post(account.base + "/users", content=b"[1,",
                                 headers={"content-type": "application/json"})
    assert bad_json.status_code == 400 and error_of(bad_json)["code"] == "invalid_json"
    not_object = account.http.post(account.base + "/users", json=[1, 2])
    assert not_object.status_code == 400


def test_conflicts_are_409_and_counted(account, sandbox_admin):
    before = sandbox_admin.stats()["duplicates_refused"]
    assert account.create(1).status_code == 201
    assert account.create(2).status_code == 201
    again = account.create(1, email="outro@example.com.br")
    assert again.status_code == 409 and error_of(again)["code"] == "duplicate_external_id"
    same_email = account.create(3, email="CLIENTE1@example.com.br")  # case-insensitive
    assert same_email.status_code == 409 and error_of(same_email)["code"] == "duplicate_email"
    patch = account.http.patch(account.base + "/users/ext-2",
                               json={"email": "cliente1@example.com.br"})
    assert patch.status_code == 409 and error_of(patch)["code"] == "duplicate_email"
    # a user may keep (or re-send) its own e-mail
    own = account.http.patch(account.base + "/users/ext-1",
                             json={"email": "cliente1@example.com.br"})
    assert own.status_code == 200
    after = sandbox_admin.stats()["duplicates_refused"]
    assert after.get("duplicate_external_id", 0) - before.get("duplicate_external_id", 0) == 1
    assert after.get("duplicate_email", 0) - before.get("duplicate_email", 0) == 2


def test_pagination_is_stable(account):
    for n in range(1, 26):
        assert account.create(n).status_code == 201
    url = account.base + "/users"
    everyone = account.http.get(url).json()  # default limit 100
    assert everyone["next_cursor"] is None
    assert [u["external_id"] for u in everyone["users"]] == [f"ext-{n}" for n in range(1, 26)]

    first = account.http.get(url, params={"limit": 10}).json()
    assert [u["external_id"] for u in first["users"]] == [f"ext-{n}" for n in range(1, 11)]
    # deletions and creations between pages neither skip nor repeat anyone
    account.http.delete(account.base + "/users/ext-3")
    account.http.delete(account.base + "/users/ext-11")
    account.create(26)
    second = account.http.get(url, params={"limit": 10, "cursor": first["next_cursor"]}).json()
    assert [u["external_id"] for u in second["users"]] == [f"ext-{n}" for n in range(12, 22)]
    third = account.http.get(url, params={"limit": 10, "cursor": second["next_cursor"]}).json()
    assert [u["external_id"] for u in third["users"]] == [f"ext-{n}" for n in range(22, 27)]
    assert third["next_cursor"] is None

    exact = account.http.get(url, params={"limit": 24}).json()  # 24 users left
    assert len(exact["users"]) == 24 and exact["next_cursor"] is None

    for params in ({"limit": 0}, {"limit": 1001}, {"limit": "ten"}, {"cursor": "zz-top"}):
        response = account.http.get(url, params=params)
        assert response.status_code == 422, params
        assert set(error_of(response)["fields"]) == set(params)
    assert account.http.get(url, params={"limit": 1000}).status_code == 200


# -- faults -----------------------------------------------------------------------------


def test_error_rate_answers_5xx_without_applying(account, sandbox_admin):
    sandbox_admin.set_faults(prefix=account.prefix, error_rate=1.0)
    statuses = set()
    for n in range(15):
        response = account.create(n)
        assert response.status_code in (500, 502, 503)
        assert error_of(response)["code"] in ("internal_error", "bad_gateway",
                                              "platform_unavailable")
        statuses.add(response.status_code)
    assert len(statuses) >= 2
    assert sandbox_admin.users(account.prefix) == []
    assert sandbox_admin.stats()["faults_injected"]["error"] >= 15


def test_down_refuses_everything_but_the_admin(exa_sandbox, account, sandbox_admin):
    sandbox_admin.set_faults(down=True)
    response = account.http.get(account.base + "/packages")
    assert response.status_code == 503 and error_of(response)["code"] == "platform_unavailable"
    token = httpx.post(exa_sandbox.url + "/v1/auth/token",
                       json={"client_id": account.client_id,
                             "client_secret": account.client_secret})
    assert token.status_code == 503
    # admin endpoints are never faulted
    assert sandbox_admin.users(account.prefix) == []
    assert sandbox_admin.faults()["down"] is True
    assert httpx.get(exa_sandbox.url + "/").status_code == 200


def test_faults_can_target_one_prefix(new_account, sandbox_admin):
    sick, healthy = new_account(), new_account()
    sandbox_admin.set_faults(prefix=sick.prefix, down=True)
    assert sick.create(1).status_code == 503
    assert healthy.create(1).status_code == 201


def test_timeout_hangs_then_504_without_applying(account, sandbox_admin):
    sandbox_admin.set_faults(prefix=account.prefix, timeout_rate=1.0, hang_seconds=0.3)
    started = time.monotonic()
    response = account.create(1)
    assert time.monotonic() - started >= 0.3
    assert response.status_code == 504 and error_of(response)["code"] == "gateway_timeout"
    assert sandbox_admin.users(account.prefix) == []


def test_timeout_ends_when_the_client_gives_up(exa_sandbox, account, sandbox_admin):
    sandbox_admin.set_faults(prefix=account.prefix, timeout_rate=1.0, hang_seconds=30)
    with pytest.raises(httpx.ReadTimeout):
        account.http.post(account.base + "/users", json=account.user_body(), timeout=0.3)
    sandbox_admin.clear_faults()
    assert account.http.get(account.base + "/users/ext-1").status_code == 404


def test_lost_response_applies_then_hangs(account, sandbox_admin):
    sandbox_admin.set_faults(prefix=account.prefix, lost_response_rate=1.0, hang_seconds=30)
    with pytest.raises(httpx.ReadTimeout):
        account.http.post(account.base + "/users", json=account.user_body(7), timeout=0.4)
    assert [u["external_id"] for u in sandbox_admin.users(account.prefix)] == ["ext-7"]
    assert sandbox_admin.stats()["faults_injected"]["lost_response"] >= 1

    # a patient client gets the (late) answer
    sandbox_admin.set_faults(hang_seconds=0.2)
    started = time.monotonic()
    response = account.http.post(account.base + "/users/ext-7/block")
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 200 and response.json()["status"] == "blocked"


def test_latency(account, sandbox_admin):
    sandbox_admin.set_faults(prefix=account.prefix, latency_ms=150, latency_jitter_ms=20)
    started = time.monotonic()
    assert account.http.get(account.base + "/packages").status_code == 200
    assert time.monotonic() - started >= 0.13


def test_throttle_rate_sends_retry_after(account, sandbox_admin):
    sandbox_admin.set_faults(prefix=account.prefix, throttle_rate=1.0, retry_after_seconds=9)
    response = account.http.get(account.base + "/packages")
    assert response.status_code == 429
    assert response.headers["retry-after"] == "9"
    assert error_of(response)["code"] == "rate_limited"


def test_rate_limit_is_a_token_bucket_per_partner(new_account, sandbox_admin):
    busy, other = new_account(), new_account()
    sandbox_admin.set_faults(rate_limit_rps=2)
    statuses = [busy.http.get(busy.base + "/packages").status_code for _ in range(20)]
    assert statuses[:2] == [200, 200] and statuses.count(429) >= 10
    limited = busy.http.get(busy.base + "/packages")
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    assert other.http.get(other.base + "/packages").status_code == 200  # its own bucket
    time.sleep(0.6)
    assert busy.http.get(busy.base + "/packages").status_code == 200  # refilled


def test_seed_makes_faults_reproducible(account, sandbox_admin):
    def run() -> list[int]:
        sandbox_admin.set_faults(prefix=account.prefix, error_rate=0.5, seed=42)
        return [account.http.get(account.base + "/packages").status_code for _ in range(20)]

    first = run()
    assert first == run()
    assert 200 in first and set(first) - {200}


def test_fault_settings_are_validated(exa_sandbox, sandbox_admin):
    url = exa_sandbox.url + "/_sandbox/faults"
    response = httpx.post(url, json={"error_rate": 2, "latency_ms": -1, "down": "yes",
                                     "bogus": 1})
    assert response.status_code == 422
    assert set(error_of(response)["fields"]) == {"error_rate", "latency_ms", "down", "bogus"}
    assert sandbox_admin.faults()["error_rate"] == 0.0  # nothing changed
    sandbox_admin.set_faults(latency_ms=5)
    sandbox_admin.set_faults(error_rate=0.1)  # merges with what is set
    current = sandbox_admin.faults()
    assert (current["latency_ms"], current["error_rate"], current["hang_seconds"]) == (5, 0.1, 30)
    cleared = sandbox_admin.clear_faults()
    assert cleared["latency_ms"] == 0 and cleared["error_rate"] == 0


# -- admin, listing, stats --------------------------------------------------------------


def test_partner_upsert(exa_sandbox, sandbox_admin, account):
    assert account.create(1).status_code == 201
    sandbox_admin.create_partner(account.prefix, account.client_id, "new-secret")
    url = exa_sandbox.url + "/v1/auth/token"
    old = httpx.post(url, json={"client_id": account.client_id,
                                "client_secret": account.client_secret})
    assert old.status_code == 401
    token_for(exa_sandbox.url, account.client_id, "new-secret")
    assert len(sandbox_admin.users(account.prefix)) == 1  # users survive an upsert
    with pytest.raises(httpx.HTTPStatusError) as info:
        sandbox_admin.create_partner("sb-" + uuid.uuid4().hex[:8], account.client_id, "x")
    assert info.value.response.status_code == 409
    with pytest.raises(httpx.HTTPStatusError) as info:
        sandbox_admin.create_partner("bad prefix!", "cid-x", "x")
    assert info.value.response.status_code == 422
    assert account.prefix in {p["prefix"] for p in sandbox_admin.partners()}


def test_stats(account, sandbox_admin):
    before = sandbox_admin.stats()
    account.create(1)
    account.create(2)
    account.http.post(account.base + "/users/ext-2/block")
    account.http.get(account.base + "/users/ext-1")
    after = sandbox_admin.stats()
    assert after["requests"]["create_user"] - before["requests"].get("create_user", 0) == 2
    assert after["requests"]["block_user"] - before["requests"].get("block_user", 0) == 1
    assert after["requests_total"] - before["requests_total"] == 4
    assert after["users"][account.prefix] == {"total": 2, "active": 1, "blocked": 1}


def test_html_listing(exa_sandbox, account):
    account.create(1, name="Ana <b>Souza</b>", package_code="EXA-SEG-FAMILIA")
    account.create(2)
    account.http.post(account.base + "/users/ext-2/block")
    response = httpx.get(exa_sandbox.url + "/", params={"prefix": account.prefix})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "lang='pt-BR'" in page and account.prefix in page
    assert "cliente1@example.com.br" in page and "EXA Família" in page
    assert "Ativo" in page and "Bloqueado" in page
    assert "Ana &lt;b&gt;Souza&lt;/b&gt;" in page
    assert "http-equiv='refresh'" in page
    quiet = httpx.get(exa_sandbox.url + "/", params={"refresh": "0"}).text
    assert "http-equiv='refresh'" not in quiet


# -- processes: command line, storage, reset --------------------------------------------


def test_command_line_seeds_a_partner_and_faults():
    args = ["--partner", "demo:demo-id:demo-secret", "--packages",
            "P1:Pacote Um,P2:Pacote Dois", "--latency-ms", "30", "--seed", "7"]
    with SandboxProcess(args=args) as sandbox, SandboxAdmin(sandbox.url) as admin:
        token = token_for(sandbox.url, "demo-id", "demo-secret")
        response = httpx.get(sandbox.url + "/v1/partners/demo/packages",
                             headers={"Authorization": f"Bearer {token}"})
        assert [p["code"] for p in response.json()["packages"]] == ["P1", "P2"]
        assert admin.faults()["latency_ms"] == 30 and admin.faults()["seed"] == 7


def test_command_line_default_packages():
    with SandboxProcess(args=["--partner", "demo:i:s"]) as sandbox, \
            SandboxAdmin(sandbox.url) as admin:
        codes = [p["code"] for p in admin.partners()[0]["packages"]]
    assert codes == ["EXA-SEG-BASICO", "EXA-SEG-FAMILIA", "EXA-BACKUP-100"]


def test_command_line_rejects_a_bad_partner():
    result = subprocess.run([sys.executable, "-m", "exa_sandbox", "--partner", "only-prefix"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "PREFIXO:CLIENT_ID:CLIENT_SECRET" in result.stderr


def test_state_file_is_saved_and_loaded(tmp_path):
    data = tmp_path / "state" / "exa.json"
    with SandboxProcess(data_path=data, args=["--partner", "isp:cid:sec"]) as sandbox:
        token = token_for(sandbox.url, "cid", "sec")
        http = httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {token}"})
        body = {"external_id": "p-1", "name": "Persistida", "email": "p1@example.com.br",
                "phone": "+5511912345678", "document": "52998224725",
                "package_code": "EXA-BACKUP-100", "status": "blocked"}
        assert http.post("/v1/partners/isp/users", json=body).status_code == 201
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # debounced save, about a second later
            if data.exists() and "p-1" in data.read_text(encoding="utf-8"):
                break
            time.sleep(0.1)
        else:
            pytest.fail("state file not written while running")
        assert http.delete("/v1/partners/isp/users/p-1").status_code == 204
        assert http.post("/v1/partners/isp/users",
                         json={**body, "external_id": "p-2"}).status_code == 201
        http.close()
    # stopped gracefully: the last change is on disk, written atomically
    saved = json.loads(data.read_text(encoding="utf-8"))
    assert [u["external_id"] for u in saved["partners"][0]["users"]] == ["p-2"]
    assert [p.name for p in data.parent.iterdir()] == ["exa.json"]  # no temp files left

    with SandboxProcess(data_path=data) as sandbox, SandboxAdmin(sandbox.url) as admin:
        users = admin.users("isp")
        assert [(u["external_id"], u["status"]) for u in users] == [("p-2", "blocked")]
        token = token_for(sandbox.url, "cid", "sec")  # credentials were saved too
        http = httpx.Client(base_url=sandbox.url, headers={"Authorization": f"Bearer {token}"})
        conflict = http.post("/v1/partners/isp/users", json={**body, "external_id": "p-3"})
        assert conflict.status_code == 409  # the e-mail index was rebuilt
        http.close()


def test_reset_drops_everything():
    with SandboxProcess(args=["--partner", "isp:cid:sec"]) as sandbox, \
            SandboxAdmin(sandbox.url) as admin:
        token_for(sandbox.url, "cid", "sec")
        admin.set_faults(latency_ms=5)
        admin.reset()
        assert admin.partners() == []
        assert admin.faults()["latency_ms"] == 0
        stats = admin.stats()
        assert stats["requests_total"] == 0 and stats["users"] == {}
        response = httpx.post(sandbox.url + "/v1/auth/token",
                              json={"client_id": "cid", "client_secret": "sec"})
        assert response.status_code == 401
