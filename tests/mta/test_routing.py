"""Routing of recipients: accounts, aliases, plus-addressing, catch-all, loops, remote."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from postoffice.mta.routing import Router, Unroutable
from postoffice.store.sqlite.store import SqliteStore
from tests.store.conftest import make_account

COUNTER = itertools.count()


def routed(tmp_path, setup, address, *, delimiter="+"):
    async def main():
        store = SqliteStore(tmp_path / f"data-{next(COUNTER)}")
        try:
            await setup(store)
            routes = await Router(store, delimiter=delimiter).route(address)
            names = {a.id: f"{a.address}/INBOX" for a in await store.directory.list_accounts()}
            return [(names.get(r.account, r.address) if r.account is not None else r.address, r.how, r.tag)
                    for r in routes]
        finally:
            await store.aclose()

    return asyncio.run(main())


async def base(store):
    await make_account(store, "alice@example.test")
    await make_account(store, "bob@example.test")
    await store.directory.add_alias("team@example.test", ["alice@example.test", "bob@example.test", "carol@remote.test"])
    await store.directory.add_alias("sales@example.test", ["team@example.test", "alice@example.test"])
    await store.directory.add_alias("ping@example.test", ["pong@example.test"])
    await store.directory.add_alias("pong@example.test", ["ping@example.test"])
    await store.directory.add_alias("half@example.test", ["half2@example.test", "bob@example.test"])
    await store.directory.add_alias("half2@example.test", ["half@example.test"])


def test_account(tmp_path):
    assert routed(tmp_path, base, "alice@example.test") == [("alice@example.test/INBOX", "account", None)]


def test_alias_with_local_and_remote_targets(tmp_path):
    assert routed(tmp_path, base, "team@example.test") == [
        ("alice@example.test/INBOX", "alias team@example.test", None),
        ("bob@example.test/INBOX", "alias team@example.test", None),
        ("carol@remote.test", "alias team@example.test", None)]


def test_nested_aliases_deliver_once_per_mailbox(tmp_path):
    routes = routed(tmp_path, base, "sales@example.test")
    assert [r[0] for r in routes] == ["alice@example.test/INBOX", "bob@example.test/INBOX", "carol@remote.test"]


def test_plus_addressing_keeps_the_tag(tmp_path):
    assert routed(tmp_path, base, "alice+lists@example.test") == [
        ("alice@example.test/INBOX", "plus-address of alice@example.test", "lists")]
    assert routed(tmp_path, base, "alice-lists@example.test", delimiter="-")[0][2] == "lists"
    with pytest.raises(Unroutable):
        routed(tmp_path, base, "alice+lists@example.test", delimiter="")


def test_plus_addressing_on_an_alias(tmp_path):
    assert [r[0] for r in routed(tmp_path, base, "team+x@example.test")][:2] == [
        "alice@example.test/INBOX", "bob@example.test/INBOX"]


def test_unknown_user_and_catch_all(tmp_path):
    with pytest.raises(Unroutable) as e:
        routed(tmp_path, base, "nobody@example.test")
    assert e.value.reason == "unknown"

    async def with_catch_all(store):
        await base(store)
        await store.directory.add_alias("@example.test", ["bob@example.test"])

    assert routed(tmp_path, with_catch_all, "nobody@example.test") == [
        ("bob@example.test/INBOX", "catch-all @example.test", None)]
    # an account still wins over the catch-all
    assert routed(tmp_path, with_catch_all, "alice@example.test")[0][0] == "alice@example.test/INBOX"


def test_alias_loops_are_detected(tmp_path):
    with pytest.raises(Unroutable) as e:
        routed(tmp_path, base, "ping@example.test")
    assert e.value.reason == "loop"
    # a loop on one branch does not lose the other branch
    assert routed(tmp_path, base, "half@example.test") == [("bob@example.test/INBOX", "alias half@example.test", None)]


def test_remote(tmp_path):
    assert routed(tmp_path, base, "dave@remote.test") == [("dave@remote.test", "remote", None)]
