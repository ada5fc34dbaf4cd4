"""Mail addresses as the whole system names them: syntax checks and the one normal form.

An address is `local@domain` (RFC 5321 §4.1.2 Mailbox, with RFC 6531 UTF-8 allowed). The normal
form lower-cases both parts: local parts are case-sensitive by the letter of RFC 5321 §2.4, but
every deployed server treats them as case-insensitive, and users expect `Alice@` to reach `alice@`.
`@domain` is the catch-all form used by aliases. Quoted local parts are not accepted for accounts
or aliases (they are the classic way to smuggle an `@` or `%` past a relay check).
"""

from __future__ import annotations

import re

# RFC 5321 §4.1.2 Dot-string, with UTF-8 beyond ASCII (RFC 6531 §3.3).
_ATOM = r"[A-Za-z0-9!#$&'*+/=?^_`{|}~\-\u0080-\U0010FFFF]+"
_LOCAL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_LABEL = r"(?:[A-Za-z0-9\u0080-\U0010FFFF](?:[A-Za-z0-9\-\u0080-\U0010FFFF]{0,61}[A-Za-z0-9\u0080-\U0010FFFF])?)"
_DOMAIN = re.compile(rf"{_LABEL}(?:\.{_LABEL})+|{_LABEL}")

MAX_LOCAL = 64  # RFC 5321 §4.5.3.1.1
MAX_DOMAIN = 255  # RFC 5321 §4.5.3.1.2
MAX_PATH = 256  # RFC 5321 §4.5.3.1.3


class BadAddress(ValueError):
    """An address that is not `local@domain`; the message says why, in one line."""


def normalize_domain(domain: str) -> str:
    d = domain.strip().rstrip(".").lower()
    if not d or len(d) > MAX_DOMAIN or not _DOMAIN.fullmatch(d) or "." not in d:
        raise BadAddress(f"'{domain}' is not a domain name")
    return d


def normalize_address(address: str) -> str:
    """`address` in normal form, or BadAddress."""
    a = address.strip()
    local, at, domain = a.rpartition("@")
    if not at or not local:
        raise BadAddress(f"'{address}' is not an address (local@domain)")
    if len(local) > MAX_LOCAL or not _LOCAL.fullmatch(local):
        raise BadAddress(f"'{address}' has a malformed local part")
    try:
        domain = normalize_domain(domain)
    except BadAddress:
        raise BadAddress(f"'{address}' has a malformed domain") from None
    return f"{local.lower()}@{domain}"


def normalize_alias(alias: str) -> str:
    """An alias address, or `@domain` for that domain's catch-all."""
    if alias.strip().startswith("@"):
        return "@" + normalize_domain(alias.strip()[1:])
    return normalize_address(alias)


def domain_of(address: str) -> str:
    return address.rpartition("@")[2]
