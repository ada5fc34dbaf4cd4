"""The journey of a message as typed events: a `Stage` and a structured payload.

Every stage of the flow appends events under the message's queue id (docs/architecture.md "Every
message has a journey"): the MSA or MTA when it receives it, routing for each recipient, the queue,
the MDA for each copy it stores, the outbound loop for each attempt, POP3 and IMAP when a user
reads it. The payload says what a web timeline or a script needs without parsing prose (addresses,
mailbox and UID, remote host and IP, how the next hop was chosen, TLS, the remote's reply, attempt
number, next attempt time, sizes, the client and login). `describe()` makes the one-line text of
`postoffice trace` from it, `JourneyEvent.to_json()` the JSON of `trace --json`.

Payloads are stored as JSON beside the stage; `payload_to_json` and `payload_from_json` are the one
encoding. Events written before payloads existed come back as `Note` (their old text).
"""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any


class Stage(enum.Enum):
    SUBMITTED = "submitted"  # taken by the MSA from an authenticated client
    RECEIVED = "received"  # taken by the MTA from another server
    AUTHENTICATED = "authenticated"  # who submitted it
    FIXED_UP = "fixed-up"  # the MSA's header fix-ups (RFC 6409 §8)
    ROUTED = "routed"  # one recipient resolved: local or remote, and how
    QUEUED = "queued"  # durably in the queue
    DELIVERED = "delivered"  # a local copy stored in the recipient's INBOX
    FILED = "filed"  # a local copy stored where a delivery step chose
    DISCARDED = "discarded"  # a delivery step dropped a local copy on purpose
    DEFERRED = "deferred"  # an attempt failed for now; retried later
    RELAYED = "relayed"  # accepted by the next hop
    BOUNCED = "bounced"  # failed for good; the sender gets a DSN
    HELD = "held"  # kept for the administrator (a bounce that cannot be delivered)
    NOTIFIED = "notified"  # a DSN about this message was queued for its sender
    CREATED = "created"  # made by the server itself (a DSN)
    RETRIEVED = "retrieved"  # read by POP3
    FETCHED = "fetched"  # read by IMAP (its first body fetch per account and mailbox)
    DELETED = "deleted"  # deleted by POP3, or from the queue by the administrator
    EXPUNGED = "expunged"  # expunged by IMAP


@dataclass(frozen=True, slots=True, kw_only=True)
class Arrival:
    """SUBMITTED and RECEIVED: the client that handed the message over."""

    protocol: str  # "SMTP" (from another server) or "submission"
    helo: str
    client_ip: str | None  # None when the configuration hides submitting clients' addresses
    client_port: int | None = None
    tls: str | None = None  # the TLS version, e.g. "TLSv1.3"; None in clear

    def describe(self) -> str:
        client = f"[{self.client_ip}]:{self.client_port}" if self.client_ip else "a hidden address"
        return f"from {self.helo} {client} over {self.protocol}" + (f" with {self.tls}" if self.tls else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Login:
    """AUTHENTICATED."""

    login: str
    mechanism: str | None = None

    def describe(self) -> str:
        return f"authenticated as {self.login}" + (f" with {self.mechanism}" if self.mechanism else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class FixUp:
    """FIXED_UP: what the MSA added or changed."""

    changes: tuple[str, ...]

    def describe(self) -> str:
        return "; ".join(self.changes)


@dataclass(frozen=True, slots=True, kw_only=True)
class Routing:
    """ROUTED: one recipient as the client gave it, and where it resolved to."""

    address: str
    final: str  # the account's own address, or the remote address
    local: bool
    how: str  # "account", "alias team@example.test", "catch-all @example.test", "remote", ...
    tag: str | None = None  # the plus-address tag

    def describe(self) -> str:
        via = "" if self.final == self.address else f" as {self.final}"
        where = "local delivery" if self.local else "remote, queued for relay"
        tag = f", tag {self.tag!r}" if self.tag else ""
        return f"{self.address}{via}: {where} ({self.how}{tag})"


@dataclass(frozen=True, slots=True, kw_only=True)
class Queuing:
    """QUEUED."""

    recipients: int
    size: int

    def describe(self) -> str:
        return f"{self.recipients} recipient(s), {self.size} bytes"


@dataclass(frozen=True, slots=True, kw_only=True)
class Stored:
    """DELIVERED and FILED: one local copy, where it went."""

    recipient: str
    mailbox: str
    uid: int
    step: str = "inbox"  # the MDA's delivery step that chose the mailbox
    flags: tuple[str, ...] = ()

    def describe(self) -> str:
        verb = "delivered to" if self.step == "inbox" else "filed into"
        by = "" if self.step == "inbox" else f" by {self.step}"
        flags = f" with {' '.join(self.flags)}" if self.flags else ""
        return f"{self.recipient}: {verb} {self.mailbox} UID {self.uid}{flags}{by}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Dropped:
    """DISCARDED: a delivery step's decision not to store a copy."""

    recipient: str
    step: str

    def describe(self) -> str:
        return f"{self.recipient}: discarded by {self.step}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Attempt:
    """RELAYED, DEFERRED, BOUNCED and HELD: one recipient's result of one delivery attempt."""

    recipient: str
    reply: str  # the remote's reply ("250 2.0.0 ok"), or why there was none
    status: str = ""  # its enhanced status code (RFC 3463)
    reply_code: int | None = None  # None when no server replied
    host: str | None = None  # the next hop talked to
    ip: str | None = None
    port: int | None = None
    via: str | None = None  # how the hop was chosen: "mx", "a" (implicit MX), "route", "smarthost"
    tls: str | None = None  # the TLS version of the connection; None in clear
    attempt: int = 0  # 1 for the first attempt
    next_attempt: datetime | None = None  # DEFERRED
    gave_up_after_days: float | None = None  # BOUNCED/HELD because the queue lifetime ran out

    def hop(self) -> str:
        if self.host is None:
            return ""
        address = f" [{self.ip}]" if self.ip and self.ip != self.host else ""
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.host}{address}{port} ({self.via}, {self.tls or 'no TLS'})"

    def describe(self) -> str:
        return self.describe_as(Stage.RELAYED)

    def describe_as(self, stage: Stage) -> str:
        why = self.reply
        if self.gave_up_after_days is not None:
            why = f"gave up after {self.gave_up_after_days:g} days: {why}"
        to = f" to {self.hop()}" if self.host else ""
        if stage is Stage.HELD:
            return f"{self.recipient}: a bounce that cannot be delivered ({why}); kept for the administrator"
        if stage is Stage.DEFERRED and self.next_attempt is not None:
            return f"{self.recipient}{to}: {why}; next attempt {self.next_attempt:%Y-%m-%d %H:%M:%S}Z"
        return f"{self.recipient}{to}: {why}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Notice:
    """NOTIFIED (on the original) and CREATED (on the DSN itself)."""

    kind: str  # the DSN's action: "failed", "delayed", "relayed"
    about: str  # the original message's queue id
    recipients: tuple[str, ...]  # the recipients it reports on
    sender: str  # who the DSN goes to
    dsn: str = ""  # the DSN's queue id

    def describe(self) -> str:
        return f"DSN ({self.kind}) to <{self.sender}> for {self.about}: {', '.join(self.recipients)}" + (
            f", queued as {self.dsn}" if self.dsn else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Access:
    """RETRIEVED, FETCHED, DELETED and EXPUNGED: what a user (or the administrator) did with it."""

    protocol: str  # "POP3", "IMAP", or "admin"
    account: str = ""
    mailbox: str = ""
    uid: int | None = None

    def describe(self) -> str:
        if self.protocol == "admin":
            return "from the queue by the administrator"
        where = f" from {self.mailbox} UID {self.uid}" if self.mailbox and self.uid is not None else ""
        return f"by {self.protocol} as {self.account}{where}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Note:
    """An event with text only (written before events had payloads)."""

    text: str

    def describe(self) -> str:
        return self.text


Payload = Arrival | Login | FixUp | Routing | Queuing | Stored | Dropped | Attempt | Notice | Access | Note
_TYPES: dict[str, type[Payload]] = {cls.__name__.lower(): cls for cls in (
    Arrival, Login, FixUp, Routing, Queuing, Stored, Dropped, Attempt, Notice, Access, Note)}


@dataclass(frozen=True, slots=True)
class Event:
    """One event to record: what happened, and its details."""

    stage: Stage
    data: Payload

    def describe(self) -> str:
        return describe(self.stage, self.data)


@dataclass(frozen=True, slots=True)
class JourneyEvent:
    """A recorded event: when, under which queue id and Message-ID."""

    at: datetime
    queue_id: str
    message_id: str
    stage: Stage
    data: Payload

    @property
    def detail(self) -> str:
        return describe(self.stage, self.data)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "queue_id": self.queue_id, "message_id": self.message_id,
                "stage": self.stage.value, "type": type(self.data).__name__.lower(),
                **_plain(self.data)}


def describe(stage: Stage, data: Payload) -> str:
    """The event's one line of `postoffice trace` (after the time and the stage)."""
    if isinstance(data, Attempt):
        return data.describe_as(stage)
    return data.describe()


def _plain(data: Payload) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in asdict(data).items():
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, tuple):
            value = list(value)
        out[key] = value
    return out


def payload_to_json(data: Payload) -> str:
    return json.dumps({"type": type(data).__name__.lower(), **_plain(data)}, separators=(",", ":"))


def payload_from_json(text: str) -> Payload:
    raw = json.loads(text)
    kind = raw.pop("type", "note")
    cls = _TYPES.get(kind, Note)
    known = {f.name for f in fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in known:
            continue  # a field a later version added: ignored, not fatal
        if isinstance(value, list):
            value = tuple(value)
        elif key == "next_attempt" and isinstance(value, str):
            value = datetime.fromisoformat(value)
        values[key] = value
    result: Payload = cls(**values)
    return result
