"""The IMAP listeners: 143 with STARTTLS and 993 with implicit TLS (RFC 8314); 2143 and 2993 by default.

A thin edge over `net.LineConnection`: the buffer goes to `wire.parse_command` as it is, which
says how much of it a command used, or that it needs more (and whether the client waits for a
"+" before sending a synchronizing literal, RFC 9051 §4.3); a refused command's rest is dropped
as the parser says (`BadCommand.drain`, `skip_line`). IDLE (RFC 2177) waits on the socket and on
the selected mailbox's change feed at once. The session leaves the feed however the connection
ends.

Limits come from the `[imap]` section: the command line (`max_line_bytes`), one literal
(`max_append_bytes`, also APPENDLIMIT), a whole command (twice that: a MULTIAPPEND of several
messages), BAD answers in a row (`max_errors`). A command is held in memory until parsed. Before
login, much smaller ones apply (`login_max_line_bytes`, `login_max_literal_bytes`: enough for
LOGIN and AUTHENTICATE), so a client nobody knows holds a few KB at most: a bigger literal is
refused at its announcement with BAD [TOOBIG], and a non-synchronizing one (whose octets come
anyway) also with `* BYE` and the end of the connection, rather than reading them (RFC 7888 §4,
choice 2). The idle time allowed before login is `login_timeout_s`. After login, a literal of a
MiB or more is read only when `max_literal_memory_bytes` has room for it, counted over all
sessions (the client waits for its "+", or TCP holds a LITERAL+ back), so a hundred clients
APPENDing 25 MB at once take turns instead of the server's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from functools import partial
from typing import TYPE_CHECKING

from postoffice.auth.accounts import credentials_of
from postoffice.auth.authenticator import Authenticator
from postoffice.auth.throttle import LoginThrottle
from postoffice.config import Imap as ImapConfig
from postoffice.imap import responses as r
from postoffice.imap.outcome import Outcome, Then, encode
from postoffice.imap.session import ImapSession
from postoffice.imap.wire import BadCommand, Limits, NeedMore, parse_auth_response, parse_command, parse_idle_done
from postoffice.net import (
    READ_SIZE, Admission, Closed, ConnectionLimits, LineConnection, Listener, Ticket, WaitingBudget, is_loopback,
)
from postoffice.store.api import Change, Store

if TYPE_CHECKING:
    from postoffice.server import Running

TIMEOUT = r.untagged_status("BYE", None, "Autologout; idle for too long")
SHUTTING_DOWN = r.untagged_status("BYE", r.UNAVAILABLE, "Server shutting down")
TOO_MANY = r.untagged_status("BYE", r.UNAVAILABLE, "Too many connections")
LARGE_LITERAL = 1 << 20  # a literal this big waits for room in the listener's literal budget
TOO_BIG_BEFORE_LOGIN = r.untagged_status("BYE", r.TOOBIG, "Literal too big before login")


class Connection(LineConnection):
    def __init__(self, listener: ImapListener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 session: ImapSession) -> None:
        config = listener.config  # before login, the shorter of the two idle times
        super().__init__(reader, writer, idle_timeout_s=min(config.login_timeout_s, config.idle_timeout_s),
                         max_line=listener.limits.max_line, timeout_reply=TIMEOUT)
        self.listener, self.session = listener, session
        session.emit = self.emit

    async def emit(self, data: bytes) -> None:
        self.write(data)
        await self.flush()

    async def run(self) -> None:
        try:
            await self.serve(self.session.greeting(), self.step)
        finally:
            await self.session.close()

    @property
    def limits(self) -> Limits:
        return self.listener.limits if self.session.account is not None else self.listener.login_limits

    async def step(self) -> None:
        held = 0
        try:
            while True:
                result, used = parse_command(self.buf, self.limits, utf8=self.session.utf8)
                if not isinstance(result, NeedMore):
                    break
                if not held and result.literal >= LARGE_LITERAL and self.session.account is not None:
                    # Read a large literal only when the budget for them has room (the client
                    # waits for "+", or TCP holds a LITERAL+ back): memory stays bounded however
                    # many sessions APPEND at once.
                    held = min(result.literal, self.listener.literal_budget.max_bytes)
                    await self.flush()
                    await self.listener.literal_budget.hold(held)
                if result.wants_continuation:
                    self.write(r.continuation("Ready"))  # RFC 9051 §7.6
                await self.fill()
            del self.buf[:used]
            if isinstance(result, BadCommand) and result.drain and self.session.account is None:
                # Before login, octets announced past the limit are not read: BAD, BYE, closed.
                self.write(encode(await self.session.handle(result)))
                self.write(TOO_BIG_BEFORE_LOGIN)
                raise Closed
            outcome = await self.session.handle(result)
        finally:
            if held:
                await self.listener.literal_budget.give_back(held)
        await self.act(outcome)
        if isinstance(result, BadCommand):
            await self.discard(result)

    async def discard(self, bad: BadCommand) -> None:
        """What the parser says is left of a refused command (RFC 7888 §4 choice 1)."""
        if bad.drain:
            await self.drop(bad.drain)
        if bad.skip_line:
            while (end := self.buf.find(b"\n")) < 0:
                self.buf.clear()
                await self.fill()
            del self.buf[:end + 1]

    async def act(self, outcome: Outcome) -> None:
        self.write(encode(outcome))
        match outcome.then:
            case Then.CLOSE:
                raise Closed
            case Then.START_TLS:
                await self.start_tls(self.listener.tls_context)
                self.session.tls_started()
            case Then.READ_AUTH_LINE:
                while True:
                    result, used = parse_auth_response(self.buf, self.limits)
                    if not isinstance(result, NeedMore):
                        break
                    await self.fill()
                del self.buf[:used]
                await self.act(await self.session.auth_line(result))
                if isinstance(result, BadCommand):
                    await self.discard(result)
            case Then.IDLE:
                await self.idle()

    async def idle(self) -> None:
        """RFC 2177 §3: report changes as they come until the client's DONE."""
        queue = self.session.feed
        reading: asyncio.Task[None] | None = None
        getting: asyncio.Task[Change] | None = None
        try:
            while True:
                result, used = parse_idle_done(self.buf, self.limits, tag=self.session.pending_tag)
                if not isinstance(result, NeedMore):
                    del self.buf[:used]
                    self.write(encode(self.session.idle_done(result)))
                    if isinstance(result, BadCommand):
                        await self.discard(result)
                    return
                await self.flush()
                if reading is None:
                    reading = asyncio.ensure_future(self.fill())
                if queue is not None and getting is None:
                    getting = asyncio.ensure_future(queue.get())
                waiting = {t for t in (reading, getting) if t is not None}
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if getting is not None and getting in done:
                    change, getting = getting.result(), None
                    if self.session.selected is not None:
                        self.session.selected.apply(change)
                    self.write(self.session.pending_updates(allow_expunge=True))
                if reading is not None and reading in done:
                    finished, reading = reading, None
                    finished.result()  # Closed when the client went away or timed out
        finally:
            for task in (reading, getting):
                if task is not None and not task.done():
                    task.cancel()
                    with contextlib.suppress(BaseException):
                        await task


class ImapListener(Listener):
    def __init__(self, *, store: Store, hostname: str, config: ImapConfig, tls_context: ssl.SSLContext,
                 implicit_tls: bool, throttle: LoginThrottle | None, channel_binding: bytes | None = None,
                 admission: Admission | None = None, literal_budget: WaitingBudget | None = None) -> None:
        if admission is None:
            admission = Admission("imap", connection_limits(config))
        super().__init__(name="imap", tls_context=tls_context, implicit_tls=implicit_tls, admission=admission,
                         too_many=TOO_MANY, goodbye=SHUTTING_DOWN)
        self.store, self.hostname, self.config = store, hostname, config
        self.authenticator = Authenticator(partial(credentials_of, store), plaintext_auth=config.plaintext_auth,
                                           throttle=throttle)
        self.channel_binding = channel_binding  # of tls_context's certificate (RFC 5929), for -PLUS
        self.limits = Limits(max_line=config.max_line_bytes, max_literal=config.max_append_bytes,
                             max_command=2 * config.max_append_bytes + config.max_line_bytes)
        self.login_limits = login_limits(config)
        self.literal_budget = literal_budget or WaitingBudget(config.max_literal_memory_bytes)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ip: str, port: int,
                     ticket: Ticket) -> None:
        session = ImapSession(store=self.store, hostname=self.hostname, client_ip=ip, is_loopback=is_loopback(ip),
                              authenticator=self.authenticator, channel_binding=self.channel_binding,
                              tls_available=not self.implicit_tls, tls_active=self.implicit_tls,
                              append_limit=self.config.max_append_bytes,
                              max_errors=self.config.max_errors, ticket=ticket)
        conn = Connection(self, reader, writer, session)

        def logged_in() -> None:
            conn.idle_timeout_s = self.config.idle_timeout_s

        ticket.on_login = logged_in
        self.track(conn)
        await conn.run()


async def start(run: Running, sock: socket.socket, *, implicit_tls: bool) -> None:
    """Starts the IMAP listener on `sock`: 143 with STARTTLS, or 993 with implicit TLS."""
    config = run.config.imap
    admission = run.admission("imap", connection_limits(config), login_cost(config))
    if run.imap_literal_budget is None:  # one for the plain and the TLS listener together
        run.imap_literal_budget = WaitingBudget(config.max_literal_memory_bytes)
    listener = ImapListener(store=run.store, hostname=run.config.server_name, config=config, tls_context=run.tls,
                            implicit_tls=implicit_tls, throttle=run.throttle, channel_binding=run.channel_binding,
                            admission=admission, literal_budget=run.imap_literal_budget)
    await listener.start(sock)
    run.stoppers.append(listener.stop)



def connection_limits(config: ImapConfig) -> ConnectionLimits:
    return ConnectionLimits(config.max_connections, config.max_connections_per_ip,
                            config.max_connections_per_account_ip, config.max_connections_per_account)


def login_limits(config: ImapConfig) -> Limits:
    """What a command may be before login: a line, and literals as big as a login needs."""
    return Limits(max_line=config.login_max_line_bytes, max_literal=config.login_max_literal_bytes,
                  max_command=2 * config.login_max_literal_bytes + config.login_max_line_bytes)


def login_cost(config: ImapConfig) -> int:
    """What one IMAP connection may hold in memory before it logs in, at worst."""
    return login_limits(config).max_command + READ_SIZE
