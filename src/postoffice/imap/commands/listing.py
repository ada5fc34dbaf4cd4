"""LIST and LSUB: which mailbox names a client sees, with their attributes.

RFCs: RFC 9051 §6.3.9 (LIST, basic and extended syntax) and §7.3.1 (the LIST response); RFC 5258
(LIST-EXTENDED: selection options SUBSCRIBED, REMOTE, RECURSIVEMATCH, return options SUBSCRIBED and
CHILDREN, several patterns, \\NonExistent, the CHILDINFO extended data item); RFC 3348 as folded into
RFC 5258 §4 (\\HasChildren / \\HasNoChildren); RFC 5819 (LIST-STATUS); RFC 6154 §2 (special-use
attributes, the SPECIAL-USE selection and return options); RFC 3501 §6.3.8-§6.3.9 (rev1 LIST and
LSUB); RFC 6855 §3 (UTF-8 names in LIST and LSUB after ENABLE UTF8=ACCEPT).

What the store makes true, and so what is never sent:
- every mailbox that exists is selectable, and CREATE and RENAME make the missing superiors, so
  \\Noselect is never the attribute of an existing name;
- subscriptions live on the mailbox row (`Mailbox.subscribed`): SUBSCRIBE needs an existing mailbox
  and DELETE takes the subscription with it, so a subscribed name that does not exist cannot arise
  and "(\\Subscribed \\NonExistent)" (RFC 5258 §5 example 2, "Fruit/Peach") is never sent;
- a level of hierarchy without a mailbox of its own ("music" above "music/rock") arises only when
  something makes an inferior without its superiors (an import, or a DELETE racing a CREATE). Such
  a level is listed like the RFC 5258 §5 example 11 server does: only when a pattern reaches it but
  not a descendant that meets the selection criteria, as "\\NonExistent \\HasChildren" (the rev1
  basic LIST says "\\Noselect", RFC 3501 §6.3.8), and never with a STATUS;
- no remote mailboxes: REMOTE is accepted and changes nothing (RFC 5258 §3.1), \\Remote is never
  sent. Neither are \\Noinferiors (any mailbox can have inferiors), \\Marked / \\Unmarked (RFC 9051
  §7.3.1: SHOULD NOT when not cheap to know) nor OLDNAME (names are never normalized).

Always sent: \\HasChildren or \\HasNoChildren (CHILDREN is advertised; RFC 5258 §4 allows them
without the return option) and the mailbox's special-use attribute (RFC 6154 §2 allows it without
the return option). \\Subscribed is sent when asked for, by the SUBSCRIBED selection or return
option (RFC 5258 §3.1-§3.2); the LSUB-style reading of \\Noselect stays with LSUB.

RECURSIVEMATCH: a name that does not meet the selection criteria is listed with CHILDINFO only when
a descendant that meets them is not listed itself (RFC 5258 §3.5: "servers SHOULD suppress
redundant CHILDINFO responses"; the "*" variant of §5 example 9 shows redundant ones, which we do
not send); a name that meets them carries CHILDINFO whenever a descendant does (§3.5 table).

Patterns are matched by walking the set of pattern positions, not by a backtracking regular
expression, so a pattern such as "%%%%%%%%%%%%%%%%%%%%x" costs time linear in the name.

LSUB (RFC 3501 §6.3.9) is deprecated by RFC 9051 (Appendix E item 19) and still answered in every
session: rev1 clients depend on it.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from postoffice.imap import responses as r
from postoffice.imap.context import Context, logged_in
from postoffice.imap.outcome import Outcome, reply
from postoffice.imap.commands.mailboxes import (
    MAX_NAME_OCTETS, delimiter, status_line, superiors, unsupported_status_item,
)
from postoffice.imap.wire import List, Lsub
from postoffice.store.api import Mailbox, NotFound

log = logging.getLogger(__name__)

# Selection options that restrict what is listed (RFC 5258 §3.1, RFC 6154 §2), in the order CHILDINFO
# names them; REMOTE widens instead and RECURSIVEMATCH only modifies these.
_CRITERIA = ("SUBSCRIBED", "SPECIAL-USE")


# --- patterns ----------------------------------------------------------------------------------------

def match(pattern: str, name: str, delimiter: str = "/") -> bool:
    """RFC 9051 §6.3.9: "*" matches zero or more characters, "%" the same but not the hierarchy
    delimiter; every other character matches itself. Linear in len(name) x len(pattern)."""
    end = len(pattern)

    def closure(positions: Iterable[int]) -> set[int]:
        out: set[int] = set()
        todo = list(positions)
        while todo:
            i = todo.pop()
            if i not in out:
                out.add(i)
                if i < end and pattern[i] in "*%":
                    todo.append(i + 1)  # a wildcard may match nothing
        return out

    states = closure([0])
    for ch in name:
        following = set()
        for i in states:
            if i == end:
                continue
            p = pattern[i]
            if p == "*" or (p == "%" and ch != delimiter):
                following.add(i)
            elif p == ch:
                following.add(i + 1)
        if not following:
            return False
        states = closure(following)
    return end in states


# A run of wildcards matches what one does ("%%" as "%", any run with "*" as "*"): one position
# instead of thousands in `match`, for a pattern (a literal, up to the literal limit) made of them.
_WILDCARD_RUN = re.compile(r"[*%]{2,}")


def matcher(reference: str, patterns: Iterable[str]) -> Callable[[str], bool]:
    """Whether a name matches one of the canonical LIST patterns: the reference with each pattern
    appended (RFC 9051 §6.3.9: we have no breakout characters, so that is the canonical form).

    RFC 9051 §6.3.9: INBOX is listed when the upper-case string "INBOX" matches ("inbox", "In%");
    RFC 9051 §5.1: INBOX is case-insensitive, so a pattern starting "inbox/" reaches INBOX's
    inferiors too."""
    sep = delimiter()
    canonical: list[str] = []
    for pattern in patterns:
        full = _WILDCARD_RUN.sub(lambda m: "*" if "*" in m[0] else "%", reference + pattern)
        if len(full) > 2 * MAX_NAME_OCTETS + 1:
            continue  # more characters to match than any name has (each wildcard may match none)
        canonical.append(full)
        if full[:5].upper() == "INBOX" and full[5:6] in ("", sep) and not full.startswith("INBOX"):
            canonical.append("INBOX" + full[5:])

    def matches(name: str) -> bool:
        if name == "INBOX":
            return any(match(p.upper(), name, sep) for p in canonical)
        return any(match(p, name, sep) for p in canonical)

    return matches


def _order(name: str) -> tuple[bool, list[str]]:
    """INBOX and its inferiors first, then the rest level by level in code point order, so each
    parent comes right before its inferiors ("Foo", "Foo/Bar", "Foo Bar")."""
    return (name != "INBOX" and not name.startswith("INBOX" + delimiter()), name.split(delimiter()))


# --- LIST --------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Listed:
    """One LIST response to send: `box` None for a level of hierarchy that does not exist; `meets`
    when it meets the selection criteria (RFC 5258 §3.3 reason A, the only ones given a STATUS);
    `childinfo` when a descendant does (sent only under RECURSIVEMATCH, RFC 5258 §3.5)."""

    name: str
    box: Mailbox | None
    has_children: bool
    meets: bool
    childinfo: bool


def select_entries(boxes: Iterable[Mailbox], matches: Callable[[str], bool], selection: Iterable[str]) -> list[Listed]:
    """The names a LIST answers, in order (RFC 5258 §3, §3.3, §3.5)."""
    selection = frozenset(selection)
    criteria = [c for c in _CRITERIA if c in selection]
    recursive = "RECURSIVEMATCH" in selection

    def meets(box: Mailbox) -> bool:
        # RFC 5258 §3: the selection options are cumulative.
        return (("SUBSCRIBED" not in criteria or box.subscribed)
                and ("SPECIAL-USE" not in criteria or box.special_use is not None))

    existing = {box.name: box for box in boxes}
    descendants: dict[str, list[Mailbox]] = defaultdict(list)
    for mailbox in existing.values():
        for superior in superiors(mailbox.name):
            descendants[superior].append(mailbox)
    out: list[Listed] = []
    for name in sorted(existing.keys() | descendants.keys(), key=_order):
        if not matches(name):
            continue
        box, below = existing.get(name), descendants.get(name, [])
        if box is not None and meets(box):
            out.append(Listed(name, box, bool(below), True, recursive and any(meets(d) for d in below)))
        elif recursive or (box is None and not criteria):
            # RFC 5258 §3.3 reason B: listed only for a descendant that meets the criteria and is
            # not listed itself; under RECURSIVEMATCH with CHILDINFO (§3.5), otherwise a missing
            # level as "\NonExistent \HasChildren" (§3.5 note, §5 example 11).
            if any(meets(d) and not matches(d.name) for d in below):
                out.append(Listed(name, box, True, False, recursive))
    return out


async def list_(ctx: Context, cmd: List) -> Outcome:
    unknown = unsupported_status_item(ctx, cmd.status)
    if unknown is not None:
        return reply(cmd.tag, "BAD", None, f"Unsupported STATUS item {unknown}")
    sep = delimiter().encode()
    if not cmd.extended and cmd.patterns == ("",):
        # RFC 9051 §6.3.9: in the basic syntax an empty pattern asks for the delimiter and the
        # root of the reference, which is "" as our names are not rooted.
        return reply(cmd.tag, "OK", None, "LIST completed", r.untagged(b'LIST (\\Noselect) "' + sep + b'" ""'))
    # RFC 5258 §3: in the extended syntax an empty pattern is ignored.
    patterns = [p for p in cmd.patterns if p] if cmd.extended else list(cmd.patterns)
    if not patterns:
        return reply(cmd.tag, "OK", None, "LIST completed")
    boxes = await ctx.store.mailboxes.list(logged_in(ctx))
    listed = select_entries(boxes, matcher(cmd.reference, patterns), cmd.selection)
    show_subscribed = "SUBSCRIBED" in cmd.selection or "SUBSCRIBED" in cmd.returns  # RFC 5258 §3.1
    # RFC 9051 §7.3.1, RFC 5258 §3: \NonExistent for rev2 and extended-syntax clients; a rev1
    # client's basic LIST gets RFC 3501 §6.3.8's \Noselect.
    missing = "\\NonExistent" if ctx.rev2 or cmd.extended else "\\Noselect"
    childinfo = b' ("CHILDINFO" (' + b" ".join(b'"' + c.encode() + b'"' for c in _CRITERIA
                                                if c in cmd.selection) + b"))"
    out: list[bytes] = []
    for entry in listed:
        box, status = entry.box, b""
        if cmd.status and entry.meets and box is not None:  # meets: a mailbox that exists
            try:
                status = await _status(ctx, box, cmd.status)
            except NotFound:
                box = None  # RFC 5819 §2: gone since it was listed: \NonExistent (so \Noselect), no STATUS
        line = _list_line(ctx, entry.name, box, entry.has_children, missing=missing,
                          show_subscribed=show_subscribed)
        if entry.childinfo:
            line += childinfo  # RFC 5258 §3.5, §6 childinfo-extended-item
        out.append(r.untagged(line) + status)  # RFC 5819 §2: the LIST, then its STATUS
    return reply(cmd.tag, "OK", None, "LIST completed", b"".join(out))


def _list_line(ctx: Context, name: str, box: Mailbox | None, has_children: bool, *, missing: str,
               show_subscribed: bool) -> bytes:
    """RFC 9051 §7.3.1 mailbox-list, without the extended data: attributes, delimiter, name."""
    attrs = [missing] if box is None else []
    attrs.append("\\HasChildren" if has_children else "\\HasNoChildren")
    if box is not None:
        if show_subscribed and box.subscribed:
            attrs.append("\\Subscribed")
        if box.special_use:
            attrs.append(box.special_use)  # RFC 6154 §2
    return (b"LIST (" + " ".join(attrs).encode() + b') "' + delimiter().encode() + b'" '
            + r.mailbox_name(name, utf8=ctx.utf8))


async def select_list_line(ctx: Context, box: Mailbox) -> bytes:
    """RFC 9051 §6.3.2: the LIST response SELECT sends for the mailbox it opens, attributes accurate."""
    names = [b.name for b in await ctx.store.mailboxes.list(logged_in(ctx))]
    has_children = any(n.startswith(box.name + delimiter()) for n in names)
    return r.untagged(_list_line(ctx, box.name, box, has_children, missing="\\NonExistent", show_subscribed=False))


async def _status(ctx: Context, box: Mailbox, items: tuple[str, ...]) -> bytes:
    """The STATUS response for a listed mailbox; NotFound when it went away meanwhile. Our own
    failure drops the STATUS (RFC 5819 §2: the server MAY) rather than the whole LIST."""
    box = await ctx.store.mailboxes.get(box.id)
    try:
        return await status_line(ctx, box, items)
    except Exception:
        log.exception("imap: STATUS in LIST failed for %s", ctx.client_ip)
        return b""


# --- LSUB --------------------------------------------------------------------------------------------

async def lsub(ctx: Context, cmd: Lsub) -> Outcome:
    """RFC 3501 §6.3.9: the subscribed names matching; with "%", an unsubscribed superior of a
    subscribed name that the pattern reaches is returned with \\Noselect instead."""
    sep = delimiter().encode()
    if cmd.pattern == "":
        return reply(cmd.tag, "OK", None, "LSUB completed", r.untagged(b'LSUB (\\Noselect) "' + sep + b'" ""'))
    matches = matcher(cmd.reference, [cmd.pattern])
    subscribed = {b.name for b in await ctx.store.mailboxes.list(logged_in(ctx)) if b.subscribed}
    found: dict[str, bool] = {n: True for n in subscribed if matches(n)}
    for n in subscribed:
        if matches(n):
            continue
        for parent in superiors(n):
            if parent not in subscribed and matches(parent):
                found.setdefault(parent, False)
    out = []
    for name in sorted(found, key=_order):
        attrs = b"()" if found[name] else b"(\\Noselect)"
        # RFC 6855 §3: UTF-8 names in LSUB too once the client accepts them.
        out.append(r.untagged(b"LSUB " + attrs + b' "' + sep + b'" '
                              + r.mailbox_name(name, utf8=ctx.utf8)))
    return reply(cmd.tag, "OK", None, "LSUB completed", b"".join(out))
