"""The IMAP server end to end: imaplib (and a raw socket where imaplib cannot go) against the real
server, mail delivered through the real SMTP listener."""

from __future__ import annotations

import imaplib
import smtplib
import socket
import time

from tests.conftest import client_tls, inbox

PASSWORDS = {"alice@example.test": "alice-secret", "bob@example.test": "bob-secret",
             "carol@example.test": "carol-secret"}


def deliver(server, to: str, subject: str, body: str = "Hello.\r\n") -> None:
    host, port = server.listeners["smtp"]
    with smtplib.SMTP(host, port) as smtp:
        smtp.sendmail("dave@remote.test", [to], f"From: dave@remote.test\r\nTo: {to}\r\nSubject: {subject}\r\n\r\n{body}")


def connect(server, user: str) -> imaplib.IMAP4:
    host, port = server.listeners["imap"]
    imap = imaplib.IMAP4(host, port)
    imap.login(user, PASSWORDS[user])
    return imap


def count(server, user: str) -> int:
    return len(inbox(server.data_dir, user))


def deliver_and_wait(server, user: str, subject: str, body: str = "Hello.\r\n") -> bytes:
    before = count(server, user)
    deliver(server, user, subject, body)
    return inbox(server.data_dir, user, expect=before + 1)[-1]


def untagged(imap: imaplib.IMAP4, kind: str) -> list[bytes]:
    return imap.untagged_responses.pop(kind, [])


class Raw:
    """A line-level client for what imaplib does not do (IDLE, literals, raw syntax errors)."""

    def __init__(self, server, *, tls: bool = False) -> None:
        host, port = server.listeners["imaps" if tls else "imap"]
        sock = socket.create_connection((host, port), timeout=10)
        self.sock = client_tls().wrap_socket(sock) if tls else sock
        self.buf = b""
        self.greeting = self.line()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def until(self, prefix: bytes) -> list[bytes]:
        lines = []
        while True:
            lines.append(self.line())
            if lines[-1].startswith(prefix):
                return lines

    def close(self) -> None:
        self.sock.close()


def logged_in(server, user: str) -> Raw:
    """A Raw client, logged in as `user`."""
    raw = Raw(server)
    raw.send(f'l LOGIN {user} "{PASSWORDS[user]}"\r\n'.encode())
    assert raw.until(b"l ")[-1].startswith(b"l OK")
    return raw


# --- tests ------------------------------------------------------------------------------------------

def test_capability_and_login(mail_server):
    host, port = mail_server.listeners["imap"]
    with imaplib.IMAP4(host, port) as imap:
        # RFC 9051 §7.2.2: on loopback without TLS, plaintext login is allowed and STARTTLS offered.
        assert {"IMAP4REV1", "STARTTLS", "AUTH=PLAIN", "IDLE", "UNSELECT", "LITERAL+"} <= set(imap.capabilities)
        assert "LOGINDISABLED" not in imap.capabilities
        with_bad_password = None
        try:
            imap.login("alice@example.test", "wrong")
        except imaplib.IMAP4.error as e:
            with_bad_password = str(e)
        assert "AUTHENTICATIONFAILED" in with_bad_password  # RFC 5530 §3
        assert imap.login("alice@example.test", "alice-secret")[0] == "OK"
        assert imap.logout()[0] == "BYE"  # RFC 9051 §6.1.3: BYE, then the tagged OK


def test_authenticate_plain(mail_server):
    host, port = mail_server.listeners["imap"]
    with imaplib.IMAP4(host, port) as imap:
        # RFC 9051 §6.2.2, RFC 4616: an empty challenge, then the credentials.
        typ, _ = imap.authenticate("PLAIN", lambda _: b"\0bob@example.test\0bob-secret")
        assert typ == "OK" and imap.state == "AUTH"


def test_list_shows_the_default_mailboxes(mail_server):
    with connect(mail_server, "alice@example.test") as imap:
        typ, lines = imap.list()
        assert typ == "OK"
        text = b"\n".join(lines)
        assert b'(\\HasNoChildren) "/" INBOX' in text
        assert b'(\\HasNoChildren \\Sent) "/" Sent' in text  # RFC 6154 §2
        assert imap.list('""', "%")[0] == "OK"
        # RFC 9051 §6.3.9: an empty pattern gives the hierarchy delimiter.
        assert imap.list('""', '""')[1] == [b'(\\Noselect) "/" ""']


def test_select_noop_and_fetch_a_delivered_message(mail_server):
    user = "alice@example.test"
    with connect(mail_server, user) as imap:
        typ, data = imap.select("INBOX")
        assert typ == "OK"
        before = int(data[0])
        assert untagged(imap, "UIDVALIDITY") and untagged(imap, "UIDNEXT")
        stored = deliver_and_wait(mail_server, user, "fetch me", "Line one.\r\nLine two.\r\n")
        imap.noop()
        # RFC 9051 §7.4.1: the new message is announced by EXISTS after the next command.
        assert untagged(imap, "EXISTS")[-1] == str(before + 1).encode()
        n = str(before + 1)
        typ, data = imap.fetch(n, "(UID FLAGS RFC822.SIZE ENVELOPE)")
        assert typ == "OK"
        head = data[0] if isinstance(data[0], bytes) else data[0][0]
        assert b"RFC822.SIZE %d" % len(stored) in head
        assert b'"fetch me"' in head and b"FLAGS ()" in head
        typ, data = imap.fetch(n, "(BODY.PEEK[])")
        assert data[0][1] == stored  # the stored octets, exactly
        typ, data = imap.fetch(n, "(FLAGS)")
        assert b"\\Seen" not in data[0]  # PEEK leaves \Seen alone
        typ, data = imap.fetch(n, "(BODY[])")
        assert data[0][1] == stored
        # RFC 3501 §6.4.5: BODY[] sets \Seen, and the new flags are reported with it.
        assert b"\\Seen" in b"".join(p if isinstance(p, bytes) else p[0] for p in data)
        typ, data = imap.fetch(n, "(BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]<5.3>)")
        assert data[0][1] == b"Subject: fetch me\r\n\r\n"
        assert data[1][1] == b"one"
        typ, data = imap.fetch(n, "(RFC822.HEADER)")  # RFC 3501 §6.4.5: BODY.PEEK[HEADER]
        assert stored.startswith(data[0][1]) and data[0][1].endswith(b"Subject: fetch me\r\n\r\n")
        assert imap.fetch(n, "ALL")[0] == "OK"
        typ, data = imap.uid("FETCH", "1:*", "(BODYSTRUCTURE)")
        assert typ == "OK" and b'BODYSTRUCTURE ("TEXT" "PLAIN"' in data[-1]


def test_store_and_search(mail_server):
    user = "alice@example.test"
    deliver_and_wait(mail_server, user, "search pear")
    deliver_and_wait(mail_server, user, "search plum")
    with connect(mail_server, user) as imap:
        imap.select("INBOX")
        typ, data = imap.search(None, 'SUBJECT "search plum"')
        assert typ == "OK" and len(data[0].split()) == 1
        plum = data[0].decode()
        assert plum in imap.search(None, "UNSEEN")[1][0].decode().split()
        typ, data = imap.store(plum, "+FLAGS", "(\\Flagged)")
        assert typ == "OK" and b"\\Flagged" in data[0]  # RFC 9051 §6.4.6
        assert imap.search(None, "FLAGGED SUBJECT search")[1][0].decode().split() == [plum]
        typ, data = imap.uid("SEARCH", None, 'SUBJECT "search plum"')
        uid = data[0].decode()
        line = imap.uid("FETCH", uid, "(FLAGS)")[1][0]
        assert line.startswith(f"{plum} (".encode()) and f"UID {uid}".encode() in line  # RFC 9051 §6.4.9
        assert imap.store(plum, "-FLAGS.SILENT", "(\\Flagged)") == ("OK", [None])


def test_delete_and_expunge(mail_server):
    user = "alice@example.test"
    deliver_and_wait(mail_server, user, "expunge me")
    with connect(mail_server, user) as imap:
        exists = int(imap.select("INBOX")[1][0])
        n = imap.search(None, 'SUBJECT "expunge me"')[1][0].decode()
        imap.store(n, "+FLAGS.SILENT", "(\\Deleted)")
        typ, data = imap.expunge()
        assert typ == "OK" and data == [n.encode()]  # RFC 9051 §7.5.1: * n EXPUNGE
        assert imap.search(None, 'SUBJECT "expunge me"')[1] == [b""]
        assert imap.select("INBOX")[1][0] == str(exists - 1).encode()
    assert not any(b"expunge me" in m for m in inbox(mail_server.data_dir, user))


def test_close_expunges_silently(mail_server):
    user = "alice@example.test"
    deliver_and_wait(mail_server, user, "closed away")
    with connect(mail_server, user) as imap:
        imap.select("INBOX")
        n = imap.search(None, 'SUBJECT "closed away"')[1][0].decode()
        imap.store(n, "+FLAGS.SILENT", "(\\Deleted)")
        assert imap.close()[0] == "OK"
        assert not untagged(imap, "EXPUNGE")  # RFC 9051 §6.4.1: no EXPUNGE responses
        assert imap.state == "AUTH"
    assert not any(b"closed away" in m for m in inbox(mail_server.data_dir, user))


def test_other_sessions_hear_flags_and_expunges(mail_server):
    user = "bob@example.test"
    deliver_and_wait(mail_server, user, "shared one")
    deliver_and_wait(mail_server, user, "shared two")
    with connect(mail_server, user) as a, connect(mail_server, user) as b:
        a.select("INBOX")
        b.select("INBOX")
        n = a.search(None, 'SUBJECT "shared one"')[1][0].decode()
        a.store(n, "+FLAGS", "(\\Flagged)")
        b.noop()
        # RFC 9051 §7.5.2: flag changes made elsewhere arrive as FETCH FLAGS.
        assert any(line.startswith(f"{n} (FLAGS (\\Flagged)".encode()) for line in untagged(b, "FETCH"))
        a.store(n, "+FLAGS.SILENT", "(\\Deleted)")
        a.expunge()
        b.untagged_responses.clear()
        # RFC 9051 §7.5.1: no EXPUNGE while a FETCH by sequence number runs; the number stays valid.
        typ, _ = b.fetch("1:*", "(FLAGS)")
        assert typ == "OK" and not untagged(b, "EXPUNGE")
        b.noop()
        assert untagged(b, "EXPUNGE") == [n.encode()]


def test_idle_hears_a_delivery(mail_server):
    user = "carol@example.test"
    raw = Raw(mail_server)
    try:
        raw.send(b"a1 LOGIN carol@example.test carol-secret\r\n")
        assert raw.until(b"a1 ")[-1].startswith(b"a1 OK")
        raw.send(b"a2 SELECT INBOX\r\n")
        lines = raw.until(b"a2 ")
        exists = int(next(line for line in lines if line.endswith(b" EXISTS")).split()[1])
        raw.send(b"a3 IDLE\r\n")
        assert raw.line() == b"+ idling"  # RFC 2177 §3
        started = time.monotonic()
        deliver(mail_server, user, "while idling")
        assert raw.line() == b"* %d EXISTS" % (exists + 1)
        assert time.monotonic() - started < 5
        raw.send(b"DONE\r\n")
        assert raw.until(b"a3 ")[-1].startswith(b"a3 OK")
    finally:
        raw.close()


def test_bad_syntax_gets_bad_and_the_session_goes_on(mail_server):
    raw = Raw(mail_server)
    try:
        raw.send(b"a1 FROBNICATE\r\n")
        assert raw.line().startswith(b"a1 BAD")
        raw.send(b"a2 FETCH\r\n")
        assert raw.line().startswith(b"a2 BAD")
        raw.send(b"a3 SELECT INBOX\r\n")
        assert raw.line().startswith(b"a3 BAD")  # not authenticated yet: wrong state
        # RFC 9051 §4.3, §7.6: a synchronizing literal waits for "+", LITERAL+ does not (RFC 7888).
        raw.send(b"a4 LOGIN {18}\r\n")
        assert raw.line().startswith(b"+ ")
        raw.send(b"carol@example.test {12+}\r\ncarol-secret\r\n")
        assert raw.until(b"a4 ")[-1].startswith(b"a4 OK")
        raw.send(b"a5 NOOP\r\n")
        assert raw.line().startswith(b"a5 OK")
        raw.send(b"a6 APPEND NoSuchBox {1+}\r\nx\r\n")
        assert raw.until(b"a6 ")[-1].startswith(b"a6 NO [TRYCREATE]")  # RFC 9051 §6.3.12
    finally:
        raw.close()
    with connect(mail_server, "carol@example.test") as imap:
        imap.select("INBOX")
        try:
            imap.fetch("1", "(NOSUCHTHING)")
        except imaplib.IMAP4.error as e:
            assert "BAD" in str(e) or "Unknown" in str(e)
        else:
            raise AssertionError("BAD expected")
        assert imap.noop()[0] == "OK"


def test_starttls_then_login(mail_server):
    host, port = mail_server.listeners["imap"]
    with imaplib.IMAP4(host, port) as imap:
        assert imap.starttls(ssl_context=client_tls())[0] == "OK"  # RFC 9051 §6.2.1
        assert "STARTTLS" not in imap.capabilities
        assert imap.login("bob@example.test", "bob-secret")[0] == "OK"
        assert imap.select("INBOX")[0] == "OK"


def test_implicit_tls(mail_server):
    host, port = mail_server.listeners["imaps"]
    with imaplib.IMAP4_SSL(host, port, ssl_context=client_tls()) as imap:
        assert "STARTTLS" not in imap.capabilities  # RFC 8314 §3.2: already TLS
        assert imap.login("bob@example.test", "bob-secret")[0] == "OK"
        assert imap.select("INBOX", readonly=True)[0] == "OK"  # EXAMINE
        assert "READ-ONLY" in imap.untagged_responses  # RFC 9051 §6.3.3: tagged OK [READ-ONLY]
        try:
            imap.store("1:*", "+FLAGS", "(\\Flagged)")
        except imaplib.IMAP4.error as e:
            assert "READ-ONLY" in str(e) or "readonly" in str(e)


def test_examine_is_read_only(mail_server):
    raw = Raw(mail_server)
    try:
        raw.send(b"a1 LOGIN bob@example.test bob-secret\r\na2 EXAMINE inbox\r\n")
        assert raw.until(b"a2 ")[-1].startswith(b"a2 OK [READ-ONLY]")  # RFC 9051 §6.3.3
        raw.send(b"a3 STORE 1:* +FLAGS (\\Flagged)\r\n")
        assert raw.until(b"a3 ")[-1].startswith(b"a3 NO [READ-ONLY]")
        raw.send(b"a4 FETCH 999999 FLAGS\r\n")
        assert raw.until(b"a4 ")[-1].startswith(b"a4 BAD")  # RFC 9051 §9 seq-number: above the count
        raw.send(b"a5 UNSELECT\r\na6 FETCH 1 FLAGS\r\n")
        assert raw.until(b"a5 ")[-1].startswith(b"a5 OK")  # RFC 3691
        assert raw.until(b"a6 ")[-1].startswith(b"a6 BAD")  # no mailbox selected
        raw.send(b"a7 LOGOUT\r\n")
        assert raw.line().startswith(b"* BYE") and raw.line().startswith(b"a7 OK")
    finally:
        raw.close()


def test_plaintext_is_refused_off_loopback_without_tls():
    import asyncio

    from postoffice.imap.outcome import encode
    from postoffice.imap.session import ImapSession
    from postoffice.imap.wire import Login

    session = ImapSession(store=None, hostname="mail.example.test", client_ip="192.0.2.1", is_loopback=False)
    caps = session.capabilities()
    # RFC 9051 §6.2.3, §7.2.2: LOGINDISABLED, no AUTH=, and STARTTLS to get there.
    assert "LOGINDISABLED" in caps and "STARTTLS" in caps and "AUTH=PLAIN" not in caps
    outcome = asyncio.run(session.handle(Login("t1", "alice@example.test", "alice-secret")))
    assert encode(outcome).startswith(b"t1 NO [PRIVACYREQUIRED]")
    session.tls_started()
    assert "AUTH=PLAIN" in session.capabilities() and "STARTTLS" not in session.capabilities()


def _uid_of(raw: Raw, subject: str) -> int:
    raw.send(f'u UID SEARCH SUBJECT "{subject}"\r\n'.encode())
    lines = raw.until(b"u ")
    assert lines[-1].startswith(b"u OK")
    return int(next(line for line in lines if line.startswith(b"* SEARCH ")).split()[-1])


def _unseen(raw: Raw) -> int:
    raw.send(b"s STATUS INBOX (UNSEEN)\r\n")
    lines = raw.until(b"s ")
    assert lines[-1].startswith(b"s OK")
    return int(next(line for line in lines if line.startswith(b"* STATUS ")).rstrip(b")").split()[-1])


def test_a_flag_that_starts_like_deleted_is_not_deleted(mail_server):
    # RFC 9051 §6.4.3: EXPUNGE removes the messages with \Deleted, and only those; a
    # flag-extension such as "\DeletedX" (RFC 9051 §9) is another flag, as "\SeenX" is not \Seen.
    user = "carol@example.test"
    deliver_and_wait(mail_server, user, "not deleted by a longer flag")
    raw = logged_in(mail_server, user)
    try:
        raw.send(b"a SELECT INBOX\r\n")
        assert raw.until(b"a ")[-1].startswith(b"a OK")
        uid = _uid_of(raw, "not deleted by a longer flag")
        unseen = _unseen(raw)
        raw.send(b"b UID STORE %d +FLAGS.SILENT (\\DeletedX \\SeenX)\r\n" % uid)
        assert raw.until(b"b ")[-1].startswith(b"b OK")
        assert _unseen(raw) == unseen
        raw.send(b"c EXPUNGE\r\n")
        lines = raw.until(b"c ")
        assert lines[-1].startswith(b"c OK") and not any(line.endswith(b" EXPUNGE") for line in lines)
        raw.send(b"d UID FETCH %d (FLAGS)\r\n" % uid)
        lines = raw.until(b"d ")
        assert lines[-1].startswith(b"d OK") and any(b"UID %d " % uid in line for line in lines[:-1])
    finally:
        raw.close()
    assert any(b"not deleted by a longer flag" in m for m in inbox(mail_server.data_dir, user))


def test_recent_is_never_reported_by_a_flags_fetch(mail_server):
    # RFC 9051 §2.3.2: \Recent is gone; FETCH (FLAGS) answers alike whichever way the server reads
    # them, also for a row that holds it (an older store or an import).
    import sqlite3

    user = "carol@example.test"
    deliver_and_wait(mail_server, user, "a row with recent")
    raw = logged_in(mail_server, user)
    try:
        raw.send(b"a SELECT INBOX\r\n")
        assert raw.until(b"a ")[-1].startswith(b"a OK")
        uid = _uid_of(raw, "a row with recent")
        with sqlite3.connect(mail_server.data_dir / "store.sqlite3") as db:
            db.execute("UPDATE messages SET flags = '\\Recent' WHERE uid = ? AND mailbox = (SELECT m.id FROM"
                       " mailboxes m JOIN accounts a ON a.id = m.account WHERE a.address = ? AND m.name = 'INBOX')",
                       (uid, user))
        for command in (b"UID FETCH %d (FLAGS)" % uid, b"UID FETCH %d (FLAGS RFC822.SIZE)" % uid):
            raw.send(b"f " + command + b"\r\n")
            lines = raw.until(b"f ")
            assert lines[-1].startswith(b"f OK")
            fetched = [line for line in lines if b" FETCH " in line]
            assert fetched and b"FLAGS ()" in fetched[0] and b"Recent" not in fetched[0]
    finally:
        raw.close()
