"""What an IMAP command answers: its response lines, what the connection does next, and the
refusal deep code raises.

A leaf of the package: commands and the session build outcomes, the listener writes them; this
module imports neither, so no command needs the session to say what it answers.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from postoffice.imap import responses as r
from postoffice.imap.wire import AuthResponse, BadCommand


class Then(enum.Enum):
    NOTHING = "nothing"
    READ_AUTH_LINE = "read-auth-line"
    START_TLS = "start-tls"
    IDLE = "idle"
    CLOSE = "close"


AuthLineReader = Callable[[AuthResponse | BadCommand], Awaitable["Outcome"]]
"""What takes the client's next AUTHENTICATE line (RFC 9051 §6.2.2) and answers it."""


@dataclass(frozen=True, slots=True)
class Outcome:
    data: bytes  # every response line of the command, untagged ones first
    then: Then = Then.NOTHING
    reader: AuthLineReader | None = None  # with Then.READ_AUTH_LINE: the exchange in progress


class Refused(Exception):
    """A command refused deep down: the tagged status, its code and text."""

    def __init__(self, status: str, code: r.Code | None, text: str) -> None:
        super().__init__(text)
        self.status, self.code, self.text = status, code, text
