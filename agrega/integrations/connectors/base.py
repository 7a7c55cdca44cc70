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
import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Protocol, runtime_checkable

import idna


class RemoteStatus(str, enum.Enum):
    ACTIVE = "active"
    BLOCKED = "blocked"


@dataclass(frozen=True)
class CredentialField:
    """A credential (or account setting) a platform needs, declared by its connector.

    Forms, API schemas, CLI options and docs are built from these: ``label`` is the
    pt-BR label shown to operators, ``secret`` ones are write-only (never shown back,
    password inputs, taken from the environment by the CLI), ``required`` ones must be
    given whenever credentials are (un)set, ``help`` is the pt-BR hint under the field.
    """

    name: str
    label: str
    secret: bool = True
    required: bool = True
    help: str = ""

    @property
    def option(self) -> str:
        """The CLI option, e.g. ``--client-secret``."""
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        """The environment variable the CLI reads a secret from, e.g. ``AGREGA_CLIENT_SECRET``."""
        return "AGREGA_" + self.name.upper()


class Capability(str, enum.Enum):
    """What a platform can do, declared by its connector (``Connector.capabilities``).

    The core asks these (``registry.platform_allows``) instead of asking which platform
    an integration is on; the shared contract suite runs or skips its checks by them.
    """

    # the platform changes an account's package in place: a second product of the same
    # integration on a contract replaces the first one and keeps the account
    CHANGE_PACKAGE_IN_PLACE = "change_package_in_place"
    # the platform answers "which user has this external id?" (``get_user``): a lost
    # answer is settled by a lookup; without it, the connector's writes must be safe to
    # repeat (the same state sent again) and ``get_user`` answers None
    LOOKUP_BY_EXTERNAL_ID = "lookup_by_external_id"
    # the platform finds a user by e-mail (a duplicate e-mail can be traced to its holder)
    LOOKUP_BY_EMAIL = "lookup_by_email"
    # the platform blocks an account and keeps it (unblock restores it)
    BLOCK_WITHOUT_DELETE = "block_without_delete"
    # the platform keys an account by the customer's data (e-mail, document): at most one
    # account per customer per integration (a database constraint, contracts.ContractProduct)
    ONE_ACCOUNT_PER_CUSTOMER = "one_account_per_customer"
    # the platform lists the users it holds (``list_users``): reconciliation can run
    LIST_USERS = "list_users"
    # the platform publishes its package catalogue (``list_packages`` reads it live);
    # without it the catalogue is declared in the integration's settings
    PACKAGE_CATALOGUE = "package_catalogue"


class ErrorCode:
    """The ``ConnectorError.code`` values the core relies on, declared once here.

    Every connector maps its platform's answers to these when they apply (a connector
    may add codes of its own: the core treats an unknown code by its ``ErrorKind``).
    """

    # CONFLICT: the e-mail is held by another user of the account (the worker waits for
    # a pending deletion of the same customer's other user before parking)
    DUPLICATE_EMAIL = "duplicate_email"
    # CONFLICT: the external id already exists (ours, after a lost answer: adopted by lookup)
    DUPLICATE_EXTERNAL_ID = "duplicate_external_id"
    # NOT_FOUND: no user with that external id (a normal answer to a lookup or a delete)
    USER_NOT_FOUND = "user_not_found"
    # UNKNOWN_OUTCOME: sent, no answer in time; it may have been applied
    TIMEOUT_UNKNOWN_OUTCOME = "timeout_unknown_outcome"
    # TRANSIENT
    TIMEOUT = "timeout"
    PLATFORM_UNREACHABLE = "platform_unreachable"
    PLATFORM_UNAVAILABLE = "platform_unavailable"  # 503
    PLATFORM_ERROR = "platform_error"  # other 5xx
    # RATE_LIMITED
    RATE_LIMITED = "rate_limited"
    # AUTH
    INVALID_CREDENTIALS = "invalid_credentials"
    MISSING_CREDENTIALS = "missing_credentials"
    # CONFIG: the egress policy refused the integration's address; nothing was sent
    EGRESS_REFUSED = "egress_refused"
    INVALID_URL = "invalid_url"
    # INVALID
    INVALID_FIELDS = "invalid_fields"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    PACKAGE_NOT_FOUND = "package_not_found"
    # an operation the platform does not offer (a capability it does not declare)
    NOT_SUPPORTED = "not_supported"


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
    document: str  # CPF (11 digits) or CNPJ (14 characters: digits or upper-case letters, then 2 digits)
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


def settled(known: RemoteUser, answer: RemoteUser) -> RemoteUser:
    """What the platform holds after a block or unblock answered with ``answer``. A
    connector whose platform answers without the user's data (the webhook) returns only
    the external id and the status: the data is then what was known before the call."""
    if answer.email or answer.name or answer.document:
        return answer
    return replace(known, status=answer.status, remote_id=answer.remote_id or known.remote_id)


@dataclass(frozen=True)
class RemoteUserPage:
    users: list[RemoteUser]
    next_cursor: str | None


class EmailDomain(str, enum.Enum):
    """How a platform takes an e-mail's domain with accents (IDN, e.g. ``café.com.br``)."""

    ASCII = "ascii"  # refused: only ASCII domains
    PUNYCODE = "punycode"  # taken in its ASCII form (xn--caf-dma.com.br): converted when sent
    UNICODE = "unicode"  # taken as typed


class NameCharset(str, enum.Enum):
    """Which characters a platform takes in a user's name (all: printable, no controls)."""

    LATIN1 = "latin1"  # Latin-1: letters with Portuguese accents, digits, common punctuation
    UNICODE = "unicode"  # any printable character


@dataclass(frozen=True)
class RuleProblem:
    """Data a platform cannot take: the ``UserSpec`` field, a stable code, and Portuguese
    text for the operator that says what to do."""

    field: str
    code: str
    message: str


_E164 = r"\+[1-9][0-9]{7,14}"

# Every code ``DataRules.problems`` gives: a platform's refusal, as opposed to data
# invalid anywhere (core.br).
RULE_CODES = frozenset({
    "email_local_not_accepted", "email_domain_not_accepted", "email_too_long", "name_too_long",
    "name_character_not_accepted", "phone_not_accepted", "document_not_accepted",
})


@dataclass(frozen=True)
class DataRules:
    """What a platform accepts in a user's registration data, declared by its connector
    (``Connector.data_rules``) so that Agrega refuses at entry, or converts, what the
    platform could only refuse later. ``problems`` is the check; ``to_platform`` /
    ``from_platform`` are the conversions the connector applies on the wire.

    The defaults are the most permissive: a connector declares what it restricts.
    """

    email_local_unicode: bool = True  # False: only ASCII before the @
    email_domain: EmailDomain = EmailDomain.UNICODE
    email_max_length: int = 254  # counted in the form sent (after any conversion)
    name_max_length: int = 200
    name_charset: NameCharset = NameCharset.UNICODE
    phone_pattern: str = _E164  # the whole phone as sent (E.164)
    phone_example: str = "+5511987654321"
    alphanumeric_cnpj: bool = True

    # -- conversions ------------------------------------------------------------------

    def platform_email(self, email: str) -> str:
        """``email`` as the platform takes it (an IDN domain in punycode when it wants
        that form); unchanged when nothing needs converting or it cannot be converted
        (``problems`` names that)."""
        local, at, domain = email.rpartition("@")
        if not at or domain.isascii() or self.email_domain != EmailDomain.PUNYCODE:
            return email
        try:
            return f"{local}@{idna.encode(domain).decode('ascii')}"  # IDNA 2008, as email-validator
        except (idna.IDNAError, UnicodeError):
            return email

    def from_platform_email(self, email: str) -> str:
        """The platform's form back to Agrega's (punycode labels decoded), so that what
        the platform holds compares equal to what Agrega stores."""
        local, at, domain = email.rpartition("@")
        if not at or self.email_domain != EmailDomain.PUNYCODE or "xn--" not in domain.lower():
            return email
        try:
            return f"{local}@{idna.decode(domain)}"
        except (idna.IDNAError, UnicodeError):
            return email

    def to_platform(self, spec: UserSpec) -> UserSpec:
        return replace(spec, email=self.platform_email(spec.email))

    def from_platform(self, remote: RemoteUser) -> RemoteUser:
        return replace(remote, email=self.from_platform_email(remote.email))

    # -- the check --------------------------------------------------------------------

    def problems(self, platform: str, *, name: str | None = None, email: str | None = None,
                 phone: str | None = None, document: str | None = None) -> list[RuleProblem]:
        """What ``platform`` (its label, e.g. "ACME") would refuse among the given values,
        already valid by Agrega's own rules (core.br); a field not given is not checked."""
        found: list[RuleProblem] = []
        if name is not None:
            found += self._name_problems(platform, name)
        if email:
            found += self._email_problems(platform, email)
        if phone and not re.fullmatch(self.phone_pattern, phone):
            found.append(RuleProblem(
                "phone", "phone_not_accepted",
                f"A plataforma {platform} não aceita este telefone ({phone}); ela aceita, por exemplo, "
                f"{self.phone_example}: corrija o telefone celular."))
        if document and not self.alphanumeric_cnpj and not document.isdigit():
            found.append(RuleProblem(
                "document", "document_not_accepted",
                f"A plataforma {platform} ainda não aceita CNPJ com letras: fale com o suporte da "
                "plataforma ou use outro documento."))
        return found

    def _name_problems(self, platform: str, name: str) -> list[RuleProblem]:
        found = []
        if len(name) > self.name_max_length:
            found.append(RuleProblem(
                "name", "name_too_long",
                f"A plataforma {platform} aceita nomes de até {self.name_max_length} caracteres "
                f"(este tem {len(name)}): abrevie o nome."))
        bad = [c for c in dict.fromkeys(name) if not self._name_char_ok(c)]
        if bad:
            shown = " ".join(_shown_char(c) for c in bad[:5])
            what = ("letras (com ou sem acento), números e pontuação comum" if self.name_charset == NameCharset.LATIN1
                    else "caracteres visíveis")
            found.append(RuleProblem(
                "name", "name_character_not_accepted",
                f"A plataforma {platform} aceita no nome só {what}: retire {shown} do nome."))
        return found

    def _name_char_ok(self, char: str) -> bool:
        if not char.isprintable():
            return False
        return self.name_charset == NameCharset.UNICODE or ord(char) < 256

    def _email_problems(self, platform: str, email: str) -> list[RuleProblem]:
        local, _, domain = email.rpartition("@")
        found = []
        if not self.email_local_unicode and not local.isascii():
            found.append(RuleProblem(
                "email", "email_local_not_accepted",
                f"A plataforma {platform} não aceita acentos nem outros caracteres especiais antes do @ "
                f"(“{local}”): informe outro e-mail, só com letras sem acento, números e . _ - +."))
        converted = self.platform_email(email)
        if not domain.isascii() and (self.email_domain == EmailDomain.ASCII
                                     or (self.email_domain == EmailDomain.PUNYCODE
                                         and not converted.rpartition("@")[2].isascii())):
            found.append(RuleProblem(
                "email", "email_domain_not_accepted",
                f"A plataforma {platform} não aceita domínio com acentos (“{domain}”): informe outro e-mail."))
        sent = converted
        if len(sent) > self.email_max_length:
            found.append(RuleProblem(
                "email", "email_too_long",
                f"A plataforma {platform} aceita e-mails de até {self.email_max_length} caracteres "
                f"(este tem {len(sent)} na forma enviada): informe um e-mail mais curto."))
        return found


def _shown_char(char: str) -> str:
    if char.isprintable() and not char.isspace():
        return f"«{char}»"
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


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

    # -- the declaration (class attributes; docs/decisions/0010-connector-declarations.md)
    platform: str  # the registry key, e.g. "acme"
    label: str  # what operators read, e.g. "ACME"
    credential_fields: tuple[CredentialField, ...]
    # whether an integration must name its account on the platform ("Seu prefixo")
    needs_prefix: bool
    # what the platform can do (``Capability``)
    capabilities: frozenset[Capability]
    # where the test kit of the platform's sandbox lives (dotted path of a module with
    # ``SandboxKit``), or "" when the connector ships no sandbox (tests/fixtures.py)
    sandbox: str
    # Derived from ``capabilities`` by ``declared``; kept as attributes for readers:
    # one_account_per_customer: the platform keys an account by the customer's data
    #   (e-mail, document), so a customer has at most one account per integration;
    #   Agrega refuses a second product of the integration for the same customer
    #   (a database constraint, contracts.ContractProduct.sva_customer).
    # can_change_package: the platform changes an account's package in place, so a
    #   second product of the integration on the same contract replaces the first one
    #   and keeps the account (its package is updated by the worker).
    one_account_per_customer: bool
    can_change_package: bool
    # What the platform accepts in registration data: checked before anything is sent
    # (sva.selectors.registration_check) and at entry (customers, manual SVA users, imports).
    data_rules: DataRules

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

# What ``declared`` checks every connector class states.
DECLARATION = ("platform", "label", "credential_fields", "needs_prefix", "capabilities", "data_rules")


def declared(cls: type) -> type:
    """Class decorator for a connector: checks its declaration is complete and derives
    the capability flags the core reads as attributes (``one_account_per_customer``,
    ``can_change_package``) from ``capabilities``, so each is stated once."""
    missing = [name for name in DECLARATION if not hasattr(cls, name)]
    if missing:
        raise TypeError(f"{cls.__name__} does not declare {', '.join(missing)}")
    capabilities = frozenset(Capability(c) for c in cls.capabilities)
    if not cls.credential_fields or not any(f.secret and f.required for f in cls.credential_fields):
        raise TypeError(f"{cls.__name__} must declare at least one required secret credential")
    if not isinstance(cls.data_rules, DataRules):
        raise TypeError(f"{cls.__name__}.data_rules must be a DataRules")
    cls.capabilities = capabilities
    cls.one_account_per_customer = Capability.ONE_ACCOUNT_PER_CUSTOMER in capabilities
    cls.can_change_package = Capability.CHANGE_PACKAGE_IN_PLACE in capabilities
    if not hasattr(cls, "sandbox"):
        cls.sandbox = ""
    return cls
