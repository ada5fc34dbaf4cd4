"""`mail fetch --pop3`: the INBOX downloaded over POP3 into a local Maildir or mbox.

POP3 (RFC 1939) with STLS (RFC 2595) or implicit TLS, through poplib. Order, per message, so that
no message is ever lost and a run can stop at any point:
1. RETR, then write it locally and make it durable: Maildir through `mailbox.Maildir` (tmp/, then
   new/, the file fsynced by `mailbox` and the new/ directory fsynced here); mbox appended under
   the mailbox lock and fsynced (`mailbox.mbox.flush`);
2. record its UIDL (RFC 1939 §7) in this destination's download record, appended and fsynced;
3. only then, unless --keep, DELE it. The server deletes at QUIT only (RFC 1939 §6), so a broken
   connection deletes nothing.
A later run skips every UIDL already recorded, so an interrupted download resumes where it stopped,
and --keep runs fetch only what is new. Messages recorded by an earlier --keep run are deleted by a
run without --keep, since they are safe here. The record forgets UIDLs the server no longer has.

Local files use LF line endings, as Unix mail tools (mutt, Dovecot's Maildir) expect; message
bytes are otherwise unchanged, except that an mbox escapes body lines starting with "From " (mboxo).
A server without UIDL still works, without resume. A rich progress bar shows on a terminal.
"""

from __future__ import annotations

import hashlib
import mailbox
import os
import poplib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, TextIO

from postoffice.mua.connect import Endpoint, MuaError, TIMEOUT_S, explained, parse_endpoint, server_reply, tls_context
from postoffice.mua.profiles import Account, sync_directory

MAX_LINE = 1 << 20  # poplib's own limit (2048) refuses real-world messages with long lines


class _LongLines:
    file: BinaryIO  # poplib.POP3's, which this mixes into

    def _getline(self) -> tuple[bytes, int]:
        line = self.file.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise poplib.error_proto("line too long")
        if not line:
            raise poplib.error_proto("-ERR EOF")
        octets = len(line)
        if line[-2:] == b"\r\n":
            return line[:-2], octets
        if line[:1] == b"\r":
            return line[1:-1], octets
        return line[:-1], octets


class POP3(_LongLines, poplib.POP3):
    pass


class POP3_SSL(_LongLines, poplib.POP3_SSL):
    pass


class Progress(Protocol):
    """What a download tells as it goes (render.DownloadProgress shows it)."""

    def start(self, count: int, total_bytes: int) -> None: ...
    def advance(self, size: int) -> None: ...


class Destination(Protocol):
    path: Path

    def add(self, message: bytes, sender: str) -> None: ...
    def close(self) -> None: ...


class MaildirDestination:
    """A Maildir (tmp/, new/, cur/) that mutt, Dovecot and `mailbox.Maildir` read as is."""

    def __init__(self, path: Path) -> None:
        self.path = path
        subdirs = [path / sub for sub in ("tmp", "new", "cur")]
        try:
            if path.is_dir() and any(path.iterdir()) and not all(d.is_dir() for d in subdirs):
                raise MuaError(f"{path} exists and is not a Maildir (it has no tmp/, new/ and cur/)")
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            for d in subdirs:
                d.mkdir(exist_ok=True, mode=0o700)
            self.box = mailbox.Maildir(path, create=False)
        except OSError as e:
            raise MuaError(f"cannot make the Maildir {path}: {e.strerror}") from None

    def add(self, message: bytes, sender: str) -> None:
        self.box.add(message)  # tmp/ then new/, the file fsynced before the link
        sync_directory(self.path / "new")

    def close(self) -> None:
        self.box.close()


class MboxDestination:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                # Mail is private: made 0600, as a mail spool is, not with the umask's 0644.
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
                sync_directory(path.parent)
            self.box = mailbox.mbox(path, create=True)
            self.box.lock()
        except (OSError, mailbox.ExternalClashError) as e:
            raise MuaError(f"cannot open the mbox {path}: {e}") from None

    def add(self, message: bytes, sender: str) -> None:
        # The "From " line: the envelope sender and the time, as mail delivery agents write it.
        stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
        self.box.add(f"From {sender or 'MAILER-DAEMON'} {stamp}\n".encode() + message)
        self.box.flush()  # appends and fsyncs

    def close(self) -> None:
        self.box.unlock()
        self.box.close()


class UidlRecord:
    """The UIDLs already downloaded into one destination: one per line, appended and fsynced."""

    def __init__(self, directory: Path, account: Account, endpoint: Endpoint, destination: Path) -> None:
        key = "\0".join([account.name, account.user, endpoint.host, str(endpoint.port), str(destination.resolve())])
        self.path = directory / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".uidl")
        self.header = f"# {account.user} at {endpoint.host}:{endpoint.port} into {destination.resolve()}"
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            lines = []
        self.uidls = {line for line in lines if line and not line.startswith("#")}
        self._file: TextIO | None = None

    def add(self, uidl: str) -> None:
        if self._file is None:
            new = not self.path.exists()
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self._file = open(self.path, "a", encoding="utf-8")
            if new:
                self._file.write(self.header + "\n")
                sync_directory(self.path.parent)
        self._file.write(uidl + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.uidls.add(uidl)

    def keep_only(self, present: set[str]) -> None:
        """Forget UIDLs the server no longer has (deleted): the record stays as small as the mailbox."""
        self.close()
        if not self.path.exists() or self.uidls <= present:
            return
        from postoffice.mua.profiles import write_atomically

        self.uidls &= present
        write_atomically(self.path, ("\n".join([self.header, *sorted(self.uidls)]) + "\n").encode(), mode=0o600)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@dataclass(slots=True)
class FetchResult:
    fetched: int = 0
    skipped: int = 0      # already here, from an earlier run
    deleted: int = 0
    resumable: bool = True


def fetch(account: Account, password: str, destination: Destination, uidl_directory: Path, *, keep: bool,
          insecure: bool, progress: Progress | None = None) -> FetchResult:
    endpoint = parse_endpoint(account.pop3, "pop3", account.tls)
    ctx = tls_context(insecure=insecure or account.insecure)
    result = FetchResult()
    with explained(endpoint):
        if account.tls == "implicit":
            pop: poplib.POP3 = POP3_SSL(endpoint.host, endpoint.port, context=ctx, timeout=TIMEOUT_S)
        else:
            pop = POP3(endpoint.host, endpoint.port, timeout=TIMEOUT_S)
        try:
            if account.tls == "starttls":
                if "STLS" not in _capabilities(pop):
                    raise MuaError(f"the {endpoint} offers no STLS; use --tls implicit or --tls none")
                pop.stls(context=ctx)
            try:
                pop.user(account.user)
                pop.pass_(password)
            except poplib.error_proto as e:
                raise MuaError(f"the {endpoint} refused the login for {account.user}: {server_reply(e)}") from None
            record, remaining = _download(pop, endpoint, account, destination, uidl_directory, keep=keep,
                                          result=result, progress=progress)
            try:
                pop.quit()  # RFC 1939 §6: the UPDATE state, where DELE takes effect
            finally:
                record.close()
            if result.resumable:
                record.keep_only(remaining)  # only once the deletions are done
        except BaseException:
            pop.close()  # no QUIT: the server deletes nothing
            raise
    return result


def _capabilities(pop: poplib.POP3) -> dict[str, list[str]]:
    try:
        return pop.capa()
    except poplib.error_proto:
        return {}


def _download(pop: poplib.POP3, endpoint: Endpoint, account: Account, destination: Destination,
              uidl_directory: Path, *, keep: bool, result: FetchResult,
              progress: Progress | None) -> tuple[UidlRecord, set[str]]:
    """Download what is new, DELE what is safe here; returns the record and the UIDLs left on the server."""
    _, listing, _ = pop.list()
    sizes = {int(n): int(s) for n, s in (line.split()[:2] for line in listing)}
    try:
        _, uidl_lines, _ = pop.uidl()
        uidls = {int(n): u.decode("ascii", "replace") for n, u in (line.split(maxsplit=1) for line in uidl_lines)}
    except poplib.error_proto:
        uidls, result.resumable = {}, False
    record = UidlRecord(uidl_directory, account, endpoint, destination.path)
    try:
        todo = [n for n in sorted(sizes) if uidls.get(n) is None or uidls[n] not in record.uidls]
        done_before = [n for n in sorted(sizes) if n not in todo]
        result.skipped = len(done_before)
        if progress is not None:
            progress.start(len(todo), sum(sizes[n] for n in todo))
        for n in todo:
            _, lines, _ = pop.retr(n)
            try:
                destination.add(b"\n".join(lines) + b"\n", _return_path(lines))
                if n in uidls:
                    record.add(uidls[n])
            except OSError as e:  # our disk, not the server: say so (explained() would blame the server)
                raise MuaError(f"cannot write into {destination.path}: {e.strerror or e}; nothing was deleted "
                               f"from the server") from None
            result.fetched += 1
            if not keep:
                pop.dele(n)  # the local copy is durable and recorded: now it may go
                result.deleted += 1
            if progress is not None:
                progress.advance(sizes[n])
        if not keep:
            for n in done_before:
                pop.dele(n)
                result.deleted += 1
    except BaseException:
        record.close()
        raise
    return record, (set(uidls.values()) if keep else set())


def _return_path(lines: list[bytes]) -> str:
    for line in lines:
        if not line:
            break
        if line[:12].lower() == b"return-path:":
            value = line[12:].strip().strip(b"<>").decode("utf-8", "replace")
            return value or "MAILER-DAEMON"
    return "MAILER-DAEMON"
