"""The MTA's port over real sockets: what other servers (and attackers) send to port 25."""

from __future__ import annotations

import subprocess
import time

import pytest

from tests.conftest import TEST_CONFIG, inbox, provision, start_server
from tests.smtp.raw import RawSmtp

SIMPLE = b"From: dave@remote.test\r\nTo: bob@example.test\r\nSubject: %s\r\n\r\nHi.\r\n"


def queued_count(data_dir) -> int:
    import sqlite3

    with sqlite3.connect(data_dir / "store.sqlite3") as db:
        return db.execute("SELECT count(*) FROM queue").fetchone()[0]


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    """A server with small limits, to reach them quickly."""
    data_dir = tmp_path_factory.mktemp("strict") / "data"
    provision(data_dir)
    s = start_server(data_dir, TEST_CONFIG + """
[smtp]
max_message_bytes = 100000
max_recipients = 100
idle_timeout_s = 2
max_connections_per_ip = 3
max_errors = 5
[submission]
plaintext_auth = "never"
""")
    yield s
    s.stop()


def test_pipelined_transaction_and_message_in_one_write(mail_server):
    # RFC 2920 §3.1: replies in order; the data may follow DATA in the same write
    host, port = mail_server.listeners["smtp"]
    before = len(inbox(mail_server.data_dir, "bob@example.test"))
    with RawSmtp(host, port) as c:
        c.ehlo("mx.remote.test")
        c.send(b"MAIL FROM:<dave@remote.test>\r\nRCPT TO:<bob@example.test>\r\nRCPT TO:<nobody@example.test>\r\n"
               b"DATA\r\n" + SIMPLE % b"one write" + b".\r\nQUIT\r\n")
        codes = [c.reply()[0] for _ in range(6)]
    assert codes == [250, 250, 550, 354, 250, 221]
    assert b"Subject: one write" in inbox(mail_server.data_dir, "bob@example.test", expect=before + 1)[-1]


def test_bdat_in_chunks_ending_with_last(mail_server):
    # RFC 3030 §2
    host, port = mail_server.listeners["smtp"]
    body = SIMPLE % b"chunked"
    before = len(inbox(mail_server.data_dir, "bob@example.test"))
    with RawSmtp(host, port) as c:
        assert "CHUNKING" in c.ehlo()[1]
        assert c.command("MAIL FROM:<dave@remote.test>")[0] == 250
        assert c.command("RCPT TO:<bob@example.test>")[0] == 250
        parts = [body[:10], body[10:30], body[30:]]
        c.send(b"BDAT %d\r\n%s" % (len(parts[0]), parts[0]))
        assert c.reply()[0] == 250
        c.send(b"BDAT %d\r\n%sBDAT %d LAST\r\n%s" % (len(parts[1]), parts[1], len(parts[2]), parts[2]))
        assert c.reply()[0] == 250
        code, text = c.reply()
        assert code == 250 and "queued as" in text
    assert inbox(mail_server.data_dir, "bob@example.test", expect=before + 1)[-1].endswith(body)


def test_bdat_after_a_refused_rcpt_is_read_and_discarded(mail_server):
    host, port = mail_server.listeners["smtp"]
    with RawSmtp(host, port) as c:
        c.ehlo()
        c.command("MAIL FROM:<dave@remote.test>")
        assert c.command("RCPT TO:<nobody@example.test>")[0] == 550
        chunk = b"X" * 5000 + b"\r\nQUIT\r\n"  # must not be read as a command
        c.send(b"BDAT %d LAST\r\n%s" % (len(chunk), chunk))
        code, text = c.reply()
        assert code == 554 and text.startswith("5.5.1")
        assert c.command("NOOP")[0] == 250


def test_bare_lf_before_the_final_dot_is_refused(mail_server):
    # RFC 5321 §2.3.8, §4.1.1.4: only CRLF.CRLF ends the data (SMTP smuggling)
    host, port = mail_server.listeners["smtp"]
    before = len(inbox(mail_server.data_dir, "bob@example.test"))
    with RawSmtp(host, port) as c:
        c.ehlo()
        c.command("MAIL FROM:<dave@remote.test>")
        c.command("RCPT TO:<bob@example.test>")
        assert c.command("DATA")[0] == 354
        c.send(b"Subject: smuggle\r\n\r\nfirst\n.\nMAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.test>\r\n"
               b"DATA\r\nSubject: second\r\n\r\n.\r\n")
        code, text = c.reply()
        assert code == 554 and text.startswith("5.6.0")
        assert c.command("NOOP")[0] == 250  # the session goes on, in step
    time.sleep(0.3)
    assert len(inbox(mail_server.data_dir, "bob@example.test")) == before


def test_oversize_message_gets_552_and_the_session_goes_on(strict):
    host, port = strict.listeners["smtp"]
    with RawSmtp(host, port) as c:
        assert "SIZE 100000" in c.ehlo()[1]
        assert c.command("MAIL FROM:<dave@remote.test> SIZE=200000")[0] == 552  # RFC 1870 §6.1
        c.command("MAIL FROM:<dave@remote.test>")
        c.command("RCPT TO:<bob@example.test>")
        c.command("DATA")
        c.send((b"y" * 76 + b"\r\n") * 3000 + b".\r\n")
        code, text = c.reply()
        assert (code, text[:5]) == (552, "5.3.4")
        assert c.command("NOOP")[0] == 250


def test_1000_rcpts(mail_server):
    # RFC 5321 §4.5.3.1.10: past the limit, 452 4.5.3 for each; the first 100 stand
    host, port = mail_server.listeners["smtp"]
    with RawSmtp(host, port) as c:
        c.ehlo()
        c.command("MAIL FROM:<dave@remote.test>")
        c.send(b"".join(b"RCPT TO:<bob@example.test>\r\n" for _ in range(1000)))
        codes = [c.reply() for _ in range(1000)]
        assert [code for code, _ in codes[:100]] == [250] * 100
        assert {(code, text[:5]) for code, text in codes[100:]} == {(452, "4.5.3")}
        assert c.command("DATA")[0] == 354
        c.send(SIMPLE % b"1000 rcpts" + b".\r\n")
        assert c.reply()[0] == 250


def test_a_1mb_line_is_refused_and_the_session_goes_on(mail_server):
    host, port = mail_server.listeners["smtp"]
    with RawSmtp(host, port) as c:
        c.ehlo()
        code, text = c.command(b"MAIL FROM:<" + b"a" * (1 << 20) + b"@remote.test>")
        assert (code, text[:5]) == (500, "5.5.2")  # RFC 5321 §4.5.3.1.9
        assert c.command("NOOP")[0] == 250


def test_a_1mb_line_in_data_is_refused(mail_server):
    host, port = mail_server.listeners["smtp"]
    with RawSmtp(host, port) as c:
        c.ehlo()
        c.command("MAIL FROM:<dave@remote.test>")
        c.command("RCPT TO:<bob@example.test>")
        c.command("DATA")
        c.send(b"Subject: long\r\n\r\n" + b"z" * (1 << 20) + b"\r\n.\r\n")
        code, text = c.reply()
        assert (code, text[:5]) == (554, "5.6.0")  # RFC 5321 §4.5.3.1.6: 998 octets a line
        assert c.command("NOOP")[0] == 250


def test_auth_before_starttls_is_refused_when_plaintext_is_not_allowed(strict):
    # RFC 4954 §4, RFC 3207 §4: no password in the clear; not even offered before TLS
    host, port = strict.listeners["submission"]
    with RawSmtp(host, port) as c:
        assert "AUTH" not in c.ehlo()[1]
        code, text = c.command("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1zZWNyZXQ=")
        assert (code, text[:5]) == (530, "5.7.0")
        c.starttls()
        assert "AUTH PLAIN LOGIN SCRAM-SHA-256" in c.command("EHLO client.test")[1]
        assert c.command("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1zZWNyZXQ=")[0] == 235


def test_auth_is_not_offered_on_the_mta_port(mail_server):
    host, port = mail_server.listeners["smtp"]
    with RawSmtp(host, port) as c:
        assert "AUTH" not in c.ehlo()[1]
        assert c.command("AUTH PLAIN AGFsaWNlQGV4YW1wbGUudGVzdABhbGljZS1zZWNyZXQ=")[0] == 502


def test_commands_sent_before_tls_are_not_run_after_it(mail_server):
    # RFC 3207 §4.2, the STARTTLS command injection: "STARTTLS\r\nRSET" in one packet
    host, port = mail_server.listeners["smtp"]
    with RawSmtp(host, port) as c:
        c.ehlo()
        c.send(b"STARTTLS\r\nMAIL FROM:<injected@remote.test>\r\n")
        assert c.reply()[0] == 220
        from tests.conftest import client_tls

        c.sock = client_tls().wrap_socket(c.sock)
        c.command("EHLO client.test")
        assert c.command("NOOP")[0] == 250  # and not the injected MAIL's reply
        assert c.command("RCPT TO:<bob@example.test>")[0] == 503  # no MAIL carried over


def test_random_garbage_gets_errors_then_421_and_the_server_stays_up(strict):
    host, port = strict.listeners["smtp"]
    with RawSmtp(host, port) as c:
        c.reply()
        rng = __import__("random").Random(5)
        for _ in range(20):
            try:
                c.send(bytes(rng.randrange(256) for _ in range(200)).replace(b"\n", b"") + b"\r\n")
            except OSError:
                break
        replies = []
        try:
            while True:
                replies.append(c.reply())
        except (ConnectionError, OSError):
            pass
        assert replies and all(code >= 500 for code, _ in replies[:-1])
        assert replies[-1][0] == 421  # too many errors: the session ends
    with RawSmtp(host, port) as c:
        assert c.ehlo()[0] == 250  # the server is up


def test_idle_client_gets_421(strict):
    host, port = strict.listeners["smtp"]
    with RawSmtp(host, port) as c:
        c.reply()
        time.sleep(2.5)
        code, text = c.reply()
        assert (code, text[:5]) == (421, "4.4.2")


def test_connections_per_ip_are_limited(strict):
    host, port = strict.listeners["smtp"]
    clients = [RawSmtp(host, port) for _ in range(3)]
    try:
        for c in clients:
            assert c.reply()[0] == 220
        with RawSmtp(host, port) as extra:
            code, text = extra.reply()
            assert (code, text[:5]) == (421, "4.7.0")
    finally:
        for c in clients:
            c.close()


RELAY_ATTEMPTS = [
    "<victim@remote.test>",
    "<victim%remote.test@example.test>",
    "<remote.test!victim@example.test>",
    '<"victim@remote.test"@example.test>',
    '<"victim%remote.test"@example.test>',
    "<@example.test:victim@remote.test>",
    "<@example.test,@relay.test:victim@remote.test>",
    "<victim@[192.0.2.1]>",
    "<victim@remote.test@example.test>",
    "<victim@example.test@remote.test>",
    "<victim@remote.test.>",
    "<VICTIM@REMOTE.TEST>",
    "<victim@example.test.remote.test>",
]


def test_classic_relay_attempts_are_all_refused_and_nothing_is_queued(mail_server):
    # RFC 5321 §3.6.2: no relaying for unauthenticated clients
    host, port = mail_server.listeners["smtp"]
    queued_before = queued_count(mail_server.data_dir)
    for target in RELAY_ATTEMPTS:
        with RawSmtp(host, port) as c:
            c.ehlo()
            assert c.command("MAIL FROM:<spammer@remote.test>")[0] == 250
            code, text = c.command(f"RCPT TO:{target}")
            assert code in (550, 501, 553), (target, code, text)
            c.send(b"DATA\r\n" + SIMPLE % b"relayed?" + b".\r\n")
            assert c.reply()[0] in (503, 554), target
    assert queued_count(mail_server.data_dir) == queued_before


def test_postmaster_is_accepted(mail_server):
    # RFC 5321 §4.5.1: <Postmaster> without a domain must be accepted; routed to postmaster@example.test
    host, port = mail_server.listeners["smtp"]
    with RawSmtp(host, port) as c:
        c.ehlo()
        c.command("MAIL FROM:<dave@remote.test>")
        code, _ = c.command("RCPT TO:<Postmaster>")
    assert code == 550  # no postmaster account or alias in this provisioning: said so plainly


def test_swaks_pipelining_against_the_mta(mail_server):
    host, port = mail_server.listeners["smtp"]
    before = len(inbox(mail_server.data_dir, "alice@example.test"))
    p = subprocess.run(["swaks", "--server", f"{host}:{port}", "--pipeline", "--from", "dave@remote.test",
                        "--to", "alice@example.test", "--header", "Subject: via swaks pipeline"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "<** " not in p.stdout  # swaks marks errors so
    assert b"via swaks pipeline" in inbox(mail_server.data_dir, "alice@example.test", expect=before + 1)[-1]


@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_swaks_auth_against_the_msa(mail_server, mechanism):
    host, port = mail_server.listeners["submission"]
    p = subprocess.run(["swaks", "--server", f"{host}:{port}", "--tls", "--auth", mechanism,
                        "--auth-user", "alice@example.test", "--auth-password", "alice-secret",
                        "--from", "alice@example.test", "--to", "carol@example.test",
                        "--header", f"Subject: swaks {mechanism}"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "235 2.7.0" in p.stdout
