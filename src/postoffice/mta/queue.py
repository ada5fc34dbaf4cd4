"""The seam where an SMTP transaction meets routing, the queue and the MDA (`QueueDelivery`).

RCPT routes each recipient at once, so an unknown user is refused at RCPT time (550 5.1.1) and the
journey can say how each was routed. At the end of the data the policy's fix-ups are applied and
the message, its recipients, its journey so far and the MDA's copies for the local recipients are
committed in one transaction; only then does the 250 go out, so local mail is in its INBOX when
the client hears it was accepted. Remote recipients stay queued for outbound delivery; a local
delivery that failed inside the commit stays queued too, and the MDA retries it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from postoffice.addresses import BadAddress, domain_of, normalize_address
from postoffice.mda.deliver import copy_prefix
from postoffice.mta.routing import Router, Unroutable
from postoffice.smtp import replies
from postoffice.smtp.replies import Refused, Reply
from postoffice.store.api import Envelope, QueuedMessage, QueuedRecipient
from postoffice.store.sqlite.queue import new_queue_id

# RFC 3463 X.4.6: routing loop detected.
ROUTING_LOOP = Reply(550, "5.4.6", "Routing loop detected")


@dataclass(frozen=True, slots=True)
class Accepted:
    """What the policy's fix-up made of the received data."""

    content: bytes
    message_id: str
    events: tuple[tuple[str, str], ...] = ()


# The policy's last word on the data: fix it up, or refuse it (raise Refused).
Finisher = Callable[["QueueDelivery", bytes], Awaitable[Accepted]]


@dataclass
class QueueDelivery:
    store: object
    router: Router
    handoff: Callable[[QueuedMessage], None]  # what happens once it is queued: MDA retries, outbound
    envelope: Envelope
    may_relay: bool
    finish: Finisher
    queue_id: str = field(default_factory=new_queue_id)
    recipients: list[QueuedRecipient] = field(default_factory=list)
    events: list[tuple[str, str]] = field(default_factory=list)
    _keys: set[str] = field(default_factory=set)

    async def add_recipient(self, address: str, *, notify: str | None, orcpt: str | None) -> None:
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
        # RFC 3461 §6.3(d): Original-Recipient only when the client gave ORCPT; kept as given.
        original = orcpt
        for route in routes:
            if route.key in self._keys:
                continue
            self._keys.add(route.key)
            self.recipients.append(QueuedRecipient(route.address, orcpt=original, notify=notify, route=route.how,
                                                   mailbox=route.mailbox))
            where = "local mailbox INBOX" if route.is_local else "remote, queued for relay"
            tag = f", tag {route.tag!r}" if route.tag else ""
            via = "" if route.address == address else f" as {route.address}"
            self.events.append(("routed", f"{address}{via}: {where} ({route.how}{tag})"))

    async def commit(self, session: object, content: bytes) -> str:
        accepted = await self.finish(self, content)
        sender = self.envelope.sender
        queued = await self.store.queue.enqueue(  # type: ignore[attr-defined]
            accepted.content, self.envelope, accepted.message_id, self.recipients, queue_id=self.queue_id,
            events=[*accepted.events, *self.events], deliver=lambda r: copy_prefix(sender, r.address))
        self.handoff(queued)  # local deliveries the commit could not make are retried; remote ones go out
        return queued.queue_id


def envelope_of(session: object, mail: object) -> Envelope:
    """What the transaction said, kept with the message for delivery and DSNs (RFC 3461 §4.3, §4.4)."""
    params = mail.params  # type: ignore[attr-defined]  (values already xtext-decoded by the parser)
    return Envelope(
        sender=normalize_sender(mail.address),  # type: ignore[attr-defined]
        client=session.client.label,  # type: ignore[attr-defined]
        helo=session.helo,  # type: ignore[attr-defined]
        authenticated_as=session.authenticated_as,  # type: ignore[attr-defined]
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
