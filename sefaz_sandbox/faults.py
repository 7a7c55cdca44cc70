"""Fault switches: the SEFAZ on a bad day, set at run time by ``POST /_sandbox/faults``.

* ``latency_ms`` — every SOAP call waits this long first;
* ``timeout_next`` — the next N calls of ``services`` hang ``hang_seconds`` (past any
  sane client timeout) and are **not** applied;
* ``lost_next`` — the next N calls of ``services`` are applied (the NFCom is authorised,
  the event registered) and then the connection is dropped without an answer;
* ``paralisado`` — "108" or "109": the status service answers that code and every other
  service answers HTTP ``paralisado_http`` (503 by default), as an overloaded SEFAZ does;
* ``http_error`` — every SOAP call answers this HTTP status (500/502/503/504);
* ``reject_next`` / ``reject_code`` — the next N documents (recepção or evento per
  ``services``) are rejected with that cStat, whatever they carry.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

SERVICES = ("recepcao", "consulta", "evento", "status")


@dataclass
class FaultSettings:
    latency_ms: float = 0.0
    hang_seconds: float = 30.0
    timeout_next: int = 0
    lost_next: int = 0
    paralisado: str | None = None
    paralisado_http: int = 503
    http_error: int = 0
    reject_next: int = 0
    reject_code: str = "999"
    services: list[str] = field(default_factory=lambda: ["recepcao", "evento"])


class FaultError(ValueError):
    def __init__(self, errors: dict[str, str]):
        super().__init__("Configuração de falhas inválida.")
        self.errors = errors


def _int(value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"deve ser um inteiro entre {low} e {high}.")
    return value


def _float(value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"deve ser um número entre {low} e {high}.")
    return float(value)


def validate(changes: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(FaultSettings)}
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, value in changes.items():
        try:
            if name not in names:
                raise ValueError("chave desconhecida.")
            if name in ("latency_ms",):
                clean[name] = _float(value, 0, 600_000)
            elif name == "hang_seconds":
                clean[name] = _float(value, 0, 3600)
            elif name in ("timeout_next", "lost_next", "reject_next"):
                clean[name] = _int(value, 0, 1_000_000)
            elif name == "paralisado":
                if value not in (None, "108", "109"):
                    raise ValueError('deve ser "108", "109" ou null.')
                clean[name] = value
            elif name in ("paralisado_http", "http_error"):
                if value not in ((0,) if name == "http_error" else ()) + (500, 502, 503, 504):
                    raise ValueError("deve ser 500, 502, 503 ou 504" + (" (ou 0)." if name == "http_error" else "."))
                clean[name] = value
            elif name == "reject_code":
                if not (isinstance(value, str) and len(value) == 3 and value.isdigit()):
                    raise ValueError("deve ser um cStat de 3 dígitos.")
                clean[name] = value
            elif name == "services":
                if not isinstance(value, list) or not set(value) <= set(SERVICES):
                    raise ValueError(f"deve ser uma lista de {', '.join(SERVICES)}.")
                clean[name] = list(value)
        except ValueError as exc:
            errors[name] = str(exc)
    if errors:
        raise FaultError(errors)
    return clean


class Faults:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settings = FaultSettings()
        self.injected: dict[str, int] = {}
        self.release = threading.Event()  # set on shutdown: hanging calls stop hanging

    def as_dict(self) -> dict[str, Any]:
        with self.lock:
            return asdict(self.settings) | {"injected": dict(self.injected)}

    def update(self, changes: dict[str, Any]) -> None:
        clean = validate(changes)
        with self.lock:
            for name, value in clean.items():
                setattr(self.settings, name, value)

    def clear(self) -> None:
        with self.lock:
            self.settings = FaultSettings()

    def _count(self, name: str) -> None:
        self.injected[name] = self.injected.get(name, 0) + 1

    def latency(self) -> float:
        return self.settings.latency_ms / 1000.0

    def http_status(self, service: str) -> int:
        """An HTTP error status to answer at once instead of SOAP, or 0."""
        with self.lock:
            s = self.settings
            if s.http_error:
                self._count("http_error")
                return s.http_error
            if s.paralisado and service != "status":
                self._count("paralisado")
                return s.paralisado_http
            return 0

    def paralisado(self) -> str | None:
        return self.settings.paralisado

    def fate(self, service: str) -> str | None:
        """'timeout', 'lost', 'reject' or None for one call of ``service`` (consumes one)."""
        with self.lock:
            s = self.settings
            if service not in s.services:
                return None
            for name, attr in (("timeout", "timeout_next"), ("lost", "lost_next"), ("reject", "reject_next")):
                left = getattr(s, attr)
                if left > 0:
                    setattr(s, attr, left - 1)
                    self._count(name)
                    return name
            return None
