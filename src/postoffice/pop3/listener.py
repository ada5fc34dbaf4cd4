"""The POP3 listeners: 110 with STLS and 995 with implicit TLS (RFC 8314); 2110 and 2995 by default.

A thin edge over `net.LineConnection`: lines in (255 octets for commands, RFC 2449 §4; longer for
SASL responses), replies out, message bodies written as they come from the session, already
byte-stuffed. The session's maildrop lock is released however the connection ends.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from functools import partial
from typing import TYPE_CHECKING

from postoffice.auth.accounts import credentials_of
from postoffice.auth.authenticator import Authenticator
from postoffice.auth.throttle import LoginThrottle
from postoffice.config import Pop3 as Pop3Config
from postoffice.net import READ_SIZE, Admission, Closed, ConnectionLimits, LineConnection, Listener, Ticket, is_loopback
from postoffice.pop3 import replies
from postoffice.pop3.session import Outcome, Pop3Session, Then
from postoffice.pop3.wire import MAX_AUTH_LINE, MAX_COMMAND_LINE, parse_command
from postoffice.store.api import Store

if TYPE_CHECKING:
    from postoffice.server import Running


class Connection(LineConnection):
    def __init__(self, listener: Pop3Listener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 session: Pop3Session) -> None:
        config = listener.config  # before login, the shorter of the two idle times
        super().__init__(reader, writer, idle_timeout_s=min(config.login_timeout_s, config.idle_timeout_s),
                         max_line=MAX_COMMAND_LINE,
                         timeout_reply=replies.TIMEOUT.encode())
        self.listener, self.session = listener, session

    async def run(self) -> None:
        try:
            await self.serve(self.session.greeting().encode(), self.step)
        finally:
            await self.session.close()

    async def step(self) -> None:
        line = await self.next_line()
        if line is None:
            await self.act(self.session.refuse(replies.LINE_TOO_LONG))
            return
        await self.act(await self.session.handle(parse_command(line)))

    async def act(self, outcome: Outcome) -> None:
        if outcome.reply is not None:
            self.write(outcome.reply.encode())
        if outcome.body:
            self.write(outcome.body)
            await self.flush()  # a large message goes out now, with back-pressure
        match outcome.then:
            case Then.CLOSE:
                raise Closed
            case Then.START_TLS:
                await self.start_tls(self.listener.tls_context)
                self.session.tls_started()
            case Then.READ_AUTH_LINE:
                line = await self.next_line(MAX_AUTH_LINE)
                if line is None:
                    await self.act(self.session.refuse(replies.LINE_TOO_LONG))
                else:
                    await self.act(await self.session.auth_line(line))


class Pop3Listener(Listener):
    def __init__(self, *, store: Store, hostname: str, config: Pop3Config, tls_context: ssl.SSLContext,
                 implicit_tls: bool, throttle: LoginThrottle | None,
                 channel_binding: bytes | None = None, admission: Admission | None = None) -> None:
        if admission is None:
            admission = Admission("pop3", connection_limits(config))
        super().__init__(name="pop3", tls_context=tls_context, implicit_tls=implicit_tls, admission=admission,
                         too_many=replies.TOO_MANY_CONNECTIONS.encode(), goodbye=replies.SHUTTING_DOWN.encode())
        self.store, self.hostname, self.config = store, hostname, config
        self.authenticator = Authenticator(partial(credentials_of, store), plaintext_auth=config.plaintext_auth,
                                           throttle=throttle)
        self.channel_binding = channel_binding  # of tls_context's certificate (RFC 5929), for -PLUS

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ip: str, port: int,
                     ticket: Ticket) -> None:
        session = Pop3Session(store=self.store, hostname=self.hostname, client_ip=ip, is_loopback=is_loopback(ip),
                              authenticator=self.authenticator, max_errors=self.config.max_errors,
                              tls_available=not self.implicit_tls, tls_active=self.implicit_tls,
                              channel_binding=self.channel_binding, ticket=ticket)
        conn = Connection(self, reader, writer, session)

        def logged_in() -> None:
            conn.idle_timeout_s = self.config.idle_timeout_s

        ticket.on_login = logged_in
        self.track(conn)
        await conn.run()


async def start(run: Running, sock: socket.socket, *, implicit_tls: bool) -> None:
    """Starts the POP3 listener on `sock`: 110 with STLS, or 995 with implicit TLS."""
    config = run.config.pop3
    admission = run.admission("pop3", connection_limits(config), login_cost())
    listener = Pop3Listener(store=run.store, hostname=run.config.server_name, config=config,
                            tls_context=run.tls, implicit_tls=implicit_tls, throttle=run.throttle,
                            channel_binding=run.channel_binding, admission=admission)
    await listener.start(sock)
    run.stoppers.append(listener.stop)



def connection_limits(config: Pop3Config) -> ConnectionLimits:
    """Before login, per address; after it the maildrop lock allows one session per account."""
    return ConnectionLimits(config.max_connections, config.max_connections_per_ip)


def login_cost() -> int:
    """What one POP3 connection may hold in memory before it logs in, at worst."""
    return MAX_COMMAND_LINE + MAX_AUTH_LINE + READ_SIZE
