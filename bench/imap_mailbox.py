"""One client on a 100,000-message INBOX: times of SELECT, UID FETCH 1:* (FLAGS), FETCH 1:* (ENVELOPE)
and UID SEARCH on header fields and body text, and server RSS; against Dovecot in the same run.

    ./dev bench imap_mailbox [--messages N] [--rounds R] [--dir DIR]

The messages (0.7-9 KB, 2.9 KB on average; distinct senders, subjects, dates and bodies; a fifth
multipart/alternative; 70% \\Seen) go into our INBOX through the store API before the server
starts, and into Dovecot's (user1, ../shared/peers/dovecot-up.sh) as Maildir files in cur/ with
their flags in the file name. Both data directories are on fresh journaled ext4 mounts when run as
root. Each round is one connection: LOGIN, SELECT INBOX, then each command below in turn, each
timed from the command's first byte sent to its tagged OK received. Rounds alternate Dovecot, us,
Dovecot, us; round 1 is Dovecot's cold start (it builds its index on the first SELECT). The ratio
is our time over Dovecot's, best round each: above 1 we are slower. RSS is the server process's
VmRSS (and VmHWM, its peak) from /proc; Dovecot's is the sum over its master and all its children.
Target (issue 5): SELECT plus UID FETCH 1:* (FLAGS) of 100,000 messages in under one second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import time

import _imap
from _imap import Client, Dovecot, mib, rss, search_count

SUBJECT = "quarterly budget review"  # about one subject in sixteen
SENDER = "greta.berg@"  # about one sender in 860
COMMANDS = (
    "SELECT INBOX",
    "UID FETCH 1:* (FLAGS)",
    "FETCH 1:* (ENVELOPE)",
    f'UID SEARCH SUBJECT "{SUBJECT}"',
    f'UID SEARCH HEADER FROM "{SENDER}"',
    f'UID SEARCH BODY "{_imap.RARE_WORD}"',
)
TIMEOUT_S = 1800


async def one_round(port: int, user: str, messages: int) -> tuple[dict[str, float], dict[str, int]]:
    """Seconds per command, and what each answered (messages, FETCH responses, search hits)."""
    times: dict[str, float] = {}
    counts: dict[str, int] = {}
    client = await Client.connect(port)
    try:
        start = time.perf_counter()
        await client.command(f"LOGIN {user} {_imap.PASSWORD}")
        times["LOGIN"] = time.perf_counter() - start
        for name in COMMANDS:
            start = time.perf_counter()
            data, _ = await asyncio.wait_for(client.command(name), TIMEOUT_S)
            times[name] = time.perf_counter() - start
            if name.startswith("SELECT"):
                counts[name] = client.exists = int(re.search(rb"^\* (\d+) EXISTS", data, re.M)[1])
            elif "FETCH" in name:
                counts[name] = data.count(b" FETCH (")
            else:
                counts[name] = search_count(data)
        await client.command("LOGOUT", check=False)
    finally:
        await client.close()
    for name in ("SELECT INBOX", "UID FETCH 1:* (FLAGS)", "FETCH 1:* (ENVELOPE)"):
        if counts[name] != messages:
            raise SystemExit(f"port {port}: {name} answered for {counts[name]} messages, not {messages}")
    return times, counts


def show(label: str, r: int, times: dict[str, float], memory: str) -> None:
    print(f"  {label:<10} round {r + 1}: {memory}", flush=True)
    for name, t in times.items():
        print(f"      {name:<46} {t:8.3f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dir", default=None, help="where our data directory goes (default: a scratch-fs mount)")
    args = parser.parse_args()
    _imap.exit_on_sigterm()
    t0 = time.perf_counter()
    mails = _imap.corpus(args.messages)
    sizes = [len(m.raw) for m in mails]
    print(f"IMAP mailbox: {args.messages} messages in one INBOX ({statistics.mean(sizes) / 1000:.1f} KB on "
          f"average, {sum(sizes) / 1e6:.0f} MB), one client, {os.cpu_count()} cores", flush=True)
    print(f"  made the messages in {time.perf_counter() - t0:.0f} s", flush=True)
    scratch = _imap.Scratch("po-imap-mailbox-", args.dir)
    dovecot = Dovecot(scratch.root) if _imap.have_dovecot() else None
    ours = None
    try:
        data = scratch.root / "data"
        t0 = time.perf_counter()
        asyncio.run(_imap.fill_ours(data, 1, mails, progress=True))
        print(f"  filled our INBOX through the store API in {time.perf_counter() - t0:.0f} s", flush=True)
        if dovecot is not None:
            dovecot.up()
            t0 = time.perf_counter()
            dovecot.fill("user1", mails)
            print(f"  filled Dovecot's Maildir in {time.perf_counter() - t0:.0f} s", flush=True)
        ours = _imap.start_ours(scratch.root, data)
        idle_rss = rss(ours.pid)[0]
        print(f"  our server started: RSS {mib(idle_rss)}", flush=True)
        results: dict[str, list[tuple[dict[str, float], dict[str, int]]]] = {"dovecot": [], "postoffice": []}
        for r in range(args.rounds):
            if dovecot is not None:
                out = asyncio.run(one_round(dovecot.port, "user1", args.messages))
                results["dovecot"].append(out)
                show("dovecot", r, out[0], f"RSS {mib(dovecot.rss_kib())} (all processes)")
            out = asyncio.run(one_round(ours.port, _imap.our_user(1), args.messages))
            results["postoffice"].append(out)
            now, peak = rss(ours.pid)
            show("postoffice", r, out[0], f"RSS {mib(now)}, peak {mib(peak)}")
        print("  best round each:")
        names = ["LOGIN", *COMMANDS]
        header = f"    {'':<46} {'postoffice':>10}"
        if dovecot is not None:
            header += f" {'dovecot':>10} {'ratio':>7}"
        print(header)
        for name in names:
            best_ours = min(t[name] for t, _ in results["postoffice"])
            line = f"    {name:<46} {best_ours:9.3f}s"
            if dovecot is not None:
                best_theirs = min(t[name] for t, _ in results["dovecot"])
                line += f" {best_theirs:9.3f}s {best_ours / best_theirs:7.1f}"
            print(line)
        ours_counts = results["postoffice"][-1][1]
        if dovecot is not None:
            theirs_counts = results["dovecot"][-1][1]
            for name in COMMANDS:
                if "SEARCH" in name and ours_counts[name] != theirs_counts[name]:
                    print(f"    note: {name} found {ours_counts[name]} here, {theirs_counts[name]} at Dovecot")
        print("  search hits: " + ", ".join(f"{name.split(' ', 2)[2]} {ours_counts[name]}"
                                            for name in COMMANDS if "SEARCH" in name))
        target = min(t["SELECT INBOX"] + t["UID FETCH 1:* (FLAGS)"] for t, _ in results["postoffice"])
        print(f"  SELECT + UID FETCH 1:* (FLAGS): {target:.3f} s (target: under 1 s, "
              f"{'met' if target < 1 else 'missed'})")
        now, peak = rss(ours.pid)
        print(f"  our server RSS: {mib(idle_rss)} after start, {mib(now)} at the end, peak {mib(peak)}")
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
