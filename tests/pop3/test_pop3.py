"""POP3 over real sockets with poplib: every command, every error, the lock, UIDL, QUIT semantics."""

from __future__ import annotations

import poplib
import smtplib
import socket
import time

import pytest

from tests.conftest import client_tls, inbox

SUBJECTS = [f"pop {i}" for i in range(1, 6)]


def deliver(server, to: str, subject: str, body: str = "Hello.\r\n.starts with a dot\r\n") -> None:
    host, port = server.listeners["smtp"]
    with smtplib.SMTP(host, port) as smtp:
        smtp.sendmail("dave@remote.test", [to], f"From: dave@remote.test\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}")


@pytest.fixture(scope="module")
def pop_server(mail_server):
    for subject in SUBJECTS:
        deliver(mail_server, "carol@example.test", subject)
    inbox(mail_server.data_dir, "carol@example.test", expect=len(SUBJECTS))
    return mail_server


def login(server, user="carol@example.test", password="carol-secret", *, tls="stls") -> poplib.POP3:
    if tls == "implicit":
        host, port = server.listeners["pop3s"]
        pop = poplib.POP3_SSL(host, port, context=client_tls(), timeout=20)
    else:
        host, port = server.listeners["pop3"]
        pop = poplib.POP3(host, port, timeout=20)
        if tls == "stls":
            pop.stls(context=client_tls())
    pop.user(user)
    pop.pass_(password)
    return pop


def test_capa_before_and_after_stls(pop_server):
    # RFC 2449 §5, RFC 2595 §4
    host, port = pop_server.listeners["pop3"]
    pop = poplib.POP3(host, port, timeout=20)
    caps = pop.capa()
    assert {"TOP", "UIDL", "PIPELINING", "RESP-CODES", "AUTH-RESP-CODE", "STLS", "USER", "EXPIRE"} <= set(caps)
    assert caps["SASL"] == ["PLAIN", "LOGIN", "SCRAM-SHA-256"] and caps["IMPLEMENTATION"] == ["postoffice"]
    pop.stls(context=client_tls())
    assert "STLS" not in pop.capa()
    pop.quit()


def test_stat_list_uidl_retr_top_with_stls(pop_server):
    pop = login(pop_server)
    count, octets = pop.stat()
    assert count == len(SUBJECTS)
    listing = pop.list()[1]
    sizes = [int(line.split()[1]) for line in listing]
    assert sum(sizes) == octets and len(sizes) == count
    for n in range(1, count + 1):
        _, lines, sent = pop.retr(n)
        message = b"\r\n".join(lines) + b"\r\n"
        assert len(message) == sizes[n - 1]  # LIST gives the octets RETR sends (before stuffing)
        assert f"Subject: {SUBJECTS[n - 1]}".encode() in message
        assert message.endswith(b"Hello.\r\n.starts with a dot\r\n")  # byte-stuffing undone by poplib
    top = pop.top(1, 0)[1]
    assert top[-1] == b"" and any(line.startswith(b"Subject: pop 1") for line in top)  # RFC 1939 §7
    assert pop.top(1, 1)[1][-1] == b"Hello."
    uidl = [line.split() for line in pop.uidl()[1]]
    assert [int(n) for n, _ in uidl] == list(range(1, count + 1)) and len({u for _, u in uidl}) == count
    assert pop.uidl(2).split()[2] == uidl[1][1]
    assert pop.list(3).split()[2] == str(sizes[2]).encode()
    pop.noop()
    pop.quit()


def test_implicit_tls(pop_server):
    pop = login(pop_server, tls="implicit")
    assert pop.stat()[0] == len(SUBJECTS)
    pop.quit()


def test_errors_keep_the_session(pop_server):
    pop = login(pop_server)
    for call, args in [(pop.retr, (99,)), (pop.dele, (0,)), (pop.list, (99,)), (pop.top, (99, 1)),
                       (pop.uidl, (99,))]:
        with pytest.raises(poplib.error_proto) as e:
            call(*args)
        assert e.value.args[0].startswith(b"-ERR")
    pop.quit()
    pop = login(pop_server)
    for bad in [b"FOO", b"RETR", b"RETR x", b"RETR 1 2", b"TOP 1", b"DELE -1", b"LIST 99999999999", b"USER x"]:
        with pytest.raises(poplib.error_proto):
            pop._shortcmd(bad.decode())
    pop.quit()
    pop = login(pop_server)
    pop.dele(1)
    with pytest.raises(poplib.error_proto) as e:
        pop.dele(1)
    assert b"deleted" in e.value.args[0]
    with pytest.raises(poplib.error_proto):
        pop.retr(1)  # RFC 1939 §5: a deleted message may not be referred to
    assert pop.stat()[0] == len(SUBJECTS) - 1
    pop.rset()
    assert pop.stat()[0] == len(SUBJECTS)
    pop.quit()  # after RSET nothing is deleted
    assert len(inbox(pop_server.data_dir, "carol@example.test")) == len(SUBJECTS)


def test_bad_password_and_unknown_user_get_auth_code(pop_server):
    host, port = pop_server.listeners["pop3"]
    pop = poplib.POP3(host, port, timeout=20)
    pop.stls(context=client_tls())
    pop.user("carol@example.test")
    with pytest.raises(poplib.error_proto) as e:
        pop.pass_("wrong")
    assert e.value.args[0].startswith(b"-ERR [AUTH]")  # RFC 3206 §4
    pop.user("nobody@example.test")
    with pytest.raises(poplib.error_proto) as e:
        pop.pass_("x")
    assert e.value.args[0].startswith(b"-ERR [AUTH]")
    with pytest.raises(poplib.error_proto):
        pop.stat()  # still in AUTHORIZATION
    pop.quit()


def test_a_second_session_gets_in_use(pop_server):
    # RFC 2449 §8.1.1
    first = login(pop_server)
    with pytest.raises(poplib.error_proto) as e:
        login(pop_server)
    assert e.value.args[0].startswith(b"-ERR [IN-USE]")
    first.quit()
    login(pop_server).quit()  # free again after QUIT


def test_dropped_connection_deletes_nothing_and_frees_the_lock(pop_server):
    pop = login(pop_server)
    pop.dele(1)
    pop.dele(2)
    pop.sock.shutdown(socket.SHUT_RDWR)  # the connection drops: no QUIT
    pop.sock.close()

    for _ in range(50):  # the server notices the close and frees the maildrop
        try:
            again = login(pop_server)
            break
        except poplib.error_proto:
            time.sleep(0.05)
    assert again.stat()[0] == len(SUBJECTS)
    again.quit()


def test_uidl_is_stable_across_sessions_and_dele_at_quit_removes(mail_server):
    for i in range(3):
        deliver(mail_server, "bob@example.test", f"stable {i}")
    inbox(mail_server.data_dir, "bob@example.test", expect=3)
    pop = login(mail_server, "bob@example.test", "bob-secret")
    first = dict(line.decode().split()[::-1] for line in pop.uidl()[1])  # uid -> number
    n_total = len(first)
    pop.dele(1)
    pop.quit()
    pop = login(mail_server, "bob@example.test", "bob-secret")
    second = [line.decode().split()[1] for line in pop.uidl()[1]]
    assert len(second) == n_total - 1
    assert set(second) < set(first)  # the same messages keep their unique ids
    pop.quit()


def test_plaintext_before_stls_is_allowed_on_loopback(pop_server):
    pop = login(pop_server, tls="none")
    assert pop.stat()[0] >= 1
    pop.quit()


def test_over_long_line_and_garbage(pop_server):
    host, port = pop_server.listeners["pop3"]
    with socket.create_connection((host, port), timeout=20) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"+OK")
        s.sendall(b"USER " + b"a" * 100_000 + b"\r\nNOOP\r\nCAPA\r\n")
        assert f.readline().startswith(b"-ERR")  # RFC 2449 §4: the line is too long
        assert f.readline().startswith(b"-ERR")  # NOOP is not valid before login
        assert f.readline().startswith(b"+OK")   # CAPA is
        with pytest.raises(OSError):  # errors, then the session is closed under the sender
            for _ in range(200):
                s.sendall(bytes(range(1, 30)) + b"\r\n")
                time.sleep(0.01)
        lines = f.read().split(b"\r\n")
        assert lines[-2] == b"-ERR too many errors, closing connection"
    login(pop_server).quit()  # the server is fine


def test_retr_gives_back_the_delivered_message_byte_for_byte(mail_server):
    # the whole flow: submission, delivery, RETR
    host, port = mail_server.listeners["submission"]
    original = (b"From: alice@example.test\r\nTo: carol@example.test\r\nSubject: exact bytes\r\n"
                b"Message-ID: <exact@example.test>\r\nDate: Sat, 28 Nov 2026 10:00:00 +0000\r\n\r\n"
                b".leading dot\r\n..two dots\r\n\tTab and trailing space \r\n\r\n.\r\nend\r\n")
    with smtplib.SMTP(host, port) as smtp:
        smtp.starttls(context=client_tls())
        smtp.login("alice@example.test", "alice-secret")
        smtp.sendmail("alice@example.test", ["carol@example.test"], original)
    stored = inbox(mail_server.data_dir, "carol@example.test", expect=1)
    stored = [m for m in stored if b"exact bytes" in m][-1]
    assert stored.endswith(original)  # only trace fields were added at the top
    pop = login(mail_server)
    for n in range(pop.stat()[0], 0, -1):
        _, lines, _ = pop.retr(n)
        retrieved = b"\r\n".join(lines) + b"\r\n"
        if b"exact bytes" in retrieved:
            break
    pop.quit()
    assert retrieved == stored
