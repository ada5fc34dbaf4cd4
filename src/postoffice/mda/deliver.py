"""Local delivery: a queued message into the INBOX of each local recipient, exactly once.

The MDA writes no new copy of the message: every local recipient's copy points to the one blob the
queue holds, with a short prefix of its own header lines: Return-Path (RFC 5321 §4.4, the envelope
sender) and Delivered-To (the recipient this copy was delivered for, the mark that lets loops be
seen). The copies and the settling of their queue rows commit in one transaction, so a crash at
any instant leaves a recipient queued or delivered, never both and never twice. Normally that is
the very transaction that queues the message (`Queue.enqueue(deliver=copy_prefix…)`); what it
could not deliver, `deliver` retries in a transaction of its own (`Queue.deliver_local`), and
`recover` finishes at start what a crash left queued.

Filters (Sieve), quotas and auto-replies come later; the plus-address tag is kept in the route.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

from postoffice.store.api import LocalCopy, QueuedMessage, RecipientState

log = logging.getLogger(__name__)


def copy_prefix(sender: str, recipient: str) -> bytes:
    """The header lines this copy alone carries, in the order RFC 5321 §4.4 puts trace fields."""
    return f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode()


class LocalDelivery:
    def __init__(self, store: object) -> None:
        self._store = store
        self._running: set[asyncio.Task[None]] = set()

    def deliver_soon(self, queued: QueuedMessage) -> None:
        """Starts delivering now, without holding up the SMTP reply (the message is already durable)."""
        task = asyncio.create_task(self.deliver(queued))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def deliver(self, queued: QueuedMessage) -> None:
        copies = [LocalCopy(r.id, r.mailbox, copy_prefix(queued.envelope.sender, r.address))
                  for r in queued.recipients if r.mailbox is not None and r.state is RecipientState.QUEUED]
        if not copies:
            return
        try:
            done = await self._store.queue.deliver_local(queued.queue_id, copies, datetime.now(UTC))  # type: ignore[attr-defined]
        except Exception:
            # Still queued, still durable: `recover` at the next start (or a retry) delivers it.
            log.exception("mda: delivery of %s failed; it stays queued", queued.queue_id)
            return
        for copy, appended in done:
            log.info("mda: %s delivered to mailbox %d UID %d", queued.queue_id, copy.mailbox, appended.uid)

    async def recover(self) -> int:
        """Delivers what was queued for local recipients but not yet delivered (after a crash)."""
        pending = await self._store.queue.pending_local()  # type: ignore[attr-defined]
        for queued in pending:
            await self.deliver(queued)
        if pending:
            log.info("mda: finished %d interrupted deliveries", len(pending))
        return len(pending)

    async def drain(self) -> None:
        """Waits for deliveries under way (at shutdown)."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
