"""Schema migrations keep what was stored: a store made by an older version opens with its data."""

from __future__ import annotations

import asyncio
import sqlite3
from importlib import resources

from postoffice.store.api import RecipientState
from postoffice.store.sqlite.store import DB_NAME, SqliteStore
from postoffice.trace.events import Note, Stage


def old_store(data_dir, upto: int) -> sqlite3.Connection:
    """A database as the migrations up to `upto` left it."""
    data_dir.mkdir(parents=True)
    conn = sqlite3.connect(data_dir / DB_NAME, isolation_level=None)
    folder = resources.files("postoffice.store.sqlite").joinpath("migrations")
    for f in sorted(folder.iterdir(), key=lambda p: p.name):
        if f.name.endswith(".sql") and int(f.name.split("_", 1)[0]) <= upto:
            conn.executescript(f.read_text())
    conn.execute(f"PRAGMA user_version = {upto}")
    return conn


def test_version_2_queue_rows_and_journey_prose_survive_migration_3(tmp_path):
    data_dir = tmp_path / "data"
    conn = old_store(data_dir, 2)
    conn.execute("INSERT INTO domains (id, name, created) VALUES (1, 'example.test', 0)")
    conn.execute("INSERT INTO accounts (id, address, domain, credentials, created)"
                 " VALUES (5, 'alice@example.test', 1, '{}', 0)")
    conn.execute("INSERT INTO mailboxes (id, account, name, uidvalidity) VALUES (9, 5, 'INBOX', 1)")
    conn.execute("INSERT INTO blobs (id, sha256, size, data, parsed) VALUES (1, 'ab', 3, x'616263', '{}')")
    conn.execute("INSERT INTO queue (id, blob, sender, envelope, message_id, received)"
                 " VALUES ('Q1', 1, 'carol@remote.test', '{\"sender\": \"carol@remote.test\"}', '<m@x>', 0)")
    conn.executemany("INSERT INTO queue_recipients (queue_id, address, route, mailbox, state) VALUES (?, ?, ?, ?, ?)",
                     [("Q1", "alice@example.test", "account", 9, "queued"),
                      ("Q1", "dave@remote.test", "remote", None, "queued"),
                      ("Q1", "gone@example.test", "account", 77, "queued")])  # its mailbox was deleted
    conn.executemany("INSERT INTO journey (at, queue_id, message_id, stage, detail) VALUES (?, ?, ?, ?, ?)",
                     [(1.0, "Q1", "<m@x>", "received", "from x [192.0.2.1]:25 over SMTP"),
                      (2.0, "Q1", "<m@x>", "fixed up", "added Date")])
    conn.close()

    async def main() -> None:
        store = SqliteStore(data_dir)
        try:
            assert store.schema_version >= 3
            queued = await store.queue.get("Q1")
            assert queued is not None
            assert [(r.address, r.account, r.state) for r in queued.recipients] == [
                ("alice@example.test", 5, RecipientState.QUEUED), ("dave@remote.test", None, RecipientState.QUEUED),
                ("gone@example.test", None, RecipientState.HELD)]  # never turned into a remote recipient
            assert [q.queue_id for q in await store.queue.pending_local()] == ["Q1"]
            events = await store.journey.events("Q1")
            assert [(e.stage, e.data) for e in events] == [
                (Stage.RECEIVED, Note(text="from x [192.0.2.1]:25 over SMTP")),
                (Stage.FIXED_UP, Note(text="added Date"))]
            assert await store.check_integrity() == []
        finally:
            await store.aclose()

    asyncio.run(main())
