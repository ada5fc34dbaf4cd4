"""10,000 IMAP connections logged in, INBOX selected, in IDLE: our server's RSS, and how fast a new
message reaches the sessions idling on its mailbox.

    ./dev bench imap_idle [--connections N] [--users U] [--messages M] [--dir DIR]

U accounts (u1..uU@bench.test, default 1000) with M messages in each INBOX (default 100) are made
through the store API before the server starts; their passwords use a minimal Argon2 cost, since
logging in is not what is measured here (10,000 default Argon2id logins would take half an hour of
CPU). Connection i logs in as user i mod U, so each mailbox has N/U sessions idling on it. The
connections come from 127.0.0.2..127.0.0.17 in turn (so that no one source address runs short of
ephemeral ports), at most 100 being set up at once; the server's [imap] max_connections and
max_connections_per_ip are set above N, and the open-files limit is raised for both processes
(resource.setrlimit, the hard limit too when run as root).

Printed: the server's VmRSS after start and with all N in IDLE, the difference per connection,
VmHWM (the peak); then the time from one APPEND to u1's INBOX (by another connection) until every
session idling on it has its "* n EXISTS" (issue 5: within one second); then DONE on every
connection, and the time until all have answered OK. Target (issue 5): 10,000 IDLE connections
under 1 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import time

import _imap
from _imap import Client, ImapError, mib, rss

SOURCES = [f"127.0.0.{n}" for n in range(2, 18)]
SETUP_CONCURRENCY = 100


def raise_open_files(wanted: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < wanted and _imap.is_root():
        try:
            with open("/proc/sys/fs/nr_open") as f:
                ceiling = int(f.read())
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, ceiling), min(wanted, ceiling)))
            soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        except (OSError, ValueError):
            pass
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def open_idlers(port: int, count: int, users: int) -> list[Client]:
    clients: list[Client | None] = [None] * count
    gate = asyncio.Semaphore(SETUP_CONCURRENCY)
    done = 0
    t0 = time.perf_counter()

    async def one(i: int) -> None:
        nonlocal done
        async with gate:
            c = await Client.connect(port, local=SOURCES[i % len(SOURCES)])
            await c.command(f"LOGIN {_imap.our_user(i % users + 1)} {_imap.PASSWORD}")
            await c.command("SELECT INBOX")
            await c.idle()
            clients[i] = c
            done += 1
            if done % 2000 == 0:
                print(f"    ... {done} in IDLE ({time.perf_counter() - t0:.0f} s)", flush=True)

    await asyncio.gather(*(one(i) for i in range(count)))
    return clients  # type: ignore[return-value]


async def wake(port: int, idlers: list[Client], mail: bytes) -> tuple[float, int]:
    """Seconds from an APPEND to u1's INBOX until every u1 session heard EXISTS; how many heard."""
    async def hear(c: Client) -> None:
        while not (await c._line()).endswith(b" EXISTS"):
            pass

    sender = await Client.connect(port, local=SOURCES[0])
    try:
        await sender.command(f"LOGIN {_imap.our_user(1)} {_imap.PASSWORD}")
        waiting = [asyncio.ensure_future(hear(c)) for c in idlers]
        start = time.perf_counter()
        await sender.command("APPEND INBOX", mail)
        done, pending = await asyncio.wait(waiting, timeout=10)
        elapsed = time.perf_counter() - start
        for task in pending:
            task.cancel()
        await sender.command("LOGOUT", check=False)
    finally:
        await sender.close()
    return elapsed, sum(1 for t in done if t.exception() is None)


async def finish(clients: list[Client]) -> tuple[float, int]:
    """DONE on every connection: seconds until all answered, and how many answered OK."""
    async def one(c: Client) -> bool:
        c.writer.write(b"DONE\r\n")
        try:
            _, tagged = await c.response(c.idle_tag)
            return tagged.split(b" ", 2)[1:2] == [b"OK"]
        except (ConnectionError, OSError, ImapError):
            return False
        finally:
            await c.close()

    start = time.perf_counter()
    results = await asyncio.gather(*(one(c) for c in clients))
    return time.perf_counter() - start, sum(results)


async def measure(port: int, pid: int, connections: int, users: int, mail: bytes) -> None:
    warm = await Client.connect(port)  # one session first, so that "before" has every module loaded
    await warm.command(f"LOGIN {_imap.our_user(1)} {_imap.PASSWORD}")
    await warm.command("SELECT INBOX")
    await warm.command("LOGOUT", check=False)
    await warm.close()
    before = rss(pid)[0]
    t0 = time.perf_counter()
    clients = await open_idlers(port, connections, users)
    print(f"  {connections} connections logged in, INBOX selected, in IDLE after {time.perf_counter() - t0:.0f} s",
          flush=True)
    await asyncio.sleep(2)
    now, peak = rss(pid)
    print(f"  server RSS: {mib(before)} before, {mib(now)} with {connections} in IDLE "
          f"({(now - before) / connections:.1f} KiB per connection), peak {mib(peak)}; target under 1 GB: "
          f"{'met' if now < 1024 * 1024 else 'missed'}", flush=True)
    ones = clients[::users]
    elapsed, heard = await wake(port, ones, mail)
    print(f"  APPEND to u1's INBOX heard by {heard} of its {len(ones)} idling sessions in {elapsed * 1000:.0f} ms",
          flush=True)
    elapsed, ok = await finish(clients)
    print(f"  DONE on all {connections}: {ok} answered OK, in {elapsed:.1f} s", flush=True)
    print(f"  server RSS after they left: {mib(rss(pid)[0])}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=100, help="messages in each INBOX (default 100)")
    parser.add_argument("--dir", default=None, help="where our data directory goes (default: a scratch-fs mount)")
    args = parser.parse_args()
    _imap.exit_on_sigterm()
    users = min(args.users, args.connections)
    wanted = args.connections + 1000
    limit = raise_open_files(wanted)
    print(f"IMAP IDLE: {args.connections} connections over {users} accounts of {args.messages} messages each, "
          f"open files limit {limit}, {os.cpu_count()} cores", flush=True)
    if limit < wanted:
        raise SystemExit(f"  the open files limit is {limit}, below the {wanted} needed: raise it (ulimit -n) or "
                         "use fewer --connections")
    mails = _imap.corpus(args.messages + 1)
    scratch = _imap.Scratch("po-imap-idle-", args.dir)
    ours = None
    try:
        data = scratch.root / "data"
        t0 = time.perf_counter()
        asyncio.run(_imap.fill_ours(data, users, mails[:-1], cheap_hash=True))
        print(f"  filled {users} INBOXes through the store API in {time.perf_counter() - t0:.0f} s", flush=True)
        ours = _imap.start_ours(scratch.root, data, max_connections=args.connections + 100,
                                max_connections_per_ip=args.connections + 100)
        asyncio.run(measure(ours.port, ours.pid, args.connections, users, mails[-1].raw))
        if ours.process.poll() is not None:
            print(f"  our server exited ({ours.process.returncode})")
    finally:
        if ours is not None:
            ours.stop()
        scratch.close()


if __name__ == "__main__":
    main()
