"""The checks every SVA connector must pass against its platform's sandbox.

Mix ``ConnectorContractTests`` into a pytest class (Libcloud style) and provide:

* an autouse fixture that prepares a fresh, isolated account on the sandbox for each
  test and sets ``self.credentials`` (the good credentials of that account);
* ``connector_class``: the connector under test;
* ``package_codes``: two package codes that account knows;
* ``make_connector(*, recorder=None, timeout_seconds=5.0, credentials=None,
  base_url=None)``: a connector for that account (``credentials``/``base_url`` override
  the good ones);
* ``inject_fault(kind, **options)`` for the kinds in ``FAULT_KINDS`` (call
  ``pytest.skip`` for one the sandbox cannot produce) and ``clear_faults()``;
* ``platform_user(external_id)``: what the sandbox holds (a ``RemoteUser`` or None), read
  through the sandbox's admin side; used for connectors that cannot look users up.

Checks run or are skipped by the connector's declared capabilities (``requires``), like
Libcloud's driver tests: e.g. pagination only where the platform lists its users.

Faults are injected after the connector has authenticated, so they hit the operation
under test. Calls that must time out use a connector with a short timeout.
"""

from __future__ import annotations

import itertools
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from typing import Any, Iterator

import pytest

from agrega.core.br import make_cpf

from ..base import (
    CallRecord,
    Capability,
    Connector,
    ConnectorError,
    CredentialField,
    DataRules,
    ErrorCode,
    ErrorKind,
    Package,
    RemoteStatus,
    RemoteUser,
    RemoteUserPage,
    UserSpec,
)

FAULT_KINDS = (
    "throttle",  # every call answered "too many requests"; option: retry_after (seconds)
    "server_error",  # every call answered with a 5xx, nothing applied
    "down",  # the platform is down (every call refused with 503 or similar)
    "timeout",  # every call hangs without being applied, longer than the client waits
    "lost_response",  # every call is applied, then the answer never comes back in time
)

SHORT_TIMEOUT = 0.5


def requires(*capabilities: Capability, absent: bool = False):
    """Run the check only for connectors that declare every capability (``absent``: only
    for those that declare none of them); skipped otherwise, saying why."""

    def mark(test):
        test._requires = (tuple(capabilities), absent)
        return test

    return mark
_counter = itertools.count(1)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ConnectorContractTests:
    connector_class: type  # the connector under test (its declaration picks the checks)
    package_codes: tuple[str, str]
    credentials: dict[str, str]

    # -- hooks the subclass provides -------------------------------------------------

    def make_connector(
        self,
        *,
        recorder: Any = None,
        timeout_seconds: float = 5.0,
        credentials: dict[str, str] | None = None,
        base_url: str | None = None,
    ) -> Connector:
        raise TypeError(f"{type(self).__name__} must define make_connector()")

    def inject_fault(self, kind: str, **options: Any) -> None:
        raise TypeError(f"{type(self).__name__} must define inject_fault()")

    def clear_faults(self) -> None:
        raise TypeError(f"{type(self).__name__} must define clear_faults()")

    def platform_user(self, external_id: str) -> RemoteUser | None:
        raise TypeError(f"{type(self).__name__} must define platform_user()")

    # -- capabilities ----------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _by_capability(self, request) -> None:
        wanted, absent = getattr(request.function, "_requires", ((), False))
        if not wanted:
            return
        declared = set(self.connector_class.capabilities)
        has = [c in declared for c in wanted]
        if absent and any(has):
            pytest.skip(f"the platform declares {', '.join(c.value for c in wanted)}")
        if not absent and not all(has):
            pytest.skip(f"the platform does not declare {', '.join(c.value for c in wanted)}")

    def can(self, connector: Connector, capability: Capability) -> bool:
        return capability in connector.capabilities

    def held(self, connector: Connector, external_id: str) -> RemoteUser | None:
        """What the platform holds: asked through the connector when it can look users
        up, read from the sandbox otherwise."""
        if self.can(connector, Capability.LOOKUP_BY_EXTERNAL_ID):
            return connector.get_user(external_id)
        return self.platform_user(external_id)

    # -- helpers ---------------------------------------------------------------------

    @pytest.fixture
    def connector(self) -> Iterator[Connector]:
        with closing(self.make_connector()) as connector:
            yield connector

    def spec(self, **overrides: Any) -> UserSpec:
        n = next(_counter)
        tag = uuid.uuid4().hex[:8]
        values: dict[str, Any] = {
            "external_id": f"ct-{tag}-{n}",
            "name": f"Cliente Contrato {n}",
            "email": f"cliente.{tag}.{n}@example.com.br",
            "phone": f"+55119{n % 10**8:08d}",
            "document": make_cpf(n),
            "package_code": self.package_codes[0],
            "status": RemoteStatus.ACTIVE,
        }
        values.update(overrides)
        return UserSpec(**values)

    def secret_values(self, connector: Connector) -> list[str]:
        secret_names = {f.name for f in connector.credential_fields if f.secret}
        return [v for k, v in self.credentials.items() if k in secret_names and v]

    @staticmethod
    def assert_matches(remote: RemoteUser, spec: UserSpec) -> None:
        assert isinstance(remote, RemoteUser)
        assert remote.external_id == spec.external_id
        assert remote.remote_id
        assert (remote.name, remote.email, remote.phone, remote.document) == (
            spec.name, spec.email, spec.phone, spec.document,
        )
        assert remote.package_code == spec.package_code

    @staticmethod
    def raises(kind: ErrorKind, call: Any, *args: Any) -> ConnectorError:
        with pytest.raises(ConnectorError) as info:
            call(*args)
        assert info.value.kind is kind, (info.value.kind, info.value.code, info.value.message)
        assert info.value.message  # operators always get a sentence
        return info.value

    # -- the interface ---------------------------------------------------------------

    def test_implements_the_protocol(self, connector: Connector) -> None:
        assert isinstance(connector, Connector)
        assert connector.platform and connector.label
        assert connector.credential_fields
        assert all(isinstance(f, CredentialField) for f in connector.credential_fields)
        assert any(f.secret and f.required for f in connector.credential_fields)
        assert isinstance(connector.needs_prefix, bool)
        assert all(isinstance(c, Capability) for c in connector.capabilities)
        assert connector.one_account_per_customer == (Capability.ONE_ACCOUNT_PER_CUSTOMER in connector.capabilities)

    def test_declares_its_data_rules_and_takes_what_they_let_through(self, connector: Connector) -> None:
        """The declared rules are what the platform takes: a name, an e-mail and a
        document at the edge of what they allow are created and read back unchanged."""
        rules = connector.data_rules
        assert isinstance(rules, DataRules)
        name = ("José Conceição " * 20)[: rules.name_max_length]
        assert rules.problems(connector.label, name=name) == []
        spec = self.spec(name=name, email=f"x.{uuid.uuid4().hex[:8]}@ação.com.br", document="12ABC34501DE35")
        if rules.problems(connector.label, email=spec.email, document=spec.document):
            spec = self.spec(name=name)
        self.assert_matches(connector.create_user(spec), spec)

    def test_check_credentials_accepts_good_ones(self, connector: Connector) -> None:
        assert connector.check_credentials() is None

    def test_bad_credentials_are_auth_errors(self, connector: Connector) -> None:
        bad = {f.name: f"wrong-{f.name}" for f in connector.credential_fields}
        with closing(self.make_connector(credentials=bad)) as refused:
            self.raises(ErrorKind.AUTH, refused.check_credentials)
            self.raises(ErrorKind.AUTH, refused.create_user, self.spec())

    def test_list_packages(self, connector: Connector) -> None:
        packages = connector.list_packages()
        assert all(isinstance(p, Package) and p.code and p.name for p in packages)
        assert set(self.package_codes) <= {p.code for p in packages}

    # -- users -----------------------------------------------------------------------

    def test_create_then_get(self, connector: Connector) -> None:
        spec = self.spec()
        created = connector.create_user(spec)
        self.assert_matches(created, spec)
        assert created.status is RemoteStatus.ACTIVE
        fetched = self.held(connector, spec.external_id)
        assert fetched.status is created.status
        self.assert_matches(fetched, spec)

    def test_create_blocked_user(self, connector: Connector) -> None:
        spec = self.spec(status=RemoteStatus.BLOCKED)
        assert connector.create_user(spec).status is RemoteStatus.BLOCKED
        assert self.held(connector, spec.external_id).status is RemoteStatus.BLOCKED

    def test_get_unknown_user_is_none(self, connector: Connector) -> None:
        assert connector.get_user(f"missing-{uuid.uuid4().hex}") is None

    @requires(Capability.LIST_USERS)
    def test_list_users_pages_through_everyone_once(self, connector: Connector) -> None:
        specs = [self.spec() for _ in range(7)]
        for spec in specs:
            connector.create_user(spec)
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = connector.list_users(cursor=cursor, limit=3)
            assert isinstance(page, RemoteUserPage)
            assert len(page.users) <= 3
            seen.extend(u.external_id for u in page.users)
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
            assert pages < 10, "pagination does not end"
        assert pages >= 3
        assert sorted(seen) == sorted(s.external_id for s in specs)

    @requires(Capability.LOOKUP_BY_EXTERNAL_ID)
    def test_update_changes_data_but_not_status(self, connector: Connector) -> None:
        spec = self.spec()
        connector.create_user(spec)
        connector.block_user(spec.external_id)
        changed = self.spec(
            external_id=spec.external_id,
            package_code=self.package_codes[1],
            status=RemoteStatus.ACTIVE,
        )
        updated = connector.update_user(changed)
        self.assert_matches(updated, changed)
        assert updated.status is RemoteStatus.BLOCKED
        assert connector.get_user(spec.external_id) == updated

    def test_block_and_unblock_are_idempotent(self, connector: Connector) -> None:
        spec = self.spec()
        connector.create_user(spec)
        assert connector.block_user(spec.external_id).status is RemoteStatus.BLOCKED
        assert connector.block_user(spec.external_id).status is RemoteStatus.BLOCKED
        assert self.held(connector, spec.external_id).status is RemoteStatus.BLOCKED
        assert connector.unblock_user(spec.external_id).status is RemoteStatus.ACTIVE
        assert connector.unblock_user(spec.external_id).status is RemoteStatus.ACTIVE
        assert self.held(connector, spec.external_id).status is RemoteStatus.ACTIVE

    def test_delete_is_idempotent(self, connector: Connector) -> None:
        spec = self.spec()
        connector.create_user(spec)
        assert connector.delete_user(spec.external_id) is None
        assert self.held(connector, spec.external_id) is None
        assert connector.delete_user(spec.external_id) is None
        # the external id is free again
        self.assert_matches(connector.create_user(spec), spec)

    def test_changing_a_missing_user_is_not_found(self, connector: Connector) -> None:
        spec = self.spec()
        self.raises(ErrorKind.NOT_FOUND, connector.update_user, spec)
        self.raises(ErrorKind.NOT_FOUND, connector.block_user, spec.external_id)
        self.raises(ErrorKind.NOT_FOUND, connector.unblock_user, spec.external_id)

    @requires(Capability.LOOKUP_BY_EXTERNAL_ID)
    def test_duplicate_external_id_is_a_conflict(self, connector: Connector) -> None:
        spec = self.spec()
        connector.create_user(spec)
        again = self.spec(external_id=spec.external_id)  # other e-mail, same external id
        error = self.raises(ErrorKind.CONFLICT, connector.create_user, again)
        assert error.code == ErrorCode.DUPLICATE_EXTERNAL_ID

    def test_duplicate_email_is_a_conflict(self, connector: Connector) -> None:
        first, second = self.spec(), self.spec()
        connector.create_user(first)
        connector.create_user(second)
        error = self.raises(
            ErrorKind.CONFLICT, connector.create_user, self.spec(email=first.email)
        )
        assert error.code == ErrorCode.DUPLICATE_EMAIL
        moved = self.spec(external_id=second.external_id, email=first.email)
        error = self.raises(ErrorKind.CONFLICT, connector.update_user, moved)
        assert error.code == ErrorCode.DUPLICATE_EMAIL
        assert self.held(connector, second.external_id).email == second.email

    def test_unknown_package_is_refused(self, connector: Connector) -> None:
        spec = self.spec(package_code="NO-SUCH-PACKAGE")
        with pytest.raises(ConnectorError) as info:
            connector.create_user(spec)
        assert info.value.kind in (ErrorKind.INVALID, ErrorKind.NOT_FOUND)
        assert self.held(connector, spec.external_id) is None

    def test_invalid_email_is_refused_naming_the_field(self, connector: Connector) -> None:
        error = self.raises(ErrorKind.INVALID, connector.create_user, self.spec(email="nope"))
        assert "email" in error.fields

    # -- failures --------------------------------------------------------------------

    def test_throttling_is_rate_limited_with_retry_after(self, connector: Connector) -> None:
        connector.check_credentials()
        self.inject_fault("throttle", retry_after=7)
        error = self.raises(ErrorKind.RATE_LIMITED, connector.create_user, self.spec())
        assert error.retry_after == pytest.approx(7.0)

    def test_server_errors_are_transient_and_change_nothing(self, connector: Connector) -> None:
        connector.check_credentials()
        spec = self.spec()
        self.inject_fault("server_error")
        self.raises(ErrorKind.TRANSIENT, connector.create_user, spec)
        if self.can(connector, Capability.LOOKUP_BY_EXTERNAL_ID):
            self.raises(ErrorKind.TRANSIENT, connector.get_user, spec.external_id)
        self.clear_faults()
        assert self.held(connector, spec.external_id) is None

    def test_platform_down_is_transient(self, connector: Connector) -> None:
        connector.check_credentials()
        self.inject_fault("down")
        if self.can(connector, Capability.PACKAGE_CATALOGUE):  # read live from the platform
            self.raises(ErrorKind.TRANSIENT, connector.list_packages)
        self.raises(ErrorKind.TRANSIENT, connector.create_user, self.spec())
        self.raises(ErrorKind.TRANSIENT, connector.delete_user, "anyone")

    def test_unreachable_platform_is_transient(self) -> None:
        url = f"http://127.0.0.1:{_closed_port()}"
        with closing(self.make_connector(base_url=url, timeout_seconds=SHORT_TIMEOUT)) as c:
            self.raises(ErrorKind.TRANSIENT, c.check_credentials)
            self.raises(ErrorKind.TRANSIENT, c.create_user, self.spec())

    def test_write_timeout_is_unknown_outcome(self) -> None:
        with closing(self.make_connector(timeout_seconds=SHORT_TIMEOUT)) as connector:
            connector.check_credentials()
            spec = self.spec()
            self.inject_fault("timeout")
            self.raises(ErrorKind.UNKNOWN_OUTCOME, connector.create_user, spec)
            self.clear_faults()
            # the platform never applied it: the lookup settles the doubt
            assert self.held(connector, spec.external_id) is None

    @requires(Capability.LOOKUP_BY_EXTERNAL_ID)
    def test_lost_response_is_unknown_outcome_settled_by_lookup(self) -> None:
        with closing(self.make_connector(timeout_seconds=SHORT_TIMEOUT)) as connector:
            connector.check_credentials()
            spec = self.spec()
            self.inject_fault("lost_response")
            self.raises(ErrorKind.UNKNOWN_OUTCOME, connector.create_user, spec)
            self.clear_faults()
            # it was applied although the answer was lost; creating again is refused
            self.assert_matches(connector.get_user(spec.external_id), spec)
            error = self.raises(ErrorKind.CONFLICT, connector.create_user, spec)
            assert error.code == ErrorCode.DUPLICATE_EXTERNAL_ID

    @requires(Capability.LOOKUP_BY_EXTERNAL_ID, absent=True)
    def test_lost_response_is_settled_by_sending_the_state_again(self) -> None:
        """Without a lookup, a lost answer is settled by sending the whole state again:
        the platform applies it once more and holds exactly one user, unchanged."""
        with closing(self.make_connector(timeout_seconds=SHORT_TIMEOUT)) as connector:
            connector.check_credentials()
            spec = self.spec(status=RemoteStatus.BLOCKED)
            self.inject_fault("lost_response")
            self.raises(ErrorKind.UNKNOWN_OUTCOME, connector.create_user, spec)
            self.clear_faults()
            self.assert_matches(self.held(connector, spec.external_id), spec)
            self.assert_matches(connector.create_user(spec), spec)
            held = self.held(connector, spec.external_id)
            self.assert_matches(held, spec)
            assert held.status is RemoteStatus.BLOCKED

    @requires(Capability.LOOKUP_BY_EXTERNAL_ID, Capability.LIST_USERS)
    def test_read_timeout_is_transient(self) -> None:
        with closing(self.make_connector(timeout_seconds=SHORT_TIMEOUT)) as connector:
            connector.check_credentials()
            self.inject_fault("timeout")
            self.raises(ErrorKind.TRANSIENT, connector.get_user, "anyone")
            self.raises(ErrorKind.TRANSIENT, connector.list_users)

    # -- concurrency and the timeline ------------------------------------------------

    def test_safe_to_share_between_threads(self, connector: Connector) -> None:
        specs = [self.spec() for _ in range(48)]

        def lifecycle(spec: UserSpec) -> RemoteStatus:
            connector.create_user(spec)
            connector.block_user(spec.external_id)
            return self.held(connector, spec.external_id).status

        with ThreadPoolExecutor(max_workers=16) as pool:
            statuses = list(pool.map(lifecycle, specs))
        assert statuses == [RemoteStatus.BLOCKED] * len(specs)

    def test_every_call_is_recorded_without_secrets(self) -> None:
        records: list[CallRecord] = []
        with closing(self.make_connector(recorder=records.append)) as connector:
            spec = self.spec()
            connector.check_credentials()
            connector.create_user(spec)
            lookup = self.can(connector, Capability.LOOKUP_BY_EXTERNAL_ID)
            if lookup:
                with pytest.raises(ConnectorError):
                    connector.create_user(spec)
                connector.get_user(spec.external_id)
            else:  # the state sent again (same intent): accepted, recorded again
                connector.create_user(spec)
            connector.delete_user(spec.external_id)
            secrets = self.secret_values(connector)
        assert secrets, "the test needs at least one secret credential"
        assert records and all(isinstance(r, CallRecord) for r in records)
        for record in records:
            assert record.operation and record.method
            assert record.path.startswith("/") and "://" not in record.path
            assert record.duration_ms >= 0
            text = repr(record)
            for secret in secrets:
                assert secret not in text
        creates = [r for r in records if r.operation == "create_user"]
        assert len(creates) == 2
        assert all(r.external_id == spec.external_id for r in creates)
        assert 200 <= creates[0].status_code < 300 and not creates[0].error_code
        if lookup:
            assert creates[1].error_code == ErrorCode.DUPLICATE_EXTERNAL_ID
            assert {"get_user", "delete_user"} <= {r.operation for r in records}
        else:
            assert not creates[1].error_code
            assert "delete_user" in {r.operation for r in records}
