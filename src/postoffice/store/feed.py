"""The change feed: every committed mutation of a mailbox, told to whoever listens in-process.

IMAP sessions subscribe to the mailboxes they have selected and hear appends, flag changes and
expunges made by any other session, the MDA or POP3, without polling. Publishing never blocks the
writer: each subscriber has its own unbounded asyncio queue, drained by its session. A backend that
spans processes (PostgreSQL with LISTEN/NOTIFY) feeds the same object from its notifications.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from postoffice.store.api import Change, MailboxId


class ChangeFeed:
    def __init__(self) -> None:
        self._subscribers: dict[MailboxId, set[asyncio.Queue[Change]]] = defaultdict(set)

    @contextmanager
    def subscribe(self, mailbox: MailboxId) -> Iterator[asyncio.Queue[Change]]:
        """A queue that receives every change of `mailbox` until the block ends."""
        q: asyncio.Queue[Change] = asyncio.Queue()
        self._subscribers[mailbox].add(q)
        try:
            yield q
        finally:
            self._subscribers[mailbox].discard(q)
            if not self._subscribers[mailbox]:
                del self._subscribers[mailbox]

    def publish(self, changes: Iterable[Change]) -> None:
        for change in changes:
            for q in self._subscribers.get(change.mailbox, ()):
                q.put_nowait(change)
