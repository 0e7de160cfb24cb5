"""Where a delivery may connect: never into the server's own network, unless allowed.

An endpoint's host is resolved once per attempt, the address is checked, and
that very address is the one connected to (the host name still goes in `Host`
and, over TLS, in SNI and the certificate check), so a name that resolves to a
public address when checked and to 127.0.0.1 when connected cannot smuggle a
request inside. Loopback, private, link-local, multicast, reserved and
unspecified addresses are refused unless `webhooks.allow_private_urls`.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipeline.errors import InvalidInput


@dataclass(frozen=True)
class Target:
    """An endpoint URL pinned to the address it resolved to."""

    url: str  # the URL with the address in place of the host name
    host: str  # the host name, for Host and SNI
    address: str


def check_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; INVALID_REQUEST otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise InvalidInput(f"An endpoint URL is http:// or https:// with a host, not {url!r}")
    if parts.username or parts.password:
        raise InvalidInput("An endpoint URL carries no user name or password")
    return parts.scheme, parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def pin(url: str, allow_private: bool) -> Target:
    """`url` resolved now, checked, and pinned to its address; INVALID_REQUEST for a URL
    that cannot be resolved or that points into a private network."""
    _, host, port = check_url(url)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise InvalidInput(f"The endpoint's host {host!r} does not resolve: {exc}") from None
    address = str(found[0][4][0])
    if not allow_private and _forbidden(address):
        raise InvalidInput(
            f"The endpoint's host {host!r} is a private, loopback or link-local address "
            f"({address}); set PERSONA_WEBHOOKS_ALLOW_PRIVATE_URLS=true to allow it"
        )
    parts = urlsplit(url)
    shown = f"[{address}]" if ":" in address else address
    pinned = parts._replace(netloc=f"{shown}:{port}").geturl()
    return Target(pinned, host, address)
