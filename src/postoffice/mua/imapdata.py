"""Reading what imaplib hands back: FETCH, LIST and STATUS data, and mailbox names.

imaplib returns the untagged data of a command as a list whose items are either a line (bytes) or
a `(line-up-to-a-literal, literal)` pair; one FETCH response is spread over several such items
when it carries literals. This module puts each response back together and parses it into Python
values (RFC 9051 §9 / RFC 3501 §9 syntax: atoms, numbers, quoted strings, literals, NIL and
parenthesized lists), so callers read `{"UID": 7, "FLAGS": ["\\Seen"], "BODY[]": b"..."}`.

Mailbox names are modified UTF-7 (RFC 3501 §5.1.3) on the wire unless UTF8=ACCEPT is enabled
(RFC 6855 §3); `encode_mailbox` and `decode_mailbox` convert, with the codec of `imap.wire.mutf7`
(a pure function of the protocol, shared by both ends).

Left out: anything FETCH or LIST can carry that this client does not ask for is parsed generically
and ignored.
"""

from __future__ import annotations

import re

from postoffice.imap import responses
from postoffice.imap.wire.mutf7 import decode_mutf7, encode_mutf7

_ATOM_END = b' ()"{\r\n'
# RFC 9051 §7.5.2: in a FETCH response these names are followed by a section in brackets, which may
# hold spaces and parentheses. Anywhere else, or with no "]" after it, "[" is an atom character (a
# keyword such as $a[b).
_SECTIONED = (b"BODY", b"BINARY", b"BINARY.SIZE")


class ImapDataError(ValueError):
    """A response these parsers cannot read, or text no quoted string or mailbox name can carry."""


# --- mailbox names: modified UTF-7 -------------------------------------------------------------

def encode_mailbox(name: str) -> str:
    """RFC 3501 §5.1.3: printable ASCII as is ("&" as "&-"), other runs as modified BASE64 of UTF-16."""
    try:
        return encode_mutf7(name)
    except ValueError:  # a lone surrogate (undecodable bytes in a command-line argument)
        raise ImapDataError("it is not UTF-8 text") from None


def decode_mailbox(name: str) -> str:
    """The name a server sent, decoded; as sent when it is not modified UTF-7 (a server's own
    spelling, or UTF-8 after UTF8=ACCEPT), so it can still be shown and used."""
    try:
        return decode_mutf7(name)
    except ValueError:
        return name


def quote(value: str | bytes) -> str:
    """An IMAP quoted string (for names and search strings imaplib would otherwise send bare).

    RFC 9051 §9: a quoted string holds no CR, LF or NUL. Text that cannot be one raises ImapDataError
    rather than reaching the wire, where a line break would end the command and start another.
    """
    try:
        text = value.decode() if isinstance(value, bytes) else value
        text.encode()
    except UnicodeError:
        raise ImapDataError("it is not UTF-8 text") from None
    if any(c in text for c in "\r\n\0"):
        raise ImapDataError("it holds a line break or NUL, which no IMAP string can carry")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sequence_set(uids: list[int]) -> str:
    """"1:3,7,9:10" for [1, 2, 3, 7, 9, 10]; "" for none."""
    return responses.sequence_set(sorted(set(uids))) if uids else ""


# --- values -----------------------------------------------------------------------------------

# A value of a response: an atom (text, or a number), a string or literal (bytes), NIL, or a
# parenthesized list of values.
Value = str | int | bytes | None | list["Value"]
# What imaplib hands back for a command: lines, and (line, literal) pairs for lines that end in one.
Data = list[bytes | tuple[bytes, bytes] | None]


class _Literal(bytes):
    """A literal's bytes, told apart from the text around it while tokenizing."""


def _pieces(data: Data) -> list[list[bytes | _Literal]]:
    """imaplib's data items, regrouped into one list of pieces per response."""
    responses: list[list[bytes | _Literal]] = []
    for item in data:
        if item is None:
            continue
        if isinstance(item, tuple):
            head, literal = item[0], item[1]
            if not responses or _starts_response(head):
                responses.append([])
            responses[-1] += [re.sub(rb"\{\d+\+?\}$", b"", head), _Literal(literal)]
        else:
            if not responses or _starts_response(item):
                responses.append([])
            responses[-1].append(item)
    return responses


def _starts_response(line: bytes) -> bool:
    # A continuation after a literal starts with a space or ")", or is empty; a new response is neither.
    return bool(line) and line[:1] not in (b" ", b")")


def _tokens(pieces: list[bytes | _Literal]) -> list[str | int | bytes | None]:
    out: list[str | int | bytes | None] = []
    for piece in pieces:
        if isinstance(piece, _Literal):
            out.append(bytes(piece))
            continue
        i = 0
        while i < len(piece):
            c = piece[i:i + 1]
            if c in (b" ", b"\r", b"\n"):
                i += 1
            elif c in (b"(", b")"):
                out.append(c.decode())
                i += 1
            elif c == b'"':
                j, buf = i + 1, bytearray()
                while j < len(piece) and piece[j:j + 1] != b'"':
                    if piece[j:j + 1] == b"\\":
                        j += 1
                    buf += piece[j:j + 1]
                    j += 1
                out.append(bytes(buf))
                i = j + 1
            elif c == b"{":  # RFC 9051 §4.3: a literal is announced at a line's end, where imaplib cuts it out
                raise ImapDataError("a literal in the middle of a line")
            else:
                j = i
                while j < len(piece) and piece[j:j + 1] not in _ATOM_END:
                    if (piece[j:j + 1] == b"[" and piece[i:j].upper() in _SECTIONED
                            and (end := piece.find(b"]", j)) >= 0):  # BODY[HEADER.FIELDS (FROM)] is one name
                        j = end
                    j += 1
                atom = piece[i:j].decode("utf-8", "replace")
                out.append(None if atom.upper() == "NIL" else int(atom) if _is_number(atom) else atom)
                i = j
    return out


def _is_number(atom: str) -> bool:
    # RFC 9051 §9 number: ASCII digits ("²" is a digit to str.isdigit). A mailbox named "007" is an
    # astring, and as a number it would come back as "7". A number64 has at most 19 digits: a longer
    # run stays text (int() refuses one of over 4300 digits).
    return (atom.isascii() and atom.isdigit() and len(atom) <= 19
            and (atom == "0" or not atom.startswith("0")))


def _nest(tokens: list[str | int | bytes | None]) -> list[Value]:
    stack: list[list[Value]] = [[]]
    for token in tokens:
        if token == "(":
            stack.append([])
        elif token == ")":
            if len(stack) == 1:
                raise ImapDataError("unbalanced parentheses")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token)
    while len(stack) > 1:  # a truncated response: keep what was read
        done = stack.pop()
        stack[-1].append(done)
    return stack[0]


def parse_responses(data: Data) -> list[list[Value]]:
    """Each response in imaplib's data, as a list of values."""
    return [_nest(_tokens(pieces)) for pieces in _pieces(data)]


def fetch_items(data: Data) -> dict[int, dict[str, Value]]:
    """UID FETCH data, by UID: `* 3 FETCH (UID 7 FLAGS (\\Seen) ...)` gives {7: {"UID": 7, ...}}."""
    out: dict[int, dict[str, Value]] = {}
    for response in parse_responses(data):
        if len(response) < 2 or not isinstance(response[-1], list):
            continue
        pairs = response[-1]
        items = {str(pairs[i]).upper(): pairs[i + 1] for i in range(0, len(pairs) - 1, 2)}
        uid = items.get("UID")
        if isinstance(uid, int):
            out.setdefault(uid, {}).update(items)
    return out


def list_items(data: Data) -> list[tuple[list[str], str | None, str]]:
    """LIST data: (attributes, delimiter, raw name) per mailbox."""
    out = []
    for response in parse_responses(data):
        if len(response) < 3 or not isinstance(response[0], list):
            continue
        attrs = [str(a) for a in response[0]]
        delimiter = response[1].decode("utf-8", "replace") if isinstance(response[1], bytes) else None
        name = response[2]
        if name is None:  # RFC 9051 §9: mailbox is an astring, so the atom NIL is a mailbox named "NIL"
            name = "NIL"
        name = name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)
        out.append((attrs, delimiter, name))
    return out


def status_items(data: Data) -> dict[str, int]:
    """STATUS data: {"MESSAGES": 3, "UNSEEN": 1}."""
    for response in parse_responses(data):
        if len(response) >= 2 and isinstance(response[-1], list):
            pairs = response[-1]
            return {str(name).upper(): value for name, value in zip(pairs[::2], pairs[1::2])
                    if isinstance(value, int)}
    return {}


def text(value: Value) -> str:
    """An nstring as text ("" for NIL)."""
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
