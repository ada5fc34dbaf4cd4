"""Outbound delivery over real sockets: our server relays to a remote MX that the test scripts."""

from __future__ import annotations

import email
import email.policy
import re
import signal
import smtplib
import subprocess
import time

import pytest

from tests.conftest import POSTOFFICE, TEST_CONFIG, client_tls, inbox, provision, start_server
from tests.mta.remote import RemoteMx


def config(remote: RemoteMx, extra: str = "", *, retry: str = "[1]") -> str:
    return TEST_CONFIG + f"""
[relay]
routes = {{ "remote.test" = "{remote.address}" }}
[queue]
retry_schedule_s = {retry}
scan_interval_s = 0.2
{extra}
"""


def submit(server, recipients: list[str], subject: str, *, sender: str = "alice@example.test",
           extra_headers: str = "") -> str:
    host, port = server.listeners["submission"]
    with smtplib.SMTP(host, port) as smtp:
        smtp.starttls(context=client_tls())
        smtp.login(sender, {"alice@example.test": "alice-secret", "bob@example.test": "bob-secret"}[sender])
        smtp.mail(sender)
        for r in recipients:
            smtp.rcpt(r)
        code, text = smtp.data((f"From: {sender}\r\nTo: {', '.join(recipients)}\r\nSubject: {subject}\r\n"
                                f"{extra_headers}\r\nHello from {sender}.\r\n").encode())
    assert code == 250
    return text.decode().rsplit(" ", 1)[1]


def wait_for(predicate, timeout: float = 20.0, what: str = "the condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def cli(data_dir, *args: str) -> str:
    p = subprocess.run([POSTOFFICE, *args, "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.fixture
def remote():
    with RemoteMx() as r:
        yield r


def test_relayed_mail_arrives_signed_with_dkim(tmp_path, remote):
    import dkim

    data_dir = tmp_path / "data"
    provision(data_dir)
    record = cli(data_dir, "dkim", "generate", "example.test", "--selector", "s2026")
    name, value = re.fullmatch(r'(\S+)\. IN TXT "(.*)"\n', record).groups()
    assert name == "s2026._domainkey.example.test" and value.startswith("v=DKIM1; k=rsa; p=")
    server = start_server(data_dir, config(remote))
    try:
        submit(server, ["dave@remote.test"], "signed")
        got = wait_for(lambda: remote.handler.received, what="the remote to receive the message")[0]
    finally:
        server.stop()
    assert got.sender == "alice@example.test" and got.recipients == ["dave@remote.test"]
    assert got.content.startswith(b"DKIM-Signature:")
    # RFC 6376 §6: the remote verifies against the published key (a static resolver here)
    assert dkim.verify(got.content, dnsfunc=lambda q, timeout=5: value.encode() if q.decode().rstrip(".") == name else None)


def test_temporary_failures_are_retried_until_accepted(tmp_path, remote, cli):
    data_dir = tmp_path / "data"
    provision(data_dir)
    remote.handler.script.data_replies = ["451 4.3.0 try later", "451 4.3.0 still busy"]
    server = start_server(data_dir, config(remote))
    try:
        queue_id = submit(server, ["dave@remote.test"], "retried")
        wait_for(lambda: remote.handler.received, what="delivery on the third attempt")
        shown = cli("trace", queue_id, "--data-dir", str(data_dir)).out
    finally:
        server.stop()
    assert remote.handler.attempts == 3
    stages = [line.split()[2] for line in shown.splitlines()[1:]]
    assert stages.count("deferred") == 2 and stages[-1] == "relayed", shown
    assert "451 4.3.0 try later; next attempt" in shown and "250 2.0.0 queued remotely" in shown
    assert cli("queue", "list", "--data-dir", str(data_dir)).out.strip() == "queue is empty"


def test_queue_show_tells_the_waits(tmp_path, remote, cli):
    data_dir = tmp_path / "data"
    provision(data_dir)
    remote.handler.script.always_data = "451 4.7.1 greylisted"
    server = start_server(data_dir, config(remote, retry="[60]"))
    try:
        queue_id = submit(server, ["dave@remote.test"], "waiting")
        wait_for(lambda: remote.handler.attempts >= 1, what="a first attempt")
        shown = wait_for(lambda: (out := cli("queue", "show", queue_id, "--data-dir", str(data_dir)).out)
                         and "greylisted" in out and out, what="the attempt in queue show")
    finally:
        server.stop()
    assert "[queued]  attempts 1" in shown and "next attempt" in shown and "451 4.7.1 greylisted" in shown


def test_one_recipient_bounced_one_delivered_and_the_sender_gets_a_dsn(tmp_path, remote):
    data_dir = tmp_path / "data"
    provision(data_dir)
    remote.handler.script.rcpt["nobody@remote.test"] = "550 5.1.1 <nobody@remote.test>: no such user"
    server = start_server(data_dir, config(remote))
    try:
        submit(server, ["dave@remote.test", "nobody@remote.test"], "half bounced")
        wait_for(lambda: remote.handler.received, what="the good recipient's delivery")
        [bounce] = inbox(data_dir, "alice@example.test", expect=1)
    finally:
        server.stop()
    assert remote.handler.received[0].recipients == ["dave@remote.test"]
    dsn = email.message_from_bytes(bounce, policy=email.policy.default)
    assert dsn.get_content_type() == "multipart/report"  # RFC 3464 §2
    assert b"Return-Path: <>" in bounce  # from the null sender
    status = [p for p in dsn.walk() if p.get_content_type() == "message/delivery-status"][0]
    text = status.as_bytes().decode()
    assert "Final-Recipient: rfc822; nobody@remote.test" in text and "Action: failed" in text
    assert "Status: 5.1.1" in text and "550 5.1.1 <nobody@remote.test>: no such user" in text
    assert "dave@remote.test" not in text


def test_a_recipient_that_never_succeeds_is_bounced_when_its_lifetime_ends(tmp_path, remote):
    data_dir = tmp_path / "data"
    provision(data_dir)
    remote.handler.script.always_data = "421 4.3.2 shutting down"
    server = start_server(data_dir, config(remote, "lifetime_s = 3"))
    try:
        submit(server, ["dave@remote.test"], "never")
        [bounce] = inbox(data_dir, "alice@example.test", expect=1, timeout=30)
    finally:
        server.stop()
    assert remote.handler.attempts >= 2
    assert b"Action: failed" in bounce and b"Status: 4.4.7" in bounce  # RFC 3463: delivery time expired


def test_a_bounce_that_cannot_be_delivered_is_held_not_bounced(tmp_path, remote, cli):
    # RFC 5321 §4.5.5, RFC 3461 §6.2: never a DSN to the null sender
    data_dir = tmp_path / "data"
    provision(data_dir)
    assert cli("alias", "add", "fwd@example.test", "gone@remote.test", "--data-dir", str(data_dir)).code == 0
    remote.handler.script.rcpt["gone@remote.test"] = "550 5.1.1 gone"
    server = start_server(data_dir, config(remote))
    try:
        host, port = server.listeners["smtp"]
        with smtplib.SMTP(host, port) as smtp:  # a bounce from elsewhere, forwarded by our alias
            smtp.sendmail("", ["fwd@example.test"], b"From: MAILER-DAEMON@elsewhere.test\r\nSubject: a bounce\r\n\r\nx\r\n")
        listing = wait_for(lambda: (out := cli("queue", "list", "--data-dir", str(data_dir)).out) and "held" in out
                           and out, what="the message to be held")
    finally:
        server.stop()
    assert "held      gone@remote.test" in listing and "550 5.1.1 gone" in listing
    for user in ("alice@example.test", "bob@example.test", "carol@example.test"):
        assert inbox(data_dir, user) == []  # no bounce of the bounce anywhere


def test_sigkill_during_outbound_delivery_of_100_messages(tmp_path, remote):
    data_dir = tmp_path / "data"
    provision(data_dir)
    server = start_server(data_dir, config(remote, retry="[0.5]"))
    host, port = server.listeners["smtp"]
    # 100 messages for the remote, relayed through our MTA by an authenticated submission
    hostp, portp = server.listeners["submission"]
    with smtplib.SMTP(hostp, portp) as smtp:
        smtp.starttls(context=client_tls())
        smtp.login("alice@example.test", "alice-secret")
        for i in range(100):
            smtp.sendmail("alice@example.test", ["dave@remote.test"],
                          f"From: alice@example.test\r\nSubject: bulk {i}\r\n\r\nx\r\n".encode())
    wait_for(lambda: len(remote.handler.received) >= 10, what="outbound delivery to start")
    server.stop(signal.SIGKILL)
    server = start_server(data_dir, config(remote, retry="[0.5]"))
    try:
        def all_arrived():
            subjects = {re.search(rb"Subject: (bulk \d+)", r.content)[1] for r in remote.handler.received}
            return len(subjects) == 100

        wait_for(all_arrived, timeout=60, what="all 100 messages at the remote")
        wait_for(lambda: "queue is empty" in subprocess.run(
            [POSTOFFICE, "queue", "list", "--data-dir", str(data_dir)], capture_output=True, text=True).stdout,
            what="the queue to empty")
    finally:
        server.stop()
    duplicates = len(remote.handler.received) - 100
    # each message is settled as soon as its DATA is answered: only those in flight at the kill (one per
    # connection, at most queue.per_destination = 4) can arrive twice
    assert duplicates <= 4, f"{duplicates} duplicates: more than the connections in flight at the kill"


def test_a_delay_notice_goes_once_when_mail_waits_too_long(tmp_path, remote):
    # RFC 3461 §4.1: without NOTIFY, delays are reported; once, not at every attempt
    data_dir = tmp_path / "data"
    provision(data_dir)
    remote.handler.script.always_data = "451 4.4.5 busy"
    server = start_server(data_dir, config(remote, "delay_notice_s = 1", retry="[0.5]"))
    try:
        submit(server, ["dave@remote.test"], "slow")
        [notice] = inbox(data_dir, "alice@example.test", expect=1, timeout=30)
        wait_for(lambda: remote.handler.attempts >= 5, what="more attempts after the notice")
        assert len(inbox(data_dir, "alice@example.test")) == 1
    finally:
        server.stop()
    assert b"Action: delayed" in notice and b"Will-Retry-Until:" in notice and b"Subject: Delayed Mail" in notice


def test_smtputf8_mail_to_a_server_without_it_fails_for_good(tmp_path):
    # RFC 6531 §3.5: no downgrade of a non-ASCII address; the sender hears why (X.6.7)
    from aiosmtpd.controller import Controller

    from tests.mta.remote import Handler, free_port

    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=False)
    controller.start()
    data_dir = tmp_path / "data"
    provision(data_dir)
    server = start_server(data_dir, TEST_CONFIG + f'[relay]\nroutes = {{ "remote.test" = "127.0.0.1:{port}" }}\n'
                          "[queue]\nscan_interval_s = 0.2\n")
    try:
        host, sport = server.listeners["submission"]
        with smtplib.SMTP(host, sport) as smtp:
            smtp.starttls(context=client_tls())
            smtp.login("alice@example.test", "alice-secret")
            smtp.sendmail("alice@example.test", ["jörg@remote.test"],
                          "From: alice@example.test\r\nSubject: Grüße\r\n\r\nHallo.\r\n".encode(),
                          mail_options=["SMTPUTF8"])
        [bounce] = inbox(data_dir, "alice@example.test", expect=1)
    finally:
        server.stop()
        controller.stop()
    assert handler.received == [] and b"Status: 5.6.7" in bounce


def test_smarthost_with_auth(tmp_path):
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    from tests.mta.remote import Handler, free_port

    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (b"relayuser", b"relaypass")
        logins.append((mechanism, ok))
        return AuthResult(success=ok)

    handler = Handler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, authenticator=authenticator,
                            auth_require_tls=False)
    controller.start()
    data_dir = tmp_path / "data"
    provision(data_dir)
    server = start_server(data_dir, TEST_CONFIG + f'[relay]\nsmarthost = "127.0.0.1:{port}"\nusername = "relayuser"\n'
                          'password = "relaypass"\n[queue]\nscan_interval_s = 0.2\n')
    try:
        submit(server, ["someone@anywhere.test"], "via the smarthost")
        got = wait_for(lambda: handler.received, what="the smarthost to receive it")[0]
    finally:
        server.stop()
        controller.stop()
    assert got.recipients == ["someone@anywhere.test"] and logins and all(ok for _, ok in logins)
