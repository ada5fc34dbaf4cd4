"""One login path for SMTP AUTH, POP3 USER/PASS and AUTH, and IMAP LOGIN and AUTHENTICATE.

Role: everything about logging in that does not depend on the protocol's wire. Given what is known
of the connection (`Peer`: address, loopback, TLS, channel binding data) the `Authenticator` says
whether a password may be sent at all (the plaintext policy), which SASL mechanisms are offered,
runs each exchange (`Exchange.step`: challenges, SCRAM's final server data and its empty
acknowledgement) and the one-line logins, throttles failures with `LoginThrottle` (an unknown
account costs a full fake verification, like a wrong password), and answers with a typed value:
`Challenge`, `Authenticated` with the identity, or `Failed` with a `Reason`. Each protocol maps
that to its own reply (535 5.7.8, -ERR [AUTH], NO [AUTHENTICATIONFAILED] ...) and keeps its wire
details (base64 framing, "*" and over-long lines are recognised by the protocol, which tells the
exchange with `cancel`).

RFCs: RFC 4954 §4 and RFC 5034 §4 (no password before TLS, except where configured; the final
server data answered with an empty line), RFC 9051 §6.2.2-§6.2.3, RFC 5802 §5.1 and RFC 5929
(-PLUS only with TLS), RFC 4954 §9 and RFC 5802 §9 (resisting password guessing).

Left out: logging (the protocol logs with its own name and the client's label), and what happens
after a login (locks, the maildrop, the account's mailboxes).

Invariants: nothing a client sends makes a method raise (the store failing does, which is our
failure); an exchange that ended only ever answers `Failed(MALFORMED)` again;
every failure that could be a guess is counted and waited for before it is answered.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from postoffice.auth import sasl
from postoffice.auth.passwords import fake_verify_password_async, verify_password_async
from postoffice.auth.throttle import LoginThrottle

PLAINTEXT_AUTH = ("never", "loopback", "always")
"""The values of a listener's `plaintext_auth` setting: when a password may travel without TLS."""

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Peer:
    """What the authenticator needs to know about one connection, as it is now."""

    ip: str
    is_loopback: bool
    tls_active: bool = False
    # RFC 5929 §4 tls-server-end-point data of our certificate, while TLS is active; None otherwise.
    channel_binding: bytes | None = None


class Reason(enum.Enum):
    """Why a login did not succeed; each protocol has one reply for each."""

    MALFORMED = "malformed"  # the client broke the mechanism's syntax (501 / -ERR / BAD)
    CANCELLED = "cancelled"  # the client sent "*"
    BAD_CREDENTIALS = "bad-credentials"  # wrong password, unknown account, failed proof
    AUTHZID_REFUSED = "authzid-refused"  # may not act as the authorization identity asked for
    CHANNEL_BINDING = "channel-binding"  # -PLUS: the client's TLS channel is not ours (RFC 5802 §6)
    TOO_LONG = "too-long"  # a response longer than the protocol reads
    PLAINTEXT_REFUSED = "plaintext-refused"  # no login before TLS on this connection
    UNKNOWN_MECHANISM = "unknown-mechanism"  # not offered on this connection


# Failures that may be a guess at a password: counted, and delayed once there were too many.
_GUESSES = frozenset({Reason.BAD_CREDENTIALS, Reason.AUTHZID_REFUSED, Reason.CHANNEL_BINDING})

_REASON_OF: dict[str, Reason] = {
    sasl.MALFORMED.reason: Reason.MALFORMED,
    sasl.CANCELLED.reason: Reason.CANCELLED,
    sasl.INVALID_CREDENTIALS.reason: Reason.BAD_CREDENTIALS,
    sasl.AUTHZID_MISMATCH.reason: Reason.AUTHZID_REFUSED,
    sasl.CHANNEL_BINDING_MISMATCH.reason: Reason.CHANNEL_BINDING,
}


@dataclass(frozen=True, slots=True)
class Challenge:
    data: bytes  # for the client, base64-encoded by the protocol ("334 ", "+ ")


@dataclass(frozen=True, slots=True)
class Authenticated:
    identity: str  # the authenticated identity as the client wrote it, prepared (RFC 4013)


@dataclass(frozen=True, slots=True)
class Failed:
    reason: Reason


Answer = Challenge | Authenticated | Failed


class Authenticator:
    """The login policy and machinery of one listener kind (submission, POP3 or IMAP)."""

    def __init__(
        self,
        lookup: sasl.Lookup,
        *,
        plaintext_auth: str = "loopback",  # one of PLAINTEXT_AUTH, from the listener's config section
        throttle: LoginThrottle | None = None,
        sleep: Sleep = asyncio.sleep,  # how the throttle's delays are waited; tests pass their own
        nonce_factory: sasl.NonceFactory | None = None,  # the server's SCRAM nonce; tests only
    ) -> None:
        if plaintext_auth not in PLAINTEXT_AUTH:
            raise ValueError(f"plaintext_auth must be one of {', '.join(PLAINTEXT_AUTH)}")
        self.lookup = lookup
        self.plaintext_auth = plaintext_auth
        self.throttle = throttle
        self.sleep = sleep
        self._nonce_factory = nonce_factory

    def plaintext_allowed(self, peer: Peer) -> bool:
        """Whether this connection may log in: under TLS, or where the configuration allows it.

        RFC 4954 §4, RFC 5034 §4, RFC 9051 §6.2.3: a password is not sent in the clear. Every
        mechanism is held back, SCRAM included, so a client is never tempted to try PLAIN next.
        """
        return (peer.tls_active or self.plaintext_auth == "always"
                or (self.plaintext_auth == "loopback" and peer.is_loopback))

    def available(self, peer: Peer) -> tuple[str, ...]:
        """The mechanisms this server has for `peer`'s connection, whether or not it may log in
        yet: -PLUS only with channel binding data, which only TLS gives (RFC 5802 §5.1)."""
        if peer.tls_active and peer.channel_binding is not None:
            return sasl.MECHANISMS + sasl.PLUS_MECHANISMS
        return sasl.MECHANISMS

    def mechanisms(self, peer: Peer) -> tuple[str, ...]:
        """The mechanisms to advertise to `peer` now (EHLO AUTH, CAPA SASL, AUTH=): none until
        the plaintext policy allows a login."""
        return self.available(peer) if self.plaintext_allowed(peer) else ()

    def start(self, mechanism: str, peer: Peer) -> Exchange | Failed:
        """A new exchange, or PLAINTEXT_REFUSED before TLS, or UNKNOWN_MECHANISM (names are
        compared without case, RFC 4954 §8)."""
        if not self.plaintext_allowed(peer):
            return Failed(Reason.PLAINTEXT_REFUSED)
        binding = peer.channel_binding if peer.tls_active else None
        try:
            exchange = sasl.start(mechanism, self.lookup, channel_binding=binding,
                                  nonce_factory=self._nonce_factory)
        except sasl.UnknownMechanism:
            return Failed(Reason.UNKNOWN_MECHANISM)
        return Exchange(self, peer, exchange)

    async def login(self, peer: Peer, user: str, password: str) -> Authenticated | Failed:
        """A login with a user name and a password in one go: POP3 USER/PASS, IMAP LOGIN."""
        if not self.plaintext_allowed(peer):
            return Failed(Reason.PLAINTEXT_REFUSED)
        credentials = await self.lookup(user)
        if credentials is None:
            # An unknown account costs what a wrong password does: the delay must not tell which exist.
            await fake_verify_password_async(password)
        elif await verify_password_async(credentials, password):
            return self.succeeded(peer, user)
        await self.failed(peer, user)
        return Failed(Reason.BAD_CREDENTIALS)

    def succeeded(self, peer: Peer, identity: str) -> Authenticated:
        """A login succeeded: the failures of this address and account are forgiven."""
        if self.throttle is not None:
            self.throttle.record_success(peer.ip, identity)
        return Authenticated(identity)

    async def failed(self, peer: Peer, account: str | None) -> None:
        """Count a failed login and wait what the throttle asks. For the protocols too: a login
        that verified but whose account is gone by the time it is opened counts as failed."""
        if self.throttle is not None:
            await self.throttle.failed(peer.ip, account, self.sleep)


class Exchange:
    """One SASL exchange on one connection: feed `step` each client response until it answers
    anything but a `Challenge`."""

    def __init__(self, authenticator: Authenticator, peer: Peer, exchange: sasl.SaslExchange) -> None:
        self.authenticator, self.peer = authenticator, peer
        self.mechanism = exchange.mechanism
        self._exchange: sasl.SaslExchange | None = exchange
        self._verified: str | None = None  # SCRAM: proven, waiting for the client's empty answer

    @property
    def awaits_acknowledgement(self) -> bool:
        """The last challenge was the mechanism's final server data (SCRAM's "v="): the answer
        is an empty response, after which the client is authenticated (RFC 4954 §4, RFC 5034 §4,
        RFC 9051 §6.2.2: these protocols have no "success with data")."""
        return self._verified is not None

    async def step(self, response: bytes | None) -> Answer:
        """The answer to the client's decoded `response` (None: no initial response was given;
        b"" is an empty one)."""
        if self._verified is not None:
            identity, self._verified = self._verified, None
            if response:
                return Failed(Reason.MALFORMED)
            return self.authenticator.succeeded(self.peer, identity)
        if self._exchange is None:
            return Failed(Reason.MALFORMED)
        exchange = self._exchange
        step = await exchange.step(response)
        if isinstance(step, sasl.Challenge):
            return Challenge(step.data)
        self._exchange = None
        if isinstance(step, sasl.Success):
            if step.data is not None:
                self._verified = step.identity
                return Challenge(step.data)
            return self.authenticator.succeeded(self.peer, step.identity)
        reason = _REASON_OF[step.reason]
        if reason in _GUESSES:
            await self.authenticator.failed(self.peer, exchange.claimed)
        return Failed(reason)

    def cancel(self, reason: Reason = Reason.CANCELLED) -> Failed:
        """The protocol ended the exchange: the client sent "*" (RFC 4954 §4, RFC 5034 §4,
        RFC 9051 §6.2.2), or a line too long to read (`Reason.TOO_LONG`)."""
        self._exchange, self._verified = None, None
        return Failed(reason)
