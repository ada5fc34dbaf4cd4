"""What the MTA's SMTP listener (port 25; 2525 on the embedded defaults) allows: mail from other
servers to local domains, and nothing else. Never an open relay.

Besides refusing recipients at other domains (RFC 5321 §3.6.2; 550 5.7.1), it refuses every path
form that has been used to sneak mail through a relay check: source routes (RFC 5321 §4.1.1.3 and
Appendix C allow ignoring them, we refuse them), the percent hack (`user%remote@local`), bang
paths (`remote!user@local`), quoted local parts hiding an `@`, `%` or `!`, and address literals
(`user@[192.0.2.1]`). No AUTH is offered here: submission is the MSA's, on its own ports.
"""

from __future__ import annotations

from datetime import UTC, datetime
from collections.abc import Callable
from typing import Any

from postoffice.message.headers import get_header, prepend_headers
from postoffice.mta.queue import Accepted, QueueDelivery, envelope_of
from postoffice.mta.routing import Router
from postoffice.smtp import replies
from postoffice.smtp.received import received_header
from postoffice.smtp.replies import Reply
from postoffice.smtp.session import SmtpSession
from postoffice.smtp.wire import MailFrom, RcptTo
from postoffice.store.api import QueuedMessage

_RELAY_MARKS = ("%", "!", "@")


def relay_form(cmd: RcptTo) -> bool:
    """Whether the path is one of the classic relay-test forms."""
    path = cmd.path
    if cmd.source_route or path is None:
        return bool(cmd.source_route)
    local = path.unquoted_local
    return any(mark in local for mark in _RELAY_MARKS) or path.domain.startswith("[")


class InboundPolicy:
    name = "smtp"
    requires_auth = False

    def __init__(self, *, store: Any, router: Router, handoff: Callable[[QueuedMessage], None], hostname: str) -> None:
        self.store, self.router, self.handoff, self.hostname = store, router, handoff, hostname

    def auth_mechanisms(self, session: SmtpSession) -> tuple[str, ...]:
        return ()

    def auth_refusal(self, session: SmtpSession) -> Reply | None:
        return replies.NOT_IMPLEMENTED  # AUTH is not offered on this port

    async def lookup(self, identity: str) -> Any:
        return None

    async def check_mail(self, session: SmtpSession, cmd: MailFrom) -> Reply | None:
        return None

    def check_rcpt(self, session: SmtpSession, cmd: RcptTo) -> Reply | None:
        if cmd.address.lower() == "postmaster":
            return None  # RFC 5321 §4.5.1: <Postmaster> is always accepted; routed to our postmaster
        if relay_form(cmd):
            return replies.RELAY_DENIED
        return None

    def open_delivery(self, session: SmtpSession, cmd: MailFrom) -> QueueDelivery:
        async def finish(delivery: QueueDelivery, content: bytes) -> Accepted:
            only = delivery.recipients[0].address if len(delivery.recipients) == 1 else None
            received = received_header(
                helo=session.helo, client_ip=session.client.ip, hostname=self.hostname, tls=session.tls_active,
                authenticated=False, smtputf8=delivery.envelope.smtputf8, queue_id=delivery.queue_id,
                recipient=only, now=datetime.now(UTC))
            parsed_id = message_id_of(content)
            detail = f"from {session.helo} {session.client.label} over SMTP" + (" with TLS" if session.tls_active else "")
            return Accepted(prepend_headers(content, [received]), parsed_id, (("received", detail),))

        return QueueDelivery(self.store, self.router, self.handoff, envelope_of(session, cmd), may_relay=False,
                             finish=finish)


def message_id_of(content: bytes) -> str:
    values = get_header(content, "Message-ID")
    return values[0].strip() if values else ""
