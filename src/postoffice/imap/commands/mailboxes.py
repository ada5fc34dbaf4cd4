"""Mailbox commands of the authenticated state: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
LSUB, STATUS, NAMESPACE and APPEND (RFC 9051 §6.3.4-§6.3.12, RFC 3501 §6.3.3-§6.3.11).

Names are "/"-separated (`session.DELIMITER`); every name that exists is a real, selectable
mailbox (the store keeps no \\Noselect placeholders), so:
- CREATE makes the missing superiors too (RFC 9051 §6.3.4: the server SHOULD), and a trailing "/"
  only declares the name, which is created without it;
- DELETE refuses a mailbox with inferiors, NO [HASCHILDREN] (RFC 9051 §6.3.5: "SHOULD disallow the
  DELETE command by returning a tagged NO response ... SHOULD include the HASCHILDREN response
  code"), and INBOX, NO [CANNOT] (RFC 9051 §6.3.5: "It is an error to attempt to delete INBOX");
- RENAME moves the inferiors with the mailbox; RENAME INBOX moves INBOX's messages into a new
  mailbox (which may be an inferior of INBOX) and leaves INBOX empty, its inferiors untouched
  (RFC 9051 §6.3.6). Not atomic: the messages are appended to the new mailbox, then expunged from
  INBOX;
- DELETE of the selected mailbox closes it: untagged OK [CLOSED], state back to authenticated.

CREATE (USE (...)) takes one of the RFC 6154 §2 attributes the store keeps (CREATE-SPECIAL-USE,
RFC 6154 §3); others answer NO [USEATTR]. STATUS knows MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN,
RECENT (always 0: \\Recent is never set) and SIZE (RFC 8438); DELETED (IMAP4rev2 only) and
HIGHESTMODSEQ (CONDSTORE is not advertised) answer BAD.

APPEND stores one message (no MULTIAPPEND: several answer BAD; no BINARY: literal8 answers BAD).
The tagged OK carries [APPENDUID uidvalidity uid] (RFC 4315 §3; UIDPLUS is advertised).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from postoffice.imap import responses as r
from postoffice.imap.wire import Append, Create, Delete, Lsub, Rename, Status, Subscribe, Unsubscribe
from postoffice.store.api import Conflict, Mailbox, NotFound

if TYPE_CHECKING:
    from postoffice.imap.session import ImapSession, Outcome

SPECIAL_USES = frozenset({"\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash"})
STATUS_SUPPORTED = ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "RECENT", "SIZE")


def _delim() -> str:
    from postoffice.imap.session import DELIMITER
    return DELIMITER


def _out(tag: str, status: str, code: r.Code | None, text: str, data: bytes = b"") -> Outcome:
    from postoffice.imap.session import Outcome
    return Outcome(data + r.tagged(tag, status, code, text))


def _valid(name: str) -> bool:
    """A name we can keep: non-empty parts between the delimiters, no wildcards (RFC 9051 §5.1)."""
    return bool(name) and all(name.split(_delim())) and not re.search(r"[*%]", name)


def _superiors(name: str) -> list[str]:
    """"a/b/c" -> ["a", "a/b"]."""
    parts = name.split(_delim())
    return [_delim().join(parts[:i]) for i in range(1, len(parts))]


async def _find(session: ImapSession, name: str) -> Mailbox | None:
    return await session.store.mailboxes.find(session.account, name)


async def _create_path(session: ImapSession, name: str, special_use: str | None = None) -> Mailbox:
    """Creates the missing superiors of `name`, then `name` itself (Conflict if it exists)."""
    for parent in _superiors(name):
        if await _find(session, parent) is None:
            try:
                await session.store.mailboxes.create(session.account, parent)
            except Conflict:
                pass  # made meanwhile by another session
    return await session.store.mailboxes.create(session.account, name, special_use)


async def create(session: ImapSession, cmd: Create) -> Outcome:
    name = cmd.mailbox
    if name.endswith(_delim()):
        name = name.rstrip(_delim())  # RFC 9051 §6.3.4: created without the trailing delimiter
    if not _valid(name):
        return _out(cmd.tag, "NO", r.CANNOT, "Invalid mailbox name")
    special_use = None
    if cmd.special_use:
        if len(cmd.special_use) > 1 or cmd.special_use[0] not in SPECIAL_USES:
            return _out(cmd.tag, "NO", r.code("USEATTR"), "Unsupported special-use attribute")  # RFC 6154 §3
        special_use = cmd.special_use[0]
    if name.upper() == "INBOX" or await _find(session, name) is not None:
        return _out(cmd.tag, "NO", r.ALREADYEXISTS, "Mailbox already exists")
    try:
        await _create_path(session, name, special_use)
    except Conflict:
        return _out(cmd.tag, "NO", r.ALREADYEXISTS, "Mailbox already exists")
    return _out(cmd.tag, "OK", None, "CREATE completed")


async def delete(session: ImapSession, cmd: Delete) -> Outcome:
    if cmd.mailbox == "INBOX":
        return _out(cmd.tag, "NO", r.CANNOT, "INBOX cannot be deleted")
    box = await _find(session, cmd.mailbox)
    if box is None:
        return _out(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    names = [b.name for b in await session.store.mailboxes.list(session.account)]
    if any(n.startswith(box.name + _delim()) for n in names):
        return _out(cmd.tag, "NO", r.HASCHILDREN, "Mailbox has inferior mailboxes")
    try:
        await session.store.mailboxes.delete(box.id)
    except NotFound:
        return _out(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    closed = b""
    if session.selected is not None and session.selected.mailbox == box.id:
        # Deleting the selected mailbox closes it: back to the authenticated state, said with
        # an untagged OK [CLOSED] (RFC 9051 §7.1; unknown codes are ignored by rev1 clients).
        await session._deselect()
        closed = r.untagged_status("OK", r.CLOSED, "Selected mailbox deleted")
    return _out(cmd.tag, "OK", None, "DELETE completed", closed)


async def rename(session: ImapSession, cmd: Rename) -> Outcome:
    old, new = cmd.old, cmd.new.rstrip(_delim()) if cmd.new != _delim() else cmd.new
    box = await _find(session, old)
    if box is None:
        return _out(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    if not _valid(new):
        return _out(cmd.tag, "NO", r.CANNOT, "Invalid mailbox name")
    if new.upper() == "INBOX" or await _find(session, new) is not None:
        return _out(cmd.tag, "NO", r.ALREADYEXISTS, "Mailbox already exists")
    boxes = session.store.mailboxes
    if old == "INBOX":
        # RFC 9051 §6.3.6: all messages in INBOX move to the new name, INBOX stays and is empty,
        # INBOX's inferiors are unaffected.
        try:
            target = await _create_path(session, new)
        except Conflict:
            return _out(cmd.tag, "NO", r.ALREADYEXISTS, "Mailbox already exists")
        messages = await boxes.messages(box.id)
        for m in messages:
            await boxes.append(target.id, m.blob, m.flags - {"\\Recent"}, m.internaldate, m.prefix)
        if messages:
            await boxes.expunge(box.id, [m.uid for m in messages])
        return _out(cmd.tag, "OK", None, "RENAME completed")
    if new.startswith(old + _delim()):
        return _out(cmd.tag, "NO", r.CANNOT, "Cannot move a mailbox below itself")
    for parent in _superiors(new):  # RFC 9051 §6.3.6: superiors are created as needed
        if parent != old and await _find(session, parent) is None:
            try:
                await boxes.create(session.account, parent)
            except Conflict:
                pass
    try:
        await boxes.rename(box.id, new)  # the store moves the inferiors along
    except Conflict:
        return _out(cmd.tag, "NO", r.ALREADYEXISTS, "Mailbox already exists")
    except NotFound:
        return _out(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    return _out(cmd.tag, "OK", None, "RENAME completed")


async def subscribe(session: ImapSession, cmd: Subscribe | Unsubscribe) -> Outcome:
    # RFC 9051 §6.3.7-§6.3.8: subscriptions live on the mailbox here, so only existing mailboxes.
    box = await _find(session, cmd.mailbox)
    if box is None:
        return _out(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    await session.store.mailboxes.subscribe(box.id, isinstance(cmd, Subscribe))
    return _out(cmd.tag, "OK", None, f"{cmd.name} completed")


async def lsub(session: ImapSession, cmd: Lsub) -> Outcome:
    """RFC 3501 §6.3.9: the subscribed names matching; with "%", an unsubscribed superior of a
    subscribed name that the pattern reaches is returned with \\Noselect instead."""
    from postoffice.imap.session import _pattern
    if cmd.pattern == "":
        return _out(cmd.tag, "OK", None, "LSUB completed",
                    r.untagged(b'LSUB (\\Noselect) "' + _delim().encode() + b'" ""'))
    wanted = _pattern(cmd.reference + cmd.pattern)

    def matches(name: str) -> bool:
        return bool(wanted.fullmatch(name) or (name == "INBOX" and re.fullmatch(wanted.pattern, name, re.I)))

    subscribed = {b.name for b in await session.store.mailboxes.list(session.account) if b.subscribed}
    found: dict[str, bool] = {n: True for n in subscribed if matches(n)}
    for n in subscribed:
        if matches(n):
            continue
        for parent in _superiors(n):
            if parent not in subscribed and matches(parent):
                found.setdefault(parent, False)
    out = []
    for name in sorted(found, key=lambda n: (n != "INBOX", n)):
        attrs = b"()" if found[name] else b"(\\Noselect)"
        out.append(r.untagged(b"LSUB " + attrs + b' "' + _delim().encode() + b'" ' + r.mailbox_name(name, utf8=False)))
    return _out(cmd.tag, "OK", None, "LSUB completed", b"".join(out))


async def status(session: ImapSession, cmd: Status) -> Outcome:
    unknown = [i for i in cmd.items if i not in STATUS_SUPPORTED]
    if unknown:
        return _out(cmd.tag, "BAD", None, f"Unsupported STATUS item {unknown[0]}")
    box = await _find(session, cmd.mailbox)
    if box is None:
        return _out(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    return _out(cmd.tag, "OK", None, "STATUS completed", await status_line(session, box, cmd.items))


async def status_line(session: ImapSession, box: Mailbox, items: tuple[str, ...]) -> bytes:
    """The untagged STATUS response for `box` (RFC 9051 §7.3.4), also sent by LIST-STATUS."""
    messages = await session.store.mailboxes.messages(box.id)
    values = {
        "MESSAGES": len(messages),
        "UIDNEXT": max([box.uidnext] + [m.uid + 1 for m in messages]),
        "UIDVALIDITY": box.uidvalidity,
        "UNSEEN": sum(1 for m in messages if "\\Seen" not in m.flags),
        "DELETED": sum(1 for m in messages if "\\Deleted" in m.flags),
        "RECENT": 0,  # \Recent is never set (RFC 9051 §2.3.2)
        "SIZE": sum(m.size for m in messages),  # RFC 8438 §3
    }
    data = b" ".join(i.encode() + b" " + r.number(values[i]) for i in items)
    return r.untagged(b"STATUS " + r.mailbox_name(box.name, utf8=session.utf8) + b" (" + data + b")")


async def append(session: ImapSession, cmd: Append) -> Outcome:
    if len(cmd.messages) != 1:
        return _out(cmd.tag, "BAD", None, "One message per APPEND (no MULTIAPPEND)")
    message = cmd.messages[0]
    if message.binary:
        return _out(cmd.tag, "BAD", None, "literal8 needs BINARY, which is not supported")
    box = await _find(session, cmd.mailbox)
    if box is None:
        # RFC 9051 §6.3.12: NO [TRYCREATE] when the destination does not exist.
        return _out(cmd.tag, "NO", r.TRYCREATE, "No such mailbox")
    flags = frozenset(message.flags) - {"\\Recent"}  # RFC 3501 §2.3.2: the server alone sets \Recent
    when = message.internaldate or datetime.now(UTC)
    blob = await session.store.blobs.put(message.literal)
    appended = await session.store.mailboxes.append(box.id, blob, flags, when)
    # Appended to the selected mailbox: the feed brings the EXISTS, `handle` reports it first.
    return _out(cmd.tag, "OK", r.appenduid(appended.uidvalidity, appended.uid), "APPEND completed")
