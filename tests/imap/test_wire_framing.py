"""Framing of IMAP commands: lines, literals, pipelining, limits (RFC 9051 §4.3, RFC 7888)."""

from typing import get_args

from hypothesis import example, given, settings
from hypothesis import strategies as st

from postoffice.imap.wire import (
    Append, AuthResponse, BadCommand, Command, Done, Limits, Login, NeedMore, Noop, Search, Text,
    parse_auth_response, parse_command, parse_idle_done,
)
from tests.imap.wire_helpers import LIMITS, crlf

RFC9051_APPEND = crlf("""A003 APPEND saved-messages (\\Seen) {326}
Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)
From: Fred Foobar <foobar@Blurdybloop.example>
Subject: afternoon meeting
To: mooch@owatagu.siam.edu.example
Message-Id: <B27397-0100000@Blurdybloop.example>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

Hello Joe, do you think we can meet at 3:30 tomorrow?
""")
LITERAL_COMMANDS = [
    crlf("A001 LOGIN {11}\nFRED FOOBAR {7}\nfat man"),              # RFC 9051 §7.6
    crlf("A001 LOGIN {11+}\nFRED FOOBAR {7+}\nfat man"),            # RFC 7888 §3
    crlf("A285 SEARCH CHARSET UTF-8 TEXT {12}\nотпуск"),            # RFC 9051 §6.4.4
    RFC9051_APPEND,                                                  # RFC 9051 §6.3.12
    b"a APPEND x {0}\r\n\r\n",
    b"a APPEND x ~{3+}\r\na\x00b (\\Seen) {2}\r\nhi\r\n",
]


def test_rfc9051_append_example_literal_is_exact():
    # RFC 9051 §6.3.12: the 326 octets start after the CRLF of the announcing line; the CRLF
    # after them ends the command.
    cmd, used = parse_command(RFC9051_APPEND, LIMITS)
    assert isinstance(cmd, Append) and used == len(RFC9051_APPEND)
    literal = cmd.messages[0].literal
    assert len(literal) == 326 and literal.startswith(b"Date: Mon") and literal.endswith(b"tomorrow?\r\n")


def test_literal_split_at_every_position():
    for buf in LITERAL_COMMANDS:
        whole, used = parse_command(buf, LIMITS)
        assert not isinstance(whole, (NeedMore, BadCommand)) and used == len(buf), whole
        for cut in range(len(buf)):
            result, used = parse_command(buf[:cut], LIMITS)
            assert isinstance(result, NeedMore) and used == 0, (buf[:cut], result)
            assert 0 <= result.missing <= result.literal


def test_need_more_says_when_to_send_a_continuation():
    # RFC 9051 §4.3 / §7.6: after "{11}" CRLF the client waits for "+".
    need, used = parse_command(b"A001 LOGIN {11}\r\n", LIMITS)
    assert need == NeedMore(11, True, 11) and need.wants_continuation and used == 0
    need, _ = parse_command(b"A001 LOGIN {11}\r\nFRED", LIMITS)
    assert need == NeedMore(11, True, 7) and not need.wants_continuation
    need, _ = parse_command(b"A001 LOGIN {11}\r\nFRED FOOBAR {7}\r\n", LIMITS)
    assert need == NeedMore(7, True, 7) and need.wants_continuation
    # Between the literal and the end of its line: an ordinary incomplete line.
    need, _ = parse_command(b"A001 LOGIN {11}\r\nFRED FOOBAR", LIMITS)
    assert need == NeedMore() and not need.wants_continuation
    # RFC 7888 §3: no continuation for "{n+}".
    need, _ = parse_command(b"A001 LOGIN {11+}\r\n", LIMITS)
    assert need == NeedMore(11, False, 11) and not need.wants_continuation


def test_an_empty_synchronizing_literal_still_needs_its_continuation():
    need, used = parse_command(b'a LOGIN {0}\r\n', LIMITS)
    assert need.wants_continuation and used == 0
    buf = b'a LOGIN {0}\r\n "pw"\r\n'
    assert parse_command(buf, LIMITS) == (Login("a", "", "pw"), len(buf))


def test_pipelined_commands_use_only_the_first():
    first = crlf("A001 LOGIN {11+}\nFRED FOOBAR {7+}\nfat man")
    buf = first + b"A002 NOOP\r\nA003 LOGOUT\r\n"
    cmd, used = parse_command(buf, LIMITS)
    assert isinstance(cmd, Login) and used == len(first)
    cmd, used = parse_command(buf[used:], LIMITS)
    assert cmd == Noop("A002") and used == len(b"A002 NOOP\r\n")
    cmd, used = parse_command(RFC9051_APPEND + b"a NOOP\r\n", LIMITS)
    assert isinstance(cmd, Append) and used == len(RFC9051_APPEND)


def test_a_bare_lf_ends_a_line():
    assert parse_command(b"a NOOP\n", LIMITS) == (Noop("a"), 7)
    cmd, used = parse_command(b"a LOGIN {2}\nab pw\n", LIMITS)
    assert cmd == Login("a", "ab", "pw") and used == 18


SMALL = Limits(max_line=64, max_literal=100, max_command=300)


def test_literal_plus_over_the_limit_is_refused_and_drained():
    # RFC 7888 §4 choice 1: answer BAD [TOOBIG]; the client sends the octets anyway.
    buf = b"A1 APPEND INBOX {5000+}\r\n" + b"x" * 10
    bad, used = parse_command(buf, SMALL)
    assert isinstance(bad, BadCommand) and bad.tag == "A1" and bad.code == "TOOBIG"
    assert used == len(b"A1 APPEND INBOX {5000+}\r\n") and bad.drain == 5000 and bad.skip_line


def test_synchronizing_literal_over_the_limit_is_refused_without_drain():
    # The client waits for "+" before sending the octets (RFC 9051 §4.3), so nothing comes.
    bad, used = parse_command(b"A1 APPEND INBOX {5000}\r\n", SMALL)
    assert bad == BadCommand("A1", "Literal too big", "TOOBIG") and used == 24


def test_refused_when_announced_even_without_the_octets():
    bad, used = parse_command(b"A1 LOGIN {18446744073709551615+}\r\n", LIMITS)
    assert bad.code == "TOOBIG" and bad.drain == 18446744073709551615 and used == 34


def test_whole_command_limit():
    # Each literal fits, together they pass max_command (MULTIAPPEND).
    buf = b"a APPEND x {100}\r\n" + b"m" * 100 + b" {100}\r\n" + b"m" * 100 + b" {100+}\r\n"
    bad, used = parse_command(buf, SMALL)
    assert bad.code == "TOOBIG" and used == len(buf) and bad.drain == 100


def test_over_long_line_without_its_end_is_dropped_and_skipped():
    buf = b"A1 LOGIN " + b"x" * 100
    bad, used = parse_command(buf, SMALL)
    assert bad == BadCommand("A1", "Command line too long", skip_line=True) and used == len(buf)


def test_over_long_line_with_its_end_is_dropped_to_it():
    buf = b"A1 LOGIN " + b"x" * 100 + b"\r\nA2 NOOP\r\n"
    bad, used = parse_command(buf, SMALL)
    assert bad == BadCommand("A1", "Command line too long") and buf[used:] == b"A2 NOOP\r\n"


def test_short_incomplete_line_waits():
    assert parse_command(b"A1 LOGIN fred", SMALL) == (NeedMore(), 0)
    assert parse_command(b"", SMALL) == (NeedMore(), 0)


def test_syntax_error_on_a_line_announcing_literal_plus_drains_it():
    bad, used = parse_command(b"a NOOP {5+}\r\nhello\r\n", LIMITS)
    assert bad.tag == "a" and bad.drain == 5 and bad.skip_line and used == 13


def test_nul_in_a_literal_is_refused_after_its_line():
    buf = b"a LOGIN {3}\r\na\x00b pw\r\nb NOOP\r\n"
    bad, used = parse_command(buf, LIMITS)
    assert isinstance(bad, BadCommand) and bad.tag == "a" and buf[used:] == b"b NOOP\r\n"


def test_literal_announcement_must_end_the_line():
    assert isinstance(parse_command(b"a LOGIN {3} x\r\n", LIMITS)[0], BadCommand)


def test_utf8_literal_in_search():
    cmd, _ = parse_command(crlf("A285 SEARCH CHARSET UTF-8 TEXT {12}\nотпуск"), LIMITS)
    assert cmd == Search("A285", Text("TEXT", "отпуск"), "UTF-8")


def test_idle_done():
    # RFC 9051 §6.3.13, RFC 2177 §3: "DONE" ends IDLE, any case.
    assert parse_idle_done(b"DONE\r\n") == (Done(), 6)
    assert parse_idle_done(b"done\r\nA2 NOOP\r\n", tag="A1") == (Done("A1"), 6)
    assert parse_idle_done(b"DON") == (NeedMore(), 0)
    bad, used = parse_idle_done(b"A2 NOOP\r\n")
    assert bad.tag is None and used == 9


def test_auth_responses():
    # RFC 9051 §6.2.2: base64 lines, "*" cancels.
    assert parse_auth_response(b"dGVzdAB0ZXN0AHRlc3Q=\r\n") == (AuthResponse(b"test\x00test\x00test"), 22)
    assert parse_auth_response(b"*\r\n") == (AuthResponse(None), 3)
    assert parse_auth_response(b"\r\n") == (AuthResponse(b""), 2)
    assert isinstance(parse_auth_response(b"not base64!\r\n")[0], BadCommand)


def _check(result, used, buf):
    assert isinstance(result, (NeedMore, BadCommand, AuthResponse, *get_args(Command)))
    assert 0 <= used <= len(buf)
    if isinstance(result, NeedMore):
        assert used == 0
    elif not isinstance(result, BadCommand):
        assert used > 0


@given(st.binary(max_size=4096))
@example(b"a SEARCH " + b"(" * 500 + b"\r\n")
@example(b"a SEARCH " + b"NOT " * 500 + b"ALL\r\n")
@example(b"a FETCH 1 BODY[" + b"1." * 2000 + b"]\r\n")
def test_any_bytes_give_a_command_or_a_protocol_error(data):
    for utf8 in (False, True):
        result, used = parse_command(data, LIMITS, utf8=utf8)
        _check(result, used, data)
    _check(*parse_command(data, SMALL), data)
    _check(*parse_idle_done(data), data)
    _check(*parse_auth_response(data), data)


WORDS = ["a", "UID", "LOGIN", "FETCH", "SEARCH", "STORE", "APPEND", "LIST", "SELECT", "STATUS", "ID",
         "CREATE", "ENABLE", "AUTHENTICATE", "1:*", "$", "2,4", "(", ")", "[", "]", "<0.5>", "BODY",
         "BODY.PEEK[", "HEADER.FIELDS", "TEXT", "MIME", "FLAGS", "+FLAGS.SILENT", "\\Seen", "NIL",
         "OR", "NOT", "SINCE", "1-Feb-1994", '"x"', '"\\"', "{3}\r\nabc", "{2+}\r\nab", "~{1}\r\n\x00",
         "INBOX", "&U,BTFw-", "RETURN", "CHARSET", "UTF-8", "QRESYNC", "CHANGEDSINCE", "USE", " ", " ",
         "\r\n", "\n", "=", "*", "%", '"1-Feb-1994 00:00:00 +0000"', "MODSEQ", "VANISHED"]


@settings(max_examples=500)
@given(st.lists(st.sampled_from(WORDS), max_size=40))
def test_word_salad_never_raises(words):
    buf = " ".join(words).encode("utf-8", "surrogateescape")
    for utf8 in (False, True):
        _check(*parse_command(buf, LIMITS, utf8=utf8), buf)
    _check(*parse_command(buf, SMALL), buf)
