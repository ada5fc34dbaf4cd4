"""The IMAP lexer: lines, literals, atoms, strings, lists, flags and dates, read in place.

Role: a `Reader` walks one command in the client's buffer, token by token, across the literals
that split it into several lines. It never reads from a socket: when the bytes it needs are not in
the buffer it stops with `Incomplete(NeedMore(...))`; a syntax error stops it with `Syntax`; a
literal over the limits with `TooBig`; a line over the limit with `LineTooLong`. These exceptions
stay inside the package: `parser.parse_command` turns each into the value it returns (`NeedMore`
or `BadCommand`), with the `used` count and drain instruction the listener needs.

RFCs: RFC 9051 §4 (data formats), §4.3 (literals, "{n}" CRLF), §9 (atom, ATOM-CHAR,
atom-specials, astring, quoted, QUOTED-CHAR, literal, literal8, nstring, number, number64,
nz-number, flag, flag-list, date, date-time, list-mailbox, mailbox); RFC 7888 §3 (non-synchronizing
"{n+}"); RFC 3516 / RFC 4466 (literal8 "~{n}", and "~{n+}" with LITERAL+); RFC 3501 §5.1.3
(modified UTF-7 mailbox names for rev1 clients, see mutf7.py); RFC 6855 §3 (UTF-8 in quoted).

Leniency, each for clients that exist: a bare LF ends a line (telnet users, some scripts; the
literal still starts right after it); UTF-8 in quoted strings is accepted in rev1 mode too (clients
send it after "SEARCH CHARSET UTF-8"). Not lenient: runs of spaces (RFC 9051 §9 note 2: SP is
exactly one space), NUL anywhere but an APPEND message, non-UTF-8 in a string, "\\" before
anything but '"' or "\\" in a quoted string.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import TypeVar

from postoffice.imap.wire.mutf7 import decode_mutf7

__all__ = [
    "Limits", "NeedMore", "BadCommand", "Reader", "Stop", "Incomplete", "Syntax", "TooBig", "LineTooLong",
    "MAX_NUMBER64", "TAG", "NONSYNC_TAIL",
]

T = TypeVar("T")

MAX_NUMBER = 2**32 - 1          # RFC 9051 §9 number / nz-number: unsigned 32-bit
MAX_NUMBER64 = 2**63 - 1        # RFC 9051 §9 number64

# RFC 9051 §9: atom-specials = "(" / ")" / "{" / SP / CTL / list-wildcards / quoted-specials /
# resp-specials; CHAR is 7-bit, so octets 0x80-0xff are no ATOM-CHAR either.
_ATOM = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\\]]+')
_ASTRING_CHARS = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\]+')       # ATOM-CHAR / "]"
_LIST_CHARS = re.compile(rb'[^\x00-\x20\x7f-\xff(){"\\]+')            # ... / "%" / "*"
TAG = re.compile(rb'[^\x00-\x20\x7f-\xff(){%*"\\+]+')                 # ASTRING-CHAR except "+"
# Unrolled, so a quote that never closes costs linear time, not exponential backtracking.
_QUOTED = re.compile(rb'"[^"\\\r\n\x00]*(?:\\["\\][^"\\\r\n\x00]*)*"')
_UNESCAPE = re.compile(rb'\\(["\\])')
_LITERAL = re.compile(rb'(~?)\{([0-9]{1,20})(\+?)\}')
NONSYNC_TAIL = re.compile(rb'\{([0-9]{1,20})\+\}')                      # RFC 7888 §3, fullmatch at line end
_NUMBER = re.compile(rb'[0-9]{1,20}')
_DATE = re.compile(rb'([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})')
_DATE_TIME = re.compile(
    rb'"( ?[0-9]|[0-9]{2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"')
_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1)}
SYSTEM_FLAGS = {f.upper(): f for f in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\Recent")}


# --- What the parser hands back ---------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Limits:
    max_line: int = 65536                  # one line of a command with its CRLF (literals split lines)
    max_literal: int = 64 * 1024 * 1024    # the octets of one literal
    max_command: int = 256 * 1024 * 1024   # one command: all its lines and literals (MULTIAPPEND)
    max_depth: int = 64                    # nesting of parentheses, NOT and OR


@dataclass(frozen=True, slots=True)
class NeedMore:
    """The command is not all in the buffer yet (`used` is 0). `literal`: the size of the literal
    whose octets are awaited (0: the rest of a line); `missing`: how many of them are still to come;
    `synchronizing`: the client announced "{n}" and waits for a continuation before sending them."""

    literal: int = 0
    synchronizing: bool = False
    missing: int = 0

    @property
    def wants_continuation(self) -> bool:
        """Send "+ Ready" now: a synchronizing literal none of whose octets has arrived. True once
        per literal, since any octet of it, or of what follows, makes it False."""
        return self.synchronizing and self.missing == self.literal


@dataclass(frozen=True, slots=True)
class BadCommand:
    """Answer `tag BAD [code] text` (`* BAD ...` when `tag` is None), after dropping `used` bytes.

    Then, before parsing again, the listener discards `drain` more octets (a non-synchronizing
    literal the client sends anyway, RFC 7888 §4 choice 1; the octets already buffered count), and
    if `skip_line`, everything up to and including the next LF (the rest of the refused command's
    line). A listener may instead answer `* BYE` and close (RFC 7888 §4 choice 2)."""

    tag: str | None
    text: str
    code: str | None = None
    drain: int = 0
    skip_line: bool = False


# --- How the reader stops ---------------------------------------------------------------------

class Stop(Exception):
    """Why the reader stopped; never leaves the package."""


class Incomplete(Stop):
    def __init__(self, need: NeedMore) -> None:
        self.need = need


class Syntax(Stop):
    def __init__(self, text: str, code: str | None = None) -> None:
        self.text, self.code = text, code


class TooBig(Stop):
    def __init__(self, size: int, synchronizing: bool) -> None:
        self.size, self.synchronizing = size, synchronizing


class LineTooLong(Stop):
    def __init__(self, line_start: int) -> None:
        self.line_start = line_start


# --- The reader -------------------------------------------------------------------------------

class Reader:
    """A cursor over one command in `buf`. `pos` moves through the current line, which spans
    `line_start` to `end` (its CRLF excluded); the next line or literal starts at `next`."""

    __slots__ = ("buf", "limits", "utf8", "pos", "end", "next", "line_start", "depth")

    def __init__(self, buf: bytes, limits: Limits, *, utf8: bool = False) -> None:
        self.buf, self.limits, self.utf8 = buf, limits, utf8
        self.depth = 0
        self.pos = self.end = self.next = self.line_start = 0
        self.begin_line(0)

    def begin_line(self, start: int) -> None:
        # The limit is counted where the bytes are: a line may not pass max_line, nor the command
        # max_command, whether or not its end has arrived.
        room = max(0, min(self.limits.max_line, self.limits.max_command - start))
        lf = self.buf.find(b"\n", start, start + room)
        if lf < 0:
            if len(self.buf) - start >= room:
                raise LineTooLong(start)
            raise Incomplete(NeedMore())
        self.line_start = self.pos = start
        self.end = lf - 1 if lf > start and self.buf[lf - 1] == 0x0D else lf
        self.next = lf + 1

    # -- characters

    def peek(self) -> int | None:
        return self.buf[self.pos] if self.pos < self.end else None

    def at(self, text: bytes) -> bool:
        """Whether the line continues with `text` (ASCII letters compared case-insensitively)."""
        stop = self.pos + len(text)
        return stop <= self.end and self.buf[self.pos:stop].upper() == text.upper()

    def accept(self, text: bytes) -> bool:
        if self.at(text):
            self.pos += len(text)
            return True
        return False

    def expect(self, text: bytes, what: str | None = None) -> None:
        if not self.accept(text):
            raise Syntax(f"Expected {what or text.decode('ascii')!s}")

    def sp(self) -> None:
        self.expect(b" ", "a space")

    def at_end(self) -> bool:
        return self.pos >= self.end

    def finish(self) -> int:
        """The command ends here: how many bytes of `buf` it used."""
        if self.pos != self.end:
            raise Syntax("Unexpected characters at the end of the command")
        return self.next

    def match(self, pattern: re.Pattern[bytes], what: str) -> bytes:
        m = pattern.match(self.buf, self.pos, self.end)
        if not m:
            raise Syntax(f"Expected {what}")
        self.pos = m.end()
        return m[0]

    @contextmanager
    def nested(self) -> Iterator[None]:
        self.depth += 1
        if self.depth > self.limits.max_depth:
            raise Syntax("Too deeply nested")
        try:
            yield
        finally:
            self.depth -= 1

    # -- tokens

    def atom(self, what: str = "an atom") -> str:
        return self.match(_ATOM, what).decode("ascii")

    def keyword(self, what: str = "a keyword") -> str:
        return self.atom(what).upper()

    def number(self, limit: int = MAX_NUMBER, *, nonzero: bool = False, what: str = "a number") -> int:
        digits = self.match(_NUMBER, what)
        n = int(digits)
        if n > limit or (nonzero and n == 0) or (nonzero and digits[:1] == b"0"):
            raise Syntax(f"Expected {what}")
        return n

    def text(self, raw: bytes) -> str:
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Syntax("Invalid UTF-8 in a string") from None

    def quoted(self) -> bytes:
        raw = self.match(_QUOTED, "a quoted string")
        return _UNESCAPE.sub(rb"\1", raw[1:-1])

    def literal(self, *, binary: bool = False, nul: bool = False) -> bytes:
        """A literal ("{n}" or "{n+}" ending the line, then n octets), or with `binary` also a
        literal8 ("~{n}"); the reader moves on to the line after the octets. `nul`: NUL allowed."""
        m = _LITERAL.match(self.buf, self.pos, self.end)
        if not m or (m[1] and not binary):
            raise Syntax("Expected a literal")
        if m.end() != self.end:
            raise Syntax("A literal's announcement must end the line")   # RFC 9051 §4.3
        size, synchronizing = int(m[2]), not m[3]
        start = self.next
        if size > min(self.limits.max_literal, MAX_NUMBER64) or start + size > self.limits.max_command:
            raise TooBig(size, synchronizing)
        stop = start + size
        have = len(self.buf)
        if have < stop or (synchronizing and size == 0 and have == start):
            raise Incomplete(NeedMore(size, synchronizing, max(0, stop - have)))
        data = self.buf[start:stop]
        # Any error from here on is reported at the end of the line after the octets, so the
        # listener drops them with the command instead of reading them as commands.
        self.begin_line(stop)
        if not nul and not m[1] and b"\x00" in data:
            raise Syntax("NUL in a literal")     # RFC 9051 §9: literal = ... *CHAR8 (no NUL)
        return data

    def string_bytes(self) -> bytes:
        return self.quoted() if self.peek() == 0x22 else self.literal()

    def string(self) -> str:
        return self.text(self.string_bytes())

    def astring_bytes(self) -> bytes:
        c = self.peek()
        if c == 0x22 or c == 0x7B:
            return self.string_bytes()
        return self.match(_ASTRING_CHARS, "an atom or a string")

    def astring(self) -> str:
        return self.text(self.astring_bytes())

    def nstring(self) -> str | None:
        c = self.peek()
        if c == 0x22 or c == 0x7B:
            return self.string()
        if self.atom("a string or NIL").upper() != "NIL":
            raise Syntax("Expected a string or NIL")
        return None

    # -- mailboxes

    def mailbox_name(self, raw: bytes, *, pattern: bool = False) -> str:
        name = self.text(raw)
        if not self.utf8:
            try:
                name = decode_mutf7(name)
            except ValueError:
                raise Syntax("Mailbox name is not valid modified UTF-7") from None
        # RFC 9051 §9 mailbox: every case variant of INBOX is INBOX, also as the first level of
        # an inferior's name ("inbox/Lists" is "INBOX/Lists", RFC 9051 §5.1).
        # ASCII only: "ınbox" (dotless i) upper-cases to "INBOX" but is another name (RFC 9051 §9 ABNF).
        if not pattern and name[:5].isascii() and name[:5].upper() == "INBOX" and (len(name) == 5 or name[5] == "/"):
            return "INBOX" + name[5:]
        return name

    def mailbox(self) -> str:
        return self.mailbox_name(self.astring_bytes())

    def list_mailbox(self) -> str:
        c = self.peek()
        raw = self.string_bytes() if c == 0x22 or c == 0x7B else self.match(_LIST_CHARS, "a mailbox pattern")
        return self.mailbox_name(raw, pattern=True)

    # -- lists, flags, dates

    def paren_list(self, item: Callable[[], T], *, empty: bool = True) -> list[T]:
        """ "(" [item *(SP item)] ")" """
        self.expect(b"(")
        items: list[T] = []
        with self.nested():
            if self.accept(b")"):
                if not empty:
                    raise Syntax("Expected a non-empty list")
                return items
            items.append(item())
            while self.accept(b" "):
                items.append(item())
            self.expect(b")")
        return items

    def flag(self) -> str:
        """A flag: a system flag (canonical case), "\\" atom, or a keyword (as sent)."""
        if self.accept(b"\\"):
            name = "\\" + self.atom("a flag")
            return SYSTEM_FLAGS.get(name.upper(), name)
        return self.atom("a flag")

    def flag_list(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.paren_list(self.flag)))

    def date(self) -> date:
        """RFC 9051 §9 date: date-text, or date-text in double quotes ("1-Feb-1994")."""
        quoted = self.accept(b'"')
        m = _DATE.match(self.buf, self.pos, self.end)
        if not m:
            raise Syntax("Expected a date like 1-Feb-1994")
        self.pos = m.end()
        if quoted:
            self.expect(b'"', "a closing quote")
        month = _MONTHS.get(m[2].upper().decode("ascii"))
        try:
            return date(int(m[3]), month or 0, int(m[1]))
        except ValueError:
            raise Syntax("Invalid date") from None

    def date_time(self) -> datetime:
        """RFC 9051 §9 date-time: "17-Jul-1996 02:44:25 -0700" (quoted), as an aware datetime."""
        m = _DATE_TIME.match(self.buf, self.pos, self.end)
        if not m:
            raise Syntax("Expected a date-time like \"17-Jul-1996 02:44:25 -0700\"")
        self.pos = m.end()
        month = _MONTHS.get(m[2].upper().decode("ascii"))
        hours, minutes = int(m[8]), int(m[9])
        if minutes >= 60:
            raise Syntax("Invalid time zone")
        offset = timedelta(hours=hours, minutes=minutes) * (-1 if m[7] == b"-" else 1)
        try:
            return datetime(int(m[3]), month or 0, int(m[1]), int(m[4]), int(m[5]), int(m[6]),
                            tzinfo=timezone(offset))     # ValueError for a zone of 24 hours or more
        except ValueError:
            raise Syntax("Invalid date-time") from None
