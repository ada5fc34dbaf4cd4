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

import aiosmtplib

from postoffice.config import Config
from postoffice.mda.deliver import LocalDelivery
from postoffice.message.headers import get_header
from postoffice.mta import schedule
from postoffice.mta.dsn import RecipientReport, build_dsn
from postoffice.mta.nexthop import Hop, NoRoute, Resolver, next_hops
from postoffice.mta.routing import Router, Unroutable
from postoffice.mta.schedule import HopInfo, Outcome
from postoffice.store.api import Envelope, NewMessage, QueuedMessage, QueuedRecipient, RecipientState, Store
from postoffice.trace.events import Event, Notice, Stage

log = logging.getLogger(__name__)


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
    def __init__(self, *, store: Store, config: Config, router: Router, mda: LocalDelivery,
                 resolver: Resolver | None = None, signer: Callable[[bytes], Awaitable[bytes]] | None = None) -> None:
        self.store, self.config, self.router, self.mda, self.resolver = store, config, router, mda, resolver
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

    async def run_once(self) -> int:
        """Claims what is due and starts delivering it; how many recipients were claimed."""
        free = self.config.queue.concurrency * 10
        now = datetime.now(UTC)
        rules = self.config.queue
        messages = await self.store.queue.claim_due(now, free, lambda r: schedule.claim(r, now, rules))
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
                        await settle(m, [Outcome(r, False, f"local error: {type(e).__name__}", "4.3.0")
                                         for r in rs])

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
        if client.supports_extension("starttls"):
            await client.starttls(tls_context=context)
            await client.ehlo()
        elif relay.require_tls and hop.via in ("route", "smarthost"):
            client.close()
            raise aiosmtplib.SMTPException("STARTTLS required by configuration but not offered")
        if relay.username and hop.via == "smarthost":
            await client.login(relay.username, relay.password)
        return client

    async def _send(self, client: aiosmtplib.SMTP, hop: Hop, message: QueuedMessage,
                    recipients: list[QueuedRecipient]) -> list[Outcome]:
        host = hop_info(client, hop)
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
            return [replied(r, e.code, e.message, host) for r in recipients]
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
                outcomes.append(replied(r, e.code, e.message, host))
        if not accepted:
            await _rset(client)
            return outcomes
        try:
            code, text = await client.data(content)
            outcomes += [replied(r, code, text, host) for r in accepted]
        except aiosmtplib.SMTPResponseException as e:
            outcomes += [replied(r, e.code, e.message, host) for r in accepted]
            await _rset(client)
        return outcomes

    # --- results ----------------------------------------------------------------------------------

    async def _settle(self, message: QueuedMessage, outcomes: list[Outcome]) -> None:
        settled = schedule.settle(message, outcomes, datetime.now(UTC), self.config.queue)
        notices = [await self._notice(message, reports) for reports in settled.reports()]
        for notice in notices:
            settled.events.append(Event(Stage.NOTIFIED, notice.events[0].data))
        await self.store.queue.settle(message.queue_id, settled.results, settled.events, notices)
        if any(not r.is_local for n in notices for r in n.recipients):
            self.wake()

    async def _notice(self, message: QueuedMessage, reports: list[RecipientReport]) -> NewMessage:
        """A DSN to the sender about `reports`, routed like any message (its local copies planned
        by the MDA); held if it has nowhere to go."""
        original = await self.store.blobs.read(message.blob)
        message_id = f"<{uuid.uuid4().hex}@{self.hostname}>"
        content = build_dsn(reporting_mta=self.hostname, sender=message.envelope.sender, original=original,
                            recipients=reports, envid=message.envelope.envid, ret=message.envelope.ret,
                            arrival=message.received or datetime.now(UTC), now=datetime.now(UTC),
                            message_id=message_id)
        try:
            routes = await self.router.route(message.envelope.sender)
            recipients = tuple(QueuedRecipient(r.address, route=r.how, account=r.account) for r in routes)
        except Unroutable:
            recipients = (QueuedRecipient(message.envelope.sender, route="unroutable", state=RecipientState.HELD),)
        queue_id = schedule.new_queue_id()
        envelope = Envelope(sender="", client="local", helo=self.hostname)
        plans = await self.mda.plan(queue_id, envelope, content, recipients)
        notice = Notice(kind=reports[0].action, about=message.queue_id, recipients=tuple(r.final_recipient for r in reports),
                        sender=message.envelope.sender, dsn=queue_id)
        return NewMessage(queue_id, content, envelope, message_id, recipients, (Event(Stage.CREATED, notice),),
                          tuple(plans))


def hop_info(client: aiosmtplib.SMTP, hop: Hop) -> HopInfo:
    """Who an open connection talks to: the hop, its address, and the TLS version if any."""
    transport = client.transport
    peer = transport.get_extra_info("peername") if transport else None
    tls = transport.get_extra_info("ssl_object") if transport else None
    return HopInfo(hop.host, hop.port, hop.via, ip=peer[0] if peer else None, tls=tls.version() if tls else None)


def replied(recipient: QueuedRecipient, code: int, text: str, hop: HopInfo) -> Outcome:
    """The outcome of a reply: 2xx delivered, 5xx failed for good, anything else temporary."""
    permanent = None if 200 <= code < 300 else code >= 500
    return Outcome(recipient, permanent, f"{code} {text}", status_of(code, text), hop, code)


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


def dkim_signer(store: Store) -> Callable[[bytes], Awaitable[bytes]]:
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
