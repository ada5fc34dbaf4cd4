"""ENVELOPE from header fields: RFC 5322 Appendix A examples, groups, defaults, odd syntax."""

from __future__ import annotations

import pytest

from postoffice.message.envelope import GROUP_END, Address, parse_address_list
from postoffice.message.parsed import parse_message


def envelope_of(header: str):
    return parse_message(header.replace("\n", "\r\n").encode("utf-8") + b"\r\nbody\r\n").envelope


def test_rfc5322_a_1_2_different_types_of_mailboxes():
    env = envelope_of(
        'From: "Joe Q. Public" <john.q.public@example.com>\n'
        "To: Mary Smith <mary@x.test>, jdoe@example.org, Who? <one@y.test>\n"
        'Cc: <boss@nil.test>, "Giant; \\"Big\\" Box" <sysservices@example.net>\n'
        "Date: Tue, 1 Jul 2003 10:52:37 +0200\n"
        "Message-ID: <5678.21-Nov-1997@example.com>\n"
    )
    assert env.from_ == (Address("Joe Q. Public", None, "john.q.public", "example.com"),)
    assert env.to == (
        Address("Mary Smith", None, "mary", "x.test"),
        Address(None, None, "jdoe", "example.org"),
        Address("Who?", None, "one", "y.test"),
    )
    assert env.cc == (
        Address(None, None, "boss", "nil.test"),
        Address('Giant; "Big" Box', None, "sysservices", "example.net"),
    )
    assert env.date == "Tue, 1 Jul 2003 10:52:37 +0200"
    assert env.message_id == "<5678.21-Nov-1997@example.com>"
    # RFC 9051 §7.5.2: absent Sender and Reply-To are the From; absent Bcc is NIL.
    assert env.sender == env.from_ and env.reply_to == env.from_
    assert env.bcc == () and env.subject is None and env.in_reply_to is None


def test_rfc5322_a_1_3_group_addresses():
    env = envelope_of(
        "From: Pete <pete@silly.example>\n"
        "To: A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;\n"
        "Cc: Undisclosed recipients:;\n"
    )
    # RFC 3501 §7.4.2 / RFC 9051 §7.5.2: group start (host NIL, mailbox = name), group end (all NIL).
    assert env.to == (
        Address(None, None, "A Group", None),
        Address("Ed Jones", None, "c", "a.test"),
        Address(None, None, "joe", "where.test"),
        Address("John", None, "jdoe", "one.test"),
        GROUP_END,
    )
    assert env.cc == (Address(None, None, "Undisclosed recipients", None), GROUP_END)


def test_rfc5322_a_5_white_space_and_comments():
    env = envelope_of(
        "From: Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>\n"
        "To:A Group(Some people)\n"
        "     :Chris Jones <c@(Chris's host.)public.example>,\n"
        "         joe@example.org,\n"
        "  John <jdoe@one.test> (my dear friend); (the end of the group)\n"
        "Cc:(Empty list)(start)Hidden recipients  :(nobody(that I know))  ;\n"
    )
    assert env.from_ == (Address("Pete", None, "pete", "silly.test"),)
    assert env.to == (
        Address(None, None, "A Group", None),
        Address("Chris Jones", None, "c", "public.example"),
        Address(None, None, "joe", "example.org"),
        Address("John", None, "jdoe", "one.test"),
        GROUP_END,
    )
    assert env.cc == (Address(None, None, "Hidden recipients", None), GROUP_END)


def test_rfc5322_a_6_3_obsolete_white_space():
    env = envelope_of(
        "From  : John Doe <jdoe@machine(comment).  example>\n"
        "To    : Mary Smith\n"
        "  \n"
        "          <mary@example.net>\n"
        "Subject     : Saying Hello\n"
    )
    # RFC 5322 §4.2, §4.4: white space before the colon, a folding line of white space only.
    assert env.from_ == (Address("John Doe", None, "jdoe", "machine.example"),)
    assert env.to == (Address("Mary Smith", None, "mary", "example.net"),)
    assert env.subject == "Saying Hello"


@pytest.mark.parametrize(("value", "addresses"), [
    # RFC 5322 §4.4 obs-route: the at-domain-list is the ENVELOPE adl.
    ("<@relay1.test,@relay2.test:joe@example.test>",
     (Address(None, "@relay1.test,@relay2.test", "joe", "example.test"),)),
    # A quoted local part keeps its quotes so that mailbox@host stays an address.
    ('"joe smith"@example.test', (Address(None, None, '"joe smith"', "example.test"),)),
    # Old style: the comment after the address serves as its display name.
    ("joe@example.test (Joe Smith)", (Address("Joe Smith", None, "joe", "example.test"),)),
    # RFC 2047 names stay encoded: IMAP returns the raw form.
    ("=?utf-8?q?J=C3=B6rg?= <jorg@example.test>",
     (Address("=?utf-8?q?J=C3=B6rg?=", None, "jorg", "example.test"),)),
    # No "@": host "" (NIL would mark a group).
    ("postmaster", (Address(None, None, "postmaster", ""),)),
    ("", ()),
    (" , ,", ()),
    ("<>", (Address(None, None, "", ""),)),
    # Lenient: unterminated quotes, brackets and comments still give an address.
    ('"Unterminated <a@b.test>', (Address(None, None, '"Unterminated <a@b.test>', ""),)),
    ("Name <a@b.test", (Address("Name", None, "a", "b.test"),)),
    ("a@b.test (never closed", (Address("never closed", None, "a", "b.test"),)),
    ("a@[192.0.2.1]", (Address(None, None, "a", "[192.0.2.1]"),)),
])
def test_address_forms(value, addresses):
    assert parse_address_list(value) == addresses


def test_present_but_empty_fields():
    env = envelope_of("Subject:\nFrom: a@example.test\nSender:\nReply-To: \nTo:\n")
    # RFC 9051 §7.5.2: an empty Subject is "", an empty Sender or Reply-To is the From,
    # an empty To is NIL.
    assert env.subject == ""
    assert env.sender == env.reply_to == env.from_ == (Address(None, None, "a", "example.test"),)
    assert env.to == ()


def test_first_field_wins_and_raw_octets_survive():
    raw = b"Subject: caf\xe9\r\nSubject: second\r\nIn-Reply-To: <x@y>\r\n\r\n"
    env = parse_message(raw).envelope
    # Non-UTF-8 octets are kept as surrogates so the FETCH encoder can write them back as they were.
    assert env.subject.encode("utf-8", "surrogateescape") == b"caf\xe9"
    assert env.in_reply_to == "<x@y>"
    assert parse_message(raw).headers["subject"] == ["café", "second"]  # Latin-1 for search
