"""IMAP operations per second with 10 and 50 concurrent clients on a mixed workload (LOGIN, SELECT,
FETCH, STORE, APPEND, EXPUNGE, LOGOUT), against Dovecot in the same run, and the ratio.

    ./dev bench imap_load [--clients 10,50] [--seconds S] [--rounds R] [--mailbox N] [--visits K]
                          [--cheap-hash] [--dir DIR]

Client i is user i (our u1..u50@bench.test, Dovecot's user1..user50, password "pass"), each INBOX
holding --mailbox messages (2.8 KB on average) to start with: ours through the store API, Dovecot's
as Maildir files. A client runs sessions back to back, each on a new connection:

    LOGIN, SELECT INBOX, then --visits times:
        FETCH n-9:n (UID FLAGS RFC822.SIZE ENVELOPE)   the newest ten, as a message list shows them
        FETCH r BODY.PEEK[]                             one message read (r at random)
        STORE r +FLAGS (\\Seen)
        APPEND INBOX (\\Seen) {...}                      a message of its own, 2.8 KB on average
        STORE 1 +FLAGS.SILENT (\\Deleted)
        EXPUNGE                                         so each INBOX keeps its size
    LOGOUT

Each command answered before the end of the run counts as one operation. Both servers keep their
durability (our APPEND and STORE commit before OK; Dovecot writes its Maildir and index). Before
the rounds, one untimed session per user on each server warms both up (Dovecot builds its
indexes). Runs alternate Dovecot, us, Dovecot, us; the ratio is our best round over Dovecot's:
above 1 we serve more. Our accounts have Argon2id passwords, as `postoffice user add` makes them
(about 0.2 s of CPU per LOGIN); Dovecot's peer keeps {PLAIN} passwords. --cheap-hash gives our
accounts a minimal Argon2 cost, to see the protocol's work without the password hash.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
from collections import defaultdict

import _imap
from _imap import Client, Dovecot, ImapError, mib, rss

OPS = ("LOGIN", "SELECT", "FETCH", "STORE", "APPEND", "EXPUNGE", "LOGOUT")


class Tally:
    def __init__(self) -> None:
        self.count: dict[str, int] = defaultdict(int)
        self.seconds: dict[str, float] = defaultdict(float)
        self.errors: list[str] = []
        self.sessions = 0

    @property
    def ops(self) -> int:
        return sum(self.count.values())


async def client(port: int, user: str, mails: list[bytes], end: float, visits: int, tally: Tally, seed: int) -> None:
    rng = random.Random(seed)
    loop = asyncio.get_running_loop()
    made = 0

    async def op(name: str, line: str, literal: bytes | None = None, since: float | None = None) -> bytes:
        start = loop.time() if since is None else since
        data, tagged = await c.command(line, literal, check=False)
        done = loop.time()
        if tagged.split(b" ", 2)[1:2] != [b"OK"]:
            tally.errors.append(f"{line.split(' {')[0]}: {tagged.decode(errors='replace')}")
        elif done < end:
            tally.count[name] += 1
            tally.seconds[name] += done - start
        return data

    while loop.time() < end:
        start = loop.time()
        try:
            c = await Client.connect(port)
        except OSError as e:
            tally.errors.append(f"connect: {e}")
            await asyncio.sleep(0.1)
            continue
        try:
            await op("LOGIN", f"LOGIN {user} {_imap.PASSWORD}", since=start)  # connecting is part of it
            await op("SELECT", "SELECT INBOX")
            for _ in range(visits):
                if loop.time() >= end:
                    break
                n = max(c.exists, 1)
                r = rng.randrange(1, n + 1)
                await op("FETCH", f"FETCH {max(n - 9, 1)}:{n} (UID FLAGS RFC822.SIZE ENVELOPE)")
                await op("FETCH", f"FETCH {r} BODY.PEEK[]")
                await op("STORE", f"STORE {r} +FLAGS (\\Seen)")
                made += 1
                body = b"X-Load: %s %d\r\n" % (user.encode(), made) + mails[(seed * 7919 + made) % len(mails)]
                await op("APPEND", "APPEND INBOX (\\Seen)", body)
                await op("STORE", "STORE 1 +FLAGS.SILENT (\\Deleted)")
                await op("EXPUNGE", "EXPUNGE")
            await op("LOGOUT", "LOGOUT")
            tally.sessions += 1
        except (ImapError, ConnectionError, OSError) as e:
            tally.errors.append(f"{user}: {e}")
        finally:
            await c.close()


async def run_load(port: int, users: list[str], mails: list[bytes], seconds: float, visits: int) -> Tally:
    tally = Tally()
    end = asyncio.get_running_loop().time() + seconds
    await asyncio.gather(*(client(port, u, mails, end, visits, tally, i) for i, u in enumerate(users)))
    return tally


async def warm_up(port: int, users: list[str]) -> None:
    async def one(user: str) -> None:
        c = await Client.connect(port)
        try:
            await c.command(f"LOGIN {user} {_imap.PASSWORD}")
            await c.command("SELECT INBOX")
            await c.command("FETCH 1:* (UID FLAGS RFC822.SIZE ENVELOPE)")
            await c.command("LOGOUT", check=False)
        finally:
            await c.close()

    for start in range(0, len(users), 10):
        await asyncio.gather(*(one(u) for u in users[start:start + 10]))


def report(name: str, clients: int, r: int, tally: Tally, seconds: float, memory: str) -> float:
    rate = tally.ops / seconds
    print(f"  {name:<10} {clients:>2} clients round {r + 1}: {rate:7.0f} ops/s ({tally.ops} ops, "
          f"{tally.sessions} sessions, {len(tally.errors)} errors; {memory})", flush=True)
    means = ", ".join(f"{op} {1000 * tally.seconds[op] / tally.count[op]:.1f}" for op in OPS if tally.count[op])
    print(f"      mean ms: {means}", flush=True)
    for error in tally.errors[:3]:
        print(f"      error: {error}", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", default="10,50", help="client counts to run, comma-separated (default 10,50)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each run (default 15)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--mailbox", type=int, default=200, help="messages in each INBOX at the start (default 200)")
    parser.add_argument("--visits", type=int, default=3, help="FETCH..EXPUNGE cycles per session (default 3)")
    parser.add_argument("--cheap-hash", action="store_true", help="our accounts with a minimal Argon2 cost")
    parser.add_argument("--dir", default=None, help="where our data directory goes (default: a scratch-fs mount)")
    args = parser.parse_args()
    _imap.exit_on_sigterm()
    counts = [int(n) for n in args.clients.split(",")]
    users = max(counts)
    mails = _imap.corpus(args.mailbox + 500)
    start_mails, append_mails = mails[:args.mailbox], [m.raw for m in mails[args.mailbox:]]
    print(f"IMAP load: {'/'.join(map(str, counts))} clients, {args.seconds:.0f} s per run, INBOXes of "
          f"{args.mailbox} messages, {args.visits} visits per session, "
          f"{'cheap Argon2' if args.cheap_hash else 'default Argon2id'} passwords here, {os.cpu_count()} cores",
          flush=True)
    scratch = _imap.Scratch("po-imap-load-", args.dir)
    dovecot = Dovecot(scratch.root) if _imap.have_dovecot() else None
    ours = None
    try:
        data = scratch.root / "data"
        asyncio.run(_imap.fill_ours(data, users, start_mails, cheap_hash=args.cheap_hash))
        ours = _imap.start_ours(scratch.root, data)
        ours_users = [_imap.our_user(n) for n in range(1, users + 1)]
        asyncio.run(warm_up(ours.port, ours_users))
        if dovecot is not None:
            dovecot.up()
            for n in range(1, users + 1):
                dovecot.fill(f"user{n}", start_mails)
            asyncio.run(warm_up(dovecot.port, [f"user{n}" for n in range(1, users + 1)]))
        summary = []
        for clients in counts:
            best: dict[str, float] = {}
            for r in range(args.rounds):
                if dovecot is not None:
                    tally = asyncio.run(run_load(dovecot.port, [f"user{n}" for n in range(1, clients + 1)],
                                                 append_mails, args.seconds, args.visits))
                    rate = report("dovecot", clients, r, tally, args.seconds,
                                  f"RSS {mib(dovecot.rss_kib())} all processes")
                    best["dovecot"] = max(best.get("dovecot", 0), rate)
                tally = asyncio.run(run_load(ours.port, ours_users[:clients], append_mails, args.seconds, args.visits))
                now, peak = rss(ours.pid)
                rate = report("postoffice", clients, r, tally, args.seconds, f"RSS {mib(now)}, peak {mib(peak)}")
                best["postoffice"] = max(best.get("postoffice", 0), rate)
            summary.append((clients, best))
        for clients, best in summary:
            line = f"  {clients:>2} clients, best round: postoffice {best['postoffice']:.0f} ops/s"
            if "dovecot" in best:
                line += (f", dovecot {best['dovecot']:.0f} ops/s, postoffice / dovecot "
                         f"{best['postoffice'] / best['dovecot']:.2f}")
            print(line)
        if dovecot is None:
            print("  (dovecot is not installed: no peer figures; apt-get install dovecot-imapd)")
    finally:
        if ours is not None:
            ours.stop()
        if dovecot is not None:
            dovecot.down()
        scratch.close()


if __name__ == "__main__":
    main()
