"""Webhook delivery: the PSP calling the usuário recebedor back, from its own threads.

A notification is a finished JSON body and a URL (``<webhookUrl>/pix``, ``/rec`` or
``/cobr``, as the yaml's callbacks say). They wait in a time-ordered heap; a few worker
threads POST them, retrying failures with exponential backoff. The webhook fault
switches act here: lost (never sent), duplicated (sent twice), delayed, reordered
(a random extra wait, so a later Pix may be delivered first), failing (retried).
Every attempt is recorded for ``GET /_sandbox/webhooks``.
"""

from __future__ import annotations

import heapq
import itertools
import json
import ssl
import threading
import time
from collections import Counter, deque
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from .faults import Faults


def callback_url(webhook_url: str, suffix: str) -> str:
    """``https://h/p?x=1`` + ``pix`` → ``https://h/p/pix?x=1`` (the path gets the suffix)."""
    parts = urlsplit(webhook_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/" + suffix))


class Deliveries:
    def __init__(self, faults: Faults, *, workers: int = 4, timeout: float = 5.0,
                 cert: tuple[str, str] | None = None, ca: str | None = None):
        self.faults = faults
        self.heap: list[tuple[float, int, dict[str, Any]]] = []
        self.seq = itertools.count()
        self.cond = threading.Condition()
        self.stopping = False
        self.in_flight = 0
        self.log: deque[dict[str, Any]] = deque(maxlen=10_000)
        self.counts: Counter[str] = Counter()
        verify: Any = True
        if cert or ca:  # mTLS towards the receiver, as a real PSP calls webhooks
            verify = ssl.create_default_context(cafile=ca)
            if cert:
                verify.load_cert_chain(*cert)
        self.client = httpx.Client(timeout=timeout, verify=verify,
                                   limits=httpx.Limits(max_connections=workers * 2))
        self.threads = [threading.Thread(target=self._run, name=f"pix-webhook-{i}", daemon=True)
                        for i in range(workers)]
        for thread in self.threads:
            thread.start()

    def enqueue(self, kind: str, webhook_url: str, payload: dict[str, Any], chave: str) -> None:
        """Schedule one notification (called from the event loop)."""
        s = self.faults.settings
        rnd = self.faults.random
        item = {"kind": kind, "url": callback_url(webhook_url, kind), "chave": chave,
                "body": json.dumps(payload, ensure_ascii=False).encode(), "attempt": 0,
                "id": next(self.seq)}
        self.counts["scheduled"] += 1
        if s.webhook_lost_rate and rnd.random() < s.webhook_lost_rate:
            self.counts["lost"] += 1
            self._record(item, "lost", None)
            return
        copies = 2 if s.webhook_duplicate_rate and rnd.random() < s.webhook_duplicate_rate else 1
        if copies == 2:
            self.counts["duplicated"] += 1
        for _ in range(copies):
            wait = s.webhook_delay_ms / 1000.0
            if s.webhook_reorder_ms:
                wait += rnd.uniform(0, s.webhook_reorder_ms) / 1000.0
            self._push(time.monotonic() + wait, dict(item))

    def _push(self, at: float, item: dict[str, Any]) -> None:
        with self.cond:
            heapq.heappush(self.heap, (at, next(self.seq), item))
            self.cond.notify()

    def _run(self) -> None:
        while True:
            with self.cond:
                while not self.stopping:
                    if self.heap and self.heap[0][0] <= time.monotonic():
                        break
                    timeout = self.heap[0][0] - time.monotonic() if self.heap else None
                    self.cond.wait(timeout)
                if self.stopping:
                    return
                _, _, item = heapq.heappop(self.heap)
                self.in_flight += 1
            try:
                self._send(item)
            finally:
                with self.cond:
                    self.in_flight -= 1
                    self.cond.notify_all()

    def _send(self, item: dict[str, Any]) -> None:
        s = self.faults.settings
        item["attempt"] += 1
        status: int | None = None
        try:
            if s.webhook_failure_rate and self.faults.random.random() < s.webhook_failure_rate:
                raise httpx.ConnectError("falha simulada de envio")
            response = self.client.post(item["url"], content=item["body"],
                                        headers={"content-type": "application/json"})
            status = response.status_code
            ok = 200 <= status < 300
        except httpx.HTTPError:
            ok = False
        if ok:
            self.counts["delivered"] += 1
            self._record(item, "delivered", status)
            return
        if item["attempt"] >= s.webhook_max_attempts:
            self.counts["gave_up"] += 1
            self._record(item, "gave_up", status)
            return
        self.counts["retried"] += 1
        self._record(item, "retry", status)
        wait = min(30.0, s.webhook_retry_base_ms / 1000.0 * 2 ** (item["attempt"] - 1))
        self._push(time.monotonic() + wait, item)

    def _record(self, item: dict[str, Any], outcome: str, status: int | None) -> None:
        self.log.append({"id": item["id"], "kind": item["kind"], "url": item["url"],
                         "chave": item["chave"], "attempt": item["attempt"], "outcome": outcome,
                         "status": status, "at": time.time(),
                         "body": json.loads(item["body"])})

    def pending(self) -> int:
        with self.cond:
            return len(self.heap) + self.in_flight

    def wait_idle(self, timeout: float) -> bool:
        """Block until nothing is queued or in flight (True) or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.heap or self.in_flight:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.05))
        return True

    def clear(self) -> None:
        with self.cond:
            self.heap.clear()
        self.log.clear()
        self.counts.clear()

    def stop(self) -> None:
        with self.cond:
            self.stopping = True
            self.cond.notify_all()
        for thread in self.threads:
            thread.join(timeout=2)
        self.client.close()
