"""FETCH attributes: what a FETCH asks for, down to BODY[1.2.HEADER.FIELDS (To)]<0.512>.

Role: `parse_fetch_attributes` reads the part of a FETCH command after the sequence set (a macro,
one attribute, or a parenthesised list) into a tuple of attributes, and `parse_fetch_modifiers`
the CONDSTORE/QRESYNC modifiers after it. Simple attributes are their upper-cased names
("FLAGS", "RFC822.SIZE", ...); the others are `BodySection`, `Binary` and `BinarySize` values, their
section a `Section`.

RFCs: RFC 9051 §6.4.5 (FETCH, the macros ALL/FAST/FULL, BODY[section]<partial>, BODY.PEEK,
BINARY[.PEEK], BINARY.SIZE) and §9 (fetch-att, section, section-spec, section-part,
section-msgtext, section-text, section-binary, partial, header-list); RFC 3501 §6.4.5 (RFC822,
RFC822.HEADER, RFC822.TEXT: rev1 only, still parsed); RFC 3516 (BINARY); RFC 7162 §3.1.4.1,
§3.1.5, §3.2.6 (the MODSEQ attribute, CHANGEDSINCE and VANISHED modifiers); RFC 4466 §2.4
(fetch-modifiers syntax).

Left out: PREVIEW (RFC 8970), EMAILID/THREADID (RFC 8474), SAVEDATE (RFC 8514), the Gmail X-GM-*
attributes; each is refused as an unknown attribute.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from postoffice.imap.wire.lexer import MAX_NUMBER64, Reader, Syntax

__all__ = ["Section", "BodySection", "Binary", "BinarySize", "FetchAttribute", "MACROS",
           "SIMPLE_ATTRIBUTES", "parse_fetch_attributes", "parse_fetch_modifiers"]

SIMPLE_ATTRIBUTES = frozenset({
    "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE", "RFC822.TEXT",
    "BODY", "BODYSTRUCTURE", "UID", "MODSEQ",
})
# RFC 9051 §6.4.5: the macros are equivalent to these lists and cannot be combined with others.
MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_NAME = re.compile(rb"[A-Za-z0-9.\-]+")
_PART = re.compile(rb"[1-9][0-9]{0,9}(?:\.[1-9][0-9]{0,9})*")
_PARTIAL = re.compile(rb"<([0-9]{1,19})\.([0-9]{1,19})>")
# RFC 5322 §3.6.8 field-name: printable ASCII except ":".
_FIELD_NAME = re.compile(r"[\x21-\x39\x3b-\x7e]+")
_PLAIN_FIELD = re.compile(r'[^\x00-\x20\x7f-\U0010ffff(){%*"\\]+')     # an ASTRING-CHAR run


def _astring(name: str) -> str:
    if _PLAIN_FIELD.fullmatch(name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Section:
    """A body section: `part` the part numbers (() for the whole message); `text` one of None
    (the whole part), "HEADER", "HEADER.FIELDS", "HEADER.FIELDS.NOT", "TEXT", "MIME"; `fields`
    the header field names for the HEADER.FIELDS forms, as sent."""

    part: tuple[int, ...] = ()
    text: str | None = None
    fields: tuple[str, ...] = ()

    def __str__(self) -> str:
        spec = ".".join(map(str, self.part))
        if self.text:
            spec = f"{spec}.{self.text}" if spec else self.text
        if self.fields:
            spec += " (" + " ".join(map(_astring, self.fields)) + ")"
        return f"[{spec}]"


@dataclass(frozen=True, slots=True)
class BodySection:
    """BODY[section]<origin.count> or BODY.PEEK[...]: `partial` is (origin, count) or None."""

    section: Section
    peek: bool = False
    partial: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class Binary:
    """BINARY[part]<origin.count> or BINARY.PEEK[...] (RFC 3516): the part decoded from its CTE."""

    part: tuple[int, ...] = ()
    peek: bool = False
    partial: tuple[int, int] | None = None


@dataclass(frozen=True, slots=True)
class BinarySize:
    """BINARY.SIZE[part] (RFC 3516): the decoded size of the part."""

    part: tuple[int, ...] = ()


FetchAttribute = str | BodySection | Binary | BinarySize


def _header_field(r: Reader) -> str:
    name = r.astring()
    if not _FIELD_NAME.fullmatch(name):
        raise Syntax("Invalid header field name")
    return name


def _part(r: Reader) -> tuple[int, ...]:
    m = _PART.match(r.buf, r.pos, r.end)
    if not m:
        return ()
    # "1.2.HEADER": the part stops before the first "." that is not followed by a digit.
    r.pos = m.end()
    return tuple(int(n) for n in m[0].split(b"."))


def _section(r: Reader) -> Section:
    r.expect(b"[")
    part = _part(r)
    text: str | None = None
    fields: tuple[str, ...] = ()
    if r.peek() != 0x5D:                  # "]"
        if part:
            r.expect(b".")
        m = _NAME.match(r.buf, r.pos, r.end)
        word = m[0].upper().decode("ascii") if m else ""
        after = m.end() if m else r.pos
        if word in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
            r.pos = after
            r.sp()
            fields = tuple(r.paren_list(lambda: _header_field(r), empty=False))
        elif word in ("HEADER", "TEXT") or (word == "MIME" and part):
            r.pos = after
        else:
            raise Syntax("Invalid section")   # RFC 9051 §9: MIME only after a part number
        text = word
    r.expect(b"]")
    return Section(part, text, fields)


def _binary_part(r: Reader) -> tuple[int, ...]:
    r.expect(b"[")
    part = _part(r)
    r.expect(b"]")
    return part


def _partial(r: Reader) -> tuple[int, int] | None:
    if r.peek() != 0x3C:                  # "<"
        return None
    m = _PARTIAL.match(r.buf, r.pos, r.end)
    if not m:
        raise Syntax("Invalid partial range")
    origin, count = int(m[1]), int(m[2])
    # RFC 9051 §9: partial = "<" number64 "." nz-number64 ">"
    if origin > MAX_NUMBER64 or not 0 < count <= MAX_NUMBER64:
        raise Syntax("Invalid partial range")
    r.pos = m.end()
    return origin, count


def _attribute(r: Reader) -> FetchAttribute:
    m = _NAME.match(r.buf, r.pos, r.end)
    if not m:
        raise Syntax("Expected a FETCH attribute")
    r.pos = m.end()
    name = m[0].upper().decode("ascii")
    bracket = r.peek() == 0x5B            # "["
    if name in ("BODY", "BODY.PEEK") and bracket:
        section = _section(r)
        return BodySection(section, name == "BODY.PEEK", _partial(r))
    if name in ("BINARY", "BINARY.PEEK") and bracket:
        part = _binary_part(r)
        return Binary(part, name == "BINARY.PEEK", _partial(r))
    if name == "BINARY.SIZE" and bracket:
        return BinarySize(_binary_part(r))
    if name in SIMPLE_ATTRIBUTES:
        return name
    raise Syntax("Unknown FETCH attribute")


def parse_fetch_attributes(r: Reader) -> tuple[FetchAttribute, ...]:
    """ "ALL" / "FULL" / "FAST" / fetch-att / "(" fetch-att *(SP fetch-att) ")" """
    if r.peek() == 0x28:                  # "("
        return tuple(dict.fromkeys(r.paren_list(lambda: _attribute(r), empty=False)))
    m = _NAME.match(r.buf, r.pos, r.end)
    word = m[0].upper().decode("ascii") if m else ""
    if m and word in MACROS:
        r.pos = m.end()
        return MACROS[word]
    return (_attribute(r),)


def parse_fetch_modifiers(r: Reader, *, uid: bool) -> tuple[int | None, bool]:
    """ [SP "(" fetch-modifier *(SP fetch-modifier) ")"]: (CHANGEDSINCE value or None, VANISHED)."""
    changedsince: int | None = None
    vanished = False
    if not r.accept(b" "):
        return None, False

    def modifier() -> None:
        nonlocal changedsince, vanished
        word = r.keyword("a FETCH modifier")
        if word == "CHANGEDSINCE" and changedsince is None:
            r.sp()
            changedsince = r.number(MAX_NUMBER64, what="a mod-sequence")   # RFC 7162: 0 allowed
        elif word == "VANISHED" and not vanished:
            vanished = True
        else:
            raise Syntax("Unknown or repeated FETCH modifier")

    r.paren_list(modifier, empty=False)
    if vanished and not (uid and changedsince is not None):
        # RFC 7162 §3.2.6: VANISHED only in UID FETCH, and only together with CHANGEDSINCE.
        raise Syntax("VANISHED needs UID FETCH and CHANGEDSINCE")
    return changedsince, vanished
