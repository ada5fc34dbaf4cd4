"""The IMAP session: the state machine of RFC 3501 / RFC 9051 §3, IMAP4rev1 by default and IMAP4rev2
after ENABLE IMAP4rev2, with LITERAL+ (RFC 7888), IDLE (RFC 2177), UNSELECT (RFC 3691), UIDPLUS
(RFC 4315), MOVE (RFC 6851), ENABLE (RFC 5161), ID (RFC 2971), SASL-IR (RFC 4959) and UTF8=ACCEPT
(RFC 6855). It never touches a socket: the listener feeds it parsed commands and writes its
outcomes (`outcome.encode`).

The session keeps state and dispatches; the commands live in `commands/` and see the session
through `context.Context`, so nothing there imports this module:
- `commands/auth.py`: STARTTLS, LOGIN, AUTHENTICATE (the login itself is `auth.authenticator`'s:
  the plaintext policy, the mechanisms, SASL steps and throttling);
- `commands/general.py`: CAPABILITY, NOOP, CHECK, LOGOUT, ID, IDLE;
- `commands/selection.py`: SELECT, EXAMINE, CLOSE, UNSELECT, ENABLE;
- `commands/mailboxes.py`: CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS, NAMESPACE, APPEND;
- `commands/listing.py`: LIST (LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, CHILDREN) and LSUB;
- `commands/messages.py`: FETCH, STORE, SEARCH, COPY, MOVE, EXPUNGE, UID EXPUNGE.

States (RFC 9051 §3): NOT_AUTHENTICATED, AUTHENTICATED, SELECTED, LOGOUT; what each accepts is
`ACCEPTS`, which command word runs which handler is `HANDLERS`.

Invariants:
- the selected mailbox's view (`selected.SelectedMailbox`) is subscribed to the store's change feed
  before the mailbox is read, so no change falls between the read and the subscription;
- after every command the changes from the feed are reported, expunges only after commands that
  do not use sequence numbers (RFC 9051 §7.5.1, RFC 3501 §7.4.1);
- our own failures answer NO [SERVERBUG] (logged with the traceback), never a dropped connection;
- `max_errors` BAD answers in a row end the session with BYE.

Left out, answered NO [CANNOT] "not implemented yet": CONDSTORE and QRESYNC (SELECT parameters,
CHANGEDSINCE, UNCHANGEDSINCE, MODSEQ).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from postoffice.auth.accounts import credentials_of
from postoffice.auth.authenticator import Authenticator, Peer
from postoffice.imap import responses as r
from postoffice.imap.commands import auth, general, listing, mailboxes, messages, selection
from postoffice.imap.context import Context, Emit
from postoffice.imap.outcome import AuthLineReader, Completion, Condition, Outcome, Refused, Then, ok, reply, update_line
from postoffice.imap.selected import SelectedMailbox
from postoffice.imap.wire import AuthResponse, BadCommand, Command, Done
from postoffice.store.api import Account, AccountId, Change, MailboxId, Store

if TYPE_CHECKING:
    from postoffice.net import Ticket

log = logging.getLogger(__name__)


class State(enum.Enum):
    NOT_AUTHENTICATED = "not-authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


_ANY = frozenset({"CAPABILITY", "NOOP", "LOGOUT", "ID"})  # ID in any state: RFC 2971 §3.1
_AUTHENTICATED = _ANY | frozenset({
    "SELECT", "EXAMINE", "LIST", "IDLE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LSUB",
    "NAMESPACE", "STATUS", "APPEND",
})
ACCEPTS: dict[State, frozenset[str]] = {
    State.NOT_AUTHENTICATED: _ANY | frozenset({"STARTTLS", "LOGIN", "AUTHENTICATE"}),
    # RFC 5161 §3.1, RFC 9051 §6.3.1: ENABLE only in the authenticated state, before SELECT.
    State.AUTHENTICATED: _AUTHENTICATED | frozenset({"ENABLE"}),
    State.SELECTED: _AUTHENTICATED | frozenset({
        "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "UID EXPUNGE", "FETCH", "STORE", "SEARCH", "COPY", "MOVE",
    }),
    State.LOGOUT: frozenset(),
}

# Each handler takes the command type its word parses to; the table pairs them, hence Any.
Handler = Callable[[Context, Any], Awaitable[Outcome]]
HANDLERS: dict[str, Handler] = {
    "CAPABILITY": general.capability, "NOOP": general.noop, "CHECK": general.noop, "LOGOUT": general.logout,
    "ID": general.id_, "IDLE": general.idle,
    "STARTTLS": auth.starttls, "LOGIN": auth.login, "AUTHENTICATE": auth.authenticate,
    "SELECT": selection.select, "EXAMINE": selection.select, "CLOSE": selection.close,
    "UNSELECT": selection.close, "ENABLE": selection.enable,
    "CREATE": mailboxes.create, "DELETE": mailboxes.delete, "RENAME": mailboxes.rename,
    "SUBSCRIBE": mailboxes.subscribe, "UNSUBSCRIBE": mailboxes.subscribe, "STATUS": mailboxes.status,
    "NAMESPACE": mailboxes.namespace, "APPEND": mailboxes.append,
    "LIST": listing.list_, "LSUB": listing.lsub,
    "FETCH": messages.fetch, "STORE": messages.store, "SEARCH": messages.search_, "COPY": messages.copy_move,
    "MOVE": messages.copy_move, "EXPUNGE": messages.expunge, "UID EXPUNGE": messages.uid_expunge,
}
# RFC 9051 §7.5.1, RFC 3501 §7.4.1: no EXPUNGE while a command using sequence numbers runs.
_NO_EXPUNGE_AFTER = frozenset({"FETCH", "STORE", "SEARCH", "COPY", "MOVE"})
_SERVERBUG_TEXT = "Internal error, try again later"


@dataclass
class ImapSession:
    store: Store
    hostname: str
    client_ip: str
    is_loopback: bool
    authenticator: Authenticator | None = None  # None: the default policy, without throttling
    tls_available: bool = True
    tls_active: bool = False
    channel_binding: bytes | None = None  # RFC 5929 tls-server-end-point data, used once TLS is on
    ticket: Ticket | None = None  # the connection's place in the listener's counts; the login moves it
    state: State = State.NOT_AUTHENTICATED
    account: AccountId | None = None
    address: str | None = None
    selected: SelectedMailbox | None = None
    feed: asyncio.Queue[Change] | None = None  # the selected mailbox's change feed
    _feed_cm: AbstractContextManager[asyncio.Queue[Change]] | None = None
    _reader: AuthLineReader | None = None  # the AUTHENTICATE exchange in progress
    pending_tag: str = ""  # the tag of AUTHENTICATE or IDLE while it runs
    enabled: set[str] = field(default_factory=set)  # what ENABLE turned on (RFC 5161), upper-case
    append_limit: int = 26_214_400  # APPENDLIMIT (RFC 7889): the largest message APPEND takes
    max_errors: int = 20  # BAD answers in a row before BYE
    bad_in_a_row: int = 0
    # Sends a command's untagged responses ahead of its completion (the listener writes and drains):
    # a FETCH of many large messages is written as it goes instead of being held whole in memory.
    emit: Emit | None = None

    def __post_init__(self) -> None:
        if self.authenticator is None:
            self.authenticator = Authenticator(lambda identity: credentials_of(self.store, identity))

    @property
    def rev2(self) -> bool:
        """IMAP4rev2 rules apply (RFC 9051 §2.1: after ENABLE IMAP4rev2)."""
        return "IMAP4REV2" in self.enabled

    @property
    def utf8(self) -> bool:
        """Mailbox names and quoted strings in UTF-8 (RFC 9051 §6.3.1, RFC 6855 §3)."""
        return "IMAP4REV2" in self.enabled or "UTF8=ACCEPT" in self.enabled

    def greeting(self) -> bytes:
        return r.untagged_status("OK", r.capability_code(self.capabilities()), f"{self.hostname} IMAP4rev1 ready")

    # --- the command loop ----------------------------------------------------------------------------

    async def handle(self, cmd: Command | BadCommand) -> Outcome:
        """The outcome of one command; never raises. After `max_errors` BAD answers in a row
        the session ends with BYE: a client that speaks something else (HTTP, SMTP, noise) is let go
        instead of being answered line by line forever."""
        outcome = await self._handle(cmd)
        if not outcome.is_bad:
            self.bad_in_a_row = 0
            return outcome
        self.bad_in_a_row += 1
        if self.bad_in_a_row < self.max_errors:
            return outcome
        await self.logout()
        return replace(outcome, then=Then.CLOSE,
                       after=(r.untagged_status("BYE", None, "Too many invalid commands"),))

    async def _handle(self, cmd: Command | BadCommand) -> Outcome:
        if isinstance(cmd, BadCommand):
            return self._refused(cmd)
        name = cmd.name
        if name not in ACCEPTS[self.state]:
            return reply(cmd.tag, "BAD", None, f"{name} not allowed now")
        handler = HANDLERS.get(name)
        if handler is None:
            return reply(cmd.tag, "NO", r.CANNOT, "not implemented yet")
        try:
            outcome = await handler(self, cmd)
        except Refused as e:
            outcome = reply(cmd.tag, e.status, e.code, e.text)
        except Exception:
            log.exception("imap: %s failed for %s", name, self.client_ip)
            outcome = reply(cmd.tag, "NO", r.SERVERBUG, _SERVERBUG_TEXT)
        if outcome.then in (Then.IDLE, Then.READ_AUTH_LINE):
            self.pending_tag = cmd.tag  # the command goes on: its completion comes later
        self._reader = outcome.reader
        if outcome.then in (Then.NOTHING, Then.IDLE) and self.selected is not None:
            uid_form = bool(getattr(cmd, "uid", False))
            allow = name not in _NO_EXPUNGE_AFTER or uid_form
            try:
                outcome = outcome.with_updates(self.pending_updates(allow_expunge=allow))
            except Exception:
                log.exception("imap: updates failed for %s", self.client_ip)
        return outcome

    def _refused(self, cmd: BadCommand) -> Outcome:
        """What the parser refused: BAD, tagged when the tag could be read."""
        name, _, args = (cmd.code or "").partition(" ")
        code = r.Code(name, args) if name else None
        if cmd.tag is None:
            return Outcome(completion=Completion(None, "BAD", code, cmd.text))
        # RFC 9051 §6.4.4: an unsupported charset is a tagged NO [BADCHARSET], not a BAD; a
        # SEARCH answered NO empties the saved result (RFC 9051 §6.4.4.1; any such SEARCH here,
        # with SAVE or not, as the refused command's options are not known).
        status: Condition = "NO" if name == "BADCHARSET" else "BAD"
        if status == "NO" and self.selected is not None:
            self.selected.save(frozenset())
        return reply(cmd.tag, status, code, cmd.text)

    def pending_updates(self, *, allow_expunge: bool = True) -> bytes:
        """The untagged responses for what changed elsewhere (selected.py decides what is due)."""
        if self.selected is None:
            return b""
        self.drain_feed()
        return b"".join(update_line(u) for u in self.selected.updates(allow_expunge=allow_expunge))

    def drain_feed(self) -> None:
        while self.selected is not None and self.feed is not None and not self.feed.empty():
            self.selected.apply(self.feed.get_nowait())

    def idle_done(self, done: Done | BadCommand) -> Outcome:
        tag, self.pending_tag = self.pending_tag, ""
        if isinstance(done, BadCommand):
            return reply(tag, "BAD", None, "Expected DONE")
        return ok(tag, "IDLE terminated", self.pending_updates())

    async def auth_line(self, response: AuthResponse | BadCommand) -> Outcome:
        """The client's answer to a challenge (RFC 9051 §6.2.2)."""
        reader, self._reader = self._reader, None
        if reader is None:
            return reply(self.pending_tag, "BAD", None, "Malformed response")
        try:
            outcome = await reader(response)
        except Exception:
            log.exception("imap: AUTHENTICATE failed for %s", self.client_ip)
            return reply(self.pending_tag, "NO", r.SERVERBUG, _SERVERBUG_TEXT)
        self._reader = outcome.reader
        return outcome

    async def close(self) -> None:
        """The connection ended, however it ended: leave the change feed."""
        await self.deselect()

    # --- what commands ask of the session (context.Context) -----------------------------------------

    @property
    def auth(self) -> Authenticator:
        assert self.authenticator is not None  # set in __post_init__
        return self.authenticator

    @property
    def peer(self) -> Peer:
        """The connection as the authenticator sees it."""
        return Peer(self.client_ip, self.is_loopback, self.tls_active,
                    self.channel_binding if self.tls_active else None)

    def capabilities(self) -> list[str]:
        """RFC 9051 §7.2.2: only what works now."""
        # NAMESPACE (RFC 2342), STATUS=SIZE (RFC 8438), CREATE-SPECIAL-USE (RFC 6154 §3).
        # UIDPLUS (RFC 4315 §2), MOVE (RFC 6851 §3.1), ENABLE (RFC 5161), ID (RFC 2971),
        # UTF8=ACCEPT (RFC 6855 §3), MULTIAPPEND (RFC 3502), APPENDLIMIT (RFC 7889 §3).
        caps = ["IMAP4rev1", "IMAP4rev2", "LITERAL+", "IDLE", "UNSELECT", "NAMESPACE", "STATUS=SIZE",
                "CREATE-SPECIAL-USE", "UIDPLUS", "MOVE", "ENABLE", "ID", "UTF8=ACCEPT", "MULTIAPPEND",
                f"APPENDLIMIT={self.append_limit}", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CHILDREN",
                "ESEARCH", "SEARCHRES", "BINARY"]  # RFC 4731 §4, RFC 5182 §3, RFC 3516 §4.1
        if self.state is State.NOT_AUTHENTICATED:
            if self.tls_available and not self.tls_active:
                caps.append("STARTTLS")
            if self.auth.plaintext_allowed(self.peer):
                caps += ["AUTH=" + m for m in self.auth.mechanisms(self.peer)] + ["SASL-IR"]  # RFC 4959
            else:
                caps.append("LOGINDISABLED")  # RFC 9051 §6.2.3
        return caps

    def tls_started(self) -> None:
        self.tls_active = True

    def enable(self, extensions: list[str]) -> None:
        self.enabled.update(extensions)

    def authenticated(self, account: Account) -> str | None:
        if self.ticket is not None and (limit := self.ticket.login(account.address)):
            return limit
        self.account, self.address = account.id, account.address
        self.state = State.AUTHENTICATED
        return None

    def listen(self, mailbox: MailboxId) -> None:
        self._feed_cm = self.store.feed.subscribe(mailbox)
        self.feed = self._feed_cm.__enter__()

    def select(self, view: SelectedMailbox) -> None:
        self.selected = view
        self.state = State.SELECTED

    async def deselect(self) -> None:
        if self._feed_cm is not None:
            cm, self._feed_cm, self.feed = self._feed_cm, None, None
            with contextlib.suppress(Exception):
                cm.__exit__(None, None, None)
        self.selected = None
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED

    async def logout(self) -> None:
        self.state = State.LOGOUT
        await self.close()
