"""The first half of the flow over real sockets: submission (MSA) and relay-in (MTA) to the INBOX."""

from __future__ import annotations

import smtplib

from tests.conftest import client_tls, inbox

LUNCH = b"""From: alice@example.test\r
To: bob@example.test\r
Bcc: carol@example.test\r
Subject: lunch\r
\r
At noon?\r
"""


def test_submission_with_starttls_and_auth_reaches_the_inbox(mail_server):
    host, port = mail_server.listeners["submission"]
    with smtplib.SMTP(host, port) as smtp:
        smtp.starttls(context=client_tls())
        smtp.login("alice@example.test", "alice-secret")
        smtp.sendmail("alice@example.test", ["bob@example.test", "carol@example.test"], LUNCH)
    [message] = inbox(mail_server.data_dir, "bob@example.test", expect=1)
    head = message.split(b"\r\n\r\n")[0]
    assert head.startswith(b"Return-Path: <alice@example.test>\r\nDelivered-To: bob@example.test\r\nReceived: from ")
    assert b"Message-ID: <" in head and b"\r\nDate: " in head  # RFC 6409 §8.2, §8.3
    assert b"Bcc" not in head  # RFC 6409 §8.1... the Bcc header never travels
    assert b"authenticated as alice@example.test" in head
    assert message.endswith(b"\r\n\r\nAt noon?\r\n")
    [carols] = inbox(mail_server.data_dir, "carol@example.test", expect=1)
    assert b"Bcc" not in carols
