"""Opening and closing a mailbox: SELECT and EXAMINE (RFC 9051 §6.3.2-§6.3.3, RFC 3501
§6.3.1-§6.3.2), CLOSE (RFC 9051 §6.4.1), UNSELECT (RFC 3691), and ENABLE (RFC 5161), which
changes what SELECT and the later commands answer.

SELECT subscribes to the mailbox's change feed (`Context.listen`) before it reads the mailbox, so
no change falls between the read and the subscription; the view it builds (`selected.py`) is what
the session reports changes against. A SELECT deselects first, even when it fails.

What ENABLE changes: IMAP4rev2 makes SELECT send LIST and OK [CLOSED] instead of RECENT and
[UNSEEN]; IMAP4rev2 and UTF8=ACCEPT make mailbox names UTF-8 both ways (RFC 9051 §6.3.1,
RFC 6855 §3).

Left out, answered NO [CANNOT] "not implemented yet": the CONDSTORE and QRESYNC parameters of
SELECT and EXAMINE.
"""

from __future__ import annotations

from postoffice.imap import responses as r
from postoffice.imap.commands.listing import select_list_line
from postoffice.imap.commands.messages import deleted_uids, expunge_uids
from postoffice.imap.context import Context, logged_in, selected_view
from postoffice.imap.outcome import Outcome, ok, reply
from postoffice.imap.selected import SelectedMailbox
from postoffice.imap.wire import Close, Enable, Examine, Select, Unselect

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
# RFC 5161 §3.1, RFC 6855 §3, RFC 9051 §6.3.1: what ENABLE can turn on, as spelled in replies.
ENABLEABLE = {"IMAP4REV2": "IMAP4rev2", "UTF8=ACCEPT": "UTF8=ACCEPT"}


async def select(ctx: Context, cmd: Select | Examine) -> Outcome:
    if cmd.condstore or cmd.qresync:
        return reply(cmd.tag, "NO", r.CANNOT, "not implemented yet")
    # RFC 9051 §6.3.2: a SELECT deselects first, even when it fails; a rev2 client is told
    # with OK [CLOSED] (RFC 9051 §7.1; rev1 clients were never promised it).
    closed = r.untagged_status("OK", r.CLOSED, "Previous mailbox is now closed") if (
        ctx.selected is not None and ctx.rev2) else b""
    await ctx.deselect()
    box = await ctx.store.mailboxes.find(logged_in(ctx), cmd.mailbox)
    if box is None:
        return reply(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
    read_only = isinstance(cmd, Examine)
    ctx.listen(box.id)  # before reading: no change falls in between
    box = await ctx.store.mailboxes.get(box.id)
    uids = await ctx.store.mailboxes.uids(box.id)
    counts = await ctx.store.mailboxes.counts(box.id)
    view = SelectedMailbox(box.id, box.uidvalidity, uids, highestmodseq=box.highestmodseq, read_only=read_only,
                           name=box.name)
    ctx.select(view)
    uidnext = max(box.uidnext, (uids[-1] + 1) if uids else 1)
    # RFC 3501 §6.3.1: FLAGS, EXISTS, RECENT, and OK [UNSEEN] [PERMANENTFLAGS] [UIDVALIDITY] [UIDNEXT];
    # RFC 9051 §6.3.2: FLAGS, EXISTS, LIST, and the same OKs but UNSEEN (RECENT is gone in rev2).
    out = [closed, r.untagged(b"FLAGS " + r.flag_list(SYSTEM_FLAGS)), r.untagged(b"%d EXISTS" % len(uids))]
    if ctx.rev2:
        out.append(await select_list_line(ctx, box))
    else:
        out.append(r.untagged(b"0 RECENT"))  # \Recent is never set (RFC 9051 §2.3.2)
        first = counts.first_unseen_uid
        unseen = view.seq_of(first) if first is not None else None
        if unseen is not None:
            out.append(r.untagged_status("OK", r.code("UNSEEN", unseen), "First unseen"))
    permanent = () if read_only else SYSTEM_FLAGS + ("\\*",)
    out += [r.untagged_status("OK", r.permanentflags(permanent), "Flags permitted"),
            r.untagged_status("OK", r.uidvalidity(box.uidvalidity), "UIDs valid"),
            r.untagged_status("OK", r.uidnext(uidnext), "Predicted next UID")]
    code = r.READ_ONLY if read_only else r.READ_WRITE
    return ok(cmd.tag, f"{cmd.name} completed", *out, code=code)


async def close(ctx: Context, cmd: Close | Unselect) -> Outcome:
    view = selected_view(ctx)
    if isinstance(cmd, Close) and not view.read_only:
        # RFC 9051 §6.4.1: CLOSE expunges \Deleted silently (no EXPUNGE responses).
        uids = await deleted_uids(ctx)
        if uids:
            await expunge_uids(ctx, view, uids)
    await ctx.deselect()
    return ok(cmd.tag, f"{cmd.name} completed")


async def enable(ctx: Context, cmd: Enable) -> Outcome:
    # RFC 5161 §3.1-§3.2: ENABLED lists what this command turned on, nothing else.
    new = [c for c in dict.fromkeys(cmd.capabilities) if c in ENABLEABLE and c not in ctx.enabled]
    ctx.enable(new)
    line = r.untagged(" ".join(["ENABLED"] + [ENABLEABLE[c] for c in new]))
    return ok(cmd.tag, "ENABLE completed", line)
