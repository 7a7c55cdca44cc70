"""Login throttling that an attacker cannot turn against the account's owner.

Failures are counted per (username, client address) pair: after ``PER_USERNAME``
failures of one pair, that pair waits ``LOCK_SECONDS``, doubling with each further
failure up to ``MAX_LOCK_SECONDS`` — so guessing from one address slows to a few tries
an hour, while the same user from another address is not locked out. Across usernames,
one address may fail ``PER_IP`` times in ``WINDOW_SECONDS``. A success clears the pair's
failures. The client address is the socket's, or the trusted proxy's header
(core/net.py). Counted in the database, so all web processes agree.

Applied in the authentication backend, so the operators' login page and the admin's
both obey it; the login form shows why and for how long."""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Max
from django.utils import timezone

from .models import LoginFailure
from .net import client_ip

# how long a pair's failures keep counting towards its growing lock
PAIR_MEMORY = timedelta(hours=24)


def _limits() -> dict:
    cfg = settings.LOGIN_THROTTLE
    return {"per_pair": cfg["PER_USERNAME"], "per_ip": cfg["PER_IP"],
            "window": timedelta(seconds=cfg["WINDOW_SECONDS"]),
            "lock": cfg.get("LOCK_SECONDS", 30), "max_lock": cfg.get("MAX_LOCK_SECONDS", 3600)}


def _norm(username) -> str:
    return str(username or "").strip().lower()[:150]


def pair_lock_seconds(failures: int) -> float:
    """How long a pair waits after its ``failures``-th failure (0 below the limit)."""
    limits = _limits()
    if failures < limits["per_pair"]:
        return 0
    return min(limits["max_lock"], limits["lock"] * 2 ** min(failures - limits["per_pair"], 40))


def blocked_for(username, ip: str) -> int:
    """Seconds until ``username`` from ``ip`` may try again (0: may try now)."""
    limits = _limits()
    now = timezone.now()
    waits = [0.0]
    name = _norm(username)
    if name:
        pair = LoginFailure.objects.filter(username=name, ip=ip[:45], created_at__gte=now - PAIR_MEMORY)
        stats = pair.aggregate(n=Count("id"), last=Max("created_at"))
        if stats["n"]:
            waits.append((stats["last"] + timedelta(seconds=pair_lock_seconds(stats["n"])) - now).total_seconds())
    if ip:
        recent = LoginFailure.objects.filter(ip=ip[:45], created_at__gte=now - limits["window"])
        times = list(recent.order_by("-created_at").values_list("created_at", flat=True)[: limits["per_ip"]])
        if len(times) >= limits["per_ip"]:
            waits.append((times[-1] + limits["window"] - now).total_seconds())
    return max(0, math.ceil(max(waits)))


def record_failure(username, ip: str) -> None:
    LoginFailure.objects.create(username=_norm(username), ip=ip[:45])


def clear_failures(username, ip: str) -> None:
    """A success forgets the pair's failures (not other addresses' — those may be an attacker's)."""
    LoginFailure.objects.filter(username=_norm(username), ip=ip[:45]).delete()


def purge_old(days: int = 7) -> int:
    return LoginFailure.objects.filter(created_at__lt=timezone.now() - timedelta(days=days)).delete()[0]


class ThrottledModelBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        ip = client_ip(request)
        if blocked_for(username, ip):
            raise PermissionDenied("login_throttled")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            record_failure(username, ip)
        else:
            clear_failures(username, ip)
        return user
