"""The MSA over real sockets: AUTH, sender checks, the RFC 6409 §8 fix-up, implicit TLS."""

from __future__ import annotations

import base64
import smtplib

import pytest

from tests.conftest import client_tls, inbox
from tests.scram import ScramClient, b64
from tests.smtp.raw import RawSmtp


def message(sender: str, to: str, subject: str, extra: str = "") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n{extra}\r\nHello.\r\n").encode()


def test_implicit_tls_submission(mail_server):
    # RFC 8314 §3.3: TLS from the first byte on the submissions port
    host, port = mail_server.listeners["submissions"]
    with smtplib.SMTP_SSL(host, port, context=client_tls()) as smtp:
        smtp.login("alice@example.test", "alice-secret")
        refused = smtp.sendmail("alice@example.test", ["carol@example.test"], message(
            "alice@example.test", "carol@example.test", "over implicit TLS"))
    assert refused == {}
    got = inbox(mail_server.data_dir, "carol@example.test", expect=1)
    assert any(b"Subject: over implicit TLS" in m and b"with ESMTPSA" in m for m in got)


def test_mail_needs_auth_and_bad_passwords_are_refused(mail_server):
    host, port = mail_server.listeners["submission"]
    with RawSmtp(host, port) as c:
        c.ehlo()
        assert c.command("MAIL FROM:<alice@example.test>")[0] == 530  # RFC 4954 §6: 530 5.7.0
        code, text = c.command("AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0wrong").decode())
        assert (code, text[:5]) == (535, "5.7.8")
        assert c.command("NOOP")[0] == 250  # the session goes on


def test_sender_must_be_the_login_s_own_address(mail_server):
    host, port = mail_server.listeners["submission"]
    with smtplib.SMTP(host, port) as smtp:
        smtp.starttls(context=client_tls())
        smtp.login("alice@example.test", "alice-secret")
        code, text = smtp.mail("bob@example.test")
        assert (code, text[:5]) == (553, b"5.7.1")  # RFC 6409 §6.1
        smtp.rset()
        smtp.mail("alice@example.test")
        smtp.rcpt("bob@example.test")
        code, text = smtp.data(message("bob@example.test", "bob@example.test", "forged From"))
        assert (code, text[:5]) == (553, b"5.7.1")  # the From header must be the login's too


def test_sending_as_an_alias_adds_sender(mail_server):
    # RFC 6409 §8.1: From is a permitted address other than the login's: Sender names the login
    host, port = mail_server.listeners["submission"]
    before = len(inbox(mail_server.data_dir, "carol@example.test"))
    with smtplib.SMTP(host, port) as smtp:
        smtp.starttls(context=client_tls())
        smtp.login("alice@example.test", "alice-secret")
        smtp.sendmail("team@example.test", ["carol@example.test"],
                      message("team@example.test", "carol@example.test", "as the team"))
    got = inbox(mail_server.data_dir, "carol@example.test", expect=before + 1)[-1]
    assert b"Subject: as the team" in got and b"\r\nSender: alice@example.test\r\n" in got


def test_existing_message_id_and_date_are_kept(mail_server):
    host, port = mail_server.listeners["submission"]
    before = len(inbox(mail_server.data_dir, "carol@example.test"))
    with smtplib.SMTP(host, port) as smtp:
        smtp.starttls(context=client_tls())
        smtp.login("alice@example.test", "alice-secret")
        smtp.sendmail("alice@example.test", ["carol@example.test"], message(
            "alice@example.test", "carol@example.test", "kept ids",
            "Message-ID: <kept-1@client.test>\r\nDate: Fri, 27 Nov 2026 10:00:00 +0000\r\n"))
    got = inbox(mail_server.data_dir, "carol@example.test", expect=before + 1)[-1]
    assert got.count(b"Message-ID:") == 1 and b"Message-ID: <kept-1@client.test>" in got
    assert got.count(b"\r\nDate:") == 1


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_auth_mechanisms_with_smtplib(mail_server, mechanism):
    host, port = mail_server.listeners["submission"]
    with smtplib.SMTP(host, port) as smtp:
        smtp.starttls(context=client_tls())
        smtp.ehlo()
        assert "SCRAM-SHA-256" in smtp.esmtp_features["auth"]
        smtp.user, smtp.password = "bob@example.test", "bob-secret"
        code, _ = smtp.auth(mechanism, getattr(smtp, f"auth_{mechanism.lower()}"), initial_response_ok=True)
        assert code == 235


def test_scram_sha_256_over_smtp(mail_server):
    # RFC 5802 §5 / RFC 7677 over RFC 4954: the server-final message comes as a 334 challenge
    host, port = mail_server.listeners["submission"]
    scram = ScramClient("bob@example.test", "bob-secret")
    with RawSmtp(host, port) as c:
        c.ehlo()
        c.starttls()
        c.command("EHLO client.test")
        code, challenge = c.command("AUTH SCRAM-SHA-256 " + b64(scram.first()))
        assert code == 334
        code, challenge = c.command(b64(scram.final(base64.b64decode(challenge))))
        assert code == 334 and base64.b64decode(challenge) == scram.expected_server_signature
        assert c.command("")[0] == 235


def test_queue_id_is_in_the_250_and_trace_tells_the_journey(mail_server, cli):
    host, port = mail_server.listeners["submission"]
    with smtplib.SMTP(host, port) as smtp:
        smtp.starttls(context=client_tls())
        smtp.login("alice@example.test", "alice-secret")
        smtp.mail("alice@example.test")
        smtp.rcpt("team@example.test")
        code, text = smtp.data(message("alice@example.test", "team@example.test", "traced",
                                       "Message-ID: <traced-1@example.test>\r\n"))
    assert code == 250
    queue_id = text.decode().rsplit(" ", 1)[1]
    inbox(mail_server.data_dir, "bob@example.test", expect=2)
    import time
    for _ in range(50):
        r = cli("trace", queue_id, "--data-dir", str(mail_server.data_dir))
        if r.out.count("delivered to INBOX") == 2:
            break
        time.sleep(0.1)
    lines = r.out.splitlines()
    stages = [line.split()[2] for line in lines[1:]]
    assert stages[:2] == ["submitted", "authenticated"] and "queued" in stages and stages.count("delivered") == 2, r.out
    assert "authenticated as alice@example.test" in r.out
    assert "team@example.test as alice@example.test: local delivery (alias team@example.test)" in r.out
    assert "delivered to INBOX UID" in r.out
    by_message_id = cli("trace", "<traced-1@example.test>", "--data-dir", str(mail_server.data_dir))
    assert by_message_id.out == r.out
