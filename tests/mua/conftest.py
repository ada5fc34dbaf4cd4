"""The mail client driven as a person drives it: `postoffice mail ...` and `postoffice contacts ...`
through click's CliRunner, each person with their own client directory, against the real server
started by the fixtures (tests/conftest.py), over real sockets."""

from __future__ import annotations

import imaplib
import smtplib
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from postoffice.cli import main
from tests.conftest import USERS, RunningServer, client_tls


@dataclass
class Run:
    code: int
    out: str
    err: str
    out_bytes: bytes


class Person:
    """One user's mail client: its own client.toml, contacts and credentials, in its own directory."""

    def __init__(self, home: Path, address: str) -> None:
        self.home = home
        self.address = address
        self.config = home / "client.toml"

    def __call__(self, *args: str, stdin: str | bytes | None = None, env: dict[str, str] | None = None) -> Run:
        runner = CliRunner()
        result = runner.invoke(main, list(args), input=stdin,
                               env={"POSTOFFICE_CLIENT_CONFIG": str(self.config), "POSTOFFICE_MAIL_PASSWORD": "",
                                    **(env or {})})
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError("".join(traceback.format_exception(result.exception)))
        return Run(result.exit_code, result.stdout, result.stderr, result.stdout_bytes)

    def ok(self, *args: str, **kwargs: object) -> Run:
        r = self(*args, **kwargs)  # type: ignore[arg-type]
        assert r.code == 0, f"{args}: {r.err}{r.out}"
        return r


def endpoint(server: RunningServer, listener: str) -> str:
    host, port = server.listeners[listener]
    return f"{host}:{port}"


def add_account(person: Person, server: RunningServer, *, tls: str = "starttls", name: str = "main",
                password: str | None = None, insecure: bool = True, extra: tuple[str, ...] = ()) -> Run:
    names = {"starttls": ("imap", "submission", "pop3"), "implicit": ("imaps", "submissions", "pop3s"),
             "none": ("imap", "submission", "pop3")}[tls]
    args = ["mail", "account", "add", name, "--address", person.address, "--imap", endpoint(server, names[0]),
            "--smtp", endpoint(server, names[1]), "--pop3", endpoint(server, names[2]), "--tls", tls,
            "--password-stdin", "--store-password", "file", *extra]
    if insecure:
        args.append("--insecure")
    return person.ok(*args, stdin=(password or USERS[person.address]) + "\n")


@pytest.fixture
def people(tmp_path: Path, mail_server: RunningServer) -> dict[str, Person]:
    """alice (STARTTLS everywhere) and bob and carol (implicit TLS), each with an account added."""
    out = {}
    for user, tls in (("alice", "starttls"), ("bob", "implicit"), ("carol", "implicit")):
        person = Person(tmp_path / user, f"{user}@example.test")
        add_account(person, mail_server, tls=tls)
        out[user] = person
    return out


def imap_login(server: RunningServer, address: str) -> imaplib.IMAP4_SSL:
    host, port = server.listeners["imaps"]
    imap = imaplib.IMAP4_SSL(host, port, ssl_context=client_tls())
    imap.login(address, USERS[address])
    return imap


def find_uids(server: RunningServer, address: str, subject: str, *, folder: str = "INBOX", expect: int = 1,
              timeout: float = 15) -> list[int]:
    """UIDs of the messages whose Subject contains `subject` (ASCII), waiting for `expect` of them."""
    deadline = time.monotonic() + timeout
    while True:
        imap = imap_login(server, address)
        try:
            imap.select(f'"{folder}"', readonly=True)
            typ, data = imap.uid("SEARCH", "SUBJECT", f'"{subject}"')
        finally:
            imap.logout()
        uids = [int(n) for n in data[0].split()] if data and data[0] else []
        if len(uids) >= expect or time.monotonic() > deadline:
            return uids
        time.sleep(0.1)


def fetch_raw(server: RunningServer, address: str, uid: int, *, folder: str = "INBOX") -> bytes:
    """A message's exact bytes as IMAP FETCH BODY.PEEK[] gives them, read with plain imaplib."""
    imap = imap_login(server, address)
    try:
        imap.select(f'"{folder}"', readonly=True)
        typ, data = imap.uid("FETCH", str(uid), "(BODY.PEEK[])")
    finally:
        imap.logout()
    return next(item[1] for item in data if isinstance(item, tuple))


def deliver(server: RunningServer, to: str, subject: str, body: str = "Hello.\r\n") -> None:
    """A message from outside, through the MTA on port 25's stand-in."""
    host, port = server.listeners["smtp"]
    with smtplib.SMTP(host, port) as smtp:
        smtp.sendmail("dave@remote.test", [to], f"From: Dave <dave@remote.test>\r\nTo: {to}\r\nSubject: {subject}\r\n"
                      f"Message-ID: <{abs(hash(subject))}.{time.monotonic_ns()}@remote.test>\r\n\r\n{body}")


def marker(server: RunningServer, sender: Person, to: str, subject: str) -> None:
    """Send a message and wait for it: what was refused before it would have arrived by now."""
    sender.ok("mail", "send", "--to", to, "--subject", subject, "--no-sent-copy", stdin="marker\n")
    assert find_uids(server, to, subject), f"{subject} never arrived"
