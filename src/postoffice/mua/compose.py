"""Building outgoing messages: recipients, MIME structure, replies and forwards.

Messages are `email.message.EmailMessage` objects generated with policy SMTP (CRLF, non-ASCII
header text as RFC 2047 encoded-words, RFC 2231 file names), or SMTPUTF8 when an address itself
is non-ASCII (RFC 6532, and the submission then asks for SMTPUTF8). Text bodies are 7bit when they
are ASCII, quoted-printable otherwise, so the message needs no 8BITMIME; attachments are base64
with the content type `mimetypes` guesses from the file name, but for a file holding a message
(.eml), which RFC 2046 §5.2.1 wants attached as message/rfc822 unencoded. Every message has Date and
Message-ID (RFC 5322 §3.6.1, §3.6.4) made here, so the copy in Sent carries the same Message-ID
as the copies the recipients get.

Bcc recipients are in the envelope only; the Sent copy keeps a Bcc field so its sender can see
who got it (RFC 5322 §3.6.3 allows either).

Replies thread per RFC 5322 §3.6.4: In-Reply-To is the parent's Message-ID and References the
parent's References (else its In-Reply-To) followed by its Message-ID. Reply-all answers the
parent's Reply-To or From, copies its To and Cc, and leaves out the replier's own address.

Attachments are read (and their existence checked) before any connection is made, so a missing
file stops the command before anything is sent.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

import postoffice
from postoffice.mua import parts
from postoffice.mua.connect import MuaError

_MSGID = re.compile(r"<[^<>\s]+>")


@dataclass(frozen=True, slots=True)
class FileAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(slots=True)
class Draft:
    sender: Address
    to: list[Address] = field(default_factory=list)
    cc: list[Address] = field(default_factory=list)
    bcc: list[Address] = field(default_factory=list)
    subject: str = ""
    text: str = ""
    html: str | None = None
    attachments: list[FileAttachment] = field(default_factory=list)
    attached_messages: list[EmailMessage] = field(default_factory=list)  # forwarded as message/rfc822
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Built:
    message_id: str
    data: bytes               # what is submitted: CRLF, no Bcc
    sent_copy: bytes          # what goes to Sent: the same, with Bcc
    sender: str
    recipients: tuple[str, ...]
    smtputf8: bool
    eightbit: bool


# --- recipients --------------------------------------------------------------------------------

def split_list(value: str) -> list[str]:
    """Split "a@x, Bob, \"Doe, J\" <j@y>" at the commas outside quotes, comments and angle brackets.

    RFC 5322 §3.2.4, §3.2.2: in a quoted string or a comment a backslash takes the next character as
    it is (quoted-pair), so `"Doe \\", J" <j@y>` is one address, and so is `j@y (Doe, J)`.
    """
    items: list[str] = []
    buf: list[str] = []
    quoted, escaped, comment, angle = False, False, 0, 0
    for ch in value:
        if escaped:
            escaped = False
        elif ch == "\\" and (quoted or comment):
            escaped = True
        elif quoted:
            quoted = ch != '"'
        elif ch == '"' and not comment:
            quoted = True
        elif ch == "(":
            comment += 1
        elif ch == ")" and comment:
            comment -= 1
        elif comment:
            pass
        elif ch == "<":
            angle += 1
        elif ch == ">":
            angle = max(0, angle - 1)
        elif ch == "," and not angle:
            items.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    items.append("".join(buf))
    return [i.strip() for i in items if i.strip()]


def address(text: str) -> Address:
    """An address as written: "a@x", "Name <a@x>"."""
    name, spec = parseaddr(text)
    if not spec or "@" not in spec:
        raise MuaError(f"{text!r} is not an address")
    try:
        return make_address(name, spec)
    except (ValueError, IndexError, HeaderParseError):
        raise MuaError(f"{text!r} is not an address") from None


def make_address(name: str, spec: str) -> Address:
    if spec.isascii():
        return Address(display_name=name, addr_spec=spec)
    # RFC 6532 §3.2: a UTF-8 local part is valid with SMTPUTF8. The email package refuses to parse
    # one (NonASCIILocalPartDefect) but writes it, under policy SMTPUTF8, when given in pieces.
    local, _, domain = spec.rpartition("@")
    if not local or not domain or any(c.isspace() or c in '<>()[],;:\\"' for c in local + domain):
        raise ValueError(spec)
    return Address(display_name=name, username=local, domain=domain)


def recipients(values: Iterable[str], lookup: Callable[[str], str]) -> list[Address]:
    """Addresses from --to/--cc/--bcc values; a text without "@" goes through `lookup` (contacts)."""
    out: list[Address] = []
    for value in values:
        for item in split_list(value):
            out.append(address(item if "@" in item else lookup(item)))
    return out


def _unique(addresses: Iterable[Address], exclude: set[str]) -> list[Address]:
    seen = set(exclude)
    out = []
    for a in addresses:
        key = a.addr_spec.casefold()
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


# --- files -------------------------------------------------------------------------------------

def read_attachments(paths: Iterable[str]) -> list[FileAttachment]:
    out = []
    for name in paths:
        path = Path(name).expanduser()
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise MuaError(f"attachment not found: {name}; nothing was sent") from None
        except IsADirectoryError:
            raise MuaError(f"attachment is a directory: {name}; nothing was sent") from None
        except OSError as e:
            raise MuaError(f"cannot read attachment {name}: {e.strerror}; nothing was sent") from None
        guessed, encoding = mimetypes.guess_type(path.name, strict=False)
        if encoding == "gzip":
            guessed = "application/gzip"
        elif encoding:
            guessed = "application/octet-stream"
        out.append(FileAttachment(path.name, guessed or "application/octet-stream", data))
    return out


# --- building ----------------------------------------------------------------------------------

def _cte(text: str) -> str:
    longest = max((len(line) for line in text.splitlines()), default=0)
    return "7bit" if text.isascii() and longest <= 998 else "quoted-printable"  # RFC 5322 §2.1.1


def build(draft: Draft, *, now: datetime | None = None) -> Built:
    if any(c in draft.subject for c in "\r\n"):  # RFC 5322 §2.2: a line break would end the field
        raise MuaError("the subject cannot hold a line break; nothing was sent")
    everyone = [draft.sender, *draft.to, *draft.cc, *draft.bcc]
    smtputf8 = any(not a.addr_spec.isascii() for a in everyone)
    pol = policy.SMTPUTF8 if smtputf8 else policy.SMTP
    msg = EmailMessage(policy=pol)
    msg["From"] = draft.sender
    if draft.to:
        msg["To"] = draft.to
    if draft.cc:
        msg["Cc"] = draft.cc
    if not draft.to and not draft.cc:
        msg["To"] = "undisclosed-recipients:;"  # RFC 5322 §3.6.3: Bcc only, an empty group
    msg["Subject"] = draft.subject
    msg["Date"] = format_datetime((now or datetime.now()).astimezone())
    message_id = make_msgid(domain=draft.sender.domain or None)
    msg["Message-ID"] = message_id
    if draft.in_reply_to:
        msg["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        msg["References"] = " ".join(draft.references)
    msg["User-Agent"] = f"postoffice/{postoffice.__version__}"
    text = draft.text if draft.text.endswith("\n") or not draft.text else draft.text + "\n"
    msg.set_content(text, cte=_cte(text))
    if draft.html is not None:
        msg.add_alternative(draft.html, subtype="html", cte=_cte(draft.html))
    for att in draft.attachments:
        maintype, _, subtype = att.content_type.partition("/")
        if att.content_type == "message/rfc822":
            # RFC 2046 §5.2.1: a message/rfc822 body is 7bit, 8bit or binary, never base64; a file
            # holding a message (.eml) is attached as the message it holds, in CRLF like the rest.
            msg.add_attachment(parts.parse(att.data), filename=att.filename,
                               cte="7bit" if att.data.isascii() else "8bit")
        else:
            msg.add_attachment(att.data, maintype=maintype, subtype=subtype, filename=att.filename)
    for forwarded in draft.attached_messages:
        msg.add_attachment(forwarded)
    data = msg.as_bytes(policy=pol)
    if draft.bcc:
        msg["Bcc"] = draft.bcc
    sent_copy = msg.as_bytes(policy=pol) if draft.bcc else data
    rcpts = _unique([*draft.to, *draft.cc, *draft.bcc], set())
    return Built(message_id, data, sent_copy, draft.sender.addr_spec, tuple(a.addr_spec for a in rcpts), smtputf8,
                 eightbit=any(b > 0x7F for b in data))


# --- replies and forwards ----------------------------------------------------------------------

def message_ids(value: str) -> list[str]:
    return _MSGID.findall(value or "")


def _addresses(msg: EmailMessage, name: str) -> list[Address]:
    out: list[Address] = []
    try:
        fields = msg.get_all(name) or []
    except Exception:  # see parts.header: the registry's parsers fail in many ways
        return out
    for f in fields:
        for a in getattr(f, "addresses", ()):
            if a.addr_spec and "@" in a.addr_spec:
                try:
                    out.append(make_address(a.display_name, a.addr_spec))
                except (ValueError, IndexError, HeaderParseError):
                    continue  # an address too broken to answer
    return out


def prefixed(subject: str, prefix: str) -> str:
    """ "Re: x" for "x", and "Re: x" for "RE: x" too: one prefix, never "Re: Re:"."""
    if re.match(rf"\s*{re.escape(prefix)}\s*:", subject, re.I):
        return subject
    return f"{prefix}: {subject}"


def quote(original: EmailMessage) -> str:
    when = parts.header(original, "Date") or "an unknown date"
    who = _addresses(original, "From")
    name = (who[0].display_name or who[0].addr_spec) if who else "someone"
    lines = parts.body_text(original).rstrip("\n").splitlines()
    quoted = "\n".join((">" + line if line.startswith(">") else "> " + line) if line else ">" for line in lines)
    return f"On {when}, {name} wrote:\n{quoted}\n"


def reply(draft: Draft, original: EmailMessage, *, reply_all: bool, own: set[str]) -> None:
    """Fill `draft` as a reply to `original`: recipients, subject, threading, and the quote."""
    own = {a.casefold() for a in own}
    sender = _addresses(original, "From")
    if sender and sender[0].addr_spec.casefold() in own:
        to = _addresses(original, "To")  # a reply to one's own message goes to its recipients
    else:
        to = _addresses(original, "Reply-To") or sender
    cc = [*_addresses(original, "To"), *_addresses(original, "Cc")] if reply_all else []
    draft.to = _unique([*draft.to, *to], own)
    draft.cc = _unique([*draft.cc, *cc], own | {a.addr_spec.casefold() for a in draft.to})
    draft.subject = draft.subject or prefixed(parts.header(original, "Subject"), "Re")
    parent_id = message_ids(parts.header(original, "Message-ID"))
    refs = message_ids(parts.header(original, "References"))
    if not refs:
        in_reply_to = message_ids(parts.header(original, "In-Reply-To"))
        refs = in_reply_to if len(in_reply_to) == 1 else []
    draft.in_reply_to = parent_id[0] if parent_id else None
    draft.references = refs + parent_id[:1]
    draft.text = (draft.text.rstrip("\n") + "\n\n" if draft.text.strip() else "") + quote(original)


def forward(draft: Draft, original: EmailMessage, *, as_attachment: bool) -> None:
    """Fill `draft` as a forward of `original`: inline with its attachments, or attached whole."""
    draft.subject = draft.subject or prefixed(parts.header(original, "Subject"), "Fwd")
    parent_id = message_ids(parts.header(original, "Message-ID"))
    draft.references = message_ids(parts.header(original, "References")) + parent_id[:1]
    intro = draft.text.rstrip("\n") + "\n\n" if draft.text.strip() else ""
    if as_attachment:
        draft.text = intro
        draft.attached_messages.append(original)
        return
    fields = [(name, parts.header(original, name)) for name in ("From", "Date", "Subject", "To", "Cc")]
    head = "\n".join(f"{name}: {value}" for name, value in fields if value)
    draft.text = (f"{intro}---------- Forwarded message ----------\n{head}\n\n"
                  + parts.body_text(original).rstrip("\n") + "\n")
    for att in parts.attachments(original):
        if att.content_type == "message/rfc822":
            draft.attached_messages.append(parts.parse(att.data))
        else:
            draft.attachments.append(FileAttachment(att.filename or "attachment", att.content_type, att.data))
