"""What an IMAP command answers: its untagged lines, its typed completion, and what the connection
does next; the refusal deep code raises; the lines that report a selected mailbox's changes.

A leaf of the package (it imports `responses`, `selected` and `wire`, never a command or the
session), so a command says what it answers without knowing who writes it. The session reads the
typed completion (to count BAD answers, RFC 9051 §7.1.3) and adds pending updates ahead of it;
the listener turns an outcome into bytes once, with `encode`.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Literal

from postoffice.imap import responses as r
from postoffice.imap.selected import Exists, Expunge, FlagsChanged, Update
from postoffice.imap.wire import AuthResponse, BadCommand

Condition = Literal["OK", "NO", "BAD"]  # RFC 9051 §9 resp-cond-state


class Then(enum.Enum):
    """What the connection does once the outcome is written."""

    NOTHING = "nothing"
    READ_AUTH_LINE = "read-auth-line"
    START_TLS = "start-tls"
    IDLE = "idle"
    CLOSE = "close"


@dataclass(frozen=True, slots=True)
class Completion:
    """The status response that ends a command (RFC 9051 §7.1): tagged, or untagged ("* BAD") when
    the command's tag could not be read."""

    tag: str | None
    status: Condition
    code: r.Code | None
    text: str

    def encode(self) -> bytes:
        if self.tag is None:
            return r.untagged_status(self.status, self.code, self.text)
        return r.tagged(self.tag, self.status, self.code, self.text)


AuthLineReader = Callable[[AuthResponse | BadCommand], Awaitable["Outcome"]]
"""What takes the client's next AUTHENTICATE line (RFC 9051 §6.2.2) and answers it."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """One command's answer. `lines` are encoded untagged responses (or a continuation request),
    in the order they go; `completion` is None while the command goes on (IDLE, AUTHENTICATE);
    `after` follows the completion (the BYE of a session ended for too many errors)."""

    lines: tuple[bytes, ...] = ()
    completion: Completion | None = None
    then: Then = Then.NOTHING
    reader: AuthLineReader | None = None  # with Then.READ_AUTH_LINE: the exchange in progress
    after: tuple[bytes, ...] = ()

    @property
    def is_bad(self) -> bool:
        """Whether the command was answered BAD, tagged or untagged."""
        return self.completion is not None and self.completion.status == "BAD"

    def with_updates(self, updates: bytes) -> Outcome:
        """The command's own responses, then `updates`, then its completion: the command's results
        carry the sequence numbers the client knew when it sent the command, and any EXPUNGE among
        the updates renumbers only what follows (RFC 9051 §7.5.1)."""
        return replace(self, lines=self.lines + (updates,)) if updates else self


def encode(outcome: Outcome) -> bytes:
    """The bytes the client reads for `outcome`."""
    completion = outcome.completion.encode() if outcome.completion is not None else b""
    return b"".join(outcome.lines) + completion + b"".join(outcome.after)


def reply(tag: str, status: Condition, code: r.Code | None, text: str, *lines: bytes) -> Outcome:
    """An outcome of `lines` (empty ones left out) completed with a tagged status."""
    return Outcome(tuple(line for line in lines if line), Completion(tag, status, code, text))


def ok(tag: str, text: str, *lines: bytes, code: r.Code | None = None) -> Outcome:
    return reply(tag, "OK", code, text, *lines)


class Refused(Exception):
    """A command refused deep down: the tagged status, its code and text."""

    def __init__(self, status: Condition, code: r.Code | None, text: str) -> None:
        super().__init__(text)
        self.status, self.code, self.text = status, code, text


def update_line(update: Update) -> bytes:
    """The untagged response that tells the client of one change to its selected mailbox."""
    match update:
        case Expunge(seq=seq):
            return r.untagged(b"%d EXPUNGE" % seq)
        case Exists(count=count):
            return r.untagged(b"%d EXISTS" % count)
        case FlagsChanged(seq=seq, uid=uid, flags=flags):
            return r.fetch(seq, [("FLAGS", r.flag_list(flags - {"\\Recent"})), ("UID", r.number(uid))])
    raise TypeError(update)  # pragma: no cover
