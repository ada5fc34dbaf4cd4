"""Delivery Status Notifications: the bounce (or delay, or success) report sent to a sender.

Role: given what the queue knows about one message and some of its recipients, build the whole
report message, bytes with CRLF line ends, ready to queue from the null reverse-path. Pure: no I/O,
no store, no clock (`now` is passed in). The queue decides when to report; `wants_report` says
whether the sender asked for a report of that kind.

RFCs: RFC 3464 §2 (multipart/report of a human text, a message/delivery-status part and the returned
message; per-message fields §2.2, per-recipient fields §2.3, numeric zones in dates §2.3.7);
RFC 3461 §4.1 and §6.2 (NOTIFY), §4.3 and §6.2 (RET), §6.3 (which fields MUST or MUST NOT appear:
Original-Envelope-Id only with ENVID, Original-Recipient only with ORCPT); RFC 6522 (formerly RFC
3462: multipart/report, text/rfc822-headers); RFC 3463 (status codes); RFC 3834 §5
(Auto-Submitted: auto-replied); RFC 2045 §6.4 (an 8bit part makes its multipart 8bit).

Choices: without RET the whole message is returned with a failure and only its header section
otherwise (RFC 3461 §4.3 leaves it to us); with RET=FULL too, a report of delays or successes
returns only the headers (RFC 3461 §4.3, §6.2). The returned message keeps its bytes (bare CR or LF
become CRLF) and says "8bit" when it has 8-bit octets. Every DSN field value is made one line of
printable ASCII: controls become spaces, so a hostile reply ("550 x\r\nX-Evil: 1") stays text inside
Diagnostic-Code; values are capped at MAX_VALUE characters and folded at spaces. Non-ASCII addresses
use the "utf-8" address type with \\x{HEX} escapes (RFC 6533 §3 utf-8-addr-xtext); an ENVID that is
not printable ASCII (RFC 3461 §4.4 forbids it) is written as xtext. The human text is us-ascii, or
UTF-8 quoted-printable when an address or reply needs it.

Left out: message/global and message/global-delivery-status (RFC 6533) for SMTPUTF8 originals (an
8-bit original goes in message/rfc822 marked 8bit, so the queue relays the report with
BODY=8BITMIME); a size limit on the returned message (RFC 3461 §6.2 allows headers only above one);
lines over 998 octets in the original (they would need "binary"); DSN-Gateway, Received-From-MTA,
Final-Log-ID and extension fields; translated texts.
"""

from __future__ import annotations

import hashlib
import quopri
import re
import textwrap
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime

from postoffice.smtp.paths import encode_xtext

ACTIONS = frozenset({"failed", "delayed", "delivered", "relayed", "expanded"})  # RFC 3464 §2.3.3
SUCCESSES = frozenset({"delivered", "relayed", "expanded"})
MAX_VALUE = 900  # characters of one DSN field value: with its name, a line stays under 998 octets

SUBJECT_FAILED = "Undelivered Mail Returned to Sender"
SUBJECT_DELAYED = "Delayed Mail (still being retried)"
SUBJECT_DELIVERED = "Successful Mail Delivery Report"

_STATUS = re.compile(r"[245]\.(?:0|[1-9]\d{0,2})\.(?:0|[1-9]\d{0,2})")  # RFC 3464 §2.3.4: no leading 0
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]+")
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")

# RFC 3463 §3, for the human text when the remote gave no reply of its own (or none at all).
_MEANINGS = {
    "1.1": "the mailbox does not exist", "1.2": "the destination domain does not exist or takes no mail",
    "2.1": "the mailbox is disabled", "2.2": "the mailbox is full", "3.4": "the message is too big",
    "4.1": "the destination mail server did not answer", "4.4": "no mail server was found for the domain",
    "4.6": "the message was caught in a mail loop", "4.7": "the message has been in the queue too long",
    "7.1": "delivery was not authorized; the message was refused",
}


@dataclass(frozen=True, slots=True)
class RecipientReport:
    final_recipient: str  # the address we tried; "rfc822; " is added here
    original_recipient: str | None  # the ORCPT as kept, "addr-type;value" (xtext decoded)
    action: str  # one of ACTIONS (RFC 3464 §2.3.3)
    status: str  # RFC 3463 code, "5.1.1"
    remote_mta: str | None  # "mx.remote.test" ("dns; " added here); None if never connected
    diagnostic: str | None  # the remote's reply, "550 5.1.1 No such user" ("smtp; " added here)
    last_attempt: datetime | None
    will_retry_until: datetime | None = None  # for "delayed" only (RFC 3464 §2.3.9)


def wants_report(notify: str | None, action: str) -> bool:
    """Whether a report with this action is wanted for a recipient given this NOTIFY (RFC 3461 §4.1,
    §6.2): NEVER: none; no NOTIFY: failures and delays (read as FAILURE,DELAY), not successes;
    otherwise only the conditions listed (SUCCESS: delivered, relayed, expanded; FAILURE: failed;
    DELAY: delayed). Keywords are case-insensitive (RFC 3461 §4.1 note b)."""
    action = action.lower()
    if notify is None:
        return action in ("failed", "delayed")
    listed = {item.strip() for item in notify.upper().split(",")}
    if "NEVER" in listed:
        return False
    return (("SUCCESS" in listed and action in SUCCESSES) or ("FAILURE" in listed and action == "failed")
            or ("DELAY" in listed and action == "delayed"))


def build_dsn(*, reporting_mta: str, sender: str, original: bytes, recipients: list[RecipientReport],
              envid: str | None, ret: str | None, arrival: datetime, now: datetime, message_id: str) -> bytes:
    """The whole report message for `recipients` of one message, sent to `sender` (RFC 3464 §2)."""
    if not sender:  # RFC 3461 §6.1, RFC 5321 §4.5.5: nothing is ever reported to the null path
        raise ValueError("a DSN is never sent to the null reverse-path")
    if not recipients:
        raise ValueError("a DSN reports on at least one recipient")
    for r in recipients:
        if r.action.lower() not in ACTIONS:
            raise ValueError(f"not a DSN action: {r.action!r}")
    actions = {r.action.lower() for r in recipients}
    failed = "failed" in actions
    subject = SUBJECT_FAILED if failed else SUBJECT_DELAYED if "delayed" in actions else SUBJECT_DELIVERED
    # RFC 3461 §4.3, §6.2: the whole message only with a failure, and not when the sender said HDRS.
    full = failed and (ret or "").upper() != "HDRS"
    returned = _LINE_ENDS.sub(b"\r\n", original)
    if not full:
        end = returned.find(b"\r\n\r\n")
        returned = returned if end < 0 else returned[:end + 2]
    eight_bit = any(b > 127 for b in returned)
    cte = "8bit" if eight_bit else "7bit"

    text, charset, text_cte = _encoded_text(_human_text(reporting_mta, recipients, full))
    parts = [
        f"Content-Type: text/plain; charset={charset}\r\nContent-Description: Notification\r\n"
        f"Content-Transfer-Encoding: {text_cte}\r\n\r\n".encode() + text,
        b"Content-Type: message/delivery-status\r\nContent-Description: Delivery report\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n\r\n" + _delivery_status(reporting_mta, recipients, envid, arrival),
        (f"Content-Type: {'message/rfc822' if full else 'text/rfc822-headers'}\r\n"
         f"Content-Description: {'Undelivered message' if full else 'Message headers'}\r\n"
         f"Content-Transfer-Encoding: {cte}\r\n\r\n").encode() + returned,
    ]
    boundary = _boundary(message_id, parts)
    mid = _oneline(message_id).strip("<> ")
    headers = [
        f"From: Mail Delivery System <MAILER-DAEMON@{_oneline(reporting_mta)}>",
        f"To: <{_oneline(sender)}>",
        f"Subject: {subject}",
        f"Date: {_date(now)}",
        f"Message-ID: <{mid}>",
        "Auto-Submitted: auto-replied",  # RFC 3834 §5: no auto-reply to this, no loop
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="{boundary}"',
        f"Content-Transfer-Encoding: {cte}",  # RFC 2045 §6.4: 8bit if a part inside is 8bit
    ]
    head = ("\r\n".join(headers) + "\r\n\r\nThis is a MIME-encapsulated delivery status report.\r\n").encode()
    delimiter = f"\r\n--{boundary}\r\n".encode()
    return (head + delimiter.lstrip(b"\r\n") + delimiter.join(parts)
            + f"\r\n--{boundary}--\r\n".encode("ascii"))


def _delivery_status(reporting_mta: str, recipients: list[RecipientReport], envid: str | None,
                     arrival: datetime) -> bytes:
    """The body of the message/delivery-status part (RFC 3464 §2.1): per-message fields, then a
    blank line before each recipient's group."""
    groups = [[("Reporting-MTA", "dns; " + _ascii(reporting_mta))]]
    if envid is not None:  # RFC 3461 §6.3 (a): the decoded ENVID, only if one came with the message
        value = envid if _is_printable(envid) else encode_xtext(envid)[:MAX_VALUE]
        groups[0].insert(0, ("Original-Envelope-Id", value))
    groups[0].append(("Arrival-Date", _date(arrival)))
    for r in recipients:
        fields = []
        if r.original_recipient is not None:  # RFC 3461 §6.3 (d): only when ORCPT was given
            addr_type, semi, address = r.original_recipient.partition(";")
            if not semi:  # not "addr-type;value" as the SMTP parser keeps it: take it as an address
                addr_type, address = "rfc822", addr_type
            fields.append(("Original-Recipient", r.original_recipient if semi and _is_printable(address)
                           else _address(address.strip(), _ascii(addr_type.strip()))))
        fields.append(("Final-Recipient", _address(r.final_recipient, "rfc822")))
        fields += [("Action", r.action.lower()), ("Status", _status(r))]
        if r.remote_mta:  # RFC 3464 §2.3.5: MUST NOT appear if no remote MTA was involved
            fields.append(("Remote-MTA", "dns; " + _ascii(r.remote_mta)))
        if r.diagnostic:
            fields.append(("Diagnostic-Code", "smtp; " + _ascii(r.diagnostic)))
        if r.last_attempt is not None:
            fields.append(("Last-Attempt-Date", _date(r.last_attempt)))
        if r.will_retry_until is not None and r.action.lower() == "delayed":  # RFC 3464 §2.3.9
            fields.append(("Will-Retry-Until", _date(r.will_retry_until)))
        groups.append(fields)
    return "\r\n".join("".join(_fold(name, value) for name, value in group) for group in groups).encode()


def _human_text(reporting_mta: str, recipients: list[RecipientReport], full: bool) -> str:
    """Part 1: what the sender reads. Which address, what happened, what the remote said."""
    lines = [f"This is the mail delivery system at {_oneline(reporting_mta)}.", ""]
    sections = [
        (("failed",), "Your message could not be delivered to the following recipients. "
                      "This is a permanent error; the message will not be retried."),
        (("delayed",), "Your message has not yet been delivered to the following recipients. "
                       "We are still trying; you do not need to send it again, and you will be told "
                       "if delivery finally fails."),
        (SUCCESSES, "Your message was successfully delivered to the following recipients."),
    ]
    for actions, intro in sections:
        chosen = [r for r in recipients if r.action.lower() in actions]
        if chosen:
            lines += textwrap.wrap(intro, 76) + [""]
            for r in chosen:
                lines += _about(r) + [""]
    kept = "A copy of your message is attached" if full else "The headers of your message are attached"
    lines += textwrap.wrap(f"{kept}, after a technical report for your mail program.", 76)
    return "\r\n".join(lines) + "\r\n"


def _about(r: RecipientReport) -> list[str]:
    """The lines about one recipient in the human text."""
    lines = [f"  <{_oneline(r.final_recipient)}>"]
    original = (r.original_recipient or "").partition(";")[2].strip()
    if original and original.lower() != r.final_recipient.lower():
        lines.append(f"    (you sent it to <{_oneline(original)}>)")
    action = r.action.lower()
    if action in SUCCESSES:
        where = f" by {_oneline(r.remote_mta)}" if r.remote_mta else ""
        done = {"relayed": "Accepted", "delivered": "Delivered"}.get(action, "Delivered and forwarded")
        lines.append(f"    {done}{where}.")
        return lines
    if r.diagnostic:
        who = f"The mail server {_oneline(r.remote_mta)} said:" if r.remote_mta else "Our mail server said:"
        lines.append(f"    {who}")
        lines += textwrap.wrap(_oneline(r.diagnostic)[:MAX_VALUE], 76, initial_indent="      ",
                               subsequent_indent="      ", break_long_words=False, break_on_hyphens=False)
    else:
        status = _status(r)
        meaning = _MEANINGS.get(status.partition(".")[2], "the reason was not given")
        lines.append(f"    Reason: {meaning} (status {status}).")
    if action == "delayed" and r.will_retry_until is not None:
        lines.append(f"    We will keep trying until {_date(r.will_retry_until)}.")
    return lines


def _encoded_text(text: str) -> tuple[bytes, str, str]:
    """The human text as (body, charset, transfer encoding): us-ascii 7bit when it can be."""
    if text.isascii():
        return text.encode("ascii"), "us-ascii", "7bit"
    raw = text.replace("\r\n", "\n").encode("utf-8", "replace")
    return quopri.encodestring(raw).replace(b"\n", b"\r\n"), "utf-8", "quoted-printable"


def _address(address: str, addr_type: str) -> str:
    """An address-type ";" address value (RFC 3464 §2.3.1-2): kept exactly when it is printable
    ASCII (§2.3.2: case preserved); otherwise the "utf-8" type with \\x{HEX} escapes (RFC 6533 §3)."""
    if address and _is_printable(address):
        return f"{addr_type}; {address[:MAX_VALUE]}"
    escaped = "".join(c if "!" <= c <= "~" and c not in "\\+=" else f"\\x{{{ord(c):X}}}" for c in address)
    return f"utf-8; {escaped[:MAX_VALUE]}"


def _status(r: RecipientReport) -> str:
    """The RFC 3463 code to report: `r.status`, or, when it is not one (a remote's malformed code),
    the bare class that fits the action (RFC 3461 §6.3 (g): 4.0.0 or 5.0.0; 2.0.0 for a success)."""
    if _STATUS.fullmatch(r.status):
        return r.status
    action = r.action.lower()
    if action in SUCCESSES:
        return "2.0.0"
    return "4.0.0" if action == "delayed" or r.status.startswith("4") else "5.0.0"


def _is_printable(value: str) -> bool:
    return len(value) <= MAX_VALUE and all(" " <= c <= "~" for c in value)


def _oneline(value: str) -> str:
    """`value` on one line: runs of control characters (CR, LF, TAB, NUL...) become one space."""
    return _CONTROLS.sub(" ", value).strip()


def _ascii(value: str) -> str:
    """`value` as one line of printable ASCII of at most MAX_VALUE characters, for a DSN field (RFC
    3464 §2.1: *text): controls as spaces, others outside ASCII as \\x{HEX}."""
    line = "".join(c if c.isascii() else f"\\x{{{ord(c):X}}}" for c in _oneline(value))
    return line if len(line) <= MAX_VALUE else line[:MAX_VALUE - 3] + "..."


def _fold(name: str, value: str) -> str:
    """One field, folded before spaces so lines stay near 78 characters (RFC 5322 §2.2.3); unfolding
    gives `value` back. Values come from `_ascii` or are ours, so no line reaches 998 octets."""
    line, out = f"{name}: ", []
    for i, word in enumerate(value.split(" ")):
        if i and word and len(line) + 1 + len(word) > 78:
            out.append(line)
            line = " " + word
        else:
            line += (" " if i else "") + word
    return "\r\n".join(out + [line]) + "\r\n"


def _date(when: datetime) -> str:
    """RFC 5322 date-time with a numeric zone (RFC 3464 §2.3.7); a naive datetime is taken as UTC."""
    return format_datetime(when if when.tzinfo else when.replace(tzinfo=timezone.utc))


def _boundary(seed: str, parts: list[bytes]) -> str:
    """A boundary that occurs in none of the parts (RFC 2046 §5.1.1), deterministic for tests."""
    for n in range(1000):
        boundary = "=_dsn_" + hashlib.sha256(f"{seed}/{n}".encode("utf-8", "replace")).hexdigest()[:32]
        if not any(b"--" + boundary.encode() in part for part in parts):
            return boundary
    raise RuntimeError("no boundary found")  # 1000 sha256 collisions with the content: not reachable
