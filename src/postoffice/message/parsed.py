"""Parse once: what IMAP needs of a message, computed when it is stored and kept as JSON.

Role: the MDA calls `parse_message` on the bytes it stores and keeps `to_json()` beside the blob;
FETCH (ENVELOPE, BODYSTRUCTURE, BODY[section] by slicing, RFC822.SIZE), SEARCH, SORT and PREVIEW
answer from `ParsedMessage.from_json` without reading the message again. See docs/architecture.md "Parse once".

RFCs: 9051 §7.5.2 (ENVELOPE, BODYSTRUCTURE; built by `envelope.py` and `mime.py`), 5256 §2.1
(base subject for SORT), §2.2 (sent date), 5322 §3.3 (date-time), 2047 (decoded for SEARCH),
8970 (PREVIEW: the spirit, with a 200-character limit; the algorithm is ours).

Never raises: malformed MIME is still a message, and the parsers below are lenient by design
(see `mime.py`). Should one of them still fail, the failure is logged with its traceback and the
message is kept as one text/plain body, so delivery never depends on the parser.

Left out: SEARCH on header fields other than SEARCH_FIELDS and SEARCH BODY/TEXT read the blob;
the i;unicode-casemap comparator of RFC 5256 is approximated by `str.casefold`.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
from datetime import datetime, timezone
from html.parser import HTMLParser
from typing import Any

from postoffice.message.decoding import decode_charset, decode_transfer, decode_words, to_text
from postoffice.message.envelope import EMPTY_ENVELOPE, Address, Envelope, build_envelope
from postoffice.message.mime import BodyPart, Disposition, count_lines, parse_entity

log = logging.getLogger(__name__)

# The header fields SEARCH (RFC 9051 §6.4.4) and SORT (RFC 5256 §3) read, plus threading ones.
SEARCH_FIELDS = frozenset({
    "from", "to", "cc", "bcc", "subject", "date", "message-id", "in-reply-to", "references",
    "reply-to", "sender", "list-id", "content-type",
})
PREVIEW_CHARS = 200  # RFC 8970 §3 allows up to 256
PREVIEW_SCAN_BYTES = 64 * 1024  # encoded octets read to make a preview
JSON_FORMAT = 1  # bump when the stored form changes; from_json refuses what it does not know


class ParsedMessage:
    """What IMAP needs of a stored message, computed once.

    Read back from JSON, the envelope and the body tree are built on first use: SEARCH on a header
    field reads `headers` alone, and a large mailbox searched or listed pays only for what it uses.
    Immutable once made; equal when every field is equal.
    """

    __slots__ = ("size", "headers", "sort_date", "sort_subject", "preview", "_envelope", "_body")

    size: int  # octets of the raw message (RFC822.SIZE)
    headers: dict[str, list[str]]  # SEARCH_FIELDS present: unfolded, RFC 2047 decoded, in order
    sort_date: datetime | None  # the Date field in UTC; None when absent or unparsable
    sort_subject: str  # RFC 5256 §2.1 base subject, casefolded
    preview: str  # up to PREVIEW_CHARS characters of the first text part, white space collapsed
    _envelope: Envelope | dict[str, Any]  # an Envelope, or its JSON form until first use
    _body: BodyPart | dict[str, Any]  # a BodyPart, or its JSON form until first use

    def __init__(self, size: int, envelope: Envelope | dict[str, Any], body: BodyPart | dict[str, Any],
                 headers: dict[str, list[str]],
                 sort_date: datetime | None, sort_subject: str, preview: str) -> None:
        set_ = object.__setattr__
        set_(self, "size", size)
        set_(self, "_envelope", envelope)
        set_(self, "_body", body)
        set_(self, "headers", headers)
        set_(self, "sort_date", sort_date)
        set_(self, "sort_subject", sort_subject)
        set_(self, "preview", preview)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ParsedMessage is immutable")

    @property
    def envelope(self) -> Envelope:
        """Raw field values (RFC 9051 §7.5.2)."""
        envelope = self._envelope
        if isinstance(envelope, dict):
            envelope = _envelope_in(envelope)
            object.__setattr__(self, "_envelope", envelope)
        return envelope

    @property
    def body(self) -> BodyPart:
        """The part tree; root offsets: 0, start of body, size."""
        body = self._body
        if isinstance(body, dict):
            body = _part_in(body)
            object.__setattr__(self, "_body", body)
        return body

    def __reduce__(self) -> tuple[type[ParsedMessage], tuple[object, ...]]:
        # pickle and copy restore slots with setattr, which an immutable value refuses.
        return (ParsedMessage, (self.size, self._envelope, self._body, self.headers, self.sort_date,
                                self.sort_subject, self.preview))

    def _fields(self) -> tuple[object, ...]:
        return (self.size, self.envelope, self.body, self.headers, self.sort_date, self.sort_subject, self.preview)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParsedMessage) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash((self.size, self.sort_subject, self.preview))

    def __repr__(self) -> str:
        return f"ParsedMessage(size={self.size}, subject={self.headers.get('subject')!r})"

    def to_json(self) -> str:
        """The stored form; `from_json` gives back an equal value."""
        return json.dumps({
            "format": JSON_FORMAT,
            "size": self.size,
            "envelope": _envelope_out(self.envelope),
            "body": _part_out(self.body),
            "headers": self.headers,
            "sort_date": None if self.sort_date is None else self.sort_date.isoformat(),
            "sort_subject": self.sort_subject,
            "preview": self.preview,
        }, separators=(",", ":"))  # ASCII output: lone surrogates from raw bytes survive

    @classmethod
    def from_json(cls, text: str) -> ParsedMessage:
        """The value `to_json` wrote. Raises ValueError on a format it does not know."""
        data = json.loads(text)
        if data.get("format") != JSON_FORMAT:
            raise ValueError(f"unknown parsed-message format {data.get('format')!r}")
        sort_date = data["sort_date"]
        return cls(
            size=data["size"],
            envelope=data["envelope"],
            body=data["body"],
            headers=data["headers"],
            sort_date=None if sort_date is None else datetime.fromisoformat(sort_date),
            sort_subject=data["sort_subject"],
            preview=data["preview"],
        )


def parse_message(raw: bytes) -> ParsedMessage:
    """Everything IMAP needs of `raw`, the message as stored (CRLF, or bare LF tolerated)."""
    raw = bytes(raw)
    try:
        return parse_message_strictly(raw)
    except Exception:  # our own failure: log it and keep the message (docs/architecture.md: nothing is lost)
        log.exception("could not parse a message of %d octets; kept as text/plain", len(raw))
        return _unparsed(raw)


def parse_message_strictly(raw: bytes) -> ParsedMessage:
    """`parse_message` without its safety net, so that tests see any exception."""
    body, fields = parse_entity(raw, 0, len(raw))
    headers: dict[str, list[str]] = {}
    for field in fields:
        if field.key in SEARCH_FIELDS:
            headers.setdefault(field.key, []).append(decode_words(to_text(field.value)))
    return ParsedMessage(
        size=len(raw),
        envelope=build_envelope(fields),
        body=body,
        headers=headers,
        sort_date=sort_date(headers.get("date", [None])[0]),
        sort_subject=base_subject(headers.get("subject", [""])[0]),
        preview=make_preview(raw, body),
    )


def sort_date(value: str | None) -> datetime | None:
    """RFC 5256 §2.2 sent date: the Date field (RFC 5322 §3.3) in UTC, or None if unusable."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
        # RFC 5322 §3.3: "-0000" (a naive result) is UTC without local-time information.
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        return when.astimezone(timezone.utc)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


_SUBJ_TRAILER = re.compile(r"(?:\(fwd\)|[ \t])+$", re.IGNORECASE)
_SUBJ_BLOB = r"\[[^\[\]]*\][ \t]*"
_SUBJ_LEADER = re.compile(rf"(?:(?:{_SUBJ_BLOB})*(?:re|fwd?)[ \t]*(?:{_SUBJ_BLOB})?:|[ \t])",
                          re.IGNORECASE)
_SUBJ_BLOB_PREFIX = re.compile(_SUBJ_BLOB)


def base_subject(subject: str) -> str:
    """RFC 5256 §2.1 base subject of a decoded subject, casefolded for comparison."""
    # (1) Tabs, continuations and runs of white space become one space.
    text = re.sub(r"[ \t\r\n]+", " ", subject)
    while True:
        text = _SUBJ_TRAILER.sub("", text)  # (2)
        while True:  # (5) repeat (3) and (4) until nothing changes
            before = text
            if match := _SUBJ_LEADER.match(text):  # (3)
                text = text[match.end():]
            match = _SUBJ_BLOB_PREFIX.match(text)
            if match and text[match.end():].strip(" \t"):  # (4) only if a subj-base remains
                text = text[match.end():]
            if text == before:
                break
        # (6) "[fwd: ... ]" wrapper: remove it and start again at (2).
        if text[:5].lower() == "[fwd:" and text.endswith("]"):
            text = text[5:-1]
            continue
        return text.casefold()


def make_preview(raw: bytes, body: BodyPart) -> str:
    """RFC 8970 spirit: the start of the first text/plain (else text/html) part that is not an
    attachment, transfer- and charset-decoded, tags stripped, white space collapsed."""
    part = _first_text(body, "PLAIN") or _first_text(body, "HTML")
    if part is None:
        return ""
    data = raw[part.body_start:min(part.end, part.body_start + PREVIEW_SCAN_BYTES)]
    text = decode_charset(decode_transfer(data, part.encoding), part.param("CHARSET"))
    if part.subtype == "HTML":
        text = _html_text(text)
    return " ".join(text.split())[:PREVIEW_CHARS]


def _first_text(part: BodyPart, subtype: str) -> BodyPart | None:
    # Encapsulated messages (message/rfc822) are attachments of their own: not looked into.
    if part.is_multipart:
        for child in part.children:
            if found := _first_text(child, subtype):
                return found
        return None
    is_attachment = part.disposition is not None and part.disposition.type == "ATTACHMENT"
    if part.type == "TEXT" and part.subtype == subtype and not is_attachment:
        return part
    return None


class _HtmlText(HTMLParser):
    _HIDDEN = frozenset({"script", "style", "title", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.hidden += tag in self._HIDDEN
        self.pieces.append(" ")  # "a</p><p>b" reads as two words

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN and self.hidden:
            self.hidden -= 1
        self.pieces.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.pieces.append(data)


def _html_text(html: str) -> str:
    parser = _HtmlText()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # html.parser has raised AssertionError on odd markup; a preview is optional
        pass
    return "".join(parser.pieces)


def _unparsed(raw: bytes) -> ParsedMessage:
    """The safety net: the whole message as one text/plain body with no header."""
    body = BodyPart(
        type="TEXT", subtype="PLAIN", params=(("CHARSET", "us-ascii"),), id=None,
        description=None, encoding="7BIT", size=len(raw), lines=count_lines(raw, 0, len(raw)),
        md5=None, disposition=None, language=None, location=None,
        header_start=0, body_start=0, end=len(raw),
    )
    return ParsedMessage(len(raw), EMPTY_ENVELOPE, body, {}, None, "", "")


# The JSON form: plain lists and objects, every field written, so reading back needs no defaults.

def _addresses_out(addresses: tuple[Address, ...]) -> list[list[str | None]]:
    return [[a.name, a.adl, a.mailbox, a.host] for a in addresses]


def _addresses_in(data: list[list[str | None]]) -> tuple[Address, ...]:
    return tuple(Address(*item) for item in data)


_ADDRESS_FIELDS = ("from_", "sender", "reply_to", "to", "cc", "bcc")
_STRING_FIELDS = ("date", "subject", "in_reply_to", "message_id")


def _envelope_out(envelope: Envelope) -> dict[str, Any]:
    out: dict[str, Any] = {name: getattr(envelope, name) for name in _STRING_FIELDS}
    out.update({name: _addresses_out(getattr(envelope, name)) for name in _ADDRESS_FIELDS})
    return out


def _envelope_in(data: dict[str, Any]) -> Envelope:
    values = {name: data[name] for name in _STRING_FIELDS}
    values.update({name: _addresses_in(data[name]) for name in _ADDRESS_FIELDS})
    return Envelope(**values)


def _params_out(params: tuple[tuple[str, str], ...]) -> list[list[str]]:
    return [[name, value] for name, value in params]


def _params_in(data: list[list[str]]) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in data)


def _part_out(part: BodyPart) -> dict[str, Any]:
    disposition = part.disposition
    return {
        "type": part.type,
        "subtype": part.subtype,
        "params": _params_out(part.params),
        "id": part.id,
        "description": part.description,
        "encoding": part.encoding,
        "size": part.size,
        "lines": part.lines,
        "md5": part.md5,
        "disposition": None if disposition is None
        else [disposition.type, _params_out(disposition.params)],
        "language": None if part.language is None else list(part.language),
        "location": part.location,
        "offsets": [part.header_start, part.body_start, part.end],
        "children": [_part_out(child) for child in part.children],
        "envelope": None if part.envelope is None else _envelope_out(part.envelope),
        "body": None if part.body is None else _part_out(part.body),
    }


def _part_in(data: dict[str, Any]) -> BodyPart:
    disposition = data["disposition"]
    language = data["language"]
    header_start, body_start, end = data["offsets"]
    return BodyPart(
        type=data["type"],
        subtype=data["subtype"],
        params=_params_in(data["params"]),
        id=data["id"],
        description=data["description"],
        encoding=data["encoding"],
        size=data["size"],
        lines=data["lines"],
        md5=data["md5"],
        disposition=None if disposition is None
        else Disposition(disposition[0], _params_in(disposition[1])),
        language=None if language is None else tuple(language),
        location=data["location"],
        header_start=header_start,
        body_start=body_start,
        end=end,
        children=tuple(_part_in(child) for child in data["children"]),
        envelope=None if data["envelope"] is None else _envelope_in(data["envelope"]),
        body=None if data["body"] is None else _part_in(data["body"]),
    )
