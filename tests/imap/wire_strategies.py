"""What the round-trip tests share: a client-side encoder written from RFC 9051 §9, which
spells a command value as a client may (atom, quoted string or literal, any keyword case, modified
UTF-7 or UTF-8 names), and hypothesis strategies for the values."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from hypothesis import strategies as st

from postoffice.imap.wire import (
    Binary, BinarySize, BodySection, encode_mutf7, Section, SequenceSet,
)
from postoffice.imap.wire.fetch import SIMPLE_ATTRIBUTES

MAX_NUMBER, MAX_NUMBER64 = 2**32 - 1, 2**63 - 1
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent")
ASTRING_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\]+')      # 1*ASTRING-CHAR
_LIST_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){"\\]+')           # 1*list-char
ATOM_CHARS = "".join(c for c in map(chr, range(0x21, 0x7f)) if c not in '(){%*"\\]')
TAG_CHARS = ATOM_CHARS.replace("+", "") + "]"
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Unicode text without lone surrogates (not characters) and NUL (no IMAP string holds it).
text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
atoms = st.text(ATOM_CHARS, min_size=1, max_size=8)
tags = st.text(TAG_CHARS, min_size=1, max_size=6)
names = st.one_of(text, st.sampled_from(["INBOX", "inbox", "InBox/sub", "a&b", "Entwürfe", "台北/日本語", "a%b*",
                                         "x]y", "📬", "a b", 'q"uo\\te', "", "/", "line\r\nbreak", "NIL"]))


# --- the client-side encoder (RFC 9051 §9) -------------------------------------------------------

def keyword(draw, word: str) -> bytes:
    """A keyword in any case (RFC 9051 §9: "case-insensitive")."""
    flips = draw(st.lists(st.booleans(), min_size=len(word), max_size=len(word)))
    return "".join(c.lower() if f else c.upper() for c, f in zip(word, flips)).encode()


def literal(draw, data: bytes, *, eight: bool = False) -> bytes:
    plus = b"+" if draw(st.booleans()) else b""
    return (b"~" if eight else b"") + b"{%d%s}\r\n" % (len(data), plus) + data


def string(draw, data: bytes, *, utf8: bool) -> bytes:
    """A quoted string when QUOTED-CHAR allows (no CR, LF or NUL; 8-bit only as UTF-8, after ENABLE)
    and the draw picks it; a literal otherwise."""
    quotable = not re.search(rb"[\x00\r\n]", data) and (data.isascii() or utf8)
    if quotable and draw(st.booleans()):
        return b'"' + re.sub(rb'(["\\])', rb"\\\1", data) + b'"'
    return literal(draw, data)


def astring(draw, data: bytes, *, utf8: bool, atom: re.Pattern[bytes] = ASTRING_ATOM) -> bytes:
    if atom.fullmatch(data) and draw(st.booleans()):
        return data
    return string(draw, data, utf8=utf8)


def mailbox(draw, name: str, *, utf8: bool, pattern: bool = False) -> bytes:
    """RFC 9051 §5.1: UTF-8 after ENABLE; RFC 3501 §5.1.3: modified UTF-7 before."""
    wire = name.encode() if utf8 else encode_mutf7(name).encode()
    return astring(draw, wire, utf8=utf8, atom=_LIST_ATOM if pattern else ASTRING_ATOM)


def is_inbox(name: str) -> bool:
    # RFC 9051 §9 mailbox: "INBOX" with its ASCII letters in any case is INBOX.
    return name.isascii() and name.upper() == "INBOX"


def expected_mailbox(name: str) -> str:
    """The name the parser gives back: INBOX in capitals, also as the first level of an inferior's
    name ("inbox/Lists" is "INBOX/Lists", RFC 9051 §5.1)."""
    if is_inbox(name[:5]) and name[5:6] in ("", "/"):
        return "INBOX" + name[5:]
    return name


def flag(draw, value: str) -> bytes:
    return keyword(draw, value) if value in SYSTEM_FLAGS else value.encode()


def flag_list(draw, values: tuple[str, ...]) -> bytes:
    return b"(" + b" ".join(flag(draw, f) for f in values) + b")"


def date_text(value: date) -> bytes:
    return b"%d-%s-%04d" % (value.day, MONTHS[value.month - 1].encode(), value.year)


def date_time(draw, when: datetime) -> bytes:
    """RFC 9051 §9 date-time; the day as date-day-fixed (" 7") or, as clients also send, "07"."""
    minutes = int(when.utcoffset().total_seconds()) // 60
    sign, minutes = ("-" if minutes < 0 else "+"), abs(minutes)
    day = f"{when.day:2d}" if draw(st.booleans()) else f"{when.day:02d}"
    return (f'"{day}-{MONTHS[when.month - 1]}-{when.year:04d} {when:%H:%M:%S} '
            f'{sign}{minutes // 60:02d}{minutes % 60:02d}"').encode()


def joined(*parts: bytes) -> bytes:
    return b" ".join(parts)


# --- strategies for the values --------------------------------------------------------------------

numbers = st.integers(1, MAX_NUMBER)
bounds = st.one_of(numbers, st.just(0))   # 0 is "*"
sequence_sets = st.one_of(
    st.lists(st.tuples(bounds, bounds), min_size=1, max_size=4).map(lambda ranges: SequenceSet(tuple(ranges))),
    st.just(SequenceSet(saved=True)))
SYSTEM_FLAGS_BY_UPPER = {f.upper(): f for f in SYSTEM_FLAGS}
system_flags = st.sampled_from(SYSTEM_FLAGS)
# Flags as the parser gives them back: system flags in their canonical case, each once.
flags = st.lists(st.one_of(system_flags, atoms, atoms.map(lambda a: "\\" + a)), max_size=5).map(
    lambda fs: tuple(dict.fromkeys(SYSTEM_FLAGS_BY_UPPER.get(f.upper(), f) for f in fs)))
field_names = st.text("".join(c for c in map(chr, range(0x21, 0x7f)) if c != ":"), min_size=1, max_size=10)
parts = st.lists(numbers, max_size=3).map(tuple)
partials = st.none() | st.tuples(st.integers(0, MAX_NUMBER64), st.integers(1, MAX_NUMBER64))
dates = st.dates(date(1, 1, 1), date(9999, 12, 31))
offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
date_times = st.datetimes(datetime(1000, 1, 2), datetime(9999, 12, 30), timezones=offsets).map(
    lambda d: d.replace(microsecond=0))


@st.composite
def sections(draw) -> Section:
    part = draw(parts)
    choices = [None, "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"] + (["MIME"] if part else [])
    kind = draw(st.sampled_from(choices))
    fields = tuple(draw(st.lists(field_names, min_size=1, max_size=3))) if kind and "FIELDS" in kind else ()
    return Section(part, kind, fields)


def section_text(draw, section: Section, *, utf8: bool) -> bytes:
    spec = b".".join(b"%d" % p for p in section.part)
    if section.text:
        spec += (b"." if spec else b"") + keyword(draw, section.text)
    if section.fields:
        spec += b" (" + joined(*(astring(draw, f.encode(), utf8=utf8) for f in section.fields)) + b")"
    return b"[" + spec + b"]"


def part_text(part: tuple[int, ...]) -> bytes:
    return b"[" + b".".join(b"%d" % p for p in part) + b"]"


def partial_text(partial: tuple[int, int] | None) -> bytes:
    return b"" if partial is None else b"<%d.%d>" % partial


fetch_attributes = st.one_of(
    st.sampled_from(sorted(SIMPLE_ATTRIBUTES)),
    st.builds(BodySection, sections(), st.booleans(), partials),
    st.builds(Binary, parts, st.booleans(), partials),
    st.builds(BinarySize, parts))


def attribute_text(draw, a, *, utf8: bool) -> bytes:
    match a:
        case str():
            return keyword(draw, a)
        case BodySection():
            return (keyword(draw, "BODY.PEEK" if a.peek else "BODY") + section_text(draw, a.section, utf8=utf8)
                    + partial_text(a.partial))
        case Binary():
            return keyword(draw, "BINARY.PEEK" if a.peek else "BINARY") + part_text(a.part) + partial_text(a.partial)
        case BinarySize():
            return keyword(draw, "BINARY.SIZE") + part_text(a.part)
    raise TypeError(a)
