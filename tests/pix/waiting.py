"""Waiting for what the PSP sandbox and the inbox consumer do on their own threads."""

from __future__ import annotations

import time


def wait_for(predicate, timeout=20.0):
    """True as soon as ``predicate()`` is; after ``timeout`` seconds, its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()
