"""The client's address of a request, and whether it is internal.

Behind a reverse proxy every request comes from the proxy's socket address, so the
client's is read from the proxy's header — but only when the request really comes from
a trusted proxy (``AGREGA_TRUSTED_PROXIES``); otherwise the header is whatever the
client wrote and is ignored. Used by login throttling and by /metrics."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=16)
def parse_networks(spec: str) -> tuple:
    """``"10.0.0.0/8, 127.0.0.1"`` → networks (a bad entry is a configuration error)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip())


def _ip(value: str):
    try:
        return ipaddress.ip_address(value.strip().strip("[]"))
    except ValueError:
        return None


def in_networks(address: str, spec: str) -> bool:
    ip = _ip(address or "")
    if ip is None:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in net for net in parse_networks(spec))


def client_ip(request) -> str:
    """REMOTE_ADDR; or, when that is a trusted proxy, the nearest address in the proxy
    header (``AGREGA_TRUSTED_PROXY_HEADER``, ``X-Forwarded-For`` by default) that is not
    itself a trusted proxy — the right-most ones were written by our proxies, the left
    ones by whoever sent the request."""
    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR") or ""
    trusted = getattr(settings, "TRUSTED_PROXIES", "")
    if not trusted or not in_networks(remote, trusted):
        return remote
    header = getattr(settings, "TRUSTED_PROXY_HEADER", "X-Forwarded-For") or "X-Forwarded-For"
    raw = request.headers.get(header, "")
    for hop in reversed([h.strip() for h in raw.split(",") if h.strip()]):
        ip = _ip(hop)
        if ip is None:
            break  # garbage in the header: fall back to the proxy's own address
        if not in_networks(str(ip), trusted):
            return str(ip)
    return remote


def is_internal(request) -> bool:
    """The client is on one of ``AGREGA_INTERNAL_NETWORKS`` (loopback by default)."""
    return in_networks(client_ip(request), getattr(settings, "INTERNAL_NETWORKS", "127.0.0.0/8,::1/128"))
