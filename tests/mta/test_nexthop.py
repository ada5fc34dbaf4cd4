"""Next hops: routes, smarthost, and MX answers from a static resolver (RFC 5321 §5.1, RFC 7505)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import dns.resolver
import pytest

from postoffice.config import Relay
from postoffice.mta.nexthop import NoRoute, next_hops


@dataclass
class Mx:
    preference: int
    exchange: str


class StaticResolver:
    def __init__(self, answers: dict[str, object]) -> None:
        self.answers = answers

    async def resolve(self, name: str, rdtype: str):
        answer = self.answers.get(name)
        if isinstance(answer, Exception):
            raise answer
        if answer is None:
            raise dns.resolver.NXDOMAIN()
        return answer


def hops(domain: str, answers: dict[str, object], relay: Relay = Relay()) -> list[tuple[str, int, str]]:
    return [(h.host, h.port, h.via) for h in asyncio.run(next_hops(domain, relay, resolver=StaticResolver(answers)))]


def test_mx_hosts_in_order_of_preference_with_equals_shuffled():
    answers = {"remote.test": [Mx(20, "b.remote.test."), Mx(10, "a1.remote.test."), Mx(10, "a2.remote.test."),
                               Mx(30, "c.remote.test.")]}
    seen_first = set()
    for _ in range(40):
        order = [h for h, _, _ in hops("remote.test", answers)]
        assert set(order[:2]) == {"a1.remote.test", "a2.remote.test"} and order[2:] == ["b.remote.test", "c.remote.test"]
        seen_first.add(order[0])
    assert seen_first == {"a1.remote.test", "a2.remote.test"}  # random order among equals (RFC 5321 §5.1)


def test_no_mx_means_the_domain_itself():
    assert hops("remote.test", {"remote.test": dns.resolver.NoAnswer()}) == [("remote.test", 25, "implicit mx")]


def test_null_mx_is_a_permanent_failure():
    with pytest.raises(NoRoute) as e:
        hops("nomail.test", {"nomail.test": [Mx(0, ".")]})
    assert e.value.permanent and e.value.status == "5.1.10"  # RFC 7505 §4.2


def test_missing_domain_is_permanent_and_dns_trouble_temporary():
    with pytest.raises(NoRoute) as e:
        hops("nowhere.test", {})
    assert e.value.permanent
    with pytest.raises(NoRoute) as e:
        hops("flaky.test", {"flaky.test": dns.resolver.LifetimeTimeout()})
    assert not e.value.permanent


def test_routes_and_smarthost_win_over_dns():
    relay = Relay(smarthost="smart.example.test:587", routes={"remote.test": "127.0.0.1:2626"})
    assert hops("remote.test", {}, relay) == [("127.0.0.1", 2626, "route")]
    assert hops("other.test", {}, relay) == [("smart.example.test", 587, "smarthost")]
