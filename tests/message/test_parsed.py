"""parse_message on hand-written messages: structure, offsets, sizes, lines, search fields, preview."""

from __future__ import annotations

import base64
import logging
import textwrap
from datetime import datetime, timezone

import pytest

from postoffice.message import parsed
from postoffice.message.mime import MAX_DEPTH, BodyPart, part_at
from postoffice.message.parsed import ParsedMessage, base_subject, parse_message


def crlf(text: str) -> bytes:
    """A message written readably in the test, with CRLF line endings as stored."""
    return textwrap.dedent(text).lstrip("\n").replace("\n", "\r\n").encode("utf-8")


def body_of(raw: bytes, part: BodyPart) -> bytes:
    return raw[part.body_start:part.end]


def header_of(raw: bytes, part: BodyPart) -> bytes:
    return raw[part.header_start:part.body_start]


SIMPLE = crlf("""
    From: Alice <alice@example.test>
    To: bob@example.test
    Subject: lunch
    Date: Fri, 21 Nov 1997 09:55:06 -0600
    Message-ID: <1234@local.example.test>

    Shall we meet at noon?
    At the usual place.
""")


def test_simple_text_message():
    msg = parse_message(SIMPLE)
    assert msg.size == len(SIMPLE)
    # RFC 2045 §5.2, §6.1: no MIME fields means text/plain; charset=us-ascii, 7bit.
    assert (msg.body.type, msg.body.subtype) == ("TEXT", "PLAIN")
    assert msg.body.params == (("CHARSET", "us-ascii"),)
    assert msg.body.encoding == "7BIT"
    assert body_of(SIMPLE, msg.body) == b"Shall we meet at noon?\r\nAt the usual place.\r\n"
    assert header_of(SIMPLE, msg.body).endswith(b"local.example.test>\r\n\r\n")
    # RFC 9051 §7.5.2: body size in octets and in text lines.
    assert msg.body.size == 45 and msg.body.lines == 2
    assert msg.envelope.subject == "lunch"
    assert msg.envelope.message_id == "<1234@local.example.test>"
    assert msg.headers["subject"] == ["lunch"]
    assert msg.sort_date == datetime(1997, 11, 21, 15, 55, 6, tzinfo=timezone.utc)
    assert msg.preview == "Shall we meet at noon? At the usual place."


ATTACHMENT = base64.encodebytes(bytes(range(256)) * 3).replace(b"\n", b"\r\n")

MIXED = crlf("""
    From: alice@example.test
    Subject: report
    MIME-Version: 1.0
    Content-Type: multipart/mixed; boundary="outer"

    This is the preamble; it is no part.
    --outer
    Content-Type: text/plain; charset=utf-8

    See attached.
    Two lines.
    --outer
    Content-Type: application/octet-stream; name="data.bin"
    Content-Transfer-Encoding: base64
    Content-Disposition: attachment; filename="data.bin"
    Content-ID: <part2@example.test>
    Content-Description: raw data

""") + ATTACHMENT + crlf("""
    --outer--
    This is the epilogue.
""")


def test_multipart_mixed_with_base64_attachment():
    msg = parse_message(MIXED)
    root = msg.body
    assert (root.type, root.subtype) == ("MULTIPART", "MIXED")
    assert root.param("boundary") == "outer"
    text, attachment = root.children
    # RFC 2046 §5.1.1: the CRLF before a delimiter belongs to the delimiter.
    assert body_of(MIXED, text) == b"See attached.\r\nTwo lines."
    assert text.size == len(b"See attached.\r\nTwo lines.") and text.lines == 2
    assert header_of(MIXED, text) == b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
    # RFC 9051 §7.5.2: the size is of the encoded body, not the decoded data.
    assert body_of(MIXED, attachment) == ATTACHMENT[:-2]  # its last CRLF opens "--outer--"
    assert attachment.size == len(ATTACHMENT) - 2
    assert base64.b64decode(body_of(MIXED, attachment)) == bytes(range(256)) * 3
    assert attachment.encoding == "BASE64" and attachment.lines is None
    assert attachment.params == (("NAME", "data.bin"),)
    assert attachment.id == "<part2@example.test>" and attachment.description == "raw data"
    assert attachment.disposition is not None
    assert attachment.disposition.type == "ATTACHMENT"
    assert attachment.disposition.params == (("FILENAME", "data.bin"),)
    # Preamble and epilogue are in the multipart's body but in no part (RFC 2046 §5.1.1).
    assert root.end == len(MIXED) and root.children[-1].end < len(MIXED)
    assert part_at(root, (2,)) is attachment and part_at(root, (3,)) is None
    assert msg.preview == "See attached. Two lines."


NESTED = crlf("""
    From: alice@example.test
    Content-Type: multipart/mixed; boundary=b1

    --b1
    Content-Type: multipart/alternative; boundary="b1-alt"

    --b1-alt
    Content-Type: text/plain

    plain words
    --b1-alt
    Content-Type: text/html; charset=us-ascii

    <p>html words</p>
    --b1-alt--

    --b1
    Content-Type: image/png
    Content-Transfer-Encoding: base64

    iVBORw0KGgo=
    --b1--
""")


def test_alternative_nested_in_mixed():
    msg = parse_message(NESTED)
    alternative, image = msg.body.children
    assert (alternative.type, alternative.subtype) == ("MULTIPART", "ALTERNATIVE")
    plain, html = alternative.children
    # "--b1" is a prefix of "--b1-alt" but does not delimit the outer parts (RFC 2046 §5.1.1).
    assert body_of(NESTED, plain) == b"plain words"
    assert body_of(NESTED, html) == b"<p>html words</p>"
    assert plain.params == () and html.params == (("CHARSET", "us-ascii"),)  # as written
    # The epilogue of the inner multipart (one empty line) stays inside part 1.
    assert body_of(NESTED, alternative).endswith(b"--b1-alt--\r\n")
    assert alternative.header_start < plain.header_start < plain.end < html.header_start
    assert html.end < alternative.end < image.header_start
    assert body_of(NESTED, image) == b"iVBORw0KGgo="
    # RFC 9051 §6.4.5 part numbers.
    assert part_at(msg.body, (1, 2)) is html
    assert part_at(msg.body, (2,)) is image
    assert part_at(msg.body, (2, 1)) is None
    assert header_of(NESTED, part_at(msg.body, (1, 1))) == b"Content-Type: text/plain\r\n\r\n"
    assert msg.preview == "plain words"


FORWARDED = crlf("""
    From: alice@example.test
    Subject: Fwd: minutes
    Content-Type: multipart/mixed; boundary=fw

    --fw
    Content-Type: text/plain

    Forwarding the minutes.
    --fw
    Content-Type: message/rfc822
    Content-Disposition: inline

    From: Carol <carol@example.test>
    To: alice@example.test
    Subject: minutes
    Date: Mon, 2 Jun 2025 10:00:00 +0000
    Content-Type: multipart/mixed; boundary=inner

    --inner
    Content-Type: text/plain

    Minutes of the meeting.
    --inner
    Content-Type: text/csv

    a,b
    1,2
    --inner--
    --fw--
""")


def test_message_rfc822_attachment():
    msg = parse_message(FORWARDED)
    cover, forwarded = msg.body.children
    assert (forwarded.type, forwarded.subtype) == ("MESSAGE", "RFC822")
    # RFC 9051 §7.5.2: envelope, body structure and lines of the encapsulated message.
    assert forwarded.envelope is not None and forwarded.body is not None
    assert forwarded.envelope.subject == "minutes"
    assert forwarded.envelope.from_[0].name == "Carol"
    assert forwarded.envelope.sender == forwarded.envelope.from_
    inner = forwarded.body
    assert (inner.header_start, inner.end) == (forwarded.body_start, forwarded.end)
    assert forwarded.lines == body_of(FORWARDED, forwarded).count(b"\r\n") + 1
    assert forwarded.size == forwarded.end - forwarded.body_start
    # BODY[2.HEADER] and BODY[2.TEXT] (RFC 9051 §6.4.5) are slices of the blob.
    assert header_of(FORWARDED, inner).startswith(b"From: Carol")
    assert header_of(FORWARDED, inner).endswith(b"boundary=inner\r\n\r\n")
    assert body_of(FORWARDED, inner).startswith(b"--inner\r\n")
    assert body_of(FORWARDED, inner).endswith(b"--inner--")
    assert body_of(FORWARDED, part_at(msg.body, (2, 1))) == b"Minutes of the meeting."
    assert body_of(FORWARDED, part_at(msg.body, (2, 2))) == b"a,b\r\n1,2"
    assert part_at(msg.body, (2, 2)).lines == 2
    # The outer envelope is the outer message's; the preview does not look into attachments.
    assert msg.envelope.subject == "Fwd: minutes"
    assert msg.preview == "Forwarding the minutes."


def test_message_rfc822_with_a_single_part_body():
    raw = crlf("""
        Content-Type: message/rfc822

        Subject: inner

        inner text
    """)
    msg = parse_message(raw)
    assert msg.body.envelope.subject == "inner"
    # RFC 9051 §6.4.5: part 1 of a non-multipart message is its body; inside it, the inner body.
    assert part_at(msg.body, (1,)) is msg.body
    assert body_of(raw, part_at(msg.body, (1, 1))) == b"inner text\r\n"


def test_missing_closing_boundary_ends_the_last_part_at_the_end():
    raw = crlf("""
        Content-Type: multipart/mixed; boundary=zz

        --zz
        Content-Type: text/plain

        first
        --zz
        Content-Type: text/plain

        second, cut short
    """)
    msg = parse_message(raw)
    first, second = msg.body.children
    assert body_of(raw, first) == b"first"
    # Leniency beyond RFC 2046 §5.1.1: no close-delimiter, the part runs to the end.
    assert body_of(raw, second) == b"second, cut short\r\n" and second.end == len(raw)


def test_no_content_type_defaults_to_us_ascii_text():
    # RFC 2045 §5.2: the default is text/plain; charset=us-ascii, and also for invalid syntax.
    for raw in (b"Subject: x\r\n\r\nhi\r\n", b"Content-Type: text\r\n\r\nhi\r\n",
                b"Content-Type: /plain; charset=utf-8\r\n\r\nhi\r\n"):
        body = parse_message(raw).body
        assert (body.type, body.subtype, body.params) == ("TEXT", "PLAIN", (("CHARSET", "us-ascii"),))


def test_digest_parts_default_to_message_rfc822():
    raw = crlf("""
        Content-Type: multipart/digest; boundary=d

        --d

        Subject: one

        first
        --d
        Content-Type: text/plain

        not a message
        --d--
    """)
    one, two = parse_message(raw).body.children
    # RFC 2046 §5.1.5: in a digest the default Content-Type is message/rfc822.
    assert (one.type, one.subtype) == ("MESSAGE", "RFC822") and one.envelope.subject == "one"
    assert (two.type, two.subtype) == ("TEXT", "PLAIN")


def test_multipart_without_boundary_or_delimiters_is_text():
    # RFC 9051 §9 body-type-mpart needs one part at least: report such a body as text/plain.
    for header in (b"Content-Type: multipart/mixed\r\n", b"Content-Type: multipart/mixed; boundary=q\r\n"):
        body = parse_message(header + b"\r\nno delimiter here\r\n").body
        assert (body.type, body.subtype, body.children) == ("TEXT", "PLAIN", ())
        assert body.lines == 1


def test_empty_parts_and_transport_padding():
    raw = b"Content-Type: multipart/mixed; boundary=e\r\n\r\n--e\r\n--e  \t\r\n\r\nbody\r\n--e--\r\n"
    first, second = parse_message(raw).body.children
    # RFC 2046 §5.1.1: white space may follow a boundary; a part may be empty.
    assert first.body_start == first.end == first.header_start
    assert body_of(raw, second) == b"body" and header_of(raw, second) == b"\r\n"


def test_rfc2047_subject_is_decoded_for_search_and_raw_in_envelope():
    raw = crlf("""
        Subject: =?ISO-8859-1?Q?Re:_Caf=E9?= =?UTF-8?B?IGNyw6htZQ==?=
        Content-Type: text/plain; charset=iso-8859-1
        Content-Transfer-Encoding: quoted-printable

        Un caf=E9 cr=
        =E8me.
    """)
    msg = parse_message(raw)
    # RFC 9051 §7.5.2: the envelope subject is the field as written.
    assert msg.envelope.subject == "=?ISO-8859-1?Q?Re:_Caf=E9?= =?UTF-8?B?IGNyw6htZQ==?="
    # RFC 2047 §6.2: the space between adjacent encoded-words is dropped.
    assert msg.headers["subject"] == ["Re: Café crème"]
    assert msg.sort_subject == "café crème"
    # RFC 2045 §6.7 soft line break, then the part's charset.
    assert msg.preview == "Un café crème."


def test_rfc2231_parameters_are_joined():
    raw = crlf("""
        Content-Type: application/x-stuff;
         title*0*=us-ascii'en'This%20is%20even%20more%20;
         title*1*=%2A%2A%2Afun%2A%2A%2A%20;
         title*2="isn't it!"; name*0="long"; name*1="name.txt"
        Content-Disposition: attachment; filename*=iso-8859-1''caf%E9.txt

        data
    """)
    body = parse_message(raw).body
    # RFC 9051 §7.5.2: continuations joined; charset-encoded ones returned as "foo*" in UTF-8.
    assert body.params == (
        ("TITLE*", "utf-8'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn%27t%20it!"),
        ("NAME", "longname.txt"),
    )
    assert body.param("title") == "This is even more ***fun*** isn't it!"
    assert body.disposition.params == (("FILENAME*", "utf-8''caf%C3%A9.txt"),)
    assert body.disposition.param("filename") == "café.txt"


def test_extension_fields():
    raw = crlf("""
        Content-Type: text/plain (plain text); charset="utf-8" (comment)
        Content-Transfer-Encoding: 8bit (really)
        Content-Language: en, fr
        Content-Location: http://example.test/a
         /b.txt
        Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

        x
    """)
    body = parse_message(raw).body
    # RFC 2045 §5.1 comments; RFC 3282; RFC 2557 (folding white space is no part of the URI).
    assert body.params == (("CHARSET", "utf-8"),) and body.encoding == "8BIT"
    assert body.language == ("en", "fr")
    assert body.location == "http://example.test/a/b.txt"
    assert body.md5 == "Q2hlY2sgSW50ZWdyaXR5IQ=="


def test_bare_lf_input_counts_the_actual_bytes():
    raw = MIXED.replace(b"\r\n", b"\n")
    msg = parse_message(raw)
    text, attachment = msg.body.children
    assert body_of(raw, text) == b"See attached.\nTwo lines."
    assert text.size == len(b"See attached.\nTwo lines.") and text.lines == 2
    assert base64.b64decode(body_of(raw, attachment)) == bytes(range(256)) * 3
    assert msg.body.end == msg.size == len(raw)
    assert msg.envelope.subject == "report"


def test_empty_message():
    msg = parse_message(b"")
    assert msg.size == 0
    assert (msg.body.header_start, msg.body.body_start, msg.body.end) == (0, 0, 0)
    assert (msg.body.type, msg.body.size, msg.body.lines) == ("TEXT", 0, 0)
    assert msg.envelope.from_ == () and msg.envelope.date is None
    assert (msg.headers, msg.sort_date, msg.sort_subject, msg.preview) == ({}, None, "", "")


def test_headers_only_without_body():
    raw = b"Subject: no body\r\nFrom: a@example.test\r\n"
    msg = parse_message(raw)
    # RFC 5322 §3.5: the body is optional; it then starts (and ends) at the end.
    assert msg.body.body_start == msg.body.end == len(raw)
    assert msg.body.size == 0 and msg.body.lines == 0
    assert msg.envelope.subject == "no body"


def test_a_non_field_line_starts_the_body():
    raw = b"Subject: x\r\nthis is no header field\r\nmore\r\n"
    msg = parse_message(raw)
    assert raw[msg.body.body_start:] == b"this is no header field\r\nmore\r\n"


def test_search_fields_are_unfolded_and_decoded():
    raw = crlf("""
        From: =?utf-8?q?J=C3=B6rg?= <jorg@example.test>
        To: a@example.test,
         b@example.test
        X-Other: not kept
        References: <a@x>
         <b@x>
        Received: not kept either

        body
    """)
    headers = parse_message(raw).headers
    assert headers == {
        "from": ["Jörg <jorg@example.test>"],
        "to": ["a@example.test, b@example.test"],  # RFC 5322 §2.2.3 unfolding
        "references": ["<a@x> <b@x>"],
    }


@pytest.mark.parametrize(("subject", "base"), [
    ("Re: lunch", "lunch"),
    ("RE: Re: re:lunch", "lunch"),
    ("Fwd: Re: [list] Lunch (fwd)", "lunch"),
    ("[list] Re: lunch", "lunch"),
    ("[fwd: Re: lunch]", "lunch"),
    ("Re: [list]", "[list]"),  # RFC 5256 §2.1 (4): a blob is kept when nothing else remains
    ("  lunch \t (fwd)  ", "lunch"),
    ("", ""),
])
def test_base_subject(subject, base):
    # RFC 5256 §2.1 steps (1)-(6).
    assert base_subject(subject) == base


def test_unparsable_date_sorts_as_none():
    assert parse_message(b"Date: yesterday, roughly\r\n\r\n").sort_date is None
    # RFC 5322 §3.3: -0000 is UTC without local-time information.
    when = parse_message(b"Date: 1 Jan 2000 00:00:00 -0000\r\n\r\n").sort_date
    assert when == datetime(2000, 1, 1, tzinfo=timezone.utc)


def test_preview_of_html_only_message():
    raw = crlf("""
        Content-Type: text/html; charset=utf-8
        Content-Transfer-Encoding: base64

    """) + base64.encodebytes(
        "<html><head><title>T</title><style>p{}</style></head><body><p>Hello&nbsp;&amp;"
        "</p><p>bye  \u00e9" .encode("utf-8") + b"x" * 500 + b"</p></body></html>"
    ).replace(b"\n", b"\r\n")
    preview = parse_message(raw).preview
    assert preview.startswith("Hello & bye éxxx")  # no-break space is white space too
    assert len(preview) == parsed.PREVIEW_CHARS


def test_preview_skips_attachments():
    raw = crlf("""
        Content-Type: multipart/mixed; boundary=p

        --p
        Content-Type: text/plain
        Content-Disposition: attachment; filename=notes.txt

        attached notes
        --p
        Content-Type: text/html

        <b>the message</b>
        --p--
    """)
    assert parse_message(raw).preview == "the message"


def test_deep_nesting_is_bounded():
    depth = 300
    raw = b"".join(b"Content-Type: multipart/mixed; boundary=%d\r\n\r\n--%d\r\n" % (i, i)
                   for i in range(depth)) + b"\r\nleaf\r\n"
    msg = parsed.parse_message_strictly(raw)
    level, part = 0, msg.body
    while part.children:
        level, part = level + 1, part.children[0]
    assert level == MAX_DEPTH
    assert (part.type, part.subtype) == ("TEXT", "PLAIN")


def test_a_parser_failure_keeps_the_message_as_text(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("bug")

    monkeypatch.setattr(parsed, "parse_entity", broken)
    with caplog.at_level(logging.ERROR, logger="postoffice.message.parsed"):
        msg = parse_message(SIMPLE)
    assert (msg.size, msg.body.type, msg.body.end) == (len(SIMPLE), "TEXT", len(SIMPLE))
    assert caplog.records and caplog.records[0].exc_info is not None


def test_json_round_trip_and_format_check():
    for raw in (SIMPLE, MIXED, NESTED, FORWARDED):
        msg = parse_message(raw)
        assert ParsedMessage.from_json(msg.to_json()) == msg
    with pytest.raises(ValueError):
        ParsedMessage.from_json('{"format": 999}')


def test_odd_charsets_never_break_decoding():
    raw = crlf("""
        Subject: =?x-no-such-charset?q?caf=E9?= =?rot13?q?abc?= =?utf-7?q?+2AA-?=
        Content-Type: multipart/mixed; boundary*=unicode-escape''%5Cud800

        --\\ud800
    """)
    msg = parsed.parse_message_strictly(raw)
    # Unknown or non-text codecs fall back to Latin-1 / UTF-8; lone surrogates become U+FFFD.
    assert msg.headers["subject"] == ["caféabc\ufffd"]
    assert msg.body.type == "TEXT"  # the boundary never matches, so the multipart is text
    assert ParsedMessage.from_json(msg.to_json()) == msg


def test_a_parsed_message_survives_pickle_and_copy():
    import copy
    import pickle

    from postoffice.message.parsed import ParsedMessage, parse_message

    made = parse_message(b"Subject: kept\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nbody\r\n")
    for value in (made, ParsedMessage.from_json(made.to_json())):  # built, and lazy from JSON
        assert pickle.loads(pickle.dumps(value)) == made
        assert copy.deepcopy(value) == made and copy.copy(value) == made
