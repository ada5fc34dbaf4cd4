"""The MTA queue in SQLite (store.api.Queue): one row per message, one per recipient.

A message is enqueued in one write job together with its first journey events, so a queued
message always has its "queued" event. Queue ids are 12 characters of Crockford base32, short
enough to read aloud and to type into `postoffice trace`.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import asdict, replace
from datetime import UTC, datetime

from postoffice.store.api import BlobRef, Envelope, QueuedMessage, QueuedRecipient, RecipientState
from postoffice.store.sqlite.engine import Readers, Writer
from postoffice.store.sqlite.journey import record_event

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_queue_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def _ts(t: datetime | None) -> float | None:
    return t.timestamp() if t else None


def _dt(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, UTC) if t is not None else None


def insert_message(conn: sqlite3.Connection, blob: BlobRef, envelope: Envelope, message_id: str,
                   recipients: list[QueuedRecipient]) -> QueuedMessage:
    """The enqueue itself, for use inside any write job."""
    queue_id = new_queue_id()
    received = time.time()
    conn.execute(
        "INSERT INTO queue (id, blob, sender, envelope, message_id, received) VALUES (?, ?, ?, ?, ?, ?)",
        (queue_id, blob.id, envelope.sender, json.dumps(asdict(envelope)), message_id, received),
    )
    stored = []
    for r in recipients:
        cur = conn.execute(
            "INSERT INTO queue_recipients (queue_id, address, orcpt, notify, route, mailbox, state, next_attempt)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (queue_id, r.address, r.orcpt, r.notify, r.route, r.mailbox, r.state.value, _ts(r.next_attempt) or received),
        )
        stored.append(replace(r, id=cur.lastrowid))
    record_event(conn, queue_id, "queued", f"{len(recipients)} recipient(s), {blob.size} bytes", message_id)
    return QueuedMessage(queue_id, blob, envelope, message_id, _dt(received), tuple(stored))


def load_message(conn: sqlite3.Connection, queue_id: str) -> QueuedMessage | None:
    row = conn.execute(
        "SELECT q.id, b.id, b.sha256, b.size, q.envelope, q.message_id, q.received"
        " FROM queue q JOIN blobs b ON b.id = q.blob WHERE q.id = ?", (queue_id,)).fetchone()
    if row is None:
        return None
    recipients = tuple(
        QueuedRecipient(address=r[1], orcpt=r[2], notify=r[3], route=r[4], mailbox=r[5], id=r[0],
                        state=RecipientState(r[6]), attempts=r[7], next_attempt=_dt(r[8]), last_reply=r[9])
        for r in conn.execute(
            "SELECT id, address, orcpt, notify, route, mailbox, state, attempts, next_attempt, last_reply"
            " FROM queue_recipients WHERE queue_id = ? ORDER BY id", (queue_id,)))
    return QueuedMessage(row[0], BlobRef(row[1], row[2], row[3]), Envelope(**json.loads(row[4])), row[5],
                         _dt(row[6]), recipients)


class SqliteQueue:
    def __init__(self, writer: Writer, readers: Readers) -> None:
        self._w, self._r = writer, readers

    async def enqueue(self, blob: BlobRef, envelope: Envelope, message_id: str,
                      recipients: list[QueuedRecipient]) -> QueuedMessage:
        return await self._w.run(lambda c: insert_message(c, blob, envelope, message_id, recipients))

    async def get(self, queue_id: str) -> QueuedMessage | None:
        return await self._r.run(lambda c: load_message(c, queue_id))

    async def list(self) -> list[QueuedMessage]:
        def job(conn: sqlite3.Connection) -> list[QueuedMessage]:
            ids = [r[0] for r in conn.execute("SELECT id FROM queue ORDER BY received, id")]
            return [m for m in (load_message(conn, i) for i in ids) if m is not None]

        return await self._r.run(job)
