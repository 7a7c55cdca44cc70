"""The random fault switches of a sandbox's HTTP API (EXA's and the PSP's): settings
changed at run time, a seeded draw per call, latency with jitter and a token bucket per
client. Each sandbox keeps its own settings, validation, fate (``decide``) and error
bodies; this holds what they do alike."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from dataclasses import asdict
from typing import Any


def number(name: str, value: Any, low: float, high: float | None) -> float:
    """``value`` as a finite float within [low, high]; ValueError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name}: deve ser um número.")
    if not math.isfinite(value) or value < low or (high is not None and value > high):
        bound = f"entre {low} e {high}" if high is not None else f">= {low}"
        raise ValueError(f"{name}: deve estar {bound}.")
    return float(value)


class RandomFaults:
    """``settings_class`` is the sandbox's settings dataclass; ``validate`` its check of a
    partial settings dict; ``is_active`` says whether any switch is on (when none is, a
    call pays nothing)."""

    settings_class: type

    def __init__(self) -> None:
        self.settings = self.settings_class()
        self.random = random.Random()
        self.injected: Counter[str] = Counter()
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)
        self.active = False

    def validate(self, changes: Any) -> dict[str, Any]:
        raise NotImplementedError

    def is_active(self) -> bool:
        raise NotImplementedError

    def as_dict(self) -> dict[str, Any]:
        return asdict(self.settings)

    def update(self, changes: Any) -> None:
        clean = self.validate(changes)
        for name, value in clean.items():
            setattr(self.settings, name, value)
        if "seed" in clean:
            self.random.seed(clean["seed"])
        if "rate_limit_rps" in clean:
            self._buckets.clear()
        self.active = self.is_active()

    def clear(self) -> None:
        self.settings = self.settings_class()
        self._buckets.clear()
        self.random.seed()
        self.active = False

    def latency(self) -> float:
        """Seconds this call should wait before anything else happens."""
        s = self.settings
        if not s.latency_ms and not s.latency_jitter_ms:
            return 0.0
        ms = s.latency_ms
        if s.latency_jitter_ms:
            ms += self.random.uniform(-s.latency_jitter_ms, s.latency_jitter_ms)
        return max(ms, 0.0) / 1000.0

    def draw(self, key: str) -> tuple[str, int] | None:
        """The fate both APIs draw alike, in this order: over the rate limit
        (``("rate_limit", seconds to wait)``), a random 429 (``("throttle", Retry-After)``),
        a random server error (``("error", 0)``); None when none of them falls."""
        s = self.settings
        if s.rate_limit_rps:
            wait = self._take(key, s.rate_limit_rps)
            if wait:
                self.injected["rate_limit"] += 1
                return "rate_limit", max(1, math.ceil(wait))
        if s.throttle_rate and self.random.random() < s.throttle_rate:
            self.injected["throttle"] += 1
            return "throttle", s.retry_after_seconds
        if s.error_rate and self.random.random() < s.error_rate:
            self.injected["error"] += 1
            return "error", 0
        return None

    def _take(self, key: str, rate: float) -> float:
        """Token bucket (capacity = one second of traffic); seconds to wait, or 0."""
        now = time.monotonic()
        capacity = max(1.0, rate)
        tokens, at = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - at) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate
