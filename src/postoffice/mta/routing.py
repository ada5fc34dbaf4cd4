"""Routing: where each recipient of a message goes.

A recipient at a local domain resolves, in this order (the first that matches wins):
1. an account's address: delivered to that account (the MDA picks the mailbox);
2. an alias: each target routed in turn (targets may be local or remote, and aliases of aliases);
3. plus-addressing: `user+tag@domain` is routed as `user@domain`, the tag kept for filters;
4. the domain's catch-all alias `@domain`;
otherwise it is unknown (550 5.1.1 at RCPT time). A recipient at any other domain is remote: the
MTA relays it, if the session may relay at all (policy's decision, not routing's).

Alias expansion is bounded in depth and remembers what it visited: an alias that leads back to
itself is a loop, and a loop that leaves nothing to deliver to is refused (RFC 3463 X.4.6) rather
than accepted and bounced later.
"""

from __future__ import annotations

from dataclasses import dataclass

from postoffice.store.api import AccountId, Store

MAX_ALIAS_DEPTH = 10
LOOPED = "<looped>"  # marks, among the visited addresses, that a walk came back on itself


class Unroutable(Exception):
    """The recipient cannot be routed; `reason` is "unknown", "loop" or "too-deep"."""

    def __init__(self, reason: str, address: str) -> None:
        super().__init__(f"{address}: {reason}")
        self.reason = reason
        self.address = address


@dataclass(frozen=True, slots=True)
class Route:
    address: str  # the final address: an account's own address, or a remote one
    account: AccountId | None  # the account of a local recipient; None for a remote one
    how: str  # for the journey: "account", "alias team@example.test", "catch-all @example.test", ...
    tag: str | None = None  # the plus-address tag, kept for filters

    @property
    def is_local(self) -> bool:
        return self.account is not None

    @property
    def key(self) -> str:
        """Two routes with one key are one delivery (one copy per account, one per remote address)."""
        return f"account:{self.account}" if self.account is not None else f"remote:{self.address}"


class Router:
    def __init__(self, store: Store, *, delimiter: str = "+", hostname: str = "") -> None:
        self._store = store
        self._delimiter = delimiter
        self._hostname = hostname

    async def postmaster(self) -> str | None:
        """The address `<Postmaster>` stands for: postmaster at the first local domain among the
        server's name and its parents (mail.example.test, then example.test)."""
        labels = self._hostname.lower().split(".")
        for i in range(len(labels) - 1):
            domain = ".".join(labels[i:])
            if await self.is_local_domain(domain):
                return f"postmaster@{domain}"
        return None

    async def is_local_domain(self, domain: str) -> bool:
        return await self._store.directory.is_local_domain(domain)

    async def route(self, address: str) -> list[Route]:
        """The deliveries `address` stands for; Unroutable when there are none."""
        visited: set[str] = set()
        routes = await self._expand(address, how="", tag=None, depth=0, visited=visited)
        if not routes:
            raise Unroutable("loop" if LOOPED in visited else "unknown", address)
        unique: dict[str, Route] = {}
        for r in routes:
            unique.setdefault(r.key, r)
        return list(unique.values())

    async def _expand(self, address: str, *, how: str, tag: str | None, depth: int, visited: set[str]) -> list[Route]:
        if depth > MAX_ALIAS_DEPTH:
            raise Unroutable("too-deep", address)
        if address in visited:
            visited.add(LOOPED)
            return []  # a loop: this branch adds nothing
        visited.add(address)
        directory = self._store.directory
        local, _, domain = address.rpartition("@")
        if not await directory.is_local_domain(domain):
            return [Route(address, None, how or "remote", tag)]
        if found := await self._account_route(address, how or "account", tag):
            return [found]
        if alias := await directory.find_alias(address):
            return await self._targets(alias.targets, f"alias {address}", tag, depth, visited)
        if self._delimiter and self._delimiter in local:
            base, _, plus = local.partition(self._delimiter)
            if base:
                base_address = f"{base}@{domain}"
                if found := await self._account_route(base_address, how or f"plus-address of {base_address}", plus):
                    return [found]
                if alias := await directory.find_alias(base_address):
                    return await self._targets(alias.targets, f"alias {base_address}", plus, depth, visited)
        if catch_all := await directory.find_alias(f"@{domain}"):
            return await self._targets(catch_all.targets, f"catch-all @{domain}", tag, depth, visited)
        if depth == 0:
            raise Unroutable("unknown", address)
        return []  # an alias target that no longer exists: the other targets still count

    async def _targets(self, targets: tuple[str, ...], how: str, tag: str | None, depth: int,
                       visited: set[str]) -> list[Route]:
        out: list[Route] = []
        for target in targets:
            out += await self._expand(target, how=how, tag=tag, depth=depth + 1, visited=visited)
        return out

    async def _account_route(self, address: str, how: str, tag: str | None) -> Route | None:
        target = await self._store.directory.delivery_target(address)
        return Route(target[0], target[1], how, tag) if target else None
