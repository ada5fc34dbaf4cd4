"""The POP3 session: the state machine of RFC 1939, with CAPA (RFC 2449), STLS (RFC 2595) and AUTH
(RFC 5034). It never touches a socket: the listener feeds it commands and writes its outcomes.

The maildrop is the account's INBOX, the one IMAP shows. At login the session takes a snapshot
(message numbers, UIDs, sizes); mail delivered later appears at the next login. DELE only marks;
the marked messages are expunged at QUIT from TRANSACTION, in one transaction (the UPDATE state,
RFC 1939 §6), so a dropped connection deletes nothing. One POP3 session per account at a time
(held in `Store.locks`, so every server sharing the store sees it): a second login gets
-ERR [IN-USE] (RFC 2449 §8.1.1).

UIDL values are "UIDVALIDITY.UID": unique and stable for the life of the mailbox, and the same
message IMAP knows by that UID. LIST sizes are the octets RETR sends before byte-stuffing, which
are the stored octets: messages are stored with CRLF line ends.
Logging in (the plaintext policy, the mechanisms, SASL steps, throttling) is `auth.authenticator`'s;
this module maps its answers to POP3 replies.
Left out: APOP (it needs the password in clear on the server; refused with a pointer to STLS).
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from postoffice.addresses import normalize_address
from postoffice.auth.authenticator import Authenticated, Authenticator, Exchange, Failed, Peer, Reason
from postoffice.pop3 import replies
from postoffice.pop3.replies import Reply
from postoffice.pop3.wire import (
    Apop, Auth, BadCommand, CancelResponse, Capa, Command, Dele, List, Noop, Pass, Quit, Retr, Rset, Stat, Stls, Top,
    Uidl, User, multiline, parse_auth_response, stuffed, top_of,
)
from postoffice.store.api import FlagMode, StoredMessage
from postoffice.trace.events import Access, Event, Stage

if TYPE_CHECKING:
    from postoffice.net import Ticket

log = logging.getLogger(__name__)


class State(enum.Enum):
    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"
    UPDATE = "update"


ACCEPTS: dict[State, frozenset[str]] = {
    State.AUTHORIZATION: frozenset({"USER", "PASS", "APOP", "AUTH", "STLS", "CAPA", "QUIT"}),
    State.TRANSACTION: frozenset({"STAT", "LIST", "RETR", "DELE", "NOOP", "RSET", "QUIT", "TOP", "UIDL", "CAPA"}),
    State.UPDATE: frozenset(),
}


class Then(enum.Enum):
    NOTHING = "nothing"
    READ_AUTH_LINE = "read-auth-line"
    START_TLS = "start-tls"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class Outcome:
    reply: Reply | replies.Challenge | None
    then: Then = Then.NOTHING
    body: bytes = b""  # a multi-line response's lines, stuffed and terminated, written after `reply`


def maildrop_key(account: int) -> str:
    return f"pop3-maildrop {account}"


@dataclass
class Maildrop:
    """The snapshot taken at login: message n is messages[n - 1]."""

    mailbox: int
    uidvalidity: int
    messages: list[StoredMessage]
    deleted: set[int] = field(default_factory=set)  # message numbers marked by DELE
    retrieved: set[int] = field(default_factory=set)  # message numbers sent whole by RETR

    def get(self, n: int) -> StoredMessage | None:
        if 1 <= n <= len(self.messages) and n not in self.deleted:
            return self.messages[n - 1]
        return None

    def live(self) -> list[tuple[int, StoredMessage]]:
        return [(n, m) for n, m in enumerate(self.messages, 1) if n not in self.deleted]

    def unique_id(self, message: StoredMessage) -> str:
        return f"{self.uidvalidity}.{message.uid}"


@dataclass
class Pop3Session:
    store: Any
    hostname: str
    client_ip: str
    is_loopback: bool
    authenticator: Authenticator
    max_errors: int = 10
    tls_available: bool = True
    tls_active: bool = False
    channel_binding: bytes | None = None  # RFC 5929 tls-server-end-point data, used once TLS is on
    ticket: Ticket | None = None  # the connection's place in the listener's counts; the login moves it
    state: State = State.AUTHORIZATION
    user: str | None = None
    account: int | None = None
    address: str | None = None
    maildrop: Maildrop | None = None
    errors: int = 0
    _exchange: Exchange | None = None  # the AUTH exchange waiting for the client's next line

    def greeting(self) -> Reply:
        return replies.greeting(self.hostname)

    async def handle(self, cmd: Command | BadCommand) -> Outcome:
        """The outcome of one command; never raises."""
        try:
            if isinstance(cmd, BadCommand):
                return self.refuse(cmd.reply)
            if cmd.keyword not in ACCEPTS[self.state]:
                return self.refuse(replies.NOT_IN_THIS_STATE)
            return await self._dispatch(cmd)
        except Exception:
            log.exception("pop3: %s failed for %s", type(cmd).__name__, self.client_ip)
            return Outcome(replies.SYS_TEMP)

    def refuse(self, reply: Reply) -> Outcome:
        """A client error; past the session's limit, the session ends."""
        self.errors += 1
        if self.errors >= self.max_errors:
            return Outcome(replies.TOO_MANY_ERRORS, Then.CLOSE)
        return Outcome(reply)

    def tls_started(self) -> None:
        self.tls_active = True
        self.user = None  # RFC 2595 §4: the client starts over; nothing from before TLS counts

    async def close(self) -> None:
        """The connection ended, however it ended: nothing is deleted, the maildrop is free again,
        and what was retrieved is written into the messages' journeys (in one commit)."""
        if self.account is not None:
            await self.store.locks.release(maildrop_key(self.account))
            self.account = None
        drop, self.maildrop = self.maildrop, None
        if drop is not None and drop.retrieved:
            retrieved = [drop.messages[n - 1] for n in sorted(drop.retrieved)]
            try:
                await self.store.journey.record_for(retrieved, self._event(Stage.RETRIEVED))
            except Exception:
                log.exception("pop3: journey of %d retrievals for %s not written", len(retrieved), self.address)

    def _event(self, stage: Stage) -> Callable[[StoredMessage], Event]:
        """The journey event of one message read or deleted in this session."""
        address = self.address or ""
        return lambda m: Event(stage, Access(protocol="POP3", account=address, mailbox="INBOX", uid=m.uid))

    # --- authorization ---------------------------------------------------------------------------

    @property
    def peer(self) -> Peer:
        """The connection as the authenticator sees it."""
        return Peer(self.client_ip, self.is_loopback, self.tls_active,
                    self.channel_binding if self.tls_active else None)

    def _plaintext_allowed(self) -> bool:
        return self.authenticator.plaintext_allowed(self.peer)

    def capabilities(self) -> list[str]:
        """RFC 2449 §6 capabilities, each only when it can be used now."""
        caps = ["TOP", "UIDL", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "EXPIRE NEVER",
                "IMPLEMENTATION postoffice"]
        if self.state is State.AUTHORIZATION:
            if self._plaintext_allowed():
                caps += ["USER", "SASL " + " ".join(self.authenticator.mechanisms(self.peer))]
            if self.tls_available and not self.tls_active:
                caps.append("STLS")
        return caps

    async def _dispatch(self, cmd: Command) -> Outcome:
        match cmd:
            case Capa():
                return Outcome(replies.CAPA_FOLLOWS, body=multiline(self.capabilities()))
            case Stls():
                if self.tls_active:
                    return self.refuse(replies.TLS_ALREADY_ACTIVE)
                if not self.tls_available:
                    return self.refuse(replies.TLS_NOT_AVAILABLE)
                return Outcome(replies.TLS_READY, Then.START_TLS)
            case User(name=name):
                if not self._plaintext_allowed():
                    return self.refuse(replies.PLAINTEXT_REFUSED)
                self.user = name
                return Outcome(replies.USER_OK)
            case Pass(password=password):
                return await self._pass(password)
            case Apop():
                return self.refuse(replies.APOP_NOT_SUPPORTED)
            case Auth():
                return await self._auth(cmd)
            case Quit():
                return await self._quit()
            case Stat():
                live = self._drop.live()
                return Outcome(replies.stat(len(live), sum(m.size for _, m in live)))
            case List(msg=None):
                live = self._drop.live()
                return Outcome(replies.list_follows(len(live), sum(m.size for _, m in live)),
                               body=multiline(f"{n} {m.size}" for n, m in live))
            case List(msg=int() as n):
                message = self._drop.get(n)
                return Outcome(replies.scan_listing(n, message.size)) if message else self._no_such(n)
            case Uidl(msg=None):
                return Outcome(replies.UIDL_FOLLOWS, body=multiline(
                    f"{n} {self._drop.unique_id(m)}" for n, m in self._drop.live()))
            case Uidl(msg=int() as n):
                message = self._drop.get(n)
                if message is None:
                    return self._no_such(n)
                return Outcome(replies.unique_id_listing(n, self._drop.unique_id(message)))
            case Retr(msg=n):
                message = self._drop.get(n)
                if message is None:
                    return self._no_such(n)
                raw = await self.store.blobs.read_message(message)
                self._drop.retrieved.add(n)  # its journey event is written with the others at the end
                return Outcome(replies.retr_follows(message.size), body=stuffed(raw))
            case Top(msg=n, lines=lines):
                message = self._drop.get(n)
                if message is None:
                    return self._no_such(n)
                raw = await self.store.blobs.read_message(message)
                return Outcome(replies.TOP_FOLLOWS, body=stuffed(top_of(raw, lines)))
            case Dele(msg=n):
                if n in self._drop.deleted and 1 <= n <= len(self._drop.messages):
                    return self.refuse(replies.ALREADY_DELETED)
                if self._drop.get(n) is None:
                    return self._no_such(n)
                self._drop.deleted.add(n)
                return Outcome(replies.deleted(n))
            case Noop():
                return Outcome(replies.OK)
            case Rset():
                self._drop.deleted.clear()
                live = self._drop.live()
                return Outcome(replies.reset(len(live), sum(m.size for _, m in live)))
        return self.refuse(replies.UNKNOWN_COMMAND)  # pragma: no cover - every keyword is matched above

    @property
    def _drop(self) -> Maildrop:
        """The maildrop of a session in TRANSACTION or UPDATE: the state table lets no other state use it."""
        if self.maildrop is None:
            raise RuntimeError("no maildrop before the login")
        return self.maildrop

    def _no_such(self, n: int) -> Outcome:
        return self.refuse(replies.NO_SUCH_MESSAGE)

    async def _pass(self, password: str) -> Outcome:
        if not self._plaintext_allowed():
            return self.refuse(replies.PLAINTEXT_REFUSED)
        if self.user is None:
            return self.refuse(replies.NOT_IN_THIS_STATE)  # RFC 1939 §7: PASS only after USER
        user, self.user = self.user, None
        answer = await self.authenticator.login(self.peer, user, password)
        if isinstance(answer, Failed):
            return self._failed(answer)
        return await self._open(answer.identity)

    async def _auth(self, cmd: Auth) -> Outcome:
        if cmd.mechanism is None:  # RFC 5034 §4: AUTH alone lists the mechanisms
            return Outcome(replies.AUTH_MECHANISMS_FOLLOW, body=multiline(self.authenticator.available(self.peer)))
        exchange = self.authenticator.start(cmd.mechanism, self.peer)
        if isinstance(exchange, Failed):
            if exchange.reason is Reason.PLAINTEXT_REFUSED:
                return self.refuse(replies.PLAINTEXT_REFUSED)
            return self.refuse(replies.MECHANISM_NOT_SUPPORTED)
        return await self._auth_step(exchange, cmd.initial_response)

    async def auth_line(self, line: bytes) -> Outcome:
        """One line of the client's SASL response (RFC 5034 §4)."""
        exchange, self._exchange = self._exchange, None
        if exchange is None:
            return self.refuse(replies.NOT_IN_THIS_STATE)
        response = parse_auth_response(line)
        if isinstance(response, CancelResponse):
            exchange.cancel()
            return self.refuse(replies.AUTH_CANCELLED)
        if isinstance(response, BadCommand):
            exchange.cancel(Reason.MALFORMED)
            return self.refuse(response.reply)
        return await self._auth_step(exchange, response)

    async def _auth_step(self, exchange: Exchange, response: bytes | None) -> Outcome:
        answer = await exchange.step(response)
        if isinstance(answer, Authenticated):
            return await self._open(answer.identity)
        if isinstance(answer, Failed):
            return self._failed(answer)
        # A challenge; with SCRAM the last one is the server's final data, acknowledged empty.
        self._exchange = exchange
        return Outcome(replies.auth_challenge(answer.data), Then.READ_AUTH_LINE)

    def _failed(self, failed: Failed) -> Outcome:
        if failed.reason is Reason.MALFORMED:
            return self.refuse(replies.BAD_ARGUMENTS)
        if failed.reason is Reason.CANCELLED:
            return self.refuse(replies.AUTH_CANCELLED)
        log.info("pop3: failed login from %s (%s)", self.client_ip, failed.reason.value)
        return self.refuse(replies.AUTH_FAILED)

    async def _open(self, identity: str) -> Outcome:
        """Authenticated: lock the maildrop and take its snapshot (RFC 1939 §4)."""
        address = normalize_address(identity)
        account = await self.store.directory.find_account(address)
        if account is None:  # verified, then gone: counted as a failure all the same
            await self.authenticator.failed(self.peer, identity)
            return self._failed(Failed(Reason.BAD_CREDENTIALS))
        if not await self.store.locks.acquire(maildrop_key(account.id)):
            return Outcome(replies.IN_USE)
        if self.ticket is not None and (limit := self.ticket.login(account.address)):
            await self.store.locks.release(maildrop_key(account.id))
            log.info("pop3: %s refused as %s: the limit of %s", self.client_ip, account.address, limit)
            return Outcome(replies.TOO_MANY_LOGINS)
        self.account, self.address = account.id, account.address
        inbox = await self.store.mailboxes.find(account.id, "INBOX")
        messages = await self.store.mailboxes.messages(inbox.id)
        self.maildrop = Maildrop(inbox.id, inbox.uidvalidity, messages)
        self.state = State.TRANSACTION
        log.info("pop3: %s logged in from %s, %d messages", self.address, self.client_ip, len(messages))
        return Outcome(replies.logged_in(len(messages), sum(m.size for m in messages)))

    async def _quit(self) -> Outcome:
        if self.state is State.AUTHORIZATION:
            return Outcome(replies.BYE, Then.CLOSE)
        drop = self._drop
        self.state = State.UPDATE
        try:
            gone = [drop.messages[n - 1] for n in sorted(drop.deleted)]
            seen = [drop.messages[n - 1].uid for n in sorted(drop.retrieved - drop.deleted)]
            if seen:  # what the user read here shows as read in IMAP too
                await self.store.mailboxes.set_flags(drop.mailbox, seen, frozenset({"\\Seen"}), FlagMode.ADD)
            if gone:
                await self.store.mailboxes.expunge(drop.mailbox, [m.uid for m in gone])
        except Exception:
            log.exception("pop3: update for %s failed", self.address)
            await self.close()
            return Outcome(replies.DELETE_FAILED, Then.CLOSE)
        await self.close()
        if gone:
            await self.store.journey.record_for(gone, self._event(Stage.DELETED))
        return Outcome(replies.signing_off(len(drop.messages) - len(drop.deleted)), Then.CLOSE)
