"""The IMAP command parser, server side: the client's bytes in, one command value out. Sans-I/O.

Role: `parse_command(buf, limits)` says what the start of `buf` holds: a `Command` (commands.py),
`NeedMore` (wait for more bytes; send "+ Ready" first when `NeedMore.wants_continuation`), or
`BadCommand` (answer BAD), with how many bytes of `buf` it used. Only the first of several
pipelined commands is parsed; `used` stops at its end. The parser never reads more by itself and
never raises for anything a client sends. `parse_idle_done` reads the line that ends IDLE and
`parse_auth_response` a client line inside AUTHENTICATE.

Framing (RFC 9051 §4.3, RFC 7888 §3): a command is one line, or several joined by literals. A
literal is refused when it is announced, before its octets are buffered: over `max_literal`, or
past `max_command` for the whole command, gives BAD [TOOBIG] with `used` through the announcing
line; for "{n+}" the client sends the n octets anyway, so `drain` tells the listener to discard
them (RFC 7888 §4); for "{n}" it waits for a "+" that never comes, so nothing is drained. A syntax
error is reported once its line is complete, and a line ending in "{n+}" is drained the same way.

RFCs: RFC 9051 §6 and §9 (commands and syntax), RFC 3501 §6 (rev1 commands), and the extensions
listed in commands.py; RFC 2177 §3 (DONE), RFC 9051 §6.2.2 (AUTHENTICATE responses, "*" cancels).

Leniency, each for clients that exist: see lexer.py (bare LF, UTF-8 in quoted strings); "ID ()"
is taken as "ID NIL". Left out: commands of extensions not listed in commands.py (COMPRESS,
NOTIFY, METADATA, QUOTA, ACL, SORT, THREAD, ...: "Unknown command"), CATENATE (RFC 4469), and
the state checks (which commands each state accepts: the
session's table).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from postoffice.imap.wire import commands as c
from postoffice.imap.wire.fetch import parse_fetch_attributes, parse_fetch_modifiers
from postoffice.imap.wire.lexer import (
    MAX_NUMBER64, NONSYNC_TAIL, TAG, BadCommand, Incomplete, Limits, LineTooLong, NeedMore, Reader, Stop,
    Syntax, TooBig,
)
from postoffice.imap.wire.search import parse_search_program, parse_search_returns, parse_sequence_set

__all__ = ["parse_command", "parse_idle_done", "parse_auth_response", "AuthResponse", "LIMITS",
           "STATUS_ITEMS", "LIST_SELECTION_OPTIONS", "LIST_RETURN_OPTIONS"]

LIMITS = Limits()
# RFC 9051 §9 status-att, RFC 3501 RECENT, RFC 7162 §3.1.10 HIGHESTMODSEQ.
STATUS_ITEMS = frozenset({"MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "DELETED", "SIZE", "RECENT",
                          "HIGHESTMODSEQ"})
# RFC 5258 §3.1-3.2, RFC 6154 §5.1; RFC 5819 (STATUS).
LIST_SELECTION_OPTIONS = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})
LIST_RETURN_OPTIONS = frozenset({"SUBSCRIBED", "CHILDREN", "SPECIAL-USE", "STATUS"})
# RFC 6154 §2 use-attr, in canonical case.
_USE_ATTRS = {a.upper(): a for a in ("\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash")}
_BASE64 = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_STORE_ITEM = re.compile(rb"([+-]?)(FLAGS(?:\.SILENT)?)(?![A-Za-z.])", re.IGNORECASE)
_ID_MAX_PAIRS, _ID_MAX_FIELD, _ID_MAX_VALUE = 30, 30, 1024    # RFC 2971 §3.3

_Parser = Callable[[Reader, str, bool], c.Command]


# --- Commands without arguments ----------------------------------------------------------------

def _bare(cls: type) -> _Parser:
    return lambda r, tag, uid: cls(tag)


# --- Not authenticated -------------------------------------------------------------------------

def _authenticate(r: Reader, tag: str, uid: bool) -> c.Command:
    # RFC 9051 §9: "AUTHENTICATE" SP auth-type [SP initial-resp]; initial-resp = base64 / "="
    # (RFC 4959 §7).
    r.sp()
    mechanism = r.keyword("a SASL mechanism")
    if not r.accept(b" "):
        return c.Authenticate(tag, mechanism)
    if r.accept(b"="):
        return c.Authenticate(tag, mechanism, b"")
    return c.Authenticate(tag, mechanism, _base64(r))


def _base64(r: Reader) -> bytes:
    m = _BASE64.match(r.buf, r.pos, r.end)
    if not m or m.end() == r.pos or m.end() != r.end:
        raise Syntax("Invalid base64")     # RFC 9051 §9 base64: padded, nothing after the padding
    r.pos = m.end()
    return binascii.a2b_base64(m[0])


def _login(r: Reader, tag: str, uid: bool) -> c.Command:
    r.sp()
    userid = r.astring()
    r.sp()
    return c.Login(tag, userid, r.astring())


# --- Authenticated -----------------------------------------------------------------------------

def _enable(r: Reader, tag: str, uid: bool) -> c.Command:
    names = []
    r.sp()
    names.append(r.keyword("a capability"))
    while r.accept(b" "):
        names.append(r.keyword("a capability"))
    return c.Enable(tag, tuple(dict.fromkeys(names)))


def _qresync(r: Reader) -> c.QResync:
    # RFC 7162 §3.2.5: "QRESYNC" SP "(" uidvalidity SP mod-sequence-value [SP known-uids]
    # [SP seq-match-data] ")"; seq-match-data = "(" known-sequence-set SP known-uid-set ")".
    r.expect(b"(")
    uidvalidity = r.number(nonzero=True, what="a UIDVALIDITY")
    r.sp()
    modseq = r.number(MAX_NUMBER64, nonzero=True, what="a mod-sequence")
    known_uids = seq_match = None
    if r.accept(b" ") and r.peek() != 0x28:
        known_uids = parse_sequence_set(r)
        if not r.accept(b" "):
            r.expect(b")")
            return c.QResync(uidvalidity, modseq, known_uids)
    if r.peek() == 0x28:
        r.expect(b"(")
        known_seqs = parse_sequence_set(r)
        r.sp()
        seq_match = (known_seqs, parse_sequence_set(r))
        r.expect(b")")
    r.expect(b")")
    return c.QResync(uidvalidity, modseq, known_uids, seq_match)


def _select(cls: type[c.Select] | type[c.Examine]) -> _Parser:
    def parse(r: Reader, tag: str, uid: bool) -> c.Command:
        r.sp()
        mailbox = r.mailbox()
        condstore = False
        qresync = None
        if r.accept(b" "):
            # RFC 4466 §2.1 select-params; RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC.
            def param() -> None:
                nonlocal condstore, qresync
                word = r.keyword("a SELECT parameter")
                if word == "CONDSTORE" and not condstore:
                    condstore = True
                elif word == "QRESYNC" and qresync is None:
                    r.sp()
                    qresync = _qresync(r)
                else:
                    raise Syntax("Unknown or repeated SELECT parameter")
            r.paren_list(param, empty=False)
        return cls(tag, mailbox, condstore, qresync)
    return parse


def _create(r: Reader, tag: str, uid: bool) -> c.Command:
    r.sp()
    mailbox = r.mailbox()
    uses: list[str] = []
    if r.accept(b" "):
        # RFC 4466 §2.2 create-params; RFC 6154 §6: "USE" SP "(" [use-attr *(SP use-attr)] ")".
        def param() -> None:
            r.expect(b"USE ", "USE")
            for attr in r.paren_list(r.flag):
                uses.append(_USE_ATTRS.get(attr.upper(), attr))
        r.paren_list(param, empty=False)
        if any(not u.startswith("\\") for u in uses):
            raise Syntax("Invalid USE attribute")
    return c.Create(tag, mailbox, tuple(dict.fromkeys(uses)))


def _one_mailbox(cls: Callable[[str, str], c.Command]) -> _Parser:
    def parse(r: Reader, tag: str, uid: bool) -> c.Command:
        r.sp()
        return cls(tag, r.mailbox())
    return parse


def _rename(r: Reader, tag: str, uid: bool) -> c.Command:
    r.sp()
    old = r.mailbox()
    r.sp()
    return c.Rename(tag, old, r.mailbox())


def _options(r: Reader, known: frozenset[str], what: str, extra: Callable[[str], None] | None = None) -> tuple[str, ...]:
    def option() -> str:
        word = r.keyword(what)
        if word not in known:
            raise Syntax(f"Unknown {what}")    # RFC 5258 §3: BAD for an unrecognised option
        if extra:
            extra(word)
        return word
    return tuple(dict.fromkeys(r.paren_list(option)))


def _status_items(r: Reader) -> tuple[str, ...]:
    def item() -> str:
        word = r.keyword("a STATUS item")
        if word not in STATUS_ITEMS:
            raise Syntax("Unknown STATUS item")
        return word
    return tuple(dict.fromkeys(r.paren_list(item, empty=False)))


def _list(r: Reader, tag: str, uid: bool) -> c.Command:
    # RFC 9051 §9 / RFC 5258 §6: "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
    # [SP list-return-opts].
    r.sp()
    extended = False
    selection: tuple[str, ...] = ()
    if r.peek() == 0x28:
        selection = _options(r, LIST_SELECTION_OPTIONS, "LIST selection option")
        if "RECURSIVEMATCH" in selection and not {"SUBSCRIBED", "SPECIAL-USE"} & set(selection):
            raise Syntax("RECURSIVEMATCH needs another selection option")   # RFC 5258 §3.1
        extended = True
        r.sp()
    reference = r.mailbox()
    r.sp()
    if r.peek() == 0x28:
        patterns = tuple(r.paren_list(r.list_mailbox, empty=False))
        extended = True
    else:
        patterns = (r.list_mailbox(),)
    returns: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    if r.accept(b" RETURN "):
        def status_option(word: str) -> None:
            nonlocal status
            if word == "STATUS":               # RFC 5819 §2: STATUS (status-att ...)
                r.sp()
                status = _status_items(r)
        returns = _options(r, LIST_RETURN_OPTIONS, "LIST return option", status_option)
        extended = True
    return c.List(tag, reference, patterns, selection, returns, status, extended)


def _lsub(r: Reader, tag: str, uid: bool) -> c.Command:
    r.sp()
    reference = r.mailbox()
    r.sp()
    return c.Lsub(tag, reference, r.list_mailbox())


def _status(r: Reader, tag: str, uid: bool) -> c.Command:
    r.sp()
    mailbox = r.mailbox()
    r.sp()
    return c.Status(tag, mailbox, _status_items(r))


def _append(r: Reader, tag: str, uid: bool) -> c.Command:
    # RFC 4466 §2.3 / RFC 3502 §6.3.11: "APPEND" SP mailbox 1*append-message, each
    # [SP flag-list] [SP date-time] SP (literal / literal8).
    r.sp()
    mailbox = r.mailbox()
    messages: list[c.AppendMessage] = []
    while True:
        r.sp()
        while messages and r.accept(b" "):
            pass  # IMAPClient's multiappend puts two spaces between messages
        flags: tuple[str, ...] = ()
        internaldate = None
        if r.peek() == 0x28:
            flags = r.flag_list()
            r.sp()
        if r.peek() == 0x22:
            internaldate = r.date_time()
            r.sp()
        utf8 = r.accept(b"UTF8 (")  # RFC 6855 §4: "UTF8" SP "(" literal8 ")"
        binary = r.peek() == 0x7E                    # "~{n}": literal8, RFC 3516 §4.4
        data = r.literal(binary=True, nul=True)
        if utf8:
            r.expect(b")")
        messages.append(c.AppendMessage(flags, internaldate, data, binary and not utf8, utf8))
        if r.at_end():
            return c.Append(tag, mailbox, tuple(messages))


# --- Selected ----------------------------------------------------------------------------------

def _search(r: Reader, tag: str, uid: bool) -> c.Command:
    returns = parse_search_returns(r)
    r.sp()
    charset, criteria = parse_search_program(r)
    return c.Search(tag, criteria, charset, returns, uid)


def _fetch(r: Reader, tag: str, uid: bool) -> c.Command:
    r.sp()
    sequence = parse_sequence_set(r)
    r.sp()
    attributes = parse_fetch_attributes(r)
    changedsince, vanished = parse_fetch_modifiers(r, uid=uid)
    return c.Fetch(tag, sequence, attributes, uid, changedsince, vanished)


def _store(r: Reader, tag: str, uid: bool) -> c.Command:
    # RFC 9051 §9: "STORE" SP sequence-set [store-modifiers] SP store-att-flags;
    # RFC 7162 §3.1.3: store-modifier UNCHANGEDSINCE.
    r.sp()
    sequence = parse_sequence_set(r)
    r.sp()
    unchangedsince = None
    if r.peek() == 0x28:
        def modifier() -> None:
            nonlocal unchangedsince
            if r.keyword("a STORE modifier") != "UNCHANGEDSINCE" or unchangedsince is not None:
                raise Syntax("Unknown or repeated STORE modifier")
            r.sp()
            unchangedsince = r.number(MAX_NUMBER64, what="a mod-sequence")
        r.paren_list(modifier, empty=False)
        r.sp()
    m = r.match(_STORE_ITEM, "FLAGS, +FLAGS or -FLAGS")
    mode, silent = m[:1].decode() if m[:1] in (b"+", b"-") else "", m.upper().endswith(b".SILENT")
    r.sp()
    if r.peek() == 0x28:
        flags = r.flag_list()
    else:
        found = [r.flag()]
        while r.accept(b" "):
            found.append(r.flag())
        flags = tuple(dict.fromkeys(found))
    return c.Store(tag, sequence, mode, flags, silent, uid, unchangedsince)


def _transfer(cls: type[c.Copy] | type[c.Move]) -> _Parser:
    def parse(r: Reader, tag: str, uid: bool) -> c.Command:
        r.sp()
        sequence = parse_sequence_set(r)
        r.sp()
        return cls(tag, sequence, r.mailbox(), uid)
    return parse


def _uid_expunge(r: Reader, tag: str, uid: bool) -> c.Command:
    r.sp()
    return c.UidExpunge(tag, parse_sequence_set(r))


def _id(r: Reader, tag: str, uid: bool) -> c.Command:
    # RFC 2971 §4: "ID" SP ("(" string SP nstring *(SP string SP nstring) ")" / nil).
    r.sp()
    if r.peek() != 0x28:
        if r.keyword("a list or NIL") != "NIL":
            raise Syntax("Expected a list or NIL")
        return c.Id(tag, None)
    params: dict[str, str | None] = {}

    def pair() -> None:
        name = r.string()
        r.sp()
        value = r.nstring()
        if len(name.encode()) > _ID_MAX_FIELD or (value and len(value.encode()) > _ID_MAX_VALUE):
            raise Syntax("ID field or value too long")
        params[name.lower()] = value

    pairs = r.paren_list(pair)
    if len(pairs) > _ID_MAX_PAIRS:
        raise Syntax("Too many ID fields")
    return c.Id(tag, params or None)


_PARSERS: dict[str, _Parser] = {
    "CAPABILITY": _bare(c.Capability), "NOOP": _bare(c.Noop), "LOGOUT": _bare(c.Logout),
    "STARTTLS": _bare(c.StartTls), "AUTHENTICATE": _authenticate, "LOGIN": _login,
    "ENABLE": _enable, "SELECT": _select(c.Select), "EXAMINE": _select(c.Examine), "CREATE": _create,
    "DELETE": _one_mailbox(c.Delete), "RENAME": _rename, "SUBSCRIBE": _one_mailbox(c.Subscribe),
    "UNSUBSCRIBE": _one_mailbox(c.Unsubscribe), "LIST": _list, "LSUB": _lsub,
    "NAMESPACE": _bare(c.Namespace), "STATUS": _status, "APPEND": _append, "IDLE": _bare(c.Idle),
    "CHECK": _bare(c.Check), "CLOSE": _bare(c.Close), "UNSELECT": _bare(c.Unselect),
    "EXPUNGE": _bare(c.Expunge), "SEARCH": _search, "FETCH": _fetch, "STORE": _store,
    "COPY": _transfer(c.Copy), "MOVE": _transfer(c.Move), "ID": _id,
}
# RFC 9051 §9 uid = "UID" SP (copy / move / fetch / search / store / uid-expunge)
_UID_PARSERS: dict[str, _Parser] = {
    "COPY": _PARSERS["COPY"], "MOVE": _PARSERS["MOVE"], "FETCH": _fetch, "SEARCH": _search,
    "STORE": _store, "EXPUNGE": _uid_expunge,
}


# --- Entry points ------------------------------------------------------------------------------

def _leading_tag(buf: bytes) -> str | None:
    m = TAG.match(buf, 0, 1024)
    return m[0].decode("ascii") if m and buf[m.end():m.end() + 1] == b" " else None


def _stopped(buf: bytes, r: Reader | None, tag: str | None, stop: Stop) -> tuple[NeedMore | BadCommand, int]:
    """The value for a reader that stopped, and the bytes the listener drops with it."""
    if isinstance(stop, Incomplete):
        return stop.need, 0
    if isinstance(stop, LineTooLong):
        tag = tag if r is not None else _leading_tag(buf)
        lf = buf.find(b"\n", stop.line_start)
        if lf >= 0:
            return BadCommand(tag, "Command line too long"), lf + 1
        return BadCommand(tag, "Command line too long", skip_line=True), len(buf)
    assert r is not None     # the other stops happen while reading a complete line
    if isinstance(stop, TooBig):
        # Used through the announcing line. "{n+}": the octets come anyway, drain them and the
        # rest of their line; "{n}": the client waits for "+", so nothing more comes.
        drain = 0 if stop.synchronizing else stop.size
        return BadCommand(tag, "Literal too big", "TOOBIG", drain, not stop.synchronizing), r.next
    assert isinstance(stop, Syntax)
    # RFC 7888 §3: a line ending in "{n+}" is followed by n octets of the same command; since the
    # command is refused, they are drained rather than read as commands.
    brace = buf.rfind(b"{", r.line_start, r.end)
    tail = NONSYNC_TAIL.fullmatch(buf, brace, r.end) if brace >= 0 else None
    if tail:
        return BadCommand(tag, stop.text, stop.code, int(tail[1]), True), r.next
    return BadCommand(tag, stop.text, stop.code), r.next


def parse_command(buf: bytes | bytearray, limits: Limits = LIMITS, *,
                  utf8: bool = False) -> tuple[c.Command | NeedMore | BadCommand, int]:
    """What the start of `buf` holds, and how many bytes of it were used (0 with `NeedMore`).

    `utf8`: the client enabled IMAP4rev2 or UTF8=ACCEPT, so mailbox names are UTF-8 as sent;
    otherwise they are modified UTF-7 (RFC 3501 §5.1.3) and decoded here."""
    buf = bytes(buf)
    r: Reader | None = None
    tag: str | None = None
    try:
        r = Reader(buf, limits, utf8=utf8)
        m = TAG.match(buf, r.pos, r.end)
        if not m:
            raise Syntax("Missing or invalid tag")
        r.pos = m.end()
        tag = m[0].decode("ascii")
        r.sp()
        word = r.keyword("a command")
        table, uid = _PARSERS, False
        if word == "UID":
            r.sp()
            word, table, uid = r.keyword("a command"), _UID_PARSERS, True
        parse = table.get(word)
        if parse is None:
            raise Syntax("Unknown command")
        command = parse(r, tag, uid)
        return command, r.finish()
    except Stop as stop:
        return _stopped(buf, r, tag, stop)


def parse_idle_done(buf: bytes | bytearray, limits: Limits = LIMITS, *, tag: str = "") -> tuple[c.Done | NeedMore | BadCommand, int]:
    """The client's line while idling: `Done(tag)` for "DONE" (RFC 2177 §3, any case), else
    BadCommand (untagged: the line is no command)."""
    buf = bytes(buf)
    r: Reader | None = None
    try:
        r = Reader(buf, limits)
        if buf[r.line_start:r.end].upper() != b"DONE":
            raise Syntax("Expected DONE")
        return c.Done(tag), r.next
    except Stop as stop:
        return _stopped(buf, r, None, stop)


@dataclass(frozen=True, slots=True)
class AuthResponse:
    """A client line inside AUTHENTICATE: `data` base64-decoded, None for "*" (cancel: answer
    BAD, RFC 9051 §6.2.2). Kept out of repr and logs."""

    data: bytes | None = field(repr=False)


def parse_auth_response(buf: bytes | bytearray, limits: Limits = LIMITS) -> tuple[AuthResponse | NeedMore | BadCommand, int]:
    """The client's answer to a "+ <challenge>" (RFC 9051 §6.2.2): base64 or "*" on one line."""
    buf = bytes(buf)
    r: Reader | None = None
    try:
        r = Reader(buf, limits)
        if r.accept(b"*"):
            r.finish()
            return AuthResponse(None), r.next
        data = _base64(r) if not r.at_end() else b""
        return AuthResponse(data), r.finish()
    except Stop as stop:
        return _stopped(buf, r, None, stop)
