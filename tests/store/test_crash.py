"""Crash safety: a store killed with SIGKILL at any moment keeps every append it acknowledged."""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from postoffice.store.sqlite.store import SqliteStore
from tests.store.conftest import make_account

CHILD = Path(__file__).with_name("crash_child.py")


def run_and_kill(data_dir: Path, seconds: float) -> list[tuple[int, str]]:
    """Starts the appending child, kills it after `seconds` of appending, returns what it acknowledged."""
    child = subprocess.Popen([sys.executable, str(CHILD), str(data_dir)], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(CHILD.parents[2])})
    lines: list[str] = []
    ready = threading.Event()

    def read() -> None:
        for line in child.stdout:
            if line == "ready\n":
                ready.set()
            else:
                lines.append(line)

    reader = threading.Thread(target=read)
    reader.start()
    assert ready.wait(30), "the child never became ready"
    time.sleep(seconds)
    child.send_signal(signal.SIGKILL)
    child.wait()
    reader.join()
    acked = []
    for line in lines:
        if line.endswith("\n"):  # a line cut by the kill was never acknowledged to us
            uid, sha = line.split()
            acked.append((int(uid), sha))
    return acked


def test_sigkill_20_times_loses_no_acknowledged_append(tmp_path: Path):
    data_dir = tmp_path / "data"

    async def setup() -> None:
        store = SqliteStore(data_dir)
        await make_account(store)
        await store.aclose()

    asyncio.run(setup())
    rng = random.Random(2026)
    acknowledged: dict[int, str] = {}
    for _ in range(20):
        for uid, sha in run_and_kill(data_dir, rng.uniform(0.05, 0.6)):
            assert uid not in acknowledged, f"UID {uid} was given twice"
            acknowledged[uid] = sha

        async def check() -> None:
            store = SqliteStore(data_dir)
            try:
                assert await store.check_integrity() == []
                account = await store.directory.find_account("alice@example.test")
                inbox = await store.mailboxes.find(account.id, "INBOX")
                stored = {m.uid: m for m in await store.mailboxes.messages(inbox.id)}
                missing = sorted(set(acknowledged) - set(stored))
                assert not missing, f"acknowledged appends lost: {missing[:10]}"
                for uid, sha in acknowledged.items():
                    assert stored[uid].blob.sha256 == sha
                # spot-check contents: the bytes still hash to their name
                for uid in rng.sample(sorted(acknowledged), min(5, len(acknowledged))):
                    assert hashlib.sha256(await store.blobs.read(stored[uid].blob)).hexdigest() == acknowledged[uid]
                assert inbox.uidnext > max(stored, default=0)
            finally:
                await store.aclose()

        asyncio.run(check())
    assert len(acknowledged) > 100, "the child barely appended: the test proved little"
