"""Where a feed may be fetched from: http(s) only, on public addresses only (unless
MAILER_FEED_ALLOW_PRIVATE), within one deadline for the whole fetch.

The address is checked where the connection is made, not where the URL is read: every connection
httpx opens, the first and each redirect's, goes through `GuardedBackend`, which resolves the name
itself, refuses it if any address it resolves to is private, loopback, link-local or otherwise not
public, and connects to the very address it checked (a name that resolves elsewhere a moment later
gains nothing). Each read and write gets at most what is left of the deadline, so a server dripping
a byte at a time cannot hold ingest past it.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from urllib.parse import urlsplit

import httpcore

from mailer.articles.urls import WEB_SCHEMES


class Refused(Exception):
    """A feed URL or address this server will not fetch from; the message says why."""


# IPv6 addresses that carry an IPv4 one in their last 32 bits and reach it: NAT64's well-known prefix
# (64:ff9b::10.0.0.5 is 10.0.0.5 through the gateway) and the deprecated IPv4-compatible ::a.b.c.d.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# NAT64's local-use prefix (RFC 8215): translated by a gateway of the site's own, never public.
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for, if it is one of the forms that lead to it."""
    if ip.ipv4_mapped:  # ::ffff:127.0.0.1
        return ip.ipv4_mapped
    if ip.sixtofour:  # 2002:7f00:1::, 6to4 to 127.0.0.1
        return ip.sixtofour
    if ip in _NAT64 or (ip in _IPV4_COMPATIBLE and int(ip) > 1):  # :: and ::1 stay themselves
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(
        address.split("%", 1)[0]
    )  # an IPv6 scope (fe80::1%eth0) is link-local anyway
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False
        embedded = _embedded_ipv4(ip)
        if embedded is not None:  # judged by the IPv4 address it leads to
            return embedded.is_global and not embedded.is_multicast
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allow_private: bool) -> None:
    """What can be told from the URL alone: its scheme, and a host that is a private address or localhost."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError as exc:
        raise Refused(f"not a URL: {url}") from exc
    if parts.scheme.lower() not in WEB_SCHEMES or not host:
        raise Refused(f"a feed URL must start with http:// or https://, not {url!r}")
    if allow_private:
        return
    if host == "localhost" or host.endswith(".localhost"):
        raise Refused(
            f"{host} is this machine: set MAILER_FEED_ALLOW_PRIVATE=true to fetch feeds from it"
        )
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: checked once resolved, when connecting
    if not is_public(str(literal)):
        raise Refused(
            f"{host} is a private address: set MAILER_FEED_ALLOW_PRIVATE=true to fetch feeds from it"
        )


def _left(deadline: float, timeout: float | None, error: type[Exception]) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the fetch's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every wait ends at the fetch's deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float) -> None:
        self._inner, self._deadline = inner, deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(self._deadline, timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(self._deadline, timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # server_hostname is the URL's host: the certificate is checked against the name, not the address
        tls = self._inner.start_tls(
            ssl_context, server_hostname, _left(self._deadline, timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str):
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    def __init__(self, allow_private: bool, deadline: float) -> None:
        self.allow_private = allow_private
        self.deadline = deadline

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options=None,
    ) -> httpcore.NetworkStream:
        timeout = _left(self.deadline, timeout, httpcore.ConnectTimeout)
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        # the host of an AF_INET or AF_INET6 sockaddr is a str (typeshed's union also allows int)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self.allow_private:
            private = [a for a in addresses if not is_public(a)]
            if private:  # all or nothing: a name with one private address is refused outright
                raise Refused(
                    f"{host} resolves to a private address ({', '.join(private)}): "
                    "set MAILER_FEED_ALLOW_PRIVATE=true to fetch feeds from it"
                )
        error: Exception | None = None
        for address in addresses:  # the addresses checked above, not a second lookup of the name
            try:
                inner = super().connect_tcp(address, port, timeout, local_address, socket_options)
                return _DeadlineStream(inner, self.deadline)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error or httpcore.ConnectError(f"{host} has no address")
