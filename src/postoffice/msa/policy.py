"""What the MSA (submission, RFC 6409; ports 587 and 465, 2587 and 2465 on the embedded defaults)
allows: authenticated users sending as themselves, to anyone.

AUTH is required before MAIL (530 5.7.0). Mechanisms are offered only under TLS, except to loopback
clients or where the configuration allows it (RFC 4954 §4; docs/architecture.md "Nobody gets in
where they don't belong"): that policy, and the login itself, are the `Authenticator`'s. The
envelope sender must be an address the login may use (its own, or an alias that delivers to it),
and so must the From header (553 5.7.1, RFC 6409 §6.1). The message is then fixed up as RFC 6409 §8
asks (msa.fixup) before it is queued.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from postoffice.addresses import BadAddress, normalize_address
from postoffice.auth.accounts import credentials_of
from postoffice.auth.authenticator import Authenticator
from postoffice.auth.throttle import LoginThrottle
from postoffice.mda.deliver import LocalDelivery
from postoffice.msa.fixup import SenderRefused, fix_up
from postoffice.mta.delivery import Accepted, Draft, QueueDelivery, envelope_of
from postoffice.mta.routing import Router
from postoffice.smtp import replies
from postoffice.smtp.received import received_header
from postoffice.smtp.replies import Refused, Reply
from postoffice.smtp.session import Peer
from postoffice.smtp.wire import MailFrom, RcptTo
from postoffice.store.api import QueuedMessage, Store
from postoffice.trace.events import Arrival, Event, FixUp, Login, Stage


@dataclass(frozen=True, slots=True)
class SubmissionFinisher:
    """RFC 6409 §8 fix-ups for an authenticated client's message, and the checks on its From."""

    store: Store
    hostname: str
    peer: Peer
    login: str
    hide_client_ip: bool

    async def finish(self, draft: Draft, content: bytes) -> Accepted:
        peer = self.peer
        only = draft.recipients[0].address if len(draft.recipients) == 1 else None
        now = datetime.now(UTC)
        received = received_header(
            helo=peer.helo, client_ip=None if self.hide_client_ip else peer.client.ip,
            hostname=self.hostname, tls=peer.tls is not None, authenticated=True,
            smtputf8=draft.envelope.smtputf8, queue_id=draft.queue_id, recipient=only, now=now,
            authenticated_as=self.login)
        sendable = await self.store.directory.sendable_addresses(self.login)
        try:
            fixed = fix_up(content, login=self.login, sendable=sendable, envelope_sender=draft.envelope.sender,
                           hostname=self.hostname, received=received, now=now)
        except SenderRefused:
            raise Refused(replies.SENDER_NOT_ALLOWED) from None
        hidden = self.hide_client_ip
        arrival = Arrival(protocol="submission", helo=peer.helo, client_ip=None if hidden else peer.client.ip,
                          client_port=None if hidden else peer.client.port, tls=peer.tls)
        events = [Event(Stage.SUBMITTED, arrival),
                  Event(Stage.AUTHENTICATED, Login(login=self.login, mechanism=peer.mechanism))]
        if fixed.changes:
            events.append(Event(Stage.FIXED_UP, FixUp(changes=tuple(fixed.changes))))
        return Accepted(fixed.content, fixed.message_id, tuple(events))


class SubmissionPolicy:
    name = "submission"
    requires_auth = True

    def __init__(self, *, store: Store, router: Router, mda: LocalDelivery, handoff: Callable[[QueuedMessage], None],
                 hostname: str, plaintext_auth: str = "loopback", hide_client_ip: bool = False,
                 throttle: LoginThrottle | None = None) -> None:
        self.store, self.router, self.mda, self.handoff, self.hostname = store, router, mda, handoff, hostname
        self.hide_client_ip = hide_client_ip
        self.authenticator = Authenticator(partial(credentials_of, store), plaintext_auth=plaintext_auth,
                                           throttle=throttle)

    async def check_mail(self, peer: Peer, cmd: MailFrom) -> Reply | None:
        sendable = await self.store.directory.sendable_addresses(peer.authenticated_as or "")
        try:
            sender = normalize_address(cmd.address) if cmd.address else ""
        except BadAddress:
            return replies.SENDER_NOT_ALLOWED
        return None if sender in sendable else replies.SENDER_NOT_ALLOWED

    def check_rcpt(self, peer: Peer, cmd: RcptTo) -> Reply | None:
        if cmd.source_route:
            return replies.BAD_RECIPIENT_ADDRESS  # a submitting client has no business routing
        return None

    def open_delivery(self, peer: Peer, cmd: MailFrom) -> QueueDelivery:
        finisher = SubmissionFinisher(self.store, self.hostname, peer, peer.authenticated_as or "", self.hide_client_ip)
        return QueueDelivery(store=self.store, router=self.router, mda=self.mda, handoff=self.handoff,
                             envelope=envelope_of(peer, cmd), may_relay=True, finisher=finisher)
