"""Fault switches: what makes the sandbox behave like a platform on a bad day.

Settings are changed at run time through ``POST /_sandbox/faults`` (or the command
line). Each partner call draws its fate once, in ``decide``; admin endpoints never
come here. When every switch is off, ``active`` is False and a request pays nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from sandbox_common.faults import RandomFaults, number as _number

from .store import ApiError

RATE_FIELDS = ("error_rate", "throttle_rate", "timeout_rate", "lost_response_rate")


@dataclass
class FaultSettings:
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0  # fraction answered 500/502/503 without applying
    rate_limit_rps: float = 0.0  # token bucket per partner; 0 = unlimited
    throttle_rate: float = 0.0  # fraction answered 429 at random
    retry_after_seconds: int = 1  # Retry-After sent with throttle_rate's 429
    timeout_rate: float = 0.0  # fraction that hang, unapplied, then answer 504
    lost_response_rate: float = 0.0  # fraction applied, then hang before answering
    hang_seconds: float = 30.0
    down: bool = False  # every partner call answers 503
    seed: int | None = None
    prefix: str | None = None  # when set, only this partner's calls are affected
    # Users whose data this platform refuses for good: a create or update carrying one of
    # these e-mails (case-insensitive) answers ``refuse_status`` and is not applied.
    refuse_emails: list[str] = field(default_factory=list)
    refuse_status: int = 422  # 400, 409, 413 or 422


_NAMES = {f.name for f in fields(FaultSettings)}


def validate(changes: dict[str, Any]) -> dict[str, Any]:
    """Check a partial settings dict; raise ApiError(422) naming the bad keys."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        try:
            if name not in _NAMES:
                raise ValueError("Chave desconhecida.")
            if name in RATE_FIELDS:
                clean[name] = _number(name, value, 0.0, 1.0)
            elif name in ("latency_ms", "latency_jitter_ms", "rate_limit_rps", "hang_seconds"):
                clean[name] = _number(name, value, 0.0, None)
            elif name == "retry_after_seconds":
                clean[name] = int(_number(name, value, 0.0, 86400.0))
            elif name == "down":
                if not isinstance(value, bool):
                    raise ValueError("Deve ser true ou false.")
                clean[name] = value
            elif name == "seed":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError("Deve ser um inteiro ou null.")
                clean[name] = value
            elif name == "refuse_emails":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ValueError("Deve ser uma lista de e-mails.")
                clean[name] = [v.strip().lower() for v in value if v.strip()]
            elif name == "refuse_status":
                if value not in REFUSALS:
                    raise ValueError("Deve ser 400, 409, 413 ou 422.")
                clean[name] = value
            elif name == "prefix":
                if value is not None and not isinstance(value, str):
                    raise ValueError("Deve ser texto ou null.")
                clean[name] = value or None
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise ApiError(422, "invalid_fields", "Configuração de falhas inválida.", fields=errors)
    return clean


class Faults(RandomFaults):
    settings_class = FaultSettings

    def validate(self, changes: dict[str, Any]) -> dict[str, Any]:
        return validate(changes)

    def is_active(self) -> bool:
        s = self.settings
        return bool(
            s.down or s.latency_ms or s.latency_jitter_ms or s.rate_limit_rps or s.refuse_emails
            or any(getattr(s, name) for name in RATE_FIELDS)
        )

    def reset_counters(self) -> None:
        self.injected.clear()

    def applies_to(self, partner: str) -> bool:
        return self.active and (self.settings.prefix is None or self.settings.prefix == partner)

    def decide(self, partner: str) -> ApiError | str | None:
        """The fate of one call, before it is applied.

        Returns an ApiError to answer at once, ``"timeout"`` (hang, then 504, not
        applied), ``"lost_response"`` (apply, then hang before answering) or None.
        """
        s = self.settings
        rnd = self.random.random
        if s.down:
            self.injected["down"] += 1
            return ApiError(503, "platform_unavailable", "Plataforma indisponível.")
        drawn = self.draw(partner)
        if drawn:
            kind, seconds = drawn
            if kind != "error":
                return _too_many(seconds)
            status = self.random.choice((500, 502, 503))
            return ApiError(status, *_SERVER_ERRORS[status])
        if s.timeout_rate and rnd() < s.timeout_rate:
            self.injected["timeout"] += 1
            return "timeout"
        if s.lost_response_rate and rnd() < s.lost_response_rate:
            self.injected["lost_response"] += 1
            return "lost_response"
        return None

    def refusal(self, operation: str, data: Any) -> ApiError | None:
        """A permanent refusal of this create or update (``refuse_emails``): the same
        request is refused every time, however often it is repeated."""
        s = self.settings
        if not s.refuse_emails or operation not in ("create_user", "update_user") or not isinstance(data, dict):
            return None
        email = data.get("email")
        if not isinstance(email, str) or email.strip().lower() not in s.refuse_emails:
            return None
        self.injected["refuse"] += 1
        code, message, wrong = REFUSALS[s.refuse_status]
        return ApiError(s.refuse_status, code, message, fields=dict(wrong) or None)


_SERVER_ERRORS = {
    500: ("internal_error", "Erro interno da plataforma."),
    502: ("bad_gateway", "Falha num serviço interno da plataforma."),
    503: ("platform_unavailable", "Plataforma indisponível."),
}

# What ``refuse_emails`` answers, by ``refuse_status``.
REFUSALS = {
    400: ("invalid_json", "Requisição inválida.", {}),
    409: ("duplicate_email", "E-mail já cadastrado para outro usuário.", {"email": "Já usado por outro usuário."}),
    413: ("payload_too_large", "Corpo da requisição grande demais.", {}),
    422: ("invalid_fields", "Dados inválidos.", {"email": "Recusado pela plataforma."}),
}

GATEWAY_TIMEOUT = ("gateway_timeout", "A plataforma não concluiu a operação a tempo.")


def _too_many(seconds: int) -> ApiError:
    return ApiError(
        429, "rate_limited", "Limite de requisições excedido.",
        headers=[(b"retry-after", str(seconds).encode())],
    )
