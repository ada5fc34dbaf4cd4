"""fixup.py: the RFC 6409 §8 fix-up of a submitted message, on raw bytes."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postoffice.message.headers import fold_header, get_header, scan_header
from postoffice.msa.fixup import FixedUp, SenderRefused, fix_up

NOW = datetime(2024, 3, 1, 12, 30, 5, tzinfo=timezone.utc)
DATE = "Fri, 01 Mar 2024 12:30:05 +0000"
RECEIVED = ("Received", f"from client.example.test by mx.example.test (postoffice) with ESMTPSA"
                        f" id Q1; {DATE}")
ALICE = "alice@example.test"
SENDABLE = {ALICE, "Team@Example.test"}
BODY = b"Hello,\r\n\r\nFrom: not a header\r\nBcc: nor this\r\n.\r\n"
COMPLETE = (
    b"From: Alice <alice@example.test>\r\n"
    b"To: bob@example.test\r\n"
    b"Date: Thu, 29 Feb 2024 08:00:00 +0100\r\n"
    b"Message-ID: <abc@client.example.test>\r\n"
    b"Subject: lunch\r\n"
    b"\r\n" + BODY
)


def fix(raw: bytes, **changes) -> FixedUp:
    args = dict(login=ALICE, sendable=SENDABLE, envelope_sender=ALICE, hostname="mx.example.test",
                received=RECEIVED, now=NOW, message_id_factory=lambda: "fixed")
    return fix_up(raw, **{**args, **changes})


def test_complete_message_only_gets_received():
    # RFC 5321 §4.4: the trace field goes on top; nothing else needs fixing.
    out = fix(COMPLETE)
    assert out.changes == ()
    assert out.message_id == "<abc@client.example.test>"
    assert out.content == fold_header(*RECEIVED).encode() + b"\r\n" + COMPLETE
    assert out.content.startswith(b"Received: from client.example.test by mx.example.test")


def test_missing_date_and_message_id_are_added():
    # RFC 6409 §8.2 (Date), §8.3 (Message-ID: <unique@hostname>).
    out = fix(b"From: alice@example.test\r\nSubject: hi\r\n\r\n" + BODY)
    assert out.changes == ("added Date", "added Message-ID")
    assert out.message_id == "<fixed@mx.example.test>"
    assert get_header(out.content, "Date") == [DATE]
    assert get_header(out.content, "Message-ID") == ["<fixed@mx.example.test>"]
    # New fields sit after Received, on top of the client's fields, whose order is kept.
    keys = [f.key for f in scan_header(out.content)[0]]
    assert keys == ["received", "date", "message-id", "from", "subject"]


def test_default_message_id_is_unique():
    # RFC 5322 §3.6.4: the msg-id must be unique.
    raw = b"From: alice@example.test\r\n\r\nhi\r\n"
    first, second = (fix(raw, message_id_factory=None).message_id for _ in range(2))
    assert first != second and first.endswith("@mx.example.test>") and first.startswith("<")


def test_empty_message_id_is_replaced():
    # RFC 6409 §8.3: the MSA SHOULD replace a Message-ID that is not valid syntax.
    out = fix(COMPLETE.replace(b"<abc@client.example.test>", b""))
    assert out.changes == ("replaced empty Message-ID",)
    assert get_header(out.content, "Message-ID") == ["<fixed@mx.example.test>"]


def test_missing_from_is_the_envelope_sender():
    # RFC 5322 §3.6: From is required; the caller has checked the envelope sender.
    out = fix(COMPLETE.replace(b"From: Alice <alice@example.test>\r\n", b""))
    assert out.changes == ("added From",)
    assert get_header(out.content, "From") == ["<alice@example.test>"]
    assert get_header(out.content, "Sender") == []


def test_missing_from_with_other_envelope_sender_adds_sender():
    # RFC 6409 §8.1: the login is the sender when From does not name it.
    out = fix(b"Subject: x\r\n\r\nhi\r\n", envelope_sender="team@example.test")
    assert out.changes[:2] == ("added From", "added Sender")
    assert get_header(out.content, "Sender") == [ALICE]


@pytest.mark.parametrize("from_", [
    b"Mallory <mallory@example.test>",
    b"alice@example.test, mallory@example.test",
    b"undisclosed:;",          # RFC 5322 §3.6.2: From is a mailbox-list, no groups
    b"alice",                  # not an address
    b"\"al ice\"@example.test",  # quoted local parts are never an account
])
def test_from_not_sendable_is_refused(from_):
    with pytest.raises(SenderRefused):
        fix(COMPLETE.replace(b"Alice <alice@example.test>", from_))


def test_refusal_names_the_address():
    with pytest.raises(SenderRefused) as refused:
        fix(COMPLETE.replace(b"Alice <alice@example.test>", b"Bob <bob@Example.TEST>"))
    assert refused.value.address == "bob@Example.TEST"
    assert "bob@Example.TEST" in str(refused.value)


def test_several_from_fields_are_refused():
    # RFC 5322 §3.6: exactly one From field, even if both name the login.
    with pytest.raises(SenderRefused):
        fix(b"From: alice@example.test\r\n" + COMPLETE)


def test_empty_from_is_refused():
    with pytest.raises(SenderRefused):
        fix(COMPLETE.replace(b"Alice <alice@example.test>", b""))


def test_from_comparison_ignores_case():
    out = fix(COMPLETE.replace(b"alice@example.test", b"ALICE@Example.Test"))
    assert out.changes == ()


def test_delegated_from_gets_sender_of_the_login():
    # RFC 6409 §8.1: From is not the login's own address, so Sender names the login.
    out = fix(COMPLETE.replace(b"Alice <alice@example.test>", b"Team <team@example.test>"))
    assert out.changes == ("added Sender",)
    assert get_header(out.content, "Sender") == [ALICE]


def test_several_authors_get_sender():
    # RFC 5322 §3.6.2: with several mailboxes in From, Sender MUST be present.
    raw = COMPLETE.replace(b"Alice <alice@example.test>", b"alice@example.test, team@example.test")
    out = fix(raw)
    assert out.changes == ("added Sender",)
    assert get_header(out.content, "Sender") == [ALICE]


def test_client_sender_is_replaced_when_from_is_not_the_login():
    # RFC 6409 §8.1: "add or replace"; a client's Sender could name anyone, even a sendable one.
    raw = COMPLETE.replace(b"Alice <alice@example.test>", b"team@example.test")
    out = fix(b"Sender: mallory@example.test\r\n" + raw)
    assert out.changes == ("replaced Sender",)
    assert get_header(out.content, "Sender") == [ALICE]


def test_sender_is_kept_when_from_is_the_login_and_sender_sendable():
    out = fix(b"Sender: Team <team@example.test>\r\n" + COMPLETE)
    assert out.changes == ()
    assert get_header(out.content, "Sender") == ["Team <team@example.test>"]


def test_sender_is_removed_when_from_is_the_login_and_sender_not_sendable():
    out = fix(b"Sender: mallory@example.test\r\n (folded)\r\n" + COMPLETE)
    assert out.changes == ("removed Sender",)
    assert get_header(out.content, "Sender") == []
    assert b"(folded)" not in out.content


def test_every_bcc_is_removed_with_continuation_lines():
    # RFC 5322 §3.6.3: Bcc recipients are not disclosed; §2.2.3: continuation lines go too.
    raw = COMPLETE.replace(
        b"Subject: lunch\r\n",
        b"Bcc: carol@example.test,\r\n\tdave@example.test\r\n"
        b"Subject: lunch\r\nbcc: erin@example.test\r\n",
    )
    out = fix(raw)
    assert out.changes == ("removed Bcc",)
    assert not any(name in out.content for name in (b"carol", b"dave", b"erin"))
    assert out.content.endswith(b"Subject: lunch\r\n\r\n" + BODY)  # "Bcc:" in the body stays


def test_second_fix_up_adds_only_a_received():
    # Idempotence: the output of a fix-up needs no more fixing.
    raw = (b"From: team@example.test\r\nSender: bob@example.test\r\nBcc: carol@example.test\r\n"
           b"Subject: x\r\n\r\n" + BODY)
    once = fix(raw)
    assert once.changes == ("replaced Sender", "added Date", "added Message-ID", "removed Bcc")
    twice = fix(once.content, message_id_factory=lambda: "other")
    assert twice.changes == ()
    assert twice.message_id == once.message_id
    assert twice.content == fold_header(*RECEIVED).encode() + b"\r\n" + once.content


def test_non_ascii_header_values_survive():
    # RFC 6532: UTF-8 in header values (SMTPUTF8) is carried byte for byte.
    raw = ("From: Jürgen <jürgen@bücher.example>\r\nSubject: Grüße aus Köln\r\n\r\n"
           "Grüße\r\n").encode()
    out = fix(raw, login="jürgen@bücher.example", sendable={"jürgen@bücher.example"})
    assert out.changes == ("added Date", "added Message-ID")
    assert out.content.endswith(raw)


def test_non_utf8_bytes_survive():
    raw = b"From: alice@example.test\r\nSubject: caf\xe9\r\n\r\ncaf\xe9\r\n"
    assert fix(raw).content.endswith(raw)


def test_bare_lf_message_stays_bare_lf():
    raw = COMPLETE.replace(b"\r\n", b"\n")
    out = fix(raw.replace(b"Date: Thu, 29 Feb 2024 08:00:00 +0100\n", b""))
    assert b"\r" not in out.content
    assert get_header(out.content, "Date") == [DATE]


def test_no_separator_and_no_body_is_all_header():
    # message.headers: a section of fields only runs to the end; there is no body to separate.
    raw = b"From: alice@example.test\r\nSubject: hi"
    out = fix(raw)
    assert out.content.endswith(raw)
    assert [f.key for f in scan_header(out.content)[0]][-2:] == ["from", "subject"]


def test_body_after_a_non_field_line_gets_its_empty_line():
    # message.headers (like `email`): a line that is not a field starts the body; RFC 5322 §2.1
    # wants an empty line there, so one is added and the body is unchanged.
    raw = b"From: alice@example.test\r\nthis is not a field\r\n\r\nmore\r\n"
    out = fix(raw)
    assert out.changes[-1] == "added empty line before body"
    assert out.content.endswith(b"\r\n\r\nthis is not a field\r\n\r\nmore\r\n")
    assert fix(out.content).changes == ()


def test_message_without_any_header():
    out = fix(b"just a body\r\n")
    assert out.changes == ("added From", "added Date", "added Message-ID",
                           "added empty line before body")
    assert out.content.endswith(b"\r\n\r\njust a body\r\n")


@given(st.binary(max_size=300))
def test_body_is_byte_identical(body):
    # RFC 6409 §8: the fix-up touches header fields only; the body (and any signature) survives.
    raw = b"From: alice@example.test\r\nBcc: x@example.test\r\n\r\n" + body
    out = fix(raw)
    _, body_start = scan_header(out.content)
    assert out.content[body_start:] == body
