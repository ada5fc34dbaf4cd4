"""The asyncio edge of both SMTP listeners: accept, TLS, read with limits and deadlines, write.

Everything the protocol decides is `SmtpSession`'s; this module only moves bytes. It reads into one
buffer and takes complete lines from it, so pipelined commands (RFC 2920) are answered in order
and their replies written in one batch when the buffer runs dry. Message data (DATA, BDAT) streams
through the sans-I/O readers of smtp.data into a spool file, never whole into memory while it
arrives; an oversize or malformed message is read to its end and dropped.

Limits: the command line length (drained, then 500 5.5.2), idle time (421 4.4.2), connections per
client address and per listener (421 4.7.0 at connect). After STARTTLS, anything the client sent
before the handshake finished is thrown away (RFC 3207 §4.2: the command-injection defence).
Shutdown writes 421 4.3.2 to every open session.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from postoffice.config import Smtp as SmtpLimits
from postoffice.smtp import replies
from postoffice.smtp.data import ChunkReader, DataReader
from postoffice.smtp.replies import Reply
from postoffice.smtp.session import Client, Limits, Outcome, Policy, SmtpSession, Then
from postoffice.smtp.wire import TooLong, parse_command, skip_line, split_line
from postoffice.auth.throttle import LoginThrottle

log = logging.getLogger(__name__)

READ_SIZE = 65536
SPOOL_IN_MEMORY = 1 << 20  # bytes of a message held in memory before the spool goes to disk


class Spool:
    """Where message data goes while it arrives: memory for small messages, a file beyond."""

    def __init__(self, directory: Path) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=directory)

    def write(self, data: bytes) -> None:
        self._file.write(data)

    def content(self) -> bytes:
        self._file.seek(0)
        return self._file.read()

    def close(self) -> None:
        self._file.close()


class Closed(Exception):
    """The client went away, or was sent away; the session is over."""


class Connection:
    def __init__(self, listener: SmtpListener, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 session: SmtpSession) -> None:
        self.listener, self.reader, self.writer, self.session = listener, reader, writer, session
        self.buf = bytearray()
        self.pending: list[bytes] = []
        self.limits = listener.limits

    async def run(self) -> None:
        try:
            self.say(self.session.greeting())
            while True:
                await self.step()
        except Closed:
            pass
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            with contextlib.suppress(Exception):
                await self.flush()
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    def say(self, reply: Reply | None) -> None:
        if reply is not None:
            self.pending.append(reply.encode())

    async def flush(self) -> None:
        if self.pending:
            self.writer.write(b"".join(self.pending))
            self.pending.clear()
            await self.writer.drain()

    async def fill(self) -> None:
        """Reads more into the buffer, after writing what is pending (RFC 2920 §3.1)."""
        await self.flush()
        try:
            async with asyncio.timeout(self.limits.idle_timeout_s):
                data = await self.reader.read(READ_SIZE)
        except TimeoutError:
            self.say(replies.TIMEOUT)
            raise Closed from None
        if not data:
            raise Closed
        self.buf += data

    async def next_line(self) -> bytes | None:
        """The next line, read as far as needed; None for an over-long line, drained to its end."""
        while True:
            line, used = split_line(self.buf, self.limits.max_command_bytes)
            if line is not None:
                break
            await self.fill()
        del self.buf[:used]
        if not isinstance(line, TooLong):
            return line
        ended = line.ended
        while not ended:
            await self.fill()
            ended, used = skip_line(self.buf)
            del self.buf[:used]
        return None

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
                await self.start_tls()

    async def read_data(self) -> None:
        spool = Spool(self.listener.spool_dir)
        try:
            reader = DataReader(spool.write, max_bytes=self.listener.limits.max_message_bytes,
                                max_line=self.listener.limits.max_line_bytes)
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

    async def drop(self, size: int) -> None:
        """Reads and throws away `size` octets (a refused BDAT chunk, RFC 3030 §2)."""
        while size:
            if not self.buf:
                await self.fill()
            n = min(size, len(self.buf))
            del self.buf[:n]
            size -= n

    async def read_auth_line(self) -> None:
        line = await self.next_line()
        if line is None:
            await self.act(self.session.refuse(replies.AUTH_LINE_TOO_LONG))
            return
        await self.act(await self.session.auth_line(line))

    async def start_tls(self) -> None:
        await self.flush()
        # RFC 3207 §4.2: what arrived before the handshake must not count as sent over TLS.
        self.buf.clear()
        try:
            await self.writer.start_tls(self.listener.tls_context)
        except (ssl.SSLError, ConnectionError, OSError, TimeoutError):
            raise Closed from None
        self.session.tls_started()


class SmtpListener:
    """One SMTP port: the MTA's, or the MSA's with STARTTLS, or the MSA's with implicit TLS."""

    def __init__(self, *, policy_for: Callable[[], Policy], hostname: str, limits: SmtpLimits,
                 tls_context: ssl.SSLContext, implicit_tls: bool, throttle: LoginThrottle | None,
                 spool_dir: Path) -> None:
        self.policy_for, self.hostname, self.limits = policy_for, hostname, limits
        self.tls_context, self.implicit_tls, self.throttle = tls_context, implicit_tls, throttle
        self.spool_dir = spool_dir
        spool_dir.mkdir(parents=True, exist_ok=True)
        self.per_ip: Counter[str] = Counter()
        self.connections: set[Connection] = set()
        self.server: asyncio.Server | None = None

    async def start(self, sock: object) -> None:
        self.server = await asyncio.start_server(
            self._accept, sock=sock, ssl=self.tls_context if self.implicit_tls else None,
            limit=READ_SIZE, ssl_handshake_timeout=30 if self.implicit_tls else None)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.pending.append(replies.SHUTTING_DOWN.encode())
            with contextlib.suppress(Exception):
                conn.writer.write(b"".join(conn.pending))
                conn.pending.clear()
                conn.writer.close()
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
        ip, port = peer[0], peer[1]
        if self.per_ip[ip] >= self.limits.max_connections_per_ip or len(self.connections) >= self.limits.max_connections:
            writer.write(replies.TOO_MANY_CONNECTIONS.encode())
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()
            return
        session = SmtpSession(
            policy=self.policy_for(), hostname=self.hostname, client=Client(ip, port, _is_loopback(ip)),
            limits=Limits(max_message_bytes=self.limits.max_message_bytes, max_line_bytes=self.limits.max_line_bytes,
                          max_recipients=self.limits.max_recipients, max_errors=self.limits.max_errors),
            throttle=self.throttle, tls_available=not self.implicit_tls, tls_active=self.implicit_tls)
        conn = Connection(self, reader, writer, session)
        self.per_ip[ip] += 1
        self.connections.add(conn)
        try:
            await conn.run()
        except Exception:
            log.exception("smtp: connection from %s ended by an error", ip)
        finally:
            self.connections.discard(conn)
            self.per_ip[ip] -= 1
            if not self.per_ip[ip]:
                del self.per_ip[ip]


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.split("%")[0]).is_loopback
    except ValueError:
        return False
