"""SMTP paths and ESMTP parameters: the arguments of MAIL FROM and RCPT TO, as values.

Role: the part of the SMTP parser (wire.py) that reads `<reverse-path>` / `<forward-path>` and the
`KEYWORD[=VALUE]` parameters after them, and the xtext codec of DSN parameters. Sans-I/O and
value-returning: a syntax error comes back as the `Reply` to send, never as an exception.

RFCs: RFC 5321 §4.1.2 (Path, A-d-l, Mailbox, Local-part, Dot-string, Quoted-string, Domain,
address-literal, esmtp-param), §4.1.3 (address literals), §4.1.1.3 (`<Postmaster>`), §4.5.3.1.1-3
(local part 64, domain 255, path 256 octets); RFC 6531 §3.3 (UTF-8 in atext, qtextSMTP, sub-domain
and esmtp-value); RFC 1870 §3 (SIZE), RFC 6152 §2 and RFC 3030 §3 (BODY), RFC 3461 §4 (xtext, RET,
ENVID, NOTIFY, ORCPT), RFC 4954 §5 (AUTH=), RFC 6531 §3.4 (SMTPUTF8).

Choices: a quoted local part is kept as it came, quotes and backslashes included (`Path.local`);
`Path.unquoted_local` gives its content. Upper-case keywords, and upper-case values for the
enumerated parameters (BODY, RET, NOTIFY); ENVID, ORCPT (its xtext part) and AUTH are returned
xtext-decoded. Unknown keywords are not an error here: the session answers 555 for those it does
not offer. Leniency: xtext hex digits may be lower case (RFC 3461 §4 asks for upper case; some
clients send lower), and parameters may be separated by more than one space.

Left out: General-address-literal (`[tag:content]`): RFC 5321 §4.1.3 asks for an IANA-registered
tag and only "IPv6" exists, so any other tag is refused (501) rather than passed on as an address
with a second "@" or ":" in it; IDNA validity of U-labels (the policy checks domains it serves);
the utf-8-addr-xtext forms of ORCPT (RFC 6533).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from postoffice.smtp import replies
from postoffice.smtp.replies import Reply

MAX_LOCAL_PART = 64   # RFC 5321 §4.5.3.1.1, octets
MAX_DOMAIN = 255      # RFC 5321 §4.5.3.1.2, octets
MAX_PATH = 256        # RFC 5321 §4.5.3.1.3, octets, "<" and ">" included
MAX_ENVID = 100       # RFC 3461 §4.4, characters of the encoded parameter value
MAX_ORCPT = 500       # RFC 3461 §4.2

# RFC 6531 §3.3 UTF8-non-ascii; surrogates are left out (they are not characters).
_U = "\u0080-\ud7ff\ue000-\U0010ffff"
_ATEXT = rf"[A-Za-z0-9!#$%&'*+\-/=?^_`{{|}}~{_U}]"        # RFC 5322 §3.2.3 atext, RFC 6531 §3.3
_DOT_STRING = re.compile(rf"{_ATEXT}+(?:\.{_ATEXT}+)*")   # RFC 5321 §4.1.2 Dot-string
_LET_DIG = rf"[A-Za-z0-9{_U}]"
_SUB_DOMAIN = rf"{_LET_DIG}(?:[A-Za-z0-9\-{_U}]*{_LET_DIG})?"   # Let-dig [Ldh-str], or a U-label
_DOMAIN = re.compile(rf"{_SUB_DOMAIN}(?:\.{_SUB_DOMAIN})*")
_IPV4 = re.compile(r"(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})")  # RFC 5321 §4.1.3, Snum 0-255
_KEYWORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]*")       # RFC 5321 §4.1.2 esmtp-keyword
_VALUE = re.compile(rf"[!-<>-~{_U}]+")                    # esmtp-value: CHAR but SP, "=", controls
_XTEXT = re.compile(r"(?:[!-*,-<>-~]|\+[0-9A-Fa-f]{2})*")  # RFC 3461 §4 xchar / hexchar
_HEXCHAR = re.compile(rb"\+([0-9A-Fa-f]{2})")
_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+")    # ORCPT addr-type (RFC 3461 §4.2)
_NOTIFY = frozenset({"SUCCESS", "FAILURE", "DELAY"})       # RFC 3461 §4.1
_BODY = frozenset({"7BIT", "8BITMIME", "BINARYMIME"})      # RFC 6152 §2, RFC 3030 §3
_RET = frozenset({"FULL", "HDRS"})                         # RFC 3461 §4.3
_KNOWN = frozenset({"SIZE", "BODY", "RET", "NOTIFY", "ENVID", "ORCPT", "SMTPUTF8", "AUTH"})


@dataclass(frozen=True, slots=True)
class Path:
    """A reverse- or forward-path. The null path `<>` has neither part; `<Postmaster>` has no domain.
    `local` keeps a quoted local part as it came; `domain` keeps an address literal's brackets."""

    local: str = ""
    domain: str = ""
    quoted: bool = False

    @property
    def is_null(self) -> bool:
        return not self.local and not self.domain

    @property
    def address(self) -> str:
        """`local@domain`, "postmaster" for `<Postmaster>`, "" for the null path."""
        return f"{self.local}@{self.domain}" if self.domain else self.local

    @property
    def unquoted_local(self) -> str:
        """The local part without its quotes and quoted-pair backslashes (RFC 5321 §4.1.2)."""
        if not self.quoted:
            return self.local
        return re.sub(r"\\(.)", r"\1", self.local[1:-1])

    @classmethod
    def from_address(cls, address: str) -> Path:
        """The path of a plain address (`local@domain`), for values built by hand."""
        local, at, domain = address.rpartition("@")
        if not at:
            return cls(address, "")
        return cls(local, domain, local.startswith('"'))


NULL_PATH = Path()


def _octets(text: str) -> int:
    return len(text.encode("utf-8"))


def is_address_literal(text: str) -> bool:
    """`[192.0.2.1]` or `[IPv6:2001:db8::1]` (RFC 5321 §4.1.3); general literals are refused."""
    if len(text) < 3 or text[0] != "[" or text[-1] != "]":
        return False
    inner = text[1:-1]
    if m := _IPV4.fullmatch(inner):
        return all(int(part) <= 255 for part in m.groups())
    if inner[:5].lower() == "ipv6:" and "%" not in inner[5:]:   # no zone ids: not in the RFC grammar
        try:
            ipaddress.IPv6Address(inner[5:])
        except ValueError:
            return False
        return True
    return False


def is_domain(text: str) -> bool:
    """RFC 5321 §4.1.2 Domain (with RFC 6531 U-labels), within RFC 5321 §4.5.3.1.2's 255 octets."""
    return bool(_DOMAIN.fullmatch(text)) and _octets(text) <= MAX_DOMAIN


def _quoted_end(text: str, start: int) -> int:
    """Index just past the Quoted-string starting at text[start] == '"', or -1 (RFC 5321 §4.1.2)."""
    i = start + 1
    while i < len(text):
        c = text[i]
        if c == '"':
            return i + 1
        if c == "\\":                       # quoted-pairSMTP = %d92 %d32-126
            if i + 1 >= len(text) or not " " <= text[i + 1] <= "~":
                return -1
            i += 2
        elif " " <= c <= "~" or c >= "\u0080":  # qtextSMTP: %d32-33 / %d35-91 / %d93-126, UTF-8
            i += 1
        else:
            return -1
    return -1


def parse_path(text: str, *, recipient: bool) -> tuple[Path, str, int] | Reply:
    """Reads the path at the start of `text` (which starts with "<"): the path, its source route
    (the A-d-l without its ":", "" if none) and the index just past ">"; or the reply refusing it.

    `recipient` picks the RCPT rules (no null path, `<Postmaster>` allowed, X.1.3 codes) over the
    MAIL ones (X.1.7). UTF-8 is read here; whether it is allowed is the caller's check."""
    bad = replies.BAD_RECIPIENT_ADDRESS if recipient else replies.BAD_SENDER_ADDRESS
    too_long = replies.RECIPIENT_PATH_TOO_LONG if recipient else replies.SENDER_PATH_TOO_LONG
    if not text.startswith("<"):
        return bad
    if text.startswith("<>"):
        # RFC 5321 §4.1.1.2: the null reverse-path is for MAIL (bounces); §4.1.1.3 has no null forward-path.
        return bad if recipient else (NULL_PATH, "", 2)
    i = 1
    route = ""
    if text[i:i + 1] == "@":
        # RFC 5321 §4.1.2 A-d-l = At-domain *( "," At-domain ); At-domain = "@" Domain, so no ":" before
        # the one ending the route. Reported as it came (Appendix C: routes are ignored; policy decides).
        colon = text.find(":", i)
        if colon < 0:
            return bad
        route = text[i:colon]
        if not all(hop.startswith("@") and is_domain(hop[1:]) for hop in route.split(",")):
            return bad
        i = colon + 1
    if text[i:i + 1] == '"':
        end = _quoted_end(text, i)
        if end < 0:
            return bad
        quoted = True
    else:
        m = _DOT_STRING.match(text, i)
        if not m:
            return bad
        end, quoted = m.end(), False
    local = text[i:end]
    if text[end:end + 1] == ">" and recipient and not route and local.lower() == "postmaster":
        # RFC 5321 §4.1.1.3: "<Postmaster>" without a domain MUST be accepted, case-insensitively.
        return Path("postmaster", ""), "", end + 1
    if text[end:end + 1] != "@":
        return bad
    i = end + 1
    if text[i:i + 1] == "[":
        close = text.find("]", i)
        if close < 0 or not is_address_literal(text[i:close + 1]):
            return bad
        end = close + 1
    else:
        m = _DOMAIN.match(text, i)
        if not m:
            return bad
        end = m.end()
    domain = text[i:end]
    if text[end:end + 1] != ">":
        return bad
    # RFC 5321 §4.5.3.1.1-3: the size limits, in octets; "<" and ">" count towards the path's 256.
    if _octets(text[:end + 1]) > MAX_PATH or _octets(local) > MAX_LOCAL_PART or _octets(domain) > MAX_DOMAIN:
        return too_long
    return Path(local, domain, quoted), route, end + 1


def decode_xtext(text: str) -> str | None:
    """The value `text` encodes as xtext (RFC 3461 §4), or None if it is not xtext. Octets that are
    not UTF-8 come back as lone surrogates, so `encode_xtext` gives them back unchanged."""
    if not _XTEXT.fullmatch(text):
        return None
    raw = _HEXCHAR.sub(lambda m: bytes([int(m[1], 16)]), text.encode("ascii"))
    return raw.decode("utf-8", "surrogateescape")


def encode_xtext(value: str) -> str:
    """`value` as xtext (RFC 3461 §4): "!".."~" but "+" and "=" as themselves, other octets (of its
    UTF-8 form) as "+XX" with upper-case hex."""
    return "".join(chr(b) if 33 <= b <= 126 and b not in (43, 61) else f"+{b:02X}"
                   for b in value.encode("utf-8", "surrogateescape"))


def _check_value(keyword: str, value: str | None) -> str | None | Reply:
    """The normalised value of a parameter we know, or BAD_ARGUMENTS (RFC 5321 §4.1.1.11: 501)."""
    bad = replies.BAD_ARGUMENTS
    if keyword not in _KNOWN:
        return value
    if keyword == "SMTPUTF8":              # RFC 6531 §3.4: "it MUST not accept a value"
        return bad if value is not None else None
    if value is None:
        return bad
    if keyword == "SIZE":                  # RFC 1870 §3: size-value ::= 1*20DIGIT
        return value if value.isascii() and value.isdigit() and len(value) <= 20 else bad
    if keyword in ("BODY", "RET"):
        v = value.upper()
        return v if v in (_BODY if keyword == "BODY" else _RET) else bad
    if keyword == "NOTIFY":                # RFC 3461 §4.1: "NEVER" alone, or a list of the others
        v = value.upper()
        items = v.split(",")
        return v if v == "NEVER" or all(item in _NOTIFY for item in items) else bad
    if keyword == "ENVID":                 # RFC 3461 §4.4: xtext, 100 chars, printable ASCII inside
        decoded = decode_xtext(value)
        if decoded is None or len(value) > MAX_ENVID or not all(" " <= c <= "~" for c in decoded):
            return bad
        return decoded
    if keyword == "ORCPT":                 # RFC 3461 §4.2: addr-type ";" xtext, 500 chars
        addr_type, semi, xtext = value.partition(";")
        decoded = decode_xtext(xtext)
        if not semi or not _ATOM.fullmatch(addr_type) or decoded is None or len(value) > MAX_ORCPT:
            return bad
        return f"{addr_type};{decoded}"
    # AUTH, RFC 4954 §5: AUTH=<> or AUTH=xtext
    if value == "<>":
        return value
    decoded = decode_xtext(value)
    return bad if not decoded else decoded


def parse_params(text: str) -> dict[str, str | None] | Reply:
    """The ESMTP parameters of MAIL or RCPT (RFC 5321 §4.1.2 Mail-parameters / Rcpt-parameters):
    upper-cased keyword to value (None without "="), or the reply refusing them: 555 for a
    malformed parameter, 501 for a repeated keyword or a bad value of one we know."""
    params: dict[str, str | None] = {}
    for token in (t for t in text.split(" ") if t):   # lenient: runs of spaces separate too
        keyword, eq, value = token.partition("=")
        if not _KEYWORD.fullmatch(keyword) or (eq and not _VALUE.fullmatch(value)):
            return replies.PARAM_NOT_RECOGNISED
        keyword = keyword.upper()
        if keyword in params:              # RFC 1870 §3 et al.: each keyword at most once
            return replies.BAD_ARGUMENTS
        checked = _check_value(keyword, value if eq else None)
        if isinstance(checked, Reply):
            return checked
        params[keyword] = checked
    return params
