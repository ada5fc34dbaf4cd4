"""From octets to text: transfer encodings, charsets, RFC 2047 encoded-words.

Role: what SEARCH, SORT and the preview need in Unicode. The envelope and body structure keep the
raw forms (IMAP returns them as written); only the `headers`, `sort_*` and `preview` fields of a
parsed message go through here. Every function here returns something for any input: an unknown
charset or a broken encoding gives replacement characters, never an exception.

RFCs: 2045 §6.7-6.8 (quoted-printable, base64), 2047 §4-6 (encoded-words, including §6.2: white
space between adjacent encoded-words is dropped), 2231 §5 (language in an encoded-word charset),
6532 (raw UTF-8 in header fields).

Left out: charset guessing for unlabelled 8-bit text (UTF-8 is tried, then Latin-1).
Hand-written rather than `email.header.decode_header` because that one raises on unknown charsets
and keeps the whitespace between an encoded-word and plain text inconsistently.
"""

from __future__ import annotations

import binascii
import codecs
import quopri
import re

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\s]*)\?=")
_BETWEEN_WORDS = re.compile(r"[ \t\r\n]+")
_NOT_BASE64 = re.compile(rb"[^A-Za-z0-9+/]")
_Q_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")
_SURROGATE = re.compile("[\ud800-\udfff]")


def to_text(data: bytes) -> str:
    """Unlabelled header octets as text: UTF-8 (RFC 6532) if they are, else Latin-1."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def decode_charset(data: bytes, charset: str | None) -> str:
    """`data` read in `charset`; unknown or missing labels fall back as `to_text` does."""
    if charset:
        try:
            codec = codecs.lookup(charset.strip().strip('"'))
        except (LookupError, ValueError):
            codec = None
        # Only real text codecs: a label such as "rot13" or "zlib" names a codec that is not one.
        if codec is not None and getattr(codec, "_is_text_encoding", True):
            try:
                text = codec.decode(data, "replace")[0]
            except (UnicodeError, ValueError, TypeError, LookupError):
                return to_text(data)
            # Some codecs (utf-7, unicode-escape) can yield lone surrogates, which no UTF-8
            # writer accepts: decoded text is always clean Unicode.
            return _SURROGATE.sub("\ufffd", text)
    return to_text(data)


def decode_words(text: str) -> str:
    """`text` with its RFC 2047 encoded-words decoded; anything else is left as it is."""
    out: list[str] = []
    pos = 0
    previous_was_word = False
    for match in _ENCODED_WORD.finditer(text):
        gap = text[pos:match.start()]
        # RFC 2047 §6.2: linear white space between two adjacent encoded-words is not displayed.
        if not (previous_was_word and _BETWEEN_WORDS.fullmatch(gap)):
            out.append(gap)
        out.append(_decode_word(match.group(1), match.group(2), match.group(3)))
        pos = match.end()
        previous_was_word = True
    out.append(text[pos:])
    return "".join(out)


def decode_transfer(data: bytes, encoding: str) -> bytes:
    """The octets of a body part once its Content-Transfer-Encoding (RFC 2045 §6) is undone."""
    kind = encoding.upper()
    if kind == "BASE64":
        return decode_base64(data)
    if kind == "QUOTED-PRINTABLE":
        return quopri.decodestring(data)
    return data  # 7BIT, 8BIT, BINARY, and unknown encodings (RFC 2045 §6.4: treat as opaque)


def decode_base64(data: bytes) -> bytes:
    """RFC 2045 §6.8: characters outside the alphabet are ignored; a short last quantum is padded."""
    clean = _NOT_BASE64.sub(b"", data)
    extra = len(clean) % 4
    if extra == 1:
        clean = clean[:-1]  # six lone bits make no octet
    elif extra:
        clean += b"=" * (4 - extra)
    try:
        return binascii.a2b_base64(clean)
    except binascii.Error:
        return b""


def _decode_word(charset: str, kind: str, payload: str) -> str:
    # RFC 2231 §5: "charset*language" inside an encoded-word.
    charset = charset.split("*", 1)[0]
    data = payload.encode("ascii", "replace")
    if kind in "bB":
        octets = decode_base64(data)
    else:
        # RFC 2047 §4.2: "_" is a space, "=XX" an octet.
        octets = _Q_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), data.replace(b"_", b" "))
    return decode_charset(octets, charset)
