"""SEARCH keys, charsets and ESEARCH return options (RFC 9051 §6.4.4, RFC 4731, RFC 5182)."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postoffice.imap.wire import (
    All, And, Date, Flag, Header, Limits, ModSeq, Not, Or, Search, Sequence, SequenceSet, Size, Text,
)
from tests.imap.wire_helpers import bad, parse

S = SequenceSet.parse


def criteria(keys: str, **kw):
    return parse(f"a SEARCH {keys}", **kw).criteria


def test_rfc9051_examples():
    # RFC 9051 §6.4.4
    assert parse("A282 SEARCH RETURN (MIN COUNT) FLAGGED") == Search(
        "A282", Flag("\\Flagged"), returns=("MIN", "COUNT"))
    assert parse("A283 SEARCH RETURN () FLAGGED").returns == ()
    assert parse('A284 SEARCH TEXT "string not in mailbox"') == Search("A284", Text("TEXT", "string not in mailbox"))
    assert parse("A284 SEARCH RETURN (MIN) UNSEEN").criteria == Flag("\\Seen", False)
    assert parse("A285 UID SEARCH RETURN (MIN MAX) 1:5000") == Search(
        "A285", Sequence(S("1:5000")), returns=("MIN", "MAX"), uid=True)
    assert parse("A286 SEARCH RETURN (COUNT) DELETED").criteria == Flag("\\Deleted")
    # RFC 9051 §6.4.4.4 (RFC 5182): SAVE and "$".
    assert parse('P282 SEARCH RETURN (SAVE) SINCE 1-Feb-1994 NOT FROM "Smith"') == Search(
        "P282", And((Date("INTERNAL", ">=", date(1994, 2, 1)), Not(Header("From", "Smith")))), returns=("SAVE",))
    assert criteria("UID $ SMALLER 4096") == And((Sequence(S("$"), uid=True), Size("<", 4096)))
    assert criteria("$ SMALLER 4096") == And((Sequence(S("$")), Size("<", 4096)))
    cmd = parse("P283 SEARCH CHARSET UTF-8 (OR $ 1,3000:3021) TEXT {8+}\nмать")
    assert cmd == Search("P283", And((Or(Sequence(S("$")), Sequence(S("1,3000:3021"))), Text("TEXT", "мать"))),
                         "UTF-8")
    assert parse("G282 SEARCH RETURN (SAVE) KEYWORD $Junk").criteria == Flag("$Junk")
    assert parse("C286 SEARCH RETURN (MAX SAVE MIN COUNT) SINCE 12-Feb-2006 NOT FROM \"Smith\"").returns == (
        "MAX", "SAVE", "MIN", "COUNT")
    assert parse("h search from maria@example.com").criteria == Header("From", "maria@example.com")   # §7.1


def test_unsupported_charset_rfc9051_6_4_4_4_example_5():
    # B283 in RFC 9051 §6.4.4.4: the server does not implement KOI8-R. The line is refused
    # with BADCHARSET before the literal is asked for.
    refusal = bad("B283 SEARCH RETURN (SAVE) CHARSET KOI8-R (OR $ 1,3000:3021) TEXT {4}")
    assert refusal.tag == "B283" and refusal.code == "BADCHARSET (US-ASCII UTF-8)"
    assert parse('a SEARCH CHARSET "us-ascii" ALL').charset == "US-ASCII"


@pytest.mark.parametrize("key, value", [
    ("ALL", All()), ("ANSWERED", Flag("\\Answered")), ("DELETED", Flag("\\Deleted")),
    ("DRAFT", Flag("\\Draft")), ("FLAGGED", Flag("\\Flagged")), ("SEEN", Flag("\\Seen")),
    ("UNANSWERED", Flag("\\Answered", False)), ("UNDELETED", Flag("\\Deleted", False)),
    ("UNDRAFT", Flag("\\Draft", False)), ("UNFLAGGED", Flag("\\Flagged", False)),
    ("UNSEEN", Flag("\\Seen", False)),
    ("KEYWORD $Forwarded", Flag("$Forwarded")), ("UNKEYWORD foo", Flag("foo", False)),
    ("BCC x", Header("Bcc", "x")), ("CC x", Header("Cc", "x")), ("FROM x", Header("From", "x")),
    ("SUBJECT \"a b\"", Header("Subject", "a b")), ("TO x", Header("To", "x")),
    ("HEADER Message-ID \"<a@b>\"", Header("Message-ID", "<a@b>")), ("HEADER X-Foo \"\"", Header("X-Foo", "")),
    ("BODY x", Text("BODY", "x")), ("TEXT x", Text("TEXT", "x")),
    ("BEFORE 1-Feb-1994", Date("INTERNAL", "<", date(1994, 2, 1))),
    ("ON 01-Feb-1994", Date("INTERNAL", "=", date(1994, 2, 1))),
    ("SINCE \"1-Feb-1994\"", Date("INTERNAL", ">=", date(1994, 2, 1))),
    ("SENTBEFORE 1-feb-1994", Date("SENT", "<", date(1994, 2, 1))),
    ("SENTON 29-Feb-2024", Date("SENT", "=", date(2024, 2, 29))),
    ("SENTSINCE 31-Dec-1999", Date("SENT", ">=", date(1999, 12, 31))),
    ("LARGER 1000", Size(">", 1000)), ("SMALLER 9223372036854775807", Size("<", 2**63 - 1)),
    ("NOT SEEN", Not(Flag("\\Seen"))), ("OR SEEN FLAGGED", Or(Flag("\\Seen"), Flag("\\Flagged"))),
    ("UID 1:*", Sequence(S("1:*"), uid=True)), ("2,4:7", Sequence(S("2,4:7"))), ("*", Sequence(S("*"))),
    ("(SEEN)", Flag("\\Seen")), ("(SEEN FLAGGED)", And((Flag("\\Seen"), Flag("\\Flagged")))),
    # RFC 3501 §6.4.4: rev1 keys.
    ("NEW", And((Flag("\\Recent"), Flag("\\Seen", False)))), ("OLD", Flag("\\Recent", False)),
    ("RECENT", Flag("\\Recent")), ("UNRECENT", Flag("\\Recent", False)),
    # RFC 7162 §3.1.5
    ("MODSEQ 620162338", ModSeq(620162338)),
    ('MODSEQ "/flags/\\\\draft" all 620162338', ModSeq(620162338, "/flags/\\draft", "all")),
])
def test_every_key(key, value):
    assert criteria(key) == value
    first, sp, rest = key.partition(" ")      # RFC 9051 §9 note 1: keywords in any case
    assert criteria(first.lower() + sp + rest) == value


def test_nesting():
    assert criteria("OR (FROM a TO b) NOT (OR SEEN (NOT DRAFT))") == Or(
        And((Header("From", "a"), Header("To", "b"))), Not(Or(Flag("\\Seen"), Not(Flag("\\Draft")))))
    assert criteria("((((ALL))))") == All()


def test_depth_is_limited():
    limits = Limits(max_depth=10)
    assert criteria("(" * 9 + "ALL" + ")" * 9, limits=limits) == All()
    bad("a SEARCH " + "(" * 11 + "ALL" + ")" * 11, limits=limits)
    bad("a SEARCH " + "NOT " * 11 + "ALL", limits=limits)
    bad("a SEARCH " + "OR ALL " * 11 + "ALL", limits=limits)
    bad("a SEARCH " + "(" * 500 + "ALL" + ")" * 500)


@pytest.mark.parametrize("keys", [
    "", "BOGUS", "SEEN  FLAGGED", "OR SEEN", "NOT", "()", "(SEEN", "SEEN)", "BEFORE 31-Feb-1994",
    "BEFORE 1-Foo-1994", "BEFORE 1994-02-01", "LARGER -1", "LARGER 9223372036854775808", "UID 0",
    "0", "1:0", "KEYWORD \\Seen", "HEADER From", "MODSEQ \"/x/y\" all 1", "MODSEQ \"/flags/x\" some 1",
    "ALL RETURN (MIN)", "CHARSET UTF-8", "CHARSET UTF-8  ALL",
])
def test_invalid(keys):
    bad(f"a SEARCH {keys}")


def test_invalid_return_options():
    bad("a SEARCH RETURN (FOO) ALL")
    bad("a SEARCH RETURN (MIN ALL")
    bad("a SEARCH RETURN ALL")


flag_keys = st.sampled_from(["SEEN", "UNSEEN", "ALL", "DRAFT", "1:5", "UID 3", "FROM x", "LARGER 7"])
trees = st.recursive(flag_keys, lambda inner: st.one_of(
    inner.map(lambda k: f"NOT {k}"),
    st.tuples(inner, inner).map(lambda p: f"OR {p[0]} {p[1]}"),
    st.lists(inner, min_size=1, max_size=4).map(lambda ks: "(" + " ".join(ks) + ")"),
), max_leaves=12)


@given(trees)
def test_any_nesting_parses(keys):
    assert isinstance(parse(f"a SEARCH {keys}"), Search)
