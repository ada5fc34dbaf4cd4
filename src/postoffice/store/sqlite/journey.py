"""Each message's journey in SQLite (store.api.Journey): append-only typed events.

An event is its stage and its payload as JSON (`trace.events`); the text of `postoffice trace`
is made from the payload when read, never stored.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from postoffice.store.api import StoredMessage
from postoffice.store.sqlite.engine import Readers, Writer
from postoffice.trace.events import Event, JourneyEvent, Stage, payload_from_json, payload_to_json

_INSERT = "INSERT INTO journey (at, queue_id, message_id, stage, data) VALUES (?, ?, ?, ?, ?)"


def message_id_of(conn: sqlite3.Connection, queue_id: str) -> str:
    row = conn.execute("SELECT message_id FROM queue WHERE id = ?", (queue_id,)).fetchone()
    return str(row[0]) if row else ""


def record_events(conn: sqlite3.Connection, queue_id: str, events: Sequence[Event],
                  message_id: str | None = None) -> None:
    """Appends events inside any write job, so they commit with the act they describe. Without
    `message_id`, the queued message's is used."""
    if message_id is None:
        message_id = message_id_of(conn, queue_id) if queue_id else ""
    now = time.time()
    conn.executemany(_INSERT, [(now, queue_id, message_id, e.stage.value, payload_to_json(e.data)) for e in events])


class SqliteJourney:
    def __init__(self, writer: Writer, readers: Readers) -> None:
        self._w, self._r = writer, readers

    async def record(self, queue_id: str, events: Sequence[Event], message_id: str | None = None) -> None:
        await self._w.run(lambda c: record_events(c, queue_id, events, message_id))

    async def record_for(self, messages: Sequence[StoredMessage], event: Callable[[StoredMessage], Event],
                         *, once_per: str | None = None) -> int:
        """One event for each stored message that came through the queue, under its queue id and
        its Message-ID, all in one commit (a POP3 session's retrievals, say)."""
        made = [(m, event(m)) for m in messages if m.queue_id]

        def job(conn: sqlite3.Connection) -> int:
            now = time.time()
            rows = []
            for m, e in made:
                if once_per is not None and conn.execute(
                        "INSERT OR IGNORE INTO journey_once (queue_id, stage, scope) VALUES (?, ?, ?)",
                        (m.queue_id, e.stage.value, once_per)).rowcount == 0:
                    continue
                row = conn.execute("SELECT json_extract(parsed, '$.envelope.message_id') FROM blobs WHERE id = ?",
                                   (m.blob.id,)).fetchone()
                rows.append((now, m.queue_id, (row[0] if row else None) or "", e.stage.value, payload_to_json(e.data)))
            conn.executemany(_INSERT, rows)
            return len(rows)

        return await self._w.run(job) if made else 0

    async def events(self, key: str) -> list[JourneyEvent]:
        """The events of a queue id, or of every queue id that carried a Message-ID (with or without <>)."""
        bare = key.strip().strip("<>")

        def job(conn: sqlite3.Connection) -> list[JourneyEvent]:
            rows = conn.execute(
                "SELECT at, queue_id, message_id, stage, data FROM journey"
                " WHERE queue_id = ? OR message_id IN (?, ?) ORDER BY at, id",
                (key.strip(), bare, f"<{bare}>"))
            return [JourneyEvent(datetime.fromtimestamp(r[0], UTC), r[1], r[2], Stage(r[3]), payload_from_json(r[4]))
                    for r in rows]

        return await self._r.run(job)
