"""What goes wrong is told in one line on stderr, with a non-zero exit, and nothing is half-sent."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import types

import pytest

from tests.conftest import POSTOFFICE
from tests.mua.conftest import Person, add_account, find_uids, marker


def one_line_failure(r, *words: str) -> None:
    assert r.code != 0, r.out
    assert r.err.count("\n") == 1 and r.err.startswith("postoffice: "), r.err
    assert "Traceback" not in r.err
    for word in words:
        assert word in r.err, r.err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def sender(tmp_path, mail_server) -> Person:
    person = Person(tmp_path / "alice", "alice@example.test")
    add_account(person, mail_server, tls="starttls")
    return person


def test_wrong_password(tmp_path, mail_server, sender):
    wrong = Person(tmp_path / "wrong", "alice@example.test")
    add_account(wrong, mail_server, tls="implicit", password="not-her-password")
    one_line_failure(wrong("mail", "send", "--to", "bob@example.test", "--subject", "e1", stdin="x\n"),
                     "refused the login for alice@example.test", "535")
    one_line_failure(wrong("mail", "list"), "IMAP server", "refused the login for alice@example.test")
    one_line_failure(wrong("mail", "fetch", "--to-maildir", str(tmp_path / "md")), "POP3 server",
                     "refused the login")
    marker(mail_server, sender, "bob@example.test", "checkpoint one")
    assert find_uids(mail_server, "bob@example.test", "e1", timeout=0) == []


def test_unreachable_server(tmp_path):
    person = Person(tmp_path / "p", "alice@example.test")
    port = closed_port()
    person.ok("mail", "account", "add", "gone", "--address", "alice@example.test", "--smtp", f"127.0.0.1:{port}",
              "--imap", f"127.0.0.1:{port}", "--pop3", f"127.0.0.1:{port}", "--tls", "implicit", "--password-stdin",
              stdin="secret\n")
    one_line_failure(person("mail", "send", "--to", "bob@example.test", "--subject", "e2", stdin="x\n"),
                     f"cannot reach the SMTP server 127.0.0.1:{port}: connection refused")
    one_line_failure(person("mail", "folders"), f"cannot reach the IMAP server 127.0.0.1:{port}")
    one_line_failure(person("mail", "fetch", "--to-mbox", str(tmp_path / "m")), "cannot reach the POP3 server")


def test_refused_recipient_sends_to_nobody(mail_server, sender):
    r = sender("mail", "send", "--to", "bob@example.test", "--to", "nobody@example.test", "--cc", "carol@example.test",
               "--subject", "e3", stdin="To all of you.\n")
    # RFC 5321 §3.3: the server's reply is quoted; RSET leaves no transaction to deliver to the others.
    one_line_failure(r, "refused the recipient nobody@example.test", "550 5.1.1", "nothing was sent")
    marker(mail_server, sender, "bob@example.test", "checkpoint two")
    assert find_uids(mail_server, "bob@example.test", "e3", timeout=0) == []
    assert find_uids(mail_server, "carol@example.test", "e3", timeout=0) == []
    assert find_uids(mail_server, "alice@example.test", "e3", folder="Sent", timeout=0) == []


def test_certificate_that_does_not_verify(tmp_path, mail_server):
    strict = Person(tmp_path / "strict", "alice@example.test")
    add_account(strict, mail_server, tls="implicit", insecure=False)
    one_line_failure(strict("mail", "send", "--to", "bob@example.test", "--subject", "e4", stdin="x\n"),
                     "TLS certificate of the SMTP server", "does not verify", "--insecure")
    one_line_failure(strict("mail", "list"), "TLS certificate of the IMAP server", "--insecure")
    one_line_failure(strict("mail", "fetch", "--to-maildir", str(tmp_path / "md")), "TLS certificate of the POP3")
    starttls = Person(tmp_path / "starttls", "alice@example.test")
    add_account(starttls, mail_server, tls="starttls", insecure=False)
    one_line_failure(starttls("mail", "list"), "does not verify")
    assert find_uids(mail_server, "bob@example.test", "e4", timeout=0) == []
    # A person who trusts this server says so, for one command.
    strict.ok("mail", "--insecure", "send", "--to", "bob@example.test", "--subject", "e5 trusted", stdin="x\n")
    assert find_uids(mail_server, "bob@example.test", "e5 trusted")


def test_missing_attachment_stops_before_any_connection(tmp_path, mail_server, sender):
    here = tmp_path / "here.txt"
    here.write_text("present")
    missing = str(tmp_path / "not-there.pdf")
    r = sender("mail", "send", "--to", "bob@example.test", "--subject", "e6", "--attach", str(here),
               "--attach", missing, stdin="x\n")
    one_line_failure(r, f"attachment not found: {missing}", "nothing was sent")
    # Checked before connecting: with no server to reach at all, the attachment is still what is reported.
    offline = Person(tmp_path / "offline", "alice@example.test")
    port = closed_port()
    offline.ok("mail", "account", "add", "x", "--address", "alice@example.test", "--smtp", f"127.0.0.1:{port}",
               "--password-stdin", stdin="secret\n")
    one_line_failure(offline("mail", "send", "--to", "bob@example.test", "--attach", missing, stdin="x\n"),
                     "attachment not found")
    marker(mail_server, sender, "bob@example.test", "checkpoint three")
    assert find_uids(mail_server, "bob@example.test", "e6", timeout=0) == []


def test_no_password_anywhere(tmp_path, mail_server):
    person = Person(tmp_path / "nopw", "alice@example.test")
    add_account(person, mail_server, extra=("--store-password", "no"))
    assert "password" not in (tmp_path / "nopw" / "client.toml").read_text().replace('password = "ask"', "")
    one_line_failure(person("mail", "list"), "no password for account main", "POSTOFFICE_MAIL_PASSWORD")
    # The environment variable is one of the places a password comes from.
    assert "INBOX" in person.ok("mail", "folders", env={"POSTOFFICE_MAIL_PASSWORD": "alice-secret"}).out


def test_usage_mistakes_are_one_line(tmp_path, sender):
    one_line_failure(sender("mail", "send", "--subject", "nobody", stdin="x\n"), "no recipients")
    # RFC 5322 §2.2: a line break would end the Subject field and start another one.
    one_line_failure(sender("mail", "send", "--to", "bob@example.test", "--subject", "a\nBcc: x@example.test",
                            stdin="x\n"), "line break", "nothing was sent")
    one_line_failure(sender("mail", "send", "--to", "not an address@", stdin="x\n"), "not an address")
    one_line_failure(sender("mail", "fetch"), "--to-maildir")
    one_line_failure(sender("mail", "--account", "nope", "list"), "no account named 'nope'")
    one_line_failure(Person(tmp_path / "empty", "x@example.test")("mail", "list"), "no mail account yet")


def scripted_submission(quit_reply: bytes | None) -> tuple[int, list[bytes]]:
    """A one-connection submission server that takes the message, then answers QUIT with
    `quit_reply`, or with None drops the connection instead; returns its port and what it took."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(60)
    taken: list[bytes] = []

    def serve() -> None:
        with listener, listener.accept()[0] as conn, conn.makefile("rb") as lines:
            conn.sendall(b"220 scripted ESMTP\r\n")
            for line in lines:
                verb = line[:4].upper()
                if verb == b"EHLO":
                    conn.sendall(b"250-scripted\r\n250 AUTH PLAIN\r\n")
                elif verb == b"AUTH":
                    conn.sendall(b"235 2.7.0 Authentication succeeded\r\n")
                elif verb == b"DATA":
                    conn.sendall(b"354 Go ahead\r\n")
                    taken.append(b"".join(iter(lines.readline, b".\r\n")))
                    conn.sendall(b"250 2.0.0 Queued as Q1\r\n")
                elif verb == b"QUIT":
                    if quit_reply is not None:
                        conn.sendall(quit_reply)
                    return
                else:
                    conn.sendall(b"250 2.0.0 OK\r\n")

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1], taken


def test_a_message_the_server_took_is_sent_whatever_quit_does(tmp_path):
    # RFC 5321 §4.1.1.4: 250 after the final dot is the server's promise; a QUIT that fails after it
    # must not be reported as a failure, or the person sends the message twice.
    for quit_reply in (b"500 5.5.1 Not today\r\n", None):
        port, taken = scripted_submission(quit_reply)
        person = Person(tmp_path / f"quit-{port}", "alice@example.test")
        person.ok("mail", "account", "add", "x", "--address", "alice@example.test", "--smtp", f"127.0.0.1:{port}",
                  "--tls", "none", "--password-stdin", "--store-password", "file", stdin="secret\n")
        r = person.ok("mail", "send", "--to", "bob@example.test", "--subject", "e8", stdin="x\n")
        assert "sent <" in r.out and "Queued as Q1" in r.out and r.err == ""
        assert len(taken) == 1 and b"Subject: e8" in taken[0]


def test_a_non_ascii_password(tmp_path, mail_server):
    # RFC 4616: SASL PLAIN carries UTF-8; smtplib and imaplib's LOGIN would send only ASCII.
    password = "pässwörd ✓"
    add = subprocess.run([POSTOFFICE, "user", "add", "--data-dir", str(mail_server.data_dir), "--password-stdin",
                          "dora@example.test"], input=password + "\n", capture_output=True, text=True, timeout=60)
    assert add.returncode == 0, add.stderr
    dora = Person(tmp_path / "dora", "dora@example.test")
    add_account(dora, mail_server, tls="implicit", password=password)
    out = dora.ok("mail", "send", "--to", "dora@example.test", "--subject", "e9 unicode password", stdin="x\n").out
    assert "copy saved in Sent" in out
    assert "e9 unicode password" in dora.ok("mail", "list", "--folder", "Sent").out
    wrong = Person(tmp_path / "wrong-dora", "dora@example.test")
    add_account(wrong, mail_server, tls="implicit", password="pässwort")
    one_line_failure(wrong("mail", "list"), "refused the login for dora@example.test")
    one_line_failure(wrong("mail", "send", "--to", "dora@example.test", stdin="x\n"), "refused the login")


class KeyringError(Exception):
    """keyring.errors' base class: every error the keyring package raises derives from it."""


class PasswordSetError(KeyringError):
    pass


class KeyringLocked(KeyringError):
    pass


def stand_in_keyring(monkeypatch) -> tuple[dict, dict]:
    """The `keyring` package as this client uses it, in sys.modules for this test only: what it keeps,
    and the error (by operation, "set" or "get") it is to raise instead."""
    kept: dict[tuple[str, str], str] = {}
    failing: dict[str, Exception] = {}

    def set_password(service: str, user: str, password: str) -> None:
        if "set" in failing:
            raise failing["set"]
        kept[(service, user)] = password

    def get_password(service: str, user: str) -> str | None:
        if "get" in failing:
            raise failing["get"]
        return kept.get((service, user))

    class Fail:  # keyring.backends.fail.Keyring: what get_keyring() gives when there is no backend
        pass

    package = types.ModuleType("keyring")
    package.__path__ = []  # type: ignore[attr-defined]
    package.get_keyring = lambda: object()  # type: ignore[attr-defined]
    package.set_password, package.get_password = set_password, get_password  # type: ignore[attr-defined]
    package.delete_password = lambda service, user: kept.pop((service, user))  # type: ignore[attr-defined]
    errors = types.ModuleType("keyring.errors")
    errors.KeyringError, errors.PasswordSetError, errors.KeyringLocked = (  # type: ignore[attr-defined]
        KeyringError, PasswordSetError, KeyringLocked)
    backends = types.ModuleType("keyring.backends")
    backends.__path__ = []  # type: ignore[attr-defined]
    fail = types.ModuleType("keyring.backends.fail")
    fail.Keyring = Fail  # type: ignore[attr-defined]
    package.errors, package.backends, backends.fail = errors, backends, fail  # type: ignore[attr-defined]
    for module in (package, errors, backends, fail):
        monkeypatch.setitem(sys.modules, module.__name__, module)
    return kept, failing


def test_keyring_failures_are_one_line(tmp_path, monkeypatch):
    kept, failing = stand_in_keyring(monkeypatch)
    person = Person(tmp_path / "keyring", "kim@example.test")
    add = ("mail", "account", "add", "main", "--address", person.address, "--imap", "127.0.0.1:1",
           "--password-stdin", "--store-password", "keyring")

    # A locked collection (Secret Service) refuses to keep the password: nothing is saved.
    failing["set"] = PasswordSetError("Failed to unlock the collection!\n(prompt dismissed)")
    one_line_failure(person(*add, stdin="kim-secret\n"), "system keyring did not keep the password",
                     "Failed to unlock the collection! (prompt dismissed)", "--store-password file")
    assert not person.config.exists() and kept == {}

    del failing["set"]
    assert "in the system keyring" in person.ok(*add, stdin="kim-secret\n").out
    assert list(kept.values()) == ["kim-secret"]

    # Reading it back fails: told before any connection is tried.
    failing["get"] = KeyringLocked("the keyring is locked")
    one_line_failure(person("mail", "folders"), "cannot read the password of account main",
                     "the keyring is locked", "POSTOFFICE_MAIL_PASSWORD")


def test_line_breaks_that_would_reach_the_imap_wire_are_refused(tmp_path):
    person = Person(tmp_path / "breaks", "lee@example.test")
    add = ("mail", "account", "add", "main", "--address", person.address, "--imap", "127.0.0.1:1",
           "--store-password", "no")
    # RFC 9051 §9: LOGIN sends the login as a quoted string, which cannot hold CR or LF.
    one_line_failure(person(*add, "--login", "lee\r\nA1 DELETE INBOX"), "cannot hold a line break")
    person.ok(*add)
    # Refused before any connection is tried (the port is closed).
    one_line_failure(person("mail", "list", "--search", "subject:'a\r\nA1 DELETE INBOX'"), "cannot search for",
                     "line break")


def scripted_imap(list_reply: bytes, replies: dict[bytes, list[bytes]] | None = None) -> int:
    """A one-connection IMAP server that logs in anyone and answers LIST with `list_reply`, and a
    command in `replies` ("UID FETCH") with the untagged lines listed for it, one entry per time it
    is sent (the last repeats)."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(60)
    replies = {b"CAPABILITY": [b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n"], **(replies or {})}

    def serve() -> None:
        with listener, listener.accept()[0] as conn, conn.makefile("rb") as lines:
            conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] scripted\r\n")
            for line in lines:
                tag, _, rest = line.partition(b" ")
                words = rest.split(b" ", 2)
                verb = words[0].strip().upper()
                command = b"UID " + words[1].strip().upper() if verb == b"UID" and len(words) > 1 else verb
                if command in replies:
                    answers = replies[command]
                    conn.sendall((answers.pop(0) if len(answers) > 1 else answers[0]) + tag + b" OK done\r\n")
                elif verb == b"LIST":
                    conn.sendall(list_reply + tag + b" OK done\r\n")
                elif verb == b"LOGOUT":
                    conn.sendall(b"* BYE bye\r\n" + tag + b" OK done\r\n")
                    return
                else:
                    conn.sendall(tag + b" OK done\r\n")

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def test_a_response_that_cannot_be_read_is_one_line(tmp_path):
    # RFC 9051 §9: "{" starts a literal only at the end of a line; this LIST line is malformed.
    port = scripted_imap(b'* LIST () "/" a{b c\r\n')
    person = Person(tmp_path / "broken", "alice@example.test")
    person.ok("mail", "account", "add", "x", "--address", "alice@example.test", "--imap", f"127.0.0.1:{port}",
              "--smtp", "127.0.0.1:1", "--tls", "none", "--password-stdin", "--store-password", "file",
              stdin="secret\n")
    one_line_failure(person("mail", "folders"), "cannot be read")


def test_fetch_values_of_the_wrong_kind_are_left_out_not_a_crash(tmp_path):
    # RFC 9051 §7.5.2: FLAGS is a parenthesized list and RFC822.SIZE a number. A server that sends
    # something else still gets its message listed (without flags), as does one whose CAPABILITY
    # after login says nothing (RFC 9051 §7.2.2 requires the response; imaplib then gives [None]).
    header = b"Subject: odd values\r\n\r\n"
    fetch = (b'* 1 FETCH (UID 7 FLAGS 5 RFC822.SIZE "12" INTERNALDATE NIL BODY[HEADER.FIELDS (SUBJECT)] {%d}\r\n'
             % len(header) + header + b")\r\n")
    port = scripted_imap(b"", {b"CAPABILITY": [b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n", b""],
                               b"SELECT": [b"* 1 EXISTS\r\n"], b"UID SEARCH": [b"* SEARCH 7\r\n"],
                               b"UID FETCH": [fetch]})
    person = Person(tmp_path / "odd", "alice@example.test")
    person.ok("mail", "account", "add", "x", "--address", "alice@example.test", "--imap", f"127.0.0.1:{port}",
              "--smtp", "127.0.0.1:1", "--tls", "none", "--password-stdin", "--store-password", "file",
              stdin="secret\n")
    listed = person.ok("mail", "list").out
    assert "odd values" in listed and "7" in listed
