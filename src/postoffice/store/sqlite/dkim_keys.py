"""The domains' DKIM signing keys in SQLite (store.api.DkimKeys)."""

from __future__ import annotations

import sqlite3
import time

from postoffice.store.api import Conflict, DkimKeyRecord, NotFound
from postoffice.store.sqlite.engine import Readers, Writer

_COLUMNS = "domain, selector, algorithm, private_pem, public_b64"


class SqliteDkimKeys:
    def __init__(self, writer: Writer, readers: Readers) -> None:
        self._w, self._r = writer, readers

    async def add(self, key: DkimKeyRecord) -> None:
        def job(conn: sqlite3.Connection) -> None:
            if conn.execute("SELECT 1 FROM domains WHERE name = ?", (key.domain,)).fetchone() is None:
                raise NotFound(f"{key.domain} is not a local domain")
            if conn.execute("SELECT 1 FROM dkim_keys WHERE domain = ? AND selector = ?",
                            (key.domain, key.selector)).fetchone():
                raise Conflict(f"{key.domain} has a key with selector {key.selector} already")
            conn.execute(f"INSERT INTO dkim_keys ({_COLUMNS}, created) VALUES (?, ?, ?, ?, ?, ?)",
                         (key.domain, key.selector, key.algorithm, key.private_pem, key.public_b64, time.time()))

        await self._w.run(job)

    async def for_domain(self, domain: str) -> DkimKeyRecord | None:
        """The key to sign the domain's mail with: the newest one."""
        row = self._r.quick(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM dkim_keys WHERE domain = ? ORDER BY created DESC LIMIT 1", (domain,)).fetchone())
        return DkimKeyRecord(row[0], row[1], row[2], bytes(row[3]), row[4]) if row else None

    async def list(self) -> list[DkimKeyRecord]:
        rows = await self._r.run(lambda c: c.execute(
            f"SELECT {_COLUMNS} FROM dkim_keys ORDER BY domain, created").fetchall())
        return [DkimKeyRecord(r[0], r[1], r[2], bytes(r[3]), r[4]) for r in rows]
