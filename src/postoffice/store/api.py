"""The mail spool and mailbox store, in mail terms: the interface every backend keeps.

Stages of the flow reach storage only through these protocols; SQL lives in the backends
(`store/sqlite/` now, `store/postgres/` later) and the same contract tests run against each.

Invariants every backend keeps (docs/architecture.md "Contracts"):
- a blob is durable before any row points to it, and one content is stored once;
- each mailbox's UIDs are strictly increasing and never reused while its UIDVALIDITY stands;
  UIDNEXT is above every UID; every mutation takes the next MODSEQ of the mailbox;
- every mutation returns the `Change` values it made and publishes them on the change feed
  after its transaction is durable, before the caller replies to its client.
"""

from __future__ import annotations

import builtins
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from postoffice.trace.events import Event, JourneyEvent

if TYPE_CHECKING:
    from postoffice.auth.passwords import Credentials
    from postoffice.message.parsed import ParsedMessage
    from postoffice.store.feed import ChangeFeed

MailboxId = int
AccountId = int

# RFC 6154 special-use attributes of the mailboxes made with every account.
DEFAULT_MAILBOXES: tuple[tuple[str, str | None], ...] = (
    ("INBOX", None),
    ("Sent", "\\Sent"),
    ("Drafts", "\\Drafts"),
    ("Trash", "\\Trash"),
    ("Junk", "\\Junk"),
    ("Archive", "\\Archive"),
)


class StoreError(Exception):
    """A refusal in mail terms; the message is one line fit for a user."""


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    pass


@dataclass(frozen=True, slots=True)
class Account:
    id: AccountId
    address: str
    credentials: Credentials


@dataclass(frozen=True, slots=True)
class Alias:
    address: str  # "local@domain", or "@domain" for the domain's catch-all
    targets: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Mailbox:
    id: MailboxId
    account: AccountId
    name: str
    uidvalidity: int
    uidnext: int
    highestmodseq: int
    special_use: str | None
    subscribed: bool
    messages: int = 0


@dataclass(frozen=True, slots=True)
class BlobRef:
    """One stored content, named by its SHA-256."""

    id: int
    sha256: str
    size: int


class ChangeKind(enum.Enum):
    APPEND = "append"
    FLAGS = "flags"
    EXPUNGE = "expunge"


@dataclass(frozen=True, slots=True)
class Change:
    mailbox: MailboxId
    kind: ChangeKind
    uid: int
    modseq: int
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Appended:
    mailbox: MailboxId
    uidvalidity: int
    uid: int
    modseq: int


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A message as a mailbox holds it: what FETCH FLAGS/INTERNALDATE/RFC822.SIZE answer from.

    Its bytes are `prefix + blob`: the prefix holds the header lines of this copy alone (the MDA's
    Return-Path and Delivered-To), so one blob serves every local recipient of a message. Offsets
    of the blob's parsed form are shifted by len(prefix) in the whole message.
    """

    uid: int
    modseq: int
    flags: frozenset[str]
    internaldate: datetime
    size: int  # len(prefix) + blob.size: the octets RFC822.SIZE and POP3 LIST report
    blob: BlobRef
    prefix: bytes = b""
    queue_id: str = ""  # the queue id it was delivered from ("" for an IMAP APPEND): its journey


@dataclass(frozen=True, slots=True)
class MailboxCounts:
    """What STATUS and SELECT tell about a mailbox, counted by the store (not by reading every row)."""

    messages: int
    unseen: int
    deleted: int
    size: int  # octets of all messages (RFC 8438 STATUS SIZE)
    last_uid: int  # 0 when empty
    first_unseen_uid: int | None


@dataclass(frozen=True, slots=True)
class NewCopy:
    """One message of `Mailboxes.append_all`."""

    blob: BlobRef
    flags: frozenset[str]
    received: datetime
    prefix: bytes = b""


class FlagMode(enum.Enum):
    REPLACE = "replace"
    ADD = "add"
    REMOVE = "remove"


class RecipientState(enum.Enum):
    QUEUED = "queued"  # waiting for its next attempt
    DELIVERED = "delivered"  # into a local mailbox, or accepted by the remote server
    BOUNCED = "bounced"  # failed for good; a DSN went (or goes) to the sender
    HELD = "held"  # kept for the administrator (e.g. an undeliverable bounce)


@dataclass(frozen=True, slots=True)
class Envelope:
    """What the SMTP transaction said about a message, kept with it for delivery and DSNs."""

    sender: str  # "" is the null reverse-path
    client: str = ""  # "[ip]:port" of the submitting client
    helo: str = ""
    authenticated_as: str | None = None
    envid: str | None = None  # RFC 3461 §4.4
    ret: str | None = None  # RFC 3461 §4.3: "FULL" or "HDRS"
    smtputf8: bool = False
    body: str | None = None  # "7BIT", "8BITMIME" or "BINARYMIME"


@dataclass(frozen=True, slots=True)
class QueuedRecipient:
    address: str
    orcpt: str | None = None  # RFC 3461 §4.2
    notify: str | None = None  # RFC 3461 §4.1: e.g. "SUCCESS,FAILURE" or "NEVER"
    route: str = ""  # how routing resolved it, for the journey: "account", "alias a@b", "remote"
    account: AccountId | None = None  # a local recipient's account (the MDA picks the mailbox); None: remote
    id: int = 0
    state: RecipientState = RecipientState.QUEUED
    attempts: int = 0
    next_attempt: datetime | None = None
    last_reply: str = ""
    remote_mta: str = ""  # the host the last attempt talked to
    last_attempt: datetime | None = None
    delay_notified: bool = False  # a "delayed" DSN went to the sender already

    @property
    def is_local(self) -> bool:
        return self.account is not None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one delivery attempt made of one recipient."""

    recipient: int  # the queue_recipients row
    state: RecipientState  # QUEUED again (to retry at `next_attempt`), DELIVERED, BOUNCED or HELD
    reply: str  # the remote's reply, or why there was none
    remote_mta: str = ""
    next_attempt: datetime | None = None
    delay_notified: bool = False


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message the MTA itself makes (a bounce), queued in the same commit as what caused it."""

    queue_id: str
    content: bytes
    envelope: Envelope
    message_id: str
    recipients: tuple[QueuedRecipient, ...]
    events: tuple[Event, ...] = ()
    plans: tuple[CopyPlan | None, ...] = ()  # the MDA's decisions, one per recipient (None: remote)


@dataclass(frozen=True, slots=True)
class QueuedMessage:
    queue_id: str
    blob: BlobRef
    envelope: Envelope
    message_id: str
    received: datetime
    recipients: tuple[QueuedRecipient, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class CopyPlan:
    """The MDA's decision for one local recipient's copy: into which of the account's mailboxes
    (by name; None: discarded), with which flags and which header lines of its own, and which
    delivery step chose it. The store resolves the name in the writing transaction; a mailbox that
    does not exist is made when `create`, else the copy goes to the INBOX."""

    mailbox: str | None
    prefix: bytes
    flags: frozenset[str] = frozenset()
    step: str = "inbox"
    create: bool = False


@dataclass(frozen=True, slots=True)
class LocalCopy:
    """A decided copy and the queue row it settles."""

    recipient: int
    plan: CopyPlan


@dataclass(frozen=True, slots=True)
class DkimKeyRecord:
    domain: str
    selector: str
    algorithm: str  # "rsa-sha256" or "ed25519-sha256"
    private_pem: bytes
    public_b64: str


class DkimKeys(Protocol):
    """The local domains' DKIM signing keys."""

    async def add(self, key: DkimKeyRecord) -> None: ...
    async def for_domain(self, domain: str) -> DkimKeyRecord | None: ...
    async def list(self) -> builtins.list[DkimKeyRecord]: ...


class Directory(Protocol):
    """Domains, accounts with their addresses, and aliases."""

    async def add_domain(self, name: str) -> None: ...
    async def list_domains(self) -> list[str]: ...
    async def delete_domain(self, name: str) -> None: ...
    async def is_local_domain(self, name: str) -> bool: ...
    async def add_account(self, address: str, credentials: Credentials) -> Account: ...
    async def set_credentials(self, address: str, credentials: Credentials) -> None: ...
    async def delete_account(self, address: str) -> None: ...
    async def list_accounts(self) -> list[Account]: ...
    async def find_account(self, address: str) -> Account | None: ...
    async def delivery_target(self, address: str) -> tuple[str, AccountId] | None:
        """(the account's own address, the account) for an address that reaches an account."""
    async def add_alias(self, alias: str, targets: list[str]) -> None: ...
    async def list_aliases(self) -> list[Alias]: ...
    async def delete_alias(self, alias: str) -> None: ...
    async def find_alias(self, alias: str) -> Alias | None: ...
    async def sendable_addresses(self, address: str) -> set[str]: ...


class Blobs(Protocol):
    """Message contents, stored once each, durable before they are referenced."""

    async def put(self, data: bytes) -> BlobRef: ...
    async def read(self, blob: BlobRef) -> bytes: ...
    async def read_message(self, message: StoredMessage) -> bytes: ...
    async def parsed(self, blob: BlobRef) -> ParsedMessage: ...


class Mailboxes(Protocol):
    """Mailboxes and the messages in them, with UIDs, flags and mod-sequences."""

    async def list(self, account: AccountId) -> builtins.list[Mailbox]: ...
    async def find(self, account: AccountId, name: str) -> Mailbox | None: ...
    async def get(self, mailbox: MailboxId) -> Mailbox: ...
    async def create(self, account: AccountId, name: str, special_use: str | None = None) -> Mailbox: ...
    async def delete(self, mailbox: MailboxId) -> None: ...
    async def rename(self, mailbox: MailboxId, new_name: str) -> None: ...
    async def subscribe(self, mailbox: MailboxId, subscribed: bool) -> None: ...
    async def append(self, mailbox: MailboxId, blob: BlobRef, flags: frozenset[str],
                     received: datetime, prefix: bytes = b"") -> Appended: ...
    async def append_all(self, mailbox: MailboxId, messages: builtins.list[NewCopy]) -> builtins.list[Appended]:
        """All in one transaction, or none (MULTIAPPEND, RFC 3502 §6.3.11)."""
    async def set_flags(self, mailbox: MailboxId, uids: builtins.list[int], flags: frozenset[str],
                        mode: FlagMode) -> builtins.list[Change]: ...
    async def expunge(self, mailbox: MailboxId, uids: builtins.list[int]) -> builtins.list[Change]: ...
    async def copy(self, source: MailboxId, uids: builtins.list[int], target: MailboxId, *,
                   move: bool = False) -> builtins.list[tuple[int, int]]: ...
    async def messages(self, mailbox: MailboxId,
                       uids: builtins.list[int] | None = None) -> builtins.list[StoredMessage]:
        """By ascending UID: all, or those of `uids` that exist (a range lookup, not a scan)."""
    async def search_headers(self, mailbox: MailboxId) -> dict[int, dict[str, builtins.list[str]]]:
        """uid -> the header fields the parse-once form keeps for SEARCH (message.parsed.SEARCH_FIELDS)."""
    async def flags(self, mailbox: MailboxId,
                    uids: builtins.list[int]) -> builtins.list[tuple[int, frozenset[str]]]:
        """(uid, flags) of those of `uids` that exist, ascending: the light read of a flag sync."""
    async def uids(self, mailbox: MailboxId, flagged: str | None = None) -> builtins.list[int]:
        """Every UID, ascending (what SELECT numbers), or those with the system flag `flagged`."""
    async def counts(self, mailbox: MailboxId) -> MailboxCounts: ...
    async def changes_since(self, mailbox: MailboxId, modseq: int) -> builtins.list[Change]: ...


class Queue(Protocol):
    """The MTA queue: one row per message, one per recipient.

    The decisions (what is due and when next, what expired, what bounces) are the pure functions
    of `mta.schedule`; where local copies go is the MDA's (`CopyPlan`). A backend stores them."""

    async def enqueue(self, content: bytes, envelope: Envelope, message_id: str,
                      recipients: Sequence[QueuedRecipient], *, queue_id: str,
                      events: Sequence[Event] = (), plans: Sequence[CopyPlan | None] = ()) -> QueuedMessage:
        """Stores the content, its queue rows and `events` (then QUEUED) in one commit; with `plans`
        (aligned with `recipients`) the local copies are written in that same commit, and should
        that fail, only they are undone: the message stays queued for them."""
    async def deliver_local(self, queue_id: str, copies: Sequence[LocalCopy],
                            received: datetime) -> builtins.list[tuple[LocalCopy, Appended | None]]:
        """Writes each copy and settles its recipient in one commit; a recipient no longer queued
        is skipped (exactly once). A discarded copy (no mailbox) is settled without an append."""
    async def pending_local(self) -> builtins.list[QueuedMessage]: ...
    async def claim_due(self, now: datetime, limit: int,
                        claimed_as: Callable[[QueuedRecipient], QueuedRecipient]) -> builtins.list[QueuedMessage]:
        """Up to `limit` due remote recipients (`mta.schedule.is_due` at `now`, earliest first),
        grouped by message, each written as `claimed_as` makes it (`mta.schedule.claim`: its
        attempt counted, its next attempt time moved on) in the same commit."""
    async def settle(self, queue_id: str, results: Sequence[AttemptResult], events: Sequence[Event],
                     notices: Sequence[NewMessage] = ()) -> builtins.list[QueuedMessage]: ...
    async def retry_now(self, queue_id: str | None) -> int: ...
    async def delete(self, queue_id: str) -> bool: ...
    async def get(self, queue_id: str) -> QueuedMessage | None: ...
    async def list(self) -> builtins.list[QueuedMessage]: ...


class Journey(Protocol):
    """Each message's journey through the flow: append-only typed events (trace.events)."""

    async def record(self, queue_id: str, events: Sequence[Event], message_id: str | None = None) -> None: ...
    async def record_for(self, messages: Sequence[StoredMessage], event: Callable[[StoredMessage], Event],
                         *, once_per: str | None = None) -> int:
        """One event for each stored message that came through the queue, under its queue id and
        Message-ID, in one commit. With `once_per` (a scope such as an account's mailbox), a
        message that already has an event of that stage in that scope gets none. How many written."""
    async def events(self, key: str) -> list[JourneyEvent]:
        """The events of a queue id, or of every queue id that carried a Message-ID."""


class Locks(Protocol):
    """Exclusive holds, kept by the store so that every server sharing it sees them: the POP3
    maildrop lock (RFC 1939 §8, one session per account). A hold ends with `release`, or when
    the process that took it ends."""

    async def acquire(self, key: str) -> bool:
        """Takes the hold on `key`; False when someone holds it already."""
    async def release(self, key: str) -> None: ...


class Store(Protocol):
    """A whole backend: what every stage of the flow takes, typed. `store.open_store` gives one."""

    @property
    def directory(self) -> Directory: ...
    @property
    def blobs(self) -> Blobs: ...
    @property
    def mailboxes(self) -> Mailboxes: ...
    @property
    def queue(self) -> Queue: ...
    @property
    def journey(self) -> Journey: ...
    @property
    def dkim_keys(self) -> DkimKeys: ...
    @property
    def locks(self) -> Locks: ...
    @property
    def feed(self) -> ChangeFeed:
        """Committed mailbox changes, told to the sessions that listen (IMAP IDLE, selected views)."""

    async def check_integrity(self) -> list[str]:
        """Problems found, in words; an empty list is a healthy store."""

    async def aclose(self) -> None: ...
