"""Client-side pacing of the calls to one platform account.

A platform that limits its partners to R requests per second answers the excess with
429 and a ``Retry-After``; a client that sends as fast as it can spends part of its
time being refused and waiting. Pacing the calls at R on our side keeps them under the
limit from the start (bench/README.md, "convergence").

One pacer per platform account (URL + prefix) per process, shared by every connector
built for it (the worker's threads, reconciliation, "Testar conexão"), so that they
add up to the limit together. Several worker processes each pace on their own: give
each its share of the limit, or let the 429s they then meet be retried.
"""

from __future__ import annotations

import threading
import time


class RatePacer:
    """A token bucket as a schedule (GCRA): each caller reserves the next free slot
    under a lock and sleeps outside it, so callers go out in order, ``rate`` per
    second, with a burst of ``burst`` calls after an idle spell (default: a tenth of
    a second of traffic, at least one call)."""

    def __init__(self, rate: float, burst: float | None = None, *, clock=time.monotonic, sleep=time.sleep):
        self._lock = threading.Lock()
        self._clock, self._sleep = clock, sleep
        self._tat = 0.0  # theoretical arrival time of the next call
        self._held_until = 0.0
        self.set_rate(rate, burst)

    def set_rate(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        with self._lock:
            self.rate = float(rate)
            self.interval = 1.0 / self.rate
            self.burst = max(1.0, burst if burst is not None else self.rate / 10)

    def reserve(self) -> float:
        """Reserve the next slot; returns the seconds to wait for it (0 when it is now)."""
        with self._lock:
            now = self._clock()
            tat = max(self._tat, now, self._held_until)
            slot = max(now, tat - (self.burst - 1) * self.interval, self._held_until)
            self._tat = tat + self.interval
            return slot - now

    def acquire(self) -> float:
        """Wait for this call's slot; returns the seconds waited."""
        wait = self.reserve()
        if wait > 0:
            self._sleep(wait)
        return wait

    def hold(self, seconds: float) -> None:
        """The platform said "retry after ``seconds``": no call goes before that."""
        with self._lock:
            self._held_until = max(self._held_until, self._clock() + seconds)


_pacers: dict[tuple, RatePacer] = {}
_pacers_lock = threading.Lock()


def shared_pacer(key: tuple, rate: float) -> RatePacer | None:
    """The process's pacer for one platform account (``key``), at ``rate`` calls per
    second; None when ``rate`` is 0 (no limit configured)."""
    if not rate or rate <= 0:
        return None
    with _pacers_lock:
        pacer = _pacers.get(key)
        if pacer is None:
            pacer = _pacers[key] = RatePacer(rate)
        elif pacer.rate != rate:
            pacer.set_rate(rate)
        return pacer
