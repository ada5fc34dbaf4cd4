"""Each message's journey in SQLite (store.api.Journey): append-only events."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime

from postoffice.store.api import JourneyEvent, StoredMessage
from postoffice.store.sqlite.engine import Readers, Writer


def record_event(conn: sqlite3.Connection, queue_id: str, stage: str, detail: str, message_id: str | None = None) -> None:
    """Appends one event inside any write job, so an event commits with the act it describes.
    Without `message_id`, the queued message's is used."""
    if message_id is None and queue_id:
        row = conn.execute("SELECT message_id FROM queue WHERE id = ?", (queue_id,)).fetchone()
        message_id = row[0] if row else ""
    conn.execute("INSERT INTO journey (at, queue_id, message_id, stage, detail) VALUES (?, ?, ?, ?, ?)",
                 (time.time(), queue_id, message_id or "", stage, detail))


def record_events(conn: sqlite3.Connection, queue_id: str, message_id: str, events: list[tuple[str, str]]) -> None:
    """Several events of one message at once (what a stage learnt in one go)."""
    now = time.time()
    conn.executemany("INSERT INTO journey (at, queue_id, message_id, stage, detail) VALUES (?, ?, ?, ?, ?)",
                     [(now, queue_id, message_id, stage, detail) for stage, detail in events])


class SqliteJourney:
    def __init__(self, writer: Writer, readers: Readers) -> None:
        self._w, self._r = writer, readers

    async def record(self, queue_id: str, stage: str, detail: str, message_id: str | None = None) -> None:
        await self._w.run(lambda c: record_event(c, queue_id, stage, detail, message_id))

    async def record_for(self, messages: list[StoredMessage], stage: str, detail: str) -> None:
        """One event for each stored message, under the queue id it came from and its Message-ID,
        all in one commit (a POP3 session's retrievals, say)."""

        def job(conn: sqlite3.Connection) -> None:
            now = time.time()
            rows = []
            for m in messages:
                row = conn.execute("SELECT json_extract(parsed, '$.envelope.message_id') FROM blobs WHERE id = ?",
                                   (m.blob.id,)).fetchone()
                rows.append((now, m.queue_id, (row[0] if row else None) or "", stage, detail))
            conn.executemany("INSERT INTO journey (at, queue_id, message_id, stage, detail) VALUES (?, ?, ?, ?, ?)",
                             rows)

        if messages:
            await self._w.run(job)

    async def events(self, key: str) -> list[JourneyEvent]:
        """The events of a queue id, or of every queue id that carried a Message-ID (with or without <>)."""
        bare = key.strip().strip("<>")

        def job(conn: sqlite3.Connection) -> list[JourneyEvent]:
            rows = conn.execute(
                "SELECT at, queue_id, message_id, stage, detail FROM journey"
                " WHERE queue_id = ? OR message_id IN (?, ?) ORDER BY at, id",
                (key.strip(), bare, f"<{bare}>"))
            return [JourneyEvent(datetime.fromtimestamp(r[0], UTC), r[1], r[2], r[3], r[4]) for r in rows]

        return await self._r.run(job)
