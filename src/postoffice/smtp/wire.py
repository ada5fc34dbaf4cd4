"""The SMTP wire, server side: command lines in, command values out. Sans-I/O.

Role: `split_line` finds one command line in what the listener has read, enforcing the line limit
where the bytes are counted; `parse_command` turns that line into a `Command` value, or a
`BadCommand` carrying the reply to send. Nothing here reads, writes, logs or raises for anything a
client sends. The DATA and BDAT phases are in data.py, paths and ESMTP parameters in paths.py; both
are re-exported here, so the session imports one module.

RFCs: RFC 5321 §4.1.1 (the commands), §4.1.2 (their syntax), §2.4 (verbs are case-insensitive),
§4.5.3.1.4 (command line length); RFC 3207 §4 (STARTTLS), RFC 4954 §4 (AUTH, its initial
response), RFC 3030 §2 (BDAT), RFC 6531 §3.4 and §3.7.4.2 (SMTPUTF8 on MAIL, VRFY, EXPN).

Leniency, each for clients that exist: a bare LF ends a command line (never a line of message
data: see data.py); trailing white space is ignored; spaces after "MAIL FROM:" / "RCPT TO:" are
allowed (`MAIL FROM: <a@b>`); HELO/EHLO accept "_" in host names (Windows machine names) and HELO
accepts an address literal. Not lenient: an address without angle brackets (`MAIL FROM:a@b`) is
refused with 501 5.5.4, since guessing where such an address ends is how parsers disagree.

Left out: the SMTP client side (commands are only parsed here), TURN/ETRN/ATRN.
Hand-written: the standard library only has a client (smtplib), and aiosmtpd mixes parsing with I/O.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from postoffice.smtp import replies
from postoffice.smtp.data import (  # re-exported: the session imports the protocol from wire
    ChunkEnd,
    ChunkReader,
    DataEnd,
    DataError,
    DataEvent,
    DataReader,
    encode_data,
)
from postoffice.smtp.paths import (
    NULL_PATH,
    Path,
    decode_xtext,
    encode_xtext,
    is_address_literal,
    parse_params,
    parse_path,
)
from postoffice.smtp.replies import Reply

__all__ = [
    "MAX_COMMAND_LINE", "TooLong", "split_line", "skip_line", "parse_command", "Command", "BadCommand",
    "Ehlo", "Helo", "MailFrom", "RcptTo", "Data", "Bdat", "Rset", "Noop", "Quit", "Vrfy", "Expn", "Help",
    "StartTls", "Auth", "Path", "NULL_PATH", "decode_xtext", "encode_xtext", "DataReader", "ChunkReader",
    "DataEnd", "ChunkEnd", "DataError", "DataEvent", "encode_data",
]

# RFC 5321 §4.5.3.1.4 sets 512 octets with CRLF as the minimum to accept; ESMTP parameters (§4.5.3.1.4
# again: each extension may add to it) and long AUTH initial responses need more.
MAX_COMMAND_LINE = 2048

_EHLO_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_\-]*[A-Za-z0-9_])?"
_EHLO_DOMAIN = re.compile(rf"{_EHLO_LABEL}(?:\.{_EHLO_LABEL})*\.?")
_MECHANISM = re.compile(r"[A-Za-z0-9\-_]{1,20}")     # RFC 4954 §4 sasl-mech = 1*20(...)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# RFC 4648 §4 base64, padded, nothing after the padding (binascii alone accepts "YWJj=").
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_BDAT = re.compile(r"([0-9]+)(?: +(LAST))?", re.IGNORECASE)  # RFC 3030 §2 bdat-cmd


# --- Finding lines ---------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class TooLong:
    """A command line over the limit. `ended`: its end was in the buffer and is dropped with it;
    otherwise the listener drops the rest with `skip_line` before answering LINE_TOO_LONG."""

    ended: bool


def split_line(buf: bytes, limit: int = MAX_COMMAND_LINE) -> tuple[bytes | None | TooLong, int]:
    """The first line of `buf` without its line end, and how many bytes to drop from `buf`.

    A line ends with CRLF or, leniently, a bare LF; `limit` counts the line with its end. None (with
    0) when no complete line is there yet; `TooLong` when the line passes `limit`, with the bytes to
    drop now: up to its end if it is in `buf`, else all of `buf` (the listener then drains with
    `skip_line`). A CR not before the LF stays in the line, and `parse_command` refuses it."""
    end = buf.find(b"\n", 0, limit)
    if end >= 0:
        line = buf[:end]
        if line.endswith(b"\r"):
            line = line[:-1]
        return bytes(line), end + 1
    if len(buf) < limit:
        return None, 0
    end = buf.find(b"\n", limit)
    if end < 0:
        return TooLong(ended=False), len(buf)
    return TooLong(ended=True), end + 1


def skip_line(buf: bytes) -> tuple[bool, int]:
    """Draining an over-long line: (whether its end was found, how many bytes of `buf` to drop)."""
    end = buf.find(b"\n")
    return (False, len(buf)) if end < 0 else (True, end + 1)


# --- Commands (RFC 5321 §4.1.1), named as the RFC spells them ---------------------------------

@dataclass(frozen=True, slots=True)
class Ehlo:
    verb: ClassVar[str] = "EHLO"
    domain: str


@dataclass(frozen=True, slots=True)
class Helo:
    verb: ClassVar[str] = "HELO"
    domain: str


@dataclass(frozen=True, slots=True)
class MailFrom:
    """`address` is "" for the null reverse-path; `path` holds its parts (derived when built by hand)."""

    verb: ClassVar[str] = "MAIL"
    address: str
    params: dict[str, str | None] = field(default_factory=dict)
    source_route: str = ""
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.path is None:
            object.__setattr__(self, "path", Path.from_address(self.address))


@dataclass(frozen=True, slots=True)
class RcptTo:
    """`address` is "postmaster" (no domain) for `<Postmaster>`; `path` holds its parts."""

    verb: ClassVar[str] = "RCPT"
    address: str
    params: dict[str, str | None] = field(default_factory=dict)
    source_route: str = ""
    path: Path | None = None

    def __post_init__(self) -> None:
        if self.path is None:
            object.__setattr__(self, "path", Path.from_address(self.address))


@dataclass(frozen=True, slots=True)
class Data:
    verb: ClassVar[str] = "DATA"


@dataclass(frozen=True, slots=True)
class Bdat:
    verb: ClassVar[str] = "BDAT"
    size: int
    last: bool = False


@dataclass(frozen=True, slots=True)
class Rset:
    verb: ClassVar[str] = "RSET"


@dataclass(frozen=True, slots=True)
class Noop:
    verb: ClassVar[str] = "NOOP"


@dataclass(frozen=True, slots=True)
class Quit:
    verb: ClassVar[str] = "QUIT"


@dataclass(frozen=True, slots=True)
class Vrfy:
    """`smtputf8`: the client sent the SMTPUTF8 parameter, so the answer may be UTF-8 (RFC 6531 §3.7.4.2)."""

    verb: ClassVar[str] = "VRFY"
    argument: str
    smtputf8: bool = False


@dataclass(frozen=True, slots=True)
class Expn:
    verb: ClassVar[str] = "EXPN"
    argument: str
    smtputf8: bool = False


@dataclass(frozen=True, slots=True)
class Help:
    verb: ClassVar[str] = "HELP"
    argument: str = ""


@dataclass(frozen=True, slots=True)
class StartTls:
    verb: ClassVar[str] = "STARTTLS"


@dataclass(frozen=True, slots=True)
class Auth:
    """`mechanism` upper-cased; `initial_response` base64-decoded, b"" for "=", None when absent."""

    verb: ClassVar[str] = "AUTH"
    mechanism: str
    initial_response: bytes | None = None


Command = (Ehlo | Helo | MailFrom | RcptTo | Data | Bdat | Rset | Noop | Quit | Vrfy | Expn | Help | StartTls
           | Auth)


@dataclass(frozen=True, slots=True)
class BadCommand:
    """A line that is not a valid command: the reply to send. `verb` is the known verb it used, or ""."""

    reply: Reply
    verb: str = ""


# --- Parsing ---------------------------------------------------------------------------------

_Parser = Callable[[str, bool], "Command | BadCommand"]


def _no_argument(cls: type[Data] | type[Rset] | type[Quit] | type[StartTls]) -> _Parser:
    def parse(arg: str, smtputf8: bool) -> Command | BadCommand:
        # RFC 5321 §4.1.1.4-10, RFC 3207 §4: DATA, RSET, QUIT, STARTTLS take no argument.
        return cls() if not arg else BadCommand(replies.BAD_ARGUMENTS, cls.verb)
    return parse


def _parse_hello(cls: type[Ehlo] | type[Helo]) -> _Parser:
    def parse(arg: str, smtputf8: bool) -> Command | BadCommand:
        # RFC 5321 §4.1.1.1: EHLO SP ( Domain / address-literal ); HELO SP Domain (literal allowed too).
        if arg and arg.isascii() and (_EHLO_DOMAIN.fullmatch(arg) or is_address_literal(arg)):
            return cls(arg)
        return BadCommand(replies.BAD_ARGUMENTS, cls.verb)
    return parse


def _parse_transaction(arg: str, smtputf8: bool, *, recipient: bool) -> MailFrom | RcptTo | BadCommand:
    verb, prefix = ("RCPT", "TO:") if recipient else ("MAIL", "FROM:")
    if arg[:len(prefix)].upper() != prefix:
        return BadCommand(replies.BAD_ARGUMENTS, verb)
    rest = arg[len(prefix):].lstrip(" ")   # lenient: "MAIL FROM: <a@b>"
    if not rest.startswith("<"):
        # RFC 5321 §4.1.2: a path is in angle brackets. A bare address is refused, not guessed at.
        return BadCommand(replies.BAD_ARGUMENTS, verb)
    parsed = parse_path(rest, recipient=recipient)
    if isinstance(parsed, Reply):
        return BadCommand(parsed, verb)
    path, route, end = parsed
    if rest[end:] and not rest[end:].startswith(" "):
        return BadCommand(replies.BAD_ARGUMENTS, verb)   # RFC 5321 §4.1.2: SP before parameters
    params = parse_params(rest[end:])
    if isinstance(params, Reply):
        return BadCommand(params, verb)
    # RFC 6531 §3.4: UTF-8 only in a transaction the client opened with MAIL ... SMTPUTF8 (and the
    # session offered it: `smtputf8`); RFC 6531 §3.5 gives the replies for a non-ASCII address.
    utf8_allowed = smtputf8 and (recipient or "SMTPUTF8" in params)
    if not utf8_allowed and not rest.isascii():
        if not rest[:end].isascii():
            reply = replies.SMTPUTF8_REQUIRED if recipient else replies.SMTPUTF8_REQUIRED_SENDER
            return BadCommand(reply, verb)
        return BadCommand(replies.BAD_ARGUMENTS, verb)
    cls = RcptTo if recipient else MailFrom
    return cls(path.address, params, route, path)


def _parse_lookup(cls: type[Vrfy] | type[Expn]) -> _Parser:
    def parse(arg: str, smtputf8: bool) -> Command | BadCommand:
        # RFC 5321 §4.1.1.6-7: VRFY / EXPN SP String; RFC 6531 §3.7.4.2 adds [SP "SMTPUTF8"].
        head, sp, tail = arg.rpartition(" ")
        has_param = bool(sp) and tail.upper() == "SMTPUTF8"
        argument = head.rstrip(" ") if has_param else arg
        if not argument or (not argument.isascii() and not (smtputf8 or has_param)):
            return BadCommand(replies.BAD_ARGUMENTS, cls.verb)
        return cls(argument, has_param)
    return parse


def _parse_bdat(arg: str, smtputf8: bool) -> Command | BadCommand:
    m = _BDAT.fullmatch(arg)
    if not m:
        return BadCommand(replies.BAD_ARGUMENTS, "BDAT")
    return Bdat(int(m[1]), m[2] is not None)


def _parse_auth(arg: str, smtputf8: bool) -> Command | BadCommand:
    # RFC 4954 §4: "AUTH" SP sasl-mech [SP initial-response]; initial-response = base64 / "=".
    parts = [p for p in arg.split(" ") if p]
    if not 1 <= len(parts) <= 2 or not _MECHANISM.fullmatch(parts[0]):
        return BadCommand(replies.BAD_ARGUMENTS, "AUTH")
    if len(parts) == 1:
        return Auth(parts[0].upper(), None)
    if parts[1] == "=":
        return Auth(parts[0].upper(), b"")
    if not _BASE64.fullmatch(parts[1]):
        return BadCommand(replies.BAD_BASE64, "AUTH")   # RFC 4954 §4: invalid base64 gives 501
    return Auth(parts[0].upper(), binascii.a2b_base64(parts[1]))


_PARSERS: dict[bytes, _Parser] = {
    b"EHLO": _parse_hello(Ehlo),
    b"HELO": _parse_hello(Helo),
    b"MAIL": lambda arg, utf8: _parse_transaction(arg, utf8, recipient=False),
    b"RCPT": lambda arg, utf8: _parse_transaction(arg, utf8, recipient=True),
    b"DATA": _no_argument(Data),
    b"BDAT": _parse_bdat,
    b"RSET": _no_argument(Rset),
    b"NOOP": lambda arg, utf8: Noop(),               # RFC 5321 §4.1.1.9: the argument is ignored
    b"QUIT": _no_argument(Quit),
    b"VRFY": _parse_lookup(Vrfy),
    b"EXPN": _parse_lookup(Expn),
    b"HELP": lambda arg, utf8: Help(arg),
    b"STARTTLS": _no_argument(StartTls),
    b"AUTH": _parse_auth,
}


def parse_command(line: bytes, *, smtputf8: bool = False) -> Command | BadCommand:
    """The command on one line, given without its line end (see `split_line`).

    `smtputf8`: whether UTF-8 may appear in this command's addresses. For MAIL, pass whether the
    session offers SMTPUTF8 (the line must also carry the SMTPUTF8 parameter); for RCPT, whether the
    transaction's MAIL carried it. Never raises: a bad line gives `BadCommand` with 500 5.5.2 for an
    unknown verb, 501 for bad arguments, 555 for a malformed parameter."""
    line = bytes(line).rstrip(b" \t")     # lenient: trailing white space
    verb, _, rest = line.partition(b" ")
    parse = _PARSERS.get(verb.upper())    # RFC 5321 §2.4: verbs are case-insensitive
    if parse is None:
        return BadCommand(replies.SYNTAX_ERROR)
    name = verb.upper().decode("ascii")
    try:
        arg = rest.decode("utf-8").lstrip(" ")   # lenient: more than one space after the verb
    except UnicodeDecodeError:
        return BadCommand(replies.BAD_ARGUMENTS, name)
    if _CONTROL.search(arg):             # CR, NUL, HTAB, ...: no argument syntax allows them
        return BadCommand(replies.BAD_ARGUMENTS, name)
    return parse(arg, smtputf8)
