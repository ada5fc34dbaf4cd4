"""The MTA queue in SQLite (store.api.Queue): one row per message, one per recipient.

A message is accepted in one write job: its blob, its queue rows and the journey events that
describe its arrival commit together, so a queued message always has a body and a history, and
the SMTP 250 that follows the commit is never a lie. Local delivery is another single write job
(`deliver_local`): the copies appended to mailboxes and the recipients marked delivered commit
together, and a recipient that is no longer queued is skipped, so a delivery repeated after a
crash cannot make a second copy. When no recipient of a message is left queued, its queue rows
go; its journey stays.

Queue ids are 12 characters of Crockford base32, short enough to read aloud and to type into
`postoffice trace`.
"""

from __future__ import annotations

import json
import logging
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from datetime import UTC, datetime

from postoffice.store.api import (
    Appended,
    AttemptResult,
    BlobRef,
    Change,
    Envelope,
    LocalCopy,
    NewMessage,
    QueuedMessage,
    QueuedRecipient,
    RecipientState,
)
from postoffice.store.feed import ChangeFeed
from postoffice.store.sqlite.blobs import PreparedBlob, SqliteBlobs, insert_blob
from postoffice.store.sqlite.engine import Readers, Writer
from postoffice.store.sqlite.journey import record_event, record_events
from postoffice.store.sqlite.mailboxes import append_message

log = logging.getLogger(__name__)

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_queue_id() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def _ts(t: datetime | None) -> float | None:
    return t.timestamp() if t else None


def _dt(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, UTC) if t is not None else None


def insert_message(conn: sqlite3.Connection, queue_id: str, blob: BlobRef, envelope: Envelope, message_id: str,
                   recipients: list[QueuedRecipient], events: list[tuple[str, str]]) -> QueuedMessage:
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
    record_events(conn, queue_id, message_id,
                  [*events, ("queued", f"{len(recipients)} recipient(s), {blob.size} bytes")])
    return QueuedMessage(queue_id, blob, envelope, message_id, _dt(received), tuple(stored))


def load_message(conn: sqlite3.Connection, queue_id: str) -> QueuedMessage | None:
    row = conn.execute(
        "SELECT q.id, b.id, b.sha256, b.size, q.envelope, q.message_id, q.received"
        " FROM queue q JOIN blobs b ON b.id = q.blob WHERE q.id = ?", (queue_id,)).fetchone()
    if row is None:
        return None
    recipients = tuple(
        QueuedRecipient(address=r[1], orcpt=r[2], notify=r[3], route=r[4], mailbox=r[5], id=r[0],
                        state=RecipientState(r[6]), attempts=r[7], next_attempt=_dt(r[8]), last_reply=r[9],
                        remote_mta=r[10], last_attempt=_dt(r[11]), delay_notified=bool(r[12]))
        for r in conn.execute(
            "SELECT id, address, orcpt, notify, route, mailbox, state, attempts, next_attempt, last_reply,"
            " remote_mta, last_attempt, delay_notified FROM queue_recipients WHERE queue_id = ? ORDER BY id",
            (queue_id,)))
    return QueuedMessage(row[0], BlobRef(row[1], row[2], row[3]), Envelope(**json.loads(row[4])), row[5],
                         _dt(row[6]), recipients)


def deliver_copies(conn: sqlite3.Connection, queue_id: str, copies: list[LocalCopy], received: datetime,
                   message_id: str | None = None) -> list[tuple[LocalCopy, Appended, Change]]:
    row = conn.execute("SELECT b.id, b.sha256, b.size FROM queue q JOIN blobs b ON b.id = q.blob WHERE q.id = ?",
                       (queue_id,)).fetchone()
    if row is None:
        return []  # already settled and removed: nothing to do twice
    blob = BlobRef(*row)
    done = []
    for copy in copies:
        state = conn.execute("SELECT state, address FROM queue_recipients WHERE id = ? AND queue_id = ?",
                             (copy.recipient, queue_id)).fetchone()
        if state is None or state[0] != RecipientState.QUEUED.value:
            continue  # delivered before a crash, or settled otherwise: exactly once
        appended, change = append_message(conn, copy.mailbox, blob, copy.flags, received, copy.prefix, queue_id)
        name = conn.execute("SELECT name FROM mailboxes WHERE id = ?", (copy.mailbox,)).fetchone()[0]
        reply = f"delivered to {name} UID {appended.uid}"
        conn.execute("UPDATE queue_recipients SET state = ?, attempts = attempts + 1, last_reply = ? WHERE id = ?",
                     (RecipientState.DELIVERED.value, reply, copy.recipient))
        record_event(conn, queue_id, "delivered", f"{state[1]}: {reply}", message_id)
        done.append((copy, appended, change))
    remove_if_settled(conn, queue_id)
    return done


def remove_if_settled(conn: sqlite3.Connection, queue_id: str) -> None:
    if not conn.execute("SELECT 1 FROM queue_recipients WHERE queue_id = ? AND state IN (?, ?)",
                        (queue_id, RecipientState.QUEUED.value, RecipientState.HELD.value)).fetchone():
        conn.execute("DELETE FROM queue WHERE id = ?", (queue_id,))


def queue_and_deliver(conn: sqlite3.Connection, prepared: PreparedBlob, queue_id: str, envelope: Envelope,
                      message_id: str, recipients: list[QueuedRecipient], events: list[tuple[str, str]],
                      deliver: Callable[[QueuedRecipient], bytes] | None, received: datetime
                      ) -> tuple[QueuedMessage, list[Change]]:
    """Queues a message and, with `deliver`, delivers its local copies in the same transaction.
    A local delivery that fails is undone alone: the message stays queued for those recipients."""
    blob = insert_blob(conn, prepared)
    queued = insert_message(conn, queue_id, blob, envelope, message_id, recipients, events)
    if deliver is None:
        return queued, []
    copies = [LocalCopy(r.id, r.mailbox, deliver(r)) for r in queued.recipients if r.mailbox is not None]
    if not copies:
        return queued, []
    conn.execute("SAVEPOINT local_delivery")
    try:
        done = deliver_copies(conn, queue_id, copies, received, message_id)
    except Exception:
        conn.execute("ROLLBACK TO local_delivery")
        conn.execute("RELEASE local_delivery")
        log.exception("mda: delivery of %s failed; it stays queued", queue_id)
        return queued, []
    conn.execute("RELEASE local_delivery")
    settled = {copy.recipient for copy, _, _ in done}
    now_recipients = tuple(replace(r, state=RecipientState.DELIVERED) if r.id in settled else r
                           for r in queued.recipients)
    return replace(queued, recipients=now_recipients), [change for _, _, change in done]


def claim(conn: sqlite3.Connection, now: float, limit: int, retry_after: Callable[[int], float]) -> list[QueuedMessage]:
    """Takes due remote recipients for an attempt. Their next attempt time is written first (RFC-less
    but essential: a crash during the attempt leaves them due again at that time, never lost)."""
    rows = conn.execute(
        "SELECT id, queue_id, attempts FROM queue_recipients WHERE state = ? AND mailbox IS NULL AND next_attempt <= ?"
        " ORDER BY next_attempt, id LIMIT ?", (RecipientState.QUEUED.value, now, limit)).fetchall()
    claimed: dict[str, set[int]] = {}
    for rid, queue_id, attempts in rows:
        conn.execute("UPDATE queue_recipients SET next_attempt = ?, attempts = ?, last_attempt = ? WHERE id = ?",
                     (now + retry_after(attempts), attempts + 1, now, rid))
        claimed.setdefault(queue_id, set()).add(rid)
    out = []
    for queue_id, ids in claimed.items():
        message = load_message(conn, queue_id)
        if message is not None:
            out.append(replace(message, recipients=tuple(r for r in message.recipients if r.id in ids)))
    return out


def settle_results(conn: sqlite3.Connection, queue_id: str, results: list[AttemptResult],
                   events: list[tuple[str, str]]) -> None:
    for r in results:
        conn.execute(
            "UPDATE queue_recipients SET state = ?, last_reply = ?, remote_mta = ?, next_attempt = COALESCE(?, next_attempt),"
            " delay_notified = delay_notified OR ? WHERE id = ? AND queue_id = ?",
            (r.state.value, r.reply, r.remote_mta, _ts(r.next_attempt), int(r.delay_notified), r.recipient, queue_id))
    row = conn.execute("SELECT message_id FROM queue WHERE id = ?", (queue_id,)).fetchone()
    record_events(conn, queue_id, row[0] if row else "", events)
    remove_if_settled(conn, queue_id)


class SqliteQueue:
    def __init__(self, writer: Writer, readers: Readers, blobs: SqliteBlobs, feed: ChangeFeed) -> None:
        self._w, self._r, self._blobs, self._feed = writer, readers, blobs, feed

    async def enqueue(self, content: bytes, envelope: Envelope, message_id: str, recipients: list[QueuedRecipient],
                      *, queue_id: str | None = None, events: list[tuple[str, str]] = (),
                      deliver: Callable[[QueuedRecipient], bytes] | None = None) -> QueuedMessage:
        """Stores the content and queues it for `recipients`, with `events` before "queued", in one commit.

        With `deliver` (the MDA's prefix for a recipient's copy), the local recipients are delivered
        in that same commit, so their mail is in the INBOX before the SMTP 250. Should that delivery
        fail, only it is undone: the message stays queued for them, and the MDA retries."""
        prepared = await self._blobs.prepare(content)
        qid = queue_id or new_queue_id()
        received = datetime.now(UTC)

        def job(conn: sqlite3.Connection) -> tuple[QueuedMessage, list[Change]]:
            return queue_and_deliver(conn, prepared, qid, envelope, message_id, recipients, list(events), deliver,
                                     received)

        queued, changes = await self._w.run(job)
        self._feed.publish(changes)
        return queued

    async def deliver_local(self, queue_id: str, copies: list[LocalCopy], received: datetime
                            ) -> list[tuple[LocalCopy, Appended]]:
        """Appends each copy and settles its recipient in one commit; copies already settled are skipped."""
        done = await self._w.run(lambda c: deliver_copies(c, queue_id, copies, received))
        self._feed.publish(change for _, _, change in done)
        return [(copy, appended) for copy, appended, _ in done]

    async def get(self, queue_id: str) -> QueuedMessage | None:
        return await self._r.run(lambda c: load_message(c, queue_id))

    async def list(self) -> list[QueuedMessage]:
        def job(conn: sqlite3.Connection) -> list[QueuedMessage]:
            ids = [r[0] for r in conn.execute("SELECT id FROM queue ORDER BY received, id")]
            return [m for m in (load_message(conn, i) for i in ids) if m is not None]

        return await self._r.run(job)

    async def claim_due(self, now: datetime, limit: int, retry_after: Callable[[int], float]) -> list[QueuedMessage]:
        """Due remote recipients, grouped by message, with their next attempt time already moved on."""
        return await self._w.run(lambda c: claim(c, now.timestamp(), limit, retry_after))

    async def settle(self, queue_id: str, results: list[AttemptResult], events: list[tuple[str, str]],
                     notices: list[NewMessage] = (), deliver: Callable[[QueuedRecipient], bytes] | None = None
                     ) -> list[QueuedMessage]:
        """Records an attempt's results and queues the DSNs they call for, in one commit: a bounce
        is never lost between the failure and its notice, and never sent twice."""
        prepared = [(n, await self._blobs.prepare(n.content)) for n in notices]
        received = datetime.now(UTC)

        def job(conn: sqlite3.Connection) -> tuple[list[QueuedMessage], list[Change]]:
            settle_results(conn, queue_id, results, events)
            out, changes = [], []
            for notice, blob in prepared:
                queued, made = queue_and_deliver(conn, blob, new_queue_id(), notice.envelope, notice.message_id,
                                                 list(notice.recipients), list(notice.events), deliver, received)
                out.append(queued)
                changes += made
            return out, changes

        queued, changes = await self._w.run(job)
        self._feed.publish(changes)
        return queued

    async def retry_now(self, queue_id: str | None) -> int:
        """Makes queued recipients due now (one message's, or every one's); how many."""

        def job(conn: sqlite3.Connection) -> int:
            where, args = ("AND queue_id = ?", (queue_id,)) if queue_id else ("", ())
            return conn.execute(f"UPDATE queue_recipients SET next_attempt = ? WHERE state = ? {where}",
                                (time.time(), RecipientState.QUEUED.value, *args)).rowcount

        return await self._w.run(job)

    async def delete(self, queue_id: str) -> bool:
        """Removes a message from the queue (its journey says so); False if there was none."""

        def job(conn: sqlite3.Connection) -> bool:
            if not conn.execute("SELECT 1 FROM queue WHERE id = ?", (queue_id,)).fetchone():
                return False
            record_event(conn, queue_id, "deleted", "from the queue by the administrator")
            conn.execute("DELETE FROM queue WHERE id = ?", (queue_id,))
            return True

        return await self._w.run(job)

    async def pending_local(self) -> list[QueuedMessage]:
        """Messages with local recipients still queued: what the MDA finishes after a restart."""

        def job(conn: sqlite3.Connection) -> list[QueuedMessage]:
            ids = [r[0] for r in conn.execute(
                "SELECT DISTINCT queue_id FROM queue_recipients WHERE state = ? AND mailbox IS NOT NULL",
                (RecipientState.QUEUED.value,))]
            return [m for m in (load_message(conn, i) for i in ids) if m is not None]

        return await self._r.run(job)
