"""Appends per second of 4 KB messages into the store: one fsync per message versus group commit,
with 1 and 20 concurrent writers; and the store's size per 10,000 messages.

    ./dev bench store_appends [--messages N] [--dir DIR]

Each append is the whole path a delivery takes: the blob stored (hashed, parsed once, durable),
then the message row appended to an INBOX. Distinct contents, so nothing is deduplicated.
Prints one line per case; timing is wall clock on this machine, so compare the lines of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from postoffice.auth.passwords import make_credentials
from postoffice.store.sqlite.store import SqliteStore


def message(i: int, size: int = 4096) -> bytes:
    head = (f"From: sender{i % 97}@remote.test\r\nTo: alice@example.test\r\nSubject: benchmark message {i}\r\n"
            f"Message-ID: <{i}.bench@remote.test>\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n\r\n").encode()
    line = b"The quick brown fox jumps over the lazy dog, again and again and again.\r\n"
    body = (line * (size // len(line) + 1))[: size - len(head) - 2]
    return head + body + b"\r\n"


async def run_case(root: Path, *, group_commit: bool, writers: int, messages: int) -> tuple[float, int, int]:
    data = root / f"case-{group_commit}-{writers}"
    store = SqliteStore(data, group_commit=group_commit)
    await store.directory.add_domain("example.test")
    account = await store.directory.add_account("alice@example.test", make_credentials("pw"))
    inbox = (await store.mailboxes.find(account.id, "INBOX")).id
    contents = [message(i) for i in range(messages)]
    commits_before = store.writer.commits
    next_index = iter(range(messages))

    async def writer() -> None:
        for i in next_index:
            blob = await store.blobs.put(contents[i])
            await store.mailboxes.append(inbox, blob, frozenset(), datetime.now(UTC))

    start = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(writers)))
    elapsed = time.perf_counter() - start
    commits = store.writer.commits - commits_before
    await store.aclose()
    size = sum(f.stat().st_size for f in data.rglob("*") if f.is_file())
    shutil.rmtree(data)
    return elapsed, commits, size


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=3000, help="messages per case (default 3000)")
    parser.add_argument("--dir", default=None, help="where to make the stores (default: a temporary directory)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="po-bench-", dir=args.dir))
    print(f"store appends: {args.messages} messages of 4 KB per case, in {root} ({os.cpu_count()} cores)")
    try:
        for writers in (1, 20):
            for group_commit in (False, True):
                elapsed, commits, _ = await run_case(root, group_commit=group_commit, writers=writers,
                                                     messages=args.messages)
                label = "group commit " if group_commit else "fsync/message"
                print(f"  {label} {writers:>2} writer(s): {args.messages / elapsed:8.0f} appends/s"
                      f"  ({commits} commits, {2 * args.messages / commits:5.1f} writes per commit)")
        _, _, size = await run_case(root, group_commit=True, writers=20, messages=10_000)
        print(f"  store size per 10,000 messages of 4 KB: {size / 2**20:.1f} MiB"
              f" ({size / 10_000 / 4096:.2f}x the message bytes)")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
