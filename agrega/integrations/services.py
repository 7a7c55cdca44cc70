"""Writes and platform actions for SVA integrations.

Credentials are written here only; nothing returns them. The connector for an
integration is built here, so the rest of Agrega never imports a platform module.
"""

from __future__ import annotations

import re
from urllib.parse import urlparse

from django.db import IntegrityError, transaction
from django.utils import timezone

from agrega.core.audit import diff, record_change
from agrega.core.errors import ApplicationError, Conflict, FieldErrors
from agrega.core.text import clean_text_into

from .connectors.base import (
    CallRecorder,
    Connector,
    ConnectorError,
    ErrorKind,
    IntegrationConfig,
    Package,
)
from .connectors.registry import build_connector, connector_class, platform_choices
from .models import SvaIntegration
from .signals import integration_changed

_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
FIELDS = ("name", "platform", "base_url", "prefix", "auto_create_users", "requires_consent", "active",
          "timeout_seconds", "reconcile_remove_unknown", "rate_limit_rps")


def integration_config(integration: SvaIntegration) -> IntegrationConfig:
    return IntegrationConfig(
        base_url=integration.base_url,
        prefix=integration.prefix,
        credentials=integration.credentials,
        timeout_seconds=integration.timeout_seconds,
        rate_limit_rps=integration.rate_limit_rps or 0.0,
    )


def connector_for(integration: SvaIntegration, *, recorder: CallRecorder | None = None) -> Connector:
    return build_connector(integration.platform, integration_config(integration), recorder=recorder)


def _validate(integration: SvaIntegration, credentials: dict | None, *, creating: bool,
              moved: bool = False) -> dict | None:
    errors = FieldErrors()
    if moved and credentials is None:
        errors.add("credentials", "credentials_required_on_url_change",
                   "Ao trocar a URL ou a plataforma, informe as credenciais de novo.")
    name = clean_text_into(errors, "name", SvaIntegration, "name", integration.name, label="Nome")
    integration.name = name or ""
    if name == "":
        errors.add("name", "name_required", "Informe um nome para a integração.")
    known = dict(platform_choices())
    if integration.platform not in known:
        errors.add("platform", "platform_unknown", "Plataforma desconhecida. Opções: " + ", ".join(known))
    url = urlparse(integration.base_url or "")
    if url.scheme not in ("http", "https") or not url.netloc:
        errors.add("base_url", "url_invalid", "URL inválida: use http:// ou https:// seguido do endereço.")
    # The prefix names the account on platforms that need one (the connector declares it);
    # elsewhere it is optional and, when given, travels as the account's name.
    needs_prefix = integration.platform in known and connector_class(integration.platform).needs_prefix
    if (needs_prefix or integration.prefix) and not _PREFIX.match(integration.prefix or ""):
        errors.add("prefix", "prefix_invalid", "Prefixo inválido: letras, números, '-', '_' ou '.', até 64.")
    if not (0.5 <= float(integration.timeout_seconds or 0) <= 120):
        errors.add("timeout_seconds", "timeout_invalid", "Tempo limite deve estar entre 0,5 e 120 segundos.")
    rate = integration.rate_limit_rps
    if rate is None or isinstance(rate, bool) or not (0 <= float(rate) <= 100_000):
        errors.add("rate_limit_rps", "rate_limit_invalid",
                   "Limite de requisições deve estar entre 0 (sem limite) e 100.000 por segundo.")
    cleaned = None
    if integration.platform in known and (credentials is not None or creating):
        fields = connector_class(integration.platform).credential_fields
        given = {k: str(v).strip() for k, v in (credentials or {}).items() if v is not None}
        cleaned = {}
        for f in fields:
            if given.get(f.name):
                cleaned[f.name] = given[f.name]
            elif f.required:
                errors.add(f"credentials.{f.name}", "credential_required", f"Informe {f.label}.")
        unknown = set(given) - {f.name for f in fields}
        if unknown:
            errors.add("credentials", "credential_unknown", "Credenciais desconhecidas: " + ", ".join(sorted(unknown)))
    errors.raise_if_any()
    return cleaned


def _save(integration: SvaIntegration) -> None:
    try:
        with transaction.atomic():
            integration.save()
    except IntegrityError:
        raise Conflict(
            "integration_exists",
            "Já existe uma integração com esta plataforma, URL e prefixo.",
        ) from None


@transaction.atomic
def integration_create(*, credentials: dict, actor=None, **data) -> SvaIntegration:
    integration = SvaIntegration(**{k: v for k, v in data.items() if k in FIELDS})
    integration.base_url = (integration.base_url or "").rstrip("/")
    cleaned = _validate(integration, credentials, creating=True)
    integration.set_credentials(cleaned)
    _save(integration)
    changes = diff({}, {k: getattr(integration, k) for k in FIELDS})
    changes["credentials"] = [None, "definidas"]  # never the values
    record_change(instance=integration, action="create", actor=actor, changes=changes)
    return integration


@transaction.atomic
def integration_update(
    *, integration: SvaIntegration, credentials: dict | None = None, actor=None, **data
) -> SvaIntegration:
    """Update fields; credentials are replaced only when given (they are write-only)."""
    before = {k: getattr(integration, k) for k in FIELDS}
    for key, value in data.items():
        if key in FIELDS and value is not None:
            setattr(integration, key, value)
    integration.base_url = (integration.base_url or "").rstrip("/")
    # The stored secret was entered for the old address: it never goes to a new one
    # nobody typed it for (a URL changed by mistake, or by someone who should not see it).
    moved = (integration.platform, integration.base_url) != (before["platform"], before["base_url"])
    cleaned = _validate(integration, credentials, creating=False, moved=moved)
    if cleaned is not None:
        integration.set_credentials(cleaned)
    # New credentials or URL: give the platform a fresh chance.
    integration.circuit_open_until = None
    integration.consecutive_failures = 0
    _save(integration)
    changes = diff(before, {k: getattr(integration, k) for k in FIELDS})
    if cleaned is not None:
        changes["credentials"] = [None, "alteradas"]  # never the values
    record_change(instance=integration, action="update", actor=actor, changes=changes)
    if changes:
        # Listeners (sva) follow rule changes, e.g. requires_consent gates creation.
        integration_changed.send(sender=SvaIntegration, integration=integration, changed=set(changes))
    return integration


def _platform_error(exc: ConnectorError) -> ApplicationError:
    status = 502
    if exc.kind == ErrorKind.AUTH:
        status = 400
    return ApplicationError(
        f"platform_{exc.code}" if not exc.code.startswith("platform_") else exc.code,
        exc.message,
        status_code=status,
        extra={"platform_error_kind": exc.kind.value},
    )


# "Testar conexão" answers one message per class of failure, never the platform's own
# words: an answer that told a closed port from a silent or non-HTTP one (or echoed a
# remote body) would make the button a port scanner for whoever may edit a URL.
CHECK_MESSAGES = {
    "connect_failed": "Não foi possível conectar à plataforma. Verifique a URL e a rede.",
    "credentials_refused": "A plataforma recusou as credenciais (ou o prefixo).",
    "egress_refused": "Destino não permitido pela política de saída do Agrega.",
    "platform_unavailable": "A plataforma está indisponível no momento. Tente mais tarde.",
    "invalid_response": "Resposta inválida da plataforma. Verifique a URL.",
    "credentials_required_on_url_change": (
        "Para testar outra URL ou plataforma, informe as credenciais de novo: as salvas só vão "
        "para o endereço em que foram cadastradas."
    ),
}


def check_failure_class(exc: ConnectorError) -> str:
    """The generic class of a failed connection test (a key of CHECK_MESSAGES)."""
    if exc.kind == ErrorKind.CONFIG:
        return "egress_refused"
    if exc.kind == ErrorKind.AUTH:
        return "credentials_refused"
    if exc.status_code is None:  # no HTTP answer: refused, silent, not HTTP, bad URL
        return "connect_failed" if exc.kind in (ErrorKind.TRANSIENT, ErrorKind.UNKNOWN_OUTCOME) \
            else "invalid_response"
    if exc.kind == ErrorKind.RATE_LIMITED or exc.status_code in (502, 503, 504):
        return "platform_unavailable"
    return "invalid_response"


def _check_result(code: str) -> dict:
    return {"ok": False, "code": code, "message": CHECK_MESSAGES[code]}


def integration_check_credentials(
    *, integration: SvaIntegration, platform: str | None = None, base_url: str | None = None,
    credentials: dict | None = None,
) -> dict:
    """Ask the platform whether it accepts the credentials. Returns {ok, code, message}.

    With ``platform``/``base_url``/``credentials`` (the edit form, not yet saved) the test
    uses those; the stored credentials are used only for the stored platform and URL.
    """
    platform = platform or integration.platform
    base_url = (base_url or integration.base_url).rstrip("/")
    typed = {k: str(v).strip() for k, v in (credentials or {}).items() if v and str(v).strip()}
    unsaved = (platform, base_url) != (integration.platform, integration.base_url) or bool(typed)
    if unsaved:
        try:
            declared = connector_class(platform).credential_fields
        except LookupError:
            return _check_result("invalid_response")
        if {f.name for f in declared if f.required} - set(typed):
            return _check_result("credentials_required_on_url_change")
        config = IntegrationConfig(base_url=base_url, prefix=integration.prefix,
                                   credentials={f.name: typed[f.name] for f in declared if f.name in typed},
                                   timeout_seconds=integration.timeout_seconds, rate_limit_rps=0.0)
        connector = build_connector(platform, config)
    else:
        connector = connector_for(integration)
    now = timezone.now()
    try:
        connector.check_credentials()
        packages = connector.list_packages()
    except ConnectorError as exc:
        result = _check_result(check_failure_class(exc))
        if not unsaved:
            # The health shown on the dashboard and the integration list follows the test.
            SvaIntegration.objects.filter(pk=integration.pk).update(
                last_error_code=result["code"], last_error_message=result["message"], last_error_at=now)
        return result
    finally:
        connector.close()
    if not unsaved:
        SvaIntegration.objects.filter(pk=integration.pk).update(
            last_success_at=now, consecutive_failures=0, circuit_open_until=None)
    return {
        "ok": True,
        "code": "ok",
        "message": f"Conexão estabelecida: credenciais aceitas, {len(packages)} pacote(s) disponível(is)."
        + (" (Ainda não salvo.)" if unsaved else ""),
    }


# ---------------------------------------------------------------- the platform's health, as the worker saw it

def integration_record_config_error(*, integration_id: int, code: str, message: str, at) -> None:
    """The SVA worker could not build this integration's connector (e.g. credentials it
    cannot decrypt): shown on the integration until it works again."""
    SvaIntegration.objects.filter(pk=integration_id).update(
        last_error_code=code[:64], last_error_message=message[:500], last_error_at=at)


def integration_record_success(*, integration_id: int, at) -> None:
    """The SVA worker reached the platform: circuit closed, ``last_success_at`` (kept for
    the pages and the other workers)."""
    SvaIntegration.objects.filter(pk=integration_id).update(
        consecutive_failures=0, circuit_open_until=None, last_success_at=at)


def integration_record_failure(*, integration_id: int, failures: int, open_until, error_code: str,
                               error_message: str, at) -> None:
    """The SVA worker found the platform down: the circuit breaker's count, until when it
    is open, the last error (kept for the pages and the other workers)."""
    SvaIntegration.objects.filter(pk=integration_id).update(
        consecutive_failures=failures, circuit_open_until=open_until, last_error_code=error_code[:64],
        last_error_message=error_message[:500], last_error_at=at)


def integration_list_packages(*, integration: SvaIntegration) -> list[Package]:
    """The platform's package catalogue; ApplicationError when it cannot be read."""
    connector = connector_for(integration)
    try:
        return connector.list_packages()
    except ConnectorError as exc:
        raise _platform_error(exc) from exc
    finally:
        connector.close()
