"""A remote MX for outbound tests: an aiosmtpd server on loopback whose answers a test scripts."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field

from aiosmtpd.controller import Controller


@dataclass
class Received:
    sender: str
    recipients: list[str]
    content: bytes
    mail_options: list[str]
    rcpt_options: list[list[str]]


@dataclass
class Script:
    """What the remote answers. `rcpt` maps an address to a reply; `data_replies` are used, in
    order, for the next DATA commands (then 250)."""

    rcpt: dict[str, str] = field(default_factory=dict)
    data_replies: list[str] = field(default_factory=list)
    always_data: str | None = None


class Handler:
    def __init__(self) -> None:
        self.script = Script()
        self.received: list[Received] = []
        self.attempts = 0
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's name
        reply = self.script.rcpt.get(address)
        if reply and not reply.startswith("2"):
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        with self.lock:
            self.attempts += 1
            if self.script.always_data:
                return self.script.always_data
            if self.script.data_replies:
                return self.script.data_replies.pop(0)
            self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content,
                                          list(envelope.mail_options), list(envelope.rcpt_options)))
        return "250 2.0.0 queued remotely"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RemoteMx:
    def __init__(self) -> None:
        self.handler = Handler()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=free_port(), enable_SMTPUTF8=True,
                                     server_hostname="mx.remote.test")

    def __enter__(self) -> RemoteMx:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.controller.port}"
