"""Sequence numbers stay right when another session expunges during a UID command (RFC 9051 §7.5.1)."""

from __future__ import annotations

import imaplib
import smtplib

from tests.conftest import inbox
from tests.imap.test_session_flow import Raw


def test_uid_fetch_results_come_before_the_expunges_that_renumber(mail_server):
    host, port = mail_server.listeners["smtp"]
    with smtplib.SMTP(host, port) as smtp:
        for i in range(3):
            smtp.sendmail("dave@remote.test", ["alice@example.test"],
                          f"From: dave@remote.test\r\nSubject: n{i}\r\n\r\nx\r\n".encode())
    inbox(mail_server.data_dir, "alice@example.test", expect=3)
    watcher = Raw(mail_server)
    watcher.send(b"a LOGIN alice@example.test alice-secret\r\n")
    watcher.until(b"a ")
    watcher.send(b"b SELECT INBOX\r\n")
    watcher.until(b"b ")
    ihost, iport = mail_server.listeners["imap"]
    other = imaplib.IMAP4(ihost, iport)
    other.login("alice@example.test", "alice-secret")
    other.select("INBOX")
    other.store("1", "+FLAGS", "(\\Deleted)")
    other.expunge()
    watcher.send(b"c UID FETCH 3 (UID)\r\n")
    lines = watcher.until(b"c ")
    # the FETCH names message 3 as the client still numbers it; then EXPUNGE 1 renumbers
    assert lines[0] == b"* 3 FETCH (UID 3)" and b"* 1 EXPUNGE" in lines[1:] and lines[-1].startswith(b"c OK")
    watcher.send(b"d FETCH 2 (UID)\r\n")
    assert watcher.until(b"d ")[0] == b"* 2 FETCH (UID 3)"
    other.logout()
    watcher.close()
