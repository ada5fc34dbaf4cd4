"""The MDA's delivery steps: for each local recipient, where its copy goes.

A step looks at one incoming copy (the envelope, the recipient, the message's header fields) and
either decides (`Decision`: a mailbox and flags, or a discard) or passes (None) to the next step.
The MDA runs its steps in order, first decision wins, and always ends with `InboxStep`, so every
copy has a decision. Steps come from the stages that filter mail: inbound verdicts filing spam
into Junk, Sieve's fileinto/discard, quotas; the default today is the INBOX alone.

A step never writes: the store writes the decided copies and settles the queue rows in one
transaction (`store.api.Queue`), so a decision can be taken again after a crash without doubling.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from postoffice.message.headers import get_header
from postoffice.store.api import Envelope, QueuedRecipient


@dataclass(frozen=True, slots=True)
class Incoming:
    """One local recipient's copy of a message, as the steps see it."""

    queue_id: str
    envelope: Envelope
    recipient: QueuedRecipient
    content: bytes  # the message as queued (without this copy's own header lines)
    _headers: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)

    def header(self, name: str) -> list[str]:
        """The values of the header field `name` (unfolded), in order; [] when absent."""
        key = name.lower()
        if key not in self._headers:
            self._headers[key] = get_header(self.content, name)
        return self._headers[key]


@dataclass(frozen=True, slots=True)
class Decision:
    """Where a step puts the copy: a mailbox by name (None: discard it), with flags."""

    mailbox: str | None
    flags: frozenset[str] = frozenset()
    create: bool = False  # make the mailbox when it does not exist (else the copy goes to INBOX)


DISCARD = Decision(None)


class DeliveryStep(Protocol):
    """One step of local delivery; `name` is what the journey says decided ("filed ... by NAME")."""

    @property
    def name(self) -> str: ...

    async def decide(self, incoming: Incoming) -> Decision | None:
        """This step's decision for the copy, or None to leave it to the next step."""


class InboxStep:
    """The last step, always there: the recipient's INBOX."""

    name = "inbox"

    async def decide(self, incoming: Incoming) -> Decision | None:
        return Decision("INBOX")
