"""SASL server mechanisms, sans-I/O: PLAIN, LOGIN and SCRAM-SHA-256.

Role: the server side of an authentication exchange, shared by SMTP AUTH (RFC 4954), POP3 AUTH
(RFC 5034) and IMAP AUTHENTICATE (RFC 9051). The protocol layer decodes the client's base64,
passes the bytes to `SaslExchange.step`, and turns the value it gets back into its own reply:
`Challenge` (334 / "+ "), `Success` (235 / OK), `Failure` (by reason: 501 / BAD for "malformed",
535 5.7.8 / NO for "invalid-credentials" and "authzid-mismatch"). No sockets, no base64 on the
wire, no logging here; the "*" cancel line is the protocol's to recognise (`CANCELLED` is its
value for it).

RFCs: RFC 4616 (PLAIN), RFC 5802 and RFC 7677 (SCRAM-SHA-256), RFC 4013 (SASLprep of identities),
draft-murchison-sasl-login (LOGIN, for old clients only).

Left out: channel binding (SCRAM-SHA-256-PLUS; a "p=" client is refused), security layers,
proxy authorization (an authzid is accepted only when it names the authenticated identity),
SCRAM-SHA-1, and throttling (see throttle.py; the protocol layer asks it before answering).

Why hand-written: the Python SASL libraries are client-side or tied to a transport, and none that
is well kept offers a sans-I/O server; the mechanisms are small and their RFCs exact.

Invariants: `step` never raises for anything a client sends (only if the lookup itself fails,
which is our failure); after a `Success` or `Failure` every further step is a `Failure`; an unknown
user walks the same path as a known one and fails at the same point, so neither the replies nor
the work done tell which accounts exist.
"""

from __future__ import annotations

import abc
import base64
import binascii
import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from postoffice.auth.passwords import (
    DEFAULT_SCRAM_ITERATIONS,
    MAX_PASSWORD_CHARS,
    SCRAM_SALT_BYTES,
    Credentials,
    fake_verify_password_async,
    saslprep,
    verify_password_async,
)

MECHANISMS = ("PLAIN", "LOGIN", "SCRAM-SHA-256")

Lookup = Callable[[str], Awaitable[Credentials | None]]
"""Given an authentication identity ("alice@example.test"), its credentials, or None."""

NonceFactory = Callable[[], str]
"""The server's part of a SCRAM nonce: printable ASCII without ",", RFC 5802 §7."""

FailureReason = Literal["malformed", "invalid-credentials", "authzid-mismatch", "cancelled"]


@dataclass(frozen=True, slots=True)
class Challenge:
    data: bytes  # sent to the client; the protocol layer base64-encodes it


@dataclass(frozen=True, slots=True)
class Success:
    identity: str  # the authenticated (and authorized) identity, as given to the lookup
    data: bytes | None = None  # SCRAM's server-final-message, "additional data with success"


@dataclass(frozen=True, slots=True)
class Failure:
    reason: FailureReason


MALFORMED = Failure("malformed")
INVALID_CREDENTIALS = Failure("invalid-credentials")
AUTHZID_MISMATCH = Failure("authzid-mismatch")
CANCELLED = Failure("cancelled")

Step = Challenge | Success | Failure


class UnknownMechanism(Exception):
    """The client named a mechanism not in MECHANISMS (SMTP: 504 5.5.4)."""


class SaslExchange(abc.ABC):
    """One authentication exchange: feed each client response to `step` until no Challenge."""

    mechanism: str

    def __init__(self) -> None:
        self._finished = False

    async def step(self, response: bytes | None) -> Step:
        """The server's answer to `response`: the client's decoded bytes, or None when the client
        gave no initial response (b"" is an empty response, sent as "=", RFC 4954 §4)."""
        if self._finished:
            return MALFORMED
        try:
            result = await self._step(response)
        except BaseException:
            self._finished = True
            raise
        if not isinstance(result, Challenge):
            self._finished = True
        return result

    @abc.abstractmethod
    async def _step(self, response: bytes | None) -> Step: ...


def start(
    mechanism: str, lookup: Lookup, *, nonce_factory: NonceFactory | None = None
) -> SaslExchange:
    """A new exchange for `mechanism`; UnknownMechanism if it is not one of MECHANISMS.

    `nonce_factory` makes the server's SCRAM nonce; only tests replace it.
    """
    # RFC 4954 §8, RFC 9051 §9: protocol keywords, mechanism names included, are case-insensitive.
    # ASCII only, so that no Unicode case mapping ("plaın".upper() == "PLAIN") names a mechanism.
    name = mechanism.upper() if mechanism.isascii() else ""
    if name == "PLAIN":
        return _Plain(lookup)
    if name == "LOGIN":
        return _Login(lookup)
    if name == "SCRAM-SHA-256":
        return _ScramSha256(lookup, nonce_factory or _random_nonce)
    raise UnknownMechanism(mechanism)


class _Expect(enum.Enum):
    INITIAL = enum.auto()  # nothing received yet: an initial response or None
    RESPONSE = enum.auto()  # PLAIN after its empty challenge
    USERNAME = enum.auto()  # LOGIN
    PASSWORD = enum.auto()  # LOGIN
    CLIENT_FIRST = enum.auto()  # SCRAM after its empty challenge
    CLIENT_FINAL = enum.auto()  # SCRAM after server-first


def _prepare_identity(raw: str) -> str | None:
    """The identity handed to the lookup, or None if there is none.

    RFC 4616 §2, RFC 5802 §5.1: identities are prepared with SASLprep as "query" strings;
    surrounding spaces (SASLprep maps non-ASCII spaces to them) are a typing slip, not part of a
    name. Case is left alone: the lookup decides what is equal.
    """
    if len(raw) > MAX_PASSWORD_CHARS:  # no address is that long: no SASLprep for it either
        return None
    try:
        prepared = saslprep(raw, allow_unassigned=True).strip()
    except ValueError:
        return None
    return prepared or None


async def _verify(identity: str, password: str, lookup: Lookup) -> Step:
    """PLAIN and LOGIN: check the password of `identity`, at the same cost if it does not exist."""
    if not password:
        # RFC 4616 §2: an empty password fails verification; no account has one, so skipping the
        # hash tells an attacker nothing.
        return INVALID_CREDENTIALS
    creds = await lookup(identity)
    if creds is None:
        await fake_verify_password_async(password)
        return INVALID_CREDENTIALS
    if await verify_password_async(creds, password):
        return Success(identity)
    return INVALID_CREDENTIALS


class _Plain(SaslExchange):
    """RFC 4616: one message, [authzid] NUL authcid NUL passwd."""

    mechanism = "PLAIN"

    def __init__(self, lookup: Lookup) -> None:
        super().__init__()
        self._lookup = lookup
        self._expect = _Expect.INITIAL

    async def _step(self, response: bytes | None) -> Step:
        if response is None:
            if self._expect is _Expect.INITIAL:
                # RFC 4954 §4: without an initial response the server sends an empty challenge.
                self._expect = _Expect.RESPONSE
                return Challenge(b"")
            return MALFORMED
        parts = response.split(b"\0")
        if len(parts) != 3:  # RFC 4616 §2: exactly two NULs; none may appear inside a field
            return MALFORMED
        try:
            authzid, authcid, passwd = (part.decode("utf-8") for part in parts)
        except UnicodeDecodeError:  # RFC 4616 §2: all three are UTF-8
            return MALFORMED
        identity = _prepare_identity(authcid)
        if identity is None:  # RFC 4616 §2: authcid = 1*SAFE
            return MALFORMED
        # RFC 4616 §2: the server checks the authcid may act as the authzid; here an authcid may
        # act only as itself. Checked before the password: it costs no hash and reveals nothing.
        if authzid and _prepare_identity(authzid) != identity:
            return AUTHZID_MISMATCH
        return await _verify(identity, passwd, self._lookup)


class _Login(SaslExchange):
    """LOGIN (draft-murchison-sasl-login): "Username:" then "Password:"; for old clients."""

    mechanism = "LOGIN"

    def __init__(self, lookup: Lookup) -> None:
        super().__init__()
        self._lookup = lookup
        self._expect = _Expect.INITIAL
        self._identity = ""

    async def _step(self, response: bytes | None) -> Step:
        if response is None:
            if self._expect is _Expect.INITIAL:
                self._expect = _Expect.USERNAME
                return Challenge(b"Username:")
            return MALFORMED
        try:
            text = response.decode("utf-8")
        except UnicodeDecodeError:
            return MALFORMED
        if self._expect in (_Expect.INITIAL, _Expect.USERNAME):
            # An initial response to LOGIN is the username (as Outlook and others send it).
            identity = _prepare_identity(text)
            if identity is None:
                return MALFORMED
            self._identity, self._expect = identity, _Expect.PASSWORD
            return Challenge(b"Password:")
        return await _verify(self._identity, text, self._lookup)


# --- SCRAM-SHA-256 ------------------------------------------------------------------------------

# RFC 5802 §7 formal syntax, on text already decoded from UTF-8.
_SASLNAME = re.compile(r"(?:[^\x00=,]|=2C|=3D)+")
_PRINTABLE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
_ATTR_VAL = re.compile(r"[A-Za-z]=[^\x00,]+")
_HASH_BYTES = hashlib.sha256().digest_size

# Unknown users get a salt derived from their name with this process secret: the same name gets the
# same salt on every attempt, like a real account's would, so probing does not tell them apart.
# (Across a restart the fake salt changes; the salt of a real account does not.)
_FAKE_SALT_KEY = secrets.token_bytes(32)


def _random_nonce() -> str:
    # RFC 5802 §5.1: a fresh, unpredictable nonce per exchange; urlsafe base64 is all "printable".
    return secrets.token_urlsafe(24)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes | None:
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text
        return None
    # RFC 4648 §3.5: decoders MAY refuse non-zero pad bits. We do, so that one proof has one
    # spelling and a changed character always means a changed proof.
    return data if _b64(data) == text else None


def _decode_saslname(text: str) -> str | None:
    """RFC 5802 §5.1: "," and "=" travel as "=2C" and "=3D"; any other "=" MUST fail."""
    if not _SASLNAME.fullmatch(text):
        return None
    return re.sub("=2C|=3D", lambda m: "," if m.group() == "=2C" else "=", text)


def _are_extensions(fields: list[str]) -> bool:
    # RFC 5802 §5.1: unknown optional extensions are ignored, but "m" (a mandatory extension we
    # cannot know) MUST cause failure.
    return all(_ATTR_VAL.fullmatch(f) and not f.startswith("m=") for f in fields)


@dataclass(frozen=True, slots=True)
class _ClientFirst:
    gs2_header: str
    bare: str  # client-first-message-bare, kept as received for the AuthMessage
    username: str  # decoded saslname
    authzid: str | None
    nonce: str


def _parse_client_first(text: str) -> _ClientFirst | None:
    """RFC 5802 §7 client-first-message, or None if it is not one this server accepts."""
    fields = text.split(",")
    if len(fields) < 4:  # gs2-cbind-flag, [authzid], username, nonce
        return None
    cbind_flag, authzid_field, username_field, nonce_field = fields[:4]
    # RFC 5802 §6: "n" is a client without channel binding; "y" one that thinks we lack it, which
    # is true, so it is no downgrade. "p=" asks for channel binding, only offered by -PLUS.
    if cbind_flag not in ("n", "y"):
        return None
    authzid = None
    if authzid_field:
        if not authzid_field.startswith("a="):
            return None
        authzid = _decode_saslname(authzid_field[2:])
        if authzid is None:
            return None
    # "m=" in place of the username is the reserved-mext of RFC 5802 §7: it fails here too.
    if not (username_field.startswith("n=") and nonce_field.startswith("r=")):
        return None
    username = _decode_saslname(username_field[2:])
    nonce = nonce_field[2:]
    if username is None or not _PRINTABLE.fullmatch(nonce) or not _are_extensions(fields[4:]):
        return None
    gs2_header = f"{cbind_flag},{authzid_field},"
    return _ClientFirst(gs2_header, text[len(gs2_header):], username, authzid, nonce)


class _ScramSha256(SaslExchange):
    """RFC 5802 and RFC 7677: client-first, server-first, client-final, server-final."""

    mechanism = "SCRAM-SHA-256"

    def __init__(self, lookup: Lookup, nonce_factory: NonceFactory) -> None:
        super().__init__()
        self._lookup = lookup
        self._nonce_factory = nonce_factory
        self._expect = _Expect.INITIAL
        # Set by the client-first step, read by the client-final step.
        self._first: _ClientFirst | None = None
        self._identity = ""
        self._server_first = ""
        self._nonce = ""
        self._stored_key = b""
        self._server_key = b""
        self._is_known = False

    async def _step(self, response: bytes | None) -> Step:
        if response is None:
            if self._expect is _Expect.INITIAL:
                # RFC 5802 §5.2: SCRAM is client-first; without an initial response the server
                # sends an empty challenge and waits for client-first.
                self._expect = _Expect.CLIENT_FIRST
                return Challenge(b"")
            return MALFORMED
        try:
            text = response.decode("utf-8")  # RFC 5802 §7: the messages are UTF-8
        except UnicodeDecodeError:
            return MALFORMED
        if self._expect is _Expect.CLIENT_FINAL:
            return self._on_client_final(text)
        return await self._on_client_first(text)

    async def _on_client_first(self, text: str) -> Step:
        first = _parse_client_first(text)
        if first is None:
            return MALFORMED
        # RFC 5802 §5.1: the server prepares the username with SASLprep and aborts if that fails
        # or leaves nothing; the AuthMessage still uses the name as received (it is in `bare`).
        identity = _prepare_identity(first.username)
        if identity is None:
            return MALFORMED
        if first.authzid is not None and _prepare_identity(first.authzid) != identity:
            return AUTHZID_MISMATCH
        creds = await self._lookup(identity)
        if creds is None:
            # An unknown user is answered like a known one and fails at the proof, RFC 5802 §9
            # ("unknown-user" MAY be replaced by a generic failure to avoid disclosing it).
            fake = hmac.digest(_FAKE_SALT_KEY, identity.encode("utf-8"), "sha256")
            salt = fake[:SCRAM_SALT_BYTES]
            iterations = DEFAULT_SCRAM_ITERATIONS
            self._stored_key = secrets.token_bytes(_HASH_BYTES)
            self._server_key = secrets.token_bytes(_HASH_BYTES)
        else:
            salt, iterations = creds.scram_salt, creds.scram_iterations
            self._stored_key, self._server_key = creds.scram_stored_key, creds.scram_server_key
            self._is_known = True
        # RFC 5802 §5.1: the server appends its own nonce to the client's.
        self._nonce = first.nonce + self._nonce_factory()
        self._server_first = f"r={self._nonce},s={_b64(salt)},i={iterations}"
        self._first, self._identity = first, identity
        self._expect = _Expect.CLIENT_FINAL
        return Challenge(self._server_first.encode("ascii"))

    def _on_client_final(self, text: str) -> Step:
        first = self._first
        assert first is not None  # CLIENT_FINAL is only expected after client-first
        # RFC 5802 §7: client-final-message = without-proof "," proof, the proof always last.
        without_proof, sep, proof_b64 = text.rpartition(",p=")
        fields = without_proof.split(",")
        if not sep or len(fields) < 2 or not _are_extensions(fields[2:]):
            return MALFORMED
        channel_binding, nonce = fields[0], fields[1]
        # RFC 5802 §6: the server MUST validate c=. Without channel binding it is the base64 of
        # the gs2-header alone ("biws" for "n,,").
        if channel_binding != "c=" + _b64(first.gs2_header.encode("utf-8")):
            return MALFORMED
        # RFC 5802 §5.1: the nonce MUST be the one the server sent in server-first.
        if not hmac.compare_digest(nonce.encode("utf-8"), f"r={self._nonce}".encode("utf-8")):
            return MALFORMED
        proof = _unb64(proof_b64)
        if proof is None or len(proof) != _HASH_BYTES:
            return MALFORMED
        # RFC 5802 §3: AuthMessage, then recover ClientKey from the proof and compare its hash
        # with StoredKey in constant time.
        auth_message = f"{first.bare},{self._server_first},{without_proof}".encode("utf-8")
        client_signature = hmac.digest(self._stored_key, auth_message, "sha256")
        client_key = bytes(p ^ s for p, s in zip(proof, client_signature))
        is_proven = hmac.compare_digest(hashlib.sha256(client_key).digest(), self._stored_key)
        if not (is_proven and self._is_known):
            # RFC 5802 §5.1 "e=" is optional on failure; the protocol's failure reply says enough.
            return INVALID_CREDENTIALS
        server_signature = hmac.digest(self._server_key, auth_message, "sha256")
        return Success(self._identity, b"v=" + _b64(server_signature).encode("ascii"))


class Acknowledged(SaslExchange):
    """After SCRAM's server-final message, sent as a last challenge (IMAP and POP3 have no
    "additional data with success"): the client's empty answer completes the login."""

    mechanism = "SCRAM-SHA-256"

    def __init__(self, success: Success) -> None:
        super().__init__()
        self._success = success

    async def _step(self, response: bytes | None) -> Step:
        return Success(self._success.identity) if not response else MALFORMED
