"""SCRAM-SHA-256-PLUS over submission: offered only under TLS, bound to the server's certificate
(RFC 5929 tls-server-end-point, RFC 5802 §6), refused when the client's binding is not it."""

import base64

from tests.scram import b64, plus_client
from tests.smtp.raw import RawSmtp

USER, PASSWORD = "bob@example.test", "bob-secret"


def auth_keywords(ehlo_text: str) -> list[str]:
    return next((line.split()[1:] for line in ehlo_text.splitlines() if line.startswith("AUTH ")), [])


def scram_plus(c: RawSmtp, *, binding: bytes | None = None) -> tuple[int, str]:
    """AUTH SCRAM-SHA-256-PLUS with SASL-IR; the last reply."""
    client = plus_client(USER, PASSWORD, c.sock, binding=binding)
    code, challenge = c.command("AUTH SCRAM-SHA-256-PLUS " + b64(client.get_client_first().encode()))
    assert code == 334
    client.set_server_first(base64.b64decode(challenge).decode())
    code, text = c.command(b64(client.get_client_final().encode()))
    if code != 334:
        return code, text
    client.set_server_final(base64.b64decode(text).decode())  # raises unless the server proved itself
    return c.command("")


def test_plus_after_starttls(mail_server):
    host, port = mail_server.listeners["submission"]
    with RawSmtp(host, port) as c:
        # A loopback client may log in before TLS here, but without TLS there is nothing to bind to.
        keywords = auth_keywords(c.ehlo()[1])
        assert "SCRAM-SHA-256" in keywords and "SCRAM-SHA-256-PLUS" not in keywords
        c.starttls()
        assert "SCRAM-SHA-256-PLUS" in auth_keywords(c.command("EHLO client.test")[1])
        assert scram_plus(c)[0] == 235


def test_plus_with_implicit_tls_and_a_wrong_binding(mail_server):
    host, port = mail_server.listeners["submissions"]
    with RawSmtp(host, port, tls=True) as c:
        assert "SCRAM-SHA-256-PLUS" in auth_keywords(c.ehlo()[1])
        code, text = scram_plus(c, binding=b"\x01" * 32)
        assert (code, text.split()[0]) == (535, "5.7.8")  # RFC 4954 §6
        assert scram_plus(c)[0] == 235  # the right one still gets in


def test_plus_is_refused_without_tls(mail_server):
    host, port = mail_server.listeners["submission"]
    with RawSmtp(host, port) as c:
        c.ehlo()
        assert c.command("AUTH SCRAM-SHA-256-PLUS biws")[0] == 504  # RFC 4954 §4: not offered here
