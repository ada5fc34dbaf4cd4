"""The SQLite backend, assembled: one file `store.sqlite3` and a `blobs/` folder in the data directory."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from postoffice.store.feed import ChangeFeed
from postoffice.store.sqlite.blobs import SqliteBlobs
from postoffice.store.sqlite.directory import SqliteDirectory
from postoffice.store.sqlite.dkim_keys import SqliteDkimKeys
from postoffice.store.sqlite.engine import Readers, Writer, connect, migrate
from postoffice.store.sqlite.journey import SqliteJourney
from postoffice.store.sqlite.locks import ProcessLocks
from postoffice.store.sqlite.mailboxes import SqliteMailboxes
from postoffice.store.sqlite.queue import SqliteQueue

DB_NAME = "store.sqlite3"


class SqliteStore:
    """Every part of the store over one database; `open` creates and migrates it on first use."""

    def __init__(self, data_dir: Path, *, group_commit: bool = True, max_group: int = 256,
                 inline_blob_bytes: int = 65536, readers: int = 4) -> None:
        self.data_dir = data_dir
        self.path = data_dir / DB_NAME
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / "blobs").mkdir(exist_ok=True)
        setup = connect(self.path)
        try:
            self.schema_version = migrate(setup)
        finally:
            setup.close()
        self.writer = Writer(self.path, group_commit=group_commit, max_group=max_group)
        self.readers = Readers(self.path, threads=readers)
        self.feed = ChangeFeed()
        self.directory = SqliteDirectory(self.writer, self.readers)
        self.blobs = SqliteBlobs(self.writer, self.readers, data_dir / "blobs", inline_bytes=inline_blob_bytes)
        self.mailboxes = SqliteMailboxes(self.writer, self.readers, self.feed)
        self.queue = SqliteQueue(self.writer, self.readers, self.blobs, self.feed)
        self.journey = SqliteJourney(self.writer, self.readers)
        self.dkim_keys = SqliteDkimKeys(self.writer, self.readers)
        self.locks = ProcessLocks()

    def close(self) -> None:
        self.writer.close()
        self.readers.close()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    async def check_integrity(self) -> list[str]:
        """Problems found, in words; an empty list is a healthy store."""
        return await self.readers.run(lambda c: _integrity_problems(c, self.blobs))


def _integrity_problems(conn: sqlite3.Connection, blobs: SqliteBlobs) -> list[str]:
    problems = [f"sqlite: {r[0]}" for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
    problems += [f"foreign key: {r}" for r in conn.execute("PRAGMA foreign_key_check")]
    for mailbox, name, uidnext, top, count, distinct in conn.execute(
            "SELECT b.id, b.name, b.uidnext, max(m.uid), count(m.uid), count(DISTINCT m.uid)"
            " FROM mailboxes b LEFT JOIN messages m ON m.mailbox = b.id GROUP BY b.id"):
        if top is not None and uidnext <= top:
            problems.append(f"mailbox {mailbox} ({name}): UIDNEXT {uidnext} is not above UID {top}")
        if count != distinct:
            problems.append(f"mailbox {mailbox} ({name}): duplicate UIDs")
    for mailbox, modseq, highest in conn.execute(
            "SELECT m.mailbox, max(m.modseq), b.highestmodseq FROM messages m JOIN mailboxes b ON b.id = m.mailbox"
            " GROUP BY m.mailbox"):
        if modseq > highest:
            problems.append(f"mailbox {mailbox}: MODSEQ {modseq} above HIGHESTMODSEQ {highest}")
    for (missing,) in conn.execute(
            "SELECT DISTINCT m.blob FROM messages m LEFT JOIN blobs b ON b.id = m.blob WHERE b.id IS NULL"):
        problems.append(f"message refers to missing blob {missing}")
    for sha256, size in conn.execute("SELECT sha256, size FROM blobs WHERE data IS NULL"):
        path = blobs.path_of(sha256)
        if not path.exists():
            problems.append(f"blob file {sha256} is missing")
        elif path.stat().st_size != size:
            problems.append(f"blob file {sha256} has {path.stat().st_size} bytes, not {size}")
    return problems
