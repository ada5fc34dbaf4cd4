"""What the IMAP benchmarks share: realistic messages, our server filled through the store API and
started on port 0, Dovecot from ../shared/peers on its own scratch mount, process RSS, and a small
asyncio IMAP client that reads large responses without parsing every line.

Not a benchmark itself (`./dev bench imap_mailbox`, `imap_load` and `imap_idle` use it).
"""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

from argon2 import PasswordHasher

from postoffice.auth.passwords import make_credentials
from postoffice.store.sqlite.store import SqliteStore

REPO = Path(__file__).resolve().parent.parent
PEERS = REPO.parent / "shared" / "peers"
POSTOFFICE = str(Path(sys.executable).with_name("postoffice"))
DOMAIN = "bench.test"
PASSWORD = "pass"
# For benchmarks where logging in is not what is measured: the server verifies whatever hash it
# finds, so accounts made with this one cost microseconds per LOGIN instead of Argon2's ~0.2 s.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

# Dovecot in a directory and on ports of its own, so that another benchmark's peer (the defaults
# /tmp/peer-dovecot, 10143, 10110) is left alone.
DOVECOT_DIR = Path(os.environ.get("PEER_DOVECOT_DIR", "/tmp/po-imap-bench-dovecot"))
DOVECOT_PORT = int(os.environ.get("PEER_IMAP_PORT", "10243"))
DOVECOT_POP3_PORT = int(os.environ.get("PEER_POP3_PORT", "10210"))
OUR_SCRATCH = Path("/tmp/po-imap-bench")


def exit_on_sigterm() -> None:
    """A SIGTERM (a stopped job) unwinds like Ctrl-C: servers stopped, mounts removed."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))


def have_dovecot() -> bool:
    return Path("/usr/sbin/dovecot").exists() and (PEERS / "dovecot-up.sh").exists()


def is_root() -> bool:
    return os.geteuid() == 0


# --- messages --------------------------------------------------------------------------------------

FIRST = ("Alice Anna Ben Carla David Elena Frank Greta Hugo Ines Jonas Karin Lars Maria Nils Olga Paul Rita "
         "Sven Tara Ugo Vera Walter Xenia Yusuf Zoe Amir Bea Chen Dora Emil Fatima Gus Hana Ivo Jana").split()
LAST = ("Smith Novak Garcia Muller Rossi Dubois Jensen Kowalski Silva Tanaka Okafor Larsen Petrov Costa "
        "Nguyen Schmidt Moreau Berg Haddad Ivanova Lindqvist Murphy Ortega Quinn").split()
DOMAINS = "example.com example.org mail.test corp.example shop.example lists.example uni.example".split()
TOPICS = ("project status", "meeting notes", "invoice", "travel plans", "quarterly budget review", "release",
          "lunch on friday", "server migration", "holiday schedule", "contract draft", "newsletter",
          "design review", "support ticket", "conference call", "hiring update", "weekly report")
WORDS = ("the of and to in is that for it with as was on be at by this had not are but from or have an they "
         "which one you were her all she there would their we him been has when who will more no if out so "
         "said what up its about into than them can only other new some could time these two may then do "
         "first any my now such like our over man me even most made after also did many before must through "
         "back years where much your way well down should because each just those people how too little state "
         "good very make world still own see men work long get here between both life being under never day "
         "same another know while last might us great old year off come since against go came right used take "
         "three schedule budget server meeting draft review invoice customer release branch deploy report "
         "numbers figures quarter planning office travel hotel flight agenda minutes action items follow "
         "update decision proposal estimate timeline milestone risk issue ticket backlog sprint").split()
# Searched for by the benchmarks: a rare word in about one body in a thousand.
RARE_WORD = "kumquat"


@dataclass(frozen=True, slots=True)
class Mail:
    raw: bytes
    flags: frozenset[str]
    when: datetime


def person(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    return f"{first} {last}", f"{first.lower()}.{last.lower()}@{rng.choice(DOMAINS)}"


def paragraph(rng: random.Random, words: int) -> str:
    chosen = rng.choices(WORDS, k=words)
    chosen[0] = chosen[0].capitalize()
    return "\r\n".join(" ".join(chosen[j:j + 11]) for j in range(0, words, 11)) + "."


def mail(i: int, rng: random.Random, to: str, start: datetime) -> Mail:
    """Message `i`: 1-6 KB, its own sender, subject, date and body; a fifth are multipart/alternative."""
    name, address = person(rng)
    when = start + timedelta(minutes=7 * i + rng.randrange(7))
    subject = f"{'Re: ' if rng.random() < 0.3 else ''}{rng.choice(TOPICS)} {rng.randrange(1, 10000)}"
    body = "\r\n\r\n".join(paragraph(rng, rng.randrange(30, 160)) for _ in range(rng.randrange(2, 7)))
    if i % 1000 == 500:
        body += f"\r\n\r\nP.S. the {RARE_WORD} jam is in the fridge."
    body += f"\r\n\r\n-- \r\n{name}\r\n"
    head = (f"Return-Path: <{address}>\r\nFrom: {name} <{address}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: {format_datetime(when)}\r\nMessage-ID: <{i}.{rng.randrange(10**9)}@{address.split('@')[1]}>\r\n")
    if subject.startswith("Re: "):
        head += f"In-Reply-To: <{max(i - rng.randrange(1, 50), 0)}.thread@{DOMAINS[i % len(DOMAINS)]}>\r\n"
    head += "MIME-Version: 1.0\r\n"
    if i % 5 == 0:
        boundary = f"=_part_{i}_{rng.randrange(10**6)}"
        html = "".join(f"<p>{p}</p>" for p in body.split("\r\n\r\n"))
        text = (f"{head}Content-Type: multipart/alternative; boundary=\"{boundary}\"\r\n\r\n"
                f"--{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{body}\r\n"
                f"--{boundary}\r\nContent-Type: text/html; charset=us-ascii\r\n\r\n{html}\r\n--{boundary}--\r\n")
    else:
        text = f"{head}Content-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{body}"
    roll = rng.random()
    flags = {"\\Seen"} if roll < 0.7 else set()
    if roll < 0.03:
        flags.add("\\Flagged")
    if 0.03 <= roll < 0.05:
        flags.add("\\Answered")
    return Mail(text.encode(), frozenset(flags), when)


def corpus(count: int, *, to: str = f"u1@{DOMAIN}", seed: int = 5) -> list[Mail]:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, 8, 0, tzinfo=UTC)
    return [mail(i, rng, to, start) for i in range(count)]


# --- our server ------------------------------------------------------------------------------------

def our_user(n: int) -> str:
    return f"u{n}@{DOMAIN}"


async def fill_ours(data: Path, users: int, mails: list[Mail], *, cheap_hash: bool = False,
                    progress: bool = False) -> None:
    """Accounts u1..uN@bench.test (password "pass"), each INBOX holding `mails`; through the store
    API, as the MDA does: blob first (one per content, shared by every user), then the message row."""
    store = SqliteStore(data)
    try:
        await store.directory.add_domain(DOMAIN)
        hasher = {"hasher": CHEAP_HASHER} if cheap_hash else {}
        credentials = await asyncio.to_thread(make_credentials, PASSWORD, **hasher)
        accounts = await asyncio.gather(*(store.directory.add_account(our_user(n), credentials)
                                          for n in range(1, users + 1)))
        inboxes = [(await store.mailboxes.find(a.id, "INBOX")).id for a in accounts]
        blobs = []
        for start in range(0, len(mails), 500):
            blobs += await asyncio.gather(*(store.blobs.put(m.raw) for m in mails[start:start + 500]))
        done, total, t0 = 0, len(inboxes) * len(mails), time.perf_counter()
        for inbox in inboxes:
            for start in range(0, len(mails), 500):
                await asyncio.gather(*(store.mailboxes.append(inbox, blob, m.flags, m.when) for m, blob in
                                       zip(mails[start:start + 500], blobs[start:start + 500])))
                done += len(mails[start:start + 500])
                if progress and done % 20000 < 500:
                    print(f"    ... {done} of {total} appended ({time.perf_counter() - t0:.0f} s)", flush=True)
    finally:
        await store.aclose()


@dataclass
class Ours:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_ours(root: Path, data: Path, *, max_connections: int = 1000, max_connections_per_ip: int = 1000,
               smtp: bool = False, imap_extra: str = "") -> Ours:
    """`postoffice serve` with only IMAP (and SMTP on port 25's role when `smtp`), on 127.0.0.1
    port 0; the ports from data/run/listeners.json (`Ours.port` is IMAP's)."""
    config = root / "bench.toml"
    smtp_listen = "127.0.0.1:0" if smtp else ""
    config.write_text('hostname = "mail.bench.test"\nlog_level = "warning"\n'
                      f'[listen]\nsmtp = "{smtp_listen}"\nsubmission = ""\n'
                      'submissions = ""\npop3 = ""\npop3s = ""\nimap = "127.0.0.1:0"\nimaps = ""\nhttp = ""\n'
                      f'[imap]\nmax_connections = {max_connections}\nmax_connections_per_ip = {max_connections_per_ip}\n'
                      f'{imap_extra}[relay]\nsmarthost = "127.0.0.1:9"\n')
    listeners = data / "run" / "listeners.json"
    listeners.unlink(missing_ok=True)
    log_path = root / "server.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([POSTOFFICE, "serve", "--config", str(config), "--data-dir", str(data)],
                                stdout=log, stderr=subprocess.STDOUT)
    for _ in range(600):
        if listeners.exists():
            try:
                found = re.search(r":(\d+)$", json.loads(listeners.read_text())["imap"])
            except (ValueError, KeyError):
                found = None
            if found:
                return Ours(proc, int(found[1]), log_path)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise SystemExit(f"our server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")


# --- Dovecot ---------------------------------------------------------------------------------------

MAILDIR_LETTERS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S", "\\Deleted": "T"}


class Dovecot:
    """Dovecot from ../shared/peers/dovecot-up.sh (users user1..user100, password "pass"), with its
    directory on a fresh journaled ext4 mount when we are root (../shared/peers/README.md)."""

    port = DOVECOT_PORT

    def __init__(self, logs: Path, *, scratch_size: str = "8G") -> None:
        self.logs, self.scratch_size = logs, scratch_size
        self.mounted = self.started = False

    def env(self) -> dict[str, str]:
        return {**os.environ, "PEER_DOVECOT_DIR": str(DOVECOT_DIR), "PEER_IMAP_PORT": str(DOVECOT_PORT),
                "PEER_POP3_PORT": str(DOVECOT_POP3_PORT)}

    def up(self, extra_conf: str = "") -> None:
        if is_root():
            mount(DOVECOT_DIR, self.scratch_size)
            self.mounted = True
        env = self.env()
        if extra_conf:
            env["PEER_DOVECOT_EXTRA_CONF"] = extra_conf
        self.started = True
        # not a pipe: the Dovecot daemon inherits stdout and would hold the pipe open
        with open(self.logs / "dovecot-up.log", "w+") as log:
            if subprocess.run(["bash", str(PEERS / "dovecot-up.sh")], stdout=log, stderr=log, env=env).returncode:
                log.seek(0)
                raise SystemExit(f"dovecot-up.sh failed:\n{log.read()}")

    def down(self) -> None:
        if self.started:
            subprocess.run(["bash", str(PEERS / "dovecot-down.sh")], env=self.env(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            self.started = False
        if self.mounted:
            unmount(DOVECOT_DIR)
            self.mounted = False

    def master_pid(self) -> int | None:
        try:
            return int((DOVECOT_DIR / "run" / "master.pid").read_text())
        except (OSError, ValueError):
            return None

    def rss_kib(self) -> int:
        """VmRSS of the master and every process below it (login, auth, imap, ...), summed."""
        master = self.master_pid()
        return sum(rss(pid)[0] for pid in descendants(master)) if master else 0

    def fill(self, user: str, mails: list[Mail]) -> None:
        """Maildir files written straight into cur/ (as a delivery agent would, with the flags in the
        name and S=/W= sizes that spare Dovecot a stat), the file's mtime the received date."""
        uid, gid = (pwd.getpwnam("nobody").pw_uid, pwd.getpwnam("nobody").pw_gid) if is_root() else (
            os.getuid(), os.getgid())
        home = DOVECOT_DIR / "mail" / user
        maildir = home / "Maildir"
        for d in (home, maildir, maildir / "cur", maildir / "new", maildir / "tmp"):
            d.mkdir(exist_ok=True)
            os.chown(d, uid, gid)
        cur = maildir / "cur"
        pid = os.getpid()
        for i, m in enumerate(mails):
            stamp = int(m.when.timestamp())
            letters = "".join(sorted(MAILDIR_LETTERS[f] for f in m.flags if f in MAILDIR_LETTERS))
            path = cur / f"{stamp}.M{i}P{pid}.bench,S={len(m.raw)},W={len(m.raw)}:2,{letters}"
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, m.raw)
                os.fchown(fd, uid, gid)
            finally:
                os.close(fd)
            os.utime(path, (stamp, stamp))


def mount(path: Path, size: str) -> None:
    subprocess.run(["bash", str(PEERS / "scratch-fs.sh"), str(path), size], capture_output=True, check=True)


def unmount(path: Path) -> None:
    subprocess.run(["bash", str(PEERS / "scratch-fs.sh"), "-u", str(path)], capture_output=True)


class Scratch:
    """Our data directory's parent: a scratch-fs mount when we are root (like Dovecot's), else a
    temporary directory (or under --dir)."""

    def __init__(self, prefix: str, where: str | None, size: str = "8G") -> None:
        self.mounted = False
        if where is None and is_root():
            mount(OUR_SCRATCH, size)
            self.mounted = True
            where = str(OUR_SCRATCH)
        self.root = Path(tempfile.mkdtemp(prefix=prefix, dir=where))

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        if self.mounted:
            unmount(OUR_SCRATCH)


# --- processes -------------------------------------------------------------------------------------

def rss(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of `pid` in KiB; zeros when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0, 0
    values = dict(re.findall(r"^(VmRSS|VmHWM):\s+(\d+) kB", status, re.M))
    return int(values.get("VmRSS", 0)), int(values.get("VmHWM", 0))


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += children.get(pid, [])
    return out


def mib(kib: int) -> str:
    return f"{kib / 1024:.0f} MiB"


# --- the client ------------------------------------------------------------------------------------

class ImapError(Exception):
    pass


_COUNTED = re.compile(rb"^\* (\d+) (EXISTS|EXPUNGE)\r$", re.M)


class Client:
    """One IMAP connection. `command` returns the untagged data and the tagged line, reading the
    response in large chunks and looking only for the tagged line (tags are unlikely words)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buf = bytearray()
        self.n = 0
        self.exists = 0
        self.idle_tag = b""

    @classmethod
    async def connect(cls, port: int, host: str = "127.0.0.1", local: str | None = None) -> Client:
        reader, writer = await asyncio.open_connection(host, port, local_addr=(local, 0) if local else None,
                                                       limit=1 << 20)
        client = cls(reader, writer)
        await client._line()  # greeting
        return client

    async def _line(self) -> bytes:
        while (end := self.buf.find(b"\r\n")) < 0:
            await self._more()
        line = bytes(self.buf[:end])
        del self.buf[:end + 2]
        return line

    async def _more(self) -> None:
        data = await self.reader.read(1 << 18)
        if not data:
            raise ConnectionError("connection closed by the server")
        self.buf += data

    def send(self, line: str | bytes, literal: bytes | None = None) -> bytes:
        """Writes one command (a literal goes as LITERAL+, RFC 7888); returns its tag."""
        self.n += 1
        tag = b"zq%d" % self.n
        text = line.encode() if isinstance(line, str) else line
        if literal is None:
            self.writer.write(tag + b" " + text + b"\r\n")
        else:
            self.writer.write(b"%s %s {%d+}\r\n%s\r\n" % (tag, text, len(literal), literal))
        return tag

    async def response(self, tag: bytes) -> tuple[bytes, bytes]:
        marker = b"\r\n" + tag + b" "
        buf = self.buf
        scanned = 0
        while True:
            if buf.startswith(marker[2:]):
                at = -2
                break
            if (at := buf.find(marker, scanned)) >= 0:
                break
            scanned = max(len(buf) - len(marker), 0)
            await self._more()
        while (end := buf.find(b"\r\n", at + 2)) < 0:
            await self._more()
        data, tagged = bytes(buf[:at + 2]), bytes(buf[at + 2:end])
        del buf[:end + 2]
        # small responses only: a large FETCH is not scanned (that would be timed as the server's)
        for number, kind in _COUNTED.findall(data) if len(data) < 65536 else ():
            self.exists = int(number) if kind == b"EXISTS" else self.exists - 1
        return data, tagged

    async def command(self, line: str | bytes, literal: bytes | None = None, *, check: bool = True
                      ) -> tuple[bytes, bytes]:
        data, tagged = await self.response(self.send(line, literal))
        if check and not tagged.split(b" ", 2)[1:2] == [b"OK"]:
            raise ImapError(f"{line if isinstance(line, str) else line.decode()!r}: {tagged.decode(errors='replace')}")
        return data, tagged

    async def idle(self) -> None:
        """IDLE, up to the server's continuation; DONE's answer comes with tag `idle_tag`."""
        self.idle_tag = tag = self.send("IDLE")
        while not (line := await self._line()).startswith(b"+"):
            if line.startswith(tag):
                raise ImapError(f"IDLE: {line.decode(errors='replace')}")

    async def close(self) -> None:
        self.writer.close()
        try:
            await self.writer.wait_closed()
        except (ConnectionError, OSError):
            pass


def search_count(data: bytes) -> int:
    found = re.search(rb"^\* SEARCH([ 0-9]*)\r$", data, re.M)
    return len(found[1].split()) if found else -1
