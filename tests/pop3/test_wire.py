"""POP3 wire: command lines into command values, and messages into multi-line responses."""

import base64
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postoffice.pop3 import replies
from postoffice.pop3.wire import (
    MAX_AUTH_LINE,
    MAX_COMMAND_LINE,
    Apop,
    Auth,
    BadCommand,
    CancelResponse,
    Capa,
    Command,
    Dele,
    List,
    Noop,
    Pass,
    Quit,
    Retr,
    Rset,
    Stat,
    Stls,
    Stuffer,
    TooLong,
    Top,
    Uidl,
    User,
    multiline,
    octet_count,
    parse_auth_response,
    parse_command,
    skip_line,
    split_line,
    stuffed,
    top_of,
)
from postoffice.smtp import wire as smtp_wire


def refused(line: bytes) -> replies.Reply:
    result = parse_command(line)
    assert isinstance(result, BadCommand), result
    return result.reply


def unstuff(response: bytes) -> bytes:
    """What a client reads from a multi-line response body (RFC 1939 §3), checking it is well formed."""
    assert response.endswith(b".\r\n")
    body = response[:-3]
    assert body == b"" or body.endswith(b"\r\n")
    lines = body.split(b"\r\n")[:-1] if body else []
    out = []
    for line in lines:
        assert b"\r" not in line and b"\n" not in line   # every line ends in CRLF, no bare CR/LF
        assert line != b"."                               # no early termination line
        out.append(line[1:] if line.startswith(b".") else line)
    return b"".join(line + b"\r\n" for line in out)


def crlf_normalised(message: bytes) -> bytes:
    """`message` with every line end as CRLF and its last line ended: what a client should receive."""
    text = re.sub(rb"\r\n|\r|\n", b"\r\n", message)
    return text if text == b"" or text.endswith(b"\r\n") else text + b"\r\n"


# --- split_line: RFC 2449 §4, 255 octets with the CRLF ------------------------------------

def test_split_line_is_smtps_with_the_pop3_limit():
    # prefer reuse over a copy: the framing is the same function
    assert skip_line is smtp_wire.skip_line and TooLong is smtp_wire.TooLong
    assert split_line(b"STAT\r\nQUIT\r\n") == (b"STAT", 6)
    assert split_line(b"STAT\nQUIT") == (b"STAT", 5)   # lenient: bare LF ends a command
    assert split_line(b"STA") == (None, 0)


def test_command_line_of_255_octets_with_crlf_is_accepted():
    # RFC 2449 §4: "up to 255 octets, including the terminating CRLF"
    line = b"USER " + b"a" * (MAX_COMMAND_LINE - 7)
    assert split_line(line + b"\r\n") == (line, MAX_COMMAND_LINE)
    assert split_line(line + b"a\r\n") == (TooLong(ended=True), MAX_COMMAND_LINE + 1)


def test_over_long_line_without_end_is_dropped_then_drained():
    buf = b"x" * 300
    assert split_line(buf) == (TooLong(ended=False), 300)
    assert skip_line(b"yyy\r\nSTAT\r\n") == (True, 5)


def test_auth_exchange_lines_may_be_longer():
    # RFC 5034 §4: responses inside the exchange may be of arbitrary length
    line = b"A" * 4000
    assert split_line(line + b"\r\n", MAX_AUTH_LINE) == (line, 4002)
    assert MAX_AUTH_LINE > MAX_COMMAND_LINE


# --- Commands: RFC 1939 §5, §7 ------------------------------------------------------------

@pytest.mark.parametrize("line, command", [
    (b"STAT", Stat()), (b"NOOP", Noop()), (b"RSET", Rset()), (b"QUIT", Quit()),
    (b"CAPA", Capa()), (b"STLS", Stls()),
    (b"LIST", List(None)), (b"LIST 2", List(2)), (b"UIDL", Uidl(None)), (b"UIDL 2", Uidl(2)),
    (b"RETR 1", Retr(1)), (b"DELE 1", Dele(1)), (b"TOP 1 10", Top(1, 10)), (b"TOP 1 0", Top(1, 0)),
    (b"USER mrose", User("mrose")), (b"PASS secret", Pass("secret")),
    (b"APOP mrose c4c9334bac560ecc979e58001b3e22fb", Apop("mrose", "c4c9334bac560ecc979e58001b3e22fb")),
    (b"USER alice@example.test", User("alice@example.test")),
    (b"RETR 2147483647", Retr(2**31 - 1)),
    (b"RETR 007", Retr(7)),
])
def test_rfc_1939_commands(line, command):
    # RFC 1939 §5, §7 and §10 example session; RFC 2449 §5 CAPA; RFC 2595 §4 STLS
    assert parse_command(line) == command


@pytest.mark.parametrize("line", [b"stat", b"Stat", b"sTaT"])
def test_keywords_are_case_insensitive(line):
    # RFC 1939 §3: "a case-insensitive keyword"
    assert parse_command(line) == Stat()


def test_lowercase_arguments_keep_their_case():
    assert parse_command(b"user MRose") == User("MRose")
    assert parse_command(b"top 3 5") == Top(3, 5)


@pytest.mark.parametrize("line, command", [
    (b"LIST  2", List(2)), (b"TOP 1   10", Top(1, 10)), (b"STAT ", Stat()), (b"RETR 1  ", Retr(1)),
    (b"USER   mrose ", User("mrose")), (b"LIST ", List(None)),
])
def test_runs_of_spaces_are_tolerated(line, command):
    # RFC 1939 §3 says a single space; lenient for sloppy clients (wire.py docstring), PASS aside
    assert parse_command(line) == command


@pytest.mark.parametrize("line", [b"FOO", b"", b" STAT", b"STATS", b"ST", b"RETRIEVE 1", b"STAT\t",
                                  b"\xffSTAT", b"EHLO x", b"STARTTLS", b"XTND XMIT"])
def test_unknown_commands(line):
    # RFC 1939 §3: "MUST respond to an unrecognized ... command by responding with a negative status"
    result = parse_command(line)
    assert result == BadCommand(replies.UNKNOWN_COMMAND)


@pytest.mark.parametrize("line, keyword", [
    (b"STAT 1", "STAT"), (b"NOOP x", "NOOP"), (b"RSET now", "RSET"), (b"QUIT 1", "QUIT"),
    (b"CAPA x", "CAPA"), (b"STLS x", "STLS"),
    (b"RETR", "RETR"), (b"RETR 1 2", "RETR"), (b"DELE", "DELE"), (b"DELE 1 2", "DELE"),
    (b"LIST 1 2", "LIST"), (b"UIDL 1 2", "UIDL"),
    (b"TOP", "TOP"), (b"TOP 1", "TOP"), (b"TOP 1 2 3", "TOP"), (b"TOP 1 -1", "TOP"), (b"TOP 1 x", "TOP"),
    (b"TOP 1 99999999999", "TOP"), (b"TOP 1 2147483648", "TOP"),
    (b"USER", "USER"), (b"USER a b", "USER"), (b"PASS", "PASS"), (b"PASS ", "PASS"),
    (b"APOP", "APOP"), (b"APOP mrose", "APOP"), (b"APOP mrose nothex", "APOP"),
    (b"APOP mrose c4c9334bac560ecc979e58001b3e22fb x", "APOP"),
])
def test_missing_and_extra_arguments(line, keyword):
    # RFC 1939 §3: a syntactically invalid command gets a negative status indicator
    result = parse_command(line)
    assert result == BadCommand(replies.BAD_ARGUMENTS, keyword)


@pytest.mark.parametrize("number", [b"0", b"-1", b"+1", b"1.0", b"x", b"0x10", b"2147483648",
                                    b"99999999999999999999", "\u00b2".encode(), "\u0661".encode(), b"1e3"])
@pytest.mark.parametrize("keyword", [b"RETR", b"DELE", b"LIST", b"UIDL", b"TOP"])
def test_bad_message_numbers(keyword, number):
    # RFC 1939 §5: message numbers start at 1; ours are at most 2**31-1, in plain ASCII decimal
    line = keyword + b" " + number + (b" 1" if keyword == b"TOP" else b"")
    assert parse_command(line) == BadCommand(replies.BAD_MESSAGE_NUMBER, keyword.decode())
    assert replies.BAD_MESSAGE_NUMBER.encode() == b"-ERR invalid message number\r\n"


@pytest.mark.parametrize("line", [b"USER caf\xe9", b"PASS \xff\xfe", b"RETR \x80"])
def test_non_utf8_arguments_are_refused(line):
    assert refused(line) == replies.BAD_ARGUMENTS


@pytest.mark.parametrize("line", [b"USER a\x00", b"PASS se\tcret", b"PASS secret\r", b"LIST 1\x7f",
                                  b"AUTH PLAIN\x0b"])
def test_control_characters_are_refused(line):
    # RFC 1939 §3: "printable ASCII characters"; a stray CR must not reach the session
    assert refused(line) == replies.BAD_ARGUMENTS


def test_utf8_user_names_and_passwords_are_kept():
    assert parse_command("USER j\u00f6rg".encode()) == User("j\u00f6rg")
    assert parse_command("PASS p\u00e4ss".encode()) == Pass("p\u00e4ss")


@pytest.mark.parametrize("line, password", [
    (b"PASS correct horse battery staple", "correct horse battery staple"),
    (b"PASS  leading", " leading"), (b"PASS trailing ", "trailing "), (b"PASS   ", "  "),
    (b"pass MiXeD", "MiXeD"),
])
def test_pass_argument_is_the_rest_of_the_line(line, password):
    # RFC 1939 §7 PASS: "a POP3 server may treat spaces in the argument as part of the password"
    assert parse_command(line) == Pass(password)


def test_password_stays_out_of_repr():
    assert "hunter2" not in repr(parse_command(b"PASS hunter2"))
    assert "dGVzdAB0ZXN0AHRlc3Q" not in repr(parse_command(b"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q="))


# --- AUTH: RFC 5034 §4-§5 ------------------------------------------------------------------

def test_auth_with_initial_response():
    # RFC 5034 §6 example: "C: AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q="
    assert parse_command(b"AUTH PLAIN dGVzdAB0ZXN0AHRlc3Q=") == Auth("PLAIN", b"test\0test\0test")


def test_auth_without_initial_response():
    # RFC 5034 §4: the response is optional; mechanism names are case-insensitive (§5)
    assert parse_command(b"AUTH plain") == Auth("PLAIN", None)
    assert parse_command(b"auth SCRAM-SHA-256") == Auth("SCRAM-SHA-256", None)


def test_auth_equals_is_an_empty_initial_response():
    # RFC 5034 §4: "=" represents an empty initial response (present, but no data)
    assert parse_command(b"AUTH EXTERNAL =") == Auth("EXTERNAL", b"")


def test_auth_alone_asks_for_the_mechanisms():
    # RFC 1734 practice: "AUTH" with no argument lists the mechanisms
    assert parse_command(b"AUTH") == Auth(None, None)
    assert parse_command(b"AUTH ") == Auth(None, None)


@pytest.mark.parametrize("response", [b"=AAA", b"AAA=BBB", b"dGVzdA", b"dGVzdA=", b"YWJj=", b"YW*j",
                                      b"YWJj\xc3\xa9", b"==", b"YQ===", b"Y"])
def test_auth_bad_base64_is_refused(response):
    # RFC 5034 §4: "MUST reject (and not ignore) any character not explicitly allowed by the Base64
    # alphabet, and MUST reject ... the pad character ('=') anywhere other than the end"
    assert parse_command(b"AUTH PLAIN " + response) == BadCommand(replies.BAD_BASE64, "AUTH")


@pytest.mark.parametrize("line", [b"AUTH PLAIN a= b", b"AUTH " + b"X" * 21, b"AUTH PL@IN", b"AUTH PLAIN = ="])
def test_auth_bad_syntax(line):
    # RFC 4422 §3.1: sasl-mech = 1*20 of upper-case letters, digits, "-", "_"; one initial response
    assert refused(line) == replies.BAD_ARGUMENTS


@pytest.mark.parametrize("line, expected", [
    (b"*", CancelResponse()), (b"", b""), (b"dGVzdA==", b"test"), (b"dGVzdA==  ", b"test"),
])
def test_auth_exchange_responses(line, expected):
    # RFC 5034 §4: a base64 line, "*" to cancel; §5: *(CRLF [base64]) so an empty line is empty data
    assert parse_auth_response(line) == expected


@pytest.mark.parametrize("line", [b"=", b"**", b"dGVzdA", b"=AAA", b"\xff", b"dG Vz"])
def test_auth_exchange_bad_responses(line):
    # RFC 5034 §4: "If the server cannot Base64 decode a client response, it MUST reject"
    assert parse_auth_response(line) == BadCommand(replies.BAD_BASE64, "AUTH")


# --- Any input, and round trips (STYLE.md: hypothesis for every parser) --------------------

@given(st.binary(max_size=300))
def test_any_bytes_give_a_command_or_a_protocol_error(data):
    result = parse_command(data)
    assert isinstance(result, (*Command.__args__, BadCommand))


@given(st.binary(max_size=300))
def test_any_auth_line_gives_data_cancel_or_error(data):
    assert isinstance(parse_auth_response(data), (bytes, CancelResponse, BadCommand))


@given(st.binary(max_size=1000))
def test_split_line_never_uses_more_than_it_has(data):
    line, used = split_line(data)
    assert 0 <= used <= len(data)
    if isinstance(line, bytes):
        assert len(line) < MAX_COMMAND_LINE and b"\n" not in line


_NUMBERS = st.integers(1, 2**31 - 1)
_ARG = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=40)
_PASSWORD = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), min_size=1, max_size=40)
_COMMANDS = st.one_of(
    st.builds(User, _ARG), st.builds(Pass, _PASSWORD),
    st.builds(Apop, _ARG, st.text("0123456789abcdef", min_size=32, max_size=32)),
    st.builds(Auth, st.none() | st.from_regex(r"[A-Z0-9_-]{1,20}", fullmatch=True), st.none()),
    st.builds(Auth, st.from_regex(r"[A-Z0-9_-]{1,20}", fullmatch=True), st.binary(max_size=100)),
    st.just(Stls()), st.just(Capa()), st.just(Stat()), st.just(Noop()), st.just(Rset()), st.just(Quit()),
    st.builds(List, st.none() | _NUMBERS), st.builds(Uidl, st.none() | _NUMBERS),
    st.builds(Retr, _NUMBERS), st.builds(Dele, _NUMBERS), st.builds(Top, _NUMBERS, st.integers(0, 2**31 - 1)),
)


def format_command(command) -> bytes:
    """A client's line for `command` (the client side is not in wire.py; this is what poplib sends)."""
    match command:
        case Auth(mechanism=None):
            args = []
        case Auth(mechanism=m, initial_response=None):
            args = [m]
        case Auth(mechanism=m, initial_response=r):
            args = [m, base64.b64encode(r).decode() or "="]
        case Pass(password=p):
            args = [p]
        case User(name=n):
            args = [n]
        case Apop(name=n, digest=d):
            args = [n, d]
        case Top(msg=m, lines=n):
            args = [str(m), str(n)]
        case List(msg=m) | Uidl(msg=m) | Retr(msg=m) | Dele(msg=m):
            args = [] if m is None else [str(m)]
        case _:
            args = []
    return " ".join([command.keyword, *args]).encode()


@given(_COMMANDS)
def test_what_a_client_writes_parses_back_to_an_equal_value(command):
    assert parse_command(format_command(command)) == command


# --- Multi-line responses: RFC 1939 §3 byte-stuffing ----------------------------------------

def test_lines_starting_with_a_dot_are_stuffed():
    # RFC 1939 §3: "If any line ... begins with the termination octet, the line is byte-stuffed"
    message = b"Subject: x\r\n\r\n.\r\n..two\r\nmid.dle\r\n.end"
    assert stuffed(message) == b"Subject: x\r\n\r\n..\r\n...two\r\nmid.dle\r\n..end\r\n.\r\n"


def test_first_line_with_a_dot_is_stuffed():
    assert stuffed(b".hidden\r\n") == b"..hidden\r\n.\r\n"


def test_terminator_follows_the_last_line():
    # RFC 1939 §3: the response ends with "CRLF.CRLF"
    assert stuffed(b"a\r\n") == b"a\r\n.\r\n"
    assert stuffed(b"a") == b"a\r\n.\r\n"        # repair: the last line is ended
    assert stuffed(b"") == b".\r\n"
    assert stuffed(b"\r\n") == b"\r\n.\r\n"


def test_bare_lf_message_is_sent_with_crlf():
    # repair (wire.py docstring): a bare-LF store still gives the client valid CRLF lines
    message = b"From: a@example.test\nSubject: lf\n\nbody\n.\n"
    assert stuffed(message) == b"From: a@example.test\r\nSubject: lf\r\n\r\nbody\r\n..\r\n.\r\n"


def test_bare_cr_becomes_a_line_end():
    assert stuffed(b"a\rb\r\r\nc") == b"a\r\nb\r\n\r\nc\r\n.\r\n"


@given(st.binary(max_size=2000))
def test_stuffing_round_trips_to_the_crlf_normalised_message(message):
    # RFC 1939 §3: what the client un-stuffs is the message, with CRLF line ends
    assert unstuff(stuffed(message)) == crlf_normalised(message)


_DOTTY = st.lists(st.sampled_from([b".", b"\r", b"\n", b"\r\n", b"a", b"..", b"\r\n.\r\n"]),
                  max_size=60).map(b"".join)


@given(_DOTTY)
def test_stuffing_round_trips_on_dot_and_line_end_heavy_input(message):
    assert unstuff(stuffed(message)) == crlf_normalised(message)


@given(st.one_of(_DOTTY, st.binary(max_size=500)), st.data())
def test_any_chunking_of_the_stuffer_equals_stuffed(message, data):
    cuts = sorted(data.draw(st.lists(st.integers(0, len(message)), max_size=20)))
    stuffer = Stuffer()
    out = []
    for start, end in zip([0, *cuts], [*cuts, len(message)]):
        out.append(stuffer.feed(message[start:end]))
    out.append(stuffer.end())
    assert b"".join(out) == stuffed(message)


@pytest.mark.parametrize("chunks", [
    [b"a\r", b"\nb"], [b"a\r", b".b"], [b"a\r\n", b".b"], [b"a\r", b"", b"\n.b"], [b".", b"."],
    [b"x\r"], [b"\r", b"\r", b"\n"], [b"a\n", b"."],
])
def test_chunk_boundaries_at_line_starts_and_crs(chunks):
    # a "." at the start of a chunk that starts a line; a CR at the end of a chunk
    stuffer = Stuffer()
    got = b"".join(stuffer.feed(chunk) for chunk in chunks) + stuffer.end()
    assert got == stuffed(b"".join(chunks))


@given(st.binary(max_size=2000))
def test_octet_count_is_what_the_client_receives(message):
    # RFC 1939 §11: the octet count excludes the stuffed dots; it agrees with what RETR sends
    assert octet_count(message) == len(crlf_normalised(message)) == len(unstuff(stuffed(message)))


# --- TOP: RFC 1939 §7 ----------------------------------------------------------------------

MESSAGE = b"From: a@example.test\r\nSubject: top\r\n\r\nline 1\r\nline 2\r\n.line 3\r\n"


def test_top_sends_header_blank_line_and_n_body_lines():
    # RFC 1939 §7: "the headers of the message, the blank line ..., and then the number of lines"
    assert top_of(MESSAGE, 2) == b"From: a@example.test\r\nSubject: top\r\n\r\nline 1\r\nline 2\r\n"


def test_top_with_zero_lines_is_the_header_and_blank_line():
    # RFC 1939 §7: a non-negative number of lines; 0 gives the header only
    assert top_of(MESSAGE, 0) == b"From: a@example.test\r\nSubject: top\r\n\r\n"


def test_top_with_more_lines_than_the_body_sends_the_whole_message():
    # RFC 1939 §7: "if the number of lines requested ... is greater than ..., the entire message"
    assert top_of(MESSAGE, 3) == MESSAGE
    assert top_of(MESSAGE, 10) == MESSAGE
    assert top_of(MESSAGE, 2**31 - 1) == MESSAGE


def test_top_is_stuffed_when_sent():
    # RFC 1939 §7: "being careful to byte-stuff the termination character"
    assert stuffed(top_of(MESSAGE, 3)).endswith(b"line 2\r\n..line 3\r\n.\r\n")


def test_top_of_message_without_body_is_the_whole_message():
    header_only = b"From: a@example.test\r\nSubject: none\r\n"
    assert top_of(header_only, 0) == header_only
    assert top_of(b"Subject: x", 5) == b"Subject: x"
    assert top_of(b"", 0) == b""


def test_top_of_message_with_empty_body():
    assert top_of(b"Subject: x\r\n\r\n", 0) == b"Subject: x\r\n\r\n"
    assert top_of(b"Subject: x\r\n\r\n", 4) == b"Subject: x\r\n\r\n"


def test_top_of_bare_lf_message():
    message = b"From: a@example.test\nSubject: lf\n\none\ntwo\nthree"
    assert top_of(message, 0) == b"From: a@example.test\nSubject: lf\n\n"
    assert top_of(message, 2) == b"From: a@example.test\nSubject: lf\n\none\ntwo\n"
    assert top_of(message, 3) == message
    assert stuffed(top_of(message, 1)) == b"From: a@example.test\r\nSubject: lf\r\n\r\none\r\n.\r\n"


def test_top_of_message_starting_with_a_blank_line():
    assert top_of(b"\r\nbody\r\nmore\r\n", 1) == b"\r\nbody\r\n"


def test_top_of_last_line_without_end():
    assert top_of(b"S: x\r\n\r\na\r\nb", 2) == b"S: x\r\n\r\na\r\nb"


@given(st.binary(max_size=500), st.integers(-2, 30))
def test_top_is_a_prefix_of_the_message_and_grows_with_n(message, n):
    top = top_of(message, n)
    assert message.startswith(top)
    assert top_of(message, n + 1).startswith(top)


# --- Listings: RFC 1939 §5 LIST, §7 UIDL; RFC 2449 §5 CAPA -----------------------------------

def test_rfc_1939_list_example():
    # RFC 1939 §5: "+OK 2 messages (320 octets)", "1 120", "2 200", "."
    response = replies.list_follows(2, 320).encode() + multiline(["1 120", "2 200"])
    assert response == b"+OK 2 messages (320 octets)\r\n1 120\r\n2 200\r\n.\r\n"


def test_rfc_1939_uidl_example():
    # RFC 1939 §7 UIDL: "1 whqtswO00WBw418f9t5JxYwZ", "2 QhdPYR:00WBw1Ph7x7", "."
    body = multiline(["1 whqtswO00WBw418f9t5JxYwZ", "2 QhdPYR:00WBw1Ph7x7"])
    assert body == b"1 whqtswO00WBw418f9t5JxYwZ\r\n2 QhdPYR:00WBw1Ph7x7\r\n.\r\n"


def test_rfc_2449_capa_example():
    # RFC 2449 §5 / RFC 5034 §3 example capability list
    body = multiline(["SASL PLAIN", "STLS", "IMPLEMENTATION postoffice"])
    assert replies.CAPA_FOLLOWS.encode() + body == (
        b"+OK Capability list follows\r\nSASL PLAIN\r\nSTLS\r\nIMPLEMENTATION postoffice\r\n.\r\n")


def test_empty_listing_is_just_the_terminator():
    assert multiline([]) == b".\r\n"


def test_listing_lines_are_stuffed_and_cannot_break():
    assert multiline([".x", "a\r\nb", "caf\u00e9"]) == b"..x\r\na??b\r\ncaf?\r\n.\r\n"
