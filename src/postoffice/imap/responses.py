"""IMAP responses: the values (strings, lists, flags, names) and lines the server writes, as bytes.

Role: every byte the IMAP server sends is built here or in `fetch_data.py`, so quoting, literals
and response codes are decided once. Pure: no I/O, no store, no session state; what differs
between an IMAP4rev1 and an IMAP4rev2 (or UTF8=ACCEPT) session is the `utf8` argument.

RFCs: 9051 §4.3 (string: quoted or literal), §4.5 (NIL), §7.1 (status responses and codes), §7.3.4
(ESEARCH, also RFC 4731 §4), §7.6 (continuation request), §9 (formal syntax: quoted, literal,
literal8, astring, nstring, flag-list, resp-text-code, date-time); 3501 §9 (rev1: QUOTED-CHAR
and text are 7-bit); 3516 §4.3 (literal8); 5530 §3 ([SERVERBUG], [OVERQUOTA], ...); 7889 §4
([TOOBIG]); 4315 §3 (APPENDUID, COPYUID); 7162 §3.1.2 (HIGHESTMODSEQ, NOMODSEQ); 3501 §5.1.3
(modified UTF-7 mailbox names, for rev1 sessions).
Any other code is `code(name, *args)`, checked against resp-text-code.

Choices: a value goes as a quoted string when it can (short, no CR/LF/NUL, 7-bit or, in a UTF-8
session, valid UTF-8), otherwise as a literal. Strings given as `str` are encoded with
`surrogateescape`, so header text the parser kept as lone surrogates goes out as its original
octets (in a literal). Status texts are ours and generic: CR, LF and other controls become spaces
and non-ASCII characters "?", so no text can end a line early or forge a response.

Left out: non-synchronizing literals (RFC 9051 §9: never sent by a server), and NUL inside a
literal: CHAR8 excludes it, but a stored message holding NUL is still sent as it is (BINARY
callers choose `binary_value`, a literal8, instead). Modified UTF-7 is `wire.mutf7`'s, shared with
the command parser, so that a name the server writes reads back as the same name.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from postoffice.imap.wire.mutf7 import encode_mutf7

CRLF = b"\r\n"
NIL = b"NIL"
MAX_QUOTED_OCTETS = 1024  # longer strings go as literals: easier for clients to buffer

STATUSES = frozenset({"OK", "NO", "BAD", "PREAUTH", "BYE"})
TAGGED_STATUSES = frozenset({"OK", "NO", "BAD"})  # RFC 9051 §9 resp-cond-state

# RFC 9051 §9: ASTRING-CHAR = ATOM-CHAR / "]", ATOM-CHAR = CHAR except atom-specials
# ("(" ")" "{" SP CTL "%" "*" DQUOTE "\" "]").
_ASTRING_ATOM = re.compile(rb"[\x21\x23\x24\x26\x27\x2b-\x5b\x5d-\x7a\x7c-\x7e]+")
_ATOM = re.compile(r"[\x21\x23\x24\x26\x27\x2b-\x5b\x5e-\x7a\x7c-\x7e]+")
# RFC 9051 §9 tag = 1*<any ASTRING-CHAR except "+">
_TAG = re.compile(r"[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c-\x7e]+")
# Bytes no quoted string may hold in any session: NUL, CR, LF (RFC 9051 §9 QUOTED-CHAR).
_NOT_QUOTABLE = re.compile(rb"[\x00\r\n]")
_HIGH = re.compile(rb"[\x80-\xff]")
_QUOTED_SPECIALS = re.compile(rb'(["\\])')
# Status text: TEXT-CHAR is CHAR except CR and LF; we keep printable ASCII only.
_TEXT_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_TEXT_NON_ASCII = re.compile(r"[^\x00-\x7f]")
# RFC 9051 §9 resp-text-code: atom [SP 1*<any TEXT-CHAR except "]">]
_CODE_ARGS = re.compile(r"[^\x00\r\n\]]+")


def to_bytes(value: str | bytes) -> bytes:
    """`value` as octets; text is UTF-8, with lone surrogates back to the bytes they stood for."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return bytes(value)


def can_quote(value: str | bytes, *, utf8: bool = False) -> bool:
    """Whether `value` fits in an RFC 9051 §9 quoted string in this session."""
    data = to_bytes(value)
    if len(data) > MAX_QUOTED_OCTETS or _NOT_QUOTABLE.search(data):
        return False
    if _HIGH.search(data) is None:
        return True
    if not utf8:
        return False  # RFC 3501 §9: QUOTED-CHAR is 7-bit
    try:
        data.decode("utf-8")  # RFC 9051 §9: UTF8-2 / UTF8-3 / UTF8-4, valid sequences only
    except UnicodeDecodeError:
        return False
    return True


def quoted(value: str | bytes, *, utf8: bool = False) -> bytes:
    """`value` as a quoted string. Raises ValueError if it cannot be one (see `can_quote`)."""
    if not can_quote(value, utf8=utf8):
        raise ValueError("value cannot be sent as a quoted string")
    return b'"' + _QUOTED_SPECIALS.sub(rb"\\\1", to_bytes(value)) + b'"'


def literal(data: str | bytes) -> bytes:
    """RFC 9051 §9 literal: "{n}" CRLF and the n octets."""
    octets = to_bytes(data)
    return b"{%d}\r\n" % len(octets) + octets


def literal8(data: bytes) -> bytes:
    """RFC 3516 §4.3 / RFC 9051 §9 literal8: "~{n}" CRLF and n octets, NUL allowed (BINARY)."""
    return b"~{%d}\r\n" % len(data) + bytes(data)


def binary_value(data: bytes) -> bytes:
    """A BINARY[...] value: RFC 9051 §7.5.2 asks for a string unless the data holds NUL."""
    return literal8(data) if b"\x00" in data else literal(data)


def string(value: str | bytes, *, utf8: bool = False) -> bytes:
    """RFC 9051 §4.3 string: quoted when it can be, else a literal."""
    data = to_bytes(value)
    # The common case first, in C: short 7-bit text without CR, LF or NUL (ENVELOPE writes ~20 a message).
    if len(data) <= MAX_QUOTED_OCTETS and data.isascii() and b"\r" not in data and b"\n" not in data \
            and b"\0" not in data:
        if b'"' in data or b"\\" in data:
            data = data.replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        return b'"' + data + b'"'
    if can_quote(data, utf8=utf8):
        return quoted(data, utf8=utf8)
    return literal(data)


def nstring(value: str | bytes | None, *, utf8: bool = False) -> bytes:
    """RFC 9051 §4.5 nstring: NIL for None, else a string."""
    return NIL if value is None else string(value, utf8=utf8)


def astring(value: str | bytes, *, utf8: bool = False) -> bytes:
    """RFC 9051 §9 astring: a bare atom (1*ASTRING-CHAR) when it is one, else a string."""
    data = to_bytes(value)
    if _ASTRING_ATOM.fullmatch(data):
        return data
    return string(data, utf8=utf8)


def number(value: int) -> bytes:
    """RFC 9051 §9 number / number64. Raises ValueError when negative."""
    if value < 0:
        raise ValueError("IMAP numbers are unsigned")
    return b"%d" % value


def plist(items: Iterable[bytes]) -> bytes:
    """A parenthesized list of already-encoded items, separated by one SP."""
    return b"(" + b" ".join(items) + b")"


def is_flag(flag: str) -> bool:
    """RFC 9051 §9 flag: an atom, a system flag "\\" atom, or "\\*" (flag-perm)."""
    if flag == "\\*":
        return True
    return bool(_ATOM.fullmatch(flag[1:] if flag.startswith("\\") else flag))


def flag_list(flags: Iterable[str]) -> bytes:
    """RFC 9051 §9 flag-list: "(\\Seen \\Answered $Label)", system flags first, then keywords.

    Sorted so that the same set is always written the same way. Raises ValueError for a value
    that is not a flag: the store holds only flags the parser accepted, so this is our failure.
    A frozenset's list is remembered: a mailbox has few distinct flag sets and FETCH 1:* (FLAGS)
    writes one per message.
    """
    if isinstance(flags, frozenset):
        return _flag_list_of(flags)
    return _flag_list(flags)


@functools.lru_cache(maxsize=4096)
def _flag_list_of(flags: frozenset[str]) -> bytes:
    return _flag_list(flags)


def _flag_list(flags: Iterable[str]) -> bytes:
    flags = list(flags)
    for flag in flags:
        if not is_flag(flag):
            raise ValueError(f"not an IMAP flag: {flag!r}")
    ordered = sorted(set(flags), key=lambda f: (not f.startswith("\\"), f.lower(), f))
    return plist(f.encode("ascii") for f in ordered)


def mailbox_name(name: str, *, utf8: bool) -> bytes:
    """A mailbox name as RFC 9051 §9 mailbox: UTF-8 in a UTF-8 session (RFC 9051 §5.1), modified
    UTF-7 (RFC 3501 §5.1.3) in a rev1 session; an astring either way. Raises ValueError for a
    name holding a lone surrogate (not a character; the store keeps none)."""
    if name.isascii() and name.upper() == "INBOX":
        return b"INBOX"  # RFC 9051 §5.1: INBOX in any (ASCII) case is INBOX
    if utf8:
        return astring(name, utf8=True)
    return astring(encode_mutf7(name))


def sequence_set(numbers: Iterable[int]) -> str:
    """RFC 9051 §9 sequence-set of `numbers` in the order given: runs of consecutive ascending
    numbers become "a:b" (COPYUID pairs its two sets by position, RFC 4315 §3, so no sorting)."""
    pieces: list[str] = []
    start = previous = None
    for n in numbers:
        if n <= 0:
            raise ValueError("sequence numbers and UIDs are non-zero")
        if previous is not None and n == previous + 1:
            previous = n
            continue
        if start is not None:
            pieces.append(str(start) if start == previous else f"{start}:{previous}")
        start = previous = n
    if start is not None:
        pieces.append(str(start) if start == previous else f"{start}:{previous}")
    if not pieces:
        raise ValueError("a sequence set holds at least one number")
    return ",".join(pieces)


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def date_time(when: datetime) -> bytes:
    """RFC 9051 §9 date-time, e.g. "17-Jul-1996 02:44:25 -0700" quoted; naive means UTC."""
    offset = when.utcoffset()
    minutes = 0 if offset is None else int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    hours, mins = divmod(abs(minutes), 60)
    return (f'"{when.day:2d}-{_MONTHS[when.month - 1]}-{when.year:04d} '
            f'{when.hour:02d}:{when.minute:02d}:{when.second:02d} {sign}{hours:02d}{mins:02d}"'
            ).encode("ascii")


@dataclass(frozen=True, slots=True)
class Code:
    """A response code (RFC 9051 §7.1): its atom and the text of its arguments, e.g.
    Code("APPENDUID", "38505 3955"). Written as "[NAME]" or "[NAME args]"."""

    name: str
    args: str = ""

    def __post_init__(self) -> None:
        if not _ATOM.fullmatch(self.name):
            raise ValueError(f"malformed response code {self.name!r}")
        if self.args and not _CODE_ARGS.fullmatch(self.args):
            raise ValueError(f"malformed arguments for response code {self.name}")

    def encode(self) -> bytes:
        inner = f"{self.name} {self.args}" if self.args else self.name
        return b"[" + inner.encode("utf-8") + b"]"


def code(name: str, *args: int | str | bytes) -> Code:
    """A response code with its arguments joined by SP; bytes are taken as already encoded."""
    parts = [a.decode("utf-8") if isinstance(a, bytes) else str(a) for a in args]
    return Code(name, " ".join(parts))


# Codes without arguments (RFC 9051 §7.1, RFC 5530 §3, RFC 7162 §3.1.2.2, RFC 4315 §3).
ALERT = Code("ALERT")
PARSE = Code("PARSE")
READ_ONLY = Code("READ-ONLY")
READ_WRITE = Code("READ-WRITE")
TRYCREATE = Code("TRYCREATE")
UIDNOTSTICKY = Code("UIDNOTSTICKY")
UNAVAILABLE = Code("UNAVAILABLE")
AUTHENTICATIONFAILED = Code("AUTHENTICATIONFAILED")
AUTHORIZATIONFAILED = Code("AUTHORIZATIONFAILED")
EXPIRED = Code("EXPIRED")
PRIVACYREQUIRED = Code("PRIVACYREQUIRED")
CONTACTADMIN = Code("CONTACTADMIN")
NOPERM = Code("NOPERM")
INUSE = Code("INUSE")
EXPUNGEISSUED = Code("EXPUNGEISSUED")
CORRUPTION = Code("CORRUPTION")
SERVERBUG = Code("SERVERBUG")
CLIENTBUG = Code("CLIENTBUG")
CANNOT = Code("CANNOT")
LIMIT = Code("LIMIT")
OVERQUOTA = Code("OVERQUOTA")
ALREADYEXISTS = Code("ALREADYEXISTS")
NONEXISTENT = Code("NONEXISTENT")
NOTSAVED = Code("NOTSAVED")
HASCHILDREN = Code("HASCHILDREN")
CLOSED = Code("CLOSED")
UNKNOWN_CTE = Code("UNKNOWN-CTE")
TOOBIG = Code("TOOBIG")  # RFC 7889 §4 (APPENDLIMIT)
NOMODSEQ = Code("NOMODSEQ")


def appenduid(uidvalidity: int, uids: int | Iterable[int]) -> Code:
    """RFC 4315 §3 [APPENDUID uidvalidity uid-set] (one UID unless MULTIAPPEND)."""
    return code("APPENDUID", uidvalidity, sequence_set([uids] if isinstance(uids, int) else uids))


def copyuid(uidvalidity: int, source: Iterable[int], destination: Iterable[int]) -> Code:
    """RFC 4315 §3 [COPYUID uidvalidity source-uids destination-uids], paired by position."""
    return code("COPYUID", uidvalidity, sequence_set(source), sequence_set(destination))


def uidvalidity(value: int) -> Code:
    return code("UIDVALIDITY", value)


def uidnext(value: int) -> Code:
    return code("UIDNEXT", value)


def highestmodseq(value: int) -> Code:
    """RFC 7162 §3.1.2.1 [HIGHESTMODSEQ n]."""
    return code("HIGHESTMODSEQ", value)


def permanentflags(flags: Iterable[str]) -> Code:
    """RFC 9051 §7.1 [PERMANENTFLAGS (...)]; include "\\*" when new keywords may be created."""
    return code("PERMANENTFLAGS", flag_list(flags))


def capability_code(capabilities: Iterable[str]) -> Code:
    """RFC 9051 §7.1 [CAPABILITY IMAP4rev2 ...]."""
    return code("CAPABILITY", *capabilities)


def badcharset(charsets: Iterable[str] = ()) -> Code:
    """RFC 9051 §7.1 [BADCHARSET] or [BADCHARSET (UTF-8 ...)]."""
    names = [astring(c) for c in charsets]
    return code("BADCHARSET", plist(names)) if names else Code("BADCHARSET")


def text(value: str) -> bytes:
    """A status text made safe: printable ASCII, no CR or LF (RFC 9051 §9 text)."""
    return _TEXT_NON_ASCII.sub("?", _TEXT_UNSAFE.sub(" ", value)).encode("ascii")


def _resp_text(code_: Code | None, text_: str) -> bytes:
    """RFC 9051 §9 resp-text: ["[" resp-text-code "]" SP] text."""
    body = text(text_)
    if code_ is None and body.startswith(b"["):
        body = b"?" + body[1:]  # would read as a response code
    if not body:
        body = b"done"  # RFC 3501 §9: text is 1*TEXT-CHAR, so a rev1 client wants some
    return body if code_ is None else code_.encode() + b" " + body


def tagged(tag: str, status: str, code: Code | None, text: str) -> bytes:
    """The tagged completion line: "a1 OK [READ-WRITE] SELECT completed" CRLF."""
    if status not in TAGGED_STATUSES:
        raise ValueError(f"not a tagged status: {status!r}")
    if not _TAG.fullmatch(tag):
        raise ValueError("malformed tag")
    head = tag.encode("ascii") + b" " + status.encode("ascii")
    return head + b" " + _resp_text(code, text) + CRLF


def untagged_status(status: str, code: Code | None, text: str) -> bytes:
    """An untagged status line: "* OK [UIDNEXT 4392] Predicted next UID" CRLF, or BYE/PREAUTH."""
    if status not in STATUSES:
        raise ValueError(f"not a status: {status!r}")
    return b"* " + status.encode("ascii") + b" " + _resp_text(code, text) + CRLF


def untagged(data: bytes | str) -> bytes:
    """An untagged data response: "* " data CRLF ("* 3 EXISTS", "* CAPABILITY ...").

    `data` is already encoded, literals included; only its last line gets the CRLF.
    """
    return b"* " + to_bytes(data) + CRLF


def continuation(text_: str = "") -> bytes:
    """RFC 9051 §7.6 command continuation request: "+ text" CRLF ("+ " CRLF when empty, as an
    empty AUTHENTICATE challenge is written)."""
    return b"+ " + text(text_) + CRLF


def continuation_base64(data: bytes) -> bytes:
    """RFC 9051 §6.2.2: an AUTHENTICATE challenge, "+ " base64 CRLF."""
    return b"+ " + base64.b64encode(data) + CRLF


def esearch(tag: str, uid: bool, data: Iterable[tuple[str, bytes]]) -> bytes:
    """RFC 9051 §7.3.4 / RFC 4731 §4 ESEARCH response for command `tag`, from (return item, value)
    pairs: '* ESEARCH (TAG "a1") UID MIN 2 COUNT 3' CRLF. The tag goes as a string (tag-string)."""
    head = b"ESEARCH (TAG " + string(tag) + b")" + (b" UID" if uid else b"")
    return untagged(head + b"".join(b" " + name.encode("ascii") + b" " + value for name, value in data))


def fetch(number_: int, items: Iterable[tuple[str, bytes]]) -> bytes:
    """RFC 9051 §7.5.2: "* 23 FETCH (FLAGS (\\Seen) UID 447)" CRLF, from (name, value) pairs."""
    pairs = [name.encode("ascii") + b" " + value for name, value in items]
    return untagged(number(number_) + b" FETCH " + plist(pairs))
