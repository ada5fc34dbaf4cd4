"""FETCH, STORE, SEARCH, COPY and MOVE (and their UID forms), EXPUNGE and UID EXPUNGE, on the
selected mailbox: RFC 9051 §6.4.3-§6.4.9, RFC 6851 (MOVE), RFC 4315 §2.1 (UID EXPUNGE); RFC 3501 §6.4.5
for the rev1 RFC822, RFC822.HEADER and RFC822.TEXT items; ESEARCH (RFC 4731, RFC 9051 §7.3.4),
SEARCHRES (RFC 5182, RFC 9051 §6.4.4.1) and BINARY (RFC 3516, RFC 9051 §6.4.5, §7.5.2).

Messages are read per command from the store (`mailboxes.messages`), the parsed form and the
bytes only when an item or a search key needs them. Numbers resolve against the session's view
(`selected.py`), so a message expunged elsewhere but not yet reported keeps its number; FETCH sends
nothing for it (RFC 9051 §7.5.2 allows NO or nothing).

SEARCH answers "* SEARCH" without RETURN in an IMAP4rev1 session, and one "* ESEARCH" with
RETURN, or always once IMAP4rev2 is enabled (RFC 9051 §6.4.4: no options means ALL). RETURN (SAVE)
keeps the result in the view (`SelectedMailbox.saved`, as UIDs), which "$" names in FETCH, STORE,
SEARCH, COPY, MOVE, UID EXPUNGE and their UID forms. BINARY decodes a leaf part's
Content-Transfer-Encoding (`fetch_data.binary_bytes`); every BINARY item of every message is
decoded before anything is answered or \\Seen is set, so a FETCH refused for one message
(NO [UNKNOWN-CTE]) changes nothing and sends no partial results.

Choices: BINARY of a multipart or message/rfc822|global part answers NO [CLIENTBUG] (RFC 9051
§6.4.5: leaf parts only); BINARY[] is the message as stored; BINARY of a part that does not exist
is NIL and its BINARY.SIZE 0. A SEARCH RETURN (SAVE) is never refused (no NOTSAVED, RFC 9051
§6.4.4.3): one result per session, bounded by the mailbox.

Left out (NO [CANNOT]): MODSEQ, CHANGEDSINCE, UNCHANGEDSINCE, and so the ESEARCH MODSEQ return
data (RFC 4731 §3.2, CONDSTORE only).
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from typing import Any

from postoffice.imap import fetch_data as fd
from postoffice.imap import responses as r
from postoffice.imap import search
from postoffice.imap.context import Context, logged_in, selected_view
from postoffice.imap.outcome import Outcome, Refused, ok, reply, update_line
from postoffice.imap.wire import (
    Binary, BinarySize, BodySection, Copy, Expunge, Fetch, Move, Search, Section, SequenceSet, Store, UidExpunge,
)
from postoffice.imap.selected import SelectedMailbox
from postoffice.store.api import FlagMode, StoredMessage
from postoffice.trace.events import Access, Event, Stage

log = logging.getLogger(__name__)

_NEEDS_PARSED = frozenset({"ENVELOPE", "BODY", "BODYSTRUCTURE"})
_NEEDS_RAW = frozenset({"RFC822", "RFC822.HEADER", "RFC822.TEXT"})
# RFC 3501 §6.4.5: RFC822 is BODY[], RFC822.HEADER is BODY.PEEK[HEADER], RFC822.TEXT is BODY[TEXT].
_RFC822 = {"RFC822": (Section(), False), "RFC822.HEADER": (Section(text="HEADER"), True),
           "RFC822.TEXT": (Section(text="TEXT"), False)}
_EMIT_OVER = 1 << 20  # octets of FETCH responses held before they are written out
_YIELD_EVERY = 200  # messages read between two turns of the event loop in a long FETCH or SEARCH
_MODES = {"+": FlagMode.ADD, "-": FlagMode.REMOVE, "": FlagMode.REPLACE}


class BadSequence(Refused):
    """RFC 9051 §9 seq-number: a number above the message count is the client's error."""

    def __init__(self) -> None:
        super().__init__("BAD", None, "Invalid message sequence number")


def targets(ctx: Context, sequence: SequenceSet, uid: bool) -> list[tuple[int, int]]:
    """(seq, uid) of the messages `sequence` names, in the session's view, ascending."""
    view = selected_view(ctx)
    if sequence.saved:
        # RFC 5182 §2.1, RFC 9051 §6.4.4.1: "$" is the saved result, in either form of the command
        # (the view keeps UIDs and maps them to numbers); before any SAVE it names no message.
        return view.saved_targets()
    if uid:
        # RFC 9051 §6.4.9: "*" is the largest UID in use; UIDs not in the mailbox are ignored.
        uids = view.uids
        found: list[tuple[int, int]] = []
        for low, high in sequence.intervals(uids[-1] if uids else 0):
            start, stop = bisect.bisect_left(uids, low), bisect.bisect_right(uids, high)
            found += zip(range(start + 1, stop + 1), uids[start:stop])
        return found
    intervals = sequence.intervals(view.exists)
    if intervals and intervals[-1][1] > view.exists:
        raise BadSequence
    return [(n, view.uids[n - 1]) for low, high in intervals for n in range(low, high + 1)]


async def _messages(ctx: Context, uids: list[int] | None = None) -> dict[int, StoredMessage]:
    """The stored messages of the selected mailbox, all or those of `uids` (ascending)."""
    return {m.uid: m for m in await ctx.store.mailboxes.messages(selected_view(ctx).mailbox, uids)}


async def deleted_uids(ctx: Context) -> list[int]:
    return await ctx.store.mailboxes.uids(selected_view(ctx).mailbox, flagged="\\Deleted")


# --- FETCH ---------------------------------------------------------------------------------------------

async def fetch(ctx: Context, cmd: Fetch) -> Outcome:
    attrs = list(cmd.attributes)
    if cmd.changedsince is not None or "MODSEQ" in attrs:
        return reply(cmd.tag, "NO", r.CANNOT, "not implemented yet")
    if cmd.uid and "UID" not in attrs:
        attrs.insert(0, "UID")  # RFC 9051 §6.4.9: UID FETCH always reports UID
    names = [a for a in attrs if isinstance(a, str)]
    if len(names) == len(attrs) and set(names) <= {"UID", "FLAGS"} and len(set(names)) == len(names):
        return await _fetch_flags(ctx, cmd, names)
    wanted = targets(ctx, cmd.sequence, cmd.uid)
    stored = await _messages(ctx, [u for _, u in wanted])
    view = selected_view(ctx)
    live = [stored[u] for _, u in wanted if u in stored and not view.is_expunged(u)]
    # Decoded first: a refusal (RFC 9051 §7.5.2 UNKNOWN-CTE) leaves \Seen as it was.
    decoded = await _binaries(ctx, live, attrs)
    # RFC 3501 §6.4.5, RFC 9051 §6.4.5: a non-PEEK BODY[] or BINARY[] sets \Seen; the new FLAGS
    # are part of the response.
    marks_seen = not view.read_only and any(
        (isinstance(a, (BodySection, Binary)) and not a.peek) or a in ("RFC822", "RFC822.TEXT") for a in attrs)
    changed: set[int] = set()
    if marks_seen:
        unseen = [u for _, u in wanted if u in stored and "\\Seen" not in stored[u].flags]
        if unseen:
            for change in await ctx.store.mailboxes.set_flags(view.mailbox, unseen, frozenset({"\\Seen"}),
                                                                   FlagMode.ADD):
                old = stored[change.uid]
                stored[change.uid] = StoredMessage(old.uid, change.modseq, change.flags, old.internaldate, old.size,
                                                   old.blob, old.prefix, old.queue_id)
                changed.add(change.uid)
            ctx.drain_feed()
            view.forget_flags(changed)
    if changed and "FLAGS" not in attrs:
        attrs.append("FLAGS")
    needs_parsed = any(a in _NEEDS_PARSED or isinstance(a, BodySection) or a in _NEEDS_RAW for a in attrs)
    needs_raw = any(isinstance(a, BodySection) or a in _NEEDS_RAW for a in attrs)
    out: list[bytes] = []
    held = 0
    read: list[StoredMessage] = []  # whose content went to the client: their journey hears of it
    for n, (seq, uid) in enumerate(wanted, 1):
        m = stored.get(uid)
        if m is None or view.is_expunged(uid):
            continue  # expunged elsewhere: nothing sent (RFC 9051 §7.5.2)
        if needs_raw and m.queue_id and uid not in view.told:
            read.append(m)
        if needs_parsed and n % _YIELD_EVERY == 0:
            await asyncio.sleep(0)  # the parsed forms are read on this thread: let other sessions in
        parsed = await ctx.store.blobs.parsed(m.blob) if needs_parsed else None
        raw = await ctx.store.blobs.read_message(m) if needs_raw else None
        out.append(r.fetch(seq, _items(m, attrs, parsed, raw, decoded.get(uid, {}))))
        held += len(out[-1])
        if held > _EMIT_OVER and ctx.emit is not None:
            await ctx.emit(b"".join(out))  # results go in order, ahead of the tagged OK
            out, held = [], 0
    if read:
        view.told.update(m.uid for m in read)
        tell_journey(ctx, view, read, Stage.FETCHED)
    return ok(cmd.tag, f"{cmd.name} completed", b"".join(out))


_journey_writes: set[asyncio.Task[None]] = set()


def tell_journey(ctx: Context, view: SelectedMailbox, messages: list[StoredMessage], stage: Stage) -> None:
    """Records `stage` (FETCHED or EXPUNGED) in the journeys of messages that came through the
    queue; FETCHED once per account and mailbox (the store keeps which were told, and the view
    too, so a re-fetch writes nothing). Written in the background: no client waits for it."""
    account, mailbox = ctx.address or "", view.name
    once_per = f"imap {ctx.account} {view.mailbox}" if stage is Stage.FETCHED else None

    def event(m: StoredMessage) -> Event:
        return Event(stage, Access(protocol="IMAP", account=account, mailbox=mailbox, uid=m.uid))

    async def write() -> None:
        try:
            await ctx.store.journey.record_for(messages, event, once_per=once_per)
        except Exception:
            log.exception("imap: journey of %d messages (%s) for %s not written", len(messages), stage.value, account)

    task = asyncio.create_task(write())
    _journey_writes.add(task)
    task.add_done_callback(_journey_writes.discard)


async def _fetch_flags(ctx: Context, cmd: Fetch, attrs: list[str]) -> Outcome:
    """FETCH of UID and FLAGS alone, what a client syncing flags asks of every message ("UID FETCH
    1:* (FLAGS)"): from the store's flag rows, one line per message written directly."""
    view = selected_view(ctx)
    wanted = targets(ctx, cmd.sequence, cmd.uid)
    flags = dict(await ctx.store.mailboxes.flags(view.mailbox, [u for _, u in wanted]))
    line = {("UID", "FLAGS"): b"* %d FETCH (UID %d FLAGS %s)\r\n", ("FLAGS", "UID"): b"* %d FETCH (FLAGS %s UID %d)\r\n",
            ("FLAGS",): b"* %d FETCH (FLAGS %s)\r\n", ("UID",): b"* %d FETCH (UID %d)\r\n"}[tuple(attrs)]
    out = []
    for seq, uid in wanted:
        f = flags.get(uid)
        if f is None or view.is_expunged(uid):
            continue  # expunged elsewhere: nothing sent (RFC 9051 §7.5.2)
        if "\\Recent" in f:
            f = f - {"\\Recent"}  # as `_items`: \Recent is never reported (RFC 9051 §2.3.2)
        match attrs:
            case ["UID", "FLAGS"]:
                out.append(line % (seq, uid, r.flag_list(f)))
            case ["FLAGS", "UID"]:
                out.append(line % (seq, r.flag_list(f), uid))
            case ["FLAGS"]:
                out.append(line % (seq, r.flag_list(f)))
            case _:
                out.append(line % (seq, uid))
    return ok(cmd.tag, f"{cmd.name} completed", b"".join(out))


Decoded = dict[tuple[int, ...], bytes | None]  # part -> BINARY content, None for no such part


async def _binaries(ctx: Context, messages: list[StoredMessage], attrs: list[Any]) -> dict[int, Decoded]:
    """uid -> the content of each BINARY / BINARY.SIZE part asked for. Raises Refused (NO) when a
    part cannot be decoded, for the whole FETCH (RFC 9051 §7.5.2: "it MUST fail the request")."""
    parts = list(dict.fromkeys(a.part for a in attrs if isinstance(a, (Binary, BinarySize))))
    if not parts:
        return {}
    out: dict[int, Decoded] = {}
    for m in messages:
        parsed = await ctx.store.blobs.parsed(m.blob)
        raw = None
        found: Decoded = {}
        for part in parts:
            match fd.binary_refusal(parsed, part):
                case fd.UNKNOWN_CTE:
                    raise Refused("NO", r.UNKNOWN_CTE, "Unknown Content-Transfer-Encoding")
                case fd.NOT_A_LEAF:
                    # RFC 9051 §6.4.5: BINARY "can only be requested for leaf body parts".
                    raise Refused("NO", r.CLIENTBUG, "BINARY applies to single parts, not multipart or message parts")
                case fd.NO_SUCH_PART:
                    found[part] = None
                case _:
                    if raw is None:
                        raw = await ctx.store.blobs.read_message(m)
                    found[part] = fd.binary_bytes(raw, parsed, len(m.prefix), part)
        out[m.uid] = found
    return out


def _binary_name(kind: str, part: tuple[int, ...]) -> str:
    return kind + "[" + ".".join(map(str, part)) + "]"


def _items(m: StoredMessage, attrs: list[Any], parsed: Any, raw: bytes | None,
           decoded: Decoded) -> list[tuple[str, bytes]]:
    prefix = len(m.prefix)
    items: list[tuple[str, bytes]] = []
    for a in attrs:
        match a:
            case "UID":
                items.append(("UID", r.number(m.uid)))
            case "FLAGS":
                items.append(("FLAGS", r.flag_list(m.flags - {"\\Recent"})))
            case "INTERNALDATE":
                items.append(("INTERNALDATE", fd.internal_date(m.internaldate)))
            case "RFC822.SIZE":
                items.append(("RFC822.SIZE", r.number(m.size)))
            case "ENVELOPE":
                items.append(("ENVELOPE", fd.envelope(parsed)))
            case "BODY" | "BODYSTRUCTURE":
                items.append((a, fd.body_structure(parsed, a == "BODYSTRUCTURE")))
            case "RFC822" | "RFC822.HEADER" | "RFC822.TEXT":
                assert raw is not None  # read for every message when such an item is asked for
                section, _ = _RFC822[a]
                data = fd.section_bytes(raw, parsed, prefix, section.part, section.text, section.fields)
                items.append((a, r.NIL if data is None else r.literal(data)))
            case BodySection(section=section, partial=part):
                assert raw is not None  # as for RFC822
                data = fd.section_bytes(raw, parsed, prefix, section.part, section.text, section.fields)
                name = "BODY" + str(section)
                if part is not None:
                    name += f"<{part[0]}>"  # RFC 9051 §7.5.2: the origin only
                    if data is not None:
                        data = fd.partial(data, part[0], part[1])
                items.append((name, r.NIL if data is None else r.literal(data)))
            case Binary(part=part, partial=part_range):
                data = decoded[part]
                name = _binary_name("BINARY", part)  # BINARY.PEEK answers as BINARY
                if part_range is not None:
                    # RFC 9051 §6.4.5: the origin and count count decoded octets; the response
                    # names the origin, as for BODY (§7.5.2 BINARY[<section-binary>]<<number>>).
                    name += f"<{part_range[0]}>"
                    if data is not None:
                        data = fd.partial(data, part_range[0], part_range[1])
                # RFC 9051 §7.5.2: a string unless the content holds NUL, then a literal8.
                items.append((name, r.NIL if data is None else r.binary_value(data)))
            case BinarySize(part=part):
                # RFC 9051 §7.5.2: the size BINARY[part] has, counted from the same bytes.
                data = decoded[part]
                items.append((_binary_name("BINARY.SIZE", part), r.number(0 if data is None else len(data))))
    return items


# --- STORE ---------------------------------------------------------------------------------------------

async def store(ctx: Context, cmd: Store) -> Outcome:
    if cmd.unchangedsince is not None:
        return reply(cmd.tag, "NO", r.CANNOT, "not implemented yet")
    view = selected_view(ctx)
    if view.read_only:
        return reply(cmd.tag, "NO", r.READ_ONLY, "Mailbox is read-only")
    wanted = [(s, u) for s, u in targets(ctx, cmd.sequence, cmd.uid) if not view.is_expunged(u)]
    flags = frozenset(cmd.flags) - {"\\Recent"}  # RFC 3501 §2.3.2: the server alone sets \Recent
    changes = await ctx.store.mailboxes.set_flags(view.mailbox, [u for _, u in wanted], flags, _MODES[cmd.mode])
    # Our own change comes back on the feed: drop it there, it is reported here (or not, .SILENT).
    ctx.drain_feed()
    view.forget_flags({u for _, u in wanted})
    if cmd.silent:
        return ok(cmd.tag, f"{cmd.name} completed")
    now = {c.uid: c.flags for c in changes}
    unchanged = [u for _, u in wanted if u not in now]
    if unchanged:  # RFC 9051 §6.4.6: the flags of every message stored to are reported
        stored = await _messages(ctx, unchanged)
        now.update({u: stored[u].flags for u in unchanged if u in stored})
    out = []
    for seq, uid in wanted:
        if uid in now:
            items = [("FLAGS", r.flag_list(now[uid] - {"\\Recent"}))]
            if cmd.uid:
                items.append(("UID", r.number(uid)))
            out.append(r.fetch(seq, items))
    return ok(cmd.tag, f"{cmd.name} completed", b"".join(out))


# --- SEARCH --------------------------------------------------------------------------------------------

async def search_(ctx: Context, cmd: Search) -> Outcome:
    if cmd.charset is not None and "UTF8=ACCEPT" in ctx.enabled:
        # RFC 6855 §3: after ENABLE UTF8=ACCEPT a charset conflicts with the session's UTF-8.
        return reply(cmd.tag, "BAD", r.CLIENTBUG, "No CHARSET after ENABLE UTF8=ACCEPT")
    view = selected_view(ctx)
    returns = cmd.returns
    if returns is None and ctx.rev2:
        returns = ()  # RFC 9051 §6.4.4: always ESEARCH; no result option means ALL
    saving = returns is not None and "SAVE" in returns
    if cmd.charset is not None and cmd.charset not in ("US-ASCII", "UTF-8"):
        if saving:
            view.save(())  # RFC 9051 §6.4.4.1: a SEARCH with SAVE answered NO empties "$"
        return reply(cmd.tag, "NO", r.badcharset(["US-ASCII", "UTF-8"]), "Unknown charset")
    try:
        found = await _matching(ctx, cmd)
    except Exception:
        if saving:
            view.save(())  # the NO [SERVERBUG] the session answers empties "$" too
        raise
    numbers = [uid if cmd.uid else seq for seq, uid in found]
    if returns is None:
        line = r.untagged(b"SEARCH" + b"".join(b" %d" % n for n in numbers))
        return ok(cmd.tag, f"{cmd.name} completed", line)
    if saving:
        view.save(_to_save(returns, [uid for _, uid in found]))
    data = _esearch_data(returns, numbers)
    line = b"" if data is None else r.esearch(cmd.tag, cmd.uid, data)
    return ok(cmd.tag, f"{cmd.name} completed", line)


async def _matching(ctx: Context, cmd: Search) -> list[tuple[int, int]]:
    """(seq, uid) of the messages that match, ascending."""
    view = selected_view(ctx)
    need = search.needs(cmd.criteria)
    headers: dict[int, dict[str, list[str]]] = {}
    if search.HEADERS in need and search.PARSED not in need:
        # Two reads at once, on two reader threads.
        stored, headers = await asyncio.gather(_messages(ctx), ctx.store.mailboxes.search_headers(view.mailbox))
    else:
        stored = await _messages(ctx)
    known = search.Context(exists=view.exists, last_uid=view.uids[-1] if view.uids else 0, saved=view.saved)
    found = []
    for seq, uid in enumerate(view.uids, 1):
        m = stored.get(uid)
        if m is None or view.is_expunged(uid):
            continue
        if seq % _YIELD_EVERY == 0 and need:
            await asyncio.sleep(0)  # as in FETCH: a long search does not hold other sessions up
        c = search.Candidate(seq, uid, m.flags, m.internaldate, m.size, m.modseq, prefix_len=len(m.prefix))
        if search.PARSED in need:
            c.parsed = await ctx.store.blobs.parsed(m.blob)
            c.headers = c.parsed.headers
        elif search.HEADERS in need:
            c.headers = headers.get(uid, {})
        if search.RAW in need:
            c.raw = await ctx.store.blobs.read_message(m)
        if search.matches(cmd.criteria, c, known):
            found.append((seq, uid))
    return found


def _esearch_data(returns: tuple[str, ...], numbers: list[int]) -> list[tuple[str, bytes]] | None:
    """The ESEARCH return data for `numbers` (ascending), or None when no ESEARCH is due: SAVE
    alone suppresses it (RFC 9051 §6.4.4, RFC 5182 §1). RFC 4731 §3.1: "RETURN ()" is ALL; MIN,
    MAX and ALL are left out when nothing matched, COUNT never; ALL is a sequence-set."""
    wanted = set(returns) - {"SAVE"} if returns else {"ALL"}
    if not wanted:
        return None
    data: list[tuple[str, bytes]] = []
    if numbers and "MIN" in wanted:
        data.append(("MIN", r.number(numbers[0])))
    if numbers and "MAX" in wanted:
        data.append(("MAX", r.number(numbers[-1])))
    if "COUNT" in wanted:
        data.append(("COUNT", r.number(len(numbers))))
    if numbers and "ALL" in wanted:
        data.append(("ALL", r.sequence_set(numbers).encode("ascii")))
    return data


def _to_save(returns: tuple[str, ...], uids: list[int]) -> list[int]:
    """What SAVE keeps (RFC 5182 §2.4, RFC 9051 §6.4.4.1 table 4): with MIN and/or MAX but neither
    ALL nor COUNT, only the message(s) those name; otherwise every message found."""
    if not uids or "ALL" in returns or "COUNT" in returns or not {"MIN", "MAX"} & set(returns):
        return uids
    return [u for u, wanted in ((uids[0], "MIN" in returns), (uids[-1], "MAX" in returns)) if wanted]


# --- COPY, MOVE, EXPUNGE, UID EXPUNGE ------------------------------------------------------------------

async def copy_move(ctx: Context, cmd: Copy | Move) -> Outcome:
    """COPY / UID COPY (RFC 9051 §6.4.7, §6.4.9; RFC 4315 §3 COPYUID) and MOVE / UID MOVE (RFC 6851
    §3.1-§3.3, §4.3): one store transaction (`mailboxes.copy`), flags, internal date and octets kept.

    MOVE answers "* OK [COPYUID ...]", then EXPUNGE for each moved message, then the other pending
    updates (numbered after those expunges), then the tagged OK. The moved messages leave this
    session's view at once, also for the sequence-number form (RFC 6851 §3.3: the server MUST send
    the EXPUNGEs); expunges made elsewhere wait as after any sequence-number command."""
    view = selected_view(ctx)
    move = isinstance(cmd, Move)
    if move and view.read_only:
        return reply(cmd.tag, "NO", r.READ_ONLY, "Mailbox is read-only")
    found = targets(ctx, cmd.sequence, cmd.uid)
    target = await ctx.store.mailboxes.find(logged_in(ctx), cmd.mailbox)
    if target is None:
        # RFC 9051 §6.4.7: NO [TRYCREATE] when the destination does not exist.
        return reply(cmd.tag, "NO", r.TRYCREATE, "No such mailbox")
    uids = [u for _, u in found if not view.is_expunged(u)]
    pairs = await ctx.store.mailboxes.copy(view.mailbox, uids, target.id, move=move) if uids else []
    code = r.copyuid(target.uidvalidity, [s for s, _ in pairs], [d for _, d in pairs]) if pairs else None
    if not move:
        # RFC 4315 §3: COPYUID in the tagged OK; no message matched is still OK (RFC 9051 §6.4.9).
        return ok(cmd.tag, "COPY completed", code=code)
    out = [r.untagged_status("OK", code, "Moved")] if code is not None else []
    ctx.drain_feed()
    out += [update_line(u) for u in view.expunge_now({s for s, _ in pairs})]
    out += [update_line(u) for u in view.updates(allow_expunge=cmd.uid)]
    return ok(cmd.tag, "MOVE completed", *out)


async def expunge(ctx: Context, cmd: Expunge) -> Outcome:
    view = selected_view(ctx)
    if view.read_only:
        return reply(cmd.tag, "NO", r.READ_ONLY, "Mailbox is read-only")
    uids = await deleted_uids(ctx)
    if uids:
        # The store publishes the expunges to our own feed too: the session reports them (and any
        # made elsewhere) as EXPUNGE responses before the tagged OK (RFC 9051 §6.4.3).
        await expunge_uids(ctx, view, uids)
    return ok(cmd.tag, "EXPUNGE completed")


async def expunge_uids(ctx: Context, view: SelectedMailbox, uids: list[int]) -> None:
    """Expunges `uids` of the selected mailbox, and tells their journeys."""
    gone = [m for m in await ctx.store.mailboxes.messages(view.mailbox, uids) if m.queue_id]
    await ctx.store.mailboxes.expunge(view.mailbox, uids)
    if gone:
        tell_journey(ctx, view, gone, Stage.EXPUNGED)


async def uid_expunge(ctx: Context, cmd: UidExpunge) -> Outcome:
    """RFC 4315 §2.1: expunges only the messages with \\Deleted whose UIDs are in the set; the
    EXPUNGE responses come from the change feed, reported by `handle` before the tagged OK."""
    if selected_view(ctx).read_only:
        return reply(cmd.tag, "NO", r.READ_ONLY, "Mailbox is read-only")
    try:
        wanted = {u for _, u in targets(ctx, cmd.sequence, True)}
    except BadSequence:
        return reply(cmd.tag, "BAD", None, "Invalid UID set")
    uids = [u for u in await deleted_uids(ctx) if u in wanted]
    if uids:
        await expunge_uids(ctx, selected_view(ctx), uids)
    return ok(cmd.tag, "UID EXPUNGE completed")
