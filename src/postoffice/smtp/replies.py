"""SMTP replies: the reply type, its encoding on the wire, and a named constant for each reply we send.

Role: every line the SMTP server writes is a `Reply` from here, so codes, enhanced status codes and
texts are chosen once and reviewed in one place. Deep code raises `Refused(reply)`; the command loop
is the one place that writes (and logs) it.

RFCs: RFC 5321 §4.2 (reply syntax: "250-" continuation lines, "250 " last line; §4.2.1 multi-line
replies, §4.2.2-§4.2.3 the codes, §4.3.2 which code follows which command, §4.5.3.1.9 the replies
for exceeded limits); RFC 2034 §3-§4 and RFC 3463 (the enhanced status code on every line of every
2xx/4xx/5xx reply except the greeting and the replies to EHLO/HELO, and never on 3xx); RFC 5248
(registry of enhanced codes); RFC 4954 §4, §6 (AUTH replies); RFC 3207 §4 (STARTTLS replies);
RFC 6531 §3.5 (non-ASCII addresses); RFC 3030 §2 (BDAT replies); RFC 1870 §6 (SIZE).

Left out: reply line length (RFC 5321 §4.5.3.1.5, 512 octets): texts here are short and the dynamic
parts (host names, queue ids) are ours, so nothing is truncated.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass

# Anything that could end a reply line early or confuse a client's parser (RFC 5321 §4.2: a reply
# line is code, "-" or SP, text, CRLF; text is printable) is replaced before it reaches the wire.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")
_STATUS = re.compile(r"[245]\.\d{1,3}\.\d{1,3}")  # RFC 3463 §2: class "." subject "." detail


@dataclass(frozen=True, slots=True)
class Reply:
    """One SMTP reply. `status` is the RFC 3463 enhanced code, or "" where RFC 2034 forbids one
    (the greeting, EHLO/HELO replies, 3xx). `lines` are further lines after `text` (EHLO keywords)."""

    code: int
    status: str
    text: str
    lines: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # RFC 2034 §4: the enhanced code's class agrees with the reply code's first digit.
        if not 200 <= self.code <= 599:
            raise ValueError(f"reply code {self.code} out of range")
        if self.status and (not _STATUS.fullmatch(self.status) or self.status[0] != str(self.code)[0]):
            raise ValueError(f"status {self.status!r} does not fit reply code {self.code}")

    @property
    def is_positive(self) -> bool:
        return self.code < 400

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    def encode(self) -> bytes:
        """The reply as written on the wire, every line ending in CRLF (RFC 5321 §4.2.1)."""
        texts = (self.text, *self.lines)
        out = []
        for i, text in enumerate(texts):
            sep = " " if i == len(texts) - 1 else "-"
            # RFC 2034 §4: the same status code begins the text of each line of a multi-line reply;
            # EHLO replies carry none (RFC 2034 §3 (4)), so their keyword lines stay bare.
            prefix = f"{self.status} " if self.status else ""
            out.append(f"{self.code}{sep}{prefix}{_UNSAFE.sub('?', text)}\r\n")
        return "".join(out).encode("utf-8")  # ASCII except where RFC 6531 §3.7.4 allows UTF-8


class Refused(Exception):
    """Raised by deep code (policy, routing, delivery) to refuse with `reply`; the command loop writes it."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"{reply.code} {reply.status} {reply.text}")
        self.reply = reply


# --- Connection: greeting, EHLO/HELO, closing (RFC 5321 §4.2, §4.1.1.1, §4.1.1.10) ------------

def greeting(hostname: str) -> Reply:
    """220 greeting; RFC 2034 §3 (4): no enhanced status code on the greeting."""
    return Reply(220, "", f"{hostname} ESMTP postoffice")


def ehlo(hostname: str, keywords: Iterable[str] = ()) -> Reply:
    """250 EHLO reply: the host name, then one extension keyword per line (RFC 5321 §4.1.1.1),
    without enhanced codes (RFC 2034 §3 (4))."""
    return Reply(250, "", hostname, tuple(keywords))


def helo(hostname: str) -> Reply:
    return Reply(250, "", hostname)  # RFC 2034 §3 (4): none on HELO either


BYE = Reply(221, "2.0.0", "Bye")                                        # RFC 5321 §4.1.1.10
TIMEOUT = Reply(421, "4.4.2", "Timeout, closing connection")            # RFC 3463 X.4.2 bad connection
TOO_MANY_ERRORS = Reply(421, "4.7.0", "Too many errors, closing connection")
SHUTTING_DOWN = Reply(421, "4.3.2", "Service shutting down, try again later")  # X.3.2 not accepting
TOO_MANY_CONNECTIONS = Reply(421, "4.7.0", "Too many connections, try again later")
# RFC 4954 §6: 454 4.7.0, a temporary authentication failure: the account has too many connections.
TOO_MANY_LOGINS = Reply(454, "4.7.0", "Too many connections for this account, try again later")

# --- Successful commands -------------------------------------------------------------------

OK = Reply(250, "2.0.0", "OK")
NOOP_OK = Reply(250, "2.0.0", "OK")                                     # RFC 5321 §4.1.1.9
RESET_OK = Reply(250, "2.0.0", "Reset OK")                              # RFC 5321 §4.1.1.5
SENDER_OK = Reply(250, "2.1.0", "Sender OK")                            # RFC 3463 X.1.0
RECIPIENT_OK = Reply(250, "2.1.5", "Recipient OK")                      # RFC 3463 X.1.5 destination valid
RCPT_OK = RECIPIENT_OK
DATA_START = Reply(354, "", "End data with <CR><LF>.<CR><LF>")         # RFC 2034 §4: no code on 3xx
# RFC 5321 §3.5.3: a server that will not verify answers 252, and accepts the message anyway.
CANNOT_VRFY = Reply(252, "2.5.0", "Cannot VRFY user, but will accept message and attempt delivery")
HELP = Reply(214, "2.0.0", "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH")


def queued(queue_id: str) -> Reply:
    """250 after DATA/BDAT LAST, sent only once the message is durably queued (docs/architecture.md)."""
    return Reply(250, "2.0.0", f"Ok: queued as {queue_id}")


def chunk_received(size: int) -> Reply:
    """250 for a BDAT chunk that is not the last (RFC 3030 §2)."""
    return Reply(250, "2.0.0", f"{size} octets received")


# --- The client's mistakes (RFC 5321 §4.2.2, §4.3.2; RFC 3463 X.5.x) --------------------------

SYNTAX_ERROR = Reply(500, "5.5.2", "Syntax error, command unrecognized")   # X.5.2 syntax error
BAD_ARGUMENTS = Reply(501, "5.5.4", "Syntax error in parameters or arguments")  # X.5.4 invalid arguments
NOT_IMPLEMENTED = Reply(502, "5.5.1", "Command not implemented")           # X.5.1 invalid command
BAD_SEQUENCE = Reply(503, "5.5.1", "Bad sequence of commands")
# RFC 5321 §4.1.1.11 and §4.2.3: 555 for MAIL/RCPT parameters not recognized; also malformed ones.
PARAM_NOT_RECOGNISED = Reply(555, "5.5.4", "MAIL FROM/RCPT TO parameters not recognized or not implemented")
# RFC 5321 §4.5.3.1.9 "500 Line too long". X.5.2 (syntax error) rather than X.5.6, which RFC 4954 §6
# registers for an over-long AUTH exchange line only (AUTH_LINE_TOO_LONG below).
LINE_TOO_LONG = Reply(500, "5.5.2", "Line too long")
BAD_SENDER_ADDRESS = Reply(501, "5.1.7", "Bad sender address syntax")       # RFC 3463 X.1.7
BAD_RECIPIENT_ADDRESS = Reply(501, "5.1.3", "Bad recipient address syntax")  # RFC 3463 X.1.3
# RFC 5321 §4.5.3.1.9 "501 Path too long" (§4.5.3.1.1-3: local part 64, domain 255, path 256).
SENDER_PATH_TOO_LONG = Reply(501, "5.1.7", "Path too long")
RECIPIENT_PATH_TOO_LONG = Reply(501, "5.1.3", "Path too long")
# RFC 6531 §3.5: a non-ASCII address where it is not allowed: 553 for RCPT, 550 for MAIL, X.6.7.
SMTPUTF8_REQUIRED = Reply(553, "5.6.7", "Non-ASCII addresses require SMTPUTF8")
SMTPUTF8_REQUIRED_SENDER = Reply(550, "5.6.7", "Non-ASCII addresses require SMTPUTF8")
# RFC 5321 §3.3: DATA with no accepted recipient may be answered 554 "no valid recipients".
NO_VALID_RECIPIENTS = Reply(554, "5.5.1", "No valid recipients")

# --- Limits and message content -------------------------------------------------------------

TOO_MANY_RECIPIENTS = Reply(452, "4.5.3", "Too many recipients")           # RFC 5321 §4.5.3.1.10
# RFC 5321 §4.5.3.1.9 "552 Too much mail data"; RFC 1870 §6.2-6.3; RFC 3463 X.3.4 too big for system.
MESSAGE_TOO_BIG = Reply(552, "5.3.4", "Message size exceeds fixed maximum message size")
# RFC 5321 §2.3.8, §4.1.1.4: lines end with CRLF; a bare CR or LF is refused, not repaired (the SMTP
# smuggling defence). 554 is the data-end failure (§4.3.2); RFC 3463 X.6.0 other media error (no
# registered code is more precise).
BARE_LINE_ENDING = Reply(554, "5.6.0", "Message refused: lines must end with CRLF")
# RFC 5321 §4.5.3.1.6: text lines at most 998 octets plus CRLF; RFC 3463 X.6.0.
DATA_LINE_TOO_LONG = Reply(554, "5.6.0", "Message refused: line too long")
# RFC 5321 §4.2.2 452; RFC 3463 X.3.1 mail system full.
STORAGE_FULL = Reply(452, "4.3.1", "Insufficient system storage")

# --- Policy ---------------------------------------------------------------------------------

NO_SUCH_USER = Reply(550, "5.1.1", "No such user here")                     # RFC 3463 X.1.1
RELAY_DENIED = Reply(550, "5.7.1", "Relay access denied")                   # RFC 5321 §3.6.2; X.7.1
SENDER_NOT_ALLOWED = Reply(553, "5.7.1", "Sender address not owned by authenticated user")  # RFC 6409 §6.1

# --- AUTH (RFC 4954 §4, §6) -----------------------------------------------------------------

AUTH_OK = Reply(235, "2.7.0", "Authentication successful")
AUTH_REQUIRED = Reply(530, "5.7.0", "Authentication required")
AUTH_FAILED = Reply(535, "5.7.8", "Authentication credentials invalid")
AUTH_TEMP_FAILURE = Reply(454, "4.7.0", "Temporary authentication failure")
AUTH_TOO_WEAK = Reply(534, "5.7.9", "Authentication mechanism is too weak")
# RFC 4954 §6 still lists 538 5.7.11, though §1 deprecates it; STARTTLS_REQUIRED is preferred.
ENCRYPTION_REQUIRED = Reply(538, "5.7.11", "Encryption required for requested authentication mechanism")
AUTH_CANCELLED = Reply(501, "5.7.0", "Authentication cancelled")           # RFC 4954 §4: "*" gives 501
BAD_BASE64 = Reply(501, "5.5.2", "Cannot decode base64")                   # RFC 4954 §4
MECHANISM_NOT_SUPPORTED = Reply(504, "5.5.4", "Unrecognized authentication type")  # RFC 4954 §4
AUTH_LINE_TOO_LONG = Reply(500, "5.5.6", "Authentication exchange line is too long")  # RFC 4954 §4


def auth_challenge(data: bytes) -> Reply:
    """334 with the base64 challenge (RFC 4954 §4); "334 " with nothing when `data` is empty."""
    return Reply(334, "", base64.b64encode(data).decode("ascii"))


# --- STARTTLS (RFC 3207 §4) and our own failures ---------------------------------------------

TLS_READY = Reply(220, "2.0.0", "Ready to start TLS")
TLS_NOT_AVAILABLE = Reply(454, "4.7.0", "TLS not available due to temporary reason")
STARTTLS_REQUIRED = Reply(530, "5.7.0", "Must issue a STARTTLS command first")
# STYLE.md: our own failure is 451 4.3.0, never a 5xx.
LOCAL_ERROR = Reply(451, "4.3.0", "Local error, try again later")
