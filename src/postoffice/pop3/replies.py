"""POP3 replies: the reply type, its encoding on the wire, and a named reply for each line we send.

Role: every status line the POP3 server writes is a `Reply` from here (or, inside an AUTH exchange,
a `Challenge`), so texts and response codes are chosen once and reviewed in one place. Deep code
raises `Refused(reply)`; the command loop is the one place that writes (and logs) it. The lines of a
multi-line response (listings, messages) and its final "." are built by `wire.multiline` and
`wire.stuffed`; here is only the "+OK" line that opens them.

RFCs: RFC 1939 §3 (status indicators "+OK" / "-ERR" in upper case, one CRLF-terminated line), §4-§7
(the reply to each command and the formats clients parse: STAT "+OK nn mm", scan listings "n size",
unique-id listings "n uid"); RFC 2449 §3 (response grammar), §4 (first line at most 512 octets with
CRLF), §8 (response codes in brackets: [LOGIN-DELAY], [IN-USE]); RFC 3206 §4-§5 ([SYS/TEMP],
[SYS/PERM], [AUTH]); RFC 2595 §4 (STLS replies); RFC 5034 §4 (AUTH challenges "+ base64", the
empty challenge "+ ", -ERR on cancel, bad base64 or an unsupported mechanism).

Left out: UTF-8 texts (RFC 6856): every text here is printable ASCII, and the few dynamic parts (host
name, unique-id) are ours. APOP has no success reply of its own: the session refuses it, and the
greeting carries no timestamp (RFC 1939 §7: only a server that offers APOP includes one).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

# RFC 1939 §3 / RFC 2449 §3: a status line is printable ASCII ending in one CRLF. CR, LF and other
# controls could end the line early and forge a second reply, so anything else becomes "?".
_UNSAFE = re.compile(r"[^\x20-\x7e]")
# RFC 2449 §3: resp-code = "[" resp-level *("/" resp-level) "]"; rchar excludes "/" and "]".
_RESP_CODE = re.compile(r"[\x21-\x2e\x30-\x5c\x5e-\x7e]+(?:/[\x21-\x2e\x30-\x5c\x5e-\x7e]+)*")
# RFC 1939 §7 UIDL: a unique-id is 1 to 70 characters in 0x21-0x7E.
_UNIQUE_ID = re.compile(r"[\x21-\x7e]{1,70}")
MAX_REPLY_LINE = 512     # RFC 2449 §4: the first line of a response, CRLF included


@dataclass(frozen=True, slots=True)
class Reply:
    """One POP3 status line: "+OK" when `ok`, else "-ERR"; `code` is an RFC 2449 §8 response code
    without its brackets ("AUTH", "SYS/TEMP"), or None."""

    ok: bool
    text: str
    code: str | None = None

    def __post_init__(self) -> None:
        if self.code is not None and not _RESP_CODE.fullmatch(self.code):
            raise ValueError(f"malformed response code {self.code!r}")

    def encode(self) -> bytes:
        """The status line as written: "+OK text\\r\\n", "-ERR [CODE] text\\r\\n", or "+OK\\r\\n"."""
        text = _UNSAFE.sub("?", self.text)
        if self.code is None and text.startswith("["):
            # RFC 2449 §3: text = *schar / resp-code *CHAR. A leading "[" would read as a response code.
            text = "?" + text[1:]
        parts = ["+OK" if self.ok else "-ERR"]   # RFC 1939 §3: upper case
        if self.code is not None:
            parts.append(f"[{self.code}]")
        if text:
            parts.append(text)
        # RFC 2449 §4: at most 512 octets with the CRLF; only a dynamic part could pass it.
        return " ".join(parts).encode("ascii")[:MAX_REPLY_LINE - 2] + b"\r\n"


@dataclass(frozen=True, slots=True)
class Challenge:
    """A SASL server challenge inside an AUTH exchange (RFC 5034 §4): "+ " and the base64 data, no
    other text; "+ " alone for the empty challenge. Not a `Reply`: it neither succeeds nor fails."""

    data: bytes

    def encode(self) -> bytes:
        # RFC 5034 §4 places no length limit on challenges (the 512 of RFC 2449 §4 is for status lines).
        return b"+ " + base64.b64encode(self.data) + b"\r\n"


class Refused(Exception):
    """Raised by deep code (maildrop, authentication) to refuse with `reply`; the command loop writes it."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.encode().decode("ascii").rstrip())
        self.reply = reply


def _messages(count: int, octets: int) -> str:
    return f"{count} message{'' if count == 1 else 's'} ({octets} octets)"


# --- Connection: greeting, closing (RFC 1939 §4, §6; RFC 2449 §4) ---------------------------

def greeting(hostname: str) -> Reply:
    """The greeting (RFC 1939 §4: any positive response). No "<timestamp>": we do not offer APOP
    (RFC 1939 §7), and a timestamp would invite clients to try it."""
    return Reply(True, f"{hostname} POP3 server ready")


# RFC 1939 §4: QUIT in the AUTHORIZATION state; §6: QUIT in the TRANSACTION state, once the UPDATE
# state has removed the deleted messages, names what is left.
BYE = Reply(True, "POP3 server signing off")


def signing_off(messages_left: int) -> Reply:
    """+OK after the UPDATE state removed the deleted messages (RFC 1939 §6 examples)."""
    left = "maildrop empty" if messages_left == 0 else (
        f"{messages_left} message{'' if messages_left == 1 else 's'} left")
    return Reply(True, f"POP3 server signing off ({left})")


# RFC 1939 §6: the UPDATE state could not remove every deleted message (our failure: [SYS/TEMP]).
DELETE_FAILED = Reply(False, "some deleted messages not removed", "SYS/TEMP")
# RFC 1939 §3 says an expired autologout timer closes the connection "without ... sending any
# response"; we send this one line first (as Dovecot does) so a person reading a client log learns
# why, then close without entering the UPDATE state. A client reads it as its next command's answer.
TIMEOUT = Reply(False, "idle timeout, closing connection")
TOO_MANY_ERRORS = Reply(False, "too many errors, closing connection")
# STYLE.md: shutdown sends the protocol's goodbye; [SYS/TEMP] (RFC 3206 §4): come back later.
SHUTTING_DOWN = Reply(False, "server shutting down, try again later", "SYS/TEMP")
TOO_MANY_CONNECTIONS = Reply(False, "too many connections, try again later", "SYS/TEMP")

# --- AUTHORIZATION: USER/PASS, APOP, AUTH (RFC 1939 §7; RFC 5034 §4; RFC 2449 §8; RFC 3206) ----

OK = Reply(True, "")                                                   # RFC 1939 §5 NOOP: "+OK"
# RFC 1939 §7 USER: the same answer for every name, so USER does not reveal which mailboxes exist.
USER_OK = Reply(True, "send PASS")


def logged_in(count: int, octets: int) -> Reply:
    """+OK to PASS or AUTH: "+OK maildrop has 2 messages (320 octets)" (RFC 1939 §7 PASS, APOP)."""
    return Reply(True, f"maildrop has {_messages(count, octets)}")


# RFC 3206 §5: [AUTH] is the credentials' fault (wrong password, unknown user, or an attempt that
# violates policy); one text for every such case, so it does not tell which one it was.
AUTH_FAILED = Reply(False, "authentication failed", "AUTH")
# RFC 2449 §8.1.2: authentication succeeded but the maildrop is locked by another session.
IN_USE = Reply(False, "maildrop in use by another session", "IN-USE")
TOO_MANY_LOGINS = Reply(False, "too many connections for this account", "IN-USE")
# RFC 2449 §8.1.1: logged in too recently. For PASS and AUTH, not USER (§8.1.1 NOTE: it would reveal
# that the user exists).
LOGIN_DELAY = Reply(False, "login delay not yet expired", "LOGIN-DELAY")
# RFC 2595 §2.3, RFC 5034 §4: no clear-text password (USER/PASS, AUTH PLAIN/LOGIN) before STLS,
# except on loopback. Code [AUTH], not [SYS/PERM]: RFC 3206 §5 lists "an attempt to authenticate in
# violation of policy (such as from an invalid location ...)" under AUTH, and [SYS/PERM] (§4) would
# tell the client the server is broken; Dovecot sends [AUTH] in the same case. The text names STLS so
# the user can fix the account setting.
PLAINTEXT_REFUSED = Reply(False, "plaintext authentication disallowed without TLS, use STLS first", "AUTH")
# RFC 1939 §7 APOP is parsed but refused: it needs the password stored in clear on the server.
APOP_NOT_SUPPORTED = Reply(False, "APOP not supported, use STLS and USER/PASS or AUTH")


def auth_challenge(data: bytes) -> Challenge:
    """RFC 5034 §4: "+ " and the base64 challenge; "+ " alone when `data` is empty."""
    return Challenge(data)


# "AUTH" with no mechanism (RFC 1734 practice, kept by clients that probe with it): +OK, then the
# mechanisms one per line and "." (built by `wire.multiline`).
AUTH_MECHANISMS_FOLLOW = Reply(True, "SASL mechanisms follow")
AUTH_CANCELLED = Reply(False, "authentication cancelled")              # RFC 5034 §4: "*" gives -ERR
MECHANISM_NOT_SUPPORTED = Reply(False, "unsupported authentication mechanism")  # RFC 5034 §4
BAD_BASE64 = Reply(False, "invalid base64 data")                       # RFC 5034 §4: MUST reject
# RFC 5034 §4: an initial response for a mechanism that does not support one gives -ERR.
INITIAL_RESPONSE_NOT_ALLOWED = Reply(False, "mechanism does not take an initial response")

# --- STLS (RFC 2595 §4) ----------------------------------------------------------------------

TLS_READY = Reply(True, "begin TLS negotiation")
TLS_ALREADY_ACTIVE = Reply(False, "command not permitted when TLS active")   # RFC 2595 §4 example
TLS_NOT_AVAILABLE = Reply(False, "TLS not available")

# --- TRANSACTION (RFC 1939 §5, §7) -----------------------------------------------------------


def stat(count: int, octets: int) -> Reply:
    """RFC 1939 §5 STAT: "+OK", a space, the count, a space, the size, and nothing after it."""
    return Reply(True, f"{count} {octets}")


def scan_listing(msg: int, octets: int) -> Reply:
    """RFC 1939 §5 LIST msg: "+OK" and the scan listing "msg size"."""
    return Reply(True, f"{msg} {octets}")


def unique_id_listing(msg: int, uid: str) -> Reply:
    """RFC 1939 §7 UIDL msg: "+OK" and the unique-id listing "msg uid", nothing after the uid."""
    if not _UNIQUE_ID.fullmatch(uid):
        raise ValueError(f"unique-id {uid!r} is not 1-70 characters in 0x21-0x7E")
    return Reply(True, f"{msg} {uid}")


def list_follows(count: int, octets: int) -> Reply:
    """+OK before the scan listings of LIST: "+OK 2 messages (320 octets)" (RFC 1939 §5 example)."""
    return Reply(True, _messages(count, octets))


def retr_follows(octets: int) -> Reply:
    """+OK before a message: "+OK 120 octets" (RFC 1939 §5 RETR example)."""
    return Reply(True, f"{octets} octets")


UIDL_FOLLOWS = Reply(True, "unique-id listing follows")               # RFC 1939 §7 UIDL
TOP_FOLLOWS = Reply(True, "top of message follows")                   # RFC 1939 §7 TOP
CAPA_FOLLOWS = Reply(True, "Capability list follows")                 # RFC 2449 §5 example


def deleted(msg: int) -> Reply:
    """RFC 1939 §5 DELE: "+OK message 1 deleted"."""
    return Reply(True, f"message {msg} deleted")


def reset(count: int, octets: int) -> Reply:
    """RFC 1939 §5 RSET: "+OK maildrop has 2 messages (320 octets)"."""
    return Reply(True, f"maildrop has {_messages(count, octets)}")


# RFC 1939 §5: LIST, RETR, DELE, TOP, UIDL of a message that does not exist or is marked deleted.
NO_SUCH_MESSAGE = Reply(False, "no such message")
ALREADY_DELETED = Reply(False, "message already deleted")             # RFC 1939 §5 DELE example

# --- The client's mistakes (RFC 1939 §3: a negative status indicator) ------------------------

UNKNOWN_COMMAND = Reply(False, "unknown command")
BAD_ARGUMENTS = Reply(False, "invalid arguments")
BAD_MESSAGE_NUMBER = Reply(False, "invalid message number")
LINE_TOO_LONG = Reply(False, "line too long")                          # RFC 2449 §4: 255 octets
NOT_IN_THIS_STATE = Reply(False, "command not valid in this state")    # RFC 1939 §3

# --- Our own failures ------------------------------------------------------------------------

# STYLE.md: our own failure is -ERR [SYS/TEMP] (RFC 3206 §4), with a generic text: never the
# exception's text, a path or a config value.
SYS_TEMP = Reply(False, "local error, try again later", "SYS/TEMP")
