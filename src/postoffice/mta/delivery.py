"""The Delivery seam: one SMTP transaction's way into routing, the queue and the MDA.

The SMTP session talks to one `QueueDelivery` per transaction: `add_recipient` at each RCPT,
then `commit` with the data, or `abort` (RSET, a new greeting, refused data, a dropped
connection). Nothing of the session crosses over: what the policy (MSA or MTA) needs of it is in
its `Finisher`, made when the transaction opened.

RCPT routes each recipient at once, so an unknown user is refused at RCPT time (550 5.1.1) and the
journey can say how each was routed. At the end of the data the finisher's fix-ups are applied,
the MDA plans each local recipient's copy (`mda.deliver`), and the message, its recipients, its
journey so far and those copies are committed in one transaction; only then does the 250 go out,
so local mail is in its mailbox when the client hears it was accepted. Remote recipients stay
queued for outbound delivery; a local copy that failed inside the commit stays queued too, and the
MDA retries it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from postoffice.addresses import BadAddress, domain_of, normalize_address
from postoffice.mda.deliver import LocalDelivery
from postoffice.mta.routing import Router, Unroutable
from postoffice.mta.schedule import new_queue_id
from postoffice.smtp import replies
from postoffice.smtp.replies import Refused, Reply
from postoffice.smtp.session import Peer
from postoffice.smtp.wire import MailFrom
from postoffice.store.api import Envelope, QueuedMessage, QueuedRecipient, Store
from postoffice.trace.events import Event, Routing, Stage

# RFC 3463 X.4.6: routing loop detected.
ROUTING_LOOP = Reply(550, "5.4.6", "Routing loop detected")


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the policy's fix-up made of the received data."""

    content: bytes
    message_id: str
    events: tuple[Event, ...] = ()


@dataclass(frozen=True, slots=True)
class Draft:
    """The transaction as the finisher sees it at the end of the data."""

    queue_id: str
    envelope: Envelope
    recipients: tuple[QueuedRecipient, ...]


class Finisher(Protocol):
    """The policy's last word on the data: its fix-ups and its journey events, or a refusal
    (raise `Refused`)."""

    async def finish(self, draft: Draft, content: bytes) -> Accepted: ...


class QueueDelivery:
    """One transaction: recipients routed as they come, the message committed once (smtp.session.Delivery)."""

    def __init__(self, *, store: Store, router: Router, mda: LocalDelivery,
                 handoff: Callable[[QueuedMessage], None], envelope: Envelope, may_relay: bool,
                 finisher: Finisher) -> None:
        self.store, self.router, self.mda, self.handoff = store, router, mda, handoff
        self.envelope, self.may_relay, self.finisher = envelope, may_relay, finisher
        self.queue_id = new_queue_id()
        self.recipients: list[QueuedRecipient] = []
        self.events: list[Event] = []
        self.is_open = True
        self._keys: set[str] = set()

    async def add_recipient(self, address: str, *, notify: str | None, orcpt: str | None) -> None:
        if not self.is_open:
            raise Refused(replies.BAD_SEQUENCE)
        if address.lower() == "postmaster":  # RFC 5321 §4.5.1: <Postmaster> with no domain
            address = await self.router.postmaster() or address
        try:
            address = normalize_address(address)
        except BadAddress:
            raise Refused(replies.BAD_RECIPIENT_ADDRESS) from None
        if not self.may_relay and not await self.router.is_local_domain(domain_of(address)):
            raise Refused(replies.RELAY_DENIED)
        try:
            routes = await self.router.route(address)
        except Unroutable as e:
            raise Refused(ROUTING_LOOP if e.reason == "loop" else replies.NO_SUCH_USER) from None
        for route in routes:
            if route.key in self._keys:
                continue
            self._keys.add(route.key)
            # RFC 3461 §6.3(d): Original-Recipient only when the client gave ORCPT; kept as given.
            self.recipients.append(QueuedRecipient(route.address, orcpt=orcpt, notify=notify, route=route.how,
                                                   account=route.account))
            self.events.append(Event(Stage.ROUTED, Routing(address=address, final=route.address, local=route.is_local,
                                                           how=route.how, tag=route.tag)))

    async def commit(self, content: bytes) -> str:
        """Queues the message (and delivers its local copies) durably; the queue id for the 250."""
        if not self.is_open:
            raise Refused(replies.BAD_SEQUENCE)
        self.is_open = False
        accepted = await self.finisher.finish(Draft(self.queue_id, self.envelope, tuple(self.recipients)), content)
        plans = await self.mda.plan(self.queue_id, self.envelope, accepted.content, self.recipients)
        queued = await self.store.queue.enqueue(
            accepted.content, self.envelope, accepted.message_id, self.recipients, queue_id=self.queue_id,
            events=[*accepted.events, *self.events], plans=plans)
        self.handoff(queued)  # local deliveries the commit could not make are retried; remote ones go out
        return queued.queue_id

    def abort(self) -> None:
        """The transaction ends without a message: nothing was stored, nothing is kept."""
        self.is_open = False
        self.recipients.clear()
        self.events.clear()


def envelope_of(peer: Peer, mail: MailFrom) -> Envelope:
    """What the transaction said, kept with the message for delivery and DSNs (RFC 3461 §4.3, §4.4)."""
    params = mail.params  # values already xtext-decoded by the parser
    return Envelope(
        sender=normalize_sender(mail.address),
        client=peer.client.label,
        helo=peer.helo,
        authenticated_as=peer.authenticated_as,
        envid=params.get("ENVID"),
        ret=(params.get("RET") or "").upper() or None,
        smtputf8="SMTPUTF8" in params,
        body=(params.get("BODY") or "").upper() or None,
    )


def normalize_sender(address: str) -> str:
    if not address:
        return ""
    try:
        return normalize_address(address)
    except BadAddress:
        return address
