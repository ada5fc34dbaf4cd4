"""Mailboxes and their messages in SQLite (store.api.Mailboxes).

Each mutation is one write job: it reads the mailbox's UIDNEXT and HIGHESTMODSEQ inside the
writer's transaction, so UIDs and mod-sequences are assigned in commit order with no gaps between
concurrent appends. One operation takes one new modseq for all the messages it touches (RFC 7162
§3.1.2 lets them share it); an operation that changes nothing takes none.
"""

from __future__ import annotations

import builtins
import functools
import json
import sqlite3
from datetime import UTC, datetime

from postoffice.store.api import (
    Appended,
    BlobRef,
    Change,
    ChangeKind,
    Conflict,
    FlagMode,
    Mailbox,
    MailboxCounts,
    MailboxId,
    NewCopy,
    NotFound,
    StoredMessage,
)
from postoffice.store.feed import ChangeFeed
from postoffice.store.sqlite.directory import create_mailbox
from postoffice.store.sqlite.engine import Readers, Row, Writer

_MAILBOX_COLUMNS = ("id, account, name, uidvalidity, uidnext, highestmodseq, special_use, subscribed,"
                    " (SELECT count(*) FROM messages m WHERE m.mailbox = mailboxes.id)")


def _mailbox(row: Row) -> Mailbox:
    return Mailbox(id=row[0], account=row[1], name=row[2], uidvalidity=row[3], uidnext=row[4],
                   highestmodseq=row[5], special_use=row[6], subscribed=bool(row[7]), messages=row[8])


def flags_text(flags: frozenset[str]) -> str:
    return " ".join(sorted(flags))


@functools.lru_cache(maxsize=4096)
def flags_of(text: str) -> frozenset[str]:
    """Cached: a mailbox holds few distinct flag sets, and a large one is read often."""
    return frozenset(text.split())


def uid_ranges(uids: list[int]) -> list[tuple[int, int]]:
    """Ascending `uids` as inclusive runs: [1, 2, 3, 7] -> [(1, 3), (7, 7)]."""
    runs: list[tuple[int, int]] = []
    for uid in uids:
        if runs and uid == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], uid)
        else:
            runs.append((uid, uid))
    return runs


_MESSAGE_COLUMNS = ("m.uid, m.modseq, m.flags, m.internaldate, m.size, b.id, b.sha256, b.size, m.prefix, m.queue_id"
                    " FROM messages m JOIN blobs b ON b.id = m.blob")
_MAX_RUNS = 200  # more runs than this in one lookup: read the mailbox and filter


def _rows_of(conn: sqlite3.Connection, select: str, uid_column: str, mailbox: MailboxId,
             uids: list[int]) -> list[Row]:
    """The rows `select` (its WHERE names the mailbox) gives for those of `uids` that exist, by
    ascending UID (the first column): a range lookup per run of consecutive UIDs, or one pass over
    the mailbox when the runs are too many to be worth a lookup each."""
    wanted = sorted(set(uids))
    runs = uid_ranges(wanted)
    if len(runs) > _MAX_RUNS:
        keep = set(wanted)
        return [r for r in conn.execute(f"{select} ORDER BY {uid_column}", (mailbox,)) if r[0] in keep]
    rows: list[Row] = []
    for low, high in runs:
        rows += conn.execute(f"{select} AND {uid_column} BETWEEN ? AND ? ORDER BY {uid_column}",
                             (mailbox, low, high)).fetchall()
    return rows


def _stored(r: Row) -> StoredMessage:
    return StoredMessage(uid=r[0], modseq=r[1], flags=flags_of(r[2]), internaldate=datetime.fromtimestamp(r[3], UTC),
                         size=r[4], blob=BlobRef(r[5], r[6], r[7]), prefix=bytes(r[8]), queue_id=r[9])


def _next_modseq(conn: sqlite3.Connection, mailbox: MailboxId) -> int:
    row = conn.execute("SELECT highestmodseq FROM mailboxes WHERE id = ?", (mailbox,)).fetchone()
    if row is None:
        raise NotFound(f"no mailbox {mailbox}")
    modseq: int = row[0] + 1
    conn.execute("UPDATE mailboxes SET highestmodseq = ? WHERE id = ?", (modseq, mailbox))
    return modseq


def append_message(conn: sqlite3.Connection, mailbox: MailboxId, blob: BlobRef, flags: frozenset[str],
                   received: datetime, prefix: bytes = b"", queue_id: str = "") -> tuple[Appended, Change]:
    """The append itself, for use inside any write job (the MDA composes it with the queue)."""
    row = conn.execute("SELECT uidvalidity, uidnext, highestmodseq FROM mailboxes WHERE id = ?", (mailbox,)).fetchone()
    if row is None:
        raise NotFound(f"no mailbox {mailbox}")
    uidvalidity, uid, modseq = row[0], row[1], row[2] + 1
    conn.execute(
        "INSERT INTO messages (mailbox, uid, modseq, blob, prefix, flags, internaldate, size, queue_id)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (mailbox, uid, modseq, blob.id, prefix, flags_text(flags), received.timestamp(), len(prefix) + blob.size,
         queue_id),
    )
    conn.execute("UPDATE mailboxes SET uidnext = ?, highestmodseq = ? WHERE id = ?", (uid + 1, modseq, mailbox))
    return Appended(mailbox, uidvalidity, uid, modseq), Change(mailbox, ChangeKind.APPEND, uid, modseq, flags)


class SqliteMailboxes:
    # `list` is a method here (store.api.Mailboxes.list): below it, signatures say builtins.list.
    def __init__(self, writer: Writer, readers: Readers, feed: ChangeFeed) -> None:
        self._w, self._r, self._feed = writer, readers, feed

    async def list(self, account: int) -> list[Mailbox]:
        return await self._r.run(lambda c: [_mailbox(r) for r in c.execute(
            f"SELECT {_MAILBOX_COLUMNS} FROM mailboxes WHERE account = ? ORDER BY name", (account,))])

    async def find(self, account: int, name: str) -> Mailbox | None:
        def job(conn: sqlite3.Connection) -> Mailbox | None:
            row = conn.execute(f"SELECT {_MAILBOX_COLUMNS} FROM mailboxes WHERE account = ? AND name = ?",
                               (account, name)).fetchone()
            return _mailbox(row) if row else None

        return await self._r.run(job)

    async def get(self, mailbox: MailboxId) -> Mailbox:
        row = await self._r.run(lambda c: c.execute(
            f"SELECT {_MAILBOX_COLUMNS} FROM mailboxes WHERE id = ?", (mailbox,)).fetchone())
        if row is None:
            raise NotFound(f"no mailbox {mailbox}")
        return _mailbox(row)

    async def create(self, account: int, name: str, special_use: str | None = None) -> Mailbox:
        mailbox = await self._w.run(lambda c: create_mailbox(c, account, name, special_use))
        return await self.get(mailbox)

    async def delete(self, mailbox: MailboxId) -> None:
        def job(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT name FROM mailboxes WHERE id = ?", (mailbox,)).fetchone()
            if row is None:
                raise NotFound(f"no mailbox {mailbox}")
            if row[0] == "INBOX":
                raise Conflict("INBOX cannot be deleted")  # RFC 9051 §6.3.4
            conn.execute("DELETE FROM mailboxes WHERE id = ?", (mailbox,))

        await self._w.run(job)

    async def rename(self, mailbox: MailboxId, new_name: str) -> None:
        """Renames the mailbox and, with it, the mailboxes below it in the "/" hierarchy."""

        def job(conn: sqlite3.Connection) -> None:
            row = conn.execute("SELECT account, name FROM mailboxes WHERE id = ?", (mailbox,)).fetchone()
            if row is None:
                raise NotFound(f"no mailbox {mailbox}")
            account, old = row
            if conn.execute("SELECT 1 FROM mailboxes WHERE account = ? AND name = ?", (account, new_name)).fetchone():
                raise Conflict(f"mailbox {new_name} exists")
            conn.execute("UPDATE mailboxes SET name = ? WHERE id = ?", (new_name, mailbox))
            prefix = old + "/"
            for child_id, child in conn.execute(
                    "SELECT id, name FROM mailboxes WHERE account = ? AND substr(name, 1, ?) = ?",
                    (account, len(prefix), prefix)).fetchall():
                conn.execute("UPDATE mailboxes SET name = ? WHERE id = ?", (new_name + "/" + child[len(prefix):], child_id))

        await self._w.run(job)

    async def subscribe(self, mailbox: MailboxId, subscribed: bool) -> None:
        def job(conn: sqlite3.Connection) -> None:
            if conn.execute("UPDATE mailboxes SET subscribed = ? WHERE id = ?", (int(subscribed), mailbox)).rowcount == 0:
                raise NotFound(f"no mailbox {mailbox}")

        await self._w.run(job)

    async def append(self, mailbox: MailboxId, blob: BlobRef, flags: frozenset[str], received: datetime,
                     prefix: bytes = b"") -> Appended:
        appended, change = await self._w.run(lambda c: append_message(c, mailbox, blob, flags, received, prefix))
        self._feed.publish([change])
        return appended

    async def append_all(self, mailbox: MailboxId, messages: builtins.list[NewCopy]) -> builtins.list[Appended]:
        def job(conn: sqlite3.Connection) -> list[tuple[Appended, Change]]:
            return [append_message(conn, mailbox, m.blob, m.flags, m.received, m.prefix) for m in messages]

        done = await self._w.run(job)
        self._feed.publish([change for _, change in done])
        return [appended for appended, _ in done]

    async def set_flags(self, mailbox: MailboxId, uids: builtins.list[int], flags: frozenset[str],
                        mode: FlagMode) -> builtins.list[Change]:
        def job(conn: sqlite3.Connection) -> list[Change]:
            changes: list[Change] = []
            modseq = None
            for uid in uids:
                row = conn.execute("SELECT flags FROM messages WHERE mailbox = ? AND uid = ?", (mailbox, uid)).fetchone()
                if row is None:
                    continue
                old = flags_of(row[0])
                new = flags if mode is FlagMode.REPLACE else old | flags if mode is FlagMode.ADD else old - flags
                if new == old:
                    continue
                if modseq is None:
                    modseq = _next_modseq(conn, mailbox)
                conn.execute("UPDATE messages SET flags = ?, modseq = ? WHERE mailbox = ? AND uid = ?",
                             (flags_text(new), modseq, mailbox, uid))
                changes.append(Change(mailbox, ChangeKind.FLAGS, uid, modseq, new))
            return changes

        changes = await self._w.run(job)
        self._feed.publish(changes)
        return changes

    async def expunge(self, mailbox: MailboxId, uids: builtins.list[int]) -> builtins.list[Change]:
        def job(conn: sqlite3.Connection) -> list[Change]:
            present = [uid for uid in sorted(set(uids)) if conn.execute(
                "SELECT 1 FROM messages WHERE mailbox = ? AND uid = ?", (mailbox, uid)).fetchone()]
            if not present:
                return []
            modseq = _next_modseq(conn, mailbox)
            for uid in present:
                conn.execute("DELETE FROM messages WHERE mailbox = ? AND uid = ?", (mailbox, uid))
                conn.execute("INSERT OR REPLACE INTO expunged (mailbox, uid, modseq) VALUES (?, ?, ?)", (mailbox, uid, modseq))
            return [Change(mailbox, ChangeKind.EXPUNGE, uid, modseq) for uid in present]

        changes = await self._w.run(job)
        self._feed.publish(changes)
        return changes

    async def copy(self, source: MailboxId, uids: builtins.list[int], target: MailboxId, *, move: bool = False
                   ) -> builtins.list[tuple[int, int]]:
        """Copies the messages (same blob, flags, internal date and prefix) into `target`, in UID
        order, in one transaction; with `move`, expunges them from `source` in that same
        transaction (RFC 6851 §3.3: atomic). Returns (source UID, new UID) pairs (RFC 4315 COPYUID)."""

        def job(conn: sqlite3.Connection) -> tuple[list[tuple[int, int]], list[Change]]:
            pairs: list[tuple[int, int]] = []
            changes: list[Change] = []
            for uid in sorted(set(uids)):
                row = conn.execute(
                    "SELECT m.flags, m.internaldate, m.prefix, m.queue_id, b.id, b.sha256, b.size FROM messages m"
                    " JOIN blobs b ON b.id = m.blob WHERE m.mailbox = ? AND m.uid = ?", (source, uid)).fetchone()
                if row is None:
                    continue
                appended, change = append_message(conn, target, BlobRef(row[4], row[5], row[6]), flags_of(row[0]),
                                                  datetime.fromtimestamp(row[1], UTC), bytes(row[2]), row[3])
                pairs.append((uid, appended.uid))
                changes.append(change)
            if move and pairs:
                modseq = _next_modseq(conn, source)
                for uid, _ in pairs:
                    conn.execute("DELETE FROM messages WHERE mailbox = ? AND uid = ?", (source, uid))
                    conn.execute("INSERT OR REPLACE INTO expunged (mailbox, uid, modseq) VALUES (?, ?, ?)",
                                 (source, uid, modseq))
                    changes.append(Change(source, ChangeKind.EXPUNGE, uid, modseq))
            return pairs, changes

        pairs, changes = await self._w.run(job)
        self._feed.publish(changes)
        return pairs

    async def messages(self, mailbox: MailboxId, uids: builtins.list[int] | None = None
                       ) -> builtins.list[StoredMessage]:
        def job(conn: sqlite3.Connection) -> list[StoredMessage]:
            if uids is None:
                rows = conn.execute(f"SELECT {_MESSAGE_COLUMNS} WHERE m.mailbox = ? ORDER BY m.uid", (mailbox,))
                return [_stored(r) for r in rows]
            return [_stored(r) for r in _rows_of(conn, f"SELECT {_MESSAGE_COLUMNS} WHERE m.mailbox = ?", "m.uid",
                                                 mailbox, uids)]

        if uids is not None and not uids:
            return []
        return await self._r.run(job)

    async def search_headers(self, mailbox: MailboxId) -> dict[int, dict[str, builtins.list[str]]]:
        def job(conn: sqlite3.Connection) -> list[tuple[int, str]]:
            # Only the "headers" member of each parse-once form crosses over, not the whole of it.
            return conn.execute(
                "SELECT m.uid, json_extract(b.parsed, '$.headers') FROM messages m JOIN blobs b ON b.id = m.blob"
                " WHERE m.mailbox = ?", (mailbox,)).fetchall()

        return {uid: json.loads(text) if text else {} for uid, text in await self._r.run(job)}

    async def flags(self, mailbox: MailboxId, uids: builtins.list[int]
                    ) -> builtins.list[tuple[int, frozenset[str]]]:
        def job(conn: sqlite3.Connection) -> list[tuple[int, frozenset[str]]]:
            return [(uid, flags_of(text)) for uid, text in _rows_of(
                conn, "SELECT uid, flags FROM messages WHERE mailbox = ?", "uid", mailbox, uids)]

        return await self._r.run(job) if uids else []

    async def uids(self, mailbox: MailboxId, flagged: str | None = None) -> builtins.list[int]:
        if flagged is None:
            return await self._r.run(lambda c: [r[0] for r in c.execute(
                "SELECT uid FROM messages WHERE mailbox = ? ORDER BY uid", (mailbox,))])
        if not flagged.startswith("\\"):
            raise ValueError("only system flags are looked up this way")
        # A whole word of the space-separated text: "\Deleted" must not find a "\DeletedX".
        return await self._r.run(lambda c: [r[0] for r in c.execute(
            "SELECT uid FROM messages WHERE mailbox = ? AND instr(' ' || flags || ' ', ?) > 0 ORDER BY uid",
            (mailbox, f" {flagged} "))])

    async def counts(self, mailbox: MailboxId) -> MailboxCounts:
        def job(conn: sqlite3.Connection) -> MailboxCounts:
            # A system flag is a whole word of the space-separated text: the parser also takes
            # flag-extensions such as "\SeenX" (RFC 9051 §9), which must not count as "\Seen".
            row = conn.execute(
                "SELECT count(*), coalesce(sum(instr(' ' || flags || ' ', ' \\Seen ') = 0), 0),"
                " coalesce(sum(instr(' ' || flags || ' ', ' \\Deleted ') > 0), 0), coalesce(sum(size), 0), max(uid)"
                " FROM messages WHERE mailbox = ?", (mailbox,)).fetchone()
            first = conn.execute("SELECT min(uid) FROM messages WHERE mailbox = ?"
                                 " AND instr(' ' || flags || ' ', ' \\Seen ') = 0", (mailbox,)).fetchone()[0]
            return MailboxCounts(messages=row[0], unseen=row[1], deleted=row[2], size=row[3],
                                 last_uid=row[4] or 0, first_unseen_uid=first)

        return await self._r.run(job)

    async def changes_since(self, mailbox: MailboxId, modseq: int) -> builtins.list[Change]:
        """Messages changed (added or re-flagged: kind FLAGS) and expunged above `modseq`, in modseq order."""

        def job(conn: sqlite3.Connection) -> list[Change]:
            changed = [Change(mailbox, ChangeKind.FLAGS, uid, ms, flags_of(fl)) for uid, ms, fl in conn.execute(
                "SELECT uid, modseq, flags FROM messages WHERE mailbox = ? AND modseq > ?", (mailbox, modseq))]
            gone = [Change(mailbox, ChangeKind.EXPUNGE, uid, ms) for uid, ms in conn.execute(
                "SELECT uid, modseq FROM expunged WHERE mailbox = ? AND modseq > ?", (mailbox, modseq))]
            return sorted(changed + gone, key=lambda c: (c.modseq, c.uid))

        return await self._r.run(job)
