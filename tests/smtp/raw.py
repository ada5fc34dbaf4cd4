"""A raw SMTP client for what no polite client sends: pipelined bursts, bare LFs, garbage."""

from __future__ import annotations

import socket
import ssl

from tests.conftest import client_tls


class RawSmtp:
    def __init__(self, host: str, port: int, *, tls: bool = False, timeout: float = 20) -> None:
        sock = socket.create_connection((host, port), timeout=timeout)
        self.sock: socket.socket | ssl.SSLSocket = client_tls().wrap_socket(sock) if tls else sock
        self.buf = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError(f"closed; unread: {self.buf!r}")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self) -> tuple[int, str]:
        """One reply: its code and its text (lines joined with newlines)."""
        lines = []
        while True:
            line = self.line().decode()
            lines.append(line[4:])
            if line[3:4] != "-":
                return int(line[:3]), "\n".join(lines)

    def command(self, line: str | bytes) -> tuple[int, str]:
        self.send((line.encode() if isinstance(line, str) else line) + b"\r\n")
        return self.reply()

    def ehlo(self, name: str = "client.test") -> tuple[int, str]:
        self.reply()  # greeting
        return self.command(f"EHLO {name}")

    def starttls(self) -> None:
        assert self.command("STARTTLS")[0] == 220
        self.sock = client_tls().wrap_socket(self.sock)

    def closed(self) -> bool:
        try:
            return self.sock.recv(1) == b""
        except (ConnectionError, OSError):
            return True

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawSmtp:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
