"""Modified UTF-7, the mailbox name encoding of IMAP4rev1 clients (RFC 3501 §5.1.3).

Role: `decode_mutf7` turns a name as a rev1 client sends it into the Unicode name the store keeps;
`encode_mutf7` does the reverse for LIST/LSUB/STATUS responses. IMAP4rev2 and UTF8=ACCEPT clients
(RFC 9051 §5.1, RFC 6855) send UTF-8 instead and do not come here.

Strict on input: only the one encoding `encode_mutf7` would produce is accepted, so every name has
exactly one spelling on the wire (RFC 3501 §5.1.3 item 5: "multiple alternate forms" are the
problem this encoding fixes). Refused with ValueError: a character outside 0x20-0x7e, an unclosed
"&", modified BASE64 that encodes a printable ASCII character, a null shift ("&-&", "-&" runs
split in two), non-zero padding bits, a lone UTF-16 surrogate.

Left out: nothing. Hand-written: the standard library's "utf-7" codec is the unmodified RFC 2152
form ("+" shifts, "/" in the alphabet, several spellings of one string).
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["encode_mutf7", "decode_mutf7"]

_SHIFTED = re.compile(r"&([A-Za-z0-9+,]*)-")
_PRINTABLE = re.compile(r"[\x20-\x7e]")


def _b64(chunk: str) -> str:
    raw = chunk.encode("utf-16-be", "surrogatepass")
    return base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")


def encode_mutf7(name: str) -> str:
    """`name` in modified UTF-7. Raises ValueError for a lone surrogate (not a character)."""
    out: list[str] = []
    run: list[str] = []
    for ch in name:
        if "\x20" <= ch <= "\x7e":
            if run:
                out.append("&" + _b64("".join(run)) + "-")
                run.clear()
            out.append("&-" if ch == "&" else ch)
        else:
            if "\ud800" <= ch <= "\udfff":
                raise ValueError("lone surrogate in mailbox name")
            run.append(ch)
    if run:
        out.append("&" + _b64("".join(run)) + "-")
    return "".join(out)


def _decode_run(b64: str) -> str:
    if not b64:
        raise ValueError("empty shift")   # "&-" is handled by the caller; "&" "-" here is not
    bits = len(b64) * 6
    if len(b64) % 4 == 1:
        raise ValueError("truncated modified BASE64")
    try:
        raw = base64.b64decode(b64.replace(",", "/") + "=" * (-len(b64) % 4), validate=True)
    except binascii.Error as exc:
        raise ValueError("invalid modified BASE64") from exc
    if len(raw) % 2 or bits - len(raw) * 8 >= 6:
        raise ValueError("modified BASE64 does not hold whole UTF-16 units")
    if _b64(raw.decode("utf-16-be", "surrogatepass")) != b64:
        raise ValueError("non-zero padding bits")   # the canonical spelling differs
    try:
        text = raw.decode("utf-16-be")            # strict: a lone surrogate raises
    except UnicodeDecodeError as exc:
        raise ValueError("invalid UTF-16 in modified BASE64") from exc
    if any(_PRINTABLE.fullmatch(ch) for ch in text):
        # RFC 3501 §5.1.3: "Modified BASE64 MUST NOT be used to represent any printing US-ASCII
        # character which can represent itself."
        raise ValueError("printable ASCII in modified BASE64")
    return text


def decode_mutf7(wire: str) -> str:
    """The Unicode name `wire` (modified UTF-7) stands for; ValueError if it is not canonical."""
    out: list[str] = []
    pos = 0
    previous_shift_end = -1
    while pos < len(wire):
        ch = wire[pos]
        if not "\x20" <= ch <= "\x7e":
            raise ValueError("mailbox name must be printable US-ASCII in modified UTF-7")
        if ch != "&":
            out.append(ch)
            pos += 1
            continue
        if wire.startswith("&-", pos):
            out.append("&")
            pos += 2
            continue
        m = _SHIFTED.match(wire, pos)
        if not m:
            raise ValueError("unterminated or invalid shift to modified BASE64")
        if previous_shift_end == pos:
            # RFC 3501 §5.1.3: null shifts ("-&" while in BASE64) are not permitted.
            raise ValueError("adjacent modified BASE64 runs")
        out.append(_decode_run(m[1]))
        pos = previous_shift_end = m.end()
    return "".join(out)
