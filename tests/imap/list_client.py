"""What the LIST tests share: an account of its own per test (with the default mailboxes), a raw
client that returns a command's response lines, and a way to make a gap in the hierarchy."""

from __future__ import annotations

import asyncio
import itertools

from postoffice.store.sqlite.store import SqliteStore
from tests.conftest import new_account
from tests.imap.test_session_flow import Raw


PASSWORD = "list-secret"
DEFAULTS = ("Archive", "Drafts", "Junk", "Sent", "Trash")


def new_user(server) -> str:
    """A new account on the running server, with the default mailboxes."""
    return new_account(server, "lister", PASSWORD)


def create_without_superiors(server, user: str, name: str) -> None:
    """A mailbox made straight in the store (as an import would), its superiors left missing."""

    async def create() -> None:
        store = SqliteStore(server.data_dir)
        try:
            account = await store.directory.find_account(user)
            await store.mailboxes.create(account.id, name)
        finally:
            await store.aclose()

    asyncio.run(create())


class Client:
    """A logged-in raw connection: `run` sends one command and returns its untagged lines and its
    completion (the tagged line without the tag)."""

    def __init__(self, server, user: str) -> None:
        self.raw = Raw(server)
        self.tags = itertools.count(1)
        self.login_name = user
        assert self.run(f"LOGIN {user} {PASSWORD}")[1].startswith(b"OK")

    def run(self, command: str | bytes) -> tuple[list[bytes], bytes]:
        tag = b"t%d" % next(self.tags)
        self.raw.send(tag + b" " + (command.encode() if isinstance(command, str) else command) + b"\r\n")
        lines = self.raw.until(tag + b" ")
        return lines[:-1], lines[-1][len(tag) + 1:]

    def ok(self, command: str | bytes) -> list[bytes]:
        lines, done = self.run(command)
        assert done.startswith(b"OK"), (command, done)
        return lines

    def bad(self, command: str | bytes) -> bytes:
        lines, done = self.run(command)
        assert done.startswith(b"BAD"), (command, lines, done)
        return done

    def create(self, *names: str) -> None:
        for name in names:
            self.ok(f'CREATE "{name}"')

    def unsubscribe(self, *names: str) -> None:
        for name in names:
            self.ok(f'UNSUBSCRIBE "{name}"')

    def close(self) -> None:
        self.raw.close()


def connect(server) -> Client:
    return Client(server, new_user(server))


def lines(*items: str) -> list[bytes]:
    """Expected response lines, written as the RFCs print them."""
    return [("* " + item).encode() for item in items]
