"""FETCH data of stored messages (postoffice.imap.fetch_data): ENVELOPE, BODY[STRUCTURE],
BODY[section], partial fetches and BINARY.

Messages are built with the stdlib `email` package (policy SMTP: CRLF), stored as prefix + blob the
way the MDA stores them, and every section slice is checked against what `email` reads there.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
from email.message import EmailMessage, Message

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from postoffice.imap.fetch_data import (
    binary_bytes, binary_size, body_structure, decode_content, envelope, find_part, modseq,
    partial, section_bytes,
)
from postoffice.message.parsed import parse_message, parse_message_strictly
from tests.message.test_stdlib_agreement import messages

PREFIX = b"Return-Path: <alice@example.test>\r\nDelivered-To: bob@example.test\r\n"
COMPAT = email.policy.compat32  # keeps header values as written, so items compare exactly


def stored(blob: bytes, prefix: bytes = PREFIX):
    """(raw, parsed, prefix_len) as the session has them for a stored message."""
    return prefix + blob, parse_message(blob), len(prefix)


def build(msg: EmailMessage) -> bytes:
    return msg.as_bytes(policy=email.policy.SMTP)


def lines(count: int, octets: int, char: bytes = b"x") -> bytes:
    """A body of `count` lines and `octets` octets, every line but the last ending in CRLF."""
    width, extra = divmod(octets - 2 * (count - 1), count)
    out = [char * (width + (1 if i < extra else 0)) for i in range(count)]
    body = b"\r\n".join(out)
    assert len(body) == octets
    return body


def simple() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Alice Example <alice@example.test>"
    msg["To"] = "bob@example.test"
    msg["Subject"] = "Lunch"
    msg["Date"] = "Mon, 01 Jan 2024 12:00:00 +0000"
    msg["Message-ID"] = "<lunch@example.test>"
    msg.set_content("Shall we have lunch?\nAt noon.\n")
    return msg


def mixed_with_alternative_and_attachment() -> EmailMessage:
    msg = simple()
    msg.add_alternative("<p>Shall we have <b>lunch</b>?</p>\n", subtype="html")
    msg.add_attachment(bytes(range(256)) * 3, maintype="application", subtype="octet-stream",
                       filename="data.bin")
    return msg


def with_message_attachment() -> EmailMessage:
    outer = simple()
    outer.replace_header("Subject", "Fwd: Lunch")
    inner = mixed_with_alternative_and_attachment()
    outer.add_attachment(inner)
    outer.add_attachment("plain notes\n", filename="notes.txt")
    return outer


# RFC 9051 examples

RFC_HEADER = (
    b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n"
    b"From: Terry Gray <gray@cac.washington.edu>\r\n"
    b"Subject: IMAP4rev2 WG mtg summary and minutes\r\n"
    b"To: imap@cac.washington.edu\r\n"
    b"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>\r\n"
    b"Message-Id: <B27397-0100000@cac.washington.edu>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n"
    b"\r\n"
)


def test_rfc9051_fetch_full_example():
    # RFC 9051 §6.4.5 / §7.5.2 example "a003 fetch 12 full" and "a004 fetch 12 body[header]".
    # (The example's envelope ends "...washington.ed>", a typo for the header's ".edu>".)
    blob = RFC_HEADER + lines(92, 3028)
    raw, parsed, prefix_len = stored(blob, b"")
    assert envelope(parsed) == (
        b'("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev2 WG mtg summary and minutes" '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'((NIL NIL "imap" "cac.washington.edu")) '
        b'((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) '
        b'NIL NIL "<B27397-0100000@cac.washington.edu>")'
    )
    assert body_structure(parsed, False) == \
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3028 92)'
    header = section_bytes(raw, parsed, prefix_len, (), "HEADER")
    assert header == RFC_HEADER and len(header) == 342  # "BODY[HEADER] {342}"


def test_rfc9051_simple_body_structure_example():
    # RFC 9051 §7.5.2: a simple text message of 48 lines and 2279 octets
    blob = b"Content-Type: text/plain; charset=US-ASCII\r\n\r\n" + lines(48, 2279)
    _, parsed, _ = stored(blob)
    assert body_structure(parsed, False) == \
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 2279 48)'


def test_rfc9051_two_part_body_structure_example():
    # RFC 9051 §7.5.2: a text and a base64-encoded text attachment
    blob = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain; charset=US-ASCII\r\n\r\n" + lines(23, 1152) +
        b"\r\n--b\r\nContent-Type: text/plain; charset=US-ASCII; name=cc.diff\r\n"
        b"Content-ID: <960723163407.20117h@cac.washington.edu>\r\n"
        b"Content-Description: Compiler diff\r\n"
        b"Content-Transfer-Encoding: BASE64\r\n\r\n" + lines(73, 4554, b"A") +
        b"\r\n--b--\r\n"
    )
    _, parsed, _ = stored(blob)
    assert body_structure(parsed, False) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23)'
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") '
        b'"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73) "MIXED")'
    )
    assert body_structure(parsed, True) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 1152 23 NIL NIL NIL NIL)'
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") '
        b'"<960723163407.20117h@cac.washington.edu>" "Compiler diff" "BASE64" 4554 73 '
        b'NIL NIL NIL NIL) "MIXED" ("BOUNDARY" "b") NIL NIL NIL)'
    )


# ENVELOPE

def test_envelope_of_a_simple_message():
    _, parsed, _ = stored(build(simple()))
    alice = b'(("Alice Example" NIL "alice" "example.test"))'
    assert envelope(parsed) == (
        b'("Mon, 01 Jan 2024 12:00:00 +0000" "Lunch" ' + alice + b" " + alice + b" " + alice +
        b' ((NIL NIL "bob" "example.test")) NIL NIL NIL "<lunch@example.test>")'
    )


def test_envelope_groups():
    # RFC 9051 §7.5.2: group start (host NIL, mailbox = name) and end-of-group (all NIL)
    blob = (b"From: alice@example.test\r\n"
            b"To: A Group: ed@example.test, \"Joe Q.\" <joe@example.test>;\r\n"
            b"Cc: undisclosed-recipients:;\r\n"
            b"Reply-To: list@example.test\r\n\r\nbody\r\n")
    _, parsed, _ = stored(blob)
    assert envelope(parsed) == (
        b'(NIL NIL ((NIL NIL "alice" "example.test")) ((NIL NIL "alice" "example.test")) '
        b'((NIL NIL "list" "example.test")) '
        b'((NIL NIL "A Group" NIL)(NIL NIL "ed" "example.test")("Joe Q." NIL "joe" "example.test")'
        b'(NIL NIL NIL NIL)) '
        b'((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL NIL NIL)'
    )


def test_envelope_keeps_rfc2047_words_raw():
    msg = simple()
    msg.replace_header("Subject", "Grüße aus Köln")
    msg.replace_header("From", "Jürgen <j@example.test>")
    blob = build(msg)
    found = re.search(rb"^Subject: (.*?)\r\n(?! )", blob, re.M | re.S)
    subject = found.group(1).replace(b"\r\n", b"")
    assert b"=?utf-8?" in subject
    _, parsed, _ = stored(blob)
    env = envelope(parsed)
    assert b'"' + subject + b'"' in env
    assert b'"=?utf-8?q?J=C3=BCrgen?=" NIL "j" "example.test"' in env


def test_envelope_eight_bit_values():
    blob = "Subject: Grüße\r\nFrom: Jürgen <j@example.test>\r\n\r\nx\r\n".encode()
    _, parsed, _ = stored(blob)
    # RFC 3501: 8-bit only in a literal; RFC 9051 with UTF-8: quoted is allowed
    assert b"{7}\r\nGr\xc3\xbc\xc3\x9fe" in envelope(parsed)
    assert '"Grüße"'.encode() in envelope(parsed, utf8=True)
    latin1 = b"Subject: Gr\xfc\xdfe\r\n\r\nx\r\n"
    _, parsed, _ = stored(latin1)
    assert b"{5}\r\nGr\xfc\xdfe" in envelope(parsed, utf8=True)  # original octets, not UTF-8


def test_envelope_present_but_empty_fields():
    # RFC 9051 §7.5.2: absent is NIL, present but empty is ""; empty address lists are NIL
    _, parsed, _ = stored(b"Subject:\r\nTo:\r\nFrom: a@b.test\r\n\r\n")
    assert envelope(parsed).startswith(b'(NIL "" ((NIL NIL "a" "b.test"))')
    assert b'"b.test")) NIL NIL NIL NIL NIL)' in envelope(parsed)


def test_envelope_quotes_specials():
    _, parsed, _ = stored(b'From: "Back\\\\slash \\"Q\\"" <a@b.test>\r\n\r\n')
    assert envelope(parsed).count(b'("Back\\\\slash \\"Q\\"" NIL "a" "b.test")') == 3


# BODY and BODYSTRUCTURE

def test_body_structure_of_mixed_alternative_and_attachment():
    blob = build(mixed_with_alternative_and_attachment())
    _, parsed, _ = stored(blob)
    alt, attachment = parsed.body.children
    plain, html = alt.children
    boundary = parsed.body.param("BOUNDARY").encode()
    alt_boundary = alt.param("BOUNDARY").encode()
    text = b'"TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" %d %d'
    expected_body = (
        b"((" + b"(" + text % (plain.size, plain.lines) + b")"
        b'("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" %d %d)' % (html.size, html.lines) +
        b' "ALTERNATIVE")'
        b'("APPLICATION" "OCTET-STREAM" NIL NIL NIL "BASE64" %d) "MIXED")' % attachment.size
    )
    assert body_structure(parsed, False) == expected_body
    assert body_structure(parsed, True) == (
        b"((" + b"(" + text % (plain.size, plain.lines) + b" NIL NIL NIL NIL)"
        b'("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" %d %d NIL NIL NIL NIL)'
        % (html.size, html.lines) +
        b' "ALTERNATIVE" ("BOUNDARY" "' + alt_boundary + b'") NIL NIL NIL)'
        b'("APPLICATION" "OCTET-STREAM" NIL NIL NIL "BASE64" %d NIL '
        b'("ATTACHMENT" ("FILENAME" "data.bin")) NIL NIL) "MIXED" ("BOUNDARY" "' % attachment.size
        + boundary + b'") NIL NIL NIL)'
    )


def test_body_structure_of_message_rfc822_part():
    blob = build(with_message_attachment())
    _, parsed, _ = stored(blob)
    part = find_part(parsed, (2,))
    assert (part.type, part.subtype) == ("MESSAGE", "RFC822")
    structure = body_structure(parsed, False)
    # body-type-msg: basic fields, then the envelope, the body and the line count
    _, inner, _ = stored(blob[part.body_start:part.end], b"")
    expected = (b'("MESSAGE" "RFC822" NIL NIL NIL "8BIT" %d ' % part.size + envelope(inner) + b" "
                + body_structure(inner, False) + b" %d)" % part.lines)
    assert expected in structure
    assert envelope(inner).startswith(b'("Mon, 01 Jan 2024 12:00:00 +0000" "Lunch" ')
    extended = body_structure(parsed, True)
    assert b' %d NIL ("ATTACHMENT" NIL) NIL NIL)' % part.lines in extended


def test_body_structure_extension_fields():
    blob = (b"Content-Type: text/plain; charset=us-ascii; format=flowed\r\n"
            b"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n"
            b"Content-Disposition: inline; filename*=utf-8''%E2%82%AC.txt\r\n"
            b"Content-Language: en, de\r\n"
            b"Content-Location: http://example.test/\r\n a.txt\r\n\r\nhi\r\n")
    _, parsed, _ = stored(blob)
    assert body_structure(parsed, True) == (
        b'("TEXT" "PLAIN" ("CHARSET" "us-ascii" "FORMAT" "flowed") NIL NIL "7BIT" 4 1 '
        b'"Q2hlY2sgSW50ZWdyaXR5IQ==" ("INLINE" ("FILENAME*" "utf-8\'\'%E2%82%AC.txt")) '
        b'("en" "de") "http://example.test/a.txt")'
    )
    one_language = blob.replace(b"en, de", b"fr")
    assert b' "fr" "http' in body_structure(stored(one_language)[1], True)


# BODY[section] (RFC 9051 §6.4.5.1)

def imap_parts(msg: Message, numbers: tuple[int, ...] = ()):
    """(part numbers, email part) for every numbered part, as RFC 9051 §6.4.5.1 numbers them."""
    if msg.is_multipart() and msg.get_content_maintype() != "message":
        for i, child in enumerate(msg.get_payload(), start=1):
            yield numbers + (i,), child
            yield from _below(child, numbers + (i,))
    elif not numbers:
        yield (1,), msg  # a message that is not multipart has a part 1, its body
        yield from _below(msg, (1,))


def _below(part: Message, numbers: tuple[int, ...]):
    if part.get_content_type() == "message/rfc822":
        inner = part.get_payload(0)
        if inner.is_multipart():
            yield from imap_parts(inner, numbers)
        else:
            yield numbers + (1,), inner
    elif part.is_multipart():
        yield from imap_parts(part, numbers)


def header_items(header: bytes):
    return email.message_from_bytes(header, policy=COMPAT).items()


def leaf_view(msg: Message):
    return [(p.get_content_type(), p.get_payload() if not p.is_multipart() else None)
            for p in msg.walk()]


def check_sections(blob: bytes, prefix: bytes = PREFIX) -> None:
    """Every BODY[section] of prefix + blob agrees with what `email` reads from it."""
    raw, parsed, prefix_len = stored(blob, prefix)
    theirs = email.message_from_bytes(raw, policy=COMPAT)
    header = section_bytes(raw, parsed, prefix_len, (), "HEADER")
    text = section_bytes(raw, parsed, prefix_len, (), "TEXT")
    assert section_bytes(raw, parsed, prefix_len, ()) == raw == header + text
    assert header_items(header) == theirs.items()  # the prefix lines are in the top header
    assert header.startswith(prefix) and header.endswith(b"\r\n\r\n")
    for numbers, their_part in imap_parts(theirs):
        body = section_bytes(raw, parsed, prefix_len, numbers)
        mime = section_bytes(raw, parsed, prefix_len, numbers, "MIME")
        ours = find_part(parsed, numbers)
        assert ours is not None and body is not None and mime is not None, numbers
        assert f"{ours.type}/{ours.subtype}".lower() == their_part.get_content_type(), numbers
        if numbers == (1,) and not theirs.is_multipart():
            assert mime == header  # the message header is part 1's MIME header
        entity = email.message_from_bytes(mime + body, policy=COMPAT)
        assert entity.items() == their_part.items(), numbers
        assert leaf_view(entity) == leaf_view(their_part), numbers
        if not their_part.is_multipart():
            payload = their_part.get_payload()  # 8-bit payloads come back charset-decoded
            if payload.isascii():
                assert body == payload.encode("ascii"), numbers
            assert decode_content(body, ours.encoding) == their_part.get_payload(decode=True)
        if ours.is_message:
            inner = their_part.get_payload(0)
            inner_header = section_bytes(raw, parsed, prefix_len, numbers, "HEADER")
            inner_text = section_bytes(raw, parsed, prefix_len, numbers, "TEXT")
            assert inner_header + inner_text == body
            assert header_items(inner_header) == inner.items()
        else:
            assert section_bytes(raw, parsed, prefix_len, numbers, "HEADER") is None
            assert section_bytes(raw, parsed, prefix_len, numbers, "TEXT") is None


@pytest.mark.parametrize("make", [simple, mixed_with_alternative_and_attachment,
                                  with_message_attachment])
def test_sections_agree_with_the_email_package(make):
    check_sections(build(make()))
    check_sections(build(make()), prefix=b"")


def test_section_paths_of_a_message_attachment():
    raw, parsed, n = stored(build(with_message_attachment()))
    # 1 TEXT/PLAIN, 2 MESSAGE/RFC822 (2.1 MULTIPART/ALTERNATIVE, 2.1.1, 2.1.2, 2.2), 3 TEXT/PLAIN
    kinds = {numbers: (p.type, p.subtype) for numbers in
             [(1,), (2,), (2, 1), (2, 1, 1), (2, 1, 2), (2, 2), (3,)]
             if (p := find_part(parsed, numbers))}
    assert kinds == {
        (1,): ("TEXT", "PLAIN"), (2,): ("MESSAGE", "RFC822"), (2, 1): ("MULTIPART", "ALTERNATIVE"),
        (2, 1, 1): ("TEXT", "PLAIN"), (2, 1, 2): ("TEXT", "HTML"),
        (2, 2): ("APPLICATION", "OCTET-STREAM"), (3,): ("TEXT", "PLAIN"),
    }
    assert section_bytes(raw, parsed, n, (2, 1, 1)) == b"Shall we have lunch?\r\nAt noon.\r\n"
    assert section_bytes(raw, parsed, n, (2,), "HEADER.FIELDS", ("subject",)) == \
        b"Subject: Lunch\r\n\r\n"


@pytest.mark.parametrize("numbers", [(0,), (4,), (1, 1), (2, 3), (2, 1, 3), (1, 1, 1)])
def test_missing_parts_are_none(numbers):
    raw, parsed, n = stored(build(with_message_attachment()))
    assert section_bytes(raw, parsed, n, numbers) is None
    assert section_bytes(raw, parsed, n, numbers, "MIME") is None
    assert find_part(parsed, numbers) is None


def test_single_part_message_has_only_part_one():
    raw, parsed, n = stored(build(simple()))
    assert section_bytes(raw, parsed, n, (1,)) == section_bytes(raw, parsed, n, (), "TEXT")
    assert section_bytes(raw, parsed, n, (2,)) is None
    assert section_bytes(raw, parsed, n, (1, 1)) is None
    assert section_bytes(raw, parsed, n, (), "MIME") is None  # MIME needs a part number


def test_header_fields_are_case_insensitive_in_message_order_with_the_blank_line():
    raw, parsed, n = stored(build(simple()))
    got = section_bytes(raw, parsed, n, (), "HEADER.FIELDS", ("SUBJECT", "from", "Delivered-to"))
    assert got == (b"Delivered-To: bob@example.test\r\n"  # a prefix line: top header
                   b"From: Alice Example <alice@example.test>\r\n"
                   b"Subject: Lunch\r\n\r\n")
    assert section_bytes(raw, parsed, n, (), "header.fields", ("x-none",)) == b"\r\n"


def test_header_fields_not():
    raw, parsed, n = stored(build(simple()))
    got = section_bytes(raw, parsed, n, (), "HEADER.FIELDS.NOT",
                        ("return-path", "delivered-to", "content-type", "CONTENT-TRANSFER-ENCODING",
                         "mime-version", "message-id", "date"))
    assert got == (b"From: Alice Example <alice@example.test>\r\nTo: bob@example.test\r\n"
                   b"Subject: Lunch\r\n\r\n")


def test_header_fields_keep_folding_and_repeats():
    blob = (b"Received: from a\r\n by b\r\nSubject: one\r\nreceived: from c\r\n\tby d\r\n\r\nx")
    raw, parsed, n = stored(blob, b"")
    assert section_bytes(raw, parsed, n, (), "HEADER.FIELDS", ("RECEIVED",)) == \
        b"Received: from a\r\n by b\r\nreceived: from c\r\n\tby d\r\n\r\n"


def test_header_fields_match_names_exactly_beyond_case():
    raw, parsed, n = stored(b"X-A: 1\r\nX-AB: 2\r\nX-A : 3\r\n\r\n", b"")
    got = section_bytes(raw, parsed, n, (), "HEADER.FIELDS", ("x-a",))
    assert got == b"X-A: 1\r\nX-A : 3\r\n\r\n"


def test_message_without_body_and_blank_line():
    # RFC 9051 §6.4.5.1: no blank line is invented for a message that has none
    raw, parsed, n = stored(b"Subject: only a header\r\n", b"")
    assert section_bytes(raw, parsed, n, (), "HEADER") == b"Subject: only a header\r\n"
    assert section_bytes(raw, parsed, n, (), "HEADER.FIELDS", ("subject",)) == \
        b"Subject: only a header\r\n"
    assert section_bytes(raw, parsed, n, (), "TEXT") == b""


def test_bare_lf_message_keeps_its_line_endings():
    raw, parsed, n = stored(b"Subject: s\nFrom: a@b.test\n\nbody\n", b"")
    assert section_bytes(raw, parsed, n, (), "HEADER.FIELDS", ("from",)) == b"From: a@b.test\n\n"
    assert section_bytes(raw, parsed, n, (), "TEXT") == b"body\n"


def test_unknown_section_text_is_a_programming_error():
    raw, parsed, n = stored(build(simple()))
    with pytest.raises(ValueError):
        section_bytes(raw, parsed, n, (), "BODY")


# Partial fetch (RFC 9051 §6.4.5)

def test_partial_fetch_edges():
    data = b"0123456789"
    assert partial(data, 0, 4) == b"0123"
    assert partial(data, 8, 100) == b"89"  # truncated at the end
    assert partial(data, 10, 1) == b""  # origin at the end: empty
    assert partial(data, 11, 5) == b""  # origin beyond the end: empty
    assert partial(data, 3) == b"3456789"
    with pytest.raises(ValueError):
        partial(data, -1, 2)


def test_partial_of_header_fields_is_after_subsetting():
    raw, parsed, n = stored(build(simple()))
    fields = section_bytes(raw, parsed, n, (), "HEADER.FIELDS", ("subject",))
    assert partial(fields, 0, 7) == b"Subject"


# BINARY (RFC 3516, RFC 9051 §7.5.2)

def test_binary_decodes_base64_attachment():
    raw, parsed, n = stored(build(mixed_with_alternative_and_attachment()))
    assert binary_bytes(raw, parsed, n, (2,)) == bytes(range(256)) * 3
    assert binary_size(raw, parsed, n, (2,)) == 768


def test_binary_decodes_quoted_printable_text_with_crlf():
    blob = (b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"Gr=C3=BC=C3=9Fe, a long line that goes=\r\n on=0Aand on\r\n")
    raw, parsed, n = stored(blob)
    decoded = "Grüße, a long line that goes on\r\nand on\r\n".encode()
    assert binary_bytes(raw, parsed, n, (1,)) == decoded
    assert binary_size(raw, parsed, n, (1,)) == len(decoded)


def test_binary_of_base64_text_gets_crlf_lines():
    blob = (b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode(b"one\ntwo\r\nthree\n") + b"\r\n")
    raw, parsed, n = stored(blob)
    assert binary_bytes(raw, parsed, n, (1,)) == b"one\r\ntwo\r\nthree\r\n"


def test_binary_unknown_encoding_is_none():
    blob = (b"Content-Type: application/x-thing\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
            b"begin\r\n")
    raw, parsed, n = stored(blob)
    assert binary_bytes(raw, parsed, n, (1,)) is None
    assert binary_size(raw, parsed, n, (1,)) is None


def test_binary_of_missing_part_and_of_whole_message():
    raw, parsed, n = stored(build(simple()))
    with pytest.raises(LookupError):
        binary_bytes(raw, parsed, n, (3,))
    assert binary_bytes(raw, parsed, n, ()) == raw


def test_modseq_value():
    assert modseq(12121231000) == b"(12121231000)"  # RFC 7162 §3.1.4.1 example


# Properties: whatever the message, the structures are well formed

_ATOM = re.compile(rb"[^\s()\"{}\[\]]+")


def read_value(data: bytes, i: int) -> int:
    """Read one value at data[i] (list, quoted, literal, atom); return where it ends. Fails on
    anything that is not the syntax the encoder promises (RFC 9051 §9)."""
    if data[i:i + 1] == b"(":
        i += 1
        first = True
        while data[i:i + 1] != b")":
            if not first and data[i:i + 1] == b" ":
                i += 1
            # body-type-mpart: 1*body with no SP in between, so a "(" may follow ")" directly
            i = read_value(data, i)
            first = False
            assert i < len(data), "unbalanced parentheses"
        return i + 1
    if data[i:i + 1] == b'"':
        i += 1
        while data[i:i + 1] != b'"':
            assert data[i:i + 1] not in (b"", b"\r", b"\n", b"\x00")
            i += 2 if data[i:i + 1] == b"\\" else 1
        return i + 1
    if data[i:i + 1] == b"{":
        match = re.compile(rb"\{(\d+)\}\r\n").match(data, i)
        assert match is not None
        end = match.end() + int(match.group(1))
        assert end <= len(data) and data[end:end + 1] in (b" ", b")", b"("), "literal size"
        return end
    match = _ATOM.match(data, i)
    assert match is not None, data[i:i + 20]
    return match.end()


def assert_well_formed(data: bytes) -> None:
    assert data.startswith(b"(") and read_value(data, 0) == len(data)


HEADER_NAMES = st.sampled_from(["From", "To", "Cc", "Sender", "Subject", "Date", "Message-ID",
                                "In-Reply-To", "Content-Type", "Content-Disposition",
                                "Content-Language", "Content-ID", "Content-Transfer-Encoding"])
HEADER_VALUES = st.one_of(
    st.binary(max_size=40).map(lambda b: b.replace(b"\r", b"").replace(b"\n", b"")),
    st.sampled_from([b"multipart/mixed; boundary=x", b"message/rfc822", b'"a (b)" <c@d>',
                     b"g: a@b, <c@d>;", b"attachment; filename*0*=utf-8''%C3%A9",
                     b"text/plain; name=\"{5}\\\"\"", b"base64", b"\xff\xfe"]),
)


@st.composite
def raw_entities(draw, depth=0):
    fields = draw(st.lists(st.tuples(HEADER_NAMES, HEADER_VALUES), max_size=6))
    header = b"".join(name.encode() + b": " + value + b"\r\n" for name, value in fields)
    kind = draw(st.sampled_from(["text", "multipart", "message"] if depth < 3 else ["text"]))
    if kind == "multipart":
        children = draw(st.lists(raw_entities(depth + 1), min_size=1, max_size=3))
        body = b"".join(b"--x\r\n" + c + b"\r\n" for c in children) + b"--x--\r\n"
        header += b"Content-Type: multipart/mixed; boundary=x\r\n"
    elif kind == "message":
        body = draw(raw_entities(depth + 1))
        header += b"Content-Type: message/rfc822\r\n"
    else:
        body = draw(st.binary(max_size=60))
    return header + b"\r\n" + body


@settings(max_examples=300, deadline=None)
@given(st.one_of(raw_entities(), st.binary(max_size=400)), st.booleans())
def test_structures_are_balanced_and_literals_have_their_sizes(blob, utf8):
    parsed = parse_message_strictly(blob)
    assert_well_formed(envelope(parsed, utf8=utf8))
    assert_well_formed(body_structure(parsed, False, utf8=utf8))
    assert_well_formed(body_structure(parsed, True, utf8=utf8))


@settings(max_examples=60, deadline=None)
@given(messages())
def test_generated_messages_sections_agree_with_the_email_package(built):
    check_sections(build(built))
