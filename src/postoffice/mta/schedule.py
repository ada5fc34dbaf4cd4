"""The queue's decisions, as pure functions over typed values: what is due, when it is tried
next, what expired, what an attempt's outcome makes of each recipient, and which DSNs it calls for.

Every store backend stores what these decide and decides nothing itself, so SQLite and PostgreSQL
cannot disagree on when a message bounces, and the rules are tested without a database (no I/O,
no clock: `now` is passed in).

Rules: an error of unknown kind is temporary (the outbound loop makes it a 4.3.0 outcome);
temporary failures are retried on `retry_schedule_s` (its last wait repeating) until the
message's lifetime ends, then bounced as 4.4.7 (RFC 3463); a 5xx bounces at once. Nothing is ever
bounced to the null sender (RFC 5321 §4.5.5, RFC 3464 §2): its failure is held for the
administrator. A delay notice goes once, after `delay_notice_s`, if the recipient's NOTIFY wants
one (RFC 3461 §4.1); a success report only with NOTIFY=SUCCESS, for a relay to a server that did
not take over DSN duty (RFC 3461 §6.2: "relayed").
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from postoffice.config import Queue as QueueRules
from postoffice.mta.dsn import RecipientReport, wants_report
from postoffice.store.api import AttemptResult, QueuedMessage, QueuedRecipient, RecipientState
from postoffice.trace.events import Attempt, Event, Stage

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_queue_id() -> str:
    """12 characters of Crockford base32: short enough to read aloud and to type into `trace`."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def retry_after(attempts: int, rules: QueueRules) -> float:
    """Seconds to wait after the attempt numbered `attempts` (0 for the first)."""
    schedule = rules.retry_schedule_s
    return schedule[min(attempts, len(schedule) - 1)]


def is_due(recipient: QueuedRecipient, now: datetime) -> bool:
    """Whether the outbound loop should try this recipient now."""
    return (recipient.state is RecipientState.QUEUED and not recipient.is_local
            and (recipient.next_attempt is None or recipient.next_attempt <= now))


def claim(recipient: QueuedRecipient, now: datetime, rules: QueueRules) -> QueuedRecipient:
    """The recipient as an attempt starts: counted, and due again after the wait should the
    attempt never report (a crash), so it is never lost."""
    return replace(recipient, attempts=recipient.attempts + 1, last_attempt=now,
                   next_attempt=now + timedelta(seconds=retry_after(recipient.attempts, rules)))


def is_expired(message: QueuedMessage, now: datetime, rules: QueueRules) -> bool:
    return message.received is not None and now - message.received >= timedelta(seconds=rules.lifetime_s)


def wants_delay_notice(message: QueuedMessage, recipient: QueuedRecipient, now: datetime, rules: QueueRules) -> bool:
    return (bool(message.envelope.sender) and not recipient.delay_notified and message.received is not None
            and now - message.received >= timedelta(seconds=rules.delay_notice_s)
            and wants_report(recipient.notify, "delayed"))


@dataclass(frozen=True, slots=True)
class HopInfo:
    """The next hop an attempt talked to, for the journey and the DSN."""

    host: str
    port: int
    via: str  # how it was chosen: "mx", "implicit mx", "route", "smarthost"
    ip: str | None = None
    tls: str | None = None  # the TLS version; None in clear

    def label(self) -> str:
        address = f" [{self.ip}]" if self.ip and self.ip != self.host else ""
        return f"{self.host}{address}:{self.port} ({self.via}, {self.tls or 'no TLS'})"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One recipient's result of one attempt, before it is written."""

    recipient: QueuedRecipient
    permanent: bool | None  # None: delivered; True: failed for good; False: try again
    reply: str  # "250 2.0.0 ok", or why no server replied
    status: str  # RFC 3463 code, for the DSN
    hop: HopInfo | None = None
    reply_code: int | None = None


@dataclass(slots=True)
class Settlement:
    """What one attempt's outcomes make of a message: rows to write, events, reports to send."""

    results: list[AttemptResult] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    failed: list[RecipientReport] = field(default_factory=list)
    delayed: list[RecipientReport] = field(default_factory=list)
    relayed: list[RecipientReport] = field(default_factory=list)

    def reports(self) -> list[list[RecipientReport]]:
        """The DSNs to send, one per kind with anything in it."""
        return [r for r in (self.failed, self.delayed, self.relayed) if r]


def settle(message: QueuedMessage, outcomes: Sequence[Outcome], now: datetime, rules: QueueRules) -> Settlement:
    """Each outcome's new recipient state, its journey event and the reports it calls for."""
    out = Settlement()
    bounce_allowed = bool(message.envelope.sender)  # never a DSN to the null sender
    for o in outcomes:
        r = o.recipient
        hop = o.hop
        remote = hop.label() if hop else ""
        attempt = Attempt(recipient=r.address, reply=o.reply, status=o.status, reply_code=o.reply_code,
                          host=hop.host if hop else None, ip=hop.ip if hop else None, port=hop.port if hop else None,
                          via=hop.via if hop else None, tls=hop.tls if hop else None, attempt=r.attempts)
        report = RecipientReport(final_recipient=r.address, original_recipient=r.orcpt, action="failed",
                                 status=o.status, remote_mta=hop.host if hop else None,
                                 diagnostic=o.reply if o.reply[:3].isdigit() else None, last_attempt=now)
        if o.permanent is None:
            out.results.append(AttemptResult(r.id, RecipientState.DELIVERED, o.reply, remote))
            out.events.append(Event(Stage.RELAYED, attempt))
            if bounce_allowed and r.notify and "SUCCESS" in r.notify.upper() and wants_report(r.notify, "relayed"):
                out.relayed.append(replace(report, action="relayed", status="2.0.0"))
            continue
        if o.permanent or is_expired(message, now, rules):
            days = None if o.permanent else rules.lifetime_s / 86400
            attempt = replace(attempt, gave_up_after_days=days)
            why = o.reply if o.permanent else f"gave up after {days:g} days: {o.reply}"
            status = o.status if o.permanent else "4.4.7"
            state = RecipientState.BOUNCED if bounce_allowed else RecipientState.HELD
            out.results.append(AttemptResult(r.id, state, why, remote))
            out.events.append(Event(Stage.BOUNCED if bounce_allowed else Stage.HELD, attempt))
            if bounce_allowed and wants_report(r.notify, "failed"):
                out.failed.append(replace(report, status=status if status[0] in "45" else "5.0.0"))
            continue
        notify_delay = wants_delay_notice(message, r, now, rules)
        out.results.append(AttemptResult(r.id, RecipientState.QUEUED, o.reply, remote, r.next_attempt, notify_delay))
        out.events.append(Event(Stage.DEFERRED, replace(attempt, next_attempt=r.next_attempt)))
        if notify_delay:
            until = message.received + timedelta(seconds=rules.lifetime_s) if message.received else None
            out.delayed.append(replace(report, action="delayed", status=o.status if o.status[0] == "4" else "4.0.0",
                                       will_retry_until=until))
    return out
