"""Which hosts the server's MCP connections may reach: public addresses only, unless the config allows more; the
check is made on the resolved address of every connection (redirects included), and the connection goes there."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import anyio
import httpcore2
import httpx2


class HostPolicy:
    """Which hosts an MCP connection may reach: any whose addresses are all public; one with a private, loopback,
    link-local (cloud metadata services), shared, multicast, reserved or unspecified address (IPv4, or IPv6 with
    IPv4 inside) only with ``allow_private``, or when it is one of ``allowed_hosts`` (names or address literals)."""

    def __init__(self, allow_private: bool = False, allowed_hosts: Iterable[str] = ()) -> None:
        self.allow_private = allow_private
        self.allowed_hosts = frozenset(host.lower().strip("[]") for host in allowed_hosts)

    def trusts(self, host: str) -> bool:
        return self.allow_private or host.lower().strip("[]") in self.allowed_hosts

    async def addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to for ``host``, each one checked; ``httpcore2.ConnectError`` when any is not
        permitted (or the name does not resolve)."""
        if self.trusts(host):
            return [host]
        try:
            found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore2.ConnectError(f"{host} does not resolve: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        for address in addresses:
            if not is_public(address):
                raise httpcore2.ConnectError(
                    f"{host} is at {address}, not a public address ([mcp] allow_private and allowed_hosts permit it)"
                )
        return addresses


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def is_public(address: str) -> bool:
    """Whether an IP address is globally reachable unicast; an IPv6 one that carries an IPv4 address (mapped, 6to4,
    NAT64) is judged by that."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ip.ipv4_mapped or ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else ip)
    return ip.is_global and not ip.is_multicast and not ip.is_reserved


class _CheckedNetwork(httpcore2.AsyncNetworkBackend):
    """TCP connections to permitted addresses only: the host is resolved here, each address checked, and the
    connection made to a checked address, so DNS cannot give the check one address and the connection another.
    Every connection is checked, those a redirect opens included."""

    def __init__(self, hosts: HostPolicy) -> None:
        self.hosts = hosts
        self._tcp = httpcore2.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore2.AsyncNetworkStream:
        failure: httpcore2.ConnectError | None = None
        for address in await self.hosts.addresses(host, port):
            try:
                return await self._tcp.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore2.ConnectError as exc:
                failure = exc
        raise failure or httpcore2.ConnectError(f"{host} has no address")

    async def sleep(self, seconds: float) -> None:
        await self._tcp.sleep(seconds)


class CheckedTransport(httpx2.AsyncHTTPTransport):
    """httpx2's transport over ``_CheckedNetwork`` (it takes no network backend, so its pool is made again)."""

    def __init__(self, hosts: HostPolicy) -> None:
        tls = httpx2.create_ssl_context()
        super().__init__(verify=tls)
        self._pool = httpcore2.AsyncConnectionPool(ssl_context=tls, network_backend=_CheckedNetwork(hosts))
