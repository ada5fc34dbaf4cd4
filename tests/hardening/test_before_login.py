"""What a client that has not logged in can cost the server, and the limits that stop counting
once it has (issue: an office behind one NAT address must not be locked out).

Real sockets against a real server process; memory is the server's RSS from /proc.
"""

from __future__ import annotations

import imaplib
import poplib
import smtplib
import socket
import threading
import time
from pathlib import Path

import pytest

from postoffice.config import Imap
from postoffice.imap.listener import login_cost as imap_login_cost
from tests.conftest import TEST_CONFIG, client_tls, provision, start_server

LITERAL = 24_000_000


def imap_when_free(host: str, port: int, timeout: float = 10) -> imaplib.IMAP4:
    """An IMAP connection once the server has counted the closes of earlier ones."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return imaplib.IMAP4(host, port)
        except imaplib.IMAP4.error:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def read_until(sock: socket.socket, marker: bytes, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("before-login") / "data"
    provision(data_dir)
    s = start_server(data_dir, TEST_CONFIG + """
[imap]
max_connections_per_ip = 4
max_connections_per_account_ip = 2
[pop3]
max_connections_per_ip = 4
[submission]
max_connections_per_account_ip = 2
""")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory):
    """The embedded defaults."""
    data_dir = tmp_path_factory.mktemp("defaults") / "data"
    provision(data_dir)
    s = start_server(data_dir, TEST_CONFIG)
    yield s
    s.stop()


def test_huge_literals_before_login_are_refused_at_announcement_and_not_buffered(plain_server):
    # RFC 7888 §4 (choice 2 for "{n+}": BAD [TOOBIG] then BYE, the octets never read); RFC 9051 §7.1
    server = plain_server
    host, port = server.listeners["imap"]
    before = rss_bytes(server.process.pid)
    answers: list[bytes] = []
    lock = threading.Lock()

    def attacker(n: int) -> None:
        with socket.create_connection((host, port)) as s:
            read_until(s, b"\r\n")
            s.sendall(b"a LOGIN {%d+}\r\n" % LITERAL)
            answer = read_until(s, b"BYE")
            chunk = b"x" * 1_000_000
            try:
                for _ in range(LITERAL // len(chunk)):
                    s.sendall(chunk)
            except OSError:
                pass  # closed by the server, as it should
            with lock:
                answers.append(answer)

    threads = [threading.Thread(target=attacker, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    with imaplib.IMAP4(host, port) as fresh:  # meanwhile a legitimate client logs in
        assert fresh.login("alice@example.test", "alice-secret")[0] == "OK"
    for t in threads:
        t.join(60)
    assert len(answers) == 10
    assert all(b"a BAD [TOOBIG]" in a and b"* BYE [TOOBIG]" in a for a in answers), answers
    grown = rss_bytes(server.process.pid) - before
    assert grown < 50_000_000, f"the server grew by {grown} bytes"


def test_a_synchronizing_literal_too_big_before_login_gets_no_continuation(server):
    # RFC 9051 §7.5: no "+" means the client must not send the octets; the connection goes on.
    host, port = server.listeners["imap"]
    with socket.create_connection((host, port)) as s:
        read_until(s, b"\r\n")
        s.sendall(b"a LOGIN {9000}\r\n")
        assert read_until(s, b"\r\n").startswith(b"a BAD [TOOBIG]")
        s.sendall(b"b LOGIN alice@example.test alice-secret\r\n")
        assert b"b OK" in read_until(s, b"b OK")


def test_the_per_address_cap_counts_only_connections_that_have_not_logged_in(server):
    host, port = server.listeners["imap"]
    office = []
    try:
        for user in ("alice", "bob", "carol", "alice"):  # four people (or devices) behind one address
            c = imaplib.IMAP4(host, port)
            c.login(f"{user}@example.test", f"{user}-secret")
            office.append(c)
        waiting = [socket.create_connection((host, port)) for _ in range(4)]  # four more, not logged in
        try:
            assert all(read_until(s, b"\r\n").startswith(b"* OK") for s in waiting)
            with socket.create_connection((host, port)) as refused:
                assert read_until(refused, b"\r\n").startswith(b"* BYE [UNAVAILABLE]")
        finally:
            for s in waiting:
                s.close()
        # Dovecot's mail_max_userip_connections: here 2 per account and address.
        third = imap_when_free(host, port)
        with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE"):
            third.login("alice@example.test", "alice-secret")
        assert third.login("bob@example.test", "bob-secret")[0] == "OK"  # another account is fine
        office.append(third)
    finally:
        for c in office:
            c.logout()


def test_submission_counts_logins_per_account_and_answers_454(server):
    # RFC 4954 §6: 454 4.7.0, a temporary authentication failure
    host, port = server.listeners["submission"]
    sessions = []
    try:
        for _ in range(2):
            s = smtplib.SMTP(host, port)
            s.starttls(context=client_tls())
            s.login("alice@example.test", "alice-secret")
            sessions.append(s)
        extra = smtplib.SMTP(host, port)
        extra.starttls(context=client_tls())
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            extra.login("alice@example.test", "alice-secret")
        assert refused.value.smtp_code == 454 and refused.value.smtp_error.startswith(b"4.7.0")
        sessions[0].quit()
        sessions.pop(0)
        extra.login("alice@example.test", "alice-secret")  # a place is free again
        sessions.append(extra)
    finally:
        for s in sessions:
            s.quit()


def test_a_relaying_mta_may_hold_many_connections_to_port_25(server):
    # Postfix's smtpd_client_connection_count_limit is 50; a relaying MTA opens up to 20 at once.
    host, port = server.listeners["smtp"]
    conns = [socket.create_connection((host, port)) for _ in range(30)]
    try:
        assert all(read_until(s, b"\r\n").startswith(b"220 ") for s in conns)
    finally:
        for s in conns:
            s.close()


def test_pop3_before_login_is_capped_per_address_and_logged_in_sessions_are_not(server):
    host, port = server.listeners["pop3"]
    logged = []
    for user in ("alice", "bob", "carol"):
        p = poplib.POP3(host, port)
        p.user(f"{user}@example.test")
        p.pass_(f"{user}-secret")
        logged.append(p)
    try:
        waiting = [socket.create_connection((host, port)) for _ in range(4)]
        try:
            assert all(read_until(s, b"\r\n").startswith(b"+OK") for s in waiting)
            with socket.create_connection((host, port)) as refused:
                assert read_until(refused, b"\r\n").startswith(b"-ERR [SYS/TEMP]")
        finally:
            for s in waiting:
                s.close()
    finally:
        for p in logged:
            p.quit()


def test_silence_before_login_ends_sooner_than_after_it(tmp_path):
    data_dir = tmp_path / "data"
    provision(data_dir)
    server = start_server(data_dir, TEST_CONFIG + """
[imap]
login_timeout_s = 1
[pop3]
login_timeout_s = 1
""")
    try:
        host, port = server.listeners["imap"]
        with socket.create_connection((host, port)) as idle:
            read_until(idle, b"\r\n")
            assert b"* BYE" in read_until(idle, b"BYE", timeout=30)  # RFC 9051 §5.4: autologout
        logged = imaplib.IMAP4(host, port)
        logged.login("alice@example.test", "alice-secret")
        time.sleep(2.5)
        assert logged.noop()[0] == "OK"  # the login's idle time is the long one
        logged.logout()
        pop_host, pop_port = server.listeners["pop3"]
        with socket.create_connection((pop_host, pop_port)) as idle:
            read_until(idle, b"\r\n")
            assert b"-ERR" in read_until(idle, b"-ERR", timeout=30)
    finally:
        server.stop()


def test_memory_before_login_has_one_budget_for_every_protocol(tmp_path):
    data_dir = tmp_path / "data"
    provision(data_dir)
    # Room for three IMAP connections not logged in, and then nothing for any protocol.
    budget = 3 * imap_login_cost(Imap()) + 1
    server = start_server(data_dir, f"max_login_memory_bytes = {budget}\n" + TEST_CONFIG)
    try:
        host, port = server.listeners["imap"]
        first = [socket.create_connection((host, port)) for _ in range(3)]
        try:
            assert all(read_until(s, b"\r\n").startswith(b"* OK") for s in first)
            with socket.create_connection(server.listeners["pop3"]) as refused:
                assert read_until(refused, b"\r\n").startswith(b"-ERR [SYS/TEMP]")
            with pytest.raises(imaplib.IMAP4.error, match="UNAVAILABLE"):
                imaplib.IMAP4(host, port)  # refused too, until one of the others goes or logs in
        finally:
            for s in first[1:]:
                s.close()
        client = imap_when_free(host, port)
        assert client.login("alice@example.test", "alice-secret")[0] == "OK"
        client.logout()
        first[0].close()
    finally:
        server.stop()


def test_large_literals_of_logged_in_clients_take_turns_within_the_budget(tmp_path):
    # After login: a large literal is read only when the budget has room; RFC 9051 §7.5: no "+"
    # means the client waits, so memory stays bounded however many sessions APPEND at once.
    data_dir = tmp_path / "data"
    provision(data_dir)
    server = start_server(data_dir, TEST_CONFIG + "[imap]\nmax_literal_memory_bytes = 3000000\n")
    size = 2_000_000
    message = b"Subject: big\r\n\r\n" + b"x" * (size - 16)
    try:
        host, port = server.listeners["imap"]
        first, second = (socket.create_connection((host, port)) for _ in range(2))
        for s, user in ((first, "alice"), (second, "bob")):
            read_until(s, b"\r\n")
            s.sendall(f"l LOGIN {user}@example.test {user}-secret\r\n".encode())
            assert b"l OK" in read_until(s, b"l OK")
        first.sendall(b"a APPEND INBOX {%d}\r\n" % size)
        assert read_until(first, b"\r\n").startswith(b"+")
        second.sendall(b"b APPEND INBOX {%d}\r\n" % size)
        second.settimeout(1.5)
        with pytest.raises(TimeoutError):
            second.recv(100)  # no room yet: no continuation
        first.sendall(message + b"\r\n")
        assert b"a OK" in read_until(first, b"a OK")
        assert read_until(second, b"\r\n").startswith(b"+")  # its turn now
        second.sendall(message + b"\r\n")
        assert b"b OK" in read_until(second, b"b OK")
        first.close()
        second.close()
    finally:
        server.stop()
