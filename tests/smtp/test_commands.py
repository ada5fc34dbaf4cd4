"""SMTP command lines: finding them in a buffer and parsing them into command values."""

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postoffice.smtp.wire import (
    MAX_COMMAND_LINE,
    Auth,
    BadCommand,
    Bdat,
    Command,
    Data,
    Ehlo,
    Expn,
    Helo,
    Help,
    MailFrom,
    Noop,
    Quit,
    RcptTo,
    Rset,
    StartTls,
    TooLong,
    Vrfy,
    parse_command,
    skip_line,
    split_line,
)


def refused(line: bytes, **kw) -> tuple[int, str]:
    result = parse_command(line, **kw)
    assert isinstance(result, BadCommand), result
    return result.reply.code, result.reply.status


# --- split_line: RFC 5321 §2.3.8 line ends, §4.5.3.1.4 command line length ---------------------

def test_split_line_returns_the_line_without_crlf():
    assert split_line(b"NOOP\r\nQUIT\r\n") == (b"NOOP", 6)


def test_split_line_accepts_a_bare_lf_for_commands():
    # lenient for commands only (wire.py docstring); DATA never accepts it (test_data.py)
    assert split_line(b"NOOP\nQUIT") == (b"NOOP", 5)


def test_split_line_waits_for_the_end_of_the_line():
    assert split_line(b"NOOP\r") == (None, 0)
    assert split_line(b"") == (None, 0)


def test_split_line_keeps_a_cr_inside_the_line_for_the_parser_to_refuse():
    line, used = split_line(b"NOOP\rQUIT\r\n")
    assert (line, used) == (b"NOOP\rQUIT", 11)
    assert isinstance(parse_command(line), BadCommand)


def test_a_line_of_exactly_the_limit_is_accepted():
    line = b"NOOP " + b"x" * (MAX_COMMAND_LINE - 7)
    assert split_line(line + b"\r\n") == (line, MAX_COMMAND_LINE)


def test_a_line_one_over_the_limit_is_too_long_and_dropped_with_its_end():
    # RFC 5321 §4.5.3.1.9: "500 Line too long", answered once the line is drained
    line = b"NOOP " + b"x" * (MAX_COMMAND_LINE - 6)
    assert split_line(line + b"\r\nQUIT\r\n") == (TooLong(ended=True), len(line) + 2)


def test_an_unended_long_line_is_dropped_and_drained_until_its_end():
    buf = b"x" * (MAX_COMMAND_LINE + 10)
    assert split_line(buf) == (TooLong(ended=False), len(buf))
    # the rest of the long line must not be read as a command
    assert skip_line(b"yyyy") == (False, 4)
    assert skip_line(b"yy\r\nQUIT\r\n") == (True, 4)


def test_split_line_honours_a_smaller_limit():
    assert split_line(b"123456789\r\n", 10) == (TooLong(ended=True), 11)
    assert split_line(b"12345678\r\n", 10) == (b"12345678", 10)
    assert split_line(b"123456789", 10) == (None, 0)


@given(st.binary(max_size=300), st.integers(min_value=1, max_value=100))
def test_split_line_never_uses_more_than_it_has(buf, limit):
    result, used = split_line(buf, limit)
    assert 0 <= used <= len(buf)
    if isinstance(result, bytes):
        assert b"\n" not in result and used <= limit
    elif result is None:
        assert used == 0 and b"\n" not in buf and len(buf) < limit


# --- HELO / EHLO: RFC 5321 §4.1.1.1 ---------------------------------------------------------

@pytest.mark.parametrize("line, domain", [
    (b"EHLO mail.example.test", "mail.example.test"),
    (b"ehlo mail.example.test", "mail.example.test"),           # RFC 5321 §2.4: case-insensitive
    (b"EHLO [192.0.2.1]", "[192.0.2.1]"),                       # address literal, §4.1.3
    (b"EHLO [IPv6:2001:db8::1]", "[IPv6:2001:db8::1]"),
    (b"EHLO DESKTOP_4F2", "DESKTOP_4F2"),                       # lenient: Windows machine names
    (b"EHLO localhost  ", "localhost"),                         # lenient: trailing white space
])
def test_ehlo(line, domain):
    assert parse_command(line) == Ehlo(domain)


@pytest.mark.parametrize("line", [b"EHLO", b"EHLO ", b"EHLO a b", b"EHLO [300.0.0.1]", b"EHLO a@b",
                                  b"EHLO [IPv6:zz]", b"EHLO -bad-", "EHLO bücher.example".encode()])
def test_ehlo_with_bad_argument(line):
    assert refused(line) == (501, "5.5.4")


def test_helo():
    assert parse_command(b"HELO client.example.test") == Helo("client.example.test")
    assert refused(b"HELO") == (501, "5.5.4")


# --- MAIL / RCPT: RFC 5321 §4.1.1.2-3 (paths and parameters in test_paths.py) ------------------

def test_mail_from():
    cmd = parse_command(b"MAIL FROM:<alice@example.test> SIZE=1000 BODY=8BITMIME")
    assert cmd == MailFrom("alice@example.test", {"SIZE": "1000", "BODY": "8BITMIME"}, "")
    assert cmd.path.domain == "example.test"


def test_verbs_and_from_to_are_case_insensitive():
    assert parse_command(b"mail from:<a@example.test>") == MailFrom("a@example.test")
    assert parse_command(b"Rcpt To:<b@example.test>") == RcptTo("b@example.test")


def test_spaces_after_the_colon_are_accepted():
    # lenient: RFC 5321 §4.1.2 has no space there, but common clients send one
    assert parse_command(b"MAIL FROM: <a@example.test>") == MailFrom("a@example.test")
    assert parse_command(b"RCPT TO:  <b@example.test>") == RcptTo("b@example.test")


@pytest.mark.parametrize("line, expected", [
    (b"MAIL FROM:alice@example.test", (501, "5.5.4")),          # no angle brackets: refused, not guessed
    (b"RCPT TO:bob@example.test", (501, "5.5.4")),
    (b"MAIL", (501, "5.5.4")),
    (b"MAIL TO:<a@example.test>", (501, "5.5.4")),
    (b"MAIL FROM <a@example.test>", (501, "5.5.4")),
    (b"RCPT FROM:<a@example.test>", (501, "5.5.4")),
    (b"MAIL FROM:<a@example.test>SIZE=1", (501, "5.5.4")),      # §4.1.2: SP before parameters
    (b"MAIL FROM:<a@example.test", (501, "5.1.7")),
    (b"RCPT TO:<b@example.test", (501, "5.1.3")),
    (b"MAIL FROM:<a@example.test>\x00", (501, "5.5.4")),        # controls in no argument syntax
    (b"MAIL FROM:<a\xff@example.test>", (501, "5.5.4")),        # not UTF-8
])
def test_mail_and_rcpt_with_bad_syntax(line, expected):
    assert refused(line) == expected


# --- DATA, BDAT, RSET, NOOP, QUIT, STARTTLS --------------------------------------------------

@pytest.mark.parametrize("line, command", [
    (b"DATA", Data()), (b"data", Data()),                       # RFC 5321 §4.1.1.4
    (b"RSET", Rset()),                                          # §4.1.1.5
    (b"QUIT", Quit()),                                          # §4.1.1.10
    (b"NOOP", Noop()), (b"NOOP anything at all", Noop()),       # §4.1.1.9: argument ignored
    (b"STARTTLS", StartTls()), (b"starttls", StartTls()),       # RFC 3207 §4
    (b"BDAT 1000", Bdat(1000, False)),                          # RFC 3030 §2
    (b"BDAT 0 LAST", Bdat(0, True)), (b"bdat 42 last", Bdat(42, True)),
])
def test_commands_without_complex_arguments(line, command):
    assert parse_command(line) == command


@pytest.mark.parametrize("line", [b"DATA now", b"RSET x", b"QUIT bye", b"STARTTLS x",  # no arguments
                                  b"BDAT", b"BDAT x", b"BDAT -1", b"BDAT 10 FIRST", b"BDAT 10 LAST x",
                                  b"BDAT 1.5"])
def test_commands_with_unexpected_arguments(line):
    assert refused(line) == (501, "5.5.4")


# --- VRFY, EXPN, HELP: RFC 5321 §4.1.1.6-8, RFC 6531 §3.7.4.2 ---------------------------------

def test_vrfy_expn_help():
    assert parse_command(b"VRFY alice") == Vrfy("alice")
    assert parse_command(b"VRFY John Smith") == Vrfy("John Smith")
    assert parse_command(b"EXPN staff") == Expn("staff")
    assert parse_command(b"HELP") == Help("")
    assert parse_command(b"HELP MAIL") == Help("MAIL")


def test_vrfy_with_smtputf8_parameter():
    # RFC 6531 §3.7.4.2: VRFY SP String [SP "SMTPUTF8"], which allows UTF-8
    assert parse_command("VRFY <jürgen@example.test> SMTPUTF8".encode()) == Vrfy("<jürgen@example.test>", True)
    assert refused("VRFY <jürgen@example.test>".encode()) == (501, "5.5.4")


def test_vrfy_and_expn_need_an_argument():
    assert refused(b"VRFY") == (501, "5.5.4")
    assert refused(b"EXPN") == (501, "5.5.4")


# --- AUTH: RFC 4954 §4 -----------------------------------------------------------------------

def test_auth_without_initial_response():
    assert parse_command(b"AUTH plain") == Auth("PLAIN", None)
    assert parse_command(b"AUTH SCRAM-SHA-256") == Auth("SCRAM-SHA-256", None)


def test_auth_with_initial_response_is_decoded():
    ir = base64.b64encode(b"\0alice\0secret")
    assert parse_command(b"AUTH PLAIN " + ir) == Auth("PLAIN", b"\0alice\0secret")


def test_auth_equals_sign_is_an_empty_initial_response():
    # RFC 4954 §4: "=" stands for a zero-length initial response
    assert parse_command(b"AUTH PLAIN =") == Auth("PLAIN", b"")


@pytest.mark.parametrize("ir", [b"not*base64", b"YWJj=", b"YWJ", b"===="])
def test_auth_with_invalid_base64(ir):
    # RFC 4954 §4: a response that cannot be decoded is refused with 501 5.5.2
    assert refused(b"AUTH PLAIN " + ir) == (501, "5.5.2")


@pytest.mark.parametrize("line", [b"AUTH", b"AUTH PL@IN", b"AUTH PLAIN a b", b"AUTH " + b"X" * 21])
def test_auth_with_bad_syntax(line):
    assert refused(line) == (501, "5.5.4")


# --- Unknown and malformed lines -----------------------------------------------------------

@pytest.mark.parametrize("line", [b"", b"FOO", b"MAILFROM:<a@b>", b"\xff\xfe", b"NOOP\rQUIT", b" NOOP",
                                  b"TURN", b"MAIL\tFROM:<a@example.test>"])
def test_unknown_command(line):
    # RFC 5321 §4.2.4: 500 for an unrecognized command; RFC 3463 X.5.2
    assert refused(line) == (500, "5.5.2")


@given(st.binary(max_size=600), st.booleans())
def test_any_bytes_give_a_command_or_a_protocol_error(line, smtputf8):
    # STYLE.md: the parser never raises for anything a client sends
    result = parse_command(line, smtputf8=smtputf8)
    assert isinstance(result, (*Command.__args__, BadCommand))


@given(st.sampled_from([b"MAIL FROM:", b"RCPT TO:", b"EHLO ", b"AUTH ", b"BDAT ", b"VRFY "]),
       st.binary(max_size=200))
def test_any_arguments_give_a_command_or_a_protocol_error(verb, rest):
    result = parse_command(verb + rest)
    assert isinstance(result, (*Command.__args__, BadCommand))
