"""FETCH data: ENVELOPE, BODY/BODYSTRUCTURE, BODY[section], BINARY[part] of a stored message.

Role: the values of the FETCH data items that need the message, computed from the parse-once form
(`message.parsed.ParsedMessage`) and, for sections, slices of the stored bytes; nothing here parses
the message again. Pure: the session reads the blob and the parsed form, calls these and writes the
result with `responses.fetch`.

A stored message is `prefix + blob` (`store.api.StoredMessage`); the parsed offsets index the blob,
so every offset is shifted by `prefix_len`, except that the top-level header starts at 0: the
prefix lines (Return-Path, Delivered-To) belong to it, in HEADER and HEADER.FIELDS alike.

RFCs: 9051 §7.5.2 (ENVELOPE, BODY, BODYSTRUCTURE, BINARY, BINARY.SIZE), §6.4.5 and §6.4.5.1
(section specification: HEADER, HEADER.FIELDS[.NOT], TEXT, MIME, part numbers, partial fetch),
§9 (envelope, body, body-type-1part/mpart, body-ext-1part/mpart); 3516 §4 (BINARY: decoded
content, CRLF line endings for text, UNKNOWN-CTE); 7162 §3.1.4 (MODSEQ in FETCH).

Choices: a section that does not exist, or that does not apply (HEADER of a part that is not a
message/rfc822, MIME without a part number), is None, which the session writes as NIL. The blank
line that ends a header is returned exactly as stored (CRLF, or a bare LF in a lenient message),
and only when it is there (RFC 9051 §6.4.5.1: not for a message without body and blank line).
1.MIME of a message that is not multipart is the message header (its MIME header is there).
A body language of one tag is a string, of several a list.

BINARY: `binary_refusal` says first why a part has no decoded content (no such part, not a leaf,
unknown encoding), so the session can refuse the whole FETCH before it sends or changes anything.
RFC 9051 §6.4.5 allows BINARY of leaf parts only, so a multipart or message/rfc822|global part is
NOT_A_LEAF; BINARY[] (no part number) is the message as stored, for clients that fetch whole
messages this way. Base64 and quoted-printable are decoded; "8BIT", "7BIT" and "BINARY" are
passed through unchanged (RFC 2045 §6.2: identity encodings).

Left out: decoding any other encoding (x-uuencode, x-gzip64, ...): UNKNOWN_CTE, which the session
answers with NO [UNKNOWN-CTE] (RFC 9051 §7.5.2).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Sequence
from datetime import datetime

from postoffice.imap.responses import (
    NIL, date_time, nstring, number, plist, string, to_bytes,
)
from postoffice.message.decoding import decode_base64
from postoffice.message.envelope import Address, Envelope
from postoffice.message.headers import scan_header
from postoffice.message.mime import BodyPart, Disposition, Params, part_at
from postoffice.message.parsed import ParsedMessage

HEADER_SPECIFIERS = frozenset({"HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT"})
SECTION_TEXTS = HEADER_SPECIFIERS | {"MIME"}
IDENTITY_ENCODINGS = frozenset({"7BIT", "8BIT", "BINARY"})  # RFC 2045 §6.2
DECODED_ENCODINGS = IDENTITY_ENCODINGS | {"BASE64", "QUOTED-PRINTABLE"}  # RFC 2045 §6.7, §6.8
# Why BINARY[part] has no decoded content (`binary_refusal`).
NO_SUCH_PART, NOT_A_LEAF, UNKNOWN_CTE = "no such part", "not a leaf part", "unknown encoding"
_BARE_LF = re.compile(rb"(?<!\r)\n")


# ENVELOPE

def envelope(parsed: ParsedMessage, *, utf8: bool = False) -> bytes:
    """RFC 9051 §7.5.2 ENVELOPE of the message, ready to follow "ENVELOPE ".

    `utf8`: the session is IMAP4rev2 (or UTF8=ACCEPT), so valid UTF-8 may go quoted.
    """
    return encode_envelope(parsed.envelope, utf8=utf8)


def encode_envelope(env: Envelope, *, utf8: bool = False) -> bytes:
    """RFC 9051 §9 envelope: date, subject, from, sender, reply-to, to, cc, bcc, in-reply-to,
    message-id. Values are written as the parser kept them (RFC 2047 words stay encoded)."""
    return plist([
        nstring(env.date, utf8=utf8),
        nstring(env.subject, utf8=utf8),
        _addresses(env.from_, utf8),
        _addresses(env.sender, utf8),
        _addresses(env.reply_to, utf8),
        _addresses(env.to, utf8),
        _addresses(env.cc, utf8),
        _addresses(env.bcc, utf8),
        nstring(env.in_reply_to, utf8=utf8),
        nstring(env.message_id, utf8=utf8),
    ])


def _addresses(addresses: tuple[Address, ...], utf8: bool) -> bytes:
    # RFC 9051 §9 env-from = "(" 1*address ")" / nil: an absent or empty list is NIL.
    if not addresses:
        return NIL
    return b"(" + b"".join(_address(a, utf8) for a in addresses) + b")"


def _address(address: Address, utf8: bool) -> bytes:
    # RFC 9051 §9 address = "(" addr-name SP addr-adl SP addr-mailbox SP addr-host ")"; group
    # markers (host NIL) come from the parser already (RFC 9051 §7.5.2).
    return plist([
        nstring(address.name, utf8=utf8),
        nstring(address.adl, utf8=utf8),
        nstring(address.mailbox, utf8=utf8),
        nstring(address.host, utf8=utf8),
    ])


# BODY and BODYSTRUCTURE

def body_structure(parsed: ParsedMessage, extension: bool, *, utf8: bool = False) -> bytes:
    """RFC 9051 §9 body: BODYSTRUCTURE when `extension`, BODY (no extension data) otherwise."""
    return encode_body(parsed.body, extension, utf8=utf8)


def encode_body(part: BodyPart, extension: bool, *, utf8: bool = False) -> bytes:
    """One part and everything below it, as RFC 9051 §9 body."""
    if part.is_multipart and part.children:
        # body-type-mpart = 1*body SP media-subtype [SP body-ext-mpart]: no SP between bodies.
        children = b"".join(encode_body(child, extension, utf8=utf8) for child in part.children)
        items = [children, string(part.subtype, utf8=utf8)]
        if extension:
            items += [_params(part.params, utf8), *_ext_common(part, utf8)]
        return plist(items)
    items = [
        string(part.type, utf8=utf8),
        string(part.subtype, utf8=utf8),
        _params(part.params, utf8),  # body-fields: param, id, desc, enc, octets
        nstring(part.id, utf8=utf8),
        nstring(part.description, utf8=utf8),
        string(part.encoding, utf8=utf8),
        number(part.size),
    ]
    if part.is_message and part.body is not None:
        # body-type-msg: ... SP envelope SP body SP body-fld-lines
        env = part.envelope
        items += [
            NIL if env is None else encode_envelope(env, utf8=utf8),
            encode_body(part.body, extension, utf8=utf8),
            number(part.lines or 0),
        ]
    elif part.type == "TEXT":
        items.append(number(part.lines or 0))  # body-type-text: ... SP body-fld-lines
    if extension:
        # body-ext-1part = body-fld-md5 [SP body-fld-dsp [SP body-fld-lang [SP body-fld-loc]]]
        items += [nstring(part.md5, utf8=utf8), *_ext_common(part, utf8)]
    return plist(items)


def _ext_common(part: BodyPart, utf8: bool) -> list[bytes]:
    """body-fld-dsp SP body-fld-lang SP body-fld-loc, shared by both kinds of extension data."""
    return [_disposition(part.disposition, utf8), _language(part.language, utf8),
            nstring(part.location, utf8=utf8)]


def _params(params: Params, utf8: bool) -> bytes:
    # body-fld-param = "(" string SP string *(SP string SP string) ")" / nil
    if not params:
        return NIL
    return plist(item for name, value in params
                 for item in (string(name, utf8=utf8), string(value, utf8=utf8)))


def _disposition(disposition: Disposition | None, utf8: bool) -> bytes:
    # body-fld-dsp = "(" string SP body-fld-param ")" / nil
    if disposition is None:
        return NIL
    return plist([string(disposition.type, utf8=utf8), _params(disposition.params, utf8)])


def _language(language: tuple[str, ...] | None, utf8: bool) -> bytes:
    # body-fld-lang = nstring / "(" string *(SP string) ")"
    if not language:
        return NIL
    if len(language) == 1:
        return string(language[0], utf8=utf8)
    return plist(string(tag, utf8=utf8) for tag in language)


# BODY[section]

def find_part(parsed: ParsedMessage, part: Sequence[int]) -> BodyPart | None:
    """The part named by IMAP part numbers (RFC 9051 §6.4.5.1); () is the message itself."""
    return part_at(parsed.body, tuple(part))


def section_bytes(raw: bytes, parsed: ParsedMessage, prefix_len: int, part: tuple[int, ...] = (),
                  text: str | None = None, fields: tuple[str, ...] = ()) -> bytes | None:
    """The octets of BODY[section] (RFC 9051 §6.4.5.1), or None when the section does not exist.

    `raw` is the whole stored message (prefix + blob) and `prefix_len` the prefix's length; `part`
    the part numbers ((1, 2) for "1.2"), `text` the part specifier that ends the section (HEADER,
    HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME or None), `fields` the field names of
    HEADER.FIELDS[.NOT]. Raises ValueError for any other `text` (the parser never gives one).
    """
    kind = None if text is None else text.upper()
    if kind is not None and kind not in SECTION_TEXTS:
        raise ValueError(f"unknown section text {text!r}")
    root = parsed.body
    shift = prefix_len
    if not part:
        if kind is None:
            return raw
        if kind == "MIME":
            return None  # RFC 9051 §6.4.5.1: MIME MUST be prefixed by a part number
        # The top-level header starts at 0: the prefix lines are part of it.
        return _message_section(raw, 0, root.body_start + shift, root.end + shift, kind, fields)
    target = part_at(root, part)
    if target is None:
        return None
    if kind is None:
        return raw[target.body_start + shift:target.end + shift]
    if kind == "MIME":
        start = 0 if target is root else target.header_start + shift
        return raw[start:target.body_start + shift]
    # RFC 9051 §6.4.5.1: HEADER* and TEXT after a part number need a message/rfc822 part, and
    # then name the encapsulated message's header and text.
    if not target.is_message or target.body is None:
        return None
    inner = target.body
    return _message_section(raw, inner.header_start + shift, inner.body_start + shift,
                            inner.end + shift, kind, fields)


def _message_section(raw: bytes, header_start: int, body_start: int, end: int, kind: str,
                     fields: tuple[str, ...]) -> bytes:
    if kind == "TEXT":
        return raw[body_start:end]
    header = raw[header_start:body_start]
    if kind == "HEADER":
        return header
    # RFC 9051 §6.4.5.1: the match is ASCII case-insensitive but otherwise exact; bytes.lower()
    # folds ASCII letters only. Fields come back in message order, folding kept.
    wanted = {to_bytes(name).lower() for name in fields}
    keep = kind == "HEADER.FIELDS"
    found, _ = scan_header(raw, header_start, body_start)
    chosen = [raw[f.start:f.end] for f in found if (f.name.lower() in wanted) == keep]
    return b"".join(chosen) + _blank_line(header)


def _blank_line(header: bytes) -> bytes:
    """The empty line that ends `header`, as stored, or b"" when the header has none."""
    for eol in (b"\r\n", b"\n"):
        if header.endswith(eol):
            before = header[:-len(eol)]
            if not before or before.endswith(b"\n"):
                return eol
    return b""


def partial(data: bytes, origin: int, count: int | None = None) -> bytes:
    """RFC 9051 §6.4.5 <origin.count>: `count` octets from `origin`; empty when origin is past the
    end (the response then names <origin>, RFC 9051 §7.5.2)."""
    if origin < 0 or (count is not None and count < 0):
        raise ValueError("partial origin and count are unsigned")
    if count is None:
        return data[origin:]
    return data[origin:origin + count]


# BINARY[part] and BINARY.SIZE[part]

def binary_refusal(parsed: ParsedMessage, part: tuple[int, ...]) -> str | None:
    """Why BINARY[part] and BINARY.SIZE[part] have no content, or None when `binary_bytes` gives
    it: NO_SUCH_PART; NOT_A_LEAF, a multipart or an encapsulated message (RFC 9051 §6.4.5: BINARY
    "can only be requested for leaf body parts"); UNKNOWN_CTE, an encoding we cannot undo (RFC 9051
    §7.5.2: the server "MUST fail the request" with UNKNOWN-CTE). BINARY[] is always answered."""
    if not part:
        return None
    target = part_at(parsed.body, part)
    if target is None:
        return NO_SUCH_PART
    if target.is_multipart or target.is_message:
        return NOT_A_LEAF
    if target.encoding.upper() not in DECODED_ENCODINGS:
        return UNKNOWN_CTE
    return None


def binary_bytes(raw: bytes, parsed: ParsedMessage, prefix_len: int,
                 part: tuple[int, ...]) -> bytes | None:
    """The content of BINARY[part] (RFC 3516 §4.2, RFC 9051 §7.5.2): the part's body with its
    Content-Transfer-Encoding removed, text in CRLF lines; None when the encoding is unknown
    (the session answers NO [UNKNOWN-CTE]). BINARY[] is the whole message as stored.

    Raises LookupError for a part that does not exist: check with `find_part` first.
    """
    if not part:
        return raw
    target = part_at(parsed.body, part)
    if target is None:
        raise LookupError(f"no part {'.'.join(map(str, part))}")
    data = raw[target.body_start + prefix_len:target.end + prefix_len]
    decoded = decode_content(data, target.encoding)
    if decoded is None:
        return None
    if target.type == "TEXT" or target.is_message:
        # RFC 9051 §7.5.2: textual line-oriented sections MUST go with CRLF line endings.
        decoded = _BARE_LF.sub(b"\r\n", decoded)
    return decoded


def binary_size(raw: bytes, parsed: ParsedMessage, prefix_len: int,
                part: tuple[int, ...]) -> int | None:
    """BINARY.SIZE[part]: the length BINARY[part] has; None when the encoding is unknown."""
    data = binary_bytes(raw, parsed, prefix_len, part)
    return None if data is None else len(data)


def decode_content(data: bytes, encoding: str) -> bytes | None:
    """`data` with Content-Transfer-Encoding `encoding` (RFC 2045 §6) undone; None if unknown.

    Decoding is lenient, as message bodies are: stray characters in base64 are skipped (RFC 2045
    §6.8), a malformed "=" escape in quoted-printable is kept as it is (§6.7 note 1).
    """
    kind = encoding.upper()
    if kind in IDENTITY_ENCODINGS:
        return data
    if kind == "BASE64":
        return decode_base64(data)
    if kind == "QUOTED-PRINTABLE":
        return binascii.a2b_qp(data)
    return None


# Other FETCH values

def internal_date(when: datetime) -> bytes:
    """INTERNALDATE value: RFC 9051 §9 date-time."""
    return date_time(when)


def modseq(value: int) -> bytes:
    """RFC 7162 §3.1.4.1 MODSEQ value: "(" mod-sequence-value ")"."""
    return b"(" + number(value) + b")"
