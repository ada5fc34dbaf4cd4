"""Properties of the mail client's parsers, for generated input.

imapdata: modified UTF-7 mailbox names round trip (RFC 3501 §5.1.3); quoted strings, LIST and
FETCH data written here as a server writes them (RFC 9051 §9: atoms, quoted strings, literals,
NIL), and spread over items as imaplib hands them back, read back to the values written; any
bytes at all give values or ImapDataError, nothing else. draft: what `render` writes, `parse`
reads back, recipients included. compose.split_list: a list of mailboxes joined with commas splits
back into those mailboxes (RFC 5322 §3.4), whatever their quoted strings and comments hold.
cli_read.search_criteria: a query of words and `key:value` terms gives one SEARCH key per term,
each value fit to be sent as an IMAP string.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import date, datetime
from email.headerregistry import Address

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from postoffice.mua.cli_read import IS_KEYS, MONTHS, search_criteria
from postoffice.mua.compose import split_list
from postoffice.mua.connect import MuaError
from postoffice.mua.draft import EditedDraft, parse, render
from postoffice.mua.imapdata import (
    ImapDataError, decode_mailbox, encode_mailbox, fetch_items, list_items, parse_responses, quote, sequence_set,
    status_items,
)

# RFC 9051 §9: ATOM-CHAR is any CHAR except atom-specials: "(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]".
ATOM_CHARS = "".join(c for c in map(chr, range(0x21, 0x7F)) if c not in '(){%*"\\]')
ASTRING_CHARS = ATOM_CHARS + "]"
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent")
NOT_QUOTABLE = "\r\n\0"

atoms = st.text(ATOM_CHARS, min_size=1, max_size=12)
lines = st.text(st.characters(exclude_characters=NOT_QUOTABLE, exclude_categories=("Cs",)))


def quoted(data: bytes) -> bytes:
    """RFC 9051 §9 quoted: DQUOTE *QUOTED-CHAR DQUOTE, with "\\" and DQUOTE as quoted-specials."""
    return b'"' + data.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


def imaplib_items(segments: list[bytes | tuple[bytes]]) -> list[bytes | tuple[bytes, bytes]]:
    """One response as imaplib hands it back: `(line up to "{n}", literal)` pairs, then the rest of the line.

    `segments` is text (bytes) and literals (a 1-tuple of bytes), in order."""
    out: list[bytes | tuple[bytes, bytes]] = []
    text = b""
    for seg in segments:
        if isinstance(seg, tuple):
            out.append((text + b"{%d}" % len(seg[0]), seg[0]))
            text = b""
        else:
            text += seg
    out.append(text)
    return out


# --- mailbox names ---------------------------------------------------------------------------------

@given(st.text())
@example("Tom & Jerry &- &&")
@example("Reçus/日本語 & 😀 ~")
def test_mailbox_names_round_trip_through_modified_utf7(name):
    wire = encode_mailbox(name)
    assert all(0x20 <= ord(c) <= 0x7E for c in wire)  # RFC 3501 §5.1.3: printable US-ASCII only
    assert decode_mailbox(wire) == name


@given(st.text(st.characters(categories=("Cs",)), min_size=1).flatmap(
    lambda bad: st.tuples(st.text(), st.just(bad), st.text()).map("".join)))
@example("Caf\udce9")  # b"Caf\xe9" from a Latin-1 terminal, as Python hands over argv
def test_a_lone_surrogate_is_no_mailbox_name(name):
    with pytest.raises(ImapDataError):
        encode_mailbox(name)


@given(st.text())
@example("&-&AOk-&Jjo-!&&=-&A-&AAA-&2D3-&,,,,-")
def test_decoding_any_name_gives_text(name):
    decoded = decode_mailbox(name)
    assert isinstance(decoded, str)
    if "&" not in name:
        assert decoded == name


# --- strings, LIST, STATUS, FETCH -----------------------------------------------------------------

@given(st.text())
@example('a\r\nA1 DELETE INBOX')  # a line break would end the command and start another
@example('back\\slash "quote"')
def test_a_quoted_string_reads_back_or_is_refused(text):
    if any(c in text for c in NOT_QUOTABLE):
        with pytest.raises(ImapDataError):
            quote(text)
        return
    written = quote(text).encode()
    assert not any(c in written for c in b"\r\n\0")
    assert parse_responses([b'() "/" ' + written]) == [[[], b"/", text.encode()]]


@st.composite
def mailbox_listings(draw):
    """(attributes, delimiter, name) and one LIST response writing them, its name as an atom, quoted or a literal."""
    attrs = draw(st.lists(st.one_of(st.sampled_from(["\\HasNoChildren", "\\Noselect", "\\Sent", "\\Trash"]),
                                    atoms.map(lambda a: "\\" + a)), max_size=4))
    delimiter = draw(st.one_of(st.none(), st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
    name = draw(st.one_of(st.text(ASTRING_CHARS, min_size=1), st.text()))
    raw = name.encode()
    forms = ["literal"]
    # An atom "nil" (any case) reads as NIL, which list_items can only give back as "NIL": left out.
    if name and all(c in ASTRING_CHARS for c in name) and (name.upper() != "NIL" or name == "NIL"):
        forms.append("atom")
    if not any(c in name for c in NOT_QUOTABLE):
        forms.append("quoted")  # RFC 9051 §9 (and RFC 6855 for UTF-8 in it)
    form = draw(st.sampled_from(forms))
    head = b"(" + b" ".join(a.encode() for a in attrs) + b") "
    head += b"NIL " if delimiter is None else quoted(delimiter.encode()) + b" "
    segments: list[bytes | tuple[bytes]] = [head + raw] if form == "atom" else [head + quoted(raw)] \
        if form == "quoted" else [head, (raw,), b""]
    return (attrs, delimiter, name), segments


@given(st.lists(mailbox_listings(), max_size=5))
@example([(([], "/", "NIL"), [b'() "/" NIL'])])  # RFC 9051 §9: a mailbox is an astring, so NIL is a name
@example([(([], "/", "1" * 5000), [b'() "/" ' + b"1" * 5000])])  # no int() of a 5000-digit run
@example([(([], "/", "a[b"), [b'() "/" a[b']), (([], "/", "BODY[x"), [b'() "/" BODY[x'])])
def test_list_data_reads_back(listings):
    data = [item for _, segments in listings for item in imaplib_items(segments)]
    assert list_items(data) == [expected for expected, _ in listings]


@given(atoms.filter(lambda a: a.upper() != "NIL"), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_status_data_reads_back(name, messages, unseen):
    data = [name.encode() + b" (MESSAGES %d UNSEEN %d)" % (messages, unseen)]
    assert status_items(data) == {"MESSAGES": messages, "UNSEEN": unseen}


HEADER_ITEM = "BODY[HEADER.FIELDS (DATE FROM TO SUBJECT)]"


@dataclass(frozen=True)
class Fetched:
    """One message's FETCH response items, in the order the server writes them."""
    seq: int
    uid: int
    flags: tuple[str, ...]
    size: int
    internaldate: bytes
    header: bytes | None
    header_as_literal: bool
    body: bytes
    order: tuple[str, ...]

    def segments(self) -> list[bytes | tuple[bytes]]:
        out: list[bytes | tuple[bytes]] = [b"%d (" % self.seq]
        for n, name in enumerate(self.order):
            out.append(b"" if n == 0 else b" ")
            if name == "UID":
                out.append(b"UID %d" % self.uid)
            elif name == "FLAGS":
                out.append(b"FLAGS (" + b" ".join(f.encode() for f in self.flags) + b")")
            elif name == "RFC822.SIZE":
                out.append(b"RFC822.SIZE %d" % self.size)
            elif name == "INTERNALDATE":
                out.append(b"INTERNALDATE " + quoted(self.internaldate))
            elif name == "BODY[]":
                out += [b"BODY[] ", (self.body,)]
            elif self.header is None:
                out.append(HEADER_ITEM.encode() + b" NIL")
            elif self.header_as_literal:
                out += [HEADER_ITEM.encode() + b" ", (self.header,)]
            else:
                out.append(HEADER_ITEM.encode() + b" " + quoted(self.header))
        return [*out, b")"]


# A keyword is an atom (RFC 9051 §9 flag-keyword). Left out: "NIL", and "BODY[" and the like, which a
# reader that does not know it is inside a flag list takes for NIL and for the start of a section.
keywords = atoms.filter(lambda a: a.upper() != "NIL" and not re.match(r"(BODY|BINARY|BINARY\.SIZE)\[", a, re.I))
flags = st.one_of(st.sampled_from(SYSTEM_FLAGS), keywords, atoms.map(lambda a: "\\" + a))
header_texts = st.binary(max_size=200)


@st.composite
def fetched(draw, seq: int, uid: int):
    header = draw(st.one_of(st.none(), header_texts))
    quotable = header is not None and all(0x20 <= b < 0x7F for b in header)
    moment = draw(st.datetimes(min_value=datetime(1900, 1, 1)))
    return Fetched(seq=seq, uid=uid, flags=tuple(draw(st.lists(flags, max_size=5))),
                   size=draw(st.integers(0, 2**32 - 1)),
                   internaldate=moment.strftime("%d-%b-%Y %H:%M:%S +0000").encode(),
                   header=header, header_as_literal=not quotable or draw(st.booleans()),
                   body=draw(st.binary(max_size=300)),
                   order=tuple(draw(st.permutations(["UID", "FLAGS", "RFC822.SIZE", "INTERNALDATE", "BODY[]",
                                                     HEADER_ITEM]))))


fetch_responses = st.lists(st.integers(1, 2**32 - 1), max_size=4, unique=True).flatmap(
    lambda uids: st.tuples(*(fetched(n + 1, uid) for n, uid in enumerate(uids))).map(list))

BRACKETED_KEYWORD = Fetched(seq=1, uid=7, flags=("$a[b",), size=3, internaldate=b"01-Jan-2024 00:00:00 +0000",
                            header=b"Subject: x\r\n", header_as_literal=True, body=b"abc",
                            order=("FLAGS", "UID", "RFC822.SIZE", "INTERNALDATE", HEADER_ITEM, "BODY[]"))


@given(fetch_responses)
@example([BRACKETED_KEYWORD])  # "[" is an atom character: only BODY[...] and BINARY[...] hold a section
def test_fetch_data_reads_back(messages):
    data = [item for m in messages for item in imaplib_items(m.segments())]
    items = fetch_items(data)
    assert sorted(items) == sorted(m.uid for m in messages)
    for m in messages:
        got = items[m.uid]
        assert got["UID"] == m.uid and got["RFC822.SIZE"] == m.size and got["BODY[]"] == m.body
        # A keyword of digits ("7") reads as a number, as any generic reader of the grammar would.
        assert [str(f) for f in got["FLAGS"]] == list(m.flags)
        assert got["INTERNALDATE"] == m.internaldate and got[HEADER_ITEM] == m.header


TOKENS = [b"(", b")", b" ", b'"', b"\\", b"NIL", b"{3}", b"7", b"007", b"[", b"]", b"BODY[", b"UID", b"FLAGS",
          b"\xff", b"\r\n", b"*", b"INBOX"]
response_bytes = st.one_of(st.binary(max_size=60), st.lists(st.sampled_from(TOKENS), max_size=20).map(b"".join))
imaplib_data = st.lists(st.one_of(st.none(), response_bytes, st.tuples(response_bytes, st.binary(max_size=20))),
                        max_size=6)


@given(imaplib_data)
@example([b'() "\xff" INBOX'])  # a delimiter that is not UTF-8
@example([b'1 (UID ' + b"9" * 5000 + b")"])  # int() refuses over 4300 digits
@example([b"1 (UID 7))"])
@example([b'() "/" {3}x'])  # a "{" not at the line's end once read nothing, forever
def test_any_data_gives_values_or_imapdataerror(data):
    for reader in (parse_responses, fetch_items, list_items, status_items):
        try:
            result = reader(data)
        except ImapDataError:
            continue
        if reader is fetch_items:
            assert all(isinstance(uid, int) for uid in result)
        elif reader is list_items:
            assert all(isinstance(name, str) and (d is None or isinstance(d, str)) for _, d, name in result)


@given(st.lists(st.integers(1, 2**32 - 1), max_size=30))
def test_sequence_sets_hold_exactly_the_uids(uids):
    written = sequence_set(uids)
    ranges = [tuple(map(int, part.split(":"))) for part in written.split(",")] if written else []
    assert {n for r in ranges for n in range(r[0], r[-1] + 1)} == set(uids)
    assert all(a[-1] + 1 < b[0] for a, b in zip(ranges, ranges[1:]))  # RFC 9051 §9: the shortest set


# --- recipients --------------------------------------------------------------------------------------

no_breaks = st.text(st.characters(exclude_characters="\r\n", exclude_categories=("Cs",)))
domains = st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=8), min_size=1,
                   max_size=3).map(".".join)
# email.headerregistry writes the display name and local part quoted, with quoted-pairs, when they need it.
addresses = st.builds(lambda name, user, domain: Address(display_name=name, username=user, domain=domain),
                      no_breaks, no_breaks.filter(bool), domains)


def commented(address: Address, comment: str) -> str:
    """`addr-spec (comment)`, RFC 5322 §3.2.2, "(", ")" and "\\" written as quoted-pairs."""
    ctext = re.sub(r"([()\\])", r"\\\1", comment)
    return f"{address.addr_spec} ({ctext})"


@given(st.lists(st.one_of(addresses.map(str), st.builds(commented, addresses, no_breaks)), max_size=5))
@example(['"Doe \\", J" <j@example.test>'])  # RFC 5322 §3.2.4: a quoted-pair is no closing quote
@example(['"a,b"@example.test', "j@example.test (Doe, J)", "k@example.test (a \\) , (b))"])
def test_mailboxes_joined_with_commas_split_back(mailboxes):
    assert split_list(", ".join(mailboxes)) == [m.strip() for m in mailboxes if m.strip()]


@given(st.text())
def test_splitting_only_drops_commas_and_blanks(value):
    items = split_list(value)
    assert all(i and i == i.strip() for i in items)
    kept = "".join(c for c in value if c != "," and not c.isspace())
    assert "".join(c for c in "".join(items) if c != "," and not c.isspace()) == kept
    if not any(c in value for c in '"(<'):
        assert items == [part.strip() for part in value.split(",") if part.strip()]


# --- the draft file ----------------------------------------------------------------------------------

subjects = no_breaks.map(str.strip)


@given(st.lists(addresses, max_size=3), st.lists(addresses, max_size=3), st.lists(addresses, max_size=3),
       subjects, st.text())
@example([], [], [], "Re: lunch\u2028Bcc: eve@example.test", "hi\n")  # U+2028 ends no line of the draft
@example([Address("Doe, J", "j", "example.test")], [], [], "a\x0cb\x85c\x1dd", "\n\nbody\n\nTo: x\n")
def test_a_rendered_draft_reads_back(to, cc, bcc, subject, body):
    # As `mail send --edit` shows a draft: each field's addresses joined in one line.
    shown = EditedDraft(*([", ".join(map(str, field)).strip()] if field else [] for field in (to, cc, bcc)),
                        subject, body)
    edited = parse(render(shown))
    assert edited == shown
    for field, addresses_in in ((edited.to, to), (edited.cc, cc), (edited.bcc, bcc)):
        assert [item for value in field for item in split_list(value)] == [str(a).strip() for a in addresses_in
                                                                          if str(a).strip()]


@given(st.text())
@example("To: a@example.test\n")
@example("Bcc: b@example.test\n \tc@example.test\nX-Other: 1\n\nbody")
def test_any_draft_text_reads_or_is_refused_in_one_message(text):
    try:
        d = parse(text)
    except MuaError as e:
        assert "nothing was sent" in e.format_message()
        return
    assert isinstance(d, EditedDraft) and all(len(f) <= 1 for f in (d.to, d.cc, d.bcc))


# --- search queries ----------------------------------------------------------------------------------

FIELD_KEYS = ("from", "to", "cc", "subject", "body", "text")
DATE_KEYS = ("since", "before", "on")
RFC3501_DATE = re.compile(r"(\d{1,2})-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d{4})")


def any_case(word: str):
    return st.lists(st.booleans(), min_size=len(word), max_size=len(word)).map(
        lambda up: "".join(c.upper() if u else c for c, u in zip(word, up)))


def is_plain_word(word: str) -> bool:
    key, colon, _ = word.partition(":")
    return not colon or key.lower() not in (*FIELD_KEYS, *DATE_KEYS, "is")


words = lines.filter(is_plain_word)
# (what is typed, the key and value it must give; a date is checked by reading it back)
terms = st.one_of(
    words.map(lambda w: (w, ("TEXT", w))),
    st.tuples(st.sampled_from(FIELD_KEYS).flatmap(any_case), lines.filter(bool)).map(
        lambda kv: (f"{kv[0]}:{kv[1]}", (kv[0].upper(), kv[1]))),
    st.tuples(st.sampled_from(DATE_KEYS).flatmap(any_case), st.dates()).map(
        lambda kd: (f"{kd[0]}:{kd[1].isoformat()}", (kd[0].upper(), kd[1]))),
    st.tuples(any_case("is"), st.sampled_from(sorted(IS_KEYS)).flatmap(any_case)).map(
        lambda kf: (f"{kf[0]}:{kf[1]}", (IS_KEYS[kf[1].lower()], None))),
)


def read_date(value: str) -> date:
    m = RFC3501_DATE.fullmatch(value)
    assert m, value
    return date(int(m[3]), MONTHS.index(m[2]) + 1, int(m[1]))


@given(st.lists(terms, max_size=6))
@example([("since:0999-12-31", ("SINCE", date(999, 12, 31)))])  # RFC 3501 §9: date-year is 4DIGIT
@example([("subject:lunch plans", ("SUBJECT", "lunch plans")), ("is:Unread", ("UNSEEN", None)), ("", ("TEXT", ""))])
def test_search_terms_give_their_keys(typed):
    got = search_criteria(shlex.join(word for word, _ in typed))
    assert len(got) == len(typed)
    for (key, value), (_, (want_key, want)) in zip(got, typed):
        assert key == want_key
        assert (read_date(value) if isinstance(want, date) else value) == want


@given(st.text())
@example('"a\r\nA1 DELETE INBOX"')  # a line break inside a search string would start a second command
@example("since:2024-13-01")
@example("'unclosed")
def test_any_query_gives_sendable_keys_or_one_line_error(query):
    try:
        criteria = search_criteria(query)
    except MuaError as e:
        assert "\n" not in e.format_message()
        return
    for key, value in criteria:
        assert re.fullmatch(r"[A-Z]+", key)
        if value is None:
            assert key in IS_KEYS.values()
            continue
        written = quote(value).encode()
        assert not any(c in written for c in b"\r\n\0")
        assert parse_responses([b"* " + written]) == [["*", value.encode()]]
        if key in ("SINCE", "BEFORE", "ON"):
            read_date(value)
