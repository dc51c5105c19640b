"""Who is at the console: no anonymous votes.

Three ways in, checked in this order (docs/configuration.md, "Web console"):

1. **Behind an authenticating proxy**: with ``APPROVAL_BOT_CONSOLE_TRUSTED_HEADER`` (e.g.
   ``X-Forwarded-Email``), a request whose peer address is in
   ``APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES`` is the person with that email. The header is
   ignored from any other address, and with it configured, a request that did not come through
   the proxy may not read either (unless it is the local person below).
2. **On this machine**: with ``APPROVAL_BOT_CONSOLE_LOCAL_EMAIL``, a request from a loopback
   address, to a loopback host name, that carries no proxy header at all (``Via``,
   ``X-Forwarded-Proto`` alone is enough to refuse), is that configured person.
   The host check keeps a web page that rebinds its DNS name to 127.0.0.1 out.
3. Anyone else reads (when no proxy is configured) and cannot vote; the page says why and
   how to turn voting on.

Only the peer address of the TCP connection counts (never ``X-Forwarded-For``), so a client
cannot claim to be a proxy or local.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from bot.adapters.console import SPEC
from bot.service.identity import Identity

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Headers a proxy adds (the standard ones, RFC 7239 and RFC 9110's Via, and the common de
# facto ones of nginx, Envoy, CDNs and load balancers): a request carrying any one of them
# was relayed, so it is not "from this machine" even when the relay runs on it.
FORWARDING_HEADERS = frozenset(
    {
        "forwarded",
        "via",
        "x-real-ip",
        "x-client-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
        "x-cluster-client-ip",
        "x-proxyuser-ip",
        "client-ip",
    }
)
FORWARDING_PREFIXES = ("x-forwarded-", "x-original-", "x-envoy-")


def forwarded_by(headers: Mapping[str, str], extra: str | None = None) -> list[str]:
    """The proxy headers ``headers`` (lower-case names) carry, ``extra`` (a configured
    identity header) counting as one."""
    return sorted(
        h
        for h in headers
        if h in FORWARDING_HEADERS or h.startswith(FORWARDING_PREFIXES) or (extra and h == extra)
    )


LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
DOCS = "docs/configuration.md, Web console"


class Via(StrEnum):
    PROXY = "proxy"  # the trusted header, from a trusted proxy
    LOCAL = "local"  # the configured local person, on loopback
    NONE = "none"  # read-only


@dataclass(frozen=True, slots=True)
class Visitor:
    """What the console knows about one HTTP request's sender."""

    via: Via
    email: str | None = None
    why_no_vote: str | None = None  # shown on the page when voting is off
    refused: str | None = None  # reading is refused too (403), with this message

    @property
    def identity(self) -> Identity | None:
        return Identity(SPEC.name, self.email) if self.email else None


def _host_name(host_header: str | None) -> str:
    host = (host_header or "").strip().lower()
    if host.startswith("["):  # [::1]:8080
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _address(peer: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(peer or "")
    except ValueError:
        return None


class Gatekeeper:
    """Decides the ``Visitor`` of a request from its peer address and headers."""

    def __init__(
        self,
        *,
        local_email: str | None,
        trusted_header: str | None,
        trusted_proxies: Sequence[Network],
    ) -> None:
        self.local_email = (local_email or "").strip().lower() or None
        self.header = (trusted_header or "").strip().lower() or None
        self.proxies = tuple(trusted_proxies)

    def _trusted(self, peer: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
        return peer is not None and any(peer in net for net in self.proxies)

    def visitor(self, peer: str | None, headers: Mapping[str, str]) -> Visitor:
        """``headers`` with lower-case names (Starlette's ``Headers`` are)."""
        address = _address(peer)
        if self.header is not None and self._trusted(address):
            email = (headers.get(self.header) or "").strip().lower()
            if email:
                return Visitor(Via.PROXY, email)
            return Visitor(
                Via.NONE,
                refused=f"the proxy at {peer} did not send {self.header}: "
                f"it must pass the signed-in person's email ({DOCS})",
            )
        forwarded = forwarded_by(headers, self.header)
        local = address is not None and address.is_loopback
        loopback_host = _host_name(headers.get("host")) in LOOPBACK_HOSTS
        if self.local_email and local and not forwarded and loopback_host:
            return Visitor(Via.LOCAL, self.local_email)
        if self.header is not None:
            return Visitor(
                Via.NONE,
                refused=(
                    f"this console signs people in through an authenticating proxy "
                    f"({self.header}); this request came from {peer or 'an unknown address'}, "
                    f"which is not in APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES: open the console "
                    f"through the proxy ({DOCS})"
                ),
            )
        return Visitor(Via.NONE, why_no_vote=self._why_not(local, forwarded))

    def _why_not(self, local: bool, forwarded: list[str]) -> str:
        if local and forwarded:
            return (
                f"this request was forwarded ({forwarded[0]}), so it is not the local person's: "
                "to vote through a proxy, set APPROVAL_BOT_CONSOLE_TRUSTED_HEADER and "
                f"APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES ({DOCS})"
            )
        if local and self.local_email:
            return (
                "open the console as http://127.0.0.1 or http://localhost to vote as the "
                f"local person ({DOCS})"
            )
        if local:
            return (
                "set APPROVAL_BOT_CONSOLE_LOCAL_EMAIL to the email of a configured approver "
                "to vote from this machine (`make run` does), or put the console behind an "
                f"authenticating proxy ({DOCS})"
            )
        return (
            "votes from other machines need an authenticating proxy: set "
            "APPROVAL_BOT_CONSOLE_TRUSTED_HEADER (e.g. X-Forwarded-Email) and "
            f"APPROVAL_BOT_CONSOLE_TRUSTED_PROXIES ({DOCS})"
        )
