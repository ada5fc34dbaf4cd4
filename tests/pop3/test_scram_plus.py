"""SCRAM-SHA-256-PLUS over POP3 (RFC 5034): listed in CAPA SASL only under TLS, bound to the server's
certificate (RFC 5929 tls-server-end-point, RFC 5802 §6), refused when the client's binding is not it."""

import base64
import poplib

from tests.conftest import client_tls
from tests.scram import b64, plus_client

USER, PASSWORD = "carol@example.test", "carol-secret"


def sasl_capability(pop: poplib.POP3) -> list[str]:
    return pop.capa().get("SASL", [])


def scram_plus(pop: poplib.POP3, *, binding: bytes | None = None) -> bytes:
    """AUTH SCRAM-SHA-256-PLUS with an initial response; the last line."""
    client = plus_client(USER, PASSWORD, pop.sock, binding=binding)
    pop._putcmd("AUTH SCRAM-SHA-256-PLUS " + b64(client.get_client_first().encode()))
    line = pop._getline()[0]
    assert line.startswith(b"+ ")
    client.set_server_first(base64.b64decode(line[2:]).decode())
    pop._putcmd(b64(client.get_client_final().encode()))
    line = pop._getline()[0]
    if not line.startswith(b"+ "):
        return line
    client.set_server_final(base64.b64decode(line[2:]).decode())  # raises unless the server proved itself
    pop._putcmd("")
    return pop._getline()[0]


def test_plus_with_implicit_tls(mail_server):
    host, port = mail_server.listeners["pop3s"]
    pop = poplib.POP3_SSL(host, port, context=client_tls(), timeout=20)
    assert "SCRAM-SHA-256-PLUS" in sasl_capability(pop)
    assert scram_plus(pop).startswith(b"+OK")
    pop.quit()


def test_plus_after_stls_and_a_wrong_binding(mail_server):
    host, port = mail_server.listeners["pop3"]
    pop = poplib.POP3(host, port, timeout=20)
    # A loopback client may log in before TLS here, but without TLS there is nothing to bind to.
    assert "SCRAM-SHA-256" in sasl_capability(pop) and "SCRAM-SHA-256-PLUS" not in sasl_capability(pop)
    assert b"SCRAM-SHA-256-PLUS" not in pop._longcmd("AUTH")[1]  # RFC 5034 §4: AUTH alone lists them
    try:
        pop._shortcmd("AUTH SCRAM-SHA-256-PLUS biws")
        raise AssertionError("-PLUS accepted without TLS")
    except poplib.error_proto as e:
        assert e.args[0].startswith(b"-ERR")
    pop.stls(context=client_tls())
    assert "SCRAM-SHA-256-PLUS" in sasl_capability(pop)
    assert scram_plus(pop, binding=b"\x01" * 32) == b"-ERR [AUTH] authentication failed"  # RFC 3206 §5
    assert scram_plus(pop).startswith(b"+OK")
    pop.quit()
