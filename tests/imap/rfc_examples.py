"""What the RFC 9051 example tests share: a client that reads whole responses (literals
included), an account per test, and readers for the values in responses."""

from __future__ import annotations

import base64
import re

from tests.conftest import client_tls
from tests.conftest import new_account as add_account
from tests.imap.test_session_flow import Raw

PASSWORD = "example-secret"
SYSTEM_FLAGS = {b"\\Answered", b"\\Flagged", b"\\Deleted", b"\\Seen", b"\\Draft"}
_LITERAL_END = re.compile(rb"~?\{(\d+)\}$")


def new_account(server) -> str:
    """A new account on the running server, with the default mailboxes (INBOX, Drafts, Sent, ...)."""
    return add_account(server, "rfc", PASSWORD)


class Client(Raw):
    """A raw connection that reads whole responses (literals included) and runs tagged commands."""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def response(self) -> bytes:
        """One response: a line, with each literal it announces and the rest of the line after it."""
        out = line = self.line()
        while m := _LITERAL_END.search(line):
            line = self.exact(int(m[1])) + self.line()
            out += b"\r\n" + line
        return out

    def collect(self, tag: str) -> tuple[list[bytes], bytes]:
        untagged = []
        while not (resp := self.response()).startswith(tag.encode() + b" "):
            untagged.append(resp)
        return untagged, resp

    def run(self, tag: str, command: str | bytes) -> tuple[list[bytes], bytes]:
        data = command.encode() if isinstance(command, str) else command
        self.send(tag.encode() + b" " + data + b"\r\n")
        return self.collect(tag)

    def ok(self, tag: str, command: str | bytes) -> list[bytes]:
        """Runs `command`, which must complete OK; its untagged responses."""
        return self.completed(tag, *self.run(tag, command))

    def ok_after(self, tag: str) -> list[bytes]:
        """Reads through the OK completion of `tag`, sent earlier; its untagged responses."""
        return self.completed(tag, *self.collect(tag))

    @staticmethod
    def completed(tag: str, untagged: list[bytes], done: bytes) -> list[bytes]:
        assert done.startswith(tag.encode() + b" OK"), done
        return untagged


def login(server, address: str | None = None, *, rev2: bool = True) -> Client:
    c = Client(server)
    c.ok("l", f'LOGIN {address or new_account(server)} "{PASSWORD}"')
    if rev2:
        assert c.ok("e", "ENABLE IMAP4rev2") == [b"* ENABLED IMAP4rev2"]
    return c


def starttls(c: Client, tag: str) -> None:
    c.send(tag.encode() + b" STARTTLS\r\n")
    assert c.line().startswith(tag.encode() + b" OK")
    assert c.buf == b""
    c.sock = client_tls().wrap_socket(c.sock)


def plain(address: str) -> str:
    return base64.b64encode(f"{address}\0{address}\0{PASSWORD}".encode()).decode()


def message(subject: str, *, sender: str = "Fred Foobar <foobar@example.test>", day: int = 7,
            body: str = "Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n") -> bytes:
    return (f"Date: Mon, {day} Feb 1994 21:52:25 -0800\r\nFrom: {sender}\r\nSubject: {subject}\r\n"
            f"To: mooch@example.test\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}").encode()


def append(c: Client, box: str, *messages: bytes | tuple[str, str | None, bytes]) -> list[int]:
    """Appends the messages in one MULTIAPPEND; each is its bytes or (flags, date-time, bytes).
    Returns their UIDs, from APPENDUID (RFC 4315 §3)."""
    parts = []
    for m in messages:
        flags, when, data = m if isinstance(m, tuple) else ("()", None, m)
        parts.append(flags.encode() + (f' "{when}"'.encode() if when else b"") + b" {%d+}\r\n" % len(data) + data)
    untagged, done = c.run("ap", f"APPEND {box} ".encode() + b" ".join(parts))
    found = re.search(rb"\[APPENDUID \d+ ([\d:,]+)\]", done)
    assert done.startswith(b"ap OK") and found, done
    return expand(found[1])


def expand(text: bytes) -> list[int]:
    """The numbers of a sequence set without "*", in the order written: b"304,319:320"."""
    out = []
    for item in text.split(b","):
        low, _, high = item.partition(b":")
        a, b = int(low), int(high or low)
        out += range(min(a, b), max(a, b) + 1)
    return out


def status(c: Client, box: str, items: str = "MESSAGES UIDNEXT UIDVALIDITY UNSEEN") -> dict[str, int]:
    line = one(c.ok("st", f"STATUS {box} ({items})"), rb"\* STATUS .* \(([^)]*)\)$")
    words = line.split()
    return {k.decode(): int(v) for k, v in zip(words[::2], words[1::2])}


def one(lines: list[bytes], pattern: bytes) -> bytes:
    """Group 1 of the only line that matches `pattern`."""
    found = [m for line in lines if (m := re.fullmatch(pattern, line, re.DOTALL))]
    assert len(found) == 1, (pattern, lines)
    return found[0][1]


def flags(line: bytes) -> set[bytes]:
    return set(re.search(rb"FLAGS \(([^)]*)\)", line)[1].split())


def uid_of(line: bytes) -> int:
    return int(re.search(rb"UID (\d+)", line)[1])


def number(line: bytes) -> int:
    return int(line.split()[1])


def literal_of(response: bytes, item: bytes) -> bytes:
    """The literal value of FETCH item `item` (b"BODY[HEADER]") in one FETCH response."""
    m = re.search(re.escape(item) + rb" \{(\d+)\}\r\n", response)
    return response[m.end():m.end() + int(m[1])]


def listed(c: Client, pattern: str, reference: str = '""', *, selection: str = "") -> dict[str, set[bytes]]:
    """Name -> attributes of each LIST response, in order."""
    out = {}
    for line in c.ok("li", f'LIST {selection}{reference} "{pattern}"'):
        m = re.fullmatch(rb'\* LIST \(([^)]*)\) "/" (?:"((?:[^"\\]|\\.)*)"|(\S+))( .*)?', line)
        assert m, line
        name = m[2] if m[2] is not None else m[3]
        out[re.sub(rb"\\(.)", rb"\1", name).decode()] = set(m[1].split())
    return out


def list_line(c: Client, name: str) -> bytes:
    lines = c.ok("li", f'LIST "" "{name}"')
    assert len(lines) == 1, lines
    return lines[0]


def esearch(line: bytes) -> tuple[str, bool, dict[str, bytes]]:
    """(tag, UID indicator, return data) of an ESEARCH response (RFC 9051 §7.3.4)."""
    m = re.fullmatch(rb'\* ESEARCH \(TAG "([^"]*)"\)( UID)?((?: [A-Z]+ [0-9:,]+)*)', line)
    assert m, line
    words = m[3].split()
    return m[1].decode(), bool(m[2]), {k.decode(): v for k, v in zip(words[::2], words[1::2])}


def saved(c: Client) -> list[int]:
    """The messages "$" names now (RFC 9051 §6.4.4.1), by sequence number."""
    return [number(line) for line in c.ok("sv", "FETCH $ (UID)")]
