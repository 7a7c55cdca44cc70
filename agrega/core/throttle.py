"""Login throttling: after too many failed passwords for one username (or from one
address) in a window, refuse logins for that username (or address) until the window
passes. Counted in the database, so all web processes agree.

Applied in the authentication backend, so the operators' login page and the admin's
both obey it; the login form shows why and for how long."""

from __future__ import annotations

import math
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from .models import LoginFailure


def _limits() -> tuple[int, int, timedelta]:
    cfg = settings.LOGIN_THROTTLE
    return cfg["PER_USERNAME"], cfg["PER_IP"], timedelta(seconds=cfg["WINDOW_SECONDS"])


def client_ip(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "") if request is not None else ""


def _norm(username) -> str:
    return str(username or "").strip().lower()[:150]


def blocked_for(username, ip: str) -> int:
    """Seconds until ``username`` from ``ip`` may try again (0: may try now)."""
    per_user, per_ip, window = _limits()
    since = timezone.now() - window
    waits = []
    for field, value, limit in (("username", _norm(username), per_user), ("ip", ip, per_ip)):
        if not value:
            continue
        recent = LoginFailure.objects.filter(created_at__gte=since, **{field: value}).order_by("-created_at")
        times = list(recent.values_list("created_at", flat=True)[:limit])
        if len(times) >= limit:
            waits.append((times[-1] + window - timezone.now()).total_seconds())
    return max(0, math.ceil(max(waits))) if waits else 0


def record_failure(username, ip: str) -> None:
    LoginFailure.objects.create(username=_norm(username), ip=ip[:45])


def clear_failures(username) -> None:
    LoginFailure.objects.filter(username=_norm(username)).delete()


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
            clear_failures(username)
        return user
