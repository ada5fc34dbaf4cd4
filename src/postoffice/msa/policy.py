"""What the MSA (submission, RFC 6409; ports 587 and 465, 2587 and 2465 on the embedded defaults)
allows: authenticated users sending as themselves, to anyone.

AUTH is required before MAIL (530 5.7.0). Plaintext mechanisms are offered only under TLS, except
to loopback clients or where the configuration allows it (RFC 4954 §4; DESIGN.md "Nobody gets in
where they don't belong"). The envelope sender must be an address the login may use (its own, or
an alias that delivers to it), and so must the From header (553 5.7.1, RFC 6409 §6.1). The
message is then fixed up as RFC 6409 §8 asks (msa.fixup) before it is queued.
"""

from __future__ import annotations

from datetime import UTC, datetime
from collections.abc import Callable
from typing import Any

from postoffice.addresses import BadAddress, normalize_address
from postoffice.auth.accounts import credentials_of
from postoffice.auth.sasl import MECHANISMS
from postoffice.msa.fixup import SenderRefused, fix_up
from postoffice.mta.queue import Accepted, QueueDelivery, envelope_of
from postoffice.mta.routing import Router
from postoffice.smtp import replies
from postoffice.smtp.received import received_header
from postoffice.smtp.replies import Refused, Reply
from postoffice.smtp.session import SmtpSession
from postoffice.smtp.wire import MailFrom, RcptTo
from postoffice.store.api import QueuedMessage


class SubmissionPolicy:
    name = "submission"
    requires_auth = True

    def __init__(self, *, store: Any, router: Router, handoff: Callable[[QueuedMessage], None], hostname: str,
                 plaintext_auth: str = "loopback", hide_client_ip: bool = False) -> None:
        self.store, self.router, self.handoff, self.hostname = store, router, handoff, hostname
        self.plaintext_auth, self.hide_client_ip = plaintext_auth, hide_client_ip

    def _plaintext_allowed(self, session: SmtpSession) -> bool:
        return (session.tls_active or self.plaintext_auth == "always"
                or (self.plaintext_auth == "loopback" and session.client.is_loopback))

    def auth_mechanisms(self, session: SmtpSession) -> tuple[str, ...]:
        # RFC 4954 §4: PLAIN and LOGIN send the password itself; without TLS they are not offered.
        return MECHANISMS if self._plaintext_allowed(session) else ()

    def auth_refusal(self, session: SmtpSession) -> Reply | None:
        return None if self._plaintext_allowed(session) else replies.STARTTLS_REQUIRED

    async def lookup(self, identity: str) -> Any:
        return await credentials_of(self.store, identity)

    async def check_mail(self, session: SmtpSession, cmd: MailFrom) -> Reply | None:
        sendable = await self.store.directory.sendable_addresses(session.authenticated_as)
        try:
            sender = normalize_address(cmd.address) if cmd.address else ""
        except BadAddress:
            return replies.SENDER_NOT_ALLOWED
        return None if sender in sendable else replies.SENDER_NOT_ALLOWED

    def check_rcpt(self, session: SmtpSession, cmd: RcptTo) -> Reply | None:
        if cmd.source_route:
            return replies.BAD_RECIPIENT_ADDRESS  # a submitting client has no business routing
        return None

    def open_delivery(self, session: SmtpSession, cmd: MailFrom) -> QueueDelivery:
        login = session.authenticated_as or ""

        async def finish(delivery: QueueDelivery, content: bytes) -> Accepted:
            only = delivery.recipients[0].address if len(delivery.recipients) == 1 else None
            now = datetime.now(UTC)
            received = received_header(
                helo=session.helo, client_ip=None if self.hide_client_ip else session.client.ip,
                hostname=self.hostname, tls=session.tls_active, authenticated=True,
                smtputf8=delivery.envelope.smtputf8, queue_id=delivery.queue_id, recipient=only, now=now,
                authenticated_as=login)
            sendable = await self.store.directory.sendable_addresses(login)
            try:
                fixed = fix_up(content, login=login, sendable=sendable, envelope_sender=delivery.envelope.sender,
                               hostname=self.hostname, received=received, now=now)
            except SenderRefused:
                raise Refused(replies.SENDER_NOT_ALLOWED) from None
            client = "a hidden address" if self.hide_client_ip else session.client.label
            detail = (f"from {session.helo} {client} over submission"
                      + (" with TLS" if session.tls_active else "") + f", authenticated as {login}")
            events = [("received", detail)]
            if fixed.changes:
                events.append(("fixed up", "; ".join(fixed.changes)))
            return Accepted(fixed.content, fixed.message_id, tuple(events))

        return QueueDelivery(self.store, self.router, self.handoff, envelope_of(session, cmd), may_relay=True,
                             finish=finish)
