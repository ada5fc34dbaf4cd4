"""Domains, accounts, addresses and aliases in SQLite (store.api.Directory)."""

from __future__ import annotations

import json
import sqlite3
import time

from postoffice.addresses import domain_of
from postoffice.auth.passwords import Credentials, decode_credentials, encode_credentials
from postoffice.store.api import DEFAULT_MAILBOXES, Account, Alias, Conflict, NotFound
from postoffice.store.sqlite.engine import Readers, Row, Writer, inserted_id


def next_uidvalidity(conn: sqlite3.Connection) -> int:
    """A UIDVALIDITY above every one given before (RFC 9051 §2.3.1.1: a mailbox deleted and made
    again under the same name must not reuse one), close to the clock so values look familiar."""
    last: int = conn.execute("SELECT value FROM counters WHERE name = 'uidvalidity'").fetchone()[0]
    value = max(last + 1, int(time.time()))
    if value > 0xFFFFFFFF:  # nz-number is 32 bits (RFC 9051 §9)
        value = last + 1
    conn.execute("UPDATE counters SET value = ? WHERE name = 'uidvalidity'", (value,))
    return value


def create_mailbox(conn: sqlite3.Connection, account: int, name: str, special_use: str | None) -> int:
    if conn.execute("SELECT 1 FROM mailboxes WHERE account = ? AND name = ?", (account, name)).fetchone():
        raise Conflict(f"mailbox {name} exists")
    cur = conn.execute(
        "INSERT INTO mailboxes (account, name, uidvalidity, special_use) VALUES (?, ?, ?, ?)",
        (account, name, next_uidvalidity(conn), special_use),
    )
    return inserted_id(cur)


def _domain_id(conn: sqlite3.Connection, domain: str) -> int:
    row = conn.execute("SELECT id FROM domains WHERE name = ?", (domain,)).fetchone()
    if row is None:
        raise NotFound(f"{domain} is not a local domain")
    domain_id: int = row[0]
    return domain_id


def _account(row: Row) -> Account:
    return Account(id=row[0], address=row[1], credentials=decode_credentials(json.loads(row[2])))


class SqliteDirectory:
    def __init__(self, writer: Writer, readers: Readers) -> None:
        self._w, self._r = writer, readers

    async def add_domain(self, name: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM domains WHERE name = ?", (name,)).fetchone():
                raise Conflict(f"domain {name} exists")
            conn.execute("INSERT INTO domains (name, created) VALUES (?, ?)", (name, time.time()))

        await self._w.run(job)

    async def list_domains(self) -> list[str]:
        return await self._r.run(lambda c: [r[0] for r in c.execute("SELECT name FROM domains ORDER BY name")])

    async def delete_domain(self, name: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            domain = _domain_id(conn, name)
            accounts = conn.execute("SELECT count(*) FROM accounts WHERE domain = ?", (domain,)).fetchone()[0]
            aliases = conn.execute("SELECT count(DISTINCT address) FROM aliases WHERE domain = ?", (domain,)).fetchone()[0]
            if accounts or aliases:
                raise Conflict(f"domain {name} still has {accounts} account(s) and {aliases} alias(es); delete them first")
            conn.execute("DELETE FROM domains WHERE id = ?", (domain,))

        await self._w.run(job)

    async def is_local_domain(self, name: str) -> bool:
        return self._r.quick(lambda c: c.execute("SELECT 1 FROM domains WHERE name = ?", (name,)).fetchone() is not None)

    async def add_account(self, address: str, credentials: Credentials) -> Account:
        encoded = json.dumps(encode_credentials(credentials))

        def job(conn: sqlite3.Connection) -> Account:
            domain = _domain_id(conn, domain_of(address))
            if conn.execute("SELECT 1 FROM addresses WHERE address = ?", (address,)).fetchone():
                raise Conflict(f"user {address} exists")
            if conn.execute("SELECT 1 FROM aliases WHERE address = ?", (address,)).fetchone():
                raise Conflict(f"{address} is an alias; delete the alias first")
            cur = conn.execute(
                "INSERT INTO accounts (address, domain, credentials, created) VALUES (?, ?, ?, ?)",
                (address, domain, encoded, time.time()),
            )
            account = inserted_id(cur)
            conn.execute("INSERT INTO addresses (address, account) VALUES (?, ?)", (address, account))
            for name, special_use in DEFAULT_MAILBOXES:
                create_mailbox(conn, account, name, special_use)
            return Account(account, address, credentials)

        return await self._w.run(job)

    async def set_credentials(self, address: str, credentials: Credentials) -> None:
        encoded = json.dumps(encode_credentials(credentials))

        def job(conn: sqlite3.Connection) -> None:
            cur = conn.execute("UPDATE accounts SET credentials = ? WHERE address = ?", (encoded, address))
            if cur.rowcount == 0:
                raise NotFound(f"no user {address}")

        await self._w.run(job)

    async def delete_account(self, address: str) -> None:
        """Deletes the account with its mailboxes, and takes its addresses out of every alias (an
        alias left without targets goes too), so nothing keeps routing mail to it."""

        def job(conn: sqlite3.Connection) -> None:
            own = [r[0] for r in conn.execute(
                "SELECT x.address FROM addresses x JOIN accounts a ON a.id = x.account WHERE a.address = ?", (address,))]
            cur = conn.execute("DELETE FROM accounts WHERE address = ?", (address,))
            if cur.rowcount == 0:
                raise NotFound(f"no user {address}")
            conn.executemany("DELETE FROM aliases WHERE target = ?", [(a,) for a in own])

        await self._w.run(job)

    async def list_accounts(self) -> list[Account]:
        def job(conn: sqlite3.Connection) -> list[Account]:
            return [_account(r) for r in conn.execute("SELECT id, address, credentials FROM accounts ORDER BY address")]

        return await self._r.run(job)

    async def find_account(self, address: str) -> Account | None:
        """The account that `address` (its own or another of its addresses) belongs to."""

        def job(conn: sqlite3.Connection) -> Account | None:
            row = conn.execute(
                "SELECT a.id, a.address, a.credentials FROM addresses x JOIN accounts a ON a.id = x.account"
                " WHERE x.address = ?", (address,)).fetchone()
            return _account(row) if row else None

        return self._r.quick(job)

    async def delivery_target(self, address: str) -> tuple[str, int] | None:
        """(the account's own address, the account) for an address that reaches an account."""

        def job(conn: sqlite3.Connection) -> tuple[str, int] | None:
            row = conn.execute(
                "SELECT a.address, a.id FROM addresses x JOIN accounts a ON a.id = x.account WHERE x.address = ?",
                (address,)).fetchone()
            return (row[0], row[1]) if row else None

        return self._r.quick(job)

    async def add_alias(self, alias: str, targets: list[str]) -> None:
        def job(conn: sqlite3.Connection) -> None:
            domain = _domain_id(conn, alias.removeprefix("@") if alias.startswith("@") else domain_of(alias))
            if conn.execute("SELECT 1 FROM aliases WHERE address = ?", (alias,)).fetchone():
                raise Conflict(f"alias {alias} exists; delete it first to change its targets")
            if conn.execute("SELECT 1 FROM addresses WHERE address = ?", (alias,)).fetchone():
                raise Conflict(f"{alias} is a user's address")
            for target in dict.fromkeys(targets):
                if target == alias:
                    raise Conflict(f"alias {alias} cannot point to itself")
                conn.execute("INSERT INTO aliases (address, target, domain) VALUES (?, ?, ?)", (alias, target, domain))

        await self._w.run(job)

    async def list_aliases(self) -> list[Alias]:
        def job(conn: sqlite3.Connection) -> list[Alias]:
            out: dict[str, list[str]] = {}
            for address, target in conn.execute("SELECT address, target FROM aliases ORDER BY address, target"):
                out.setdefault(address, []).append(target)
            return [Alias(a, tuple(t)) for a, t in out.items()]

        return await self._r.run(job)

    async def find_alias(self, alias: str) -> Alias | None:
        def job(conn: sqlite3.Connection) -> Alias | None:
            targets = [r[0] for r in conn.execute("SELECT target FROM aliases WHERE address = ? ORDER BY target", (alias,))]
            return Alias(alias, tuple(targets)) if targets else None

        return self._r.quick(job)

    async def sendable_addresses(self, address: str) -> set[str]:
        """The addresses the account of `address` may send as: its own, and every alias that
        delivers to it (directly; an alias of an alias is not a sender identity)."""

        def job(conn: sqlite3.Connection) -> set[str]:
            own = {r[0] for r in conn.execute(
                "SELECT x.address FROM addresses x JOIN addresses me ON me.account = x.account WHERE me.address = ?",
                (address,))}
            if not own:
                return set()
            marks = ",".join("?" * len(own))
            aliases = {r[0] for r in conn.execute(
                f"SELECT address FROM aliases WHERE target IN ({marks}) AND address NOT LIKE '@%'", tuple(own))}
            return own | aliases

        return self._r.quick(job)

    async def delete_alias(self, alias: str) -> None:
        def job(conn: sqlite3.Connection) -> None:
            if conn.execute("DELETE FROM aliases WHERE address = ?", (alias,)).rowcount == 0:
                raise NotFound(f"no alias {alias}")

        await self._w.run(job)
