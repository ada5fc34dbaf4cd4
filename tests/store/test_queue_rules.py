"""The queue's decisions as pure functions (mta.schedule): what every store backend stores and
none decides. No database, no clock: typed values in, typed values out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from postoffice.config import Queue as QueueRules
from postoffice.mta.schedule import HopInfo, Outcome, claim, is_due, is_expired, new_queue_id, retry_after, settle
from postoffice.store.api import BlobRef, Envelope, QueuedMessage, QueuedRecipient, RecipientState
from postoffice.trace.events import Attempt, Stage

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
RULES = QueueRules(retry_schedule_s=(60.0, 300.0, 900.0), lifetime_s=5 * 86400.0, delay_notice_s=4 * 3600.0)
HOP = HopInfo("mx.remote.test", 25, "mx", ip="192.0.2.7", tls="TLSv1.3")


def recipient(address: str = "dave@remote.test", **kw) -> QueuedRecipient:
    return QueuedRecipient(address, id=7, attempts=1, next_attempt=NOW + timedelta(minutes=5), **kw)


def message(*recipients: QueuedRecipient, age: timedelta = timedelta(minutes=1),
            sender: str = "alice@example.test") -> QueuedMessage:
    return QueuedMessage("Q1", BlobRef(1, "0" * 64, 100), Envelope(sender=sender), "<m@example.test>", NOW - age,
                         recipients)


def test_queue_ids_are_twelve_crockford_characters_and_differ():
    ids = {new_queue_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(len(i) == 12 and set(i) <= set("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for i in ids)


def test_due_means_queued_remote_and_its_time_has_come():
    assert is_due(QueuedRecipient("d@remote.test", next_attempt=NOW), NOW)
    assert not is_due(QueuedRecipient("d@remote.test", next_attempt=NOW + timedelta(seconds=1)), NOW)
    assert not is_due(QueuedRecipient("a@example.test", account=3, next_attempt=NOW), NOW)  # the MDA's
    assert not is_due(QueuedRecipient("d@remote.test", state=RecipientState.HELD, next_attempt=NOW), NOW)


def test_claiming_counts_the_attempt_and_moves_the_next_one_by_the_schedule_whose_last_wait_repeats():
    r = QueuedRecipient("d@remote.test", next_attempt=NOW)
    waits = []
    for _ in range(5):
        r = claim(r, NOW, RULES)
        waits.append((r.next_attempt - NOW).total_seconds())
    assert waits == [60, 300, 900, 900, 900] and r.attempts == 5 and r.last_attempt == NOW
    assert [retry_after(n, RULES) for n in (0, 1, 2, 3, 99)] == [60, 300, 900, 900, 900]


def test_a_2xx_relays_and_a_5xx_bounces_with_a_failure_report():
    relayed, rejected = recipient(), recipient("eve@remote.test")
    out = settle(message(relayed, rejected),
                 [Outcome(relayed, None, "250 2.0.0 ok", "2.0.0", HOP, 250),
                  Outcome(rejected, True, "550 5.1.1 no such user", "5.1.1", HOP, 550)], NOW, RULES)
    assert [(r.state, r.reply) for r in out.results] == [(RecipientState.DELIVERED, "250 2.0.0 ok"),
                                                         (RecipientState.BOUNCED, "550 5.1.1 no such user")]
    assert [e.stage for e in out.events] == [Stage.RELAYED, Stage.BOUNCED]
    first = out.events[0].data
    assert isinstance(first, Attempt) and (first.host, first.ip, first.via, first.tls, first.reply_code) == (
        "mx.remote.test", "192.0.2.7", "mx", "TLSv1.3", 250)
    # RFC 3464 §2.3: the failed recipient is reported with its status and the remote's words
    assert [(r.final_recipient, r.status, r.diagnostic) for r in out.failed] == [
        ("eve@remote.test", "5.1.1", "550 5.1.1 no such user")]
    assert out.delayed == [] and out.relayed == []  # RFC 3461 §4.1: no success report unasked


def test_a_temporary_failure_is_deferred_to_the_claimed_time_and_reported_once_it_is_late():
    r = recipient(notify=None)
    early = settle(message(r), [Outcome(r, False, "451 4.3.0 busy", "4.3.0", HOP, 451)], NOW, RULES)
    assert [(x.state, x.next_attempt, x.delay_notified) for x in early.results] == [
        (RecipientState.QUEUED, r.next_attempt, False)]
    assert early.events[0].stage is Stage.DEFERRED and early.reports() == []
    late = settle(message(r, age=timedelta(hours=5)), [Outcome(r, False, "451 4.3.0 busy", "4.3.0", HOP)], NOW, RULES)
    assert late.results[0].delay_notified and [d.action for d in late.delayed] == ["delayed"]
    # RFC 3464 §2.3.9: until when it will be retried
    assert late.delayed[0].will_retry_until == NOW - timedelta(hours=5) + timedelta(days=5)
    told = recipient(delay_notified=True)
    assert settle(message(told, age=timedelta(hours=5)), [Outcome(told, False, "451", "4.0.0")], NOW, RULES).delayed == []
    never = recipient(notify="NEVER")
    assert settle(message(never, age=timedelta(hours=5)), [Outcome(never, False, "451", "4.0.0")], NOW, RULES).delayed == []


def test_past_its_lifetime_a_temporary_failure_bounces_as_4_4_7():
    r = recipient()
    old = message(r, age=timedelta(days=5, seconds=1))
    assert is_expired(old, NOW, RULES) and not is_expired(message(r), NOW, RULES)
    out = settle(old, [Outcome(r, False, "451 4.3.0 busy", "4.3.0", HOP)], NOW, RULES)
    assert out.results[0].state is RecipientState.BOUNCED
    assert out.results[0].reply == "gave up after 5 days: 451 4.3.0 busy"
    assert [f.status for f in out.failed] == ["4.4.7"]  # RFC 3463: delivery time expired
    assert out.events[0].describe().startswith("dave@remote.test to mx.remote.test [192.0.2.7]:25 (mx, TLSv1.3): gave up")


def test_nothing_bounces_to_the_null_sender_it_is_held():
    r = recipient()
    out = settle(message(r, sender=""), [Outcome(r, True, "550 5.1.1 no", "5.1.1", HOP)], NOW, RULES)
    assert out.results[0].state is RecipientState.HELD and out.events[0].stage is Stage.HELD
    assert out.reports() == []  # RFC 3464 §2: never a DSN about a DSN


def test_a_success_report_only_when_notify_asks_for_it():
    r = recipient(notify="SUCCESS,FAILURE")
    out = settle(message(r), [Outcome(r, None, "250 ok", "2.0.0", HOP, 250)], NOW, RULES)
    assert [(x.action, x.status) for x in out.relayed] == [("relayed", "2.0.0")]  # RFC 3461 §6.2
