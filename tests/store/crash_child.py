"""Appends to alice's INBOX until killed, printing `uid sha256` for each acknowledged append.

Run by test_crash.py: the parent kills this process with SIGKILL at a random moment and then
checks that every line printed here (an append the store had acknowledged) is in the store.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

from postoffice.store.sqlite.store import SqliteStore


async def writer(store: SqliteStore, inbox: int, rng: random.Random) -> None:
    while True:
        size = rng.choice([200, 3000, 20_000, 120_000])  # the largest go to blob files
        body = os.urandom(size // 2).hex().encode()
        raw = b"Subject: crash test\r\n\r\n" + b"\r\n".join(body[i:i + 76] for i in range(0, len(body), 76)) + b"\r\n"
        blob = await store.blobs.put(raw)
        appended = await store.mailboxes.append(inbox, blob, frozenset(), datetime.now(UTC))
        sys.stdout.write(f"{appended.uid} {blob.sha256}\n")
        sys.stdout.flush()


async def main() -> None:
    store = SqliteStore(Path(sys.argv[1]), inline_blob_bytes=65536)
    account = await store.directory.find_account("alice@example.test")
    inbox = await store.mailboxes.find(account.id, "INBOX")
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    rng = random.Random()
    await asyncio.gather(*(writer(store, inbox.id, rng) for _ in range(8)))


if __name__ == "__main__":
    asyncio.run(main())
