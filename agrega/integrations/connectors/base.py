"""The one small interface every SVA platform connector implements.

Agrega's core never sees a URL path, a header or a JSON field of a platform: it hands a
connector plain data objects (``UserSpec``) and gets plain data objects back
(``RemoteUser``, ``Package``) or a ``ConnectorError`` whose ``kind`` tells the controller
what to do next (retry, wait, look the user up, give up until something changes).

Every call is reported to an optional ``CallRecorder`` with secrets already removed, so
the SVA user's timeline can show what was sent and what came back.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable


class RemoteStatus(str, enum.Enum):
    ACTIVE = "active"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class CredentialField:
    """A credential a platform needs; ``secret`` ones are never shown back."""

    name: str
    label: str
    secret: bool = True


@dataclass(frozen=True)
class IntegrationConfig:
    """What a connector needs to reach one ISP account on a platform."""

    base_url: str
    prefix: str
    credentials: dict[str, str]
    timeout_seconds: float = 10.0
    # The platform's limit of requests per second for this account; the connector
    # spaces its calls to stay under it (connectors/pacing.py). 0: no pacing.
    rate_limit_rps: float = 0.0


@dataclass(frozen=True)
class Package:
    code: str
    name: str
    description: str = ""


@dataclass(frozen=True)
class UserSpec:
    """What Agrega wants the platform to hold for one SVA user.

    ``external_id`` is Agrega's stable id for the user: the same on every retry, so a
    platform can refuse a second creation and a lost answer can be settled by a lookup.
    """

    external_id: str
    name: str
    email: str
    phone: str  # E.164, e.g. +5511987654321
    document: str  # CPF (11 digits) or CNPJ (14 digits), digits only
    package_code: str
    status: RemoteStatus


@dataclass(frozen=True)
class RemoteUser:
    """What the platform says it holds."""

    external_id: str
    remote_id: str
    name: str
    email: str
    phone: str
    document: str
    package_code: str
    status: RemoteStatus


@dataclass(frozen=True)
class RemoteUserPage:
    users: list[RemoteUser]
    next_cursor: str | None


class ErrorKind(str, enum.Enum):
    """What a failed call means for the caller.

    TRANSIENT: retry later with backoff (5xx, connection refused, platform down).
    RATE_LIMITED: retry after ``retry_after`` seconds.
    UNKNOWN_OUTCOME: the request may have been applied (timeout after sending);
        settle it by looking the user up, never by repeating a creation blindly.
    AUTH: credentials refused; nothing will work until an operator fixes them.
    NOT_FOUND: the user (or package) does not exist on the platform.
    CONFLICT: the platform refuses because of other data (e.g. e-mail already used
        by another user, external id already exists).
    INVALID: the platform refused the data we sent (a field it does not accept, a body
        too large): the same request is refused again, whatever the platform's health.
    CONFIG: nothing was sent: Agrega's own configuration forbids the call (the egress
        policy refused the integration's address, ``egress_refused``). Not a sign the
        platform is unwell; retried with backoff until an operator fixes the URL or
        the allow list.

    CONFLICT and INVALID are *permanent* (``PERMANENT_KINDS``): the controller stops
    trying the user until its data or its contract changes, and never counts them
    against the platform's health (the circuit breaker).
    """

    TRANSIENT = "transient"
    RATE_LIMITED = "rate_limited"
    UNKNOWN_OUTCOME = "unknown_outcome"
    AUTH = "auth"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    INVALID = "invalid"
    CONFIG = "config"


# Refusals that will not change on retry: only a change of the data sent can clear them.
PERMANENT_KINDS = frozenset({ErrorKind.CONFLICT, ErrorKind.INVALID})


class ConnectorError(Exception):
    """A platform call that did not succeed.

    ``code`` is a stable machine code (e.g. ``platform_unavailable``,
    ``duplicate_email``, ``duplicate_external_id``, ``invalid_credentials``);
    ``message`` is Portuguese text for operators.
    """

    def __init__(
        self,
        kind: ErrorKind,
        code: str,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        fields: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after
        self.fields = fields or {}

    @property
    def permanent(self) -> bool:
        """True when repeating the same request cannot succeed (see ``PERMANENT_KINDS``)."""
        return self.kind in PERMANENT_KINDS

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"ConnectorError({self.kind.value}, {self.code!r}, status={self.status_code})"


@dataclass
class CallRecord:
    """One platform call as the timeline shows it. Secrets are already redacted."""

    operation: str  # e.g. "create_user", "block_user"
    method: str
    path: str
    status_code: int | None
    duration_ms: float
    request: dict[str, Any] = field(default_factory=dict)
    response: dict[str, Any] = field(default_factory=dict)
    error_code: str = ""
    external_id: str = ""
    at: float = 0.0  # when the answer (or the failure) came, epoch seconds; 0: unknown


CallRecorder = Callable[[CallRecord], None]


@runtime_checkable
class Connector(Protocol):
    """Operations Agrega needs from an SVA platform.

    Implementations must be safe to use from several threads at once (the worker
    runs calls concurrently) and must keep every wire detail to themselves.
    """

    platform: str
    label: str
    credential_fields: tuple[CredentialField, ...]
    # What the platform allows, declared by each connector (class attributes):
    # one_account_per_customer: the platform keys an account by the customer's data
    #   (e-mail, document), so a customer has at most one account per integration;
    #   Agrega refuses a second product of the integration for the same customer
    #   (a database constraint, contracts.ContractProduct.sva_customer).
    # can_change_package: the platform changes an account's package in place, so a
    #   second product of the integration on the same contract replaces the first one
    #   and keeps the account (its package is updated by the worker).
    one_account_per_customer: bool
    can_change_package: bool

    def check_credentials(self) -> None:
        """Raise ConnectorError(kind=AUTH, ...) when refused; return None when accepted."""

    def list_packages(self) -> list[Package]: ...

    def create_user(self, spec: UserSpec) -> RemoteUser: ...

    def get_user(self, external_id: str) -> RemoteUser | None:
        """None when the platform has no user with that external id."""

    def list_users(self, cursor: str | None = None, limit: int = 500) -> RemoteUserPage: ...

    def update_user(self, spec: UserSpec) -> RemoteUser:
        """Change e-mail, phone, name, document and package (not the status)."""

    def block_user(self, external_id: str) -> RemoteUser: ...

    def unblock_user(self, external_id: str) -> RemoteUser: ...

    def delete_user(self, external_id: str) -> None:
        """Idempotent: deleting a user that is already gone is not an error."""

    def close(self) -> None: ...


ConnectorFactory = Callable[..., Connector]
