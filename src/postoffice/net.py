"""The asyncio edge shared by every line-based protocol listener (SMTP, POP3, and IMAP to come).

`LineConnection` reads into one buffer and hands out complete lines, bounded in length (an
over-long line is drained to its end, never buffered whole), with an idle deadline on every read;
replies are gathered and written in one batch when the input runs dry, which is what pipelining
clients need (RFC 2920 §3.1, RFC 2449 §6.6). `start_tls` throws away whatever the client sent
before the handshake finished (RFC 3207 §4.2, RFC 2595 §3.1: the command-injection defence).

`Listener` accepts connections within the limits of its `Admission`, and at shutdown writes the
protocol's goodbye to every open connection.

`Admission` keeps the connection limits of one protocol (shared by its plain and TLS listeners),
split by whether a connection has logged in, so that an office behind one NAT address is not
locked out while an anonymous flood still is: before login, connections per client address, and
a memory budget that every not-yet-logged-in connection of every protocol draws its worst case
from (`LoginBudget`: lines, literals and spooled data before login are bounded, so that worst case
is known); after login, connections per account and address and per account (Dovecot's
mail_max_userip_connections is 10). A refusal is the protocol's own "try later", and the log names
the limit that refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import ssl
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """One protocol's connection limits; 0 means none."""

    max_connections: int  # on one listener, logged in or not
    max_per_ip: int  # not logged in, from one client address
    max_per_account_ip: int = 0  # logged in as one account from one client address
    max_per_account: int = 0  # logged in as one account, from anywhere


class LoginBudget:
    """The memory all connections that have not logged in may hold together, in bytes; each
    connection draws its protocol's worst case (`Admission.cost`) until it logs in or closes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.used = max_bytes, 0

    def take(self, n: int) -> bool:
        if self.max_bytes and self.used + n > self.max_bytes:
            return False
        self.used += n
        return True

    def give(self, n: int) -> None:
        self.used -= n


class WaitingBudget:
    """Bytes that may be in use at once, shared by connections that wait their turn for them (the
    large literals of logged-in IMAP clients): `hold` waits until the amount fits, or until
    nothing else is held (so one request larger than the whole budget still goes, alone). A
    connection holds one amount at a time and never waits while holding, so no two wait on each
    other."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes, self.used = max_bytes, 0
        self._changed = asyncio.Condition()

    async def hold(self, n: int) -> None:
        async with self._changed:
            await self._changed.wait_for(lambda: not self.used or self.used + n <= self.max_bytes)
            self.used += n

    async def give_back(self, n: int) -> None:
        async with self._changed:
            self.used -= n
            self._changed.notify_all()


class Admission:
    """Who may be connected to one protocol: counted per address before login, per account after."""

    def __init__(self, name: str, limits: ConnectionLimits, *, budget: LoginBudget | None = None,
                 cost: int = 0) -> None:
        self.name, self.limits, self.budget, self.cost = name, limits, budget, cost
        self.per_ip: Counter[str] = Counter()  # not logged in
        self.per_account_ip: Counter[tuple[str, str]] = Counter()
        self.per_account: Counter[str] = Counter()

    def admit(self, ip: str) -> Ticket | str:
        """A ticket for a new connection from `ip`, or the name of the limit that refuses it."""
        if self.limits.max_per_ip and self.per_ip[ip] >= self.limits.max_per_ip:
            return "connections per client address before login"
        if self.budget is not None and not self.budget.take(self.cost):
            return "memory for connections before login"
        self.per_ip[ip] += 1
        return Ticket(self, ip)


class Ticket:
    """One connection's place in its protocol's counts; `login` moves it from the address's count
    to the account's, `close` gives it back."""

    def __init__(self, admission: Admission, ip: str) -> None:
        self.admission, self.ip = admission, ip
        self.account: str | None = None
        self.closed = False
        self.on_login: Callable[[], None] | None = None  # the listener's: e.g. the longer idle timeout

    def login(self, account: str) -> str | None:
        """Counts the connection as logged in as `account`; the name of the limit that refuses it
        instead (the connection then stays as it was, not logged in)."""
        a, limits = self.admission, self.admission.limits
        if self.account is not None or self.closed:
            return None
        if limits.max_per_account_ip and a.per_account_ip[(account, self.ip)] >= limits.max_per_account_ip:
            return "connections per account and client address"
        if limits.max_per_account and a.per_account[account] >= limits.max_per_account:
            return "connections per account"
        self._leave_login()
        self.account = account
        a.per_account_ip[(account, self.ip)] += 1
        a.per_account[account] += 1
        if self.on_login is not None:
            self.on_login()
        return None

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        a = self.admission
        if self.account is None:
            self._leave_login()
            return
        pair = (self.account, self.ip)
        a.per_account_ip[pair] -= 1
        if not a.per_account_ip[pair]:
            del a.per_account_ip[pair]
        a.per_account[self.account] -= 1
        if not a.per_account[self.account]:
            del a.per_account[self.account]

    def _leave_login(self) -> None:
        a = self.admission
        a.per_ip[self.ip] -= 1
        if not a.per_ip[self.ip]:
            del a.per_ip[self.ip]
        if a.budget is not None:
            a.budget.give(a.cost)


class Listener:
    """Accepts connections for one port and hands each to `handle`, within the connection limits."""

    def __init__(self, *, name: str, tls_context: ssl.SSLContext, implicit_tls: bool, admission: Admission,
                 too_many: bytes, goodbye: bytes) -> None:
        self.name, self.tls_context, self.implicit_tls = name, tls_context, implicit_tls
        self.admission, self.max_connections = admission, admission.limits.max_connections
        self.too_many, self.goodbye = too_many, goodbye
        self.active = 0
        self.connections: set[LineConnection] = set()
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, ip: str, port: int,
                     ticket: Ticket) -> None:
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
        ticket = self.admission.admit(ip) if self.active < self.max_connections else "connections on the listener"
        if isinstance(ticket, str):
            log.info("%s: refused a connection from %s: the limit of %s", self.name, ip, ticket)
            writer.write(self.too_many)
            with contextlib.suppress(Exception):
                await writer.drain()
            writer.close()
            return
        self.active += 1
        try:
            await self.handle(reader, writer, ip, port, ticket)
        except Exception:
            log.exception("%s: connection from %s ended by an error", self.name, ip)
        finally:
            self.connections = {c for c in self.connections if c.writer is not writer}
            self.active -= 1
            ticket.close()
