"""FETCH attributes and sections (RFC 9051 §6.4.5, RFC 3516, RFC 7162)."""

import pytest

from postoffice.imap.wire import Binary, BinarySize, BodySection, Fetch, Section, SequenceSet
from tests.imap.wire_helpers import bad, parse

S = SequenceSet.parse


def attrs(line: str):
    return parse(line).attributes


def test_rfc9051_examples():
    # RFC 9051 §6.4.5
    assert parse("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])") == Fetch(
        "A654", S("2:4"), ("FLAGS", BodySection(Section((), "HEADER.FIELDS", ("DATE", "FROM")))))
    # RFC 9051 §6.3.13, §6.4.4.4, §6.4.9, §8
    assert attrs("A003 FETCH 4 ALL") == ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE")
    assert parse("A283 FETCH $ (UID INTERNALDATE FLAGS BODY.PEEK[HEADER])") == Fetch(
        "A283", S("$"), ("UID", "INTERNALDATE", "FLAGS", BodySection(Section((), "HEADER"), peek=True)))
    assert parse("A999 UID FETCH 4827313:4828442 FLAGS") == Fetch("A999", S("4827313:4828442"), ("FLAGS",), uid=True)
    assert attrs("a003 fetch 12 full") == ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY")
    assert attrs("a004 fetch 12 body[header]") == (BodySection(Section((), "HEADER")),)


def test_macros():
    # RFC 9051 §6.4.5: the macros, which cannot be combined with other attributes.
    assert attrs("a FETCH 1 fast") == ("FLAGS", "INTERNALDATE", "RFC822.SIZE")
    bad("a FETCH 1 (ALL)")
    bad("a FETCH 1 ALL FLAGS")


@pytest.mark.parametrize("name", ["ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER",
                                  "RFC822.SIZE", "RFC822.TEXT", "BODY", "BODYSTRUCTURE", "UID", "MODSEQ"])
def test_simple_attributes(name):
    assert attrs(f"a FETCH 1 {name.lower()}") == (name,)


@pytest.mark.parametrize("spec, section", [
    # RFC 9051 §6.4.5.1, the part specifiers of its example message.
    ("", Section()),
    ("HEADER", Section((), "HEADER")),
    ("TEXT", Section((), "TEXT")),
    ("1", Section((1,))),
    ("3.HEADER", Section((3,), "HEADER")),
    ("3.TEXT", Section((3,), "TEXT")),
    ("3.1", Section((3, 1))),
    ("4.1.MIME", Section((4, 1), "MIME")),
    ("4.2.HEADER", Section((4, 2), "HEADER")),
    ("4.2.2.1", Section((4, 2, 2, 1))),
    ("HEADER.FIELDS.NOT (Received X-Spam)", Section((), "HEADER.FIELDS.NOT", ("Received", "X-Spam"))),
    ("1.HEADER.FIELDS (\"Subject\")", Section((1,), "HEADER.FIELDS", ("Subject",))),
    ("header.fields (to)", Section((), "HEADER.FIELDS", ("to",))),
])
def test_sections(spec, section):
    assert attrs(f"a FETCH 1 BODY[{spec}]") == (BodySection(section),)
    # What str() writes (for the FETCH response) reads back to the same section.
    assert attrs(f"a FETCH 1 BODY{section}") == (BodySection(section),)


def test_section_str():
    assert str(Section()) == "[]"
    assert str(Section((4, 1), "MIME")) == "[4.1.MIME]"
    assert str(Section((), "HEADER.FIELDS", ("Date", "From"))) == "[HEADER.FIELDS (Date From)]"


def test_header_list_may_use_literals():
    assert attrs("a FETCH 1 BODY[HEADER.FIELDS ({7}\nSubject)]") == (
        BodySection(Section((), "HEADER.FIELDS", ("Subject",))),)


def test_partial():
    # RFC 9051 §6.4.5: BODY[]<0.2048>, origin and octet count.
    assert attrs("a FETCH 1 BODY.PEEK[]<0.2048>") == (BodySection(Section(), True, (0, 2048)),)
    assert attrs("a FETCH 1 (BODY[1]<100.10> FLAGS)")[0].partial == (100, 10)
    bad("a FETCH 1 BODY[]<0.0>")        # RFC 9051 §9 partial: nz-number64 count
    bad("a FETCH 1 BODY[]<0>")
    bad("a FETCH 1 BODY<0.1>")


def test_binary():
    # RFC 3516 §4.2, RFC 9051 §6.4.5.
    assert attrs("a FETCH 1 (BINARY[1.2] BINARY.PEEK[]<0.100> BINARY.SIZE[3])") == (
        Binary((1, 2)), Binary((), True, (0, 100)), BinarySize((3,)))
    bad("a FETCH 1 BINARY[HEADER]")
    bad("a FETCH 1 BINARY.SIZE[1]<0.1>")


@pytest.mark.parametrize("spec", ["MIME", "0", "1.0", "1.", ".1", "HEADER.FIELDS", "HEADER.FIELDS ()",
                                  "HEADER.FIELDS (a:b)", "BOGUS", "1.BOGUS", "TEXT ", "1 "])
def test_invalid_sections(spec):
    bad(f"a FETCH 1 BODY[{spec}]")


def test_unknown_attribute():
    bad("a FETCH 1 X-GM-LABELS")
    bad("a FETCH 1 ()")
    bad("a FETCH 0 FLAGS")


def test_condstore_modifiers():
    # RFC 7162 §3.1.4.2 and §3.2.6 examples.
    cmd = parse("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)")
    assert cmd.changedsince == 12345 and not cmd.vanished and cmd.sequence == S("1:*")
    cmd = parse("s100 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)")
    assert cmd.changedsince == 12345 and cmd.vanished
    bad("s100 FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)")   # needs UID FETCH
    bad("s100 UID FETCH 300:500 (FLAGS) (VANISHED)")                  # needs CHANGEDSINCE
    bad("a FETCH 1 FLAGS (FOO)")
    bad("a FETCH 1 FLAGS ()")
