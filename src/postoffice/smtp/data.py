"""The message data of SMTP: the DATA phase (`DataReader`) and BDAT chunks (`ChunkReader`). Sans-I/O.

Role: the listener feeds what it reads; the reader writes the message content to a sink (the spool
file) as it goes, counting octets and checking line endings and lengths, and says when the data
ends and whether it was clean. Nothing is held beyond the bytes of one `feed` call (but the four
octets at most that may begin the end), and the work is linear in the input whatever the chunking,
with no Python work per line on the clean path. After an error the reader writes nothing more but
keeps reading to the real end, so the session answers once, at the end, and stays in step.

RFCs: RFC 5321 §4.1.1.4 and §4.5.2 (the data ends at CRLF "." CRLF; a leading "." of a line is
removed), §2.3.8 (lines end with CRLF only), §4.5.3.1.6 (a text line is at most 1000 octets with
its CRLF); RFC 3030 §2 (BDAT chunks: exactly the announced octets, no dot-stuffing) and §3
(BINARYMIME: no line structure at all).

Invariants, the SMTP smuggling defence: the data ends only where CRLF "." CRLF appears, the first
CRLF being the end of a line (or the DATA command itself). "\n.\n", "\r.\r", "\n.\r\n" and
"\r\n.\n" do not end it; they are bare line endings, refused (BARE_LINE_ENDING) rather than
repaired, so no server downstream can read a second message out of this one; and the bytes after
them are still message data, never commands.

Choices: the line length is counted on the unstuffed content (the message line of RFC 5322 §2.1.1,
998 octets by default), and the size on the octets written to the sink; when a limit is passed the
sink gets exactly the content up to the limit, then nothing. `feed` raises only what the sink raises.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass

from postoffice.smtp import replies
from postoffice.smtp.replies import Reply

MAX_LINE = 998  # RFC 5321 §4.5.3.1.6: 1000 octets including CRLF

_END = b"\r\n.\r\n"     # RFC 5321 §4.1.1.4, the first CRLF being the end of the last line
_EOL = re.compile(rb"[\r\n]")
_LF = 10
_BLOCK = 65536           # content is checked in blocks of this size, to bound the memory of a check


class DataError(enum.Enum):
    """Why the data was refused; the first error in the stream is the one reported."""

    BARE_LINE_ENDING = "bare CR or LF"
    LINE_TOO_LONG = "line too long"
    TOO_BIG = "message too big"

    @property
    def reply(self) -> Reply:
        return _REPLIES[self]


_REPLIES = {
    DataError.BARE_LINE_ENDING: replies.BARE_LINE_ENDING,
    DataError.LINE_TOO_LONG: replies.DATA_LINE_TOO_LONG,
    DataError.TOO_BIG: replies.MESSAGE_TOO_BIG,
}


@dataclass(frozen=True, slots=True)
class DataEnd:
    """The data ended (CRLF "." CRLF was read). `size`: octets written to the sink."""

    error: DataError | None
    size: int

    @property
    def is_clean(self) -> bool:
        return self.error is None


DataEvent = DataEnd


@dataclass(frozen=True, slots=True)
class ChunkEnd:
    """A BDAT chunk was read whole. `error` is sticky across the chunks of one message; `size` is the
    octets written to the sink so far; `discarded`: the chunk was read and dropped unchecked."""

    last: bool
    error: DataError | None
    size: int
    discarded: bool = False

    @property
    def is_clean(self) -> bool:
        return self.error is None


class _Content:
    """What both readers share: the sink, the size and line-length limits, the first error.

    Content is checked a block at a time with bytes methods (counts, split), so a message of many
    short lines costs no Python work per line; a block that fails the check is read again line by
    line, to write exactly the octets before the error and name the first error. After an error
    nothing more is checked or written."""

    def __init__(self, write: Callable[[bytes], object], max_bytes: int, max_line: int) -> None:
        self._write = write
        self.max_bytes = max_bytes
        self.max_line = max_line
        self.size = 0                    # octets given to the sink
        self.error: DataError | None = None
        self._line = 0                   # octets of the current line so far
        self._cr = False                 # the last octet was a CR, its LF not seen yet
        self._out: list[bytes] = []      # pieces of this feed, written in one call at its end

    def _fail(self, error: DataError) -> None:
        if self.error is None:
            self.error = error

    def _emit(self, piece: bytes) -> None:
        room = self.max_bytes - self.size
        if len(piece) > room:            # RFC 1870 §6.3 / RFC 5321 §4.5.3.1.7: stop storing at the limit
            piece = piece[:room]
            self._fail(DataError.TOO_BIG)
        if piece:
            self._out.append(piece)
            self.size += len(piece)

    def _flush(self) -> None:
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            self._write(data)

    def _content(self, piece: bytes) -> None:
        """Message octets (unstuffed), in any pieces: a CRLF may be split between two."""
        for start in range(0, len(piece), _BLOCK):
            if self.error is not None:
                return
            self._block(piece[start:start + _BLOCK])

    def _block(self, block: bytes) -> None:
        if self._cr:
            if block[:1] != b"\n":
                self._fail(DataError.BARE_LINE_ENDING)   # RFC 5321 §2.3.8: CR only before LF
                return
            self._cr = False
            self._line = 0
            self._emit(b"\r\n")
            block = block[1:]
        trailing_cr = block.endswith(b"\r")
        body = block[:-1] if trailing_cr else block
        crlfs = body.count(b"\r\n")
        if body.count(b"\r") == crlfs == body.count(b"\n"):     # no bare CR, no bare LF
            lines = body.split(b"\r\n") if crlfs else [body]
            longest = max(self._line + len(lines[0]), max(map(len, lines[1:]), default=0))
            if longest <= self.max_line and self.size + len(body) <= self.max_bytes:
                self._emit(body)
                self._line = len(lines[-1]) if crlfs else self._line + len(body)
                self._cr = trailing_cr
                return
        self._block_by_lines(block)

    def _block_by_lines(self, block: bytes) -> None:
        """The slow reading of a block known to hold an error: up to the first one."""
        i, n = 0, len(block)
        while self.error is None:
            m = _EOL.search(block, i)
            end = n if m is None else m.start()
            if self._line + (end - i) > self.max_line:     # RFC 5321 §4.5.3.1.6
                self._emit(block[i:i + self.max_line - self._line])   # a size error here came first
                self._fail(DataError.LINE_TOO_LONG)
                return
            self._line += end - i
            self._emit(block[i:end])
            if m is None:
                return
            if block[end] == _LF or (end + 1 < n and block[end + 1] != _LF):
                self._fail(DataError.BARE_LINE_ENDING)    # RFC 5321 §2.3.8: a bare LF or CR ends no line
                return
            if end + 1 == n:
                self._cr = True
                return
            self._line = 0
            self._emit(b"\r\n")
            i = end + 2


class DataReader(_Content):
    """The DATA phase, from the byte after the 354 reply to CRLF "." CRLF (RFC 5321 §4.1.1.4).

    `write` receives the unstuffed content, CRLFs included, in pieces; the final CRLF of the last
    line is part of the message, the terminating "." CRLF is not. Call `feed` with what was read
    until it returns a `DataEnd`; the bytes after the used ones are the next command lines.

    How: the end is the first CRLF "." CRLF of the stream preceded by the CRLF of the DATA command;
    the up to four last octets that may begin it are kept for the next feed (they count as used).
    Between ends, every "." right after a CRLF is the stuffed one (RFC 5321 §4.5.2), so unstuffing
    is one replace; what remains is checked as content."""

    def __init__(self, write: Callable[[bytes], object], *, max_bytes: int, max_line: int = MAX_LINE) -> None:
        super().__init__(write, max_bytes, max_line)
        # RFC 5321 §4.1.1.4: the CRLF of the DATA command counts, so the data starts at a line start
        # and "." CRLF right away is an empty message. It is kept here and never written.
        self._carry = b"\r\n"
        self._virtual = True
        self.done = False

    def feed(self, buf: bytes) -> tuple[int, DataEnd | None]:
        """Reads from `buf`: how many bytes were used, and the `DataEnd` when the data ended.
        All of `buf` is used unless the data ended inside it. After the end: (0, None)."""
        if self.done:
            return 0, None
        carry = self._carry
        data = carry + bytes(buf)
        end = data.find(_END)
        if end >= 0:
            self._region(data[:end + 2])
            self._flush()
            self.done = True
            return end + len(_END) - len(carry), DataEnd(self.error, self.size)
        keep = next((k for k in (4, 3, 2, 1) if data.endswith(_END[:k])), 0)
        self._carry = data[len(data) - keep:]
        self._region(data[:len(data) - keep])
        self._flush()
        return len(buf), None

    def _region(self, region: bytes) -> None:
        """Stream octets that hold no end and do not end inside a CRLF "." (the carry saw to it)."""
        if not region or self.error is not None:
            return
        content = region.replace(b"\r\n.", b"\r\n")   # RFC 5321 §4.5.2: the first "." of a line goes
        if self._virtual:
            content, self._virtual = content[2:], False  # the DATA command's CRLF
        self._content(content)


class ChunkReader(_Content):
    """The BDAT chunks of one message (RFC 3030 §2): each chunk is exactly the announced octets,
    taken as they are (no dot-stuffing, no end marker). Line endings, line length (unless `binary`,
    for BODY=BINARYMIME, RFC 3030 §3) and size are checked across chunks: a CR ending one chunk and
    the LF starting the next are one CRLF.

    Per chunk: `begin(size, last)`, then `feed` until it returns a `ChunkEnd` (for a 0-octet chunk,
    the first call, even with b""). `begin(..., discard=True)` reads and drops a chunk unchecked,
    for chunks after a refusal (RFC 3030 §2: the octets are on the wire and must be read)."""

    def __init__(self, write: Callable[[bytes], object], *, max_bytes: int, max_line: int = MAX_LINE,
                 binary: bool = False) -> None:
        super().__init__(write, max_bytes, max_line)
        self.binary = binary
        self.remaining = 0               # octets of the current chunk still to come
        self._last = False
        self._discard = False
        self._active = False
        self.done = False                # the last chunk was read

    def begin(self, size: int, last: bool, *, discard: bool = False) -> None:
        """A chunk of `size` octets was announced (`BDAT size [LAST]`)."""
        self.remaining, self._last, self._discard, self._active = size, last, discard, True

    def feed(self, buf: bytes) -> tuple[int, ChunkEnd | None]:
        """Reads up to the rest of the current chunk from `buf`: bytes used, and the `ChunkEnd`
        once the chunk is complete. Outside a chunk: (0, None)."""
        if not self._active:
            return 0, None
        n = min(len(buf), self.remaining)
        if n and not self._discard and self.error is None:
            if self.binary:
                self._emit(bytes(buf[:n]))
            else:
                self._content(bytes(buf[:n]))
            self._flush()
        self.remaining -= n
        if self.remaining:
            return n, None
        self._active = False
        if self._last:
            self.done = True
            if self._cr and not self._discard:
                self._fail(DataError.BARE_LINE_ENDING)   # the message ends with a CR not before LF
        return n, ChunkEnd(self._last, self.error, self.size, self._discard)


def encode_data(message: bytes) -> bytes:
    """`message` as sent after 354 (the client side, RFC 5321 §4.5.2): every line starting with "."
    gets another, then the terminating "." CRLF, after a CRLF if the message does not end with one."""
    stuffed = (b"." if message.startswith(b".") else b"") + message.replace(b"\r\n.", b"\r\n..")
    if stuffed and not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"
