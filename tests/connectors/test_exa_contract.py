"""The EXA connector against the real sandbox process: the shared contract, then EXA's own.

No mocks: every call is real HTTP to ``python -m exa_sandbox``.
"""

from __future__ import annotations

import secrets
import socket
import uuid
from contextlib import closing
from typing import Any

import httpx
import pytest

from agrega.integrations.connectors import registry
from agrega.integrations.connectors.base import (
    CallRecord,
    ConnectorError,
    ErrorKind,
    IntegrationConfig,
    RemoteStatus,
    UserSpec,
)
from agrega.integrations.connectors.contract_tests import ConnectorContractTests
from agrega.integrations.connectors.exa.connector import ExaConnector

PACKAGES = [
    ("EXA-SEG-BASICO", "EXA Segurança Básico", "Proteção de aplicativos"),
    ("EXA-SEG-FAMILIA", "EXA Família", "Até 5 dispositivos"),
    ("EXA-BACKUP-100", "EXA Backup 100 GB", "Backup em nuvem"),
]


class ExaAccountMixin:
    """A fresh partner on the sandbox for each test, and connectors pointing at it."""

    connector_class = ExaConnector
    package_codes = ("EXA-SEG-BASICO", "EXA-SEG-FAMILIA")

    @pytest.fixture(autouse=True)
    def _exa_account(self, exa_sandbox, sandbox_admin):
        self.sandbox_url = exa_sandbox.url
        self.admin = sandbox_admin
        self.prefix = "ct-" + uuid.uuid4().hex[:12]
        self.credentials = {
            "client_id": "cid-" + self.prefix,
            "client_secret": "sec-" + secrets.token_urlsafe(18),
        }
        sandbox_admin.create_partner(self.prefix, **self.credentials, packages=PACKAGES)

    def config(self, **overrides: Any) -> IntegrationConfig:
        values: dict[str, Any] = {
            "base_url": self.sandbox_url,
            "prefix": self.prefix,
            "credentials": self.credentials,
            "timeout_seconds": 5.0,
        }
        values.update(overrides)
        return IntegrationConfig(**values)

    def make_connector(
        self,
        *,
        recorder: Any = None,
        timeout_seconds: float = 5.0,
        credentials: dict[str, str] | None = None,
        base_url: str | None = None,
    ) -> ExaConnector:
        return ExaConnector(
            self.config(
                base_url=base_url or self.sandbox_url,
                credentials=credentials if credentials is not None else self.credentials,
                timeout_seconds=timeout_seconds,
            ),
            recorder=recorder,
        )


class TestExaContract(ExaAccountMixin, ConnectorContractTests):
    def inject_fault(self, kind: str, **options: Any) -> None:
        switches: dict[str, Any] = {
            "throttle": {"throttle_rate": 1.0, "retry_after_seconds": options.get("retry_after", 1)},
            "server_error": {"error_rate": 1.0},
            "down": {"down": True},
            "timeout": {"timeout_rate": 1.0, "hang_seconds": 5},
            "lost_response": {"lost_response_rate": 1.0, "hang_seconds": 5},
        }[kind]
        self.admin.set_faults(prefix=self.prefix, **switches)

    def clear_faults(self) -> None:
        self.admin.clear_faults()


class TestExaConnectorSpecifics(ExaAccountMixin):
    """What only the EXA connector does: its token, its codes, its messages."""

    def spec(self, n: int = 1, **overrides: Any) -> UserSpec:
        values: dict[str, Any] = {
            "external_id": f"agr-{uuid.uuid4().hex}",
            "name": f"Cliente {n}",
            "email": f"cliente{n}.{uuid.uuid4().hex[:6]}@example.com.br",
            "phone": f"+5511987{n:06d}",
            "document": "52998224725",
            "package_code": "EXA-SEG-BASICO",
            "status": RemoteStatus.ACTIVE,
        }
        values.update(overrides)
        return UserSpec(**values)

    def test_token_is_fetched_once_and_reused(self):
        records: list[CallRecord] = []
        with closing(self.make_connector(recorder=records.append)) as connector:
            for n in range(5):
                connector.create_user(self.spec(n))
            connector.list_users()
        assert [r.operation for r in records].count("auth_token") == 1
        assert self.admin.stats()["requests"]["auth_token"] >= 1

    def test_expired_token_is_renewed_once_and_the_call_repeated(self):
        records: list[CallRecord] = []
        with closing(self.make_connector(recorder=records.append)) as connector:
            spec = self.spec()
            connector.create_user(spec)
            assert self.admin.expire_tokens(self.prefix) == 1
            records.clear()
            assert connector.block_user(spec.external_id).status is RemoteStatus.BLOCKED
        assert [(r.operation, r.status_code) for r in records] == [
            ("block_user", 401), ("auth_token", 200), ("block_user", 200),
        ]

    def test_secrets_and_tokens_never_reach_the_recorder(self):
        tokens: list[str] = []

        def remember_token(request: httpx.Request) -> None:
            auth = request.headers.get("authorization", "")
            if auth:
                tokens.append(auth.split(" ", 1)[1])

        records: list[CallRecord] = []
        with httpx.Client(timeout=5.0, event_hooks={"request": [remember_token]}) as http:
            connector = ExaConnector(self.config(), recorder=records.append, http_client=http)
            connector.check_credentials()
            connector.create_user(self.spec())
            connector.close()  # does not close a client it did not create
            assert not http.is_closed
        token_record = next(r for r in records if r.operation == "auth_token")
        assert token_record.request == {"client_id": self.credentials["client_id"],
                                         "client_secret": "***"}
        assert "access_token" not in token_record.response
        text = repr(records)
        assert tokens and all(t not in text for t in tokens)
        assert self.credentials["client_secret"] not in text

    def test_credentials_of_another_prefix_are_refused(self):
        other = "ct-" + uuid.uuid4().hex[:12]
        creds = {"client_id": "cid-" + other, "client_secret": "s3cr3t-" + other}
        self.admin.create_partner(other, **creds)
        with closing(self.make_connector(credentials=creds)) as connector:
            with pytest.raises(ConnectorError) as info:
                connector.check_credentials()
        assert info.value.kind is ErrorKind.AUTH
        assert info.value.code == "prefix_mismatch"
        assert other in info.value.message

    def test_missing_credentials_fail_without_calling(self):
        records: list[CallRecord] = []
        with closing(self.make_connector(credentials={}, recorder=records.append)) as c:
            with pytest.raises(ConnectorError) as info:
                c.check_credentials()
        assert (info.value.kind, info.value.code) == (ErrorKind.AUTH, "missing_credentials")
        assert records == []

    def test_codes_and_portuguese_messages(self):
        with closing(self.make_connector()) as connector:
            first = self.spec(1)
            connector.create_user(first)
            with pytest.raises(ConnectorError) as info:
                connector.create_user(self.spec(2, email=first.email))
            assert info.value.message == (
                "A plataforma EXA recusou: e-mail já cadastrado para outro usuário."
            )
            assert info.value.status_code == 409
            assert info.value.fields == {"email": "E-mail recusado pela plataforma EXA."}

            with pytest.raises(ConnectorError) as info:
                connector.create_user(self.spec(3, package_code="EXA-NAO-EXISTE"))
            assert (info.value.kind, info.value.code) == (ErrorKind.INVALID, "package_not_found")
            assert "package_code" in info.value.fields

            with pytest.raises(ConnectorError) as info:
                connector.create_user(self.spec(4, phone="11987654321", document="123"))
            error = info.value
            assert (error.kind, error.code, error.status_code) == (
                ErrorKind.INVALID, "invalid_fields", 422)
            assert set(error.fields) == {"phone", "document"}
            assert "telefone" in error.message and "CPF/CNPJ" in error.message

    def test_server_error_codes(self):
        with closing(self.make_connector()) as connector:
            connector.check_credentials()
            self.admin.set_faults(prefix=self.prefix, down=True)
            with pytest.raises(ConnectorError) as info:
                connector.get_user("x")
            assert (info.value.code, info.value.status_code) == ("platform_unavailable", 503)
            self.admin.set_faults(down=False, error_rate=1.0, seed=3)
            codes = set()
            for _ in range(12):
                with pytest.raises(ConnectorError) as info:
                    connector.get_user("x")
                assert info.value.kind is ErrorKind.TRANSIENT
                codes.add(info.value.code)
            assert codes <= {"platform_unavailable", "platform_error"} and codes

    def test_rate_limit_of_the_platform(self):
        self.admin.set_faults(prefix=self.prefix, rate_limit_rps=2)
        with closing(self.make_connector()) as connector:
            with pytest.raises(ConnectorError) as info:
                for _ in range(10):
                    connector.list_packages()
        assert info.value.kind is ErrorKind.RATE_LIMITED
        assert info.value.retry_after >= 1.0
        assert "nova tentativa" in info.value.message

    def test_write_timeout_codes(self):
        with closing(self.make_connector(timeout_seconds=0.5)) as connector:
            connector.check_credentials()
            self.admin.set_faults(prefix=self.prefix, timeout_rate=1.0, hang_seconds=5)
            for call, args, kind, code in (
                (connector.delete_user, ("x",), ErrorKind.UNKNOWN_OUTCOME, "timeout_unknown_outcome"),
                (connector.block_user, ("x",), ErrorKind.UNKNOWN_OUTCOME, "timeout_unknown_outcome"),
                (connector.update_user, (self.spec(),), ErrorKind.UNKNOWN_OUTCOME,
                 "timeout_unknown_outcome"),
                (connector.get_user, ("x",), ErrorKind.TRANSIENT, "timeout"),
            ):
                with pytest.raises(ConnectorError) as info:
                    call(*args)
                assert (info.value.kind, info.value.code) == (kind, code)

    def test_unreachable_and_invalid_url_codes(self):
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
        for url, code in ((closed, "platform_unreachable"), ("ftp://exa", "invalid_url")):
            with closing(self.make_connector(base_url=url, timeout_seconds=0.5)) as c:
                with pytest.raises(ConnectorError) as info:
                    c.list_packages()
            assert (info.value.kind, info.value.code) == (ErrorKind.TRANSIENT, code)

    def test_list_users_limit_is_clamped_to_the_platform_maximum(self):
        with closing(self.make_connector()) as connector:
            connector.create_user(self.spec())
            page = connector.list_users(limit=50_000)
        assert len(page.users) == 1 and page.next_cursor is None

    def test_external_id_is_sent_as_one_path_segment(self):
        with closing(self.make_connector()) as connector:
            assert connector.get_user("a/b?c") is None
            with pytest.raises(ConnectorError) as info:
                connector.block_user("a/b")
            assert (info.value.kind, info.value.code) == (ErrorKind.NOT_FOUND, "user_not_found")
            with pytest.raises(ConnectorError) as info:
                connector.create_user(self.spec(external_id="a/b"))
            assert info.value.kind is ErrorKind.INVALID and "external_id" in info.value.fields


class TestRegistry:
    def test_exa_is_registered(self):
        assert ("exa", "EXA") in registry.platform_choices()
        assert registry.connector_class("exa") is ExaConnector

    def test_build_connector(self):
        config = IntegrationConfig("http://127.0.0.1:1", "isp", {"client_id": "a",
                                                                   "client_secret": "b"})
        records: list = []
        connector = registry.build_connector("exa", config, recorder=records.append)
        try:
            assert isinstance(connector, ExaConnector)
            assert connector.prefix == "isp"
        finally:
            connector.close()

    def test_unknown_platform(self):
        with pytest.raises(LookupError):
            registry.connector_class("nope")
