"""The one HTTP client connectors use: it talks only to the hosts an admin configured,
follows no redirect, never reaches link-local or cloud-metadata addresses, and times out.

Private and loopback addresses stay allowed on purpose: a self-hosted portal often talks to
a Jira Data Center or a CRM on the same network. What is refused is what no admin setting
should reach: link-local (169.254.0.0/16, fe80::/10, where cloud metadata services live),
the unspecified and multicast addresses.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import httpx

from portal.integrations.connector import PermanentFailure

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=5.0)
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})


class RefusedDestination(PermanentFailure):
    """The request would have gone somewhere the connector may not go."""


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return (
        address.is_link_local
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or str(address) == "fd00:ec2::254"
    )


def check_destination(host: str) -> None:
    """Refuse a host that is, or resolves to, a forbidden address."""
    host = host.strip("[]").lower()
    if host in METADATA_HOSTS:
        raise RefusedDestination(f"{host} is a metadata address; connectors may not call it")
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return  # httpx will fail to connect and say so, as a passing failure
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if _forbidden(address):
            raise RefusedDestination(
                f"{host} resolves to {address}, a link-local or reserved address; "
                "connectors may not call it"
            )


def client_for(
    allowed_hosts: Iterable[str], timeout: httpx.Timeout = DEFAULT_TIMEOUT
) -> httpx.Client:
    """An ``httpx.Client`` that refuses any host but ``allowed_hosts`` (host or host:port)."""
    allowed = {h.lower() for h in allowed_hosts if h}

    def guard(request: httpx.Request) -> None:
        host = request.url.host.lower()
        with_port = f"{host}:{request.url.port}" if request.url.port else host
        if host not in allowed and with_port not in allowed:
            raise RefusedDestination(f"{host} is not a configured host for this connector")
        check_destination(host)

    return httpx.Client(
        follow_redirects=False,
        timeout=timeout,
        event_hooks={"request": [guard]},
        headers={"User-Agent": "change-portal"},
        trust_env=False,
    )


def send(
    http: httpx.Client, method: str, url: str, vendor: str, *, check: bool = True, **kwargs
) -> httpx.Response:
    """One call to a vendor: a timeout or a connection that fails is a passing failure
    (``RetryLater``); with ``check`` an error answer becomes ``raise_for_vendor``'s failure."""
    from portal.integrations.connector import RetryLater, raise_for_vendor

    try:
        response = http.request(method, url, **kwargs)
    except httpx.TimeoutException as error:
        raise RetryLater(f"{vendor} did not answer in time ({type(error).__name__})") from None
    except httpx.TransportError as error:
        raise RetryLater(f"{vendor} could not be reached: {error}") from None
    if check:
        raise_for_vendor(response, vendor)
    return response
