"""Where mail for a domain goes next: a configured route, the smarthost, or the domain's MX hosts.

DNS (RFC 5321 §5.1): MX records in order of preference, hosts of equal preference in random order;
no MX at all means the domain's own address records ("implicit MX"); a single MX "." is a null MX
(RFC 7505): the domain takes no mail, which is a permanent failure, as is a domain that does not
exist. Any other DNS trouble (time-outs, SERVFAIL) is temporary. dnspython does the resolving.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import dns.asyncresolver
import dns.exception
import dns.resolver

from postoffice.config import Relay, parse_address


@dataclass(frozen=True, slots=True)
class Hop:
    host: str
    port: int
    via: str  # "route", "smarthost", "mx" or "implicit mx": for the journey


class MxRecord(Protocol):
    """One record of an MX answer, as dnspython gives it (dns.rdtypes.ANY.MX.MX)."""

    @property
    def preference(self) -> int: ...
    @property
    def exchange(self) -> object: ...  # a dns.name.Name: str() of it is the host name, with its final dot


class Resolver(Protocol):
    """The call made of dnspython's dns.asyncresolver.Resolver; the tests hand in a static one."""

    async def resolve(self, qname: str, rdtype: str, /) -> Iterable[MxRecord]: ...


class NoRoute(Exception):
    """No next hop; `permanent` says whether trying again could help. `status` is the RFC 3463 code."""

    def __init__(self, reason: str, *, permanent: bool, status: str) -> None:
        super().__init__(reason)
        self.permanent, self.status = permanent, status


async def next_hops(domain: str, relay: Relay, *, resolver: Resolver | None = None) -> list[Hop]:
    """The hosts to try for `domain`, best first; NoRoute when there are none."""
    if route := relay.routes.get(domain):
        host, port = parse_address(route)
        return [Hop(host, port, "route")]
    if relay.smarthost:
        host, port = parse_address(relay.smarthost)
        return [Hop(host, port, "smarthost")]
    resolver = resolver or dns.asyncresolver.Resolver()
    try:
        answer = await resolver.resolve(domain, "MX")
    except dns.resolver.NXDOMAIN:
        raise NoRoute(f"domain {domain} does not exist", permanent=True, status="5.1.2") from None
    except dns.resolver.NoAnswer:
        return [Hop(domain, relay.port, "implicit mx")]  # RFC 5321 §5.1
    except (dns.exception.DNSException, OSError) as e:
        raise NoRoute(f"DNS lookup of MX {domain} failed: {type(e).__name__}", permanent=False, status="4.4.3") from None
    records = sorted(((r.preference, str(r.exchange).rstrip(".")) for r in answer), key=lambda r: r[0])
    if len(records) == 1 and records[0][1] == "":
        raise NoRoute(f"domain {domain} accepts no mail (null MX)", permanent=True, status="5.1.10")  # RFC 7505 §4.2
    hops: list[Hop] = []
    for preference in sorted({p for p, _ in records}):
        same = [host for p, host in records if p == preference and host]
        random.shuffle(same)
        hops += [Hop(host, relay.port, "mx") for host in same]
    return hops
