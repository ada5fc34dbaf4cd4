"""IMAP value and response-line encoding (postoffice.imap.responses)."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postoffice.imap import responses as r


# Strings: quoted or literal (RFC 9051 §4.3, §9)

def test_plain_ascii_is_quoted():
    assert r.string("hello world") == b'"hello world"'


def test_quoted_specials_are_escaped():
    # RFC 9051 §9: QUOTED-CHAR = ... / "\" quoted-specials
    assert r.quoted('say "hi" \\o/') == b'"say \\"hi\\" \\\\o/"'


def test_empty_string_is_an_empty_quoted_string():
    assert r.string("") == b'""'


@pytest.mark.parametrize("value", [b"a\r\nb", b"a\nb", b"a\rb", b"a\x00b"])
def test_cr_lf_nul_force_a_literal(value):
    # RFC 9051 §9: TEXT-CHAR excludes CR and LF, CHAR excludes NUL
    assert r.string(value) == b"{%d}\r\n" % len(value) + value
    with pytest.raises(ValueError):
        r.quoted(value)


def test_eight_bit_is_a_literal_in_rev1_and_quoted_in_utf8_sessions():
    # RFC 3501 §9: QUOTED-CHAR is 7-bit; RFC 9051 §9 adds UTF8-2 / UTF8-3 / UTF8-4
    assert r.string("café") == b"{5}\r\ncaf\xc3\xa9"
    assert r.string("café", utf8=True) == '"café"'.encode()


def test_invalid_utf8_is_a_literal_even_in_utf8_sessions():
    assert r.string(b"caf\xe9", utf8=True) == b"{4}\r\ncaf\xe9"


def test_lone_surrogates_go_out_as_their_original_octets():
    value = b"Latin-1 \xe9".decode("utf-8", "surrogateescape")
    assert r.string(value, utf8=True) == b"{9}\r\nLatin-1 \xe9"


def test_long_strings_are_literals():
    long = "x" * (r.MAX_QUOTED_OCTETS + 1)
    assert r.string(long).startswith(b"{%d}\r\n" % len(long))
    assert r.string(long[:-1]).startswith(b'"')


def test_nstring():
    # RFC 9051 §4.5
    assert r.nstring(None) == b"NIL"
    assert r.nstring("NIL") == b'"NIL"'
    assert r.nstring("") == b'""'


def test_astring_is_an_atom_when_it_can_be():
    assert r.astring("INBOX") == b"INBOX"
    assert r.astring("a]b") == b"a]b"  # RFC 9051 §9: ASTRING-CHAR includes resp-specials
    for special in ["a b", "a(b", "a)b", "a{b", "a%b", "a*b", 'a"b', "a\\b", ""]:
        assert r.astring(special).startswith((b'"', b"{")), special


def test_literal_and_literal8():
    assert r.literal(b"abc") == b"{3}\r\nabc"
    assert r.literal(b"") == b"{0}\r\n"
    assert r.literal8(b"\x00\x01") == b"~{2}\r\n\x00\x01"  # RFC 3516 §4.3


def test_binary_value_uses_literal8_only_for_nul():
    # RFC 9051 §7.5.2 BINARY: 8-bit data without NUL SHOULD be a string
    assert r.binary_value(b"\xff\xfe") == b"{2}\r\n\xff\xfe"
    assert r.binary_value(b"a\x00") == b"~{2}\r\na\x00"


# Flags, names, sets, dates

def test_flag_list_orders_system_flags_first():
    flags = frozenset({"$Label1", "\\Seen", "\\Answered", "Work"})
    assert r.flag_list(flags) == b"(\\Answered \\Seen $Label1 Work)"
    assert r.flag_list(frozenset()) == b"()"


def test_flag_list_refuses_what_is_not_a_flag():
    for bad in ["two words", "a(b", "", "\\", "caf\u00e9"]:
        with pytest.raises(ValueError):
            r.flag_list([bad])


def test_mailbox_name_rev1_is_modified_utf7():
    # RFC 3501 §5.1.3 example
    name = "~peter/mail/\u53f0\u5317/\u65e5\u672c\u8a9e"
    assert r.mailbox_name(name, utf8=False) == b"~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert r.mailbox_name("R&D", utf8=False) == b"R&-D"
    assert r.mailbox_name("Entw\u00fcrfe", utf8=False) == b"Entw&APw-rfe"


def test_mailbox_name_utf8_session_is_utf8():
    assert r.mailbox_name("Entw\u00fcrfe", utf8=True) == '"Entwürfe"'.encode()
    assert r.mailbox_name("Sent Items", utf8=True) == b'"Sent Items"'
    assert r.mailbox_name("inbox", utf8=False) == b"INBOX"


def test_mutf7_outside_the_bmp_uses_surrogate_pairs():
    encoded = r.mailbox_name("a\U0001F600b", utf8=False)
    inner = encoded[2:-2]  # between "a&" and "-b"
    padded = inner.replace(b",", b"/") + b"=" * (-len(inner) % 4)
    assert base64.b64decode(padded).decode("utf-16-be") == "\U0001F600"


def test_sequence_set_keeps_order_and_joins_runs():
    assert r.sequence_set([1, 2, 3, 5, 7, 8]) == "1:3,5,7:8"
    assert r.sequence_set([4, 2, 3]) == "4,2:3"
    with pytest.raises(ValueError):
        r.sequence_set([])


def test_date_time():
    # RFC 9051 §6.4.5 example: "17-Jul-1996 02:44:25 -0700"
    when = datetime(1996, 7, 17, 2, 44, 25, tzinfo=timezone(timedelta(hours=-7)))
    assert r.date_time(when) == b'"17-Jul-1996 02:44:25 -0700"'
    # date-day-fixed = (SP DIGIT) / 2DIGIT
    early = datetime(2024, 1, 5, 23, 0, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))
    assert r.date_time(early) == b'" 5-Jan-2024 23:00:00 +0530"'
    assert r.date_time(datetime(2024, 1, 5)) == b'" 5-Jan-2024 00:00:00 +0000"'


# Response lines (RFC 9051 §7.1, §7.6, §9)

def test_tagged_lines():
    assert r.tagged("a002", "OK", r.READ_WRITE, "SELECT completed") == \
        b"a002 OK [READ-WRITE] SELECT completed\r\n"
    assert r.tagged("A1", "NO", None, "No such mailbox") == b"A1 NO No such mailbox\r\n"
    with pytest.raises(ValueError):
        r.tagged("A1", "BYE", None, "x")  # BYE is never tagged
    with pytest.raises(ValueError):
        r.tagged("A+1", "OK", None, "x")  # RFC 9051 §9: a tag has no "+"


def test_untagged_lines():
    assert r.untagged_status("OK", r.uidvalidity(3857529045), "UIDs valid") == \
        b"* OK [UIDVALIDITY 3857529045] UIDs valid\r\n"
    assert r.untagged_status("BYE", None, "Shutting down") == b"* BYE Shutting down\r\n"
    assert r.untagged("18 EXISTS") == b"* 18 EXISTS\r\n"
    flags = r.flag_list({"\\Seen", "\\Draft"})
    assert r.untagged(b"FLAGS " + flags) == b"* FLAGS (\\Draft \\Seen)\r\n"


def test_continuation():
    assert r.continuation("Ready for literal data") == b"+ Ready for literal data\r\n"
    assert r.continuation() == b"+ \r\n"
    assert r.continuation_base64(b"\x00abc") == b"+ AGFiYw==\r\n"


def test_text_cannot_hold_cr_lf_or_forge_a_code():
    line = r.tagged("a", "NO", None, "bad\r\n* OK injected")
    assert line == b"a NO bad  * OK injected\r\n"
    assert line.count(b"\r\n") == 1
    assert r.tagged("a", "NO", None, "[ALERT] x") == b"a NO ?ALERT] x\r\n"
    assert r.tagged("a", "OK", None, "ok \u00e9") == b"a OK ok ?\r\n"


def test_empty_text_still_has_text():
    # RFC 3501 §9: text = 1*TEXT-CHAR
    assert r.tagged("a", "OK", None, "") == b"a OK done\r\n"


@pytest.mark.parametrize(("made", "written"), [
    (r.appenduid(38505, 3955), b"[APPENDUID 38505 3955]"),  # RFC 4315 §3 example
    (r.appenduid(38505, [3955, 3956, 3957]), b"[APPENDUID 38505 3955:3957]"),
    (r.copyuid(38505, [304, 319, 320], [3956, 3957, 3958]),
     b"[COPYUID 38505 304,319:320 3956:3958]"),
    (r.uidvalidity(3857529045), b"[UIDVALIDITY 3857529045]"),
    (r.uidnext(4392), b"[UIDNEXT 4392]"),
    (r.highestmodseq(715194045007), b"[HIGHESTMODSEQ 715194045007]"),  # RFC 7162 §3.1.2.1
    (r.permanentflags({"\\Deleted", "\\Seen", "\\*"}), b"[PERMANENTFLAGS (\\* \\Deleted \\Seen)]"),
    (r.capability_code(["IMAP4rev2", "AUTH=PLAIN"]), b"[CAPABILITY IMAP4rev2 AUTH=PLAIN]"),
    (r.badcharset(["UTF-8", "US-ASCII"]), b"[BADCHARSET (UTF-8 US-ASCII)]"),
    (r.badcharset(), b"[BADCHARSET]"),
    (r.TOOBIG, b"[TOOBIG]"),
    (r.SERVERBUG, b"[SERVERBUG]"),  # RFC 5530 §3
    (r.OVERQUOTA, b"[OVERQUOTA]"),
    (r.UNKNOWN_CTE, b"[UNKNOWN-CTE]"),
    (r.code("MODIFIED", r.sequence_set([7, 9])), b"[MODIFIED 7,9]"),  # RFC 7162 §3.1.3
    (r.NOMODSEQ, b"[NOMODSEQ]"),
])
def test_response_code_formats(made, written):
    assert made.encode() == written


def test_response_code_refuses_malformed_names_and_arguments():
    for name in ["", "TWO WORDS", "A]B", "X\r\n"]:
        with pytest.raises(ValueError):
            r.Code(name)
    for args in ["a]b", "a\r\nb"]:
        with pytest.raises(ValueError):
            r.Code("X", args)


def test_fetch_response_line():
    # RFC 9051 §7.5.2 example
    line = r.fetch(23, [("FLAGS", r.flag_list({"\\Seen"})), ("RFC822.SIZE", r.number(44827)),
                        ("UID", r.number(447))])
    assert line == b"* 23 FETCH (FLAGS (\\Seen) RFC822.SIZE 44827 UID 447)\r\n"


def test_number_is_unsigned():
    assert r.number(0) == b"0"
    with pytest.raises(ValueError):
        r.number(-1)


# Properties

_LITERAL = re.compile(rb"\{(\d+)\}\r\n")


def _read_string(data: bytes) -> tuple[bytes, bytes]:
    """A tiny reader of one string (quoted or literal): its value and what follows it."""
    if data.startswith(b'"'):
        out = bytearray()
        i = 1
        while data[i:i + 1] != b'"':
            if data[i:i + 1] == b"\\":
                i += 1
            out += data[i:i + 1]
            i += 1
        return bytes(out), data[i + 1:]
    match = _LITERAL.match(data)
    assert match is not None
    n = int(match.group(1))
    return data[match.end():match.end() + n], data[match.end() + n:]


@given(st.binary(max_size=300), st.booleans())
def test_any_bytes_round_trip_through_string(value, utf8):
    encoded = r.string(value, utf8=utf8)
    assert _read_string(encoded) == (value, b"")
    if encoded.startswith(b'"'):
        assert b"\r" not in encoded and b"\n" not in encoded and b"\x00" not in encoded
        if not utf8:
            assert encoded.isascii()


@given(st.text(max_size=200), st.booleans())
def test_any_text_round_trips_through_string(value, utf8):
    encoded = r.string(value, utf8=utf8)
    assert _read_string(encoded)[0] == value.encode("utf-8", "surrogateescape")


@given(st.text(max_size=200))
def test_any_text_gives_one_line(text):
    line = r.tagged("t1", "OK", None, text)
    assert line.endswith(b"\r\n") and line.count(b"\n") == 1 and line.count(b"\r") == 1
    assert line.isascii()
