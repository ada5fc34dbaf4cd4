"""The SMTP server session: a state machine from commands to replies, shared by the MSA and the MTA.

It never touches a socket. The listener feeds it parsed commands; each answer is an `Outcome`: the
reply to write and what the listener must do next (read message data, a BDAT chunk or an AUTH
line, start TLS, close). What differs between submission and relay (who may send, who may receive,
how the message is fixed up) is the `Policy`'s; routing, queueing and delivery sit behind the
`Delivery` the policy opens for each transaction.

RFCs: 5321 (commands, sequence, §4.5.3 limits), 1870 SIZE, 2920 PIPELINING (the listener batches
replies), 3030 CHUNKING, 6152 8BITMIME, 6531 SMTPUTF8, 3461 DSN parameters (kept with the queued
message), 2034/3463 enhanced codes (in every reply), 3207 STARTTLS, 4954 AUTH with SASL-IR (the
login itself is `auth.authenticator`'s: mechanisms offered, SASL steps, throttling; this module
maps its answers to replies).
Left out: BINARYMIME (not advertised), EXPN (502: nobody gets to list an alias's members), VRFY
answers 252 without saying whether a user exists (RFC 5321 §3.5.3).

Invariants: 250 after the data is only sent when the policy's accept (the queue commit) has
returned; after STARTTLS everything learnt before is forgotten (RFC 3207 §4.2); a failure of ours
is 451 4.3.0 and never a 5xx; an exception never leaves `handle`.
"""

from __future__ import annotations

import base64
import binascii
import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from postoffice.auth import authenticator as login
from postoffice.smtp import replies
from postoffice.smtp.data import ChunkEnd, DataEnd
from postoffice.smtp.replies import Refused, Reply
from postoffice.smtp.wire import (
    Auth, Bdat, BadCommand, Command, Data, Ehlo, Expn, Helo, Help, MailFrom, Noop, Quit, RcptTo, Rset,
    StartTls, Vrfy,
)

if TYPE_CHECKING:
    from postoffice.net import Ticket

log = logging.getLogger(__name__)

MAIL_PARAMS = frozenset({"SIZE", "BODY", "SMTPUTF8", "RET", "ENVID", "AUTH"})
RCPT_PARAMS = frozenset({"NOTIFY", "ORCPT"})
# The replies of a failed AUTH that are the client's mistake; every other failure is 535 5.7.8.
AUTH_ERRORS = {login.Reason.MALFORMED: replies.BAD_BASE64, login.Reason.CANCELLED: replies.AUTH_CANCELLED,
               login.Reason.TOO_LONG: replies.AUTH_LINE_TOO_LONG}


class State(enum.Enum):
    GREETING = "greeting"  # connected; no EHLO/HELO yet
    READY = "ready"  # greeted; no transaction
    MAIL = "mail"  # MAIL accepted; no recipient yet
    RCPT = "rcpt"  # at least one recipient accepted
    CHUNKING = "chunking"  # BDAT chunks under way, LAST not yet seen


# What each state accepts; anything else is 503 5.5.1 (RFC 5321 §4.1.4, §3.3).
_ANYTIME = frozenset({"NOOP", "RSET", "QUIT", "VRFY", "EXPN", "HELP", "EHLO", "HELO"})
ACCEPTS: dict[State, frozenset[str]] = {
    State.GREETING: _ANYTIME | {"STARTTLS"},
    State.READY: _ANYTIME | {"STARTTLS", "AUTH", "MAIL"},
    State.MAIL: _ANYTIME | {"RCPT", "DATA", "BDAT"},
    State.RCPT: _ANYTIME | {"RCPT", "DATA", "BDAT"},
    State.CHUNKING: _ANYTIME | {"BDAT"},
}


class Then(enum.Enum):
    NOTHING = "nothing"
    READ_DATA = "read-data"  # after 354: the message follows, up to CRLF.CRLF
    READ_CHUNK = "read-chunk"  # BDAT: `chunk_size` octets follow, already announced
    READ_AUTH_LINE = "read-auth-line"  # after 334: one line of SASL response
    START_TLS = "start-tls"  # after 220: the TLS handshake
    CLOSE = "close"  # after 221 or 421


@dataclass(frozen=True, slots=True)
class Outcome:
    reply: Reply | None
    then: Then = Then.NOTHING
    chunk_size: int = 0
    last: bool = False  # READ_CHUNK: BDAT ... LAST
    discard: bool = False  # READ_CHUNK: read the chunk and drop it (RFC 3030 §2)


@dataclass(frozen=True, slots=True)
class Client:
    ip: str
    port: int
    is_loopback: bool

    @property
    def label(self) -> str:
        return f"[{self.ip}]:{self.port}"


@dataclass(frozen=True, slots=True)
class Limits:
    max_message_bytes: int = 26_214_400
    max_line_bytes: int = 998
    max_recipients: int = 100
    max_errors: int = 10


@dataclass(frozen=True, slots=True)
class Peer:
    """What a policy learns of the session: the client, its greeting, TLS and login. The session
    object itself never leaves smtp/."""

    client: Client
    helo: str
    tls: str | None  # the TLS version in use; None in clear
    authenticated_as: str | None
    mechanism: str | None = None  # the SASL mechanism of the login


class Delivery(Protocol):
    """One transaction's way into the queue (mta.delivery.QueueDelivery)."""

    async def add_recipient(self, address: str, *, notify: str | None, orcpt: str | None) -> None:
        """Routes one recipient; raises `Refused` with the reply when it cannot be taken."""
    async def commit(self, content: bytes) -> str:
        """Stores the message durably and returns its queue id; 250 is sent only after it returns."""
    def abort(self) -> None:
        """The transaction ends without a message (RSET, a new greeting, refused data, a dropped connection)."""


class Policy(Protocol):
    """What the listener kind decides: submission (msa.policy) or relay from other servers (mta.policy)."""

    @property
    def name(self) -> str:
        """"smtp" or "submission": for logs and the journey."""
    @property
    def requires_auth(self) -> bool: ...
    @property
    def authenticator(self) -> login.Authenticator | None:
        """None: AUTH is not offered on this port."""

    async def check_mail(self, peer: Peer, cmd: MailFrom) -> Reply | None: ...
    def check_rcpt(self, peer: Peer, cmd: RcptTo) -> Reply | None: ...
    def open_delivery(self, peer: Peer, cmd: MailFrom) -> Delivery: ...


@dataclass
class Transaction:
    mail: MailFrom
    delivery: Delivery
    recipients: int = 0
    bdat_failed: Reply | None = None  # a BDAT failed: the rest of its chunks are read and dropped
    chunks: Any = None  # the listener's spool and chunk reader while BDAT chunks arrive

    @property
    def smtputf8(self) -> bool:
        return "SMTPUTF8" in self.mail.params


@dataclass
class SmtpSession:
    policy: Policy
    hostname: str
    client: Client
    limits: Limits = field(default_factory=Limits)
    tls_available: bool = True
    tls_active: bool = False
    channel_binding: bytes | None = None  # RFC 5929 tls-server-end-point data, used once TLS is on
    ticket: Ticket | None = None  # the connection's place in the listener's counts; AUTH logs it in
    tls_version: str | None = None  # "TLSv1.3" once TLS is up, for the journey
    state: State = State.GREETING
    helo: str = ""
    esmtp: bool = False
    authenticated_as: str | None = None
    auth_mechanism: str | None = None
    errors: int = 0
    tx: Transaction | None = None
    _exchange: login.Exchange | None = None  # the AUTH exchange waiting for the client's next line

    def greeting(self) -> Reply:
        return replies.greeting(self.hostname)

    def peer(self) -> Peer:
        tls = (self.tls_version or "TLS") if self.tls_active else None
        return Peer(self.client, self.helo, tls, self.authenticated_as, self.auth_mechanism)

    def connection_lost(self) -> None:
        """The connection is gone: a transaction under way ends without a message."""
        self._end_transaction()

    def _end_transaction(self) -> None:
        tx, self.tx = self.tx, None
        if tx is not None:
            tx.delivery.abort()

    # --- the command loop's entry points -------------------------------------------------------

    async def handle(self, cmd: Command | BadCommand) -> Outcome:
        """The outcome of one command; never raises."""
        try:
            if isinstance(cmd, BadCommand):
                return self._error(cmd.reply)
            if cmd.verb not in ACCEPTS[self.state]:
                if isinstance(cmd, Bdat):  # RFC 3030 §2: its octets are on the wire all the same
                    return self._bdat_discard(replies.BAD_SEQUENCE, size=cmd.size)
                return self._error(replies.BAD_SEQUENCE)
            return await self._dispatch(cmd)
        except Refused as e:
            return Outcome(e.reply)
        except Exception:
            log.exception("%s: %s failed for %s", self.policy.name, type(cmd).__name__, self.client.label)
            return Outcome(replies.LOCAL_ERROR)

    async def data_end(self, end: DataEnd | ChunkEnd, content: Callable[[], bytes]) -> Outcome:
        """The message data (DATA, or BDAT's LAST chunk) was read whole; `content` gives its bytes."""
        tx, self.tx, self.state = self.tx, None, State.READY
        if tx is None:
            return Outcome(replies.BAD_SEQUENCE)
        if end.error is not None:
            tx.delivery.abort()
            return Outcome(end.error.reply)
        try:
            queue_id = await tx.delivery.commit(content())
        except Refused as e:
            tx.delivery.abort()
            return Outcome(e.reply)
        except Exception:
            tx.delivery.abort()
            log.exception("%s: queueing failed for %s", self.policy.name, self.client.label)
            return Outcome(replies.LOCAL_ERROR)
        log.info("%s: %s queued %s from <%s>, %d recipient(s), %d bytes", self.policy.name, self.client.label,
                 queue_id, tx.mail.address, tx.recipients, end.size)
        return Outcome(replies.queued(queue_id))

    async def chunk_end(self, end: ChunkEnd, content: Callable[[], bytes]) -> Outcome:
        """A BDAT chunk was read whole (RFC 3030 §2)."""
        if end.discarded:
            return Outcome(self.tx.bdat_failed if self.tx and self.tx.bdat_failed else replies.BAD_SEQUENCE)
        if end.error is not None:
            if self.tx is not None:
                self.tx.bdat_failed = end.error.reply
            if end.last:
                self._end_transaction()
                self.state = State.READY
            return Outcome(end.error.reply)
        if end.last:
            return await self.data_end(end, content)
        return Outcome(replies.chunk_received(end.size))

    async def auth_line(self, line: bytes | None) -> Outcome:
        """One line of the client's SASL response (RFC 4954 §4); None for one too long to read."""
        exchange, self._exchange = self._exchange, None
        if exchange is None:
            return self._error(replies.AUTH_LINE_TOO_LONG) if line is None else Outcome(replies.BAD_SEQUENCE)
        if line is None:
            return self._auth_failed(exchange, exchange.cancel(login.Reason.TOO_LONG))
        if line.strip() == b"*":
            exchange.cancel()
            return Outcome(replies.AUTH_CANCELLED)
        if exchange.awaits_acknowledgement:
            # The answer to SCRAM's final data is not looked at: any line completes the login.
            return await self._auth_step(exchange, b"")
        try:
            response = base64.b64decode(line.strip(), validate=True)
        except (binascii.Error, ValueError):
            return self._error(replies.BAD_BASE64)
        return await self._auth_step(exchange, response)

    def tls_started(self, version: str | None = None) -> None:
        """RFC 3207 §4.2: the client must greet again, and nothing from before TLS is kept."""
        self._end_transaction()
        self.tls_active, self.tls_version = True, version
        self.state, self.helo, self.esmtp = State.GREETING, "", False
        self.authenticated_as, self.auth_mechanism = None, None

    # --- commands ------------------------------------------------------------------------------

    async def _dispatch(self, cmd: Command) -> Outcome:
        match cmd:
            case Ehlo(domain=domain):
                self._reset(helo=domain, esmtp=True)
                return Outcome(replies.ehlo(self.hostname, self.extensions()))
            case Helo(domain=domain):
                self._reset(helo=domain, esmtp=False)
                return Outcome(replies.helo(self.hostname))
            case MailFrom():
                return await self._mail(cmd)
            case RcptTo():
                return await self._rcpt(cmd)
            case Data():
                return self._data()
            case Bdat():
                return self._bdat(cmd)
            case Rset():
                self._end_transaction()
                self.state = State.READY if self.state is not State.GREETING else State.GREETING
                return Outcome(replies.RESET_OK)
            case Noop():
                return Outcome(replies.NOOP_OK)
            case Quit():
                return Outcome(replies.BYE, Then.CLOSE)
            case Vrfy():
                return Outcome(replies.CANNOT_VRFY)
            case Expn():
                return Outcome(replies.NOT_IMPLEMENTED)
            case Help():
                return Outcome(replies.HELP)
            case StartTls():
                if self.tls_active or not self.tls_available:
                    return self._error(replies.TLS_NOT_AVAILABLE if not self.tls_active else replies.BAD_SEQUENCE)
                return Outcome(replies.TLS_READY, Then.START_TLS)
            case Auth():
                return await self._auth(cmd)
        return self._error(replies.NOT_IMPLEMENTED)  # pragma: no cover - every verb is matched above

    def extensions(self) -> list[str]:
        """The EHLO keywords, each advertised only when fully served (RFC 5321 §4.1.1.1)."""
        out = ["PIPELINING", f"SIZE {self.limits.max_message_bytes}", "8BITMIME", "SMTPUTF8", "CHUNKING",
               "DSN", "ENHANCEDSTATUSCODES"]
        if self.tls_available and not self.tls_active:
            out.append("STARTTLS")
        auth = self.policy.authenticator
        mechanisms = auth.mechanisms(self.login_peer) if auth is not None else ()
        if mechanisms:
            out.append("AUTH " + " ".join(mechanisms))
        return out

    async def _mail(self, cmd: MailFrom) -> Outcome:
        if self.policy.requires_auth and self.authenticated_as is None:
            return self._error(replies.AUTH_REQUIRED)
        if refusal := self._check_mail_params(cmd):
            return self._error(refusal)
        if refusal := await self.policy.check_mail(self.peer(), cmd):
            return Outcome(refusal)
        self.tx = Transaction(cmd, self.policy.open_delivery(self.peer(), cmd))
        self.state = State.MAIL
        return Outcome(replies.SENDER_OK)

    def _check_mail_params(self, cmd: MailFrom) -> Reply | None:
        if cmd.params and not self.esmtp:
            return replies.PARAM_NOT_RECOGNISED  # RFC 5321 §4.1.1.11: parameters need EHLO
        if set(cmd.params) - MAIL_PARAMS:
            return replies.PARAM_NOT_RECOGNISED
        size = cmd.params.get("SIZE")
        if size is not None and int(size) > self.limits.max_message_bytes:
            return replies.MESSAGE_TOO_BIG  # RFC 1870 §6.1
        if (cmd.params.get("BODY") or "7BIT").upper() == "BINARYMIME":
            return replies.PARAM_NOT_RECOGNISED  # not advertised (RFC 3030 §3)
        return None

    async def _rcpt(self, cmd: RcptTo) -> Outcome:
        tx = self.tx
        assert tx is not None
        if cmd.params and (not self.esmtp or set(cmd.params) - RCPT_PARAMS):
            return self._error(replies.PARAM_NOT_RECOGNISED)
        if tx.recipients >= self.limits.max_recipients:
            return Outcome(replies.TOO_MANY_RECIPIENTS)  # RFC 5321 §4.5.3.1.10: 452, not an error
        if refusal := self.policy.check_rcpt(self.peer(), cmd):
            return self._error(refusal)
        try:
            await tx.delivery.add_recipient(cmd.address, notify=cmd.params.get("NOTIFY"),
                                            orcpt=cmd.params.get("ORCPT"))
        except Refused as e:
            return self._error(e.reply)
        tx.recipients += 1
        self.state = State.RCPT
        return Outcome(replies.RECIPIENT_OK)

    def _data(self) -> Outcome:
        if self.state is State.CHUNKING:
            return self._error(replies.BAD_SEQUENCE)  # RFC 3030 §2: no DATA after BDAT
        if self.state is not State.RCPT:
            return self._error(replies.NO_VALID_RECIPIENTS)  # RFC 5321 §3.3
        return Outcome(replies.DATA_START, Then.READ_DATA)

    def _bdat(self, cmd: Bdat) -> Outcome:
        tx = self.tx
        assert tx is not None
        if tx.bdat_failed is not None:
            return self._bdat_discard(tx.bdat_failed, last=cmd.last, size=cmd.size)
        if tx.recipients == 0:
            tx.bdat_failed = replies.NO_VALID_RECIPIENTS
            return self._bdat_discard(replies.NO_VALID_RECIPIENTS, last=cmd.last, size=cmd.size)
        self.state = State.CHUNKING
        return Outcome(None, Then.READ_CHUNK, chunk_size=cmd.size, last=cmd.last)

    def _bdat_discard(self, reply: Reply, *, last: bool = False, size: int | None = None) -> Outcome:
        self.errors += 1
        if last and self.tx is not None:
            self._end_transaction()
            self.state = State.READY
        return Outcome(reply, Then.READ_CHUNK, chunk_size=size or 0, last=last, discard=True)

    @property
    def login_peer(self) -> login.Peer:
        """The connection as the authenticator sees it."""
        return login.Peer(self.client.ip, self.client.is_loopback, self.tls_active,
                          self.channel_binding if self.tls_active else None)

    async def _auth(self, cmd: Auth) -> Outcome:
        if self.authenticated_as is not None:
            return self._error(replies.BAD_SEQUENCE)  # RFC 4954 §4: once per session
        auth = self.policy.authenticator
        if auth is None:
            return self._error(replies.NOT_IMPLEMENTED)  # AUTH is not offered on this port
        exchange = auth.start(cmd.mechanism, self.login_peer)
        if isinstance(exchange, login.Failed):
            if exchange.reason is login.Reason.PLAINTEXT_REFUSED:
                return self._error(replies.STARTTLS_REQUIRED)
            return self._error(replies.MECHANISM_NOT_SUPPORTED)
        return await self._auth_step(exchange, cmd.initial_response)

    async def _auth_step(self, exchange: login.Exchange, response: bytes | None) -> Outcome:
        answer = await exchange.step(response)
        if isinstance(answer, login.Failed):
            return self._auth_failed(exchange, answer)
        if isinstance(answer, login.Authenticated):
            if self.ticket is not None and (limit := self.ticket.login(answer.identity)):
                log.info("%s: %s refused as %s: the limit of %s", self.policy.name, self.client.label,
                         answer.identity, limit)
                return self._error(replies.TOO_MANY_LOGINS)
            self.authenticated_as, self.auth_mechanism = answer.identity, exchange.mechanism
            log.info("%s: %s authenticated as %s", self.policy.name, self.client.label, answer.identity)
            return Outcome(replies.AUTH_OK)
        # A challenge; with SCRAM the last one is the server's final data, acknowledged empty.
        self._exchange = exchange
        return Outcome(replies.auth_challenge(answer.data), Then.READ_AUTH_LINE)

    def _auth_failed(self, exchange: login.Exchange, failed: login.Failed) -> Outcome:
        if failed.reason in AUTH_ERRORS:
            return self._error(AUTH_ERRORS[failed.reason])
        log.info("%s: failed AUTH %s from %s (%s)", self.policy.name, exchange.mechanism, self.client.label,
                 failed.reason.value)
        return self._error(replies.AUTH_FAILED)

    # --- helpers ---------------------------------------------------------------------------------

    def _reset(self, *, helo: str, esmtp: bool) -> None:
        """EHLO/HELO: a new greeting clears any transaction (RFC 5321 §4.1.4)."""
        self._end_transaction()
        self.helo, self.esmtp, self.state = helo, esmtp, State.READY

    def refuse(self, reply: Reply) -> Outcome:
        """A refusal found by the listener (an over-long line); counts like any client error."""
        return self._error(reply)

    def _error(self, reply: Reply) -> Outcome:
        """A refusal that counts toward the session's error limit; past it, 421 and close."""
        self.errors += 1
        if self.errors >= self.limits.max_errors:
            return Outcome(replies.TOO_MANY_ERRORS, Then.CLOSE)
        return Outcome(reply)
