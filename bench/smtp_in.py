"""Messages per second accepted and delivered into the INBOX over SMTP, against Postfix in the same run.

    ./dev bench smtp_in [--messages N] [--size BYTES] [--rounds R] [--dir DIR]

Load: Postfix's `smtp-source` through ../shared/peers/smtp-load.sh (4 KB messages, one connection
per message, 20 parallel sessions and then 1), or a small Python load generator when smtp-source
is missing. "accepted" is until the last 250; "end-to-end" until the last message is in its
mailbox (our INBOX; Postfix's Maildir). Both servers keep their durability: our 250 follows the
queue commit (fsync), Postfix fsyncs its queue file. Runs alternate peer, us, peer, us, since
the machine is shared and noisy; only the ratio within one run means much.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEERS = REPO.parent / "shared" / "peers"
POSTOFFICE = str(Path(sys.executable).with_name("postoffice"))
COUNT = """import sqlite3,sys
db=sqlite3.connect(sys.argv[1],timeout=30)
print(db.execute("select count(*) from messages m join mailboxes b on b.id=m.mailbox where b.name='INBOX'").fetchone()[0])"""


def provision(data: Path) -> None:
    env = {**os.environ, "POSTOFFICE_DATA": str(data)}
    subprocess.run([POSTOFFICE, "domain", "add", "bench.test"], env=env, check=True)
    subprocess.run([POSTOFFICE, "user", "add", "u1@bench.test", "--password-stdin"], input="pw\n", text=True,
                   env=env, check=True)


def start_ours(root: Path) -> tuple[subprocess.Popen[bytes], int]:
    data = root / "data"
    provision(data)
    config = root / "bench.toml"
    config.write_text('hostname = "mail.bench.test"\nlog_level = "warning"\n[listen]\nsmtp = "127.0.0.1:0"\n'
                      'submission = ""\nsubmissions = ""\npop3 = ""\npop3s = ""\nimap = ""\nimaps = ""\nhttp = ""\n'
                      '[smtp]\nmax_connections_per_ip = 200\n')
    proc = subprocess.Popen([POSTOFFICE, "serve", "--config", str(config), "--data-dir", str(data)])
    listeners = data / "run" / "listeners.json"
    for _ in range(300):
        if listeners.exists():
            port = int(re.search(r'"smtp": "127\.0\.0\.1:(\d+)"', listeners.read_text())[1])
            return proc, port
        time.sleep(0.05)
    raise SystemExit("our server did not start")


async def python_load(port: int, sessions: int, messages: int, size: int) -> None:
    body = b"From: sender@other.test\r\nTo: u1@bench.test\r\nSubject: load\r\n\r\n" + (b"x" * 78 + b"\r\n") * (size // 80)
    todo = iter(range(messages))

    async def session() -> None:
        for _ in todo:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"EHLO load.test\r\nMAIL FROM:<sender@other.test>\r\nRCPT TO:<u1@bench.test>\r\nDATA\r\n")
            await writer.drain()
            for _ in range(4):
                while (await reader.readline())[3:4] == b"-":
                    pass
            await reader.readline()  # 354
            writer.write(body + b".\r\nQUIT\r\n")
            await writer.drain()
            assert (await reader.readline()).startswith(b"250")
            writer.close()

    await asyncio.gather(*(session() for _ in range(sessions)))


def load(port: int, sessions: int, messages: int, size: int, *, glob: str = "", count_cmd: str = "") -> str:
    if shutil.which("smtp-source") or Path("/usr/sbin/smtp-source").exists():
        env = {**os.environ, "SMTP_TO": "u1@bench.test"}
        if count_cmd:
            env["COUNT_CMD"] = count_cmd
        args = ["bash", str(PEERS / "smtp-load.sh"), "127.0.0.1", str(port), str(sessions), str(messages), str(size)]
        if glob:
            args.append(glob)
        return subprocess.run(args, env=env, capture_output=True, text=True).stdout.strip()
    before = int(subprocess.run(["bash", "-c", count_cmd], capture_output=True, text=True).stdout or 0) if count_cmd else 0
    t0 = time.perf_counter()
    asyncio.run(python_load(port, sessions, messages, size))
    accepted = time.perf_counter() - t0
    out = f"python load: {messages} msgs in {accepted:.2f} s = {messages / accepted:.0f} msg/s accepted"
    if count_cmd:
        while int(subprocess.run(["bash", "-c", count_cmd], capture_output=True, text=True).stdout) - before < messages:
            time.sleep(0.1)
        total = time.perf_counter() - t0
        out += f"\ndelivered: {messages} in {total:.2f} s = {messages / total:.0f} msg/s end-to-end"
    return out


def rates(output: str) -> tuple[str, str]:
    accepted = re.search(r"= (\d+) msg/s accepted", output)
    delivered = re.search(r"= (\d+) msg/s end-to-end", output)
    return (accepted[1] if accepted else "?", delivered[1] if delivered else "?")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--dir", default=None, help="where our data directory goes (default: a scratch-fs mount)")
    args = parser.parse_args()
    have_postfix = Path("/usr/sbin/postfix").exists() and (PEERS / "postfix-up.sh").exists()
    # Both servers on fresh journaled ext4 mounts: the root filesystem here has no journal and slows
    # file-creating workloads run after run (../shared/peers/README.md).
    scratch = [] if args.dir or os.geteuid() != 0 else [Path("/tmp/po-bench-scratch")]
    if scratch and have_postfix:
        scratch.append(Path("/tmp/peer-postfix"))
    for mount in scratch:
        subprocess.run(["bash", str(PEERS / "scratch-fs.sh"), str(mount), "4G"], capture_output=True, check=True)
    root = Path(tempfile.mkdtemp(prefix="po-smtp-bench-", dir=args.dir or (scratch[0] if scratch else None)))
    proc, port = start_ours(root)
    (root / "count.py").write_text(COUNT)
    count_cmd = f"{sys.executable} {root / 'count.py'} {root / 'data' / 'store.sqlite3'}"
    if have_postfix:
        subprocess.run(["bash", str(PEERS / "postfix-up.sh")], capture_output=True, check=True)
    print(f"SMTP in: {args.messages} messages of {args.size} bytes per run, {os.cpu_count()} cores")
    try:
        for sessions in (20, 1):
            for r in range(args.rounds):
                if have_postfix:
                    out = load(10025, sessions, args.messages, args.size,
                               glob="/tmp/peer-postfix/mail/bench.test/*")
                    a, d = rates(out)
                    print(f"  postfix     {sessions:>2} session(s) round {r + 1}: {a:>5} msg/s accepted, {d:>5} msg/s end-to-end")
                out = load(port, sessions, args.messages, args.size, count_cmd=count_cmd)
                a, d = rates(out)
                print(f"  postoffice  {sessions:>2} session(s) round {r + 1}: {a:>5} msg/s accepted, {d:>5} msg/s end-to-end")
        if not have_postfix:
            print("  (postfix is not installed: no peer figures; apt-get install postfix)")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        if have_postfix:
            subprocess.run(["bash", str(PEERS / "postfix-down.sh")], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        for mount in scratch:
            subprocess.run(["bash", str(PEERS / "scratch-fs.sh"), "-u", str(mount)], capture_output=True)


if __name__ == "__main__":
    main()
