"""The Received trace field an SMTP server adds to each message it accepts.

Role: build the value of `Received:` from what the session knows (HELO name, client address, TLS,
authentication, SMTPUTF8, queue id, recipient). Pure: the caller prepends it with
`message.headers.prepend_headers`, which folds it.

RFCs: 5321 §4.4 (Time-stamp-line, Stamp, From-domain, By-domain, Opt-info, §4.1.3 address-literal
with the `IPv6:` tag), 3848 (WITH protocol types ESMTP, ESMTPA, ESMTPS, ESMTPSA), 6531 §3.7.3
(UTF8SMTP, UTF8SMTPA, UTF8SMTPS, UTF8SMTPSA), 5322 §3.3 (date-time).

Choices: the HELO name is chosen by the client, so it is sanitised rather than trusted: every
character outside a domain or address literal (letters, digits, `.-_:[]`) becomes `_`, which keeps
CR, LF, parentheses and `;` from breaking the field or adding one, and it is cut at 255 characters
(RFC 5321 §4.5.3.1.2). Non-ASCII letters stay only in SMTPUTF8 sessions (RFC 6531 §3.3), since
otherwise the message must remain 7-bit in its header. The recipient and the authenticated
identity get the same treatment, limited to the characters that would break their clause.
An IPv4-mapped IPv6 client is written as IPv4, and an IPv6 zone (`%eth0`) is dropped.

Left out: reverse DNS of the client (the `Domain FWS address-literal` TCP-info form), the `via`
clause, and the plain `SMTP` protocol of HELO sessions (submission requires EHLO for AUTH).
"""

from __future__ import annotations

import ipaddress
import re
import string
from datetime import datetime
from email.utils import format_datetime

MAX_HELO_CHARS = 255  # RFC 5321 §4.5.3.1.2: a domain is at most 255 octets

_HELO_KEEP = frozenset(string.ascii_letters + string.digits + ".-_:[]")
# Printable ASCII (RFC 5322 §3.2.3 VCHAR and SP) less what would end the clause early.
_RECIPIENT_KEEP = frozenset(chr(c) for c in range(0x20, 0x7F)) - set("<>")
_COMMENT_KEEP = frozenset(chr(c) for c in range(0x20, 0x7F)) - set("()\\")
# Our own values, checked rather than cleaned: a bad one is a configuration or programming error.
_HOSTNAME = re.compile(r"[A-Za-z0-9.\-_:\[\]\u0080-\U0010FFFF]+")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]+")  # RFC 5322 §3.2.3 atext


def received_header(
    *,
    helo: str,
    client_ip: str | None,
    hostname: str,
    tls: bool,
    authenticated: bool,
    smtputf8: bool,
    queue_id: str,
    recipient: str | None,
    now: datetime,
    authenticated_as: str | None = None,
) -> tuple[str, str]:
    """("Received", value) for one accepted message; the value is unfolded and has no CRLF.

    `client_ip` None means the address is hidden by configuration; `recipient` is given only when
    the transaction has exactly one (RFC 5321 §7.2: `for` with several would disclose Bcc). Raises
    ValueError for a `hostname` or `queue_id` that is not a domain or an atom.
    """
    if not _HOSTNAME.fullmatch(hostname):
        raise ValueError(f"not a host name: {hostname!r}")
    if not _ATOM.fullmatch(queue_id):
        raise ValueError(f"queue id is not an atom: {queue_id!r}")
    parts = [f"from {sanitise_helo(helo, utf8=smtputf8)}"]
    if client_ip is not None:
        parts.append(f"({address_literal(client_ip)})")
    with_ = protocol(tls=tls, authenticated=authenticated, smtputf8=smtputf8)
    parts += [f"by {hostname} (postoffice)", f"with {with_}", f"id {queue_id}"]
    if recipient is not None:
        parts.append(f"for <{_clean(recipient, _RECIPIENT_KEEP, smtputf8)}>")
    if authenticated_as is not None:
        parts.append(f"(authenticated as {_clean(authenticated_as, _COMMENT_KEEP, smtputf8)})")
    return "Received", " ".join(parts) + "; " + format_datetime(now)


def protocol(*, tls: bool, authenticated: bool, smtputf8: bool) -> str:
    """The WITH keyword: RFC 3848 (ESMTP[S][A]) or RFC 6531 §3.7.3 (UTF8SMTP[S][A])."""
    base = "UTF8SMTP" if smtputf8 else "ESMTP"
    return base + ("S" if tls else "") + ("A" if authenticated else "")


def address_literal(client_ip: str) -> str:
    """RFC 5321 §4.1.3: `[192.0.2.1]` or `[IPv6:2001:db8::1]`. ValueError if not an IP address."""
    ip = ipaddress.ip_address(client_ip.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"[{ip.ipv4_mapped}]"
        return f"[IPv6:{ip.compressed}]"
    return f"[{ip}]"


def sanitise_helo(helo: str, *, utf8: bool) -> str:
    """The HELO argument as it may appear after `from`: see the module docstring."""
    return _clean(helo[:MAX_HELO_CHARS], _HELO_KEEP, utf8) or "unknown"


def _clean(text: str, keep: frozenset[str], utf8: bool) -> str:
    return "".join(
        c if c in keep or (utf8 and ord(c) > 0x7F and c.isprintable() and not c.isspace()) else "_"
        for c in text
    )
