"""ESMTP extensions end to end: DSN parameters kept, SMTPUTF8, 8BITMIME, throttled AUTH, our own failures."""

from __future__ import annotations

import base64
import smtplib
import time

from tests.conftest import TEST_CONFIG, client_tls, inbox, provision, start_server
from tests.smtp.raw import RawSmtp


def test_dsn_parameters_are_kept_with_the_queued_message(mail_server, cli):
    # RFC 3461 §4: NOTIFY and ORCPT per recipient, RET and ENVID per message, for the bounces to come
    host, port = mail_server.listeners["submission"]
    with RawSmtp(host, port) as c:
        c.ehlo()
        c.starttls()
        assert "DSN" in c.command("EHLO client.test")[1]
        assert c.command("AUTH PLAIN " + base64.b64encode(b"\0alice@example.test\0alice-secret").decode())[0] == 235
        assert c.command("MAIL FROM:<alice@example.test> RET=HDRS ENVID=QQ+2Bkept")[0] == 250
        code, _ = c.command("RCPT TO:<dave@remote.test> NOTIFY=FAILURE,DELAY ORCPT=rfc822;dave+2Bx@remote.test")
        assert code == 250
        c.command("DATA")
        c.send(b"From: alice@example.test\r\nTo: dave@remote.test\r\nSubject: dsn\r\n\r\nHi.\r\n.\r\n")
        code, text = c.reply()
        assert code == 250
    queue_id = text.rsplit(" ", 1)[1]
    import asyncio

    from postoffice.store.sqlite.store import SqliteStore

    async def read():
        store = SqliteStore(mail_server.data_dir)
        try:
            return await store.queue.get(queue_id)
        finally:
            await store.aclose()

    queued = asyncio.run(read())
    assert (queued.envelope.ret, queued.envelope.envid) == ("HDRS", "QQ+kept")
    [rcpt] = queued.recipients
    assert (rcpt.address, rcpt.notify, rcpt.orcpt, rcpt.state.value) == (
        "dave@remote.test", "FAILURE,DELAY", "rfc822;dave+x@remote.test", "queued")
    listing = cli("queue", "list", "--data-dir", str(mail_server.data_dir)).out
    assert queue_id in listing and "queued    dave@remote.test  via remote" in listing


def test_smtputf8_and_8bitmime(mail_server):
    # RFC 6531 §3.4, RFC 6152 §3: UTF-8 in addresses and headers, 8-bit bodies
    host, port = mail_server.listeners["smtp"]
    body = "From: Jörg <jörg@remote.test>\r\nTo: bob@example.test\r\nSubject: Grüße\r\n\r\nSchöne Grüße.\r\n"
    before = len(inbox(mail_server.data_dir, "bob@example.test"))
    with RawSmtp(host, port) as c:
        c.ehlo()
        assert c.command("MAIL FROM:<jörg@remote.test> SMTPUTF8 BODY=8BITMIME")[0] == 250
        assert c.command("RCPT TO:<bob@example.test>")[0] == 250
        c.command("DATA")
        c.send(body.encode() + b".\r\n")
        assert c.reply()[0] == 250
        # without SMTPUTF8 a non-ASCII address is refused (RFC 6531 §3.5)
        code, text = c.command("MAIL FROM:<jörg@remote.test>")
        assert (code, text[:5]) == (550, "5.6.7")
    got = inbox(mail_server.data_dir, "bob@example.test", expect=before + 1)[-1]
    assert got.endswith(body.encode())
    assert b"Return-Path: <j\xc3\xb6rg@remote.test>" in got and b"with UTF8SMTP" in got


def test_failed_logins_are_answered_ever_more_slowly(mail_server):
    host, port = mail_server.listeners["submission"]
    bad = "AUTH PLAIN " + base64.b64encode(b"\0carol@example.test\0wrong").decode()
    durations = []
    for _ in range(4):
        with RawSmtp(host, port) as c:
            c.ehlo()
            start = time.monotonic()
            assert c.command(bad)[0] == 535
            durations.append(time.monotonic() - start)
    assert durations[-1] >= 0.4  # throttled after the free failures
    with smtplib.SMTP(host, port) as smtp:  # a good password still gets in, and clears the count
        smtp.starttls(context=client_tls())
        smtp.login("carol@example.test", "carol-secret")


def test_a_failure_of_ours_is_451_and_the_session_goes_on(tmp_path):
    # STYLE.md: our own failure is 451 4.3.0, never a 5xx, never exception text
    data_dir = tmp_path / "data"
    provision(data_dir)
    server = start_server(data_dir, TEST_CONFIG)
    try:
        blobs = data_dir / "blobs"
        for child in blobs.iterdir():
            child.rmdir()
        blobs.rmdir()
        blobs.write_text("not a directory: large messages cannot be stored")
        host, port = server.listeners["smtp"]
        with RawSmtp(host, port) as c:
            c.ehlo()
            c.command("MAIL FROM:<dave@remote.test>")
            c.command("RCPT TO:<bob@example.test>")
            c.command("DATA")
            c.send(b"Subject: big\r\n\r\n" + (b"b" * 76 + b"\r\n") * 2000 + b".\r\n")
            code, text = c.reply()
            assert (code, text) == (451, "4.3.0 Local error, try again later")
            assert c.command("NOOP")[0] == 250
            # a small message still goes through: it is stored inside the database
            c.command("MAIL FROM:<dave@remote.test>")
            c.command("RCPT TO:<bob@example.test>")
            c.command("DATA")
            c.send(b"Subject: small\r\n\r\nok\r\n.\r\n")
            assert c.reply()[0] == 250
        assert "Traceback" in server.log()  # logged for us, with the traceback; never sent to the client
    finally:
        server.stop()
