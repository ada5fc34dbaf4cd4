"""The asyncio edge shared by every line-based protocol listener (SMTP, POP3, and IMAP to come).

`LineConnection` reads into one buffer and hands out complete lines, bounded in length (an
over-long line is drained to its end, never buffered whole), with an idle deadline on every read;
replies are gathered and written in one batch when the input runs dry, which is what pipelining
clients need (RFC 2920 §3.1, RFC 2449 §6.6). `start_tls` throws away whatever the client sent
before the handshake finished (RFC 3207 §4.2, RFC 2595 §3.1: the command-injection defence).

`Listener` accepts connections, enforces the per-address and total connection limits, and at
shutdown writes the protocol's goodbye to every open connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

READ_SIZE = 65536
CLOSE_TIMEOUT_S = 5.0
SHUTDOWN_CLOSE_TIMEOUT_S = 0.5


class Closed(Exception):
    """The client went away, or was sent away; the session is over."""


def is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.split("%")[0]).is_loopback
    except ValueError:
        return False


class LineConnection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, idle_timeout_s: float,
                 max_line: int, timeout_reply: bytes) -> None:
        self.reader, self.writer = reader, writer
        self.idle_timeout_s, self.max_line, self.timeout_reply = idle_timeout_s, max_line, timeout_reply
        self.buf = bytearray()
        self.pending: list[bytes] = []
        self.close_timeout_s = CLOSE_TIMEOUT_S

    async def serve(self, greeting: bytes, step: Callable[[], Awaitable[None]]) -> None:
        """Greets, then runs `step` until the session closes; always closes the socket."""
        try:
            self.write(greeting)
            while True:
                await step()
        except (Closed, ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            await self.close()

    async def close(self) -> None:
        """Writes what is pending and closes, within CLOSE_TIMEOUT_S: a client that stops reading
        (or never answers TLS's close_notify) cannot hold the connection, or a shutdown, open."""
        try:
            async with asyncio.timeout(self.close_timeout_s):
                with contextlib.suppress(Exception):
                    await self.flush()
                self.writer.close()
                with contextlib.suppress(Exception):
                    await self.writer.wait_closed()
        except (TimeoutError, asyncio.CancelledError):
            self.writer.transport.abort()

    def write(self, data: bytes) -> None:
        self.pending.append(data)

    async def flush(self) -> None:
        if self.pending:
            self.writer.write(b"".join(self.pending))
            self.pending.clear()
            await self.writer.drain()

    async def fill(self) -> None:
        """Reads more into the buffer, after writing what is pending."""
        await self.flush()
        try:
            async with asyncio.timeout(self.idle_timeout_s):
                data = await self.reader.read(READ_SIZE)
        except TimeoutError:
            self.write(self.timeout_reply)
            raise Closed from None
        if not data:
            raise Closed
        self.buf += data

    async def next_line(self, limit: int | None = None) -> bytes | None:
        """The next line without its end, read as far as needed; None for an over-long line, which
        is drained to its end. A line ends with CRLF or, leniently, a bare LF."""
        limit = limit or self.max_line
        while True:
            end = self.buf.find(b"\n", 0, limit)
            if end >= 0:
                line = bytes(self.buf[:end])
                del self.buf[:end + 1]
                return line[:-1] if line.endswith(b"\r") else line
            if len(self.buf) >= limit:
                break
            await self.fill()
        while True:  # over the limit: drop everything up to and including the line's end
            end = self.buf.find(b"\n")
            if end >= 0:
                del self.buf[:end + 1]
                return None
            self.buf.clear()
            await self.fill()

    async def drop(self, size: int) -> None:
        """Reads and throws away `size` octets."""
        while size:
            if not self.buf:
                await self.fill()
            n = min(size, len(self.buf))
            del self.buf[:n]
            size -= n

    async def start_tls(self, context: ssl.SSLContext) -> None:
        await self.flush()
        self.buf.clear()  # sent before TLS: must not count as sent over it
        try:
            await self.writer.start_tls(context)
        except (ssl.SSLError, ConnectionError, OSError, TimeoutError):
            raise Closed from None


class Listener:
    """Accepts connections for one port and hands each to `handle`, within the connection limits."""

    def __init__(self, *, name: str, tls_context: ssl.SSLContext, implicit_tls: bool, max_connections_per_ip: int,
                 max_connections: int, too_many: bytes, goodbye: bytes) -> None:
        self.name, self.tls_context, self.implicit_tls = name, tls_context, implicit_tls
        self.max_per_ip, self.max_connections = max_connections_per_ip, max_connections
        self.too_many, self.goodbye = too_many, goodbye
        self.per_ip: Counter[str] = Counter()
        self.active = 0
        self.connections: set[LineConnection] = set()
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ip: str, port: int) -> None:
        raise NotImplementedError

    def track(self, conn: LineConnection) -> None:
        """Registers a connection, so that shutdown can say goodbye to it."""
        self.connections.add(conn)

    async def start(self, sock: object) -> None:
        self.server = await asyncio.start_server(
            self._accept, sock=sock, ssl=self.tls_context if self.implicit_tls else None,
            limit=READ_SIZE, ssl_handshake_timeout=30 if self.implicit_tls else None)

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
        for conn in list(self.connections):
            conn.close_timeout_s = SHUTDOWN_CLOSE_TIMEOUT_S
            with contextlib.suppress(Exception):
                conn.writer.write(b"".join(conn.pending) + self.goodbye)
                conn.pending.clear()
                conn.writer.close()
        if self.server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 5)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername") or ("0.0.0.0", 0)
        ip, port = peer[0], peer[1]
        if self.per_ip[ip] >= self.max_per_ip or self.active >= self.max_connections:
            writer.write(self.too_many)
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()
            return
        self.per_ip[ip] += 1
        self.active += 1
        try:
            await self.handle(reader, writer, ip, port)
        except Exception:
            log.exception("%s: connection from %s ended by an error", self.name, ip)
        finally:
            self.connections = {c for c in self.connections if c.writer is not writer}
            self.active -= 1
            self.per_ip[ip] -= 1
            if not self.per_ip[ip]:
                del self.per_ip[ip]
