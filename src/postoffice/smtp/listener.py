"""The asyncio edge of both SMTP listeners: accept, TLS, read with limits and deadlines, write.

Everything the protocol decides is `SmtpSession`'s; this module only moves bytes. It reads into one
buffer and takes complete lines from it, so pipelined commands (RFC 2920) are answered in order
and their replies written in one batch when the buffer runs dry. Message data (DATA, BDAT) streams
through the sans-I/O readers of smtp.data into a spool file, never whole into memory while it
arrives; an oversize or malformed message is read to its end and dropped.

Limits: the command line length (drained, then 500 5.5.2), idle time (421 4.4.2; on submission a
shorter one until AUTH), connections per client address and per listener (421 4.7.0 at connect,
`net.Admission`), and on submission, connections per account after AUTH (454 4.7.0). A message
spools in memory up to SPOOL_IN_MEMORY, then on disk: the worst case a connection holds before it
authenticates is its command line, one read and that much. After STARTTLS, anything the client sent
before the handshake finished is thrown away (RFC 3207 §4.2: the command-injection defence).
Shutdown writes 421 4.3.2 to every open session.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path

from postoffice.config import Smtp as SmtpLimits
from postoffice.smtp import replies
from postoffice.smtp.data import ChunkReader, DataReader
from postoffice.smtp.replies import Reply
from postoffice.smtp.session import Client, Limits, Outcome, Policy, SmtpSession, Then
from postoffice.smtp.wire import parse_command
from postoffice.net import READ_SIZE, Admission, Closed, ConnectionLimits, LineConnection, Listener, Ticket, is_loopback

log = logging.getLogger(__name__)

SPOOL_IN_MEMORY = 256 << 10  # bytes of a message held in memory before the spool goes to disk


class Spool:
    """Where message data goes while it arrives: memory for small messages, a file beyond."""

    def __init__(self, directory: Path) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=str(directory))

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def content(self) -> bytes:
        self._file.seek(0)
        return self._file.read()

    def close(self) -> None:
        self._file.close()


class Connection(LineConnection):
    def __init__(self, listener: SmtpListener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 session: SmtpSession) -> None:
        super().__init__(reader, writer, idle_timeout_s=listener.limits.idle_timeout_s,
                         max_line=listener.limits.max_command_bytes, timeout_reply=replies.TIMEOUT.encode())
        self.listener, self.session, self.limits = listener, session, listener.limits

    async def run(self) -> None:
        await self.serve(self.session.greeting().encode(), self.step)

    def say(self, reply: Reply | None) -> None:
        if reply is not None:
            self.write(reply.encode())

    async def step(self) -> None:
        line = await self.next_line()
        if line is None:
            await self.act(self.session.refuse(replies.LINE_TOO_LONG))
            return
        smtputf8 = self.session.tx.smtputf8 if self.session.tx else True
        await self.act(await self.session.handle(parse_command(line, smtputf8=smtputf8)))

    async def act(self, outcome: Outcome) -> None:
        self.say(outcome.reply)
        match outcome.then:
            case Then.NOTHING:
                pass
            case Then.CLOSE:
                raise Closed
            case Then.READ_DATA:
                await self.read_data()
            case Then.READ_CHUNK:
                await self.read_chunk(outcome)
            case Then.READ_AUTH_LINE:
                await self.read_auth_line()
            case Then.START_TLS:
                await self.start_tls(self.listener.tls_context)
                self.session.tls_started(tls_version(self.writer))

    async def read_data(self) -> None:
        spool = Spool(self.listener.spool_dir)
        try:
            reader = DataReader(spool.write, max_bytes=self.limits.max_message_bytes,
                                max_line=self.limits.max_line_bytes)
            while True:
                if self.buf:
                    used, end = reader.feed(bytes(self.buf))
                    del self.buf[:used]
                    if end is not None:
                        await self.act(await self.session.data_end(end, spool.content))
                        return
                await self.fill()
        finally:
            spool.close()

    async def read_chunk(self, outcome: Outcome) -> None:
        session = self.session
        tx = session.tx
        if outcome.discard or tx is None:
            await self.drop(outcome.chunk_size)
            return
        if tx.chunks is None:
            spool = Spool(self.listener.spool_dir)
            tx.chunks = (spool, ChunkReader(spool.write, max_bytes=self.limits.max_message_bytes,
                                            max_line=self.limits.max_line_bytes))
        spool, reader = tx.chunks
        reader.begin(outcome.chunk_size, last=outcome.last)
        try:
            while True:
                used, end = reader.feed(bytes(self.buf[: reader.remaining]))
                del self.buf[:used]
                if end is not None:
                    result = await session.chunk_end(end, spool.content)
                    if end.last or end.error is not None:
                        spool.close()
                    await self.act(result)
                    return
                await self.fill()
        except BaseException:
            spool.close()
            raise

    async def read_auth_line(self) -> None:
        await self.act(await self.session.auth_line(await self.next_line()))


class SmtpListener(Listener):
    """One SMTP port: the MTA's, or the MSA's with STARTTLS, or the MSA's with implicit TLS."""

    def __init__(self, *, policy_for: Callable[[], Policy], hostname: str, limits: SmtpLimits,
                 tls_context: ssl.SSLContext, implicit_tls: bool, channel_binding: bytes | None = None,
                 spool_dir: Path, admission: Admission | None = None, login_timeout_s: float | None = None) -> None:
        if admission is None:
            admission = Admission("smtp", ConnectionLimits(limits.max_connections, limits.max_connections_per_ip))
        super().__init__(name="smtp", tls_context=tls_context, implicit_tls=implicit_tls, admission=admission,
                         too_many=replies.TOO_MANY_CONNECTIONS.encode(), goodbye=replies.SHUTTING_DOWN.encode())
        self.policy_for, self.hostname, self.limits = policy_for, hostname, limits
        self.login_timeout_s = login_timeout_s  # idle time allowed before AUTH (submission); None: the same
        self.channel_binding = channel_binding  # of tls_context's certificate (RFC 5929), for -PLUS
        self.spool_dir = spool_dir
        spool_dir.mkdir(parents=True, exist_ok=True)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ip: str, port: int,
                     ticket: Ticket) -> None:
        session = SmtpSession(
            policy=self.policy_for(), hostname=self.hostname, client=Client(ip, port, is_loopback(ip)),
            limits=Limits(max_message_bytes=self.limits.max_message_bytes, max_line_bytes=self.limits.max_line_bytes,
                          max_recipients=self.limits.max_recipients, max_errors=self.limits.max_errors),
            tls_available=not self.implicit_tls, tls_active=self.implicit_tls, channel_binding=self.channel_binding,
            ticket=ticket)
        if self.implicit_tls:
            session.tls_version = tls_version(writer)
        conn = Connection(self, reader, writer, session)
        if self.login_timeout_s is not None:
            conn.idle_timeout_s = min(self.login_timeout_s, self.limits.idle_timeout_s)

            def logged_in() -> None:
                conn.idle_timeout_s = self.limits.idle_timeout_s

            ticket.on_login = logged_in
        self.track(conn)
        try:
            await conn.run()
        finally:
            session.connection_lost()


def tls_version(writer: asyncio.StreamWriter) -> str | None:
    ssl_object = writer.get_extra_info("ssl_object")
    return ssl_object.version() if ssl_object is not None else None


def login_cost(limits: SmtpLimits) -> int:
    """What one SMTP connection may hold in memory before it authenticates, at worst."""
    return limits.max_command_bytes + READ_SIZE + SPOOL_IN_MEMORY
