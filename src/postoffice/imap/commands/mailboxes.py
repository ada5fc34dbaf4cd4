"""Mailbox commands of the authenticated state: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE,
STATUS, NAMESPACE and APPEND (RFC 9051 §6.3.4-§6.3.12, RFC 3501 §6.3.3-§6.3.11); LIST and LSUB
are in `listing.py`.

Names are "/"-separated (`DELIMITER`); every name that exists is a real, selectable
mailbox (the store keeps no \\Noselect placeholders), so:
- CREATE makes the missing superiors too (RFC 9051 §6.3.4: the server SHOULD), and a trailing "/"
  only declares the name, which is created without it;
- DELETE refuses a mailbox with inferiors, NO [HASCHILDREN] (RFC 9051 §6.3.5: "SHOULD disallow the
  DELETE command by returning a tagged NO response ... SHOULD include the HASCHILDREN response
  code"), and INBOX, NO [CANNOT] (RFC 9051 §6.3.5: "It is an error to attempt to delete INBOX");
- RENAME moves the inferiors with the mailbox; RENAME INBOX moves INBOX's messages into a new
  mailbox (which may be an inferior of INBOX) and leaves INBOX empty, its inferiors untouched
  (RFC 9051 §6.3.6), in one store transaction (a move);
- DELETE of the selected mailbox closes it: untagged OK [CLOSED], state back to authenticated.

CREATE (USE (...)) takes one of the RFC 6154 §2 attributes the store keeps (CREATE-SPECIAL-USE,
RFC 6154 §3); others answer NO [USEATTR]. STATUS knows MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN,
RECENT (always 0: \\Recent is never set) and SIZE (RFC 8438); DELETED (IMAP4rev2 only) and
HIGHESTMODSEQ (CONDSTORE is not advertised) answer BAD.

APPEND stores one message or, MULTIAPPEND (RFC 3502), several in one transaction; literal8
(BINARY, RFC 3516 §4.4) and the UTF8 data item (RFC 6855 §4) are taken; the tagged OK carries
[APPENDUID uidvalidity uid-set] (RFC 4315 §3). Bare CR or LF in a plain literal become CRLF.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime

from postoffice.imap import responses as r
from postoffice.imap.context import Context, logged_in
from postoffice.imap.outcome import Condition, Outcome, ok, reply
from postoffice.imap.wire import (
    Append, AppendMessage, Create, Delete, Namespace, Rename, Status, Subscribe, Unsubscribe,
)
from postoffice.store.api import Conflict, Mailbox, NewCopy, NotFound

DELIMITER = "/"
SPECIAL_USES = frozenset({"\\Archive", "\\Drafts", "\\Junk", "\\Sent", "\\Trash"})
STATUS_SUPPORTED = ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "RECENT", "SIZE")


def delimiter() -> str:
    """The hierarchy delimiter, "/"."""
    return DELIMITER


MAX_NAME_OCTETS = 1024  # a mailbox name's UTF-8 octets at most: LIST matches names on the event loop
_NOT_IN_NAMES = re.compile("[*%\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _valid(name: str) -> bool:
    """A name we can keep: non-empty parts between the delimiters, no wildcards (RFC 9051 §5.1),
    Net-Unicode: NFC, no control characters, no line or paragraph separator (RFC 9051 §5.1,
    RFC 6855 §3, RFC 5198 §2). A name not in NFC is refused rather than silently normalized."""
    return (bool(name) and len(name.encode("utf-8", "surrogatepass")) <= MAX_NAME_OCTETS
            and all(name.split(delimiter())) and not _NOT_IN_NAMES.search(name)
            and unicodedata.is_normalized("NFC", name))


def superiors(name: str) -> list[str]:
    """"a/b/c" -> ["a", "a/b"]."""
    parts = name.split(delimiter())
    return [delimiter().join(parts[:i]) for i in range(1, len(parts))]


async def _find(ctx: Context, name: str) -> Mailbox | None:
    return await ctx.store.mailboxes.find(logged_in(ctx), name)


async def _create_path(ctx: Context, name: str, special_use: str | None = None) -> Mailbox:
    """Creates the missing superiors of `name`, then `name` itself (Conflict if it exists)."""
    for parent in superiors(name):
        if await _find(ctx, parent) is None:
            try:
                await ctx.store.mailboxes.create(logged_in(ctx), parent)
            except Conflict:
                pass  # made meanwhile by another session
    return await ctx.store.mailboxes.create(logged_in(ctx), name, special_use)


async def create(ctx: Context, cmd: Create) -> Outcome:
    name = cmd.mailbox
    if name.endswith(delimiter()):
        name = name.rstrip(delimiter())  # RFC 9051 §6.3.4: created without the trailing delimiter
    if not _valid(name):
        return reply(cmd.tag, "NO", r.CANNOT, "Invalid mailbox name")
    special_use = None
    if cmd.special_use:
        if len(cmd.special_use) > 1 or cmd.special_use[0] not in SPECIAL_USES:
            return reply(cmd.tag, "NO", r.code("USEATTR"), "Unsupported special-use attribute")  # RFC 6154 §3
        special_use = cmd.special_use[0]
    if name.upper() == "INBOX" or await _find(ctx, name) is not None:
        return reply(cmd.tag, "NO", r.ALREADYEXISTS, "Mailbox already exists")
    try:
        await _create_path(ctx, name, special_use)
    except Conflict:
        return reply(cmd.tag, "NO", r.ALREADYEXISTS, "Mailbox already exists")
    return reply(cmd.tag, "OK", None, "CREATE completed")


async def delete(ctx: Context, cmd: Delete) -> Outcome:
    if cmd.mailbox == "INBOX":
        return reply(cmd.tag, "NO", r.CANNOT, "INBOX cannot be deleted")
    box = await _find(ctx, cmd.mailbox)
    if box is None:
        return reply(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    names = [b.name for b in await ctx.store.mailboxes.list(logged_in(ctx))]
    if any(n.startswith(box.name + delimiter()) for n in names):
        return reply(cmd.tag, "NO", r.HASCHILDREN, "Mailbox has inferior mailboxes")
    try:
        await ctx.store.mailboxes.delete(box.id)
    except NotFound:
        return reply(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    closed = b""
    if ctx.selected is not None and ctx.selected.mailbox == box.id:
        # Deleting the selected mailbox closes it: back to the authenticated state, said with
        # an untagged OK [CLOSED] (RFC 9051 §7.1; unknown codes are ignored by rev1 clients).
        await ctx.deselect()
        closed = r.untagged_status("OK", r.CLOSED, "Selected mailbox deleted")
    return reply(cmd.tag, "OK", None, "DELETE completed", closed)


async def rename(ctx: Context, cmd: Rename) -> Outcome:
    old, new = cmd.old, cmd.new.rstrip(delimiter()) if cmd.new != delimiter() else cmd.new
    box = await _find(ctx, old)
    if box is None:
        return reply(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    if not _valid(new):
        return reply(cmd.tag, "NO", r.CANNOT, "Invalid mailbox name")
    if new.upper() == "INBOX" or await _find(ctx, new) is not None:
        return reply(cmd.tag, "NO", r.ALREADYEXISTS, "Mailbox already exists")
    boxes = ctx.store.mailboxes
    if old == "INBOX":
        # RFC 9051 §6.3.6: all messages in INBOX move to the new name, INBOX stays and is empty,
        # INBOX's inferiors are unaffected.
        try:
            target = await _create_path(ctx, new)
        except Conflict:
            return reply(cmd.tag, "NO", r.ALREADYEXISTS, "Mailbox already exists")
        # One transaction: the messages are in INBOX or in the new mailbox, never both or neither.
        await boxes.copy(box.id, await boxes.uids(box.id), target.id, move=True)
        return reply(cmd.tag, "OK", None, "RENAME completed")
    if new.startswith(old + delimiter()):
        return reply(cmd.tag, "NO", r.CANNOT, "Cannot move a mailbox below itself")
    for parent in superiors(new):  # RFC 9051 §6.3.6: superiors are created as needed
        if parent != old and await _find(ctx, parent) is None:
            try:
                await boxes.create(logged_in(ctx), parent)
            except Conflict:
                pass
    try:
        await boxes.rename(box.id, new)  # the store moves the inferiors along
    except Conflict:
        return reply(cmd.tag, "NO", r.ALREADYEXISTS, "Mailbox already exists")
    except NotFound:
        return reply(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    return reply(cmd.tag, "OK", None, "RENAME completed")


async def subscribe(ctx: Context, cmd: Subscribe | Unsubscribe) -> Outcome:
    # RFC 9051 §6.3.7-§6.3.8: subscriptions live on the mailbox here, so only existing mailboxes.
    box = await _find(ctx, cmd.mailbox)
    if box is None:
        if isinstance(cmd, Unsubscribe):
            return reply(cmd.tag, "OK", None, "UNSUBSCRIBE completed")  # RFC 9051 §6.3.8: not subscribed is fine
        return reply(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    await ctx.store.mailboxes.subscribe(box.id, isinstance(cmd, Subscribe))
    return reply(cmd.tag, "OK", None, f"{cmd.name} completed")


async def namespace(ctx: Context, cmd: Namespace) -> Outcome:
    # RFC 2342 §5: one personal namespace, "" with "/"; no other users', no shared.
    return ok(cmd.tag, "NAMESPACE completed", r.untagged(b'NAMESPACE (("" "' + DELIMITER.encode() + b'")) NIL NIL'))


def unsupported_status_item(ctx: Context, items: Iterable[str]) -> str | None:
    """The first STATUS item this session may not ask for: one the STATUS command does not know,
    except DELETED in an IMAP4rev2 session (RFC 9051 §9 status-att, §6.3.11)."""
    for item in items:
        # RFC 9051 §9 status-att has DELETED and no RECENT (Appendix E: \Recent is gone).
        if (item not in STATUS_SUPPORTED and not (item == "DELETED" and ctx.rev2)) or (
                item == "RECENT" and ctx.rev2):
            return item
    return None


async def status(ctx: Context, cmd: Status) -> Outcome:
    unknown = unsupported_status_item(ctx, cmd.items)
    if unknown is not None:
        return reply(cmd.tag, "BAD", None, f"Unsupported STATUS item {unknown}")
    box = await _find(ctx, cmd.mailbox)
    if box is None:
        return reply(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    return reply(cmd.tag, "OK", None, "STATUS completed", await status_line(ctx, box, cmd.items))


async def status_line(ctx: Context, box: Mailbox, items: tuple[str, ...]) -> bytes:
    """The untagged STATUS response for `box` (RFC 9051 §7.3.4), also sent by LIST-STATUS."""
    counts = await ctx.store.mailboxes.counts(box.id)
    values = {
        "MESSAGES": counts.messages,
        "UIDNEXT": max(box.uidnext, counts.last_uid + 1),
        "UIDVALIDITY": box.uidvalidity,
        "UNSEEN": counts.unseen,
        "DELETED": counts.deleted,  # RFC 9051 §6.3.11
        "RECENT": 0,  # \Recent is never set (RFC 9051 §2.3.2)
        "SIZE": counts.size,  # RFC 8438 §3
    }
    data = b" ".join(i.encode() + b" " + r.number(values[i]) for i in items)
    return r.untagged(b"STATUS " + r.mailbox_name(box.name, utf8=ctx.utf8) + b" (" + data + b")")


async def append(ctx: Context, cmd: Append) -> Outcome:
    """APPEND (RFC 9051 §6.3.12), several messages at once (MULTIAPPEND, RFC 3502): each message is
    checked, then all are stored in one transaction or none is."""
    box = await _find(ctx, cmd.mailbox)
    if box is None:
        # RFC 9051 §6.3.12: NO [TRYCREATE] when the destination does not exist.
        return reply(cmd.tag, "NO", r.TRYCREATE, "No such mailbox")
    contents = []
    for message in cmd.messages:
        content = _content(message)
        if isinstance(content, tuple):
            status, code, text = content
            return reply(cmd.tag, status, code, text)
        if len(content) > ctx.append_limit:
            return reply(cmd.tag, "NO", r.TOOBIG, f"Messages are limited to {ctx.append_limit} octets")  # RFC 7889 §4
        if not ctx.utf8 and not message.utf8 and _eight_bit_header(content):
            # RFC 6855 §4: without ENABLE UTF8=ACCEPT, no 8-bit octets in header fields.
            return reply(cmd.tag, "NO", r.CANNOT, "8-bit header fields need ENABLE UTF8=ACCEPT")
        contents.append(content)
    copies = []
    for message, content in zip(cmd.messages, contents, strict=True):
        flags = frozenset(message.flags) - {"\\Recent"}  # RFC 3501 §2.3.2: the server alone sets \Recent
        copies.append(NewCopy(await ctx.store.blobs.put(content), flags, message.internaldate or datetime.now(UTC)))
    appended = await ctx.store.mailboxes.append_all(box.id, copies)
    # Appended to the selected mailbox: the feed brings the EXISTS, `handle` reports it first.
    code = r.appenduid(appended[0].uidvalidity, [a.uid for a in appended])  # RFC 4315 §3, RFC 3502 §6.3.11
    return reply(cmd.tag, "OK", code, "APPEND completed")


def _content(message: AppendMessage) -> bytes | tuple[Condition, r.Code | None, str]:
    """The octets to store, or why not. A literal8 (RFC 3516 §4.4) is stored as sent; in a plain
    literal NUL is not allowed (RFC 9051 §4.3 CHAR8) and line ends become CRLF, so that what POP3
    and IMAP count (RFC822.SIZE, LIST) is what they send."""
    data = message.literal
    if not data:
        return ("NO", r.CANNOT, "An empty message cannot be appended")
    if message.binary or message.utf8:
        return data
    if b"\0" in data:
        return ("BAD", r.CLIENTBUG, "NUL in a literal: send it as literal8 (BINARY)")
    if data.count(b"\r\n") == data.count(b"\n") == data.count(b"\r"):
        return data
    return _LINE_END.sub(b"\r\n", data)


_LINE_END = re.compile(rb"\r\n|\r|\n")


def _eight_bit_header(data: bytes) -> bool:
    end = data.find(b"\r\n\r\n")
    header = data if end < 0 else data[:end]
    return not header.isascii()
