"""`mail fetch --pop3`: the INBOX into a Maildir or an mbox, with and without --keep, resumable."""

from __future__ import annotations

import errno
import mailbox
import stat
from pathlib import Path

from postoffice.mua import pop3
from tests.conftest import inbox
from tests.mua.conftest import deliver


def local_form(message: bytes) -> bytes:
    """A message as a Unix mail store keeps it: LF line endings."""
    return message.replace(b"\r\n", b"\n")


def maildir_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "new").iterdir())


def check_maildir_layout(root: Path) -> None:
    # The layout mutt, Dovecot and `mailbox.Maildir` expect: tmp/, new/ and cur/, nothing left in
    # tmp/, one file per message in new/ (not yet seen by a mail reader).
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == ["cur", "new", "tmp"]
    assert list((root / "tmp").iterdir()) == []
    names = [p.name for p in maildir_files(root)]
    assert len(set(names)) == len(names) and all(not n.startswith(".") for n in names)


def test_fetch_into_a_maildir_deletes_from_the_server(people, mail_server, tmp_path):
    carol = people["carol"]
    for i in range(4):
        deliver(mail_server, carol.address, f"maildir {i}", body=f"Message number {i}.\r\n")
    on_server = inbox(mail_server.data_dir, carol.address, expect=4)
    root = tmp_path / "Mail" / "carol"
    out = carol.ok("mail", "fetch", "--pop3", "--to-maildir", str(root)).out
    assert "fetched 4 new message(s)" in out and "deleted 4 from the server" in out
    check_maildir_layout(root)
    assert sorted(p.read_bytes() for p in maildir_files(root)) == sorted(local_form(m) for m in on_server)
    assert inbox(mail_server.data_dir, carol.address) == []  # POP as it is meant to be used
    # Another program reads it as a Maildir.
    assert sorted(m["Subject"] for m in mailbox.Maildir(root, create=False)) == [f"maildir {i}" for i in range(4)]


def test_keep_leaves_mail_on_the_server_and_fetches_only_what_is_new(people, mail_server, tmp_path):
    bob = people["bob"]
    for i in range(3):
        deliver(mail_server, bob.address, f"kept {i}")
    inbox(mail_server.data_dir, bob.address, expect=3)
    root = tmp_path / "bob-maildir"
    assert "fetched 3 new" in bob.ok("mail", "fetch", "--keep", "--to-maildir", str(root)).out
    assert len(inbox(mail_server.data_dir, bob.address)) == 3
    # RFC 1939 §7 UIDL: a second run knows what it already has.
    out = bob.ok("mail", "fetch", "--keep", "--to-maildir", str(root)).out
    assert "fetched 0 new" in out and "3 already there" in out and "kept on the server" in out
    deliver(mail_server, bob.address, "kept new")
    inbox(mail_server.data_dir, bob.address, expect=4)
    assert "fetched 1 new" in bob.ok("mail", "fetch", "--keep", "--to-maildir", str(root)).out
    # Without --keep: nothing fetched twice, and now the server lets go of all of them.
    out = bob.ok("mail", "fetch", "--to-maildir", str(root)).out
    assert "fetched 0 new" in out and "deleted 4 from the server" in out
    assert inbox(mail_server.data_dir, bob.address) == []
    check_maildir_layout(root)
    assert len(maildir_files(root)) == 4


def test_an_interrupted_fetch_resumes_without_loss_or_duplicates(people, mail_server, tmp_path, monkeypatch):
    alice = people["alice"]
    for i in range(8):
        deliver(mail_server, alice.address, f"resume {i}")
    on_server = inbox(mail_server.data_dir, alice.address, expect=8)
    root = tmp_path / "alice-maildir"

    real_add = pop3.MaildirDestination.add
    calls = []

    def add_then_interrupt(self, message, sender):
        if len(calls) == 3:
            raise KeyboardInterrupt  # the person presses Ctrl-C during the fourth message
        calls.append(1)
        real_add(self, message, sender)

    monkeypatch.setattr(pop3.MaildirDestination, "add", add_then_interrupt)
    assert alice("mail", "fetch", "--to-maildir", str(root)).code != 0
    assert len(maildir_files(root)) == 3
    assert len(inbox(mail_server.data_dir, alice.address)) == 8  # no QUIT: the server deleted nothing

    monkeypatch.setattr(pop3.MaildirDestination, "add", real_add)
    out = alice.ok("mail", "fetch", "--to-maildir", str(root)).out
    assert "fetched 5 new" in out and "3 already there" in out and "deleted 8" in out
    check_maildir_layout(root)
    assert sorted(p.read_bytes() for p in maildir_files(root)) == sorted(local_form(m) for m in on_server)
    assert inbox(mail_server.data_dir, alice.address) == []


def test_fetch_into_an_mbox(people, mail_server, tmp_path):
    carol = people["carol"]
    deliver(mail_server, carol.address, "mbox 1", body="First.\r\n")
    deliver(mail_server, carol.address, "mbox 2", body="From the start, a line mbox must escape.\r\n")
    on_server = inbox(mail_server.data_dir, carol.address, expect=2)
    path = tmp_path / "carol.mbox"
    assert "fetched 2 new" in carol.ok("mail", "fetch", "--keep", "--to-mbox", str(path)).out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # private, as a mail spool is
    box = mailbox.mbox(path, create=False)
    assert [m["Subject"] for m in box] == ["mbox 1", "mbox 2"]
    assert box.get_bytes(0) == local_form(on_server[0])
    data = path.read_bytes()
    assert data.startswith(b"From dave@remote.test ") and data.count(b"\nFrom ") == 1
    assert b"\n>From the start" in data  # mboxo: a body line "From " is escaped, not a new message
    assert len(inbox(mail_server.data_dir, carol.address)) == 2
    carol.ok("mail", "fetch", "--to-mbox", str(path))
    assert len(mailbox.mbox(path, create=False)) == 2 and inbox(mail_server.data_dir, carol.address) == []


def test_a_full_disk_stops_the_fetch_and_deletes_nothing(people, mail_server, tmp_path, monkeypatch):
    alice = people["alice"]
    for i in range(2):
        deliver(mail_server, alice.address, f"full {i}")
    inbox(mail_server.data_dir, alice.address, expect=2)
    root = tmp_path / "full-maildir"

    def disk_full(self, message, sender):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pop3.MaildirDestination, "add", disk_full)
    r = alice("mail", "fetch", "--to-maildir", str(root))
    # Our disk is named, not the server, and no message left the server.
    assert r.code == 1 and r.err.count("\n") == 1 and f"cannot write into {root}: No space left" in r.err, r.err
    assert "POP3 server" not in r.err and "nothing was deleted" in r.err
    assert len(inbox(mail_server.data_dir, alice.address)) == 2
    monkeypatch.undo()
    assert "fetched 2 new" in alice.ok("mail", "fetch", "--to-maildir", str(root)).out
    assert inbox(mail_server.data_dir, alice.address) == []
