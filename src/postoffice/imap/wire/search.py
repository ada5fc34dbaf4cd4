"""SEARCH criteria: the search program of SEARCH and UID SEARCH, as a tree of small values.

Role: `parse_search_returns` reads the ESEARCH "RETURN (...)" options and `parse_search_program`
the optional CHARSET and the search keys, into a `SearchKey` tree: `And`, `Or`, `Not` for the
structure and `All`, `Flag`, `Header`, `Text`, `Date`, `Size`, `Sequence`, `ModSeq` for the
leaves. Keys are normalised as they are read, so the session sees few kinds: SEEN is
`Flag("\\Seen", True)`, UNKEYWORD $Junk is `Flag("$Junk", False)`, FROM x is `Header("From", x)`,
SINCE d is `Date("INTERNAL", ">=", d)`, LARGER n is `Size(">", n)`, NEW is `And((Flag("\\Recent",
True), Flag("\\Seen", False)))` (RFC 3501 §6.4.4). Nesting is limited by `Limits.max_depth`.

RFCs: RFC 9051 §6.4.4 (SEARCH, every key) and §9 (search-key, search-program, date, charset,
search-return-opts); RFC 3501 §6.4.4 (rev1's NEW, OLD, RECENT, UNRECENT); RFC 4731 §3.1 (ESEARCH
RETURN options MIN, MAX, ALL, COUNT), RFC 5182 §2 (SAVE, and "$" as a key); RFC 7162 §3.1.5
(MODSEQ, CONDSTORE).

Charsets: "UTF-8" and "US-ASCII" (the two RFC 9051 §6.4.4 requires); strings are read as UTF-8
either way. Another charset gives BAD [BADCHARSET (US-ASCII UTF-8)], as this parser's contract
asks; note RFC 9051 §6.4.4 wants a tagged NO there, which the session may send instead.

Left out: FUZZY (RFC 6203), OLDER/YOUNGER (RFC 5032), SAVEDBEFORE and friends (RFC 8514), EMAILID/
THREADID (RFC 8474), the PARTIAL and CONTEXT return options (RFC 9394, RFC 5267).
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass

from postoffice.imap.wire.lexer import MAX_NUMBER64, Reader, Syntax
from postoffice.imap.wire.sequence import SequenceSet

__all__ = ["SearchKey", "All", "And", "Or", "Not", "Flag", "Header", "Text", "Date", "Size", "Sequence",
           "ModSeq", "CHARSETS", "RETURN_OPTIONS", "parse_search_program", "parse_search_returns",
           "parse_sequence_set"]

CHARSETS = ("US-ASCII", "UTF-8")
RETURN_OPTIONS = frozenset({"MIN", "MAX", "ALL", "COUNT", "SAVE"})
_SEQUENCE_CHARS = re.compile(rb"[0-9*:,$]+")


@dataclass(frozen=True, slots=True)
class All:
    """ALL: every message."""


@dataclass(frozen=True, slots=True)
class And:
    keys: tuple[SearchKey, ...]


@dataclass(frozen=True, slots=True)
class Or:
    a: SearchKey
    b: SearchKey


@dataclass(frozen=True, slots=True)
class Not:
    key: SearchKey


@dataclass(frozen=True, slots=True)
class Flag:
    """Messages with flag or keyword `name` set (`set` True) or not set (False)."""

    name: str
    set: bool = True


@dataclass(frozen=True, slots=True)
class Header:
    """Messages whose header field `name` contains `value` ("" : having the field at all).
    BCC, CC, FROM, SUBJECT and TO come here as "Bcc", "Cc", "From", "Subject", "To"."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class Text:
    """`where` "BODY" (the body) or "TEXT" (header and body) contains `value`."""

    where: str
    value: str


@dataclass(frozen=True, slots=True)
class Date:
    """`which` "INTERNAL" (internal date) or "SENT" (Date: header), compared by day: `op` is
    "<" (BEFORE), "=" (ON) or ">=" (SINCE)."""

    which: str
    op: str
    date: _dt.date


@dataclass(frozen=True, slots=True)
class Size:
    """RFC822.SIZE `op` `n`: ">" for LARGER, "<" for SMALLER."""

    op: str
    n: int


@dataclass(frozen=True, slots=True)
class Sequence:
    """Messages in the set: message sequence numbers, or UIDs when `uid` (the UID key)."""

    set: SequenceSet
    uid: bool = False


@dataclass(frozen=True, slots=True)
class ModSeq:
    """MODSEQ (RFC 7162 §3.1.5): mod-sequence at least `modseq`; `entry` e.g. "/flags/\\Seen" with
    `entry_type` "priv", "shared" or "all", when given."""

    modseq: int
    entry: str | None = None
    entry_type: str | None = None


SearchKey = All | And | Or | Not | Flag | Header | Text | Date | Size | Sequence | ModSeq

_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True), "DELETED": ("\\Deleted", True), "DRAFT": ("\\Draft", True),
    "FLAGGED": ("\\Flagged", True), "SEEN": ("\\Seen", True), "RECENT": ("\\Recent", True),
    "UNANSWERED": ("\\Answered", False), "UNDELETED": ("\\Deleted", False),
    "UNDRAFT": ("\\Draft", False), "UNFLAGGED": ("\\Flagged", False), "UNSEEN": ("\\Seen", False),
    "UNRECENT": ("\\Recent", False), "OLD": ("\\Recent", False),
}
_HEADER_KEYS = {"BCC": "Bcc", "CC": "Cc", "FROM": "From", "SUBJECT": "Subject", "TO": "To"}
_DATE_KEYS = {
    "BEFORE": ("INTERNAL", "<"), "ON": ("INTERNAL", "="), "SINCE": ("INTERNAL", ">="),
    "SENTBEFORE": ("SENT", "<"), "SENTON": ("SENT", "="), "SENTSINCE": ("SENT", ">="),
}


def parse_sequence_set(r: Reader) -> SequenceSet:
    m = _SEQUENCE_CHARS.match(r.buf, r.pos, r.end)
    try:
        if not m:
            raise ValueError
        value = SequenceSet.parse(m[0].decode("ascii"))
    except ValueError:
        raise Syntax("Invalid sequence set") from None
    r.pos = m.end()
    return value


def _key(r: Reader) -> SearchKey:
    c = r.peek()
    if c == 0x28:                                       # "(": a list is an AND of its keys
        keys = r.paren_list(lambda: _key(r), empty=False)
        return keys[0] if len(keys) == 1 else And(tuple(keys))
    if c is not None and (0x30 <= c <= 0x39 or c in b"*$"):
        return Sequence(parse_sequence_set(r))
    word = r.keyword("a search key")
    if word in _FLAG_KEYS:
        return Flag(*_FLAG_KEYS[word])
    if word == "ALL":
        return All()
    if word == "NEW":                                   # RFC 3501 §6.4.4: "(RECENT UNSEEN)"
        return And((Flag("\\Recent", True), Flag("\\Seen", False)))
    r.sp()
    if word in _HEADER_KEYS:
        return Header(_HEADER_KEYS[word], r.astring())
    if word in ("BODY", "TEXT"):
        return Text(word, r.astring())
    if word in _DATE_KEYS:
        return Date(*_DATE_KEYS[word], r.date())
    if word in ("KEYWORD", "UNKEYWORD"):
        return Flag(r.atom("a keyword"), word == "KEYWORD")
    if word in ("LARGER", "SMALLER"):
        return Size(">" if word == "LARGER" else "<", r.number(MAX_NUMBER64, what="a size"))
    if word == "HEADER":
        name = r.astring()
        r.sp()
        return Header(name, r.astring())
    if word == "UID":
        return Sequence(parse_sequence_set(r), uid=True)
    if word == "NOT":
        with r.nested():
            return Not(_key(r))
    if word == "OR":
        with r.nested():
            a = _key(r)
            r.sp()
            return Or(a, _key(r))
    if word == "MODSEQ":
        entry = entry_type = None
        if r.peek() == 0x22:                            # RFC 7162 §3.1.5 search-modseq-ext
            entry = r.string()
            r.sp()
            entry_type = r.keyword("an entry type").lower()
            if not entry.startswith("/flags/") or entry_type not in ("priv", "shared", "all"):
                raise Syntax("Invalid MODSEQ entry")
            r.sp()
        return ModSeq(r.number(MAX_NUMBER64, what="a mod-sequence"), entry, entry_type)
    raise Syntax("Unknown search key")


def parse_search_returns(r: Reader) -> tuple[str, ...] | None:
    """After "SEARCH": [SP "RETURN" SP "(" [option *(SP option)] ")"], the options in order, once
    each; None without RETURN (answer with SEARCH), () for "RETURN ()" (RFC 4731 §3.1: like ALL)."""
    if not r.at(b" RETURN "):
        return None
    r.pos += len(b" RETURN ")

    def option() -> str:
        word = r.keyword("a RETURN option")
        if word not in RETURN_OPTIONS:
            raise Syntax("Unknown RETURN option")
        return word

    return tuple(dict.fromkeys(r.paren_list(option)))


def parse_search_program(r: Reader) -> tuple[str | None, SearchKey]:
    """ ["CHARSET" SP charset SP] search-key *(SP search-key): the charset (upper-cased, None when
    absent) and the keys, one key or an `And` of several."""
    charset = None
    if r.accept(b"CHARSET "):
        raw = r.quoted() if r.peek() == 0x22 else r.atom("a charset").encode("ascii")
        charset = raw.decode("ascii", "replace").upper()
        if charset not in CHARSETS:
            raise Syntax("Unsupported charset", code="BADCHARSET (" + " ".join(CHARSETS) + ")")
        r.sp()
    keys = [_key(r)]
    while r.accept(b" "):
        keys.append(_key(r))
    return charset, keys[0] if len(keys) == 1 else And(tuple(keys))
