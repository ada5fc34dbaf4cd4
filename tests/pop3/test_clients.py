"""Real POP3 clients against our server: curl, fetchmail; and the journey POP3 leaves."""

from __future__ import annotations

import base64
import os
import poplib
import smtplib
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import TEST_CONFIG, client_tls, inbox, provision, start_server
from tests.scram import ScramClient, b64


def deliver_many(server, to: str, count: int, tag: str) -> None:
    host, port = server.listeners["smtp"]
    with smtplib.SMTP(host, port) as smtp:
        for i in range(count):
            smtp.sendmail("dave@remote.test", [to], f"From: dave@remote.test\r\nTo: {to}\r\n"
                          f"Subject: {tag} {i}\r\nMessage-ID: <{tag}-{i}@remote.test>\r\n\r\nBody {i}.\r\n")


@pytest.fixture
def server(tmp_path):
    data_dir = tmp_path / "data"
    provision(data_dir)
    s = start_server(data_dir, TEST_CONFIG)
    yield s
    s.stop()


def test_curl_lists_and_retrieves(server):
    deliver_many(server, "bob@example.test", 3, "curl")
    inbox(server.data_dir, "bob@example.test", expect=3)
    host, port = server.listeners["pop3"]
    url = f"pop3://{host}:{port}/"
    auth = ["--user", "bob@example.test:bob-secret"]
    listing = subprocess.run(["curl", "-sS", *auth, url], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert [line.split()[0] for line in listing.stdout.splitlines()] == ["1", "2", "3"]
    message = subprocess.run(["curl", "-sS", *auth, url + "2"], capture_output=True, timeout=60)
    assert message.returncode == 0 and b"Subject: curl 1" in message.stdout
    stls = subprocess.run(["curl", "-sS", "--ssl-reqd", "--insecure", *auth, url + "1"], capture_output=True,
                          timeout=60)  # RFC 2595 STLS
    assert stls.returncode == 0 and b"Subject: curl 0" in stls.stdout
    host, port = server.listeners["pop3s"]
    implicit = subprocess.run(["curl", "-sS", "--insecure", *auth, f"pop3s://{host}:{port}/3"], capture_output=True,
                              timeout=60)
    assert implicit.returncode == 0 and b"Subject: curl 2" in implicit.stdout


def fetchmail(server, tmp_path: Path, *, keep: bool) -> Path:
    host, port = server.listeners["pop3"]
    mbox = tmp_path / ("kept.mbox" if keep else "fetched.mbox")
    rc = tmp_path / "fetchmailrc"
    rc.write_text(f'poll {host} protocol POP3 service {port} auth password\n'
                  f'  user "alice@example.test" password "alice-secret" is root here\n'
                  f'  sslproto "" mda "/bin/sh -c \'cat >> {mbox}\'"\n')
    rc.chmod(0o600)
    args = ["fetchmail", "-f", str(rc), "--nosyslog", "--nodetach", "--all", "--pidfile", str(tmp_path / "fm.pid")]
    if keep:
        args.append("--keep")
    p = subprocess.run(args, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "HOME": str(tmp_path), "FETCHMAILHOME": str(tmp_path)})
    assert p.returncode == 0, p.stdout + p.stderr
    return mbox


def test_fetchmail_with_and_without_keep(server, tmp_path):
    deliver_many(server, "alice@example.test", 50, "fetch")
    inbox(server.data_dir, "alice@example.test", expect=50)
    kept = fetchmail(server, tmp_path, keep=True)
    assert kept.read_bytes().count(b"Subject: fetch ") == 50
    assert len(inbox(server.data_dir, "alice@example.test")) == 50  # --keep: still on the server
    fetched = fetchmail(server, tmp_path, keep=False)
    assert fetched.read_bytes().count(b"Subject: fetch ") == 50
    assert inbox(server.data_dir, "alice@example.test") == []  # downloaded and deleted, as POP means


def test_trace_shows_retrieval_and_deletion(server, cli):
    deliver_many(server, "carol@example.test", 1, "journey")
    inbox(server.data_dir, "carol@example.test", expect=1)
    host, port = server.listeners["pop3"]
    pop = poplib.POP3(host, port, timeout=20)
    pop.user("carol@example.test")
    pop.pass_("carol-secret")
    pop.retr(1)
    pop.dele(1)
    pop.quit()
    out = cli("trace", "<journey-0@remote.test>", "--data-dir", str(server.data_dir)).out
    stages = [line.split()[2] for line in out.splitlines()[1:]]
    assert stages[-2:] == ["retrieved", "deleted"], out
    assert "by POP3 as carol@example.test" in out


def test_auth_plain_and_scram_sha_256(server):
    # RFC 5034 §4 with SASL-IR; RFC 7677 over POP3
    deliver_many(server, "bob@example.test", 1, "sasl")
    inbox(server.data_dir, "bob@example.test", expect=1)
    host, port = server.listeners["pop3s"]
    pop = poplib.POP3_SSL(host, port, context=client_tls(), timeout=20)
    assert pop._shortcmd("AUTH PLAIN " + base64.b64encode(b"\0bob@example.test\0bob-secret").decode()).startswith(b"+OK")
    assert pop.stat()[0] == 1
    pop.quit()
    pop = poplib.POP3_SSL(host, port, context=client_tls(), timeout=20)
    scram = ScramClient("bob@example.test", "bob-secret")
    pop._putcmd("AUTH SCRAM-SHA-256 " + b64(scram.first()))
    line = pop._getline()[0]
    assert line.startswith(b"+ ")
    pop._putcmd(b64(scram.final(base64.b64decode(line[2:]))))
    line = pop._getline()[0]
    assert line.startswith(b"+ ") and base64.b64decode(line[2:]) == scram.expected_server_signature
    pop._putcmd("")
    assert pop._getline()[0].startswith(b"+OK")
    assert pop.stat()[0] == 1
    pop.quit()


def test_plaintext_refused_before_stls_and_idle_timeout(tmp_path):
    data_dir = tmp_path / "data"
    provision(data_dir)
    s = start_server(data_dir, TEST_CONFIG + '[pop3]\nplaintext_auth = "never"\nidle_timeout_s = 1\n')
    try:
        host, port = s.listeners["pop3"]
        pop = poplib.POP3(host, port, timeout=20)
        assert "USER" not in pop.capa() and "SASL" not in pop.capa()  # RFC 2595 §4: not offered before STLS
        with pytest.raises(poplib.error_proto) as e:
            pop.user("bob@example.test")
        assert e.value.args[0].startswith(b"-ERR [AUTH]")
        pop.stls(context=client_tls())
        pop.user("bob@example.test")
        pop.pass_("bob-secret")
        time.sleep(1.5)
        with pytest.raises((poplib.error_proto, OSError)):
            pop.stat()  # closed for idleness
    finally:
        s.stop()
