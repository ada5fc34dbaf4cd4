"""Reaching a server: "host:port" endpoints, TLS contexts, and failures told in one line.

Every client module (submit, imap, pop3) opens its connection inside `explained(...)`, which turns
what the network, TLS and the stdlib clients raise into a `MuaError`: one line naming the server
and what went wrong (refused, unresolvable, timed out, a certificate that does not verify), which
the CLI prints on stderr with a non-zero exit. A traceback is never what a person sees.

TLS: certificates are verified against the system's trust store with the hostname checked
(RFC 8314 §4.2, RFC 7817), unless the account or the command says `--insecure`, meant for test
servers with a self-signed certificate, like our own server's default one.
"""

from __future__ import annotations

import contextlib
import imaplib
import poplib
import smtplib
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import click

TIMEOUT_S = 30.0

# The well-known ports (RFC 8314 §7.3, RFC 6409 §3.1, RFC 9051, RFC 1939): by TLS mode.
DEFAULT_PORTS = {
    "imap": {"implicit": 993, "starttls": 143, "none": 143},
    "smtp": {"implicit": 465, "starttls": 587, "none": 587},
    "pop3": {"implicit": 995, "starttls": 110, "none": 110},
}


class MuaError(click.ClickException):
    """A failure told in one line on stderr; exit code 1."""

    def show(self, file: object = None) -> None:
        click.echo(f"postoffice: {self.format_message()}", err=True)


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    service: str  # "IMAP", "SMTP", "POP3": how errors name the server

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.service} server {host}:{self.port}"


def parse_endpoint(text: str, protocol: str, tls: str) -> Endpoint:
    """ "host:port", "[v6]:port" or "host" (the protocol's default port for the TLS mode)."""
    text = text.strip()
    service = protocol.upper()
    if not text:
        raise MuaError(f"the account has no {service} server")
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    else:
        host, port_text = text, ""
    if not port_text:
        return Endpoint(host, DEFAULT_PORTS[protocol][tls], service)
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise MuaError(f"{text!r} is not host:port")
    return Endpoint(host, int(port_text), service)


def check_endpoint(text: str, protocol: str) -> str:
    """Validate a --imap/--smtp/--pop3 value as given, for `account add`."""
    if text:
        parse_endpoint(text, protocol, "starttls")
    return text


def tls_context(*, insecure: bool) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def server_reply(exc: BaseException) -> str:
    """The server's own words in an exception from smtplib, imaplib or poplib, as one line."""
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {' '.join(text.split())}"
    args = exc.args[0] if exc.args else exc
    text = args.decode("utf-8", "replace") if isinstance(args, bytes) else str(args)
    return " ".join(text.split())


@contextlib.contextmanager
def explained(endpoint: Endpoint) -> Iterator[None]:
    """Turn network, TLS and protocol failures while talking to `endpoint` into one-line MuaErrors."""
    try:
        yield
    except MuaError:
        raise
    except ssl.SSLCertVerificationError as e:
        reason = e.verify_message or e.reason or "unknown reason"
        raise MuaError(f"the TLS certificate of the {endpoint} does not verify ({reason}); for a server you "
                       f"trust, pass --insecure (or add the account with --insecure)") from None
    except ssl.SSLError as e:
        raise MuaError(f"TLS with the {endpoint} failed: {e.reason or e}") from None
    except socket.gaierror as e:
        raise MuaError(f"cannot reach the {endpoint}: cannot resolve {endpoint.host} ({e.strerror})") from None
    except ConnectionRefusedError:
        raise MuaError(f"cannot reach the {endpoint}: connection refused") from None
    except TimeoutError:
        raise MuaError(f"the {endpoint} did not answer in time") from None
    except (smtplib.SMTPServerDisconnected, imaplib.IMAP4.abort, EOFError, ConnectionResetError,
            BrokenPipeError):
        raise MuaError(f"the {endpoint} closed the connection") from None
    except smtplib.SMTPException as e:
        raise MuaError(f"the {endpoint} answered: {server_reply(e)}") from None
    except (imaplib.IMAP4.error, poplib.error_proto) as e:
        raise MuaError(f"the {endpoint} answered: {server_reply(e)}") from None
    except OSError as e:
        raise MuaError(f"cannot reach the {endpoint}: {e.strerror or e}") from None
