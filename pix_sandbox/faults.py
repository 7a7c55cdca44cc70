"""Fault switches: what makes the sandbox PSP behave like a bank on a bad day.

Changed at run time through ``POST /_sandbox/faults`` (or the command line). API calls
draw their fate once, in ``decide``; admin endpoints never come here. The webhook
switches (``webhook_*``) are read by the delivery thread (``webhooks.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sandbox_common.faults import RandomFaults, number as _number

from .store import ApiError

RATE_FIELDS = ("error_rate", "throttle_rate", "lost_response_rate", "webhook_lost_rate",
               "webhook_duplicate_rate", "webhook_failure_rate")
SECOND_FIELDS = ("latency_ms", "latency_jitter_ms", "rate_limit_rps", "webhook_delay_ms",
                 "webhook_reorder_ms", "webhook_retry_base_ms")


@dataclass
class FaultSettings:
    latency_ms: float = 0.0  # added to every API call
    latency_jitter_ms: float = 0.0
    error_rate: float = 0.0  # fraction answered 500/502/503/504, not applied
    throttle_rate: float = 0.0  # fraction answered 429 + Retry-After, not applied
    retry_after_seconds: int = 1
    rate_limit_rps: float = 0.0  # token bucket per client; 0 = unlimited (429 beyond)
    lost_response_rate: float = 0.0  # applied, then the connection drops without an answer
    webhook_lost_rate: float = 0.0  # notifications never sent
    webhook_duplicate_rate: float = 0.0  # notifications sent twice
    webhook_delay_ms: float = 0.0  # every notification waits this long
    webhook_reorder_ms: float = 0.0  # random extra wait in [0, x]: later Pix may arrive first
    webhook_failure_rate: float = 0.0  # the sandbox's own send fails (retried later)
    webhook_max_attempts: int = 6
    webhook_retry_base_ms: float = 200.0  # backoff: base * 2^(attempt-1), capped at 30 s
    seed: int | None = None
    client_id: str | None = None  # when set, only this client's API calls are faulted


_NAMES = {f.name for f in fields(FaultSettings)}


def validate(changes: Any) -> dict[str, Any]:
    """Check a partial settings dict; raise a 400 problem naming the bad keys."""
    if not isinstance(changes, dict):
        raise ApiError(400, "RequisicaoInvalida", "O corpo deve ser um objeto JSON.")
    errors: list[dict[str, str]] = []
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        try:
            if name not in _NAMES:
                raise ValueError("Chave desconhecida.")
            if name in RATE_FIELDS:
                clean[name] = _number(name, value, 0.0, 1.0)
            elif name in SECOND_FIELDS:
                clean[name] = _number(name, value, 0.0, None)
            elif name in ("retry_after_seconds", "webhook_max_attempts"):
                clean[name] = int(_number(name, value, 0.0 if name == "retry_after_seconds" else 1.0,
                                          86400.0))
            elif name == "seed":
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError("Deve ser um inteiro ou null.")
                clean[name] = value
            elif name == "client_id":
                if value is not None and not isinstance(value, str):
                    raise ValueError("Deve ser texto ou null.")
                clean[name] = value or None
        except ValueError as exc:
            errors.append({"propriedade": name, "razao": str(exc)})
    if errors:
        raise ApiError(400, "RequisicaoInvalida", "Configuração de falhas inválida.",
                       violacoes=errors)
    return clean


class Faults(RandomFaults):
    settings_class = FaultSettings

    def validate(self, changes: Any) -> dict[str, Any]:
        return validate(changes)

    def is_active(self) -> bool:
        s = self.settings
        return bool(s.latency_ms or s.latency_jitter_ms or s.rate_limit_rps or s.error_rate
                    or s.throttle_rate or s.lost_response_rate)

    def applies_to(self, client_id: str) -> bool:
        return self.active and self.settings.client_id in (None, client_id)

    def decide(self, client_id: str) -> ApiError | str | None:
        """The fate of one API call before it is applied: an error to answer at once,
        ``"lost_response"`` (apply, then drop the connection) or None."""
        s = self.settings
        rnd = self.random.random
        drawn = self.draw(client_id)
        if drawn:
            kind, seconds = drawn
            if kind != "error":
                return too_many(seconds)
            status = self.random.choice((500, 503, 504))
            kind = {500: "ErroInternoDoServidor", 503: "ServicoIndisponivel",
                    504: "IndisponibilidadePorTempoEsgotado"}[status]
            return ApiError(status, kind, "Falha simulada pelo sandbox.")
        if s.lost_response_rate and rnd() < s.lost_response_rate:
            self.injected["lost_response"] += 1
            return "lost_response"
        return None


def too_many(seconds: int) -> ApiError:
    return ApiError(429, "MuitasRequisicoes", "Limite de requisições excedido.",
                    headers=[(b"retry-after", str(seconds).encode())])
