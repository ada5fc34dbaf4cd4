"""POP3 and IMAP on one INBOX: what POP3 deletes, an IMAP session hears as EXPUNGE (RFC 9051 §7.5.1)."""

from __future__ import annotations

import imaplib
import poplib
import smtplib

from tests.conftest import inbox


def test_pop3_deletions_reach_a_selected_imap_session_as_expunges(mail_server):
    host, port = mail_server.listeners["smtp"]
    with smtplib.SMTP(host, port) as smtp:
        for i in range(3):
            smtp.sendmail("dave@remote.test", ["carol@example.test"],
                          f"From: dave@remote.test\r\nSubject: both {i}\r\n\r\nHi.\r\n".encode())
    inbox(mail_server.data_dir, "carol@example.test", expect=3)
    ihost, iport = mail_server.listeners["imap"]
    imap = imaplib.IMAP4(ihost, iport)
    imap.login("carol@example.test", "carol-secret")
    typ, data = imap.select("INBOX")
    assert (typ, data) == ("OK", [b"3"])
    phost, pport = mail_server.listeners["pop3"]
    pop = poplib.POP3(phost, pport, timeout=20)
    pop.user("carol@example.test")
    pop.pass_("carol-secret")
    pop.retr(1)
    pop.dele(2)
    pop.quit()
    imap.noop()
    assert imap.untagged_responses.pop("EXPUNGE", []) == [b"2"]
    typ, data = imap.fetch("1", "(FLAGS)")  # what POP3 retrieved shows as read in IMAP too
    assert b"\\Seen" in data[0]
    assert imap.search(None, "ALL")[1] == [b"1 2"]
    imap.logout()
