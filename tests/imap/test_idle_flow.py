"""IDLE hears every kind of change within a second (RFC 2177 §3), and the whole flow: a message
submitted with smtplib through the MSA reaches an IDLE session, and FETCH BODY[] returns it as it
was delivered, byte for byte."""

from __future__ import annotations

import poplib
import smtplib
import time

from tests.conftest import client_tls, inbox
from tests.imap.test_session_flow import PASSWORDS, Raw, connect, logged_in

USER = "bob@example.test"


def idling(server, user: str = USER) -> tuple[Raw, int]:
    raw = logged_in(server, user)
    raw.send(b"s SELECT INBOX\r\n")
    lines = raw.until(b"s ")
    exists = int(next(l for l in lines if l.endswith(b" EXISTS")).split()[1])
    raw.send(b"i IDLE\r\n")
    assert raw.line().startswith(b"+ ")
    return raw, exists


def heard_within(raw: Raw) -> tuple[bytes, float]:
    started = time.monotonic()
    line = raw.line()
    return line, time.monotonic() - started


def test_submission_to_idle_to_fetch_byte_for_byte(mail_server):
    raw, exists = idling(mail_server)
    try:
        body = "From: alice@example.test\r\nTo: bob@example.test\r\nSubject: the whole flow\r\n" \
               "Message-ID: <flow-1@example.test>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\n" \
               "From MUA to MUA.\r\n.leading dot\r\n"
        host, port = mail_server.listeners["submission"]
        with smtplib.SMTP(host, port) as smtp:
            smtp.starttls(context=client_tls())
            smtp.login("alice@example.test", PASSWORDS["alice@example.test"])
            smtp.sendmail("alice@example.test", [USER], body)
        line, _ = heard_within(raw)
        assert line == b"* %d EXISTS" % (exists + 1)  # RFC 2177 §3
        raw.send(b"DONE\r\n")
        raw.until(b"i ")
        raw.send(b"f FETCH %d BODY[]\r\n" % (exists + 1))
        head = raw.line()
        size = int(head[head.rindex(b"{") + 1:-1])
        while len(raw.buf) < size:
            raw.buf += raw.sock.recv(65536)
        fetched, raw.buf = raw.buf[:size], raw.buf[size:]
        assert raw.until(b"f ")[-1].startswith(b"f OK")
    finally:
        raw.close()
    stored = inbox(mail_server.data_dir, USER)[-1]
    assert fetched == stored  # what the MDA delivered
    # The MDA and MSA add header fields above; the submitted message follows unchanged.
    assert fetched.startswith(b"Return-Path: <alice@example.test>\r\n")
    assert fetched.endswith(body.split("\r\n\r\n", 1)[1].encode())
    assert b"Subject: the whole flow\r\n" in fetched and b"Message-ID: <flow-1@example.test>\r\n" in fetched


def test_idle_hears_append_flags_expunge_from_another_session_and_pop3(mail_server):
    user = "carol@example.test"
    with connect(mail_server, user) as other:
        other.append("INBOX", None, None, b"Subject: seed\r\n\r\nx\r\n")
    raw, exists = idling(mail_server, user)
    try:
        with connect(mail_server, user) as other:
            other.select("INBOX")
            # Another session's APPEND: EXISTS.
            other.append("INBOX", None, None, b"Subject: appended elsewhere\r\n\r\nx\r\n")
            line, waited = heard_within(raw)
            assert line == b"* %d EXISTS" % (exists + 1) and waited < 3  # well within a second when idle; margin for a busy machine
            # Another session's STORE: FETCH with the new flags (RFC 9051 §7.5.2).
            other.store("1", "+FLAGS", "(\\Flagged)")
            line, waited = heard_within(raw)
            assert line.startswith(b"* 1 FETCH (FLAGS (\\Flagged)") and waited < 3  # well within a second when idle; margin for a busy machine
            # Another session's EXPUNGE: EXPUNGE, allowed during IDLE (RFC 2177 §3).
            other.store(str(exists + 1), "+FLAGS.SILENT", "(\\Deleted)")
            assert raw.line().startswith(b"* %d FETCH (FLAGS (\\Deleted)" % (exists + 1))
            other.expunge()
            line, waited = heard_within(raw)
            assert line == b"* %d EXPUNGE" % (exists + 1) and waited < 3  # well within a second when idle; margin for a busy machine
        # A POP3 deletion: DELE, then QUIT commits it (RFC 1939 §6).
        pop = poplib.POP3(*mail_server.listeners["pop3"])
        pop.user(user)
        pop.pass_(PASSWORDS[user])
        pop.dele(1)
        pop.quit()
        line, waited = heard_within(raw)
        assert line == b"* 1 EXPUNGE" and waited < 3  # well within a second when idle; margin for a busy machine
        raw.send(b"DONE\r\n")
        assert raw.until(b"i ")[-1].startswith(b"i OK")
    finally:
        raw.close()
