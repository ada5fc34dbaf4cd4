"""SCRAM-SHA-256-PLUS over IMAP AUTHENTICATE: in CAPABILITY only under TLS, bound to the server's
certificate (RFC 5929 tls-server-end-point, RFC 5802 §6), refused when the client's binding is not it."""

from __future__ import annotations

import imaplib

import pytest

from tests.conftest import client_tls
from tests.scram import plus_client

USER, PASSWORD = "alice@example.test", "alice-secret"


def authenticate_plus(imap: imaplib.IMAP4, *, binding: bytes | None = None) -> str:
    """AUTHENTICATE SCRAM-SHA-256-PLUS through imaplib, which does the base64 (RFC 9051 §6.2.2)."""
    client = plus_client(USER, PASSWORD, imap.sock, binding=binding)
    answers = iter([
        lambda _: client.get_client_first().encode(),
        lambda server_first: (client.set_server_first(server_first.decode()), client.get_client_final().encode())[1],
        # The server-final message comes as a last challenge, answered empty; it must prove the server.
        lambda server_final: (client.set_server_final(server_final.decode()), b"")[1],
    ])
    return imap.authenticate("SCRAM-SHA-256-PLUS", lambda challenge: next(answers)(challenge))[0]


def test_plus_with_implicit_tls(mail_server):
    host, port = mail_server.listeners["imaps"]
    with imaplib.IMAP4_SSL(host, port, ssl_context=client_tls()) as imap:
        assert "AUTH=SCRAM-SHA-256-PLUS" in imap.capabilities
        assert authenticate_plus(imap) == "OK"
        assert imap.select("INBOX")[0] == "OK"


def test_a_wrong_binding_fails(mail_server):
    host, port = mail_server.listeners["imaps"]
    with imaplib.IMAP4_SSL(host, port, ssl_context=client_tls()) as imap:
        with pytest.raises(imaplib.IMAP4.error) as failed:
            authenticate_plus(imap, binding=b"\x01" * 32)
        assert "[AUTHENTICATIONFAILED]" in str(failed.value)  # RFC 5530 §3
        assert imap.state == "NONAUTH"


def test_plus_after_starttls_only(mail_server):
    host, port = mail_server.listeners["imap"]
    with imaplib.IMAP4(host, port) as imap:
        # A loopback client may log in before TLS here, but without TLS there is nothing to bind to.
        assert "AUTH=SCRAM-SHA-256" in imap.capabilities
        assert "AUTH=SCRAM-SHA-256-PLUS" not in imap.capabilities
        with pytest.raises(imaplib.IMAP4.error) as refused:
            imap.authenticate("SCRAM-SHA-256-PLUS", lambda challenge: b"")
        assert "[CANNOT]" in str(refused.value)  # RFC 9051 §6.2.2: not a mechanism here
        imap.starttls(ssl_context=client_tls())
        assert "AUTH=SCRAM-SHA-256-PLUS" in imap.capabilities
        assert authenticate_plus(imap) == "OK"
