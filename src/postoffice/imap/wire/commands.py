"""IMAP command values: what each command line says, named as RFC 9051 spells the commands.

Role: the values `parser.parse_command` returns. Each is a frozen dataclass with the command's
`tag` and a `name` ClassVar (the command word; "UID EXPUNGE" for `UidExpunge`). The UID forms of
COPY, MOVE, FETCH, SEARCH and STORE are the same classes with `uid=True`. Mailbox names are
Unicode (decoded from modified UTF-7 for rev1 clients), with INBOX in capitals.

RFCs: RFC 9051 §6 (the commands), RFC 3501 §6 (rev1's CHECK, LSUB), RFC 2971 (ID), RFC 5161
(ENABLE), RFC 4959 (SASL-IR), RFC 3691 (UNSELECT), RFC 6851 (MOVE), RFC 4315 (UID EXPUNGE),
RFC 2177 (IDLE), RFC 3502 (MULTIAPPEND), RFC 3516 (APPEND of literal8), RFC 5258 / RFC 5819 (LIST
selection and return options, STATUS in LIST), RFC 6154 (CREATE USE, SPECIAL-USE), RFC 7162
(CONDSTORE / QRESYNC parameters), RFC 4731 (ESEARCH), RFC 5182 (SAVE).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from postoffice.imap.wire.fetch import FetchAttribute
from postoffice.imap.wire.search import SearchKey
from postoffice.imap.wire.sequence import SequenceSet

__all__ = [
    "Command", "Capability", "Noop", "Logout", "StartTls", "Authenticate", "Login", "Enable", "Select",
    "Examine", "QResync", "Create", "Delete", "Rename", "Subscribe", "Unsubscribe", "List", "Lsub",
    "Namespace", "Status", "Append", "AppendMessage", "Idle", "Done", "Check", "Close", "Unselect",
    "Expunge", "UidExpunge", "Search", "Fetch", "Store", "Copy", "Move", "Id",
]


@dataclass(frozen=True, slots=True)
class Capability:
    name: ClassVar[str] = "CAPABILITY"
    tag: str


@dataclass(frozen=True, slots=True)
class Noop:
    name: ClassVar[str] = "NOOP"
    tag: str


@dataclass(frozen=True, slots=True)
class Logout:
    name: ClassVar[str] = "LOGOUT"
    tag: str


@dataclass(frozen=True, slots=True)
class StartTls:
    name: ClassVar[str] = "STARTTLS"
    tag: str


@dataclass(frozen=True, slots=True)
class Authenticate:
    """`mechanism` upper-cased; `initial_response` (RFC 4959) base64-decoded, b"" for "=", None
    when absent. Kept out of repr and logs."""

    name: ClassVar[str] = "AUTHENTICATE"
    tag: str
    mechanism: str
    initial_response: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Login:
    name: ClassVar[str] = "LOGIN"
    tag: str
    userid: str
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Enable:
    """`capabilities` upper-cased, in the order sent (RFC 5161 §3.1)."""

    name: ClassVar[str] = "ENABLE"
    tag: str
    capabilities: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QResync:
    """The QRESYNC select parameter (RFC 7162 §3.2.5): what the client knew when it left."""

    uidvalidity: int
    modseq: int
    known_uids: SequenceSet | None = None
    seq_match: tuple[SequenceSet, SequenceSet] | None = None   # (known sequence set, known UIDs)


@dataclass(frozen=True, slots=True)
class Select:
    name: ClassVar[str] = "SELECT"
    tag: str
    mailbox: str
    condstore: bool = False
    qresync: QResync | None = None


@dataclass(frozen=True, slots=True)
class Examine:
    name: ClassVar[str] = "EXAMINE"
    tag: str
    mailbox: str
    condstore: bool = False
    qresync: QResync | None = None


@dataclass(frozen=True, slots=True)
class Create:
    """`special_use`: the RFC 6154 USE attributes asked for ("\\Sent", ...), canonical case."""

    name: ClassVar[str] = "CREATE"
    tag: str
    mailbox: str
    special_use: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delete:
    name: ClassVar[str] = "DELETE"
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class Rename:
    name: ClassVar[str] = "RENAME"
    tag: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Subscribe:
    name: ClassVar[str] = "SUBSCRIBE"
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    name: ClassVar[str] = "UNSUBSCRIBE"
    tag: str
    mailbox: str


@dataclass(frozen=True, slots=True)
class List:
    """LIST, basic or extended (RFC 5258). `selection`: SUBSCRIBED, REMOTE, RECURSIVEMATCH,
    SPECIAL-USE; `returns`: SUBSCRIBED, CHILDREN, SPECIAL-USE, STATUS; `status` the STATUS items
    when STATUS is among them (RFC 5819). `extended`: the client used the extended syntax, so
    extended data items may be sent (RFC 5258 §3). Options upper-cased, once each, in order."""

    name: ClassVar[str] = "LIST"
    tag: str
    reference: str
    patterns: tuple[str, ...]
    selection: tuple[str, ...] = ()
    returns: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    extended: bool = False


@dataclass(frozen=True, slots=True)
class Lsub:
    name: ClassVar[str] = "LSUB"
    tag: str
    reference: str
    pattern: str


@dataclass(frozen=True, slots=True)
class Namespace:
    name: ClassVar[str] = "NAMESPACE"
    tag: str


@dataclass(frozen=True, slots=True)
class Status:
    """`items` upper-cased, once each, in order."""

    name: ClassVar[str] = "STATUS"
    tag: str
    mailbox: str
    items: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AppendMessage:
    """One message of an APPEND: `binary` when sent as literal8 (RFC 3516 §4.4), which may hold
    NUL and needs no CTE; `literal` as sent (may hold NUL in a plain literal too: the session
    decides). `utf8`: sent as "UTF8 (~{n})" (RFC 6855 §4)."""

    flags: tuple[str, ...]
    internaldate: datetime | None
    literal: bytes = field(repr=False)
    binary: bool = False
    utf8: bool = False  # sent as the UTF8 data extension (RFC 6855 §4): its header may hold UTF-8


@dataclass(frozen=True, slots=True)
class Append:
    """APPEND; more than one message is MULTIAPPEND (RFC 3502), all or none to be stored."""

    name: ClassVar[str] = "APPEND"
    tag: str
    mailbox: str
    messages: tuple[AppendMessage, ...]


@dataclass(frozen=True, slots=True)
class Idle:
    name: ClassVar[str] = "IDLE"
    tag: str


@dataclass(frozen=True, slots=True)
class Done:
    """The client's "DONE" ending IDLE (RFC 2177 §3): untagged on the wire, so `tag` is the IDLE
    command's when the session passes it to `parse_idle_done`, else ""."""

    name: ClassVar[str] = "DONE"
    tag: str = ""


@dataclass(frozen=True, slots=True)
class Check:
    name: ClassVar[str] = "CHECK"
    tag: str


@dataclass(frozen=True, slots=True)
class Close:
    name: ClassVar[str] = "CLOSE"
    tag: str


@dataclass(frozen=True, slots=True)
class Unselect:
    name: ClassVar[str] = "UNSELECT"
    tag: str


@dataclass(frozen=True, slots=True)
class Expunge:
    name: ClassVar[str] = "EXPUNGE"
    tag: str


@dataclass(frozen=True, slots=True)
class UidExpunge:
    name: ClassVar[str] = "UID EXPUNGE"
    tag: str
    sequence: SequenceSet


@dataclass(frozen=True, slots=True)
class Search:
    """`charset` upper-cased or None; `criteria` the key tree (search.py); `returns` the ESEARCH
    RETURN options, None for a plain SEARCH (see `search.parse_search_returns`)."""

    name: ClassVar[str] = "SEARCH"
    tag: str
    criteria: SearchKey
    charset: str | None = None
    returns: tuple[str, ...] | None = None
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Fetch:
    """`attributes` with the macros expanded (fetch.py); `changedsince` and `vanished` the
    CONDSTORE / QRESYNC modifiers (RFC 7162 §3.1.4.1, §3.2.6)."""

    name: ClassVar[str] = "FETCH"
    tag: str
    sequence: SequenceSet
    attributes: tuple[FetchAttribute, ...]
    uid: bool = False
    changedsince: int | None = None
    vanished: bool = False


@dataclass(frozen=True, slots=True)
class Store:
    """`mode` "+" (add), "-" (remove) or "" (replace); `silent` for FLAGS.SILENT;
    `unchangedsince` the CONDSTORE modifier (RFC 7162 §3.1.3)."""

    name: ClassVar[str] = "STORE"
    tag: str
    sequence: SequenceSet
    mode: str
    flags: tuple[str, ...]
    silent: bool = False
    uid: bool = False
    unchangedsince: int | None = None


@dataclass(frozen=True, slots=True)
class Copy:
    name: ClassVar[str] = "COPY"
    tag: str
    sequence: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Move:
    name: ClassVar[str] = "MOVE"
    tag: str
    sequence: SequenceSet
    mailbox: str
    uid: bool = False


@dataclass(frozen=True, slots=True)
class Id:
    """ID (RFC 2971): field names lower-cased (they are case-insensitive), None for "ID NIL"."""

    name: ClassVar[str] = "ID"
    tag: str
    params: dict[str, str | None] | None = None


Command = (Capability | Noop | Logout | StartTls | Authenticate | Login | Enable | Select | Examine | Create
           | Delete | Rename | Subscribe | Unsubscribe | List | Lsub | Namespace | Status | Append | Idle
           | Done | Check | Close | Unselect | Expunge | UidExpunge | Search | Fetch | Store | Copy | Move
           | Id)
