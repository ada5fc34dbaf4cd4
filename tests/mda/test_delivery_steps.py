"""The MDA's delivery steps: a step added without touching the store files copies where it decides.

The MTA's own listener runs in this process on a real socket, with an MDA whose steps are defined
here only; mail arrives over SMTP as from another server (aiosmtplib) and is looked for in the
store and in its journey.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiosmtplib

from postoffice.config import Smtp
from postoffice.mda.deliver import LocalDelivery
from postoffice.mda.steps import DISCARD, Decision, DeliveryStep, Incoming
from postoffice.mta.policy import InboundPolicy
from postoffice.mta.routing import Router
from postoffice.smtp.listener import SmtpListener
from postoffice.store.sqlite.store import SqliteStore
from postoffice.trace.events import Stage, Stored
from tests.store.conftest import make_account


class ListsStep:
    """Files mail whose subject starts with "[list]" into "Lists", making the folder."""

    name = "lists"

    async def decide(self, incoming: Incoming) -> Decision | None:
        subject = incoming.header("Subject")
        if subject and subject[0].startswith("[list]"):
            return Decision("Lists", frozenset({"$List"}), create=True)
        return None


class BrokenStep:
    name = "broken"

    async def decide(self, incoming: Incoming) -> Decision | None:
        raise RuntimeError("a filter with a bug")


class DropSpamStep:
    name = "drop-spam"

    async def decide(self, incoming: Incoming) -> Decision | None:
        return DISCARD if incoming.header("X-Spam") == ["yes"] else None


def message(subject: str, extra: str = "") -> bytes:
    return (f"From: carol@remote.test\r\nTo: alice@example.test\r\nSubject: {subject}\r\n{extra}"
            f"Message-ID: <{abs(hash(subject))}@remote.test>\r\n\r\nHello.\r\n").encode()


def with_mta(tmp_path: Path, steps: list[DeliveryStep],
             body: Callable[[SqliteStore, int, int], Awaitable[None]]) -> None:
    """Runs body(store, account id, port) against an MTA listener whose MDA has `steps`."""

    async def main() -> None:
        store = SqliteStore(tmp_path / "data")
        account = await make_account(store, "alice@example.test")
        mda = LocalDelivery(store, steps)
        policy = InboundPolicy(store=store, router=Router(store), mda=mda, handoff=mda.deliver_soon,
                               hostname="mail.example.test")
        listener = SmtpListener(policy_for=lambda: policy, hostname="mail.example.test", limits=Smtp(),
                                tls_context=ssl.create_default_context(ssl.Purpose.CLIENT_AUTH), implicit_tls=False,
                                spool_dir=tmp_path / "spool")
        sock = socket.create_server(("127.0.0.1", 0))
        sock.setblocking(False)
        await listener.start(sock)
        try:
            await body(store, account.id, sock.getsockname()[1])
        finally:
            await listener.stop()
            await mda.drain()
            await store.aclose()

    asyncio.run(main())


async def send(port: int, content: bytes) -> str:
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as smtp:
        _, reply = await smtp.sendmail("carol@remote.test", ["alice@example.test"], content)
    return reply.rsplit(" ", 1)[1]


def test_a_step_files_mail_into_its_folder_and_the_journey_says_filed(tmp_path):
    async def body(store: SqliteStore, account: int, port: int) -> None:
        listed = await send(port, message("[list] weekly digest"))
        plain = await send(port, message("lunch?"))
        lists = await store.mailboxes.find(account, "Lists")
        inbox = await store.mailboxes.find(account, "INBOX")
        assert lists is not None and inbox is not None  # made by the step's decision
        [filed] = await store.mailboxes.messages(lists.id)
        [kept] = await store.mailboxes.messages(inbox.id)
        assert filed.queue_id == listed and kept.queue_id == plain
        assert filed.flags == {"$List"}
        # RFC 5321 §4.4: the copy's own trace fields, wherever it is filed
        assert (await store.blobs.read_message(filed)).startswith(
            b"Return-Path: <carol@remote.test>\r\nDelivered-To: alice@example.test\r\n")
        events = await store.journey.events(listed)
        [stored] = [e for e in events if e.stage is Stage.FILED]
        assert stored.data == Stored(recipient="alice@example.test", mailbox="Lists", uid=1, step="lists",
                                     flags=("$List",))
        assert "alice@example.test: filed into Lists UID 1 with $List by lists" == stored.detail
        assert [e.stage for e in await store.journey.events(plain)][-1] is Stage.DELIVERED
        assert await store.queue.list() == []  # settled, exactly once

    with_mta(tmp_path, [ListsStep()], body)


def test_a_failing_step_leaves_the_decision_to_the_next_and_mail_is_never_lost(tmp_path):
    async def body(store: SqliteStore, account: int, port: int) -> None:
        queue_id = await send(port, message("[list] despite the bug"))
        lists = await store.mailboxes.find(account, "Lists")
        assert lists is not None and [m.queue_id for m in await store.mailboxes.messages(lists.id)] == [queue_id]

    with_mta(tmp_path, [BrokenStep(), ListsStep()], body)


def test_a_discarding_step_settles_the_recipient_without_a_copy(tmp_path):
    async def body(store: SqliteStore, account: int, port: int) -> None:
        queue_id = await send(port, message("cheap pills", "X-Spam: yes\r\n"))
        inbox = await store.mailboxes.find(account, "INBOX")
        assert inbox is not None and await store.mailboxes.messages(inbox.id) == []
        events = await store.journey.events(queue_id)
        assert events[-1].stage is Stage.DISCARDED and events[-1].detail == "alice@example.test: discarded by drop-spam"
        assert await store.queue.list() == []

    with_mta(tmp_path, [DropSpamStep()], body)
