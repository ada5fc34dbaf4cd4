"""headers.py: reading and editing header sections in place, folding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postoffice.message.headers import (
    MAX_LINE_CHARS, fold_header, get_header, has_header, header_block, prepend_headers,
    remove_header, scan_header,
)

MESSAGE = (
    b"From: alice@example.test\r\n"
    b"To: bob@example.test\r\n"
    b"Bcc: carol@example.test,\r\n"
    b"\tdave@example.test,\r\n"
    b"  erin@example.test\r\n"
    b"Subject: Bcc: is not a field here\r\n"
    b"bcc: frank@example.test\r\n"
    b"\r\n"
    b"Bcc: this line is body, not header\r\n"
)


def test_remove_bcc_with_folded_continuation_lines():
    # RFC 5322 §3.6.3 (Bcc is removed before sending); §2.2.3: continuation lines belong to the field.
    stripped = remove_header(MESSAGE, "BCC")
    assert stripped == (
        b"From: alice@example.test\r\n"
        b"To: bob@example.test\r\n"
        b"Subject: Bcc: is not a field here\r\n"
        b"\r\n"
        b"Bcc: this line is body, not header\r\n"
    )
    assert not has_header(stripped, "bcc") and has_header(MESSAGE, "Bcc")
    assert remove_header(MESSAGE, "X-Absent") == MESSAGE


def test_get_header_unfolds_and_is_case_insensitive():
    assert get_header(MESSAGE, "bcc") == [
        "carol@example.test,\tdave@example.test,  erin@example.test",
        "frank@example.test",
    ]
    assert get_header(MESSAGE, "Subject") == ["Bcc: is not a field here"]
    assert get_header(MESSAGE, "Received") == []


def test_prepend_keeps_the_message_bytes():
    # RFC 5321 §4.4: trace fields are added at the top; the rest is untouched.
    added = prepend_headers(MESSAGE, [("Return-Path", "<alice@example.test>"),
                                      ("Delivered-To", "bob@example.test")])
    assert added == b"Return-Path: <alice@example.test>\r\nDelivered-To: bob@example.test\r\n" + MESSAGE
    assert get_header(added, "return-path") == ["<alice@example.test>"]


def test_prepend_folds_long_values_and_follows_bare_lf():
    value = ("from client.example.test (client [192.0.2.7]) by mx.example.test with ESMTPS"
             " id 4a1b2c3d for <bob@example.test>; Fri, 21 Nov 1997 09:55:06 -0600")
    added = prepend_headers(b"Subject: x\n\nbody\n", [("Received", value)])
    lines = added.split(b"\n")
    assert all(len(line) <= MAX_LINE_CHARS for line in lines) and b"\r" not in added
    assert get_header(added, "Received") == [value]
    assert added.endswith(b"Subject: x\n\nbody\n")


def test_prepend_refuses_header_injection():
    with pytest.raises(ValueError):
        prepend_headers(MESSAGE, [("X-Test", "ok\r\nBcc: evil@example.test")])
    with pytest.raises(ValueError):
        prepend_headers(MESSAGE, [("Bad Name", "x")])


def test_header_block():
    assert header_block(MESSAGE) == MESSAGE[:MESSAGE.index(b"\r\n\r\n") + 4]
    assert header_block(b"Subject: only\r\n") == b"Subject: only\r\n"
    assert header_block(b"") == b""


def test_field_offsets_cover_the_header_exactly():
    fields, body_start = scan_header(MESSAGE)
    assert [f.name for f in fields] == [b"From", b"To", b"Bcc", b"Subject", b"bcc"]
    assert b"".join(MESSAGE[f.start:f.end] for f in fields) + b"\r\n" == MESSAGE[:body_start]


SPACES = st.sampled_from([" ", "\t", "  ", " \t "])
WORDS = st.lists(st.tuples(SPACES, st.text("ab\u00e9", min_size=1, max_size=90)), max_size=12).map(
    lambda pairs: "".join(space + word for space, word in pairs))


@given(WORDS, st.booleans())
def test_folding_unfolds_to_the_same_value(value, strip_first):
    value = value.lstrip(" \t") if strip_first else value
    # RFC 5322 §2.2.3: folding adds CRLF before white space only; unfolding removes it.
    folded = fold_header("Subject", value)
    lines = folded.split("\r\n")
    assert "".join(lines) == "Subject:" + ("" if value[:1] in (" ", "\t", "") else " ") + value
    # No line is white space only, and a line is too long only when it holds a single word.
    assert all(line.strip(" \t") for line in lines[1:])
    for number, line in enumerate(lines):
        words = (line[len("Subject:"):] if number == 0 else line).split()
        assert len(line) <= MAX_LINE_CHARS or len(words) == 1
