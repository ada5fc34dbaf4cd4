"""What the MTA's SMTP listener (port 25; 2525 on the embedded defaults) allows: mail from other
servers to local domains, and nothing else. Never an open relay.

Besides refusing recipients at other domains (RFC 5321 §3.6.2; 550 5.7.1), it refuses every path
form that has been used to sneak mail through a relay check: source routes (RFC 5321 §4.1.1.3 and
Appendix C allow ignoring them, we refuse them), the percent hack (`user%remote@local`), bang
paths (`remote!user@local`), quoted local parts hiding an `@`, `%` or `!`, and address literals
(`user@[192.0.2.1]`). No AUTH is offered here: submission is the MSA's, on its own ports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from postoffice.auth.authenticator import Authenticator
from postoffice.mda.deliver import LocalDelivery
from postoffice.message.headers import get_header, prepend_headers
from postoffice.mta.delivery import Accepted, Draft, QueueDelivery, envelope_of
from postoffice.mta.routing import Router
from postoffice.smtp import replies
from postoffice.smtp.received import received_header
from postoffice.smtp.replies import Reply
from postoffice.smtp.session import Peer
from postoffice.smtp.wire import MailFrom, RcptTo
from postoffice.store.api import QueuedMessage, Store
from postoffice.trace.events import Arrival, Event, Stage

_RELAY_MARKS = ("%", "!", "@")


def relay_form(cmd: RcptTo) -> bool:
    """Whether the path is one of the classic relay-test forms."""
    path = cmd.path
    if cmd.source_route or path is None:
        return bool(cmd.source_route)
    local = path.unquoted_local
    return any(mark in local for mark in _RELAY_MARKS) or path.domain.startswith("[")


@dataclass(frozen=True, slots=True)
class InboundFinisher:
    """Mail from another server: a Received field on top, nothing else touched."""

    hostname: str
    peer: Peer

    async def finish(self, draft: Draft, content: bytes) -> Accepted:
        peer = self.peer
        only = draft.recipients[0].address if len(draft.recipients) == 1 else None
        received = received_header(
            helo=peer.helo, client_ip=peer.client.ip, hostname=self.hostname, tls=peer.tls is not None,
            authenticated=False, smtputf8=draft.envelope.smtputf8, queue_id=draft.queue_id, recipient=only,
            now=datetime.now(UTC))
        arrival = Arrival(protocol="SMTP", helo=peer.helo, client_ip=peer.client.ip, client_port=peer.client.port,
                          tls=peer.tls)
        return Accepted(prepend_headers(content, [received]), message_id_of(content), (Event(Stage.RECEIVED, arrival),))


class InboundPolicy:
    name = "smtp"
    requires_auth = False
    authenticator: Authenticator | None = None  # no AUTH on port 25: relaying is for authenticated submission

    def __init__(self, *, store: Store, router: Router, mda: LocalDelivery, handoff: Callable[[QueuedMessage], None],
                 hostname: str) -> None:
        self.store, self.router, self.mda, self.handoff, self.hostname = store, router, mda, handoff, hostname

    async def check_mail(self, peer: Peer, cmd: MailFrom) -> Reply | None:
        return None

    def check_rcpt(self, peer: Peer, cmd: RcptTo) -> Reply | None:
        if cmd.address.lower() == "postmaster":
            return None  # RFC 5321 §4.5.1: <Postmaster> is always accepted; routed to our postmaster
        if relay_form(cmd):
            return replies.RELAY_DENIED
        return None

    def open_delivery(self, peer: Peer, cmd: MailFrom) -> QueueDelivery:
        return QueueDelivery(store=self.store, router=self.router, mda=self.mda, handoff=self.handoff,
                             envelope=envelope_of(peer, cmd), may_relay=False,
                             finisher=InboundFinisher(self.hostname, peer))


def message_id_of(content: bytes) -> str:
    values = get_header(content, "Message-ID")
    return values[0].strip() if values else ""
