"""mbsync (Debian isync) against our IMAP server: a full two-way sync of all folders into a local
Maildir, then local changes (a flag, a deletion, a new message) pushed back and seen with imaplib."""

from __future__ import annotations

import imaplib
import os
import re
import smtplib
import subprocess
from pathlib import Path

from tests.conftest import inbox


def mbsync(root: Path, host: str, port: int) -> str:
    rc = root / "mbsyncrc"
    rc.write_text(f"""IMAPAccount po
Host {host}
Port {port}
User bob@example.test
Pass bob-secret
SSLType None
AuthMechs LOGIN

IMAPStore po-remote
Account po

MaildirStore po-local
Path {root}/maildir/
Inbox {root}/maildir/INBOX
SubFolders Verbatim

Channel po
Far :po-remote:
Near :po-local:
Patterns *
Create Both
Expunge Both
SyncState *
""")
    p = subprocess.run(["mbsync", "-c", str(rc), "-a"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "HOME": str(root)})
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def test_two_way_sync_with_mbsync(mail_server, tmp_path):
    host, port = mail_server.listeners["smtp"]
    with smtplib.SMTP(host, port) as smtp:
        for i in range(3):
            smtp.sendmail("dave@remote.test", ["bob@example.test"],
                          f"From: dave@remote.test\r\nSubject: sync {i}\r\n\r\nbody {i}\r\n".encode())
    stored = inbox(mail_server.data_dir, "bob@example.test", expect=3)
    (tmp_path / "maildir").mkdir()
    ihost, iport = mail_server.listeners["imap"]
    mbsync(tmp_path, ihost, iport)
    maildir = tmp_path / "maildir"
    assert {p.name for p in maildir.iterdir() if p.is_dir()} >= {"INBOX", "Sent", "Drafts", "Trash", "Junk", "Archive"}
    local = sorted(p for p in (maildir / "INBOX").rglob("*") if p.is_file() and not p.name.startswith("."))
    # mbsync keeps Maildir files with LF line ends and its own X-TUID field; otherwise byte for byte
    as_kept = sorted(re.sub(rb"X-TUID: \S+\n", b"", p.read_bytes()) for p in local)
    assert as_kept == sorted(m.replace(b"\r\n", b"\n") for m in stored)
    by_subject = {p.read_bytes().split(b"Subject: ")[1].split(b"\n")[0]: p for p in local}
    # local changes: flag one, delete one, add one (Maildir flags after ":2,", RFC-less but standard)
    flagged = by_subject[b"sync 0"]
    flagged.rename(flagged.with_name(flagged.name.split(":2,")[0] + ":2,F"))
    by_subject[b"sync 1"].unlink()
    (maildir / "INBOX" / "new" / "1800000000.1_1.local").write_bytes(
        b"From: bob@example.test\r\nSubject: written offline\r\n\r\nhello\r\n")
    mbsync(tmp_path, ihost, iport)
    imap = imaplib.IMAP4(ihost, iport)
    imap.login("bob@example.test", "bob-secret")
    imap.select("INBOX")
    subjects = {}
    for num in imap.search(None, "ALL")[1][0].split():
        _, data = imap.fetch(num, "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        subjects[data[0][1].strip()] = data[0][0]
    imap.logout()
    assert set(subjects) == {b"Subject: sync 0", b"Subject: sync 2", b"Subject: written offline"}
    assert b"\\Flagged" in subjects[b"Subject: sync 0"]
