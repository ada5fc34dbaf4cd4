"""SASL server mechanisms, sans-I/O: PLAIN, LOGIN, SCRAM-SHA-256 and SCRAM-SHA-256-PLUS.

Role: the server side of one authentication exchange. `auth.authenticator` drives it for SMTP AUTH
(RFC 4954), POP3 AUTH (RFC 5034) and IMAP AUTHENTICATE (RFC 9051) and adds what is not a
mechanism's business (which mechanisms a connection is offered, throttling, the final-data
acknowledgement). `SaslExchange.step` takes the client's decoded bytes and gives a `Challenge`, a
`Success` or a `Failure` with its reason. No sockets, no base64 on the wire, no logging here.

RFCs: RFC 4616 (PLAIN), RFC 5802 and RFC 7677 (SCRAM-SHA-256), RFC 5929 §4 (tls-server-end-point
channel binding for -PLUS), RFC 4013 (SASLprep of identities), draft-murchison-sasl-login (LOGIN,
for old clients only).

Left out: channel binding types other than tls-server-end-point, security layers, proxy
authorization (a PLAIN authzid is accepted only when it names the authenticated identity; SCRAM
takes none, see below), SCRAM-SHA-1, and throttling (the authenticator's).

Why scramp for SCRAM: it is a maintained sans-I/O implementation with a server side and channel
binding, so the message grammar, the proof and the c= check of -PLUS are not ours to get right.
Around it stay what it does not do our way: the store lookup is asynchronous (scramp asks for the
verifier synchronously, so the username is read first and the verifier handed over ready), an
unknown user must look like a known one until the proof (scramp would say "unknown-user" at once),
and a few refusals are sharper here (a non-canonical proof is malformed, not a wrong password).
scramp refuses any authzid, even one naming the user itself, so SCRAM does too.
PLAIN and LOGIN are a few lines each and stay hand-written.

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
from typing import Any, Literal

import scramp
from scramp.utils import ServerError

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
"""What any connection may use (once its plaintext policy allows authentication at all)."""

PLUS_MECHANISMS = ("SCRAM-SHA-256-PLUS",)
"""What only a TLS connection may use: they need the channel binding data TLS gives."""

Lookup = Callable[[str], Awaitable[Credentials | None]]
"""Given an authentication identity ("alice@example.test"), its credentials, or None."""

NonceFactory = Callable[[], str]
"""The server's part of a SCRAM nonce: printable ASCII without ",", RFC 5802 §7."""

FailureReason = Literal["malformed", "invalid-credentials", "authzid-mismatch", "channel-binding-mismatch",
                        "cancelled"]


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
CHANNEL_BINDING_MISMATCH = Failure("channel-binding-mismatch")
CANCELLED = Failure("cancelled")

Step = Challenge | Success | Failure


class UnknownMechanism(Exception):
    """The client named a mechanism not in MECHANISMS, or a -PLUS one without channel binding."""


class SaslExchange(abc.ABC):
    """One authentication exchange: feed each client response to `step` until no Challenge."""

    mechanism: str

    def __init__(self) -> None:
        self._finished = False
        # The identity the client claims, prepared, once a step has read it: the account whose
        # failures the throttle counts. Not proof of anything.
        self.claimed: str | None = None

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
    mechanism: str,
    lookup: Lookup,
    *,
    channel_binding: bytes | None = None,
    nonce_factory: NonceFactory | None = None,
) -> SaslExchange:
    """A new exchange for `mechanism`; UnknownMechanism if it is not one of MECHANISMS, or one of
    PLUS_MECHANISMS while `channel_binding` is None.

    `channel_binding` is the RFC 5929 tls-server-end-point data of the connection's TLS (None
    without TLS); `nonce_factory` makes the server's SCRAM nonce, and only tests replace it.
    """
    # RFC 4954 §8, RFC 9051 §9: protocol keywords, mechanism names included, are case-insensitive.
    # ASCII only, so that no Unicode case mapping ("plaın".upper() == "PLAIN") names a mechanism.
    name = mechanism.upper() if mechanism.isascii() else ""
    if name == "PLAIN":
        return _Plain(lookup)
    if name == "LOGIN":
        return _Login(lookup)
    if name in ("SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"):
        is_plus = name.endswith("-PLUS")
        if is_plus and channel_binding is None:
            raise UnknownMechanism(mechanism)
        return _Scram(lookup, nonce_factory or _random_nonce, channel_binding=channel_binding,
                      is_plus=is_plus)
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
        self.claimed = identity
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
            self.claimed = identity
            return Challenge(b"Password:")
        return await _verify(self._identity, text, self._lookup)


# --- SCRAM-SHA-256 and SCRAM-SHA-256-PLUS --------------------------------------------------------

# RFC 5802 §7 formal syntax, on text already decoded from UTF-8.
_SASLNAME = re.compile(r"(?:[^\x00=,]|=2C|=3D)+")
_PRINTABLE = re.compile(r"[\x21-\x2b\x2d-\x7e]+")
_ATTR_VAL = re.compile(r"[A-Za-z]=[^\x00,]+")
_HASH_BYTES = hashlib.sha256().digest_size

# The one channel binding type offered (RFC 5929 §4): the hash of our certificate, which the
# listener knows without asking OpenSSL for per-connection data, and which works with TLS 1.3
# (tls-unique does not, RFC 8446 §C.5).
CHANNEL_BINDING_TYPE = "tls-server-end-point"

# scramp's floor for an iteration count (RFC 7677 §3's "at least 4096"): verifiers made with fewer
# cannot be served by it. make_credentials defaults to this, and every account is made that way.
_MIN_ITERATIONS = 4096

# Unknown users get a salt derived from their name with this process secret: the same name gets the
# same salt on every attempt, like a real account's would, so probing does not tell them apart.
# (Across a restart the fake salt changes; the salt of a real account does not.)
_FAKE_SALT_KEY = secrets.token_bytes(32)

_SCRAM = scramp.ScramMechanism("SCRAM-SHA-256")
_SCRAM_PLUS = scramp.ScramMechanism("SCRAM-SHA-256-PLUS")


def _random_nonce() -> str:
    # RFC 5802 §5.1: a fresh, unpredictable nonce per exchange; urlsafe base64 is all "printable".
    return secrets.token_urlsafe(24)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _is_canonical_proof(text: str) -> bool:
    """A proof as RFC 5802 §7 writes it: base64 of one SHA-256 output."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text
        return False
    # RFC 4648 §3.5: decoders MAY refuse non-zero pad bits. We do, so that one proof has one
    # spelling and a changed character always means a changed proof.
    return len(data) == _HASH_BYTES and _b64(data) == text


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
    cbind_flag: str  # "n", "y" or "p=<type>"
    username: str  # decoded saslname
    authzid: str | None


def _parse_client_first(text: str) -> _ClientFirst | None:
    """RFC 5802 §7 client-first-message, or None if it is not one this server accepts.

    scramp parses it again; this first reading gives the username for the store lookup (which is
    asynchronous, and scramp's is not) and the checks scramp does not make or reports otherwise.
    """
    fields = text.split(",")
    if len(fields) < 4:  # gs2-cbind-flag, [authzid], username, nonce
        return None
    cbind_flag, authzid_field, username_field, nonce_field = fields[:4]
    if not (cbind_flag in ("n", "y") or cbind_flag.startswith("p=")):
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
    if username is None or not _PRINTABLE.fullmatch(nonce_field[2:]) or not _are_extensions(fields[4:]):
        return None
    return _ClientFirst(cbind_flag, username, authzid)


def _failure_of(error: scramp.ScramException, *, is_plus: bool) -> Failure:
    """The failure a SCRAM error from scramp stands for."""
    kind = error.server_error
    if kind is ServerError.INVALID_PROOF:
        return INVALID_CREDENTIALS
    # RFC 5802 §6: under -PLUS, c= that does not carry our certificate's hash is a channel that is
    # not the one the client sees: a man in the middle, not a slip. A "y" client while channel
    # binding is offered is a stripped mechanism list, the same attack.
    if kind is ServerError.SERVER_DOES_SUPPORT_CHANNEL_BINDING or (
            is_plus and kind is ServerError.CHANNEL_BINDINGS_DONT_MATCH):
        return CHANNEL_BINDING_MISMATCH
    return MALFORMED


class _Scram(SaslExchange):
    """RFC 5802 and RFC 7677: client-first, server-first, client-final, server-final; with RFC 5929
    tls-server-end-point channel binding for -PLUS. The exchange itself is scramp's."""

    def __init__(self, lookup: Lookup, nonce_factory: NonceFactory, *, channel_binding: bytes | None,
                 is_plus: bool) -> None:
        super().__init__()
        self.mechanism = "SCRAM-SHA-256-PLUS" if is_plus else "SCRAM-SHA-256"
        self._lookup = lookup
        self._nonce_factory = nonce_factory
        self._channel_binding = channel_binding
        self._is_plus = is_plus
        self._expect = _Expect.INITIAL
        self._server: Any = None  # scramp.core.ScramServer, from the client-first step on
        self._identity = ""
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
        # RFC 5802 §6: "p=" asks for channel binding, which only -PLUS gives, and -PLUS is
        # nothing without it. "n" is a client without channel binding; "y" one that thinks we
        # lack it (scramp refuses it when we do have it).
        if self._is_plus != first.cbind_flag.startswith("p="):
            return MALFORMED
        if self._is_plus and first.cbind_flag != "p=" + CHANNEL_BINDING_TYPE:
            return MALFORMED
        # RFC 5802 §5.1: the server prepares the username with SASLprep and aborts if that fails
        # or leaves nothing.
        identity = _prepare_identity(first.username)
        if identity is None:
            return MALFORMED
        self.claimed = identity
        # scramp accepts no authorization identity at all (its gs2-header must be "n,," or the
        # like), so even one naming the user itself is refused, as one naming another would be.
        if first.authzid is not None:
            return AUTHZID_MISMATCH
        creds = await self._lookup(identity)
        if creds is None:
            # An unknown user is answered like a known one and fails at the proof, RFC 5802 §9
            # ("unknown-user" MAY be replaced by a generic failure to avoid disclosing it).
            fake = hmac.digest(_FAKE_SALT_KEY, identity.encode("utf-8"), "sha256")
            verifier = (fake[:SCRAM_SALT_BYTES], secrets.token_bytes(_HASH_BYTES),
                        secrets.token_bytes(_HASH_BYTES), DEFAULT_SCRAM_ITERATIONS)
        else:
            if creds.scram_iterations < _MIN_ITERATIONS:
                # Our failure, not the client's: answered as a temporary error by the protocol.
                raise ValueError("SCRAM verifier has fewer iterations than scramp serves")
            verifier = (creds.scram_salt, creds.scram_stored_key, creds.scram_server_key,
                        creds.scram_iterations)
            self._is_known = True
        binding = (CHANNEL_BINDING_TYPE, self._channel_binding) if self._channel_binding else None
        mechanism = _SCRAM_PLUS if self._is_plus else _SCRAM
        # RFC 5802 §5.1: the server appends its own nonce to the client's.
        server = mechanism.make_server(lambda _username: verifier, channel_binding=binding,
                                       s_nonce=self._nonce_factory())
        try:
            server.set_client_first(text)
            server_first = str(server.get_server_first())
        except scramp.ScramException as e:
            return _failure_of(e, is_plus=self._is_plus)
        self._server, self._identity = server, identity
        self._expect = _Expect.CLIENT_FINAL
        return Challenge(server_first.encode("ascii"))

    def _on_client_final(self, text: str) -> Step:
        # RFC 5802 §7: client-final-message = without-proof "," proof, the proof always last.
        _, sep, proof = text.rpartition(",p=")
        if not sep or not _is_canonical_proof(proof):
            return MALFORMED
        try:
            # Checks c= (the gs2-header, and under -PLUS our certificate's hash, RFC 5802 §6), the
            # nonce (RFC 5802 §5.1) and the proof against StoredKey (RFC 5802 §3).
            self._server.set_client_final(text)
            server_final = str(self._server.get_server_final())
        except scramp.ScramException as e:
            return _failure_of(e, is_plus=self._is_plus)
        if not self._is_known:  # the random keys of an unknown user cannot be proven, but still
            return INVALID_CREDENTIALS
        # RFC 5802 §5.1 "e=" is optional on failure; the protocol's failure reply says enough.
        return Success(self._identity, server_final.encode("ascii"))

