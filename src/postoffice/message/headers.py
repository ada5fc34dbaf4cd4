"""Header sections on raw bytes: find, read and edit fields without re-serialising the message.

Role: the one place that knows where an RFC 5322 header section ends and where each field, with its
folded continuation lines, starts and stops. The MIME splitter (`mime.py`) reads fields through
`scan_header`; the MSA and MDA edit messages through the helpers below (prepend Received and
Return-Path, strip Bcc), which touch only the bytes of the fields concerned, so the rest of the
message, and any DKIM signature over it, stays exactly as it came.

RFCs: 5322 §2.1.1 (line length), §2.2 (fields), §2.2.3 (folding and unfolding), §3.6.8 (field
names); 6532 (UTF-8 in field values).

Leniency: a bare LF is accepted as a line ending everywhere, and offsets count the bytes as they
are. A line that is neither a field, a continuation nor empty ends the header section and starts the
body (what the stdlib `email` parser does, as a "missing header body separator" defect); a
continuation line before the first field is ignored.

Left out: RFC 2047 encoding of the values we add (callers pass ASCII, or UTF-8 per RFC 6532).
Hand-written because `email.parser` reports no byte offsets and re-serialises whatever it edits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LINE_CHARS = 78  # RFC 5322 §2.1.1: lines SHOULD be no more than 78 characters, CRLF excluded

# RFC 5322 §3.6.8: ftext is printable US-ASCII except ":"; obs-optional (§4.5) allows WSP before it.
_FIELD_START = re.compile(rb"([\x21-\x39\x3b-\x7e]+)[ \t]*:")
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
_WSP = b" \t"


@dataclass(frozen=True, slots=True)
class RawField:
    """One header field as it sits in the raw bytes."""

    name: bytes  # as written, case kept
    start: int  # offset of the field's first byte
    end: int  # offset just past the line ending of its last continuation line
    value: bytes  # unfolded (RFC 5322 §2.2.3: line breaks removed) and stripped of outer WSP

    @property
    def key(self) -> str:
        """The field name lower-cased, for case-insensitive look-ups (RFC 5322 §1.2.2)."""
        return self.name.decode("ascii").lower()


def scan_header(raw: bytes, start: int = 0, end: int | None = None) -> tuple[list[RawField], int]:
    """The fields of the header section at raw[start:end], and the offset where the body starts.

    The body starts after the empty line that ends the section, at the first line that is not a
    field, or at `end` when the section runs to the end (a message of header fields only).
    """
    stop = len(raw) if end is None else end
    fields: list[RawField] = []
    name = b""
    field_start = -1
    pieces: list[bytes] = []
    pos = start
    body_start = stop
    while pos < stop:
        newline = raw.find(b"\n", pos, stop)
        line_end = stop if newline < 0 else newline + 1
        content = raw[pos:line_end]
        if content.endswith(b"\n"):
            content = content[:-1]
        if content.endswith(b"\r"):
            content = content[:-1]
        if not content:
            body_start = line_end
            break
        if content[0] in _WSP:
            if field_start >= 0:
                pieces.append(content)
            pos = line_end
            continue
        match = _FIELD_START.match(content)
        if match is None:
            body_start = pos
            break
        if field_start >= 0:
            fields.append(RawField(name, field_start, pos, b"".join(pieces).strip(_WSP)))
        name, field_start, pieces = match.group(1), pos, [content[match.end():]]
        pos = line_end
    if field_start >= 0:
        fields.append(RawField(name, field_start, pos, b"".join(pieces).strip(_WSP)))
    return fields, body_start


def header_block(raw: bytes) -> bytes:
    """The header section, up to and including the empty line that ends it (or the whole message)."""
    _, body_start = scan_header(raw)
    return raw[:body_start]


def get_header(raw: bytes, name: str) -> list[str]:
    """The unfolded values of every field called `name`, in order, as raw text.

    Bytes that are not UTF-8 come back as lone surrogates (`surrogateescape`), so
    `value.encode("utf-8", "surrogateescape")` gives the original bytes back.
    """
    wanted = name.lower()
    fields, _ = scan_header(raw)
    return [raw_text(f.value) for f in fields if f.key == wanted]


def has_header(raw: bytes, name: str) -> bool:
    """Whether the header section holds at least one field called `name`."""
    wanted = name.lower()
    fields, _ = scan_header(raw)
    return any(f.key == wanted for f in fields)


def remove_header(raw: bytes, name: str) -> bytes:
    """`raw` without any field called `name`, continuation lines included; other bytes untouched."""
    wanted = name.lower()
    fields, _ = scan_header(raw)
    kept: list[bytes] = []
    pos = 0
    for field in fields:
        if field.key == wanted:
            kept.append(raw[pos:field.start])
            pos = field.end
    kept.append(raw[pos:])
    return b"".join(kept)


def prepend_headers(raw: bytes, fields: list[tuple[str, str]]) -> bytes:
    """`raw` with the given fields added at the top, in the order given, folded at whitespace.

    RFC 5321 §4.4: trace fields (Received, Return-Path) go on top of the existing header. The new
    lines end as the message's own first line does (CRLF unless it uses bare LF). Raises ValueError
    for a field name that is not ftext or a value holding CR or LF: that would inject fields.
    """
    eol = _line_ending(raw)
    lines = [fold_header(name, value).replace("\r\n", eol.decode()) for name, value in fields]
    added = b"".join(line.encode("utf-8", "surrogateescape") + eol for line in lines)
    return added + raw


def fold_header(name: str, value: str) -> str:
    """`Name: value`, folded before whitespace so that lines stay within 78 characters if possible.

    RFC 5322 §2.2.3: folding inserts CRLF before existing whitespace only, so unfolding gives the
    value back exactly; a word longer than the line stays whole (the 998 limit is the caller's).
    The result has no final CRLF. Raises ValueError for a bad name or a value with CR or LF.
    """
    if not _FIELD_NAME.fullmatch(name):
        raise ValueError(f"not a header field name: {name!r}")
    if "\r" in value or "\n" in value:
        raise ValueError("header value must not contain CR or LF")
    # Split before each run of WSP that follows a non-WSP character: every chunk after the first
    # starts with whitespace, and no fold ever leaves a line made of whitespace only.
    chunks = re.split(r"(?<=[^ \t])(?=[ \t])", value)
    lines: list[str] = []
    line = f"{name}:" + ("" if value[:1] in (" ", "\t", "") else " ") + chunks[0]
    for chunk in chunks[1:]:
        if len(line) + len(chunk) > MAX_LINE_CHARS and line.strip(" \t"):
            lines.append(line)
            line = chunk
        else:
            line += chunk
    lines.append(line)
    return "\r\n".join(lines)


def raw_text(value: bytes) -> str:
    """Header bytes as text, keeping undecodable bytes recoverable (`surrogateescape`)."""
    return value.decode("utf-8", "surrogateescape")


def _line_ending(raw: bytes) -> bytes:
    newline = raw.find(b"\n")
    if newline > 0 and raw[newline - 1] != 0x0D:
        return b"\n"
    return b"\r\n"
