"""Local delivery: a queued message into a mailbox of each local recipient, exactly once.

The MDA decides and the store writes. For each local recipient the MDA runs its delivery steps
(`mda.steps`, first decision wins, the INBOX last) and makes a `CopyPlan`: the mailbox, the flags,
and this copy's own header lines, Return-Path (RFC 5321 §4.4, the envelope sender) and
Delivered-To (the recipient it was delivered for, the mark that lets loops be seen). No new copy
of the message is written: every plan points to the one blob the queue holds.

The store writes the plans and settles their queue rows in one transaction, so a crash at any
instant leaves a recipient queued or delivered, never both and never twice. Normally that is the
very transaction that queues the message (`QueueDelivery.commit` passes the plans to
`Queue.enqueue`), so local mail is in its mailbox before the SMTP 250; what that commit could not
deliver, `deliver` plans again and retries in a transaction of its own (`Queue.deliver_local`),
and `recover` finishes at start what a crash left queued.

A step that fails is skipped (the next one decides, the INBOX at the latest): a broken filter
must not keep mail from its recipient.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from postoffice.mda.steps import DeliveryStep, Incoming, InboxStep
from postoffice.store.api import CopyPlan, Envelope, LocalCopy, QueuedMessage, QueuedRecipient, RecipientState, Store

log = logging.getLogger(__name__)


def copy_prefix(sender: str, recipient: str) -> bytes:
    """The header lines this copy alone carries, in the order RFC 5321 §4.4 puts trace fields."""
    return f"Return-Path: <{sender}>\r\nDelivered-To: {recipient}\r\n".encode()


class LocalDelivery:
    def __init__(self, store: Store, steps: Sequence[DeliveryStep] = ()) -> None:
        self._store = store
        self.steps: tuple[DeliveryStep, ...] = (*steps, InboxStep())
        self._running: set[asyncio.Task[None]] = set()

    # --- deciding ----------------------------------------------------------------------------------

    async def plan(self, queue_id: str, envelope: Envelope, content: bytes,
                   recipients: Sequence[QueuedRecipient]) -> list[CopyPlan | None]:
        """A plan for each local recipient still queued, None for the others (aligned with `recipients`)."""
        out: list[CopyPlan | None] = []
        for r in recipients:
            if not r.is_local or r.state is not RecipientState.QUEUED:
                out.append(None)
                continue
            out.append(await self._plan_one(Incoming(queue_id, envelope, r, content)))
        return out

    async def _plan_one(self, incoming: Incoming) -> CopyPlan:
        prefix = copy_prefix(incoming.envelope.sender, incoming.recipient.address)
        for step in self.steps:
            try:
                decision = await step.decide(incoming)
            except Exception:
                log.exception("mda: step %s failed for %s in %s; the next step decides", step.name,
                              incoming.recipient.address, incoming.queue_id)
                continue
            if decision is not None:
                return CopyPlan(decision.mailbox, prefix, decision.flags, step.name, decision.create)
        raise AssertionError("the INBOX step always decides")  # pragma: no cover

    # --- delivering what the accepting commit did not ----------------------------------------------

    def deliver_soon(self, queued: QueuedMessage) -> None:
        """Starts delivering now, without holding up the SMTP reply (the message is already durable)."""
        if not any(r.is_local and r.state is RecipientState.QUEUED for r in queued.recipients):
            return
        task = asyncio.create_task(self.deliver(queued))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def deliver(self, queued: QueuedMessage) -> None:
        local = [r for r in queued.recipients if r.is_local and r.state is RecipientState.QUEUED]
        if not local:
            return
        try:
            content = await self._store.blobs.read(queued.blob)
            plans = await self.plan(queued.queue_id, queued.envelope, content, local)
            copies = [LocalCopy(r.id, p) for r, p in zip(local, plans, strict=True) if p is not None]
            done = await self._store.queue.deliver_local(queued.queue_id, copies, datetime.now(UTC))
        except Exception:
            # Still queued, still durable: `recover` at the next start (or a retry) delivers it.
            log.exception("mda: delivery of %s failed; it stays queued", queued.queue_id)
            return
        for copy, appended in done:
            where = f"mailbox {copy.plan.mailbox} UID {appended.uid}" if appended else "nowhere (discarded)"
            log.info("mda: %s delivered to %s", queued.queue_id, where)

    async def recover(self) -> int:
        """Delivers what was queued for local recipients but not yet delivered (after a crash)."""
        pending = await self._store.queue.pending_local()
        for queued in pending:
            await self.deliver(queued)
        if pending:
            log.info("mda: finished %d interrupted deliveries", len(pending))
        return len(pending)

    async def drain(self) -> None:
        """Waits for deliveries under way (at shutdown)."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
