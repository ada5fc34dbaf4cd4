"""Round trips of responses: values written by responses.py and fetch_data.py (strings, astrings,
nstrings, mailbox names, flag lists, sequence sets, dates, response codes, ESEARCH and FETCH
responses) are read back by a small response reader written here from RFC 9051 §9, and FETCH
responses also by IMAPClient's parser, as a client would read them; where the server also parses
the value (a mailbox name, a flag list, a date-time), its own parser must read back what it wrote."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import imapclient.response_parser
from hypothesis import given, settings
from hypothesis import strategies as st

from postoffice.imap import fetch_data as fd
from postoffice.imap import responses as r
from postoffice.imap.wire import (
    decode_mutf7, Login, parse_command, Section, Select, SequenceSet,
)
from postoffice.imap.wire.parser import LIMITS
from postoffice.message.envelope import Address, Envelope
from tests.imap.wire_strategies import (
    ASTRING_ATOM, MAX_NUMBER64, MONTHS, SYSTEM_FLAGS_BY_UPPER, atoms, date_times, expected_mailbox,
    is_inbox, names, numbers, parts, system_flags, tags, text,
)


# --- a response reader (RFC 9051 §9) --------------------------------------------------------------

class Atom(bytes):
    """An atom as read (NIL, a number, a flag, an item name), told apart from a string."""


_SECTIONED = {b"BODY", b"BODY.PEEK", b"BINARY", b"BINARY.PEEK", b"BINARY.SIZE"}


class ResponseReader:
    """`sections`: atoms may be FETCH item names with a section, "BODY[1.HEADER.FIELDS (A B)]<0>"."""

    def __init__(self, data: bytes, *, sections: bool = False) -> None:
        self.data, self.pos, self.sections = data, 0, sections

    def peek(self, n: int = 1) -> bytes:
        return self.data[self.pos:self.pos + n]

    def expect(self, text: bytes) -> None:
        assert self.peek(len(text)) == text, (text, self.data[self.pos:self.pos + 40])
        self.pos += len(text)

    def value(self):
        c = self.peek()
        if c == b"(":
            self.pos += 1
            items = []
            while self.peek() != b")":
                if items and self.peek() != b"(":  # RFC 9051 §9: "(" 1*address ")", no SP between
                    self.expect(b" ")
                items.append(self.value())
            self.pos += 1
            return items
        if c == b'"':
            m = re.compile(rb'"((?:[^"\\\r\n]|\\["\\])*)"').match(self.data, self.pos)
            assert m, self.data[self.pos:self.pos + 40]
            self.pos = m.end()
            return re.sub(rb'\\(["\\])', rb"\1", m[1])
        m = re.compile(rb"~?\{(\d+)\}\r\n").match(self.data, self.pos)
        if m:
            self.pos = m.end() + int(m[1])
            return self.data[m.end():self.pos]
        return self.atom()

    def atom(self) -> Atom:
        start = self.pos
        while self.pos < len(self.data) and self.peek() not in (b" ", b"(", b")", b"\r"):
            if self.sections and self.peek() == b"[" and self.data[start:self.pos].upper() in _SECTIONED:
                break
            self.pos += 1
        if self.peek() == b"[":
            self.pos += 1
            while self.peek() not in (b"]", b""):
                if self.peek() == b"(":
                    self.value()
                else:
                    self.pos += 1
            self.pos += 1
            while self.pos < len(self.data) and self.peek() not in (b" ", b")", b"\r"):
                self.pos += 1
        assert self.pos > start, self.data[start:start + 40]
        return Atom(self.data[start:self.pos])

    def line(self) -> list:
        """The values of one whole response line, after "*" or the tag, through its CRLF."""
        out = [self.atom()]
        while self.peek() == b" ":
            self.pos += 1
            out.append(self.value())
        self.expect(b"\r\n")
        assert self.pos == len(self.data)
        return out


def read(data: bytes):
    reader = ResponseReader(data)
    value = reader.value()
    assert reader.pos == len(data), data
    return value


def expand(text: bytes) -> list[int]:
    out = []
    for item in text.split(b","):
        low, _, high = item.partition(b":")
        a, b = int(low), int(high or low)
        out += range(a, b + 1) if a <= b else range(a, b - 1, -1)
    return out


# --- response round trips -------------------------------------------------------------------------

@given(st.binary(max_size=60) | text.map(str.encode), st.booleans())
def test_astrings_and_nstrings_read_back(value, utf8):
    written = r.astring(value, utf8=utf8)
    assert read(written) == value and type(read(written)) is (Atom if ASTRING_ATOM.fullmatch(value) else bytes)
    assert read(r.nstring(value, utf8=utf8)) == value and type(read(r.nstring(value, utf8=utf8))) is bytes
    assert read(r.nstring(None)) == Atom(b"NIL") and type(read(r.nstring(None))) is Atom


@given(text, text, st.booleans())
def test_strings_the_server_writes_its_parser_reads(userid, password, utf8):
    wire = b"t LOGIN " + r.astring(userid, utf8=utf8) + b" " + r.astring(password, utf8=utf8) + b"\r\n"
    assert parse_command(wire, LIMITS, utf8=utf8) == (Login("t", userid, password), len(wire))


@given(names, st.booleans())
def test_mailbox_names_read_back(name, utf8):
    written = r.mailbox_name(name, utf8=utf8)
    raw = read(written).decode()
    assert (raw if utf8 else decode_mutf7(raw)) == ("INBOX" if is_inbox(name) else name)
    # The server reads its own spelling back as the same name (SELECT after LIST).
    assert parse_command(b"t SELECT " + written + b"\r\n", LIMITS, utf8=utf8)[0] == Select("t", expected_mailbox(name))


@given(st.lists(st.one_of(system_flags, atoms, atoms.map(lambda a: "\\" + a), st.just("\\*")), max_size=6))
def test_flag_lists_read_back(values):
    written = r.flag_list(values)
    got = read(written)
    assert all(type(f) is Atom for f in got) and len(got) == len(set(got))
    assert {f.decode() for f in got} == set(values)
    # System flags first (RFC 9051 §9 flag order is free; this server keeps one order per set).
    assert [f.startswith(b"\\") for f in got] == sorted((f.startswith(b"\\") for f in got), reverse=True)
    if "\\*" not in values:  # "\*" is only a PERMANENTFLAGS value; any other list a client may send back
        stored = parse_command(b"t STORE 1 FLAGS " + written + b"\r\n", LIMITS)[0]
        assert set(stored.flags) == {SYSTEM_FLAGS_BY_UPPER.get(f.upper(), f) for f in values}


@given(st.lists(numbers, min_size=1, max_size=20))
def test_sequence_sets_read_back(values):
    written = r.sequence_set(values)
    assert expand(written.encode()) == values   # in the order given: COPYUID pairs by position
    assert list(SequenceSet.parse(written).iter(max(values))) == sorted(set(values))


@given(date_times)
def test_date_times_read_back(when):
    written = r.date_time(when)
    m = re.fullmatch(rb'"([ \d]\d)-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"', written)
    assert m, written
    offset = timedelta(hours=int(m[8]), minutes=int(m[9])) * (-1 if m[7] == b"-" else 1)
    got = datetime(int(m[3]), MONTHS.index(m[2].decode()) + 1, int(m[1]), int(m[4]), int(m[5]), int(m[6]),
                   tzinfo=timezone(offset))
    assert got == when and got.utcoffset() == when.utcoffset()
    # The server's parser reads it back too (APPEND's date-time), zone and all.
    appended = parse_command(b"t APPEND INBOX " + written + b" {1+}\r\nx\r\n", LIMITS)[0].messages[0].internaldate
    assert appended == when and appended.utcoffset() == when.utcoffset()


@given(numbers, st.lists(st.tuples(numbers, numbers), min_size=1, max_size=8,
                        unique_by=(lambda p: p[0], lambda p: p[1])))
def test_uidplus_codes_read_back(uidvalidity, pairs):
    line = r.tagged("a1", "OK", r.copyuid(uidvalidity, [s for s, _ in pairs], [d for _, d in pairs]), "Done")
    m = re.fullmatch(rb"a1 OK \[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\] Done\r\n", line)
    assert m and int(m[1]) == uidvalidity
    assert list(zip(expand(m[2]), expand(m[3]))) == pairs  # RFC 4315 §3: paired by position
    m = re.fullmatch(rb"\* OK \[APPENDUID (\d+) ([\d:,]+)\] x\r\n",
                     r.untagged_status("OK", r.appenduid(uidvalidity, [d for _, d in pairs]), "x"))
    assert m and int(m[1]) == uidvalidity and expand(m[2]) == [d for _, d in pairs]


@given(tags, st.booleans(), st.lists(st.tuples(st.sampled_from(["MIN", "MAX", "COUNT", "ALL"]),
                                                st.lists(numbers, min_size=1, max_size=5)), unique_by=lambda p: p[0]))
def test_esearch_read_back(tag, uid, data):
    pairs = [(name, (r.sequence_set(ns) if name == "ALL" else str(ns[0])).encode()) for name, ns in data]
    got = ResponseReader(r.esearch(tag, uid, pairs)).line()
    assert got[:3] == [Atom(b"*"), Atom(b"ESEARCH"), [Atom(b"TAG"), tag.encode()]]
    rest = got[3:]
    if uid:
        assert rest[0] == Atom(b"UID")
        rest = rest[1:]
    assert [(k.decode(), v) for k, v in zip(rest[::2], rest[1::2])] == pairs


addresses = st.builds(Address, st.none() | text, st.none() | text, st.none() | text, st.none() | text)
address_lists = st.lists(addresses, max_size=3).map(tuple)
envelopes = st.builds(Envelope, st.none() | text, st.none() | text, address_lists, address_lists, address_lists,
                      address_lists, address_lists, address_lists, st.none() | text, st.none() | text)


def envelope_of(value) -> Envelope:
    def s(v):
        return None if type(v) is Atom and v == b"NIL" else v.decode()

    def addrs(v):
        return () if type(v) is Atom and v == b"NIL" else tuple(Address(*map(s, a)) for a in v)
    return Envelope(s(value[0]), s(value[1]), *map(addrs, value[2:8]), s(value[8]), s(value[9]))


# IMAPClient reads keywords and header field names of these characters; some others of ATOM-CHAR
# ("[", "]") it takes for the start or end of a section.
plain_fields = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8)
plain_keywords = st.from_regex(r"\$?[A-Za-z0-9_.-]{1,8}", fullmatch=True)


@settings(max_examples=150)
@given(numbers, st.lists(st.one_of(system_flags, plain_keywords), max_size=4), numbers, st.integers(0, MAX_NUMBER64),
       date_times, envelopes, st.lists(st.tuples(st.builds(Section, parts, st.sampled_from([None, "HEADER", "TEXT"])) |
                                                 st.builds(Section, parts, st.just("HEADER.FIELDS"),
                                                           st.lists(plain_fields, min_size=1, max_size=2).map(tuple)),
                                                 st.none() | st.integers(0, 10**6), st.none() | st.binary(max_size=40)),
                                       max_size=3, unique_by=lambda t: (t[0], t[1])), st.booleans())
def test_fetch_responses_read_back(seq, flag_values, uid, size, when, envelope, bodies, utf8):
    items = [("FLAGS", r.flag_list(flag_values)), ("UID", r.number(uid)), ("RFC822.SIZE", r.number(size)),
             ("INTERNALDATE", fd.internal_date(when)), ("ENVELOPE", fd.encode_envelope(envelope, utf8=utf8))]
    expected_bodies = {}
    for section, origin, content in bodies:
        name = "BODY" + str(section) + ("" if origin is None else f"<{origin}>")
        items.append((name, r.NIL if content is None else r.literal(content)))
        expected_bodies[name.encode()] = content
    written = r.fetch(seq, items)
    # The reader written here.
    star, number, word, values = ResponseReader(written, sections=True).line()
    assert (star, number, word) == (Atom(b"*"), Atom(b"%d" % seq), Atom(b"FETCH"))
    got = dict(zip(values[::2], values[1::2]))
    assert len(got) == len(items)
    assert {f.decode() for f in got[Atom(b"FLAGS")]} == set(flag_values)
    assert (int(got[Atom(b"UID")]), int(got[Atom(b"RFC822.SIZE")])) == (uid, size)
    assert envelope_of(got[Atom(b"ENVELOPE")]) == envelope
    for name, content in expected_bodies.items():
        assert got[Atom(name)] == (Atom(b"NIL") if content is None else content)
    # IMAPClient's parser, as a client reads the same response (imaplib hands it the literals apart).
    chunks, rest = [], b"%d " % seq + written[len(b"* %d FETCH " % seq):-2]  # as imaplib hands it over
    while m := re.search(rb"\{(\d+)\}\r\n", rest):
        end = m.end() + int(m[1])
        chunks.append((rest[:m.start()] + b"{%d}" % int(m[1]), rest[m.end():end]))
        rest = rest[end:]
    parsed = imapclient.response_parser.parse_fetch_response(chunks + [rest], normalise_times=False,
                                                             uid_is_key=False)[seq]
    # IMAPClient gives a keyword of digits as a number, and item names in capitals.
    assert {f if isinstance(f, bytes) else b"%d" % f for f in parsed[b"FLAGS"]} == {f.encode() for f in flag_values}
    assert (parsed[b"UID"], parsed[b"RFC822.SIZE"]) == (uid, size)
    assert parsed[b"INTERNALDATE"] == when and parsed[b"INTERNALDATE"].utcoffset() == when.utcoffset()
    for name, content in expected_bodies.items():
        assert parsed[name.upper()] == content
