"""SEARCH: whether a message matches a search program (RFC 9051 §6.4.4), evaluated from what the
store keeps: flags, dates, sizes and mod-sequences from the message row; header fields from the
parse-once form; and only for BODY and TEXT (or a header field the parse-once form does not keep)
the message itself, decoded part by part (transfer encoding and charset) so that a word in a
base64 or quoted-printable part is found as the user wrote it.

Matching is the RFC's: substring, case-insensitive (Unicode case folding, so "STRASSE" finds
"straße" too), dates compared by day "disregarding time and timezone" (the internal date's own day;
the Date: field's day as written). \\Recent is never set: it is gone from IMAP4rev2 (RFC 9051
§2.3.2), so RECENT and NEW match nothing and OLD everything. Pure: the session supplies each
message as a `Candidate` whose header fields, parsed form and bytes it has loaded when `needs`
said so (HEADERS: the SEARCH_FIELDS of the parse-once form, which the store reads without the
rest of it).
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from datetime import date, datetime

from postoffice.imap.wire.search import All, And, Date, Flag, Header, ModSeq, Not, Or, SearchKey, Sequence, Size, Text
from postoffice.message.decoding import decode_charset, decode_transfer, decode_words
from postoffice.message.headers import get_header
from postoffice.message.mime import BodyPart
from postoffice.message.parsed import SEARCH_FIELDS, ParsedMessage

HEADERS, PARSED, RAW = "headers", "parsed", "raw"


@dataclass
class Candidate:
    seq: int
    uid: int
    flags: frozenset[str]
    internaldate: datetime
    size: int
    modseq: int
    parsed: ParsedMessage | None = None  # loaded when `needs` said PARSED
    headers: dict[str, list[str]] | None = None  # SEARCH_FIELDS, loaded when `needs` said HEADERS
    raw: bytes | None = None  # loaded when `needs` said RAW: the whole message, prefix included
    prefix_len: int = 0
    _texts: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Context:
    exists: int  # the largest sequence number ("*")
    last_uid: int  # the largest UID ("*" in UID sets)
    saved: frozenset[int] = frozenset()  # the UIDs of the last SEARCH ... SAVE ("$", RFC 5182)


def needs(key: SearchKey) -> set[str]:
    """What must be loaded for each candidate before `matches` can judge `key`."""
    match key:
        case And(keys=keys):
            return set().union(*(needs(k) for k in keys)) if keys else set()
        case Or(a=a, b=b):
            return needs(a) | needs(b)
        case Not(key=inner):
            return needs(inner)
        case Header(name=name):
            return {HEADERS} if name.lower() in SEARCH_FIELDS else {RAW}
        case Text():
            return {PARSED, RAW}
        case Date(which="SENT"):
            return {HEADERS}
    return set()


def matches(key: SearchKey, m: Candidate, ctx: Context) -> bool:
    match key:
        case All():
            return True
        case And(keys=keys):
            return all(matches(k, m, ctx) for k in keys)
        case Or(a=a, b=b):
            return matches(a, m, ctx) or matches(b, m, ctx)
        case Not(key=inner):
            return not matches(inner, m, ctx)
        case Flag(name=name, set=wanted):
            present = name.lower() in {f.lower() for f in m.flags} if name != "\\Recent" else False
            return present == wanted
        case Size(op=op, n=n):
            return m.size > n if op == ">" else m.size < n
        case ModSeq(modseq=modseq):
            return m.modseq >= modseq
        case Sequence(set=numbers, uid=uid):
            if numbers.saved:
                return m.uid in ctx.saved
            return numbers.contains(m.uid, ctx.last_uid) if uid else numbers.contains(m.seq, ctx.exists)
        case Date(which=which, op=op, date=day):
            have = m.internaldate.date() if which == "INTERNAL" else sent_day(m)
            return have is not None and _compare(have, op, day)
        case Header(name=name, value=value):
            values = header_values(m, name)
            return bool(values) and (not value or any(contains(v, value) for v in values))
        case Text(where=where, value=value):
            return contains(body_text(m), value) or (where == "TEXT" and contains(header_text(m), value))
    raise TypeError(f"unknown search key {key!r}")  # pragma: no cover - the parser makes no others


def _compare(have: date, op: str, day: date) -> bool:
    return have < day if op == "<" else have == day if op == "=" else have >= day


def contains(haystack: str, needle: str) -> bool:
    return needle.casefold() in haystack.casefold()


def sent_day(m: Candidate) -> date | None:
    """The day of the Date: field as written (its own zone), or None when absent or unreadable."""
    values = m.headers.get("date") if m.headers is not None else None
    if not values:
        return None
    try:
        return email.utils.parsedate_to_datetime(values[0]).date()
    except (TypeError, ValueError, IndexError):
        return None


def header_values(m: Candidate, name: str) -> list[str]:
    if name.lower() in SEARCH_FIELDS and m.headers is not None:
        return m.headers.get(name.lower(), [])
    return [decode_words(v) for v in get_header(m.raw or b"", name)]


def header_text(m: Candidate) -> str:
    if "header" not in m._texts:
        raw = m.raw or b""
        end = m.parsed.body.body_start + m.prefix_len if m.parsed else len(raw)
        m._texts["header"] = decode_words(raw[:end].decode("utf-8", "replace"))
    return m._texts["header"]


def body_text(m: Candidate) -> str:
    """Every text part's content, decoded; other leaves as their raw bytes read as text."""
    if "body" not in m._texts:
        raw, parsed = m.raw or b"", m.parsed
        if parsed is None:
            m._texts["body"] = raw.decode("utf-8", "replace")
        else:
            pieces: list[str] = []
            _collect(parsed.body, raw, m.prefix_len, pieces, top=True)
            m._texts["body"] = "\n".join(pieces)
    return m._texts["body"]


def _text(data: bytes, charset: str | None) -> str:
    """A text part's content; 8-bit bytes under no or a US-ASCII charset are read as UTF-8 (what
    such mail nearly always is), else Latin-1, so that they can still be found."""
    if (charset or "us-ascii").lower() in ("us-ascii", "ascii") and not data.isascii():
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    return decode_charset(data, charset)


def _collect(part: BodyPart, raw: bytes, shift: int, out: list[str], *, top: bool = False) -> None:
    if part.children:
        for child in part.children:
            _collect(child, raw, shift, out)
        return
    if part.body is not None:  # message/rfc822: its header and body count as body text here
        out.append(raw[part.body_start + shift:part.end + shift].decode("utf-8", "replace"))
        return
    data = raw[part.body_start + shift:part.end + shift]
    if part.type == "TEXT":
        out.append(_text(decode_transfer(data, part.encoding), part.param("CHARSET")))
    else:
        out.append(data.decode("utf-8", "replace"))

