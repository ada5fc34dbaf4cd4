"""The fix-up the MSA applies to a submitted message before it is queued.

Role: check that the From field names only addresses the login may send as, then complete the
header (From, Sender, Date, Message-ID), strip Bcc and prepend the Received trace field. It edits
the raw bytes through `message.headers`, so the body and every field it does not touch stay
byte-identical (a DKIM signature made by the client survives), and non-ASCII values (RFC 6532)
pass through as they came. Pure: the clock, the Message-ID source and the Received value are
passed in.

RFCs: 6409 §8.1 (Sender), §8.2 (Date), §8.3 (Message-ID); 5322 §3.6 (exactly one From),
§3.6.2 (Sender required when From has several mailboxes), §3.6.3 (Bcc), §3.6.4 (msg-id);
5321 §4.4 (trace fields on top).

Choices: the added fields go right after Received, on top of the original header section, in the
order From, Sender, Date, Message-ID. When From is not exactly the login, Sender becomes the login,
replacing any Sender the client wrote (it could name anyone); a Sender that already is the login is
kept, so a second fix-up of the output adds nothing but another Received. A message whose header
ends at a line that is not a field (`message.headers` starts the body there, as `email` does) gets
the empty line RFC 5322 §2.1 asks for, so the body stays what it was. `changes` lists what was done
besides the Received line, which every message gets.

Left out: correcting a Date or Message-ID of bad syntax (RFC 6409 §8.2, §8.3 allow it; a client's
field is kept as written, unless a Message-ID is empty); Resent-* blocks (RFC 5322 §3.6.6);
transfer encoding, signing and rewriting (RFC 6409 §8.4-8.8).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from postoffice.addresses import BadAddress, normalize_address
from postoffice.message.envelope import parse_address_list
from postoffice.message.headers import (
    RawField, prepend_headers, raw_text, remove_header, scan_header,
)


class SenderRefused(Exception):
    """The From field names an address the login may not use, or is not one valid From field."""

    def __init__(self, address: str | None, reason: str) -> None:
        super().__init__(f"{reason}: {address}" if address is not None else reason)
        self.address = address  # as written in the header; None when no single address is at fault


@dataclass(frozen=True, slots=True)
class FixedUp:
    content: bytes  # the message to queue
    message_id: str  # as in the header, angle brackets included
    changes: tuple[str, ...]  # in words, e.g. "added Message-ID", for the message's journey


def fix_up(
    raw: bytes,
    *,
    login: str,
    sendable: set[str],
    envelope_sender: str,
    hostname: str,
    received: tuple[str, str],
    now: datetime,
    message_id_factory: Callable[[], str] | None = None,
) -> FixedUp:
    """The submitted message `raw`, fixed up; SenderRefused if its From may not be used.

    `sendable` holds the addresses the login may put in From (its own included); `login` must be
    an address (BadAddress, a ValueError, otherwise). `message_id_factory` gives the unique left
    part of a new Message-ID, `<left@hostname>`; by default a random UUID in hex.
    """
    login_address = normalize_address(login)
    allowed = {a.lower() for a in sendable}
    fields, body_start = scan_header(raw)
    header, body = raw[:body_start], raw[body_start:]
    by_key: dict[str, list[RawField]] = {}
    for field in fields:
        by_key.setdefault(field.key, []).append(field)

    changes: list[str] = []
    added: list[tuple[str, str]] = []
    # RFC 5322 §3.6: exactly one From; every mailbox in it must be the login's to use.
    from_fields = by_key.get("from", [])
    if len(from_fields) > 1:
        raise SenderRefused(None, "several From fields")
    if from_fields:
        authors = _mailboxes(raw_text(from_fields[0].value))
        if not authors:
            raise SenderRefused(None, "From names no mailbox")
        for written, normal in authors:
            if normal is None or normal not in allowed:
                raise SenderRefused(written, "From address not allowed for this login")
        authors_normal = [normal for _, normal in authors]
    else:
        if not envelope_sender:
            raise SenderRefused(None, "no From field and a null envelope sender")
        added.append(("From", f"<{envelope_sender}>"))
        changes.append("added From")
        authors_normal = [envelope_sender.lower()]

    # RFC 6409 §8.1; RFC 5322 §3.6.2: Sender is required when From has several mailboxes.
    senders = [[normal for _, normal in _mailboxes(raw_text(f.value))]
               for f in by_key.get("sender", [])]
    if authors_normal != [login_address]:
        if senders != [[login_address]]:  # a client's Sender could name anyone: ours replaces it
            if senders:
                header = remove_header(header, "Sender")
            added.append(("Sender", login_address))
            changes.append("replaced Sender" if senders else "added Sender")
    elif senders and not (len(senders) == 1 and len(senders[0]) == 1 and senders[0][0] in allowed):
        header = remove_header(header, "Sender")
        changes.append("removed Sender")

    if "date" not in by_key:  # RFC 6409 §8.2
        added.append(("Date", format_datetime(now)))
        changes.append("added Date")

    # RFC 6409 §8.3: add a Message-ID if there is none (an empty field counts as none).
    ids = [raw_text(f.value) for f in by_key.get("message-id", [])]
    if any(ids):
        message_id = next(i for i in ids if i)
    else:
        left = (message_id_factory or (lambda: uuid.uuid4().hex))()
        message_id = f"<{left}@{hostname}>"
        if ids:
            header = remove_header(header, "Message-ID")
        added.append(("Message-ID", message_id))
        changes.append("replaced empty Message-ID" if ids else "added Message-ID")

    if "bcc" in by_key:  # RFC 5322 §3.6.3: Bcc recipients must not be disclosed to the others
        header = remove_header(header, "Bcc")
        changes.append("removed Bcc")

    # RFC 5321 §4.4: the trace field on top, then the fields we add, then the client's header.
    header = prepend_headers(header, [received, *added])
    if body and not _ends_with_empty_line(raw[:body_start]):
        # RFC 5322 §2.1: an empty line separates header and body; end it as the header lines end.
        header += b"\n" if header.endswith(b"\n") and not header.endswith(b"\r\n") else b"\r\n"
        changes.append("added empty line before body")
    return FixedUp(header + body, message_id, tuple(changes))


def _mailboxes(value: str) -> list[tuple[str, str | None]]:
    """Each mailbox of an address list: (as written, normal form or None if not an address).

    A group (not allowed in From or Sender, RFC 5322 §3.6.2) gives its name with a None form.
    """
    out: list[tuple[str, str | None]] = []
    for address in parse_address_list(value):
        if address.mailbox is None:  # end of group
            continue
        if address.host is None:  # start of group
            out.append((address.mailbox + ":", None))
            continue
        written = f"{address.mailbox}@{address.host}" if address.host else address.mailbox
        try:
            out.append((written, normalize_address(written)))
        except BadAddress:
            out.append((written, None))
    return out


def _ends_with_empty_line(header: bytes) -> bool:
    """Whether the header section's last line is the empty line that ends it."""
    if not header.endswith(b"\n"):
        return False
    rest = header[:-1].removesuffix(b"\r")
    return rest == b"" or rest.endswith(b"\n")
