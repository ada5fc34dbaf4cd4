"""The IMAP ENVELOPE of a message: its RFC 5322 originator, destination and identity fields.

Role: turn header fields into the ten members of RFC 9051 §7.5.2 ENVELOPE, with address lists split
into (name, adl, mailbox, host) structures, ready for the FETCH encoder to write without parsing.

RFCs: 9051 §7.5.2 and 3501 §7.4.2 (ENVELOPE, group markers, defaults), 5322 §3.4 (address syntax),
§4.4 (obsolete routes and phrases), 2047 (encoded-words are kept encoded: IMAP returns them raw).

Choices: values are the unfolded field text, stripped of outer white space, with non-UTF-8 bytes
kept as lone surrogates (`surrogateescape`) so the encoder can write the original octets back. A
display name loses its comments and quoting and has its white space collapsed; when an address has
no display name, a comment beside it serves as one (`john@example.test (John)`). A local part keeps
its quotes, so that `mailbox@host` is still a valid address. An address without "@" gets host ""
rather than NIL, since a NIL host marks a group. The first field of each name counts (RFC 5322
§4.5 leaves the meaning of repeated fields unspecified).

Left out: validation. Syntax errors give a best-effort structure, never an exception; `email.utils`
is not used because it unquotes and decodes, and IMAP wants the parts as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from postoffice.message.headers import RawField, raw_text


@dataclass(frozen=True, slots=True)
class Address:
    """One address structure. Group start: mailbox = group name, host None; group end: all None."""

    name: str | None
    adl: str | None
    mailbox: str | None
    host: str | None


GROUP_END = Address(None, None, None, None)


@dataclass(frozen=True, slots=True)
class Envelope:
    """RFC 9051 §7.5.2 ENVELOPE. None is NIL; an empty tuple is NIL too (absent or empty list)."""

    date: str | None
    subject: str | None
    from_: tuple[Address, ...]
    sender: tuple[Address, ...]
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    bcc: tuple[Address, ...]
    in_reply_to: str | None
    message_id: str | None


EMPTY_ENVELOPE = Envelope(None, None, (), (), (), (), (), (), None, None)


def build_envelope(fields: list[RawField]) -> Envelope:
    """The envelope of a header section, from its fields as `headers.scan_header` found them."""
    first: dict[str, str] = {}
    for field in fields:
        first.setdefault(field.key, raw_text(field.value))

    def addresses(key: str) -> tuple[Address, ...]:
        return parse_address_list(first[key]) if key in first else ()

    from_ = addresses("from")
    # RFC 9051 §7.5.2: a Sender or Reply-To that is absent, or present but empty, is From.
    return Envelope(
        date=first.get("date"),
        subject=first.get("subject"),
        from_=from_,
        sender=addresses("sender") or from_,
        reply_to=addresses("reply-to") or from_,
        to=addresses("to"),
        cc=addresses("cc"),
        bcc=addresses("bcc"),
        in_reply_to=first.get("in-reply-to"),
        message_id=first.get("message-id"),
    )


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # "atom", "qstr", "comment", or the special character itself
    text: str  # unquoted / unescaped content
    raw: str  # as written
    spaced: bool  # white space (or a comment) came right before it


_SPACE = " \t\r\n"
_SINGLE = "<>@,;:."
_ATOM_STOP = frozenset(_SPACE + '(<>@,;:".[')


def parse_address_list(value: str) -> tuple[Address, ...]:
    """RFC 5322 §3.4 address-list (and obsolete forms, §4.4) as IMAP address structures."""
    tokens = _tokenize(value)
    out: list[Address] = []
    i, n = 0, len(tokens)
    while i < n:
        if tokens[i].kind in (",", ";"):
            i += 1
            continue
        j = i
        while j < n and tokens[j].kind in ("atom", "qstr", ".", "comment"):
            j += 1
        if j < n and tokens[j].kind == ":":
            # RFC 3501 §7.4.2: group start, the members, then the end-of-group marker.
            out.append(Address(None, None, _phrase(tokens[i:j]) or "", None))
            i = j + 1
            while i < n and tokens[i].kind != ";":
                if tokens[i].kind == ",":
                    i += 1
                    continue
                i = _take_mailbox(tokens, i, out)
            out.append(GROUP_END)
            i += 1
        else:
            i = _take_mailbox(tokens, i, out)
    return tuple(out)


def _take_mailbox(tokens: list[_Token], i: int, out: list[Address]) -> int:
    """Read one mailbox from tokens[i:], append it to `out`, and return where it stopped."""
    j, angle = i, 0
    while j < len(tokens):
        kind = tokens[j].kind
        if kind == "<":
            angle += 1
        elif kind == ">":
            angle = max(0, angle - 1)
        elif kind in (",", ";") and not angle:
            break
        j += 1
    if address := _mailbox(tokens[i:j]):
        out.append(address)
    return max(j, i + 1)


def _mailbox(tokens: list[_Token]) -> Address | None:
    kinds = [t.kind for t in tokens]
    if "<" in kinds:
        # name-addr = [display-name] angle-addr; angle-addr may hold an obs-route (RFC 5322 §4.4).
        lt = kinds.index("<")
        gt = kinds.index(">", lt) if ">" in kinds[lt:] else len(tokens)
        name = _phrase(tokens[:lt]) or _comment_name(tokens[gt:])
        inner = [t for t in tokens[lt + 1:gt] if t.kind != "comment"]
        adl = None
        if inner and inner[0].kind == "@" and any(t.kind == ":" for t in inner):
            colon = [t.kind for t in inner].index(":")
            adl = "".join(t.raw for t in inner[:colon])
            inner = inner[colon + 1:]
        mailbox, host = _addr_spec(inner)
        return Address(name, adl, mailbox, host)
    content = [t for t in tokens if t.kind != "comment"]
    if not content:
        return None
    mailbox, host = _addr_spec(content)
    return Address(_comment_name(tokens), None, mailbox, host)


def _addr_spec(tokens: list[_Token]) -> tuple[str, str]:
    ats = [k for k, t in enumerate(tokens) if t.kind == "@"]
    if not ats:
        return _joined(tokens), ""
    at = ats[-1]
    # RFC 5322 §4.4: CFWS may sit around the dots of an obsolete local part or domain; drop it.
    local = "".join(t.raw for t in tokens[:at])
    domain = "".join(t.raw for t in tokens[at + 1:])
    return local, domain


def _phrase(tokens: list[_Token]) -> str | None:
    """A display name: words unquoted, comments dropped, white space collapsed to one space."""
    words: list[str] = []
    spaced = False
    for token in tokens:
        if token.kind == "comment":
            spaced = True
            continue
        if words and (spaced or token.spaced):
            words.append(" ")
        words.append(token.text)
        spaced = False
    return "".join(words).strip() or None


def _comment_name(tokens: list[_Token]) -> str | None:
    for token in tokens:
        if token.kind == "comment" and token.text.strip():
            return " ".join(token.text.split())
    return None


def _joined(tokens: list[_Token]) -> str:
    return "".join((" " if k and t.spaced else "") + t.raw for k, t in enumerate(tokens))


def _tokenize(value: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(value)
    spaced = False
    while i < n:
        c = value[i]
        if c in _SPACE:
            spaced = True
            i += 1
            continue
        if c == '"':
            end, text = quoted_string(value, i)
            tokens.append(_Token("qstr", text, value[i:end], spaced))
        elif c == "(":
            end, text = _comment(value, i)
            tokens.append(_Token("comment", text, value[i:end], spaced))
        elif c == "[":
            close = value.find("]", i + 1)
            end = n if close < 0 else close + 1
            tokens.append(_Token("atom", value[i:end], value[i:end], spaced))
        elif c in _SINGLE:
            end = i + 1
            tokens.append(_Token(c, c, c, spaced))
        else:
            end = i + 1
            while end < n and value[end] not in _ATOM_STOP:
                end += 1
            tokens.append(_Token("atom", value[i:end], value[i:end], spaced))
        spaced = False
        i = end
    return tokens


def quoted_string(value: str, start: int) -> tuple[int, str]:
    """RFC 5322 §3.2.4 quoted-string at value[start]: its end and unescaped content."""
    out: list[str] = []
    i = start + 1
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if c == '"':
            return i + 1, "".join(out)
        out.append(c)
        i += 1
    return i, "".join(out)  # unterminated: up to the end


def _comment(value: str, start: int) -> tuple[int, str]:
    """RFC 5322 §3.2.2 comment at value[start], nested ones included: its end and content."""
    out: list[str] = []
    depth = 0
    i = start
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            out.append(value[i + 1])
            i += 2
            continue
        if c == "(":
            depth += 1
            if depth > 1:
                out.append(c)
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i + 1, "".join(out)
            out.append(c)
        else:
            out.append(c)
        i += 1
    return i, "".join(out)
