"""The POP3 wire, server side: command lines in, command values out; messages and listings out as
multi-line responses. Sans-I/O.

Role: `split_line` finds one command line in what the listener has read, enforcing the line limit
where the bytes are counted; `parse_command` turns that line into a `Command` value, or a
`BadCommand` carrying the reply to send; `parse_auth_response` does the same for the client's lines
inside an AUTH exchange. `stuffed` / `Stuffer` (a whole message, or one streamed in chunks),
`top_of` and `multiline` build the body of multi-line responses. Nothing here reads, writes, logs or
raises for anything a client sends.

RFCs: RFC 1939 §3 (command syntax, keywords case-insensitive, multi-line responses and byte-stuffing),
§5 and §7 (the commands and their arguments), §11 (octet counts); RFC 2449 §3 (grammar), §4 (255
octets per command line), §5 (CAPA); RFC 2595 §4 (STLS); RFC 5034 §4-§5 (AUTH, its initial response,
"=" and "*", strict base64).

Leniency, each for clients that exist: a bare LF ends a command line (POP3 clients send no message
data, so this cannot smuggle anything); runs of spaces between arguments and trailing spaces are
accepted, except for PASS, whose argument is the rest of the line after one space, spaces included
(RFC 1939 §7: "a POP3 server may treat spaces in the argument as part of the password"); "AUTH" with
no mechanism asks for the list of mechanisms (RFC 1734 practice). Not lenient: a control character
or non-UTF-8 bytes in a command, a message number that is not a plain positive decimal.

Repair, on the way out: stored messages may hold bare LF or bare CR line ends (an mbox import, a
local tool); `stuffed` sends each as CRLF, and ends an unterminated last line with CRLF, so a client
always sees well-formed lines and the terminating "." is always a line of its own.

Left out: the POP3 client side (commands are only parsed here), RFC 2449 §6.7 EXPIRE (a capability
line only), RFC 6856 UTF8 and LANG. Hand-written: the standard library only has a client (poplib).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import ClassVar

from postoffice.pop3 import replies
from postoffice.pop3.replies import Reply
from postoffice.smtp import wire as _smtp_wire
from postoffice.smtp.wire import TooLong, skip_line  # re-exported: the same line framing as SMTP

__all__ = [
    "MAX_COMMAND_LINE", "MAX_AUTH_LINE", "MAX_MESSAGE_NUMBER", "TooLong", "split_line", "skip_line",
    "parse_command", "parse_auth_response", "Command", "BadCommand", "CancelResponse",
    "User", "Pass", "Apop", "Auth", "Stls", "Capa", "Stat", "List", "Retr", "Dele", "Noop", "Rset",
    "Quit", "Top", "Uidl", "stuffed", "Stuffer", "top_of", "multiline", "octet_count",
]

# RFC 2449 §4: a command line is at most 255 octets including its CRLF (RFC 5034 §4: the AUTH
# command with its initial response too).
MAX_COMMAND_LINE = 255
# RFC 5034 §4: the client's lines inside an AUTH exchange may be "of arbitrary length, depending on
# the authentication mechanism", and we must take the longest our mechanisms produce: PLAIN with the
# three 255-octet fields RFC 4616 §2 allows is 1,024 octets of base64; 8192 leaves room for SCRAM
# and OAuth bearer tokens. The listener passes it to `split_line` while an exchange is under way.
MAX_AUTH_LINE = 8192
MAX_MESSAGE_NUMBER = 2**31 - 1   # a message number or line count above this is refused, not clamped

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DECIMAL = re.compile(r"[0-9]{1,10}")               # ASCII digits only: str.isdigit() takes "²"
_MECHANISM = re.compile(r"[A-Za-z0-9\-_]{1,20}")    # RFC 4422 §3.1 sasl-mech, case-insensitive here
# RFC 5034 §5 base64: padded, "=" only at the end (binascii alone accepts "YWJj=" and "=AAA").
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_DIGEST = re.compile(r"[0-9A-Fa-f]{32}")            # RFC 1939 §7 APOP: an MD5 digest in hex
_LINE_END = re.compile(rb"\r\n|\r|\n")
_UNSAFE = re.compile(r"[^\x20-\x7e]")


# --- Finding lines ---------------------------------------------------------------------------

def split_line(buf: bytes, limit: int = MAX_COMMAND_LINE) -> tuple[bytes | None | TooLong, int]:
    """The first line of `buf` without its line end, and how many bytes to drop from `buf`: exactly
    `postoffice.smtp.wire.split_line` (which see), with the POP3 limit as the default. Pass
    `MAX_AUTH_LINE` for the client's responses inside an AUTH exchange."""
    return _smtp_wire.split_line(buf, limit)


# --- Commands (RFC 1939 §5, §7; RFC 2449 §5; RFC 2595 §4; RFC 5034 §4), named as the RFCs spell them

@dataclass(frozen=True, slots=True)
class User:
    keyword: ClassVar[str] = "USER"
    name: str


@dataclass(frozen=True, slots=True)
class Pass:
    """`password` is the rest of the line after "PASS ", spaces included; kept out of repr and logs."""

    keyword: ClassVar[str] = "PASS"
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Apop:
    """Parsed so it is answered precisely; the session refuses it. `digest` lower-cased."""

    keyword: ClassVar[str] = "APOP"
    name: str
    digest: str


@dataclass(frozen=True, slots=True)
class Auth:
    """`mechanism` upper-cased, None for "AUTH" alone (list the mechanisms); `initial_response`
    base64-decoded, b"" for "=", None when absent. The response is kept out of repr and logs."""

    keyword: ClassVar[str] = "AUTH"
    mechanism: str | None = None
    initial_response: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Stls:
    keyword: ClassVar[str] = "STLS"


@dataclass(frozen=True, slots=True)
class Capa:
    keyword: ClassVar[str] = "CAPA"


@dataclass(frozen=True, slots=True)
class Stat:
    keyword: ClassVar[str] = "STAT"


@dataclass(frozen=True, slots=True)
class List:
    """`msg` None: list every message (multi-line); else the scan listing of that one."""

    keyword: ClassVar[str] = "LIST"
    msg: int | None = None


@dataclass(frozen=True, slots=True)
class Retr:
    keyword: ClassVar[str] = "RETR"
    msg: int


@dataclass(frozen=True, slots=True)
class Dele:
    keyword: ClassVar[str] = "DELE"
    msg: int


@dataclass(frozen=True, slots=True)
class Noop:
    keyword: ClassVar[str] = "NOOP"


@dataclass(frozen=True, slots=True)
class Rset:
    keyword: ClassVar[str] = "RSET"


@dataclass(frozen=True, slots=True)
class Quit:
    keyword: ClassVar[str] = "QUIT"


@dataclass(frozen=True, slots=True)
class Top:
    """The header, the blank line and the first `lines` body lines of message `msg` (RFC 1939 §7)."""

    keyword: ClassVar[str] = "TOP"
    msg: int
    lines: int


@dataclass(frozen=True, slots=True)
class Uidl:
    """`msg` None: every unique-id listing (multi-line); else that message's."""

    keyword: ClassVar[str] = "UIDL"
    msg: int | None = None


Command = User | Pass | Apop | Auth | Stls | Capa | Stat | List | Retr | Dele | Noop | Rset | Quit | Top | Uidl


@dataclass(frozen=True, slots=True)
class BadCommand:
    """A line that is not a valid command: the reply to send. `keyword` is the known keyword it used, or ""."""

    reply: Reply
    keyword: str = ""


@dataclass(frozen=True, slots=True)
class CancelResponse:
    """The client's "*" inside an AUTH exchange (RFC 5034 §4): answer `replies.AUTH_CANCELLED`."""


# --- Parsing ---------------------------------------------------------------------------------

_Parser = Callable[[str], "Command | BadCommand"]


def _args(arg: str) -> list[str]:
    # RFC 1939 §3: arguments are separated by a single space; lenient: runs of spaces, trailing spaces.
    return [part for part in arg.split(" ") if part]


def _number(text: str) -> int | None:
    """A plain decimal in 0..MAX_MESSAGE_NUMBER, or None (no sign, no "+", no non-ASCII digit)."""
    if not _DECIMAL.fullmatch(text):
        return None
    value = int(text)
    return value if value <= MAX_MESSAGE_NUMBER else None


def _message_number(text: str) -> int | None:
    # RFC 1939 §5: message numbers start at 1.
    value = _number(text)
    return value if value else None


def _no_argument(cls: type[Stls] | type[Capa] | type[Stat] | type[Noop] | type[Rset] | type[Quit]) -> _Parser:
    def parse(arg: str) -> Command | BadCommand:
        # RFC 1939 §5-§6, RFC 2449 §5, RFC 2595 §4: these take no argument.
        return BadCommand(replies.BAD_ARGUMENTS, cls.keyword) if _args(arg) else cls()
    return parse


def _one_message(cls: type[Retr] | type[Dele]) -> _Parser:
    def parse(arg: str) -> Command | BadCommand:
        # RFC 1939 §5 RETR msg, DELE msg: a message-number, required.
        args = _args(arg)
        if len(args) != 1:
            return BadCommand(replies.BAD_ARGUMENTS, cls.keyword)
        msg = _message_number(args[0])
        return cls(msg) if msg else BadCommand(replies.BAD_MESSAGE_NUMBER, cls.keyword)
    return parse


def _optional_message(cls: type[List] | type[Uidl]) -> _Parser:
    def parse(arg: str) -> Command | BadCommand:
        # RFC 1939 §5 LIST [msg], §7 UIDL [msg].
        args = _args(arg)
        if not args:
            return cls(None)
        if len(args) != 1:
            return BadCommand(replies.BAD_ARGUMENTS, cls.keyword)
        msg = _message_number(args[0])
        return cls(msg) if msg else BadCommand(replies.BAD_MESSAGE_NUMBER, cls.keyword)
    return parse


def _parse_top(arg: str) -> Command | BadCommand:
    # RFC 1939 §7 TOP msg n: a message-number and a non-negative number of lines, both required.
    args = _args(arg)
    if len(args) != 2:
        return BadCommand(replies.BAD_ARGUMENTS, "TOP")
    msg = _message_number(args[0])
    if not msg:
        return BadCommand(replies.BAD_MESSAGE_NUMBER, "TOP")
    lines = _number(args[1])
    return Top(msg, lines) if lines is not None else BadCommand(replies.BAD_ARGUMENTS, "TOP")


def _parse_user(arg: str) -> Command | BadCommand:
    # RFC 1939 §7 USER name: one argument (RFC 2449 §3 param = 1*VCHAR).
    args = _args(arg)
    return User(args[0]) if len(args) == 1 else BadCommand(replies.BAD_ARGUMENTS, "USER")


def _parse_pass(arg: str) -> Command | BadCommand:
    # RFC 1939 §7 PASS string: the whole rest of the line is the password, spaces and all (even
    # leading and trailing ones), since PASS has exactly one argument. Empty is no password.
    return Pass(arg) if arg else BadCommand(replies.BAD_ARGUMENTS, "PASS")


def _parse_apop(arg: str) -> Command | BadCommand:
    # RFC 1939 §7 APOP name digest.
    args = _args(arg)
    if len(args) != 2 or not _DIGEST.fullmatch(args[1]):
        return BadCommand(replies.BAD_ARGUMENTS, "APOP")
    return Apop(args[0], args[1].lower())


def _decode_base64(text: str) -> bytes | None:
    # RFC 5034 §4: reject any character outside the alphabet, and "=" anywhere but at the end.
    return binascii.a2b_base64(text) if _BASE64.fullmatch(text) else None


def _parse_auth(arg: str) -> Command | BadCommand:
    # RFC 5034 §5: "AUTH" SP sasl-mech [SP initial-response]; initial-response = base64 / "=".
    args = _args(arg)
    if not args:
        return Auth(None, None)   # RFC 1734 practice: list the mechanisms
    if len(args) > 2 or not _MECHANISM.fullmatch(args[0]):
        return BadCommand(replies.BAD_ARGUMENTS, "AUTH")
    mechanism = args[0].upper()   # RFC 5034 §5: case-insensitive
    if len(args) == 1:
        return Auth(mechanism, None)
    if args[1] == "=":
        return Auth(mechanism, b"")   # RFC 5034 §4: "=" is a present but empty initial response
    data = _decode_base64(args[1])
    if data is None:
        return BadCommand(replies.BAD_BASE64, "AUTH")
    return Auth(mechanism, data)


_PARSERS: dict[bytes, _Parser] = {
    b"USER": _parse_user,
    b"PASS": _parse_pass,
    b"APOP": _parse_apop,
    b"AUTH": _parse_auth,
    b"STLS": _no_argument(Stls),
    b"CAPA": _no_argument(Capa),
    b"STAT": _no_argument(Stat),
    b"LIST": _optional_message(List),
    b"RETR": _one_message(Retr),
    b"DELE": _one_message(Dele),
    b"NOOP": _no_argument(Noop),
    b"RSET": _no_argument(Rset),
    b"QUIT": _no_argument(Quit),
    b"TOP": _parse_top,
    b"UIDL": _optional_message(Uidl),
}


def parse_command(line: bytes) -> Command | BadCommand:
    """The command on one line, given without its line end (see `split_line`).

    Never raises: a bad line gives `BadCommand` with UNKNOWN_COMMAND for an unknown keyword,
    BAD_MESSAGE_NUMBER for a message number that is not 1..2**31-1, BAD_BASE64 for an AUTH initial
    response that is not strict base64, and BAD_ARGUMENTS for anything else wrong after the keyword."""
    keyword, _, rest = bytes(line).partition(b" ")
    parse = _PARSERS.get(keyword.upper())   # RFC 1939 §3: keywords are case-insensitive
    if parse is None:
        return BadCommand(replies.UNKNOWN_COMMAND)
    name = keyword.upper().decode("ascii")
    try:
        arg = rest.decode("utf-8")
    except UnicodeDecodeError:
        return BadCommand(replies.BAD_ARGUMENTS, name)
    if _CONTROL.search(arg):   # RFC 1939 §3, RFC 2449 §3: printable characters only (no CR, NUL, HTAB)
        return BadCommand(replies.BAD_ARGUMENTS, name)
    return parse(arg)


def parse_auth_response(line: bytes) -> bytes | CancelResponse | BadCommand:
    """One client line inside an AUTH exchange (RFC 5034 §4-§5), given without its line end: the
    decoded response (b"" for an empty line), `CancelResponse` for "*", or `BadCommand` with
    BAD_BASE64 (the session then fails the AUTH command, RFC 5034 §4 "MUST reject")."""
    text = bytes(line).rstrip(b" ")   # lenient: trailing spaces
    if text == b"*":
        return CancelResponse()
    if not text.isascii():
        return BadCommand(replies.BAD_BASE64, "AUTH")
    data = _decode_base64(text.decode("ascii"))
    return data if data is not None else BadCommand(replies.BAD_BASE64, "AUTH")


# --- Multi-line responses (RFC 1939 §3) ------------------------------------------------------

class Stuffer:
    """Byte-stuffs a message given in chunks of any size; the output is the same as `stuffed` of the
    whole, however it is cut. Line ends become CRLF (a bare CR at the end of a chunk is held back until
    the next chunk says whether an LF follows); a "." that starts a line gets a second "." (a line
    start may be the start of a chunk). `end` closes the last line and adds the terminating ".".
    Use each Stuffer for one message."""

    __slots__ = ("_at_line_start", "_held_cr")

    def __init__(self) -> None:
        self._at_line_start = True
        self._held_cr = False

    def feed(self, chunk: bytes) -> bytes:
        """The stuffed bytes that can be sent now for `chunk`."""
        data = b"\r" + chunk if self._held_cr else bytes(chunk)
        self._held_cr = data.endswith(b"\r")
        if self._held_cr:
            data = data[:-1]
        if not data:
            return b""
        # Repair: bare LF and bare CR become CRLF (module docstring). RFC 1939 §3: a line beginning
        # with the termination octet is sent with one more.
        data = _LINE_END.sub(b"\r\n", data).replace(b"\r\n.", b"\r\n..")
        if self._at_line_start and data.startswith(b"."):
            data = b"." + data
        self._at_line_start = data.endswith(b"\r\n")
        return data

    def end(self) -> bytes:
        """The end of the response: a CRLF for an unterminated last line (or a held CR), then ".\\r\\n"."""
        close = self._held_cr or not self._at_line_start
        self._at_line_start, self._held_cr = True, False
        return (b"\r\n.\r\n" if close else b".\r\n")


def stuffed(message: bytes) -> bytes:
    """`message` as the body of a multi-line response: line ends as CRLF, lines starting with "."
    stuffed with another, the last line ended, then the terminating ".\\r\\n" (RFC 1939 §3)."""
    crlf = message.count(b"\r\n")
    if crlf == message.count(b"\n") == message.count(b"\r"):  # the usual case: CRLF line ends only
        body = (b"." if message.startswith(b".") else b"") + message.replace(b"\r\n.", b"\r\n..")
        return body + (b".\r\n" if not body or body.endswith(b"\r\n") else b"\r\n.\r\n")
    stuffer = Stuffer()
    return stuffer.feed(message) + stuffer.end()


def octet_count(message: bytes) -> int:
    """The size a client counts for `message` (RFC 1939 §11): line ends as CRLF and the last line
    ended, as `stuffed` sends it, without the stuffed dots and the terminating line. For STAT, LIST
    and the RETR reply, so they agree with what RETR sends."""
    if not message:
        return 0
    # Each line end becomes two octets: CRLF stays, a bare CR or LF gains one (no overlap: a CRLF is
    # always read as one line end, as `_LINE_END` does).
    size = len(message) + message.count(b"\n") + message.count(b"\r") - 2 * message.count(b"\r\n")
    return size if message.endswith((b"\n", b"\r")) else size + 2


def top_of(message: bytes, lines: int) -> bytes:
    """The header, the blank line and the first `lines` lines of the body (RFC 1939 §7 TOP), as
    stored: not yet stuffed, to be passed through `stuffed`. The whole message when the body has no
    more lines than that, or when there is no blank line (no body). Line ends as `stuffed` reads them."""
    remaining = max(lines, 0)
    line_start = 0
    in_body = False
    for end in _LINE_END.finditer(message):
        if in_body:
            remaining -= 1
        elif end.start() == line_start:   # an empty line: the header ends here
            in_body = True
        if in_body and remaining == 0:
            return message[:end.end()]
        line_start = end.end()
    return message


def multiline(lines: Iterable[str]) -> bytes:
    """The lines of a LIST, UIDL, CAPA or AUTH listing after its "+OK" line: each ending in CRLF,
    stuffed if it starts with ".", then ".\\r\\n" (RFC 1939 §3). Characters that are not printable
    ASCII become "?" (these lines are ours: scan listings, unique-ids, capability tags)."""
    out = []
    for line in lines:
        text = _UNSAFE.sub("?", line)
        out.append(("." + text if text.startswith(".") else text).encode("ascii") + b"\r\n")
    out.append(b".\r\n")
    return b"".join(out)
