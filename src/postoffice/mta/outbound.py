"""Outbound delivery: queued remote recipients to the servers that handle their domains.

A loop claims due recipients (their next attempt time is written before the attempt, so a crash
leaves them due again, never lost), groups them by destination domain, and delivers each group
over one connection: all its messages, all their recipients, with RSET between messages. The SMTP
client is aiosmtplib (well kept, asyncio); STARTTLS is used whenever offered (opportunistic: the
certificate is not checked unless configured), SMTPUTF8/8BITMIME/DSN are honoured.

Each recipient's result: 2xx delivered; 4xx, connection and DNS trouble, and any error of unknown
kind retried on the configured schedule until its lifetime ends; 5xx bounced. Bounces and delay
notices are RFC 3464 DSNs from the null sender, queued in the same commit as the result that
caused them (`Queue.settle`); nothing is ever bounced to the null sender: an undeliverable bounce
is held for the administrator. Outgoing mail from a domain with a DKIM key is signed (mta.dkim).

Duplicates are kept to the one unavoidable case: a remote that accepted the data but whose 250
never reached us (the connection broke, or we were killed, between its commit and our settle).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiosmtplib

from postoffice.config import Config
from postoffice.mda.deliver import copy_prefix
from postoffice.message.headers import get_header
from postoffice.mta.dsn import RecipientReport, build_dsn, wants_report
from postoffice.mta.nexthop import Hop, NoRoute, next_hops
from postoffice.mta.routing import Router, Unroutable
from postoffice.store.api import (
    AttemptResult, Envelope, NewMessage, QueuedMessage, QueuedRecipient, RecipientState,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """One recipient's result of one attempt, before it is written."""

    recipient: QueuedRecipient
    permanent: bool | None  # None: delivered; True: failed for good; False: try again
    reply: str
    status: str  # RFC 3463 code, for the DSN
    host: str = ""


def status_of(code: int, text: str) -> str:
    """The enhanced status code of a reply, or one made from its class (RFC 3463 §3.1)."""
    head = text.split(" ", 1)[0]
    parts = head.split(".")
    if len(parts) == 3 and all(p.isdigit() for p in parts) and head[0] == str(code)[0]:
        return head
    return f"{str(code)[0]}.0.0"


def needs_smtputf8(message: QueuedMessage, recipients: list[QueuedRecipient]) -> bool:
    return message.envelope.smtputf8 or not all(a.isascii() for a in [message.envelope.sender,
                                                                         *(r.address for r in recipients)])


class Outbound:
    def __init__(self, *, store: Any, config: Config, router: Router, resolver: Any = None,
                 signer: Callable[[bytes], Awaitable[bytes]] | None = None) -> None:
        self.store, self.config, self.router, self.resolver = store, config, router, resolver
        self.signer = signer  # message -> the message as sent (DKIM-signed when its domain has a key)
        self.hostname = config.server_name
        self.total = asyncio.Semaphore(config.queue.concurrency)
        self.per_destination: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(config.queue.per_destination))
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()

    # --- the loop --------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    def wake(self) -> None:
        """Look at the queue now (new remote mail, or `queue flush`)."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for task in list(self._running):
            task.cancel()
        await asyncio.gather(*self._running, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:
                log.exception("outbound: the queue scan failed; trying again")
            try:
                await asyncio.wait_for(self._wake.wait(), self.config.queue.scan_interval_s)
            except TimeoutError:
                pass
            self._wake.clear()

    def retry_after(self, attempts: int) -> float:
        schedule = self.config.queue.retry_schedule_s
        return schedule[min(attempts, len(schedule) - 1)]

    async def run_once(self) -> int:
        """Claims what is due and starts delivering it; how many recipients were claimed."""
        free = self.config.queue.concurrency * 10
        messages = await self.store.queue.claim_due(datetime.now(UTC), free, self.retry_after)
        by_domain: dict[str, list[tuple[QueuedMessage, list[QueuedRecipient]]]] = defaultdict(list)
        for message in messages:
            groups: dict[str, list[QueuedRecipient]] = defaultdict(list)
            for r in message.recipients:
                groups[r.address.rpartition("@")[2].lower()].append(r)
            for domain, recipients in groups.items():
                by_domain[domain].append((message, recipients))
        for domain, work in by_domain.items():
            task = asyncio.create_task(self._destination(domain, work))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        return sum(len(m.recipients) for m in messages)

    async def _destination(self, domain: str, work: list[tuple[QueuedMessage, list[QueuedRecipient]]]) -> None:
        async with self.total, self.per_destination[domain]:
            settled: set[str] = set()

            async def settle(message: QueuedMessage, outcomes: list[Outcome]) -> None:
                settled.add(message.queue_id)
                try:
                    await self._settle(message, outcomes)
                except Exception:
                    log.exception("outbound: results for %s not recorded; the recipients stay due", message.queue_id)

            try:
                await self._deliver_domain(domain, work, settle)
            except Exception as e:  # an error of unknown kind is temporary
                log.exception("outbound: delivery to %s failed", domain)
                for m, rs in work:
                    if m.queue_id not in settled:
                        await settle(m, [Outcome(r, False, f"local error: {type(e).__name__}", "4.3.0") for r in rs])

    # --- one destination -----------------------------------------------------------------------

    async def _deliver_domain(self, domain: str, work: list[tuple[QueuedMessage, list[QueuedRecipient]]],
                              settle: Callable[[QueuedMessage, list[Outcome]], Awaitable[None]]) -> None:
        """Delivers the work for one domain; each message's results are written as soon as its DATA
        is answered, so that a crash later in the connection cannot make it go twice."""
        try:
            hops = await next_hops(domain, self.config.relay, resolver=self.resolver)
        except NoRoute as e:
            for m, rs in work:
                await settle(m, [Outcome(r, e.permanent, str(e), e.status) for r in rs])
            return
        last_error = "no host answered"
        for hop in hops:
            try:
                client = await self._connect(hop)
            except (aiosmtplib.SMTPException, OSError, TimeoutError) as e:
                last_error = f"{hop.host}:{hop.port}: {describe(e)}"
                log.info("outbound: %s", last_error)
                continue
            try:
                for m, rs in work:
                    await settle(m, await self._send(client, hop, m, rs))
                return
            finally:
                try:
                    await client.quit()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()
        for m, rs in work:
            await settle(m, [Outcome(r, False, last_error, "4.4.1") for r in rs])

    async def _connect(self, hop: Hop) -> aiosmtplib.SMTP:
        relay = self.config.relay
        context = ssl.create_default_context()
        if not relay.verify_certificates:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        client = aiosmtplib.SMTP(hostname=hop.host, port=hop.port, local_hostname=self.hostname,
                                 timeout=self.config.queue.command_timeout_s, start_tls=False, tls_context=context)
        await client.connect(timeout=self.config.queue.connect_timeout_s)
        await client.ehlo()
        client.used_tls = False  # type: ignore[attr-defined]
        if client.supports_extension("starttls"):
            await client.starttls(tls_context=context)
            await client.ehlo()
            client.used_tls = True  # type: ignore[attr-defined]
        elif relay.require_tls and hop.via in ("route", "smarthost"):
            client.close()
            raise aiosmtplib.SMTPException("STARTTLS required by configuration but not offered")
        if relay.username and hop.via == "smarthost":
            await client.login(relay.username, relay.password)
        return client

    async def _send(self, client: aiosmtplib.SMTP, hop: Hop, message: QueuedMessage,
                    recipients: list[QueuedRecipient]) -> list[Outcome]:
        peer = client.transport.get_extra_info("peername") if client.transport else None
        address = f" [{peer[0]}]" if peer and peer[0] != hop.host else ""
        host = f"{hop.host}{address}:{hop.port} ({hop.via}" + (", TLS)" if getattr(client, "used_tls", False) else ", no TLS)")
        envelope = message.envelope
        content = await self.store.blobs.read(message.blob)
        if self.signer is not None:
            content = await self.signer(content)
        if needs_smtputf8(message, recipients) and not client.supports_extension("smtputf8"):
            return [Outcome(r, True, f"{hop.host} does not accept SMTPUTF8 mail", "5.6.7", host) for r in recipients]
        eight_bit = any(b > 127 for b in content)
        if eight_bit and not client.supports_extension("8bitmime"):
            return [Outcome(r, True, f"{hop.host} does not accept 8-bit mail", "5.6.3", host) for r in recipients]
        dsn = client.supports_extension("dsn")
        options = []
        if eight_bit:
            options.append("BODY=8BITMIME")
        if needs_smtputf8(message, recipients):
            options.append("SMTPUTF8")
        if client.supports_extension("size"):
            options.append(f"SIZE={len(content)}")
        if dsn and envelope.ret:
            options.append(f"RET={envelope.ret}")
        if dsn and envelope.envid:
            options.append(f"ENVID={xtext(envelope.envid)}")
        try:
            await client.mail(envelope.sender, options=options)
        except aiosmtplib.SMTPResponseException as e:
            await _rset(client)
            return [Outcome(r, e.code >= 500, f"{e.code} {e.message}", status_of(e.code, e.message), host)
                    for r in recipients]
        accepted: list[QueuedRecipient] = []
        outcomes: list[Outcome] = []
        for r in recipients:
            rcpt_options = []
            if dsn and r.notify:
                rcpt_options.append(f"NOTIFY={r.notify}")
            if dsn and r.orcpt:
                kind, _, value = r.orcpt.partition(";")
                rcpt_options.append(f"ORCPT={kind};{xtext(value)}")
            try:
                await client.rcpt(r.address, options=rcpt_options)
                accepted.append(r)
            except aiosmtplib.SMTPResponseException as e:
                outcomes.append(Outcome(r, e.code >= 500, f"{e.code} {e.message}", status_of(e.code, e.message), host))
        if not accepted:
            await _rset(client)
            return outcomes
        try:
            code, text = await client.data(content)
            outcomes += [Outcome(r, None, f"{code} {text}", status_of(code, text), host) for r in accepted]
        except aiosmtplib.SMTPResponseException as e:
            outcomes += [Outcome(r, e.code >= 500, f"{e.code} {e.message}", status_of(e.code, e.message), host)
                         for r in accepted]
            await _rset(client)
        return outcomes

    # --- results ----------------------------------------------------------------------------------

    async def _settle(self, message: QueuedMessage, outcomes: list[Outcome]) -> None:
        now = datetime.now(UTC)
        lifetime = timedelta(seconds=self.config.queue.lifetime_s)
        results: list[AttemptResult] = []
        events: list[tuple[str, str]] = []
        failed: list[RecipientReport] = []
        delayed: list[RecipientReport] = []
        relayed: list[RecipientReport] = []
        bounce_allowed = bool(message.envelope.sender)  # never a DSN to the null sender
        for o in outcomes:
            r = o.recipient
            report = RecipientReport(final_recipient=r.address, original_recipient=r.orcpt, action="failed",
                                     status=o.status, remote_mta=o.host.split(" ")[0].split(":")[0] or None,
                                     diagnostic=o.reply if o.reply[:3].isdigit() else None, last_attempt=now)
            if o.permanent is None:
                results.append(AttemptResult(r.id, RecipientState.DELIVERED, o.reply, o.host))
                events.append(("relayed", f"{r.address} to {o.host}: {o.reply}"))
                if bounce_allowed and r.notify and "SUCCESS" in r.notify.upper() and wants_report(r.notify, "relayed"):
                    relayed.append(_with(report, action="relayed", status="2.0.0"))
                continue
            expired = message.received is not None and now - message.received >= lifetime
            if o.permanent or expired:
                state = RecipientState.BOUNCED if bounce_allowed else RecipientState.HELD
                why = o.reply if o.permanent else f"gave up after {self.config.queue.lifetime_s / 86400:g} days: {o.reply}"
                status = o.status if o.permanent else "4.4.7"
                results.append(AttemptResult(r.id, state, why, o.host))
                if bounce_allowed:
                    events.append(("bounced", f"{r.address}: {why}"))
                    if wants_report(r.notify, "failed"):
                        failed.append(_with(report, status=status if status[0] in "45" else "5.0.0"))
                else:
                    events.append(("held", f"{r.address}: a bounce that cannot be delivered ({why}); kept for the administrator"))
                continue
            next_attempt = r.next_attempt
            notify_delay = (bounce_allowed and not r.delay_notified and message.received is not None
                            and now - message.received >= timedelta(seconds=self.config.queue.delay_notice_s)
                            and wants_report(r.notify, "delayed"))
            results.append(AttemptResult(r.id, RecipientState.QUEUED, o.reply, o.host, next_attempt, notify_delay))
            events.append(("deferred", f"{r.address}: {o.reply}; next attempt "
                                       f"{next_attempt:%Y-%m-%d %H:%M:%S}Z" if next_attempt else f"{r.address}: {o.reply}"))
            if notify_delay:
                until = message.received + lifetime if message.received else None
                delayed.append(_with(report, action="delayed", status=o.status if o.status[0] == "4" else "4.0.0",
                                     will_retry_until=until))
        notices = [await self._notice(message, reports) for reports in (failed, delayed, relayed) if reports]
        for notice in notices:
            events.append(("notified", f"{notice.envelope.sender or '<>'} -> {message.envelope.sender}: "
                                       f"{notice.events[0][1]}"))
        await self.store.queue.settle(message.queue_id, results, events, notices,
                                      deliver=lambda r: copy_prefix("", r.address))
        if any(r.mailbox is None for n in notices for r in n.recipients):
            self.wake()

    async def _notice(self, message: QueuedMessage, reports: list[RecipientReport]) -> NewMessage:
        """A DSN to the sender about `reports`, routed like any message; held if it has nowhere to go."""
        original = await self.store.blobs.read(message.blob)
        message_id = f"<{uuid.uuid4().hex}@{self.hostname}>"
        content = build_dsn(reporting_mta=self.hostname, sender=message.envelope.sender, original=original,
                            recipients=reports, envid=message.envelope.envid, ret=message.envelope.ret,
                            arrival=message.received or datetime.now(UTC), now=datetime.now(UTC),
                            message_id=message_id)
        try:
            routes = await self.router.route(message.envelope.sender)
            recipients = tuple(QueuedRecipient(r.address, route=r.how, mailbox=r.mailbox) for r in routes)
        except Unroutable:
            recipients = (QueuedRecipient(message.envelope.sender, route="unroutable", state=RecipientState.HELD),)
        kind = reports[0].action
        return NewMessage(content, Envelope(sender="", client="local", helo=self.hostname), message_id, recipients,
                          (("created", f"DSN ({kind}) for {message.queue_id}: "
                                       + ", ".join(r.final_recipient for r in reports)),))


def _with(report: RecipientReport, **changes: Any) -> RecipientReport:
    from dataclasses import replace

    return replace(report, **changes)


async def _rset(client: aiosmtplib.SMTP) -> None:
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError, TimeoutError):
        pass


def xtext(value: str) -> str:
    """RFC 3461 §4 xtext: "+" and "=", controls and non-ASCII as "+XX"."""
    return "".join(c if "!" <= c <= "~" and c not in "+=" else "".join(f"+{b:02X}" for b in c.encode())
                   for c in value)


def describe(e: BaseException) -> str:
    if isinstance(e, aiosmtplib.SMTPResponseException):
        return f"{e.code} {e.message}"
    return str(e) or type(e).__name__


def from_domain(content: bytes) -> str:
    """The domain of the From header's address: the domain whose DKIM key signs (RFC 6376 §6.1.1,
    and what DMARC aligns with)."""
    values = get_header(content, "From")
    return values[0].rpartition("@")[2].strip(" >\t").lower() if values else ""


def dkim_signer(store: Any) -> Callable[[bytes], Awaitable[bytes]]:
    """Signs a message with its From domain's newest DKIM key; leaves it as it is without one."""
    from postoffice.mta import dkim

    async def sign(content: bytes) -> bytes:
        domain = from_domain(content)
        record = await store.dkim_keys.for_domain(domain) if domain else None
        if record is None:
            return content
        key = dkim.DkimKey(record.domain, record.selector, record.algorithm, record.private_pem, record.public_b64)
        try:
            return await asyncio.to_thread(dkim.sign, content, key)
        except Exception:
            log.exception("outbound: DKIM signing for %s failed; sending unsigned", domain)
            return content

    return sign
