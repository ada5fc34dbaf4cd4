"""RETR of 1,000 messages of 20 KB by one client: messages/s and MB/s, against Dovecot's POP3 in the same run.

    ./dev bench pop3_retr [--messages N] [--size BYTES] [--rounds R] [--dir DIR]

Our INBOX is filled through the store API before the server starts (no SMTP); Dovecot's (user1, via
../shared/peers/dovecot-up.sh) gets the same messages written as Maildir files into new/. The client
is Python's poplib, one connection: USER/PASS, STAT, then RETR 1..N in order without pipelining;
only the RETR loop is timed. MB is 10**6 octets of message data received. Runs alternate peer, us,
peer, us, since the machine is shared and noisy; only the ratio within one run means much.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import poplib
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from postoffice.auth.passwords import make_credentials
from postoffice.store.sqlite.store import SqliteStore

REPO = Path(__file__).resolve().parent.parent
PEERS = REPO.parent / "shared" / "peers"
POSTOFFICE = str(Path(sys.executable).with_name("postoffice"))
DOVECOT_DIR = Path(os.environ.get("PEER_DOVECOT_DIR", "/tmp/peer-dovecot"))
DOVECOT_PORT = int(os.environ.get("PEER_POP3_PORT", "10110"))


def message(i: int, size: int) -> bytes:
    """Message `i`, exactly `size` octets (if size allows), CRLF line ends, lines well under 998 octets."""
    head = (f"From: sender{i % 97}@remote.test\r\nTo: u1@bench.test\r\nSubject: pop3 benchmark message {i}\r\n"
            f"Message-ID: <{i}.pop3-bench@remote.test>\r\nDate: Sat, 28 Nov 2026 12:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n").encode()
    line = f"message {i:>6}: The quick brown fox jumps over the lazy dog, again and again.\r\n".encode()
    body_len = max(size - len(head) - 2, 0)
    body = (line * (body_len // len(line) + 1))[:body_len]
    return head + body + b"\r\n"


async def fill_ours(data: Path, contents: list[bytes]) -> None:
    store = SqliteStore(data)
    try:
        await store.directory.add_domain("bench.test")
        account = await store.directory.add_account("u1@bench.test", make_credentials("pass"))
        inbox = await store.mailboxes.find(account.id, "INBOX")
        assert inbox is not None

        async def one(raw: bytes) -> None:
            blob = await store.blobs.put(raw)
            await store.mailboxes.append(inbox.id, blob, frozenset(), datetime.now(UTC))

        for start in range(0, len(contents), 100):
            await asyncio.gather(*(one(raw) for raw in contents[start:start + 100]))
    finally:
        await store.aclose()


def start_ours(root: Path, contents: list[bytes]) -> tuple[subprocess.Popen[bytes], int]:
    data = root / "data"
    asyncio.run(fill_ours(data, contents))
    config = root / "bench.toml"
    config.write_text('hostname = "mail.bench.test"\nlog_level = "warning"\n[listen]\nsmtp = ""\n'
                      'submission = ""\nsubmissions = ""\npop3 = "127.0.0.1:0"\npop3s = ""\nimap = ""\nimaps = ""\n'
                      'http = ""\n')
    proc = subprocess.Popen([POSTOFFICE, "serve", "--config", str(config), "--data-dir", str(data)])
    listeners = data / "run" / "listeners.json"
    for _ in range(300):
        if listeners.exists():
            found = re.search(r'"pop3": "127\.0\.0\.1:(\d+)"', listeners.read_text())
            if found:
                return proc, int(found[1])
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise SystemExit("our server did not start")


def fill_dovecot(contents: list[bytes]) -> None:
    """user1's Maildir (home DIR/mail/%u, mail_location maildir:~/Maildir), owned as dovecot-up.sh sets it up."""
    if os.getuid() == 0:
        nobody = pwd.getpwnam("nobody")
        uid, gid = nobody.pw_uid, nobody.pw_gid
    else:
        uid, gid = os.getuid(), os.getgid()
    home = DOVECOT_DIR / "mail" / "user1"
    maildir = home / "Maildir"
    for d in (home, maildir, maildir / "cur", maildir / "new", maildir / "tmp"):
        d.mkdir(exist_ok=True)
        os.chown(d, uid, gid)
    now = int(time.time())
    for i, raw in enumerate(contents):
        # S= and W= (size with CRLF: the same here) spare Dovecot a stat and a read for sizes
        path = maildir / "new" / f"{now}.M{i}P{os.getpid()}.bench,S={len(raw)},W={len(raw)}"
        path.write_bytes(raw)
        os.chown(path, uid, gid)


def retr_all(port: int, user: str, expected: set[bytes], messages: int) -> tuple[float, int]:
    """Seconds for RETR 1..N over one connection, and octets of message data received."""
    client = poplib.POP3("127.0.0.1", port, timeout=60)
    try:
        client.user(user)
        client.pass_("pass")
        count, _ = client.stat()
        if count != messages:
            raise SystemExit(f"{user} on port {port}: STAT says {count} messages, expected {messages}")
        received = []
        octets = 0
        retr = client.retr
        start = time.perf_counter()
        for n in range(1, messages + 1):
            _, lines, size = retr(n)
            octets += size
            received.append(lines)
        elapsed = time.perf_counter() - start
        client.quit()
    finally:
        client.close()
    got = {b"\r\n".join(lines) + b"\r\n" for lines in received}
    if got != expected:
        raise SystemExit(f"{user} on port {port}: {len(expected - got)} of {messages} messages came back different")
    return elapsed, octets


def report(name: str, r: int, messages: int, elapsed: float, octets: int) -> float:
    rate = messages / elapsed
    print(f"  {name:<11} round {r + 1}: {messages} RETR in {elapsed:.2f} s = {rate:.0f} msg/s, "
          f"{octets / elapsed / 1e6:.1f} MB/s", flush=True)
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--size", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dir", default=None, help="where our data directory goes (a scratch-fs mount is best)")
    args = parser.parse_args()
    contents = [message(i, args.size) for i in range(args.messages)]
    expected = set(contents)
    have_dovecot = Path("/usr/sbin/dovecot").exists() and (PEERS / "dovecot-up.sh").exists()
    root = Path(tempfile.mkdtemp(prefix="po-pop3-bench-", dir=args.dir))
    proc: subprocess.Popen[bytes] | None = None
    dovecot_started = False
    print(f"POP3 RETR: {args.messages} messages of {len(contents[0]) if contents else 0} bytes, one client, "
          f"{os.cpu_count()} cores", flush=True)
    try:
        proc, port = start_ours(root, contents)
        if have_dovecot:
            dovecot_started = True
            # not a pipe: the Dovecot daemon inherits the script's stdout and would hold the pipe open
            with open(root / "dovecot-up.log", "w+") as log:
                if subprocess.run(["bash", str(PEERS / "dovecot-up.sh")], stdout=log, stderr=log).returncode:
                    log.seek(0)
                    raise SystemExit(f"dovecot-up.sh failed:\n{log.read()}")
            fill_dovecot(contents)
        ours: list[float] = []
        theirs: list[float] = []
        for r in range(args.rounds):
            if have_dovecot:
                theirs.append(report("dovecot", r, args.messages, *retr_all(DOVECOT_PORT, "user1", expected,
                                                                            args.messages)))
            ours.append(report("postoffice", r, args.messages, *retr_all(port, "u1@bench.test", expected,
                                                                        args.messages)))
        if have_dovecot:
            best_ours, best_theirs = max(ours), max(theirs)
            print(f"  postoffice / dovecot: {best_ours / best_theirs:.2f} (best round each: {best_ours:.0f} vs "
                  f"{best_theirs:.0f} msg/s)")
        else:
            print("  (dovecot is not installed: no peer figures; apt-get install dovecot-pop3d dovecot-imapd)")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if dovecot_started:
            subprocess.run(["bash", str(PEERS / "dovecot-down.sh")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
