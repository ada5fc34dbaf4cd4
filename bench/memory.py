"""The server's memory under the loads an attacker or a busy office makes (issue 19).

    ./dev bench memory [--idle N] [--appends N] [--append-mib M] [--delivery-mib M] [--dir DIR]

Each case runs against a fresh `postoffice serve` (only the listeners it needs, on 127.0.0.1)
and prints the server's VmRSS before, VmRSS after and VmHWM (the peak), from /proc:

1. N idle connections that have not logged in (default 1,000), from 127.0.0.2..127.0.0.17;
2. N concurrent APPENDs of M MiB each (default 100 of 25 MiB), by N accounts logged in at once,
   each a LITERAL+ of one message, sent together;
3. one M MiB message (default 24) with a single Subject header folded over its whole size,
   delivered over SMTP (the MTA's port) into one INBOX.

10,000 sessions in IDLE are measured by `./dev bench imap_idle`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import tempfile
import time
from pathlib import Path

import _imap
from _imap import Client, mib, rss

SOURCES = [f"127.0.0.{n}" for n in range(2, 18)]


def report(name: str, pid: int, before: tuple[int, int]) -> None:
    now, peak = rss(pid)
    print(f"{name}: RSS {mib(before[0])} before, {mib(now)} after, peak {mib(peak)}"
          f" ({mib(peak - before[0])} above the start)", flush=True)


async def idle_connections(root: Path, count: int) -> None:
    data = root / "idle"
    await _imap.fill_ours(data, 1, [], cheap_hash=True)
    ours = _imap.start_ours(root, data, max_connections=count + 10, max_connections_per_ip=count + 10)
    try:
        before = rss(ours.pid)
        clients = []
        for i in range(count):
            clients.append(await Client.connect(ours.port, local=SOURCES[i % len(SOURCES)]))
        await asyncio.sleep(1)
        report(f"{count} idle connections, not logged in", ours.pid, before)
        for c in clients:
            await c.close()
    finally:
        ours.stop()


async def appends(root: Path, count: int, size: int) -> None:
    data = root / "appends"
    await _imap.fill_ours(data, count, [], cheap_hash=True)
    ours = _imap.start_ours(root, data, max_connections=count + 10, max_connections_per_ip=count + 10)
    line = b"X-Filler: " + b"a" * 68 + b"\r\n"
    message = b"From: a@bench.test\r\nSubject: big\r\n\r\n" + line * ((size - 64) // len(line))
    try:
        clients = []
        for n in range(1, count + 1):
            c = await Client.connect(ours.port, local=SOURCES[n % len(SOURCES)])
            await c.command(f"LOGIN {_imap.our_user(n)} {_imap.PASSWORD}")
            clients.append(c)
        before = rss(ours.pid)
        t0 = time.perf_counter()
        await asyncio.gather(*(c.command("APPEND INBOX", message) for c in clients))
        took = time.perf_counter() - t0
        report(f"{count} concurrent APPENDs of {size / 2**20:.0f} MiB ({took:.1f} s)", ours.pid, before)
        for c in clients:
            await c.close()
    finally:
        ours.stop()


async def delivery(root: Path, size: int) -> None:
    data = root / "delivery"
    await _imap.fill_ours(data, 1, [], cheap_hash=True)
    ours = _imap.start_ours(root, data, smtp=True)
    listeners = json.loads((data / "run" / "listeners.json").read_text())
    port = int(listeners["smtp"].rsplit(":", 1)[1])
    folded = b"Subject: " + b"word " * 10 + b"".join(b"\r\n " + b"w" * 70 for _ in range(size // 73))
    message = b"From: a@remote.test\r\nTo: u1@bench.test\r\n" + folded + b"\r\n\r\nbody\r\n"
    try:
        before = rss(ours.pid)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def reply() -> bytes:
            while True:
                line = await reader.readline()
                if line[3:4] != b"-":
                    return line

        await reply()
        for command in (b"EHLO bench.test", b"MAIL FROM:<a@remote.test>", b"RCPT TO:<u1@bench.test>", b"DATA"):
            writer.write(command + b"\r\n")
            await reply()
        t0 = time.perf_counter()
        writer.write(message + b".\r\n")
        answer = await reply()
        took = time.perf_counter() - t0
        writer.close()
        report(f"delivery of a {len(message) / 2**20:.0f} MiB message with one folded header"
               f" ({answer[:3].decode()} in {took:.1f} s)", ours.pid, before)
    finally:
        ours.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--idle", type=int, default=1000)
    parser.add_argument("--appends", type=int, default=100)
    parser.add_argument("--append-mib", type=int, default=25)
    parser.add_argument("--delivery-mib", type=int, default=24)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    _imap.exit_on_sigterm()
    root = args.dir or Path(tempfile.mkdtemp(prefix="po-memory-"))
    try:
        asyncio.run(idle_connections(root, args.idle))
        asyncio.run(appends(root, args.appends, args.append_mib << 20))
        asyncio.run(delivery(root, args.delivery_mib << 20))
    finally:
        if args.dir is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
