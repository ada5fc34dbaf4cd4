"""Submitting a message: SMTP to the account's MSA, all recipients or none.

RFC 6409 submission, over implicit TLS (RFC 8314 §3.3) or STARTTLS (RFC 3207), then AUTH (RFC 4954)
with the mechanism smtplib picks among those offered; a non-ASCII login or password goes as AUTH
PLAIN in UTF-8 (RFC 4616), which smtplib cannot send. `--tls none` talks in clear, which servers
allow only where they choose to (ours: on loopback).

The envelope is given apart from the message, so Bcc recipients are in RCPT TO and nowhere in the
header (RFC 5322 §3.6.3). Each RCPT is checked before DATA: if the server refuses any recipient,
the transaction is reset (RSET, RFC 5321 §4.1.1.5) and nothing is sent, rather than sending to the
others as smtplib's sendmail would. SMTPUTF8 (RFC 6531 §3.4) and BODY=8BITMIME (RFC 6152) are
asked for only when the message needs them, and SIZE (RFC 1870) is declared when offered.

Once the server has answered 250 to the final dot the message is sent: a QUIT that then fails is
not an error, or the person would send the message a second time.
"""

from __future__ import annotations

import base64
import smtplib
import socket
from dataclasses import dataclass

from postoffice.mua.connect import MuaError, TIMEOUT_S, explained, parse_endpoint, server_reply, tls_context
from postoffice.mua.profiles import Account


@dataclass(frozen=True, slots=True)
class Submission:
    sender: str                  # MAIL FROM
    recipients: tuple[str, ...]  # RCPT TO: To, Cc and Bcc
    data: bytes                  # the message, CRLF line endings
    smtputf8: bool = False
    eightbit: bool = False


def submit(account: Account, password: str, submission: Submission, *, insecure: bool) -> str:
    """Send `submission`; returns the server's reply to the data (it names the queue id)."""
    endpoint = parse_endpoint(account.smtp, "smtp", account.tls)
    ctx = tls_context(insecure=insecure or account.insecure)
    local_hostname = socket.gethostname() or "localhost"
    with explained(endpoint):
        if account.tls == "implicit":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(endpoint.host, endpoint.port, local_hostname=local_hostname,
                                                  timeout=TIMEOUT_S, context=ctx)
        else:
            smtp = smtplib.SMTP(endpoint.host, endpoint.port, local_hostname=local_hostname, timeout=TIMEOUT_S)
        try:
            smtp.ehlo()
            if account.tls == "starttls":
                if not smtp.has_extn("starttls"):
                    raise MuaError(f"the {endpoint} offers no STARTTLS; use --tls implicit or --tls none")
                smtp.starttls(context=ctx)
                smtp.ehlo()
            try:
                _login(smtp, endpoint, account.user, password)
            except smtplib.SMTPAuthenticationError as e:
                raise MuaError(f"the {endpoint} refused the login for {account.user}: {server_reply(e)}") from None
            except smtplib.SMTPNotSupportedError:
                raise MuaError(f"the {endpoint} offers no authentication on this connection "
                               f"(try --tls starttls or --tls implicit)") from None
            return _transaction(smtp, endpoint, submission)
        finally:
            _quit(smtp)
    raise AssertionError("unreachable")  # pragma: no cover


def _login(smtp: smtplib.SMTP, endpoint: object, user: str, password: str) -> None:
    if (user + password).isascii():
        smtp.login(user, password)
        return
    # smtplib encodes SASL responses as ASCII; RFC 4616 PLAIN carries UTF-8, so it is sent here.
    if not smtp.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError()
    if "PLAIN" not in smtp.esmtp_features["auth"].upper().split():
        raise MuaError(f"the {endpoint} offers no AUTH PLAIN, the one way to send a non-ASCII login or password")
    token = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode("ascii")
    code, reply = smtp.docmd("AUTH", "PLAIN " + token)
    if code != 235:  # RFC 4954 §6
        raise smtplib.SMTPAuthenticationError(code, reply)


def _quit(smtp: smtplib.SMTP) -> None:
    """QUIT and close. A failure here must not replace the outcome already known: the message was
    taken (250 after the final dot), or an error is on its way to the person."""
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _reset(smtp: smtplib.SMTP) -> None:
    """RSET (RFC 5321 §4.1.1.5) before refusing; the refusal is what the person must hear, not RSET's fate."""
    try:
        smtp.rset()
    except (smtplib.SMTPException, OSError):
        smtp.close()


def _transaction(smtp: smtplib.SMTP, endpoint: object, sub: Submission) -> str:
    options = []
    if sub.smtputf8:
        if not smtp.has_extn("smtputf8"):
            raise MuaError(f"the {endpoint} does not accept non-ASCII addresses (no SMTPUTF8); nothing was sent")
        options.append("SMTPUTF8")
    if sub.eightbit:
        if not smtp.has_extn("8bitmime"):
            raise MuaError(f"the {endpoint} does not accept 8-bit messages (no 8BITMIME); nothing was sent")
        options.append("BODY=8BITMIME")
    if smtp.has_extn("size"):
        options.append(f"SIZE={len(sub.data)}")
    code, reply = smtp.mail(sub.sender, options)
    if code != 250:
        _reset(smtp)
        raise MuaError(f"the {endpoint} refused the sender {sub.sender}: {_reply(code, reply)}; nothing was sent")
    for rcpt in sub.recipients:
        code, reply = smtp.rcpt(rcpt)
        if code not in (250, 251):
            _reset(smtp)  # all or none: never deliver to a subset of the recipients
            raise MuaError(f"the {endpoint} refused the recipient {rcpt}: {_reply(code, reply)}; nothing was sent")
    try:
        code, reply = smtp.data(sub.data)
    except smtplib.SMTPDataError as e:
        raise MuaError(f"the {endpoint} refused the message: {server_reply(e)}; nothing was sent") from None
    if code != 250:  # RFC 5321 §4.1.1.4: only 250 after the final dot means the server took it
        raise MuaError(f"the {endpoint} refused the message: {_reply(code, reply)}; nothing was sent")
    return _reply(code, reply)


def _reply(code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{code} {' '.join(text.split())}"
