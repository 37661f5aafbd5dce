"""The client's address behind a trusted reverse proxy (``CAPTUREHUB_TRUSTED_PROXIES``).

A request that comes from a trusted proxy carries the client's address in
``X-Forwarded-For`` (each proxy appends the address it received the request from). Read from
the right, the first address that is not a trusted proxy is the client; it replaces the
request's ``client`` for everything downstream: the login throttle, and the local data
access that is offered to loopback clients only. The header of anyone else is ignored, as
anybody can write one. ``X-Forwarded-Proto`` from a trusted proxy sets the request's scheme.

This is done here, in the app, rather than by uvicorn's own proxy-header handling (which
``capturehub serve`` turns off): uvicorn would trust whoever its ``FORWARDED_ALLOW_IPS``
variable says, which may differ from the setting this server documents.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(text: str) -> list[Network]:
    """``"127.0.0.1, ::1, 10.0.0.0/8"`` as networks; ValueError naming a bad entry."""
    networks: list[Network] = []
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or network (such as 10.0.0.0/8)"
            ) from None
    return networks


def is_among(host: str, networks: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(host.strip().strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def forwarded_client(forwarded_for: str, trusted: Sequence[Network]) -> str | None:
    """The client named by an ``X-Forwarded-For`` value that reached us through ``trusted``."""
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_among(hop, trusted):
            return hop
    return hops[0] if hops else None


class TrustedProxies:
    """ASGI middleware: the client address (and scheme) a trusted proxy forwarded."""

    def __init__(self, app: ASGIApp, *, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = list(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        if (
            scope["type"] == "http"
            and self.trusted
            and client
            and is_among(client[0], self.trusted)
        ):
            headers = dict(self._headers(scope))
            forwarded_for = headers.get("x-forwarded-for")
            if forwarded_for:
                host = forwarded_client(forwarded_for, self.trusted)
                if host:
                    scope = {**scope, "client": (host, 0)}
            proto = headers.get("x-forwarded-proto", "").strip().lower()
            if proto in ("http", "https"):
                scope = {**scope, "scheme": proto}
        await self.app(scope, receive, send)

    @staticmethod
    def _headers(scope: Scope) -> list[tuple[str, str]]:
        joined: dict[str, str] = {}
        for raw_name, raw_value in scope.get("headers", []):
            name = raw_name.decode("latin-1").lower()
            if name in ("x-forwarded-for", "x-forwarded-proto"):
                value = raw_value.decode("latin-1")
                # Several X-Forwarded-For headers read as one comma-separated list.
                joined[name] = f"{joined[name]},{value}" if name in joined else value
        return list(joined.items())
