"""Where webhooks may go: never, by default in production, to loopback, private or link-local addresses.

A subscription URL pointing inside our own network would let any HIS client make the worker call
internal services (SSRF). The rule is checked twice: when the URL is given (an address literal, or a
name resolving to such an address), and at every delivery after resolving the name, since DNS may
change in between; the delivery then connects to the very address that was checked (``Target.pinned``),
so a name cannot resolve to a public address for the check and a private one for the connection.
``GRIDCARE_WEBHOOKS_ALLOW_PRIVATE`` lifts the rule (on in dev and tests, where receivers run on loopback).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Names that are loopback whatever DNS says.
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
RESOLVE_TIMEOUT_SECONDS = 5.0


class TargetRefused(ValueError):
    """A URL we will not call; the message says why (for a 422 or an attempt's error)."""


def parse(url: str) -> SplitResult:
    """The URL's parts, refusing what a webhook URL may not be: not http(s), no host, credentials, a fragment."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused("not a valid URL") from exc
    if parts.scheme not in ("http", "https"):
        raise TargetRefused("must be an http or https URL")
    if not parts.hostname:
        raise TargetRefused("must name a host")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("must not carry credentials; the signature authenticates us")
    if parts.fragment:
        raise TargetRefused("must not have a fragment")
    if port == 0:
        raise TargetRefused("port 0 is not a port")
    return parts


def forbidden(address: IpAddress) -> bool:
    """Loopback, private, link-local, multicast, reserved or unspecified: not a public receiver."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IpAddress]:
    """Every address ``host`` resolves to (an address literal is itself)."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=RESOLVE_TIMEOUT_SECONDS
        )
    except (OSError, TimeoutError) as exc:
        raise TargetRefused(f"{host} does not resolve") from exc
    found: list[IpAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    if not found:
        raise TargetRefused(f"{host} does not resolve")
    return found


async def check_subscribe(url: str, *, allow_private: bool) -> None:
    """At subscribe time: the URL's form, and (unless allowed) no private host, literal or resolved.

    A name that does not resolve yet is accepted: the delivery-time check is the authoritative one.
    """
    parts = parse(url)
    if allow_private:
        return
    host = parts.hostname or ""
    if host.lower().rstrip(".") in _LOCAL_NAMES:
        raise TargetRefused("must not point at this machine")
    try:
        addresses = await resolve(host, parts.port or _default_port(parts))
    except TargetRefused:
        return
    if any(forbidden(a) for a in addresses):
        raise TargetRefused("must not point at a loopback, private or link-local address")


@dataclass(frozen=True)
class Target:
    """Where one attempt connects: the URL rewritten to the checked address, and the original host."""

    url: str  # the request URL, its host replaced by the address (the original URL when not pinned)
    host_header: str | None  # the original Host (None: the URL was not rewritten)
    sni_hostname: str | None  # for TLS: the certificate is checked against the original name


async def for_delivery(url: str, *, allow_private: bool) -> Target:
    """At delivery time: resolve, refuse a private address unless allowed, pin the connection to it."""
    parts = parse(url)
    host = parts.hostname or ""
    if allow_private:
        return Target(url=url, host_header=None, sni_hostname=None)
    if host.lower().rstrip(".") in _LOCAL_NAMES:
        raise TargetRefused("points at this machine")
    port = parts.port or _default_port(parts)
    addresses = await resolve(host, port)
    if any(forbidden(a) for a in addresses):
        raise TargetRefused("resolves to a loopback, private or link-local address")
    address = addresses[0]
    shown = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{shown}:{parts.port}" if parts.port else shown
    pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
    host_header = f"{host}:{parts.port}" if parts.port else host
    return Target(url=pinned, host_header=host_header, sni_hostname=host if parts.scheme == "https" else None)


def _default_port(parts: SplitResult) -> int:
    return 443 if parts.scheme == "https" else 80


def host_of(url: str) -> str:
    """The host a person recognises the endpoint by (for messages: never the full URL with its query)."""
    try:
        return urlsplit(url).hostname or url
    except ValueError:
        return url
