"""Egress policy: where Agrega may open a connection to (platforms, later PSPs and SEFAZ).

An operator types a platform's URL; without a policy, that URL could point the worker
(and "Testar conexão") at the machine's own services, the private network or a cloud
metadata endpoint (169.254.169.254), carrying the platform's credentials with it. So every
outgoing HTTP call goes through ``client()``, whose transport:

* resolves the host name once, checks **every address** it will connect to, and connects
  to that checked address itself (no second lookup a DNS rebinding could answer
  differently); the Host header and the TLS SNI stay the URL's host name;
* does so for each new connection (a pooled keep-alive connection stays on the address
  that was checked when it opened);
* refuses loopback, private, link-local, multicast, unspecified, reserved, shared
  (100.64/10) and other non-global addresses, IPv4 and IPv6 alike, including IPv4-mapped,
  6to4 and Teredo IPv6 addresses carrying one of those;
* unless the address, or the URL's host:port, is in ``settings.AGREGA_EGRESS_ALLOW``
  (environment ``AGREGA_EGRESS_ALLOW``, comma-separated): CIDRs or single addresses (any
  port), ``address:port`` or ``host:port`` (``[::1]:8000`` for IPv6). For sandboxes and
  on-premise platforms; the default (empty) is strict.

A refusal raises ``EgressRefused`` (an ``httpx.TransportError``, code ``egress_refused``):
a configuration error, never a sign the platform is down.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from functools import lru_cache

import httpcore
import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

IPAddress = typing.Union[ipaddress.IPv4Address, ipaddress.IPv6Address]

CODE = "egress_refused"
MESSAGE = "Destino não permitido pela política de saída do Agrega ({target})."


class EgressRefused(httpx.TransportError):
    """The destination is not allowed by the egress policy."""

    code = CODE

    def __init__(self, host: str, port: int, address: str = ""):
        self.host, self.port, self.address = host, port, address
        target = f"{host}:{port}" + (f" → {address}" if address and address != host else "")
        super().__init__(MESSAGE.format(target=target))


# -- the allow list ---------------------------------------------------------------------

class AllowList(typing.NamedTuple):
    networks: tuple  # (network, port or None)
    names: frozenset  # {(lower-case host name, port)}


def _parse_entry(entry: str) -> tuple[str, object]:
    try:
        return "net", (ipaddress.ip_network(entry.strip("[]"), strict=False), None)
    except ValueError:
        pass
    host, sep, port = entry.rpartition(":")
    if not sep or not port.isdigit() or not host or not 0 < int(port) < 65536:
        raise ImproperlyConfigured(
            f"AGREGA_EGRESS_ALLOW: entrada inválida {entry!r} (use CIDR, endereço, endereço:porta ou host:porta)."
        )
    host = host.strip("[]")
    try:
        return "net", (ipaddress.ip_network(host), int(port))
    except ValueError:
        return "name", (host.lower().rstrip("."), int(port))


@lru_cache(maxsize=8)
def _allow_list(entries: tuple[str, ...]) -> AllowList:
    networks, names = [], set()
    for entry in entries:
        if not entry.strip():
            continue
        kind, value = _parse_entry(entry.strip())
        (networks.append if kind == "net" else names.add)(value)
    return AllowList(tuple(networks), frozenset(names))


def parse_allow(value: str | typing.Iterable[str] | None) -> tuple[str, ...]:
    """``"a, b"`` or ``["a", "b"]`` → ``("a", "b")`` (settings.py and tests)."""
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else list(value)
    entries = tuple(i.strip() for i in items if i and i.strip())
    _allow_list(entries)  # fail loud on a bad entry
    return entries


def allow_list() -> AllowList:
    return _allow_list(parse_allow(getattr(settings, "AGREGA_EGRESS_ALLOW", ())))


# -- the rule ---------------------------------------------------------------------------

def _embedded(ip: IPAddress) -> list[IPAddress]:
    """The address and any IPv4 address an IPv6 one carries (mapped, 6to4, Teredo)."""
    found = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            found.append(ip.ipv4_mapped)
        if ip.sixtofour:
            found.append(ip.sixtofour)
        if ip.teredo:
            found.extend(ip.teredo)
        # IPv4-compatible (::a.b.c.d, deprecated) and NAT64 (64:ff9b::/96) carry one too.
        if int(ip) >> 32 == 0 or ip in ipaddress.ip_network("64:ff9b::/96"):
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def is_public(ip: IPAddress) -> bool:
    """Whether an address is an ordinary public one (the default policy allows only these)."""
    for a in _embedded(ip):
        if (a.is_loopback or a.is_private or a.is_link_local or a.is_multicast or a.is_unspecified
                or a.is_reserved or not a.is_global
                or (isinstance(a, ipaddress.IPv6Address) and a.is_site_local)):
            return False
    return True


def allowed(host: str, port: int, ip: IPAddress, rules: AllowList | None = None) -> bool:
    """Whether a connection to ``ip`` (resolved from ``host``) on ``port`` may be opened."""
    rules = rules or allow_list()
    if (host.lower().rstrip("."), port) in rules.names:
        return True
    candidates = _embedded(ip)
    for network, only_port in rules.networks:
        if only_port is not None and only_port != port:
            continue
        if any(a.version == network.version and a in network for a in candidates):
            return True
    return is_public(ip)


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address of ``host`` (once), or the literal address itself."""
    try:
        return [ipaddress.ip_address(host.strip("[]").split("%")[0])]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"não foi possível resolver {host}: {exc}") from exc
    seen: list[IPAddress] = []
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0].split("%")[0])
        if ip not in seen:
            seen.append(ip)
    return seen


def checked_addresses(host: str, port: int) -> list[IPAddress]:
    """The resolved addresses the policy allows; ``EgressRefused`` when none is."""
    addresses = resolve(host, port)
    rules = allow_list()
    ok = [ip for ip in addresses if allowed(host, port, ip, rules)]
    if not ok:
        raise EgressRefused(host, port, str(addresses[0]) if addresses else "")
    return ok


# -- the transport ----------------------------------------------------------------------

class _PinnedBackend(httpcore.SyncBackend):
    """Connects to the checked address itself; TLS (SNI, certificate) still uses the
    URL's host name, which httpcore passes to ``start_tls`` separately."""

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        last: Exception | None = None
        for ip in checked_addresses(host, port):
            try:
                return super().connect_tcp(str(ip), port, timeout=timeout, local_address=local_address,
                                           socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        raise last  # type: ignore[misc]

    def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never configured
        raise EgressRefused("unix-socket", 0)


class EgressTransport(httpx.HTTPTransport):
    """``httpx.HTTPTransport`` whose every new connection goes through the policy."""

    def __init__(self, **kwargs):
        kwargs.pop("proxy", None)  # a proxy would connect on our behalf, unchecked
        super().__init__(**kwargs)
        self._pool._network_backend = _PinnedBackend()


def client(**kwargs) -> httpx.Client:
    """An ``httpx.Client`` for calls that leave Agrega. Ignores proxy environment
    variables (a proxy would connect where the policy cannot see) and redirects
    are not followed (httpx's default) — each hop would be a new, unchecked target."""
    limits = kwargs.pop("limits", httpx.Limits())
    kwargs.setdefault("trust_env", False)
    return httpx.Client(transport=EgressTransport(limits=limits), **kwargs)
