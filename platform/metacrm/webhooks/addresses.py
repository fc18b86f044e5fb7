"""The SSRF guard: a webhook may only reach public addresses on the internet.

A webhook URL is chosen by a user but fetched by the server, from inside its network; left
unchecked it would let anyone with an account make the server talk to its database, its
Redis, a cloud metadata service or an intranet page (server-side request forgery). So a
target is refused when

* its scheme is not `http` or `https`, it carries credentials (`user:password@`), or it has
  no host;
* its host is a cloud metadata name (`metadata.google.internal`, ...) — always, even when
  private targets are allowed;
* ANY address its host resolves to (`getaddrinfo`, so `2130706433`, `0x7f.1`,
  `017700000001` and `127.1` are read exactly as the socket layer reads them) is loopback,
  private, link-local, shared (CGNAT, 100.64/10), multicast, reserved, unspecified or
  otherwise not globally routable — IPv6 addresses that embed an IPv4 address
  (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) are judged by the embedded one too —
  or is a cloud metadata address (169.254.169.254, fd00:ec2::254; always).

The check runs when a subscription is saved AND before every delivery (DNS may have changed
since), and the request is then sent to the very address that was checked (`Target.address`),
so a name that resolves differently a moment later (DNS rebinding) cannot slip through.
`Settings.webhook_allow_private` lifts the address rules (tests, closed networks) but never
the metadata ones.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]
"""host, port -> the addresses the host resolves to (text form)."""

MAX_URL_LENGTH = 2048
SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}

METADATA_HOSTS = frozenset({
    "metadata.google.internal", "metadata.goog", "metadata", "instance-data",
    "instance-data.ec2.internal",
})
METADATA_ADDRESSES = frozenset({
    ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack...
    ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
    ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
    ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
})
SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeTarget(ValueError):
    """The URL may not be fetched; the message says why, for the user."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL and the address the request must go to."""

    url: str
    scheme: str
    host: str
    port: int
    address: str


def resolve(host: str, port: int) -> list[str]:
    """Every address `getaddrinfo` gives for `host` (TCP), in its order, without repeats."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeTarget(f"the host {host!r} cannot be resolved: {exc}") from None
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in found:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id
        if text not in addresses:
            addresses.append(text)
    return addresses


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo)."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(ip: IPAddress, *, allow_private: bool = False) -> str | None:
    """Why `ip` may not be a webhook target (None: it may)."""
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    inner = embedded_ipv4(ip)
    if inner is not None:
        reason = address_refusal(inner, allow_private=allow_private)
        if reason is not None:
            return f"{reason} (embedded in {ip})"
    if allow_private:
        return None
    checks: tuple[tuple[bool, str], ...] = (
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in SHARED_SPACE,
         "a shared (carrier-grade NAT) address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "a site-local address"),
        (not ip.is_global, "not a public internet address"),
    )
    return next((reason for refused, reason in checks if refused), None)


@dataclass(frozen=True)
class AddressGuard:
    """Checks webhook URLs; `allow_private` lifts the address rules (not the metadata ones).

    `exceptions`: networks allowed even when private targets are not (a test receiver on one
    loopback address; an operator's known internal endpoint)."""

    allow_private: bool = False
    exceptions: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    resolver: Resolver = resolve

    def check_syntax(self, url: str) -> SplitResult:
        """The URL's parts when its form is acceptable (no resolution); UnsafeTarget else."""
        if not isinstance(url, str) or not url.strip():
            raise UnsafeTarget("must be an http or https URL")
        if len(url) > MAX_URL_LENGTH:
            raise UnsafeTarget(f"must be at most {MAX_URL_LENGTH} characters")
        if any(ord(char) < 33 or ord(char) == 127 for char in url):
            raise UnsafeTarget("must not contain spaces or control characters")
        try:
            parts = urlsplit(url)
            parts.port  # noqa: B018 - raises ValueError for a bad port
            httpx.URL(url)  # what the sender will parse
        except (ValueError, httpx.InvalidURL) as exc:
            raise UnsafeTarget(f"is not a valid URL: {exc}") from None
        if parts.scheme.lower() not in SCHEMES:
            raise UnsafeTarget("must be an http or https URL")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise UnsafeTarget("must not carry credentials (user:password@); "
                               "verify the signature instead")
        if not parts.hostname:
            raise UnsafeTarget("must name a host")
        if parts.fragment:
            raise UnsafeTarget("must not have a #fragment")
        if self._metadata_host(parts.hostname):
            raise UnsafeTarget(f"{parts.hostname!r} is a cloud metadata service")
        return parts

    def check_static(self, url: str) -> None:
        """What can be checked without DNS: the form, and the host when it is an address
        (metadata documents are checked this way; the full check runs at every call)."""
        parts = self.check_syntax(url)
        literal = _literal(str(parts.hostname))
        if literal is not None:
            reason = self.refusal(literal)
            if reason is not None:
                raise UnsafeTarget(f"{literal} is {reason}; webhooks may only call public "
                                   "internet addresses")

    def check(self, url: str) -> Target:
        """The checked target of `url`: its form, and every address its host resolves to."""
        parts = self.check_syntax(url)
        host = str(parts.hostname)
        scheme = parts.scheme.lower()
        port = parts.port or DEFAULT_PORTS[scheme]
        addresses = self._addresses(host, port)
        if not addresses:
            raise UnsafeTarget(f"the host {host!r} resolves to no address")
        for text in addresses:
            reason = self.refusal(ipaddress.ip_address(text))
            if reason is not None:
                shown = host if host == text else f"{host!r} resolves to {text}, which"
                raise UnsafeTarget(f"{shown} is {reason}; webhooks may only call public "
                                   "internet addresses")
        return Target(url=url, scheme=scheme, host=host, port=port, address=addresses[0])

    def refusal(self, ip: IPAddress) -> str | None:
        reason = address_refusal(ip, allow_private=self.allow_private)
        if reason is None or ip in METADATA_ADDRESSES:
            return reason
        if any(ip.version == net.version and ip in net for net in self.exceptions):
            inner = embedded_ipv4(ip)
            if inner is None or inner not in METADATA_ADDRESSES:
                return None
        return reason

    def _addresses(self, host: str, port: int) -> list[str]:
        literal = _literal(host)
        if literal is not None:
            return [str(literal)]
        return [str(ipaddress.ip_address(text)) for text in self.resolver(host, port)]

    @staticmethod
    def _metadata_host(host: str) -> bool:
        name = host.lower().rstrip(".")
        return name in METADATA_HOSTS


def _literal(host: str) -> IPAddress | None:
    """The address `host` spells, also in the forms the socket layer accepts for IPv4
    (`2130706433`, `0x7f.1`, `017700000001`, `127.1`); None for a name."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, UnicodeError, ValueError):
        return None
