"""The MIME part tree of a message, with the byte offsets of every part's header and body.

Role: split raw message bytes into the body structure IMAP reports (RFC 9051 §7.5.2 BODYSTRUCTURE)
and remember, for each part, where its header starts, where its body starts and where it ends, so
that BODY[1.2.MIME], BODY[1.2.HEADER] and BODY[1.TEXT] are slices of the stored blob.

RFCs: 2045 §5 (Content-Type and its defaults, §5.2), §6 (Content-Transfer-Encoding), §7-8
(Content-ID, Content-Description); 2046 §5.1.1 (boundaries: the CRLF before a delimiter belongs to
it, preamble and epilogue are not parts), §5.1.5 (digest defaults to message/rfc822); 2183
(Content-Disposition); 3282 (Content-Language); 2557 (Content-Location); 1864 (Content-MD5); 2231
(parameter continuations and charsets, joined as RFC 9051 §7.5.2 asks); 9051 §6.4.5 (part numbers).

Choices: media type, subtype, transfer encoding, disposition type and parameter names are
upper-cased, as in the examples of RFC 9051 §7.5.2 (they are case-insensitive, RFC 2045 §5.1), so
FETCH writes them as stored and code compares them without folding; parameter values keep their
case. Sizes and line counts are of the bytes as stored, bare LFs included.

Leniency (malformed MIME is still a message): a syntactically invalid Content-Type is text/plain;
charset=us-ascii (RFC 2045 §5.2); a multipart without a boundary or without any delimiter line is
reported as text/plain, since IMAP needs at least one part; a missing close-delimiter ends the last
part at the end of its parent; nesting deeper than MAX_DEPTH is reported as text/plain.
A message/rfc822 part with a base64 or quoted-printable encoding is parsed as it is stored.

Hand-written because the stdlib `email` package gives no byte offsets.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass

from postoffice.message.decoding import decode_charset
from postoffice.message.envelope import Envelope, build_envelope, quoted_string
from postoffice.message.headers import RawField, raw_text, scan_header

MAX_DEPTH = 64  # nested multiparts and messages; deeper is text/plain (bounds recursion)

Params = tuple[tuple[str, str], ...]

TEXT_PLAIN: tuple[str, str, Params] = ("TEXT", "PLAIN", (("CHARSET", "us-ascii"),))
MESSAGE_RFC822: tuple[str, str, Params] = ("MESSAGE", "RFC822", ())
MESSAGE_SUBTYPES = frozenset({"RFC822", "GLOBAL"})  # RFC 9051 §7.5.2 media-message


@dataclass(frozen=True, slots=True)
class Disposition:
    """RFC 2183 Content-Disposition: the type (upper-cased) and its parameters."""

    type: str
    params: Params

    def param(self, name: str) -> str | None:
        """A parameter (e.g. "filename") as text, RFC 2231 charset decoded; None when absent."""
        return param_value(self.params, name)


@dataclass(frozen=True, slots=True)
class BodyPart:
    """One node of the body structure; the root is the message itself.

    Offsets index the raw message: raw[header_start:body_start] is the part's header (for the
    root, the message header; for a part of a multipart, its MIME header, RFC 9051 §6.4.5) and
    raw[body_start:end] its body, still transfer-encoded.
    """

    type: str  # "TEXT", "MULTIPART", "MESSAGE", ...
    subtype: str  # "PLAIN", "MIXED", "RFC822", ...
    params: Params  # Content-Type parameters, names upper-cased, RFC 2231 continuations joined
    id: str | None  # Content-ID, raw
    description: str | None  # Content-Description, raw (RFC 2047 words left encoded)
    encoding: str  # Content-Transfer-Encoding, upper-cased; "7BIT" when absent
    size: int  # octets of the encoded body: end - body_start
    lines: int | None  # TEXT and MESSAGE/RFC822|GLOBAL only: lines of the encoded body
    md5: str | None  # Content-MD5 (RFC 1864), raw
    disposition: Disposition | None
    language: tuple[str, ...] | None  # Content-Language tags
    location: str | None  # Content-Location (RFC 2557), folding white space removed
    header_start: int
    body_start: int
    end: int
    children: tuple[BodyPart, ...] = ()  # MULTIPART: the parts, in order
    envelope: Envelope | None = None  # MESSAGE/RFC822|GLOBAL: the encapsulated message's
    body: BodyPart | None = None  # MESSAGE/RFC822|GLOBAL: its body; header_start = our body_start

    @property
    def is_multipart(self) -> bool:
        return self.type == "MULTIPART"

    @property
    def is_message(self) -> bool:
        return self.type == "MESSAGE" and self.subtype in MESSAGE_SUBTYPES and self.body is not None

    def param(self, name: str) -> str | None:
        """A Content-Type parameter as text, RFC 2231 charset decoded; None when absent."""
        return param_value(self.params, name)


def parse_entity(raw: bytes, start: int, end: int,
                 default: tuple[str, str, Params] = TEXT_PLAIN,
                 depth: int = 0) -> tuple[BodyPart, list[RawField]]:
    """The part at raw[start:end] (header and body), and its header fields."""
    fields, body_start = scan_header(raw, start, end)
    first: dict[str, str] = {}  # a repeated Content-* field is malformed: the first one counts
    for field in fields:
        if field.key.startswith("content-"):
            first.setdefault(field.key, raw_text(field.value))
    content_type = default
    if "content-type" in first:
        content_type = parse_content_type(first["content-type"]) or TEXT_PLAIN
    kind, subtype, params = content_type
    children: tuple[BodyPart, ...] = ()
    envelope: Envelope | None = None
    body: BodyPart | None = None
    if kind == "MULTIPART":
        boundary = param_value(params, "BOUNDARY")
        spans: list[tuple[int, int]] = []
        if boundary and depth < MAX_DEPTH:
            spans = split_multipart(raw, body_start, end, boundary.encode("utf-8", "surrogateescape"))
        if spans:
            # RFC 2046 §5.1.5: in a digest, a part without Content-Type is a message/rfc822.
            child_default = MESSAGE_RFC822 if subtype == "DIGEST" else TEXT_PLAIN
            children = tuple(parse_entity(raw, s, e, child_default, depth + 1)[0] for s, e in spans)
        else:
            kind, subtype, params = TEXT_PLAIN
    elif kind == "MESSAGE" and subtype in MESSAGE_SUBTYPES:
        if depth < MAX_DEPTH:
            body, inner_fields = parse_entity(raw, body_start, end, TEXT_PLAIN, depth + 1)
            envelope = build_envelope(inner_fields)
        else:
            kind, subtype, params = TEXT_PLAIN
    has_lines = kind == "TEXT" or (kind == "MESSAGE" and subtype in MESSAGE_SUBTYPES)
    part = BodyPart(
        type=kind,
        subtype=subtype,
        params=params,
        id=first.get("content-id"),
        description=first.get("content-description"),
        encoding=_encoding(first.get("content-transfer-encoding")),
        size=end - body_start,
        lines=count_lines(raw, body_start, end) if has_lines else None,
        md5=first.get("content-md5"),
        disposition=_disposition(first.get("content-disposition")),
        language=_language(first.get("content-language")),
        location=_location(first.get("content-location")),
        header_start=start,
        body_start=body_start,
        end=end,
        children=children,
        envelope=envelope,
        body=body,
    )
    return part, fields


def split_multipart(raw: bytes, start: int, end: int, boundary: bytes) -> list[tuple[int, int]]:
    """The (start, end) of each body part of the multipart body at raw[start:end].

    RFC 2046 §5.1.1: a delimiter line is "--" boundary at the start of a line, followed by
    optional white space (transport padding); the close-delimiter adds "--". The CRLF before a
    delimiter belongs to it, so a part ends before that CRLF. What precedes the first delimiter
    (preamble) and follows the close-delimiter (epilogue) is no part. A boundary that is only a
    prefix of the line ("--b" in "--bb") does not delimit: that is how nested boundaries differ.
    """
    marker = b"--" + boundary
    spans: list[tuple[int, int]] = []
    part_start = -1
    pos = start
    while (found := raw.find(marker, pos, end)) >= 0:
        pos = found + 1
        if found > start and raw[found - 1] != 0x0A:
            continue  # not at the start of a line
        after = found + len(marker)
        newline = raw.find(b"\n", after, end)
        line_end = end if newline < 0 else newline + 1
        rest = raw[after:line_end]
        is_close = rest.startswith(b"--")
        if (rest[2:] if is_close else rest).strip(b" \t\r\n"):
            continue
        if part_start >= 0:
            spans.append((part_start, _before_line_break(raw, part_start, found)))
        if is_close:
            return spans
        part_start = pos = line_end
    if part_start >= 0:
        # Leniency: no close-delimiter; the last part runs to the end of its parent.
        spans.append((part_start, end))
    return spans


def _before_line_break(raw: bytes, part_start: int, delimiter: int) -> int:
    """Where a part ends: before the CRLF (or bare LF) that opens the delimiter line at
    `delimiter`, unless that line break is the one that ended the previous delimiter line."""
    if delimiter - 2 >= part_start and raw[delimiter - 2:delimiter] == b"\r\n":
        return delimiter - 2
    if delimiter - 1 >= part_start and raw[delimiter - 1] == 0x0A:
        return delimiter - 1
    return delimiter


def count_lines(raw: bytes, start: int, end: int) -> int:
    """Lines in raw[start:end]: line breaks, plus one for a last line without one."""
    if end <= start:
        return 0
    return raw.count(b"\n", start, end) + (0 if raw[end - 1] == 0x0A else 1)


def part_at(root: BodyPart, section: Sequence[int]) -> BodyPart | None:
    """The part named by an IMAP part number (RFC 9051 §6.4.5), e.g. (1, 2) for "1.2".

    Numbers index the parts of a multipart; inside a message/rfc822 part they index the parts of
    the encapsulated message's body; part 1 of a body that is not a multipart is that body itself.
    An empty section is the root.
    """
    part = root
    for index, number in enumerate(section):
        if index == 0 or part.is_multipart:
            container = part
        elif part.is_message and part.body is not None:
            container = part.body
        else:
            return None  # a leaf has no sub-parts
        if container.is_multipart:
            if not 1 <= number <= len(container.children):
                return None
            part = container.children[number - 1]
        elif number == 1:
            part = container
        else:
            return None
    return part


def parse_content_type(value: str) -> tuple[str, str, Params] | None:
    """RFC 2045 §5.1 "type/subtype *(; parameter)", or None when the syntax is invalid."""
    text = _strip_comments(value)
    match = _MEDIA_TYPE.match(text)
    if match is None:
        return None
    return match.group(1).upper(), match.group(2).upper(), parse_params(text[match.end():])


def parse_params(text: str) -> Params:
    """"; name=value" pairs (value a token or a quoted-string), RFC 2231 continuations joined."""
    pairs: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        semicolon = text.find(";", i)
        if semicolon < 0:
            break
        i = semicolon + 1
        equals = text.find("=", i)
        next_semicolon = text.find(";", i)
        if equals < 0 or 0 <= next_semicolon < equals:
            continue  # a parameter without a value
        name = text[i:equals].strip()
        i = equals + 1
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == '"':
            i, value = quoted_string(text, i)
        else:
            stop = text.find(";", i)
            stop = n if stop < 0 else stop
            value = text[i:stop].strip()
            i = stop
        if name and _TOKEN.fullmatch(name):
            pairs.append((name.upper(), value))
    return _join_rfc2231(pairs)


def param_value(params: Params, name: str) -> str | None:
    """The value of parameter `name`, from "NAME" or else from the RFC 2231 form "NAME*"."""
    wanted = name.upper()
    for key, value in params:
        if key == wanted:
            return value
    for key, value in params:
        if key == wanted + "*":
            charset, _, encoded = _split_extended(value)
            return decode_charset(urllib.parse.unquote_to_bytes(encoded), charset or "us-ascii")
    return None


# RFC 2045 §5.1: token = 1*<any (US-ASCII) CHAR except SPACE, CTLs, or tspecials>
_TOKEN_CHARS = r"[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+"
_TOKEN = re.compile(_TOKEN_CHARS)
_MEDIA_TYPE = re.compile(rf"[ \t]*({_TOKEN_CHARS})[ \t]*/[ \t]*({_TOKEN_CHARS})[ \t]*(?=;|$)")
_SECTION = re.compile(r"(.+?)\*(\d{1,9})(\*?)")
_ATTRIBUTE_CHARS = "!#$&+-.^_`|~"  # RFC 2231 §7 attribute-char punctuation, left unescaped


def _join_rfc2231(pairs: list[tuple[str, str]]) -> Params:
    """RFC 2231 §3-4 as RFC 9051 §7.5.2 asks: "baz*0", "baz*1" give "baz"; if any section is
    charset-encoded ("foo*0*"), the joined text is re-encoded as UTF-8 and returned as "foo*"."""
    out: list[tuple[str, str] | str] = []
    sections: dict[str, list[tuple[int, bool, str]]] = {}
    for name, value in pairs:
        match = _SECTION.fullmatch(name)
        if match is None:
            out.append((name, _to_utf8_extended(value) if name.endswith("*") else value))
            continue
        base = match.group(1)
        if base not in sections:
            sections[base] = []
            out.append(base)  # placeholder: the joined value goes where its first section was
        sections[base].append((int(match.group(2)), bool(match.group(3)), value))
    joined: list[tuple[str, str]] = []
    for item in out:
        if isinstance(item, tuple):
            joined.append(item)
            continue
        parts = sorted(sections[item], key=lambda s: s[0])
        if not any(extended for _, extended, _ in parts):
            joined.append((item, "".join(value for _, _, value in parts)))
            continue
        charset, language = None, ""
        octets = bytearray()
        for number, extended, value in parts:
            if extended and number == 0:
                charset, language, value = _split_extended(value)
            if extended:
                octets += urllib.parse.unquote_to_bytes(value)
            else:
                octets += value.encode("utf-8", "surrogateescape")
        text = decode_charset(bytes(octets), charset or "us-ascii")
        joined.append((item + "*", _utf8_extended(text, language)))
    return tuple(joined)


def _to_utf8_extended(value: str) -> str:
    charset, language, encoded = _split_extended(value)
    text = decode_charset(urllib.parse.unquote_to_bytes(encoded), charset or "us-ascii")
    return _utf8_extended(text, language)


def _utf8_extended(text: str, language: str) -> str:
    encoded = urllib.parse.quote(text.encode("utf-8", "surrogatepass"), safe=_ATTRIBUTE_CHARS)
    return f"utf-8'{language}'{encoded}"


def _split_extended(value: str) -> tuple[str | None, str, str]:
    """RFC 2231 §4 "charset'language'encoded"; without the two quotes, all of it is encoded."""
    pieces = value.split("'", 2)
    if len(pieces) != 3:
        return None, "", value
    return pieces[0] or None, pieces[1], pieces[2]


def _strip_comments(value: str) -> str:
    """RFC 2045 §5.1 and RFC 5322 §3.2.2: comments may appear in structured fields; drop them."""
    if "(" not in value:
        return value
    out: list[str] = []
    depth = 0
    quoted = False
    i = 0
    while i < len(value):
        c = value[i]
        if c == "\\" and (quoted or depth) and i + 1 < len(value):
            if not depth:
                out.append(value[i:i + 2])
            i += 2
            continue
        if quoted:
            quoted = c != '"'
            out.append(c)
        elif c == "(":
            depth += 1
        elif c == ")" and depth:
            depth -= 1
        elif not depth:
            quoted = c == '"'
            out.append(c)
        i += 1
    return "".join(out)


def _encoding(value: str | None) -> str:
    # RFC 2045 §6.1: "Content-Transfer-Encoding: 7BIT" is assumed when the field is absent.
    token = _strip_comments(value or "").strip().upper()
    return token or "7BIT"


def _disposition(value: str | None) -> Disposition | None:
    if value is None:
        return None
    text = _strip_comments(value)
    semicolon = text.find(";")
    kind = (text if semicolon < 0 else text[:semicolon]).strip()
    if not kind:
        return None
    return Disposition(kind.upper(), parse_params(text[semicolon:] if semicolon >= 0 else ""))


def _location(value: str | None) -> str | None:
    # RFC 2557: a URI folded over several lines loses the white space of the folding.
    return None if value is None else "".join(value.split())


def _language(value: str | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    tags = tuple(tag.strip() for tag in _strip_comments(value).split(",") if tag.strip())
    return tags or None
