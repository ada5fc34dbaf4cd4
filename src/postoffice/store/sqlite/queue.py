"""The MTA queue in SQLite (store.api.Queue): one row per message, one per recipient.

A message is accepted in one write job: its blob, its queue rows and the journey events that
describe its arrival commit together, so a queued message always has a body and a history, and
the SMTP 250 that follows the commit is never a lie. Local delivery writes the MDA's decided
copies (`CopyPlan`) and marks their recipients delivered in one transaction, skipping a recipient
that is no longer queued, so a delivery repeated after a crash cannot make a second copy. When no
recipient of a message is left queued, its queue rows go; its journey stays.

Nothing here decides: where a copy goes is the MDA's plan, when a recipient is due and when it is
tried next are `mta.schedule`'s, what an attempt made of a recipient is the outbound loop's. This
module stores them.
"""

from __future__ import annotations

import builtins
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from typing import Any

from postoffice.store.api import (
    Appended,
    AttemptResult,
    BlobRef,
    Change,
    CopyPlan,
    Envelope,
    LocalCopy,
    NewMessage,
    QueuedMessage,
    QueuedRecipient,
    RecipientState,
)
from postoffice.store.feed import ChangeFeed
from postoffice.store.sqlite.blobs import PreparedBlob, SqliteBlobs, insert_blob
from postoffice.store.sqlite.directory import create_mailbox
from postoffice.store.sqlite.engine import Readers, Writer
from postoffice.store.sqlite.journey import message_id_of, record_events
from postoffice.store.sqlite.mailboxes import append_message
from postoffice.trace.events import Access, Dropped, Event, Queuing, Stage, Stored

log = logging.getLogger(__name__)

_RECIPIENT_COLUMNS = ("id, address, orcpt, notify, route, account, state, attempts, next_attempt, last_reply,"
                      " remote_mta, last_attempt, delay_notified")


def _ts(t: datetime | None) -> float | None:
    return t.timestamp() if t else None


def _dt(t: float | None) -> datetime | None:
    return datetime.fromtimestamp(t, UTC) if t is not None else None


def _recipient(r: Sequence[Any]) -> QueuedRecipient:
    return QueuedRecipient(
        address=r[1], orcpt=r[2], notify=r[3], route=r[4], account=r[5], id=r[0], state=RecipientState(r[6]),
        attempts=r[7], next_attempt=_dt(r[8]), last_reply=r[9], remote_mta=r[10], last_attempt=_dt(r[11]),
        delay_notified=bool(r[12]))


def insert_message(conn: sqlite3.Connection, queue_id: str, blob: BlobRef, envelope: Envelope, message_id: str,
                   recipients: Sequence[QueuedRecipient], events: Sequence[Event]) -> QueuedMessage:
    received = time.time()
    conn.execute(
        "INSERT INTO queue (id, blob, sender, envelope, message_id, received) VALUES (?, ?, ?, ?, ?, ?)",
        (queue_id, blob.id, envelope.sender, json.dumps(asdict(envelope)), message_id, received),
    )
    stored = []
    for r in recipients:
        cur = conn.execute(
            "INSERT INTO queue_recipients (queue_id, address, orcpt, notify, route, account, state, next_attempt)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (queue_id, r.address, r.orcpt, r.notify, r.route, r.account, r.state.value,
             _ts(r.next_attempt) or received),
        )
        stored.append(replace(r, id=cur.lastrowid or 0))
    record_events(conn, queue_id, [*events, Event(Stage.QUEUED, Queuing(recipients=len(recipients), size=blob.size))],
                  message_id)
    return QueuedMessage(queue_id, blob, envelope, message_id, datetime.fromtimestamp(received, UTC), tuple(stored))


def load_message(conn: sqlite3.Connection, queue_id: str) -> QueuedMessage | None:
    row = conn.execute(
        "SELECT q.id, b.id, b.sha256, b.size, q.envelope, q.message_id, q.received"
        " FROM queue q JOIN blobs b ON b.id = q.blob WHERE q.id = ?", (queue_id,)).fetchone()
    if row is None:
        return None
    recipients = tuple(_recipient(r) for r in conn.execute(
        f"SELECT {_RECIPIENT_COLUMNS} FROM queue_recipients WHERE queue_id = ? ORDER BY id", (queue_id,)))
    return QueuedMessage(row[0], BlobRef(row[1], row[2], row[3]), Envelope(**json.loads(row[4])), row[5],
                         datetime.fromtimestamp(row[6], UTC), recipients)


def _target_mailbox(conn: sqlite3.Connection, account: int, plan: CopyPlan) -> tuple[int, str, str]:
    """(mailbox id, its name, the step that chose it): the plan's mailbox of the account, made
    when the plan says so, else the INBOX."""
    assert plan.mailbox is not None
    row = conn.execute("SELECT id FROM mailboxes WHERE account = ? AND name = ?", (account, plan.mailbox)).fetchone()
    if row is not None:
        return int(row[0]), plan.mailbox, plan.step
    if plan.create:
        return create_mailbox(conn, account, plan.mailbox, None), plan.mailbox, plan.step
    row = conn.execute("SELECT id FROM mailboxes WHERE account = ? AND name = 'INBOX'", (account,)).fetchone()
    if row is None:
        raise LookupError(f"account {account} has no INBOX")
    return int(row[0]), "INBOX", "inbox"


def deliver_copies(conn: sqlite3.Connection, queue_id: str, copies: Sequence[LocalCopy], received: datetime,
                   message_id: str | None = None) -> list[tuple[LocalCopy, Appended | None, Change | None]]:
    row = conn.execute("SELECT b.id, b.sha256, b.size FROM queue q JOIN blobs b ON b.id = q.blob WHERE q.id = ?",
                       (queue_id,)).fetchone()
    if row is None:
        return []  # already settled and removed: nothing to do twice
    if message_id is None:
        message_id = message_id_of(conn, queue_id)
    blob = BlobRef(*row)
    done: list[tuple[LocalCopy, Appended | None, Change | None]] = []
    events: list[Event] = []
    for copy in copies:
        state = conn.execute("SELECT state, address, account FROM queue_recipients WHERE id = ? AND queue_id = ?",
                             (copy.recipient, queue_id)).fetchone()
        if state is None or state[0] != RecipientState.QUEUED.value or state[2] is None:
            continue  # delivered before a crash, or settled otherwise: exactly once
        plan = copy.plan
        if plan.mailbox is None:
            reply = f"discarded by {plan.step}"
            events.append(Event(Stage.DISCARDED, Dropped(recipient=state[1], step=plan.step)))
            appended, change = None, None
        else:
            mailbox, name, step = _target_mailbox(conn, state[2], plan)
            appended, change = append_message(conn, mailbox, blob, plan.flags, received, plan.prefix, queue_id)
            reply = f"delivered to {name} UID {appended.uid}"
            stored = Stored(recipient=state[1], mailbox=name, uid=appended.uid, step=step, flags=tuple(sorted(plan.flags)))
            events.append(Event(Stage.DELIVERED if step == "inbox" else Stage.FILED, stored))
        conn.execute("UPDATE queue_recipients SET state = ?, attempts = attempts + 1, last_reply = ? WHERE id = ?",
                     (RecipientState.DELIVERED.value, reply, copy.recipient))
        done.append((copy, appended, change))
    record_events(conn, queue_id, events, message_id)
    remove_if_settled(conn, queue_id)
    return done


def remove_if_settled(conn: sqlite3.Connection, queue_id: str) -> None:
    if not conn.execute("SELECT 1 FROM queue_recipients WHERE queue_id = ? AND state IN (?, ?)",
                        (queue_id, RecipientState.QUEUED.value, RecipientState.HELD.value)).fetchone():
        conn.execute("DELETE FROM queue WHERE id = ?", (queue_id,))


def queue_and_deliver(conn: sqlite3.Connection, prepared: PreparedBlob, queue_id: str, envelope: Envelope,
                      message_id: str, recipients: Sequence[QueuedRecipient], events: Sequence[Event],
                      plans: Sequence[CopyPlan | None], received: datetime) -> tuple[QueuedMessage, list[Change]]:
    """Queues a message and, with `plans`, writes its local copies in the same transaction.
    A local delivery that fails is undone alone: the message stays queued for those recipients."""
    blob = insert_blob(conn, prepared)
    queued = insert_message(conn, queue_id, blob, envelope, message_id, recipients, events)
    copies = [LocalCopy(r.id, plan) for r, plan in zip(queued.recipients, plans) if plan is not None and r.is_local]
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
    return replace(queued, recipients=now_recipients), [change for _, _, change in done if change is not None]


def claim(conn: sqlite3.Connection, now: datetime, limit: int,
          claimed_as: Callable[[QueuedRecipient], QueuedRecipient]) -> list[QueuedMessage]:
    """Takes due remote recipients for an attempt, written as `claimed_as` makes them (the next
    attempt time first: a crash during the attempt leaves them due again then, never lost)."""
    rows = conn.execute(
        f"SELECT {_RECIPIENT_COLUMNS}, queue_id FROM queue_recipients"
        " WHERE state = ? AND account IS NULL AND next_attempt <= ? ORDER BY next_attempt, id LIMIT ?",
        (RecipientState.QUEUED.value, now.timestamp(), limit)).fetchall()
    claimed: dict[str, dict[int, QueuedRecipient]] = {}
    for row in rows:
        r = claimed_as(_recipient(row))
        conn.execute("UPDATE queue_recipients SET next_attempt = ?, attempts = ?, last_attempt = ? WHERE id = ?",
                     (_ts(r.next_attempt), r.attempts, _ts(r.last_attempt), r.id))
        claimed.setdefault(row[-1], {})[r.id] = r
    out = []
    for queue_id, chosen in claimed.items():
        message = load_message(conn, queue_id)
        if message is not None:
            out.append(replace(message, recipients=tuple(chosen[r.id] for r in message.recipients if r.id in chosen)))
    return out


def settle_results(conn: sqlite3.Connection, queue_id: str, results: Sequence[AttemptResult],
                   events: Sequence[Event]) -> None:
    for r in results:
        conn.execute(
            "UPDATE queue_recipients SET state = ?, last_reply = ?, remote_mta = ?, next_attempt = COALESCE(?, next_attempt),"
            " delay_notified = delay_notified OR ? WHERE id = ? AND queue_id = ?",
            (r.state.value, r.reply, r.remote_mta, _ts(r.next_attempt), int(r.delay_notified), r.recipient, queue_id))
    record_events(conn, queue_id, events)
    remove_if_settled(conn, queue_id)


class SqliteQueue:
    def __init__(self, writer: Writer, readers: Readers, blobs: SqliteBlobs, feed: ChangeFeed) -> None:
        self._w, self._r, self._blobs, self._feed = writer, readers, blobs, feed

    async def enqueue(self, content: bytes, envelope: Envelope, message_id: str,
                      recipients: Sequence[QueuedRecipient], *, queue_id: str, events: Sequence[Event] = (),
                      plans: Sequence[CopyPlan | None] = ()) -> QueuedMessage:
        """Stores the content and queues it for `recipients`, with `events` before QUEUED, in one
        commit; with `plans` the local copies are written in that commit too (see store.api.Queue)."""
        prepared = await self._blobs.prepare(content)
        received = datetime.now(UTC)

        def job(conn: sqlite3.Connection) -> tuple[QueuedMessage, builtins.list[Change]]:
            return queue_and_deliver(conn, prepared, queue_id, envelope, message_id, recipients, events, plans,
                                     received)

        queued, changes = await self._w.run(job)
        self._feed.publish(changes)
        return queued

    async def deliver_local(self, queue_id: str, copies: Sequence[LocalCopy], received: datetime
                            ) -> builtins.list[tuple[LocalCopy, Appended | None]]:
        """Writes each copy and settles its recipient in one commit; copies already settled are skipped."""
        done = await self._w.run(lambda c: deliver_copies(c, queue_id, copies, received))
        self._feed.publish(change for _, _, change in done if change is not None)
        return [(copy, appended) for copy, appended, _ in done]

    async def get(self, queue_id: str) -> QueuedMessage | None:
        return await self._r.run(lambda c: load_message(c, queue_id))

    async def list(self) -> builtins.list[QueuedMessage]:
        def job(conn: sqlite3.Connection) -> builtins.list[QueuedMessage]:
            ids = [r[0] for r in conn.execute("SELECT id FROM queue ORDER BY received, id")]
            return [m for m in (load_message(conn, i) for i in ids) if m is not None]

        return await self._r.run(job)

    async def claim_due(self, now: datetime, limit: int,
                        claimed_as: Callable[[QueuedRecipient], QueuedRecipient]) -> builtins.list[QueuedMessage]:
        """Due remote recipients, grouped by message, with their next attempt time already moved on."""
        return await self._w.run(lambda c: claim(c, now, limit, claimed_as))

    async def settle(self, queue_id: str, results: Sequence[AttemptResult], events: Sequence[Event],
                     notices: Sequence[NewMessage] = ()) -> builtins.list[QueuedMessage]:
        """Records an attempt's results and queues the DSNs they call for, in one commit: a bounce
        is never lost between the failure and its notice, and never sent twice."""
        prepared = [(n, await self._blobs.prepare(n.content)) for n in notices]
        received = datetime.now(UTC)

        def job(conn: sqlite3.Connection) -> tuple[builtins.list[QueuedMessage], builtins.list[Change]]:
            settle_results(conn, queue_id, results, events)
            out, changes = [], []
            for notice, blob in prepared:
                queued, made = queue_and_deliver(conn, blob, notice.queue_id, notice.envelope, notice.message_id,
                                                 notice.recipients, notice.events, notice.plans, received)
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
            record_events(conn, queue_id, [Event(Stage.DELETED, Access(protocol="admin"))])
            conn.execute("DELETE FROM queue WHERE id = ?", (queue_id,))
            return True

        return await self._w.run(job)

    async def pending_local(self) -> builtins.list[QueuedMessage]:
        """Messages with local recipients still queued: what the MDA finishes after a restart."""

        def job(conn: sqlite3.Connection) -> builtins.list[QueuedMessage]:
            ids = [r[0] for r in conn.execute(
                "SELECT DISTINCT queue_id FROM queue_recipients WHERE state = ? AND account IS NOT NULL",
                (RecipientState.QUEUED.value,))]
            return [m for m in (load_message(conn, i) for i in ids) if m is not None]

        return await self._r.run(job)
