"""SSRF guard for subscriber target URLs: a static check at subscription time, and a
connect-time check so the address that is checked is the address that is dialled.

A subscriber's ``target_url`` is user input that makes this service send POSTs. Without a
guard it could point at ``127.0.0.1``, the cloud metadata service or a private network.

* :func:`validate_target_url` runs when a subscription is created. It refuses bad schemes,
  credentials in the URL, local host names and every literal form of a forbidden address
  (``2130706433``, ``0177.0.0.1``, ``[::ffff:7f00:1]``, NAT64, 6to4, and Unicode spellings
  such as ``127。0。0。1`` once mapped as browsers map them), and returns the URL with the host
  normalised to the ASCII form that will be dialled.
* :class:`GuardedBackend` runs on every new connection. It resolves the host itself,
  refuses if *any* resolved address is forbidden, and dials the IP literal it checked, so
  a DNS answer that changes between check and connect (rebinding) cannot slip through.
* :func:`guarded_transport` puts that backend under an ``httpx.HTTPTransport``.

The one error is :class:`TargetRefused`; it is not an ``httpx`` error, so a delivery worker
can tell "the guard refused" (permanent, show the message to the user) from an ordinary
``httpx.ConnectError`` (retry later).

``allow_private`` lets loopback and private targets through for local development and
tests only. Cloud metadata addresses and names are refused even then: nothing legitimate
listens there, and it keeps a mis-set flag in production from exposing credentials.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx
import idna

from connector.tls import verifying_context

__all__ = [
    "MAX_URL_LENGTH",
    "GuardedBackend",
    "Resolver",
    "TargetRefused",
    "guarded_transport",
    "is_forbidden_address",
    "validate_target_url",
]

MAX_URL_LENGTH = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]
"""``(host, port) -> IP address strings``, in the order to try them."""


class TargetRefused(Exception):
    """A target URL or the address it resolves to is not allowed; the message is for the user."""


# --- address classification -------------------------------------------------------------

_LOOPBACK = "a loopback address"
_PRIVATE = "a private address"
_LINK_LOCAL = "a link-local address"
_METADATA = "a cloud metadata address"
_MULTICAST = "a multicast address"
_DOCUMENTATION = "a documentation address"
_RESERVED = "a reserved address"
_SPECIAL = "a special-purpose address"

# Instance metadata services (AWS, GCP, Azure, OCI; ECS task and EKS pod identity; Alibaba).
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.170.2",
        "169.254.170.23",
        "100.100.100.200",
        "fd00:ec2::254",
        "fd00:ec2::23",
    )
)


def _nets4(*rows: tuple[str, str]) -> tuple[tuple[ipaddress.IPv4Network, str], ...]:
    return tuple((ipaddress.IPv4Network(net), what) for net, what in rows)


def _nets6(*rows: tuple[str, str]) -> tuple[tuple[ipaddress.IPv6Network, str], ...]:
    return tuple((ipaddress.IPv6Network(net), what) for net, what in rows)


# Explicit, so the policy does not drift with Python's ``is_global`` (which is also applied).
_V4_FORBIDDEN = _nets4(
    ("0.0.0.0/8", "an unspecified ('this network') address"),
    ("10.0.0.0/8", _PRIVATE),
    ("100.64.0.0/10", "a carrier-grade NAT address"),
    ("127.0.0.0/8", _LOOPBACK),
    ("169.254.0.0/16", _LINK_LOCAL),
    ("172.16.0.0/12", _PRIVATE),
    ("192.0.0.0/24", _SPECIAL),
    ("192.0.2.0/24", _DOCUMENTATION),
    ("192.88.99.0/24", _SPECIAL),
    ("192.168.0.0/16", _PRIVATE),
    ("198.18.0.0/15", "a benchmarking address"),
    ("198.51.100.0/24", _DOCUMENTATION),
    ("203.0.113.0/24", _DOCUMENTATION),
    ("224.0.0.0/4", _MULTICAST),
    ("255.255.255.255/32", "the broadcast address"),
    ("240.0.0.0/4", _RESERVED),
)

# Checked before looking for an embedded IPv4 address.
_V6_FORBIDDEN_FIRST = _nets6(
    ("::/128", "the unspecified address"),
    ("::1/128", _LOOPBACK),
    ("64:ff9b:1::/48", "a local-use NAT64 address"),
    ("2001::/32", "a Teredo tunnel address"),
)

_V6_FORBIDDEN = _nets6(
    ("fe80::/10", _LINK_LOCAL),
    ("fec0::/10", "a site-local address"),
    ("fc00::/7", "a unique-local (private) address"),
    ("ff00::/8", _MULTICAST),
    ("100::/64", "a discard-only address"),
    ("2001::/23", _SPECIAL),
    ("2001:db8::/32", _DOCUMENTATION),
    ("3fff::/20", _DOCUMENTATION),
    ("5f00::/16", _SPECIAL),
)

_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_V4_MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")
_V4_COMPATIBLE = ipaddress.IPv6Network("::/96")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries, which is where the packets really go."""
    if ip in _V4_MAPPED:
        return ip.ipv4_mapped
    if ip in _V4_COMPATIBLE or ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip in _SIX_TO_FOUR:
        return ip.sixtofour
    return None


def _forbidden_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be dialled (``"a private address"``), or None if it is public."""
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(int(ip))  # drop any %scope: it would break equality
    if ip in _METADATA_ADDRESSES:
        return _METADATA
    if isinstance(ip, ipaddress.IPv4Address):
        for net4, what in _V4_FORBIDDEN:
            if ip in net4:
                return what
        return None if ip.is_global else _SPECIAL
    for net6, what in _V6_FORBIDDEN_FIRST:
        if ip in net6:
            return what
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        inner = _forbidden_reason(embedded)
        return None if inner is None else f"{inner} (embedded IPv4 {embedded})"
    for net6, what in _V6_FORBIDDEN:
        if ip in net6:
            return what
    if ip not in _V6_GLOBAL_UNICAST:
        return _RESERVED
    return None if ip.is_global else _SPECIAL


def is_forbidden_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True unless ``ip`` is a public unicast address; IPv6 forms embedding IPv4 are judged
    by the IPv4 address they carry (mapped, compatible, NAT64 ``64:ff9b::/96``, 6to4)."""
    return _forbidden_reason(ip) is not None


def _always_refused(ip: IPAddress) -> bool:
    """Metadata addresses stay refused even with ``allow_private``."""
    if isinstance(ip, ipaddress.IPv6Address):
        ip = ipaddress.IPv6Address(int(ip))
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return embedded in _METADATA_ADDRESSES
    return ip in _METADATA_ADDRESSES


def _check_address(ip: IPAddress, *, allow_private: bool) -> str | None:
    """The reason to refuse ``ip`` under this policy, or None."""
    reason = _forbidden_reason(ip)
    if reason is None:
        return None
    if allow_private and not _always_refused(ip):
        return None
    return reason


# --- static URL check -------------------------------------------------------------------

_BAD_CHARS = re.compile(r"[\x00-\x20\x7f\\]")
_NUM_LABEL = r"(?:0x[0-9a-f]*|[0-9]+)"
_NUMERIC_HOST = re.compile(rf"{_NUM_LABEL}(?:\.{_NUM_LABEL}){{0,3}}")
_NUMERIC_LABEL = re.compile(_NUM_LABEL)
_HOST_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")
_DEFAULT_PORTS = {"http": 80, "https": 443}

# Names that never point anywhere public. The metadata names stay refused with allow_private.
_METADATA_NAMES = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "instance-data",
        "instance-data.ec2.internal",
    }
)
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".arpa")


def _parse_numeric_ipv4(host: str) -> ipaddress.IPv4Address:
    """Parse every form ``inet_aton`` (and so ``getaddrinfo``) accepts: ``127.1``, octal, hex,
    a single 32-bit number. Only strict matches reach ``inet_aton``, which would otherwise
    accept trailing junk after a space."""
    if not _NUMERIC_HOST.fullmatch(host):
        raise TargetRefused(f"target host {host!r} is not a valid IP address")
    try:
        packed = socket.inet_aton(host)
    except OSError:
        raise TargetRefused(f"target host {host!r} is not a valid IP address") from None
    return ipaddress.IPv4Address(packed)


def _mapped_host(host: str) -> str:
    """A non-ASCII host as browsers, resolvers and httpx dial it: UTS #46 mapping, then IDNA.

    The mapping turns the other full stops (U+3002, U+FF0E, U+FF61) into dots and full-width
    letters and digits into ASCII, so ``127。0。0。1`` (and the same in full-width digits) is
    checked as the address ``127.0.0.1`` it reaches, not as a name.
    """
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError, ValueError):
        raise TargetRefused(f"target host {host!r} is not a valid host name") from None


def _ascii_hostname(host: str) -> str:
    """Check the DNS syntax of an ASCII host name."""
    labels = host.split(".")
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise TargetRefused(f"target host {host!r} is not a valid host name")
    return host


def _check_hostname(host: str, *, allow_private: bool) -> None:
    if host in _METADATA_NAMES:
        raise TargetRefused(
            f"target host {host!r} is a cloud metadata service, which is not allowed"
        )
    if allow_private:
        return
    if host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES):
        raise TargetRefused(f"target host {host!r} is a local name, which is not allowed")
    if "." not in host:
        raise TargetRefused(f"target host {host!r} is not a public domain name")


def _refuse_ip(ip: IPAddress, *, allow_private: bool) -> None:
    reason = _check_address(ip, allow_private=allow_private)
    if reason is not None:
        raise TargetRefused(f"target address {ip} is {reason}, which is not allowed")


def validate_target_url(url: str, *, allow_private: bool) -> str:
    """Check a subscriber URL when the subscription is created and return it normalised.

    Refuses: non-http(s) schemes; plain http unless ``allow_private``; user:password@;
    a missing host; more than 2048 characters; local names (``localhost``, ``*.local`` ...);
    and literal addresses that :func:`is_forbidden_address` rejects, in every spelling a
    resolver accepts. The normalised URL has a lower-case scheme and host, a canonical IP
    literal (``http://0x7f.1`` -> ``http://127.0.0.1/``), no default port and no fragment.
    This is not enough on its own: names are checked again at connect time.
    """
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"target URL is longer than {MAX_URL_LENGTH} characters")
    if _BAD_CHARS.search(url):
        raise TargetRefused("target URL contains spaces, control characters or backslashes")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise TargetRefused(f"target URL is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS:
        raise TargetRefused("target URL must start with https://")
    if "@" in parts.netloc:
        raise TargetRefused("target URL must not contain a user name or password")
    host = parts.hostname or ""
    if not host:
        raise TargetRefused("target URL has no host")
    if port == 0:
        raise TargetRefused("target URL has an invalid port (0)")

    if parts.netloc.startswith("["):
        try:
            ip6 = ipaddress.IPv6Address(host)  # a %zone is refused here: no '%' allowed
        except ValueError:
            raise TargetRefused(f"target host [{host}] is not a valid IPv6 address") from None
        if ip6.scope_id is not None:
            raise TargetRefused(f"target host [{host}] is not a valid IPv6 address")
        _refuse_ip(ip6, allow_private=allow_private)
        netloc_host, raw_host = f"[{ip6.compressed}]", ip6.compressed
    else:
        host = _mapped_host(host).removesuffix(".")
        if _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
            ip4 = _parse_numeric_ipv4(host)
            _refuse_ip(ip4, allow_private=allow_private)
            netloc_host = raw_host = str(ip4)
        else:
            netloc_host = raw_host = _ascii_hostname(host)
            _check_hostname(raw_host, allow_private=allow_private)

    if scheme == "http" and not allow_private:
        raise TargetRefused("target URL must use https:// (plain http:// is not allowed)")

    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc_host = f"{netloc_host}:{port}"
    normalised = urlunsplit((scheme, netloc_host, parts.path or "/", parts.query, ""))
    if len(normalised) > MAX_URL_LENGTH:
        raise TargetRefused(f"target URL is longer than {MAX_URL_LENGTH} characters")

    # httpx is the parser that will send the request: it must see the same host and port.
    try:
        seen = httpx.URL(normalised)
    except httpx.InvalidURL as exc:
        raise TargetRefused(f"target URL is not a valid URL ({exc})") from None
    expected_port = None if port == _DEFAULT_PORTS[scheme] else port
    if (seen.raw_host.decode("ascii"), seen.port, seen.userinfo) != (raw_host, expected_port, b""):
        raise TargetRefused("target URL is ambiguous and cannot be used")
    return normalised


# --- connect-time guard -----------------------------------------------------------------


def _system_resolver(host: str, port: int) -> list[str]:
    """Resolve like ``socket.create_connection`` does, keeping the system's preferred order."""
    found: list[str] = []
    for family, _, _, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        if family in (socket.AF_INET, socket.AF_INET6) and str(sockaddr[0]) not in found:
            found.append(str(sockaddr[0]))
    return found


class GuardedBackend(httpcore.NetworkBackend):
    """An httpcore backend that resolves, checks every address, then dials an IP literal.

    Resolution and connection happen here rather than in ``socket.create_connection``, so
    no second DNS lookup can return a different answer. Refusals raise
    :class:`TargetRefused` before any socket is opened; resolution and connect failures
    raise ``httpcore.ConnectError`` / ``ConnectTimeout`` as the default backend does
    (``httpx.ConnectError`` / ``ConnectTimeout`` to the caller).
    """

    def __init__(self, *, allow_private: bool, resolver: Resolver | None = None) -> None:
        self._allow_private = allow_private
        self._resolve = resolver or _system_resolver
        self._inner = httpcore.SyncBackend()

    def _checked_addresses(self, host: str, port: int) -> list[str]:
        try:
            answers = self._resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"could not resolve {host}: {exc}") from exc
        if not answers:
            raise httpcore.ConnectError(f"could not resolve {host}: no addresses")
        for answer in answers:
            try:
                ip = ipaddress.ip_address(answer)
            except ValueError:
                raise TargetRefused(f"target {host} resolves to an invalid address") from None
            reason = _check_address(ip, allow_private=self._allow_private)
            if reason is not None:
                if answer == host:
                    raise TargetRefused(f"target address {ip} is {reason}, which is not allowed")
                raise TargetRefused(
                    f"target {host} resolves to {reason} ({ip}), which is not allowed"
                )
        return answers

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Dial the checked addresses in order within one overall ``timeout``."""
        addresses = self._checked_addresses(host, port)
        deadline = None if timeout is None else time.monotonic() + timeout
        options = list(socket_options or [])
        failures: list[httpcore.ConnectError | httpcore.ConnectTimeout] = []
        for address in addresses:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise httpcore.ConnectTimeout(f"timed out connecting to {host}")
            try:
                return self._inner.connect_tcp(address, port, remaining, local_address, options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failures.append(exc)
        raise failures[-1]  # addresses is never empty

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Unix sockets reach local services only: always refused."""
        raise TargetRefused("target is a local socket, which is not allowed")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


_DEFAULT_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)  # httpx's


def guarded_transport(
    *,
    allow_private: bool,
    resolver: Resolver | None = None,
    verify: ssl.SSLContext | bool = True,
    http1: bool = True,
    http2: bool = False,
    limits: httpx.Limits | None = None,
    local_address: str | None = None,
    retries: int = 0,
    socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
) -> httpx.HTTPTransport:
    """An ``httpx.HTTPTransport`` whose every new connection goes through :class:`GuardedBackend`.

    ``HTTPTransport`` has no ``network_backend`` argument, so this builds the transport and
    then replaces its ``_pool`` with the ``httpcore.ConnectionPool`` it would have built
    (same SSL context, limits and options, as in httpx 0.28's no-proxy branch) plus
    ``network_backend``. ``proxy`` and ``uds`` are not offered: both would bypass the guard.

    TLS is unaffected: httpcore calls ``start_tls(server_hostname=<URL host>)`` after
    ``connect_tcp``, so SNI and certificate checks use the host name, not the dialled IP.

    Use it as ``httpx.Client(transport=..., follow_redirects=False, trust_env=False)``:
    redirects must not be followed (the next hop was never validated), and ``trust_env``
    would let ``.netrc`` add credentials (a client with a ``transport`` already ignores
    proxy variables).
    """
    limits = limits or _DEFAULT_LIMITS
    verifying = verify is True and not http2  # httpcore sets ALPN on it per connection
    ssl_context = verifying_context() if verifying else httpx.create_ssl_context(verify=verify)
    transport = httpx.HTTPTransport(
        verify=ssl_context, http1=http1, http2=http2, limits=limits, retries=retries
    )
    transport._pool = httpcore.ConnectionPool(
        ssl_context=ssl_context,
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        http1=http1,
        http2=http2,
        local_address=local_address,
        retries=retries,
        socket_options=socket_options,
        network_backend=GuardedBackend(allow_private=allow_private, resolver=resolver),
    )
    return transport
