"""Properties of parse_message on any input: no exception, sane offsets, exact JSON round trip."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from postoffice.message.mime import BodyPart, count_lines
from postoffice.message.parsed import PREVIEW_CHARS, ParsedMessage, parse_message_strictly

# Pieces of MIME, so that generated input reaches the multipart, digest and message paths
# far more often than random bytes would.
FRAGMENTS = [
    b"Content-Type: multipart/mixed; boundary=b\r\n", b"Content-Type: multipart/digest; boundary=c\r\n",
    b"Content-Type: message/rfc822\r\n", b"Content-Type: multipart/alternative; boundary=\"b c\"\r\n",
    b"Content-Type: text/html; charset=utf-16\r\n", b"Content-Type: text/plain; charset=x-nope\r\n",
    b"Content-Type: application/x; name*0*=utf-8''%E2%82; name*1*=%AC; name*2=\"x\"\r\n",
    b"Content-Transfer-Encoding: base64\r\n", b"Content-Transfer-Encoding: quoted-printable\r\n",
    b"Content-Disposition: attachment; filename=\"a\\\"b\"\r\n", b"Content-Language: en, (x) de\r\n",
    b"--b\r\n", b"--b--\r\n", b"--c\r\n", b"--c--\r\n", b"--b c\r\n", b"--b\n", b"--b  \r\n",
    b"\r\n", b"\n", b"\r", b" folded\r\n", b"\t",
    b"From: A (x) <a@b.test>, Group: c@d.test, <@r:e@f.test>;\r\n", b"To: \"q\\\"x\" <\r\n",
    b"Subject: =?utf-8?b?w6k=?= =?x-unknown?q?=FF?=\r\n", b"Date: Fri, 21 Nov 1997 09:55:06 -0600\r\n",
    b"Date: Thu, 1 Jan 9999 23:59:59 -1200\r\n", b"Date: 31 Dec 0001 00:00:00 +1400\r\n",
    b"SGVsbG8gd29ybGQ=\r\n", b"caf=C3=A9 =\r\n", b"<p>&amp;<script>x</script>\r\n",
    b"\xff\xfe\xe9", b"(", b")", b"\"", b"<", b";", b":",
]
MIME_ISH = st.lists(st.sampled_from(FRAGMENTS) | st.binary(max_size=12), max_size=40).map(b"".join)
ANY_INPUT = st.binary(max_size=2048) | MIME_ISH


def parts_of(part: BodyPart):
    yield part
    for child in part.children:
        yield from parts_of(child)
    if part.body is not None:
        yield from parts_of(part.body)


def check_offsets(raw: bytes, part: BodyPart) -> None:
    assert 0 <= part.header_start <= part.body_start <= part.end <= len(raw)
    assert part.size == part.end - part.body_start
    if part.lines is not None:
        assert part.lines == count_lines(raw, part.body_start, part.end)
    previous_end = part.body_start
    for child in part.children:
        # RFC 2046 §5.1.1: parts lie in the multipart's body, in order, without overlapping.
        assert previous_end <= child.header_start and child.end <= part.end
        previous_end = child.end
        check_offsets(raw, child)
    if part.body is not None:
        assert (part.body.header_start, part.body.end) == (part.body_start, part.end)
        assert part.envelope is not None
        check_offsets(raw, part.body)
    if part.type == "MULTIPART":
        assert part.children  # RFC 9051 §9 body-type-mpart: one part at least


@settings(max_examples=400, deadline=None)
@given(ANY_INPUT)
def test_any_bytes_give_a_parsed_message_with_sane_offsets(raw):
    msg = parse_message_strictly(raw)  # the strict path: no safety net hides a bug
    assert msg.size == len(raw)
    assert (msg.body.header_start, msg.body.end) == (0, len(raw))
    check_offsets(raw, msg.body)
    assert len(msg.preview) <= PREVIEW_CHARS
    assert all(part.type == part.type.upper() and part.encoding for part in parts_of(msg.body))


@settings(max_examples=300, deadline=None)
@given(ANY_INPUT)
def test_json_round_trip_is_exact(raw):
    msg = parse_message_strictly(raw)
    text = msg.to_json()
    assert text.isascii()
    assert ParsedMessage.from_json(text) == msg


@given(MIME_ISH.map(lambda raw: raw.replace(b"\r\n", b"\n")))
def test_bare_lf_input_is_as_good(raw):
    msg = parse_message_strictly(raw)
    check_offsets(raw, msg.body)
