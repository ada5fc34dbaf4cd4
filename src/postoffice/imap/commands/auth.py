"""Commands of the not-authenticated state: STARTTLS, LOGIN and AUTHENTICATE (RFC 9051 §6.2,
SASL-IR RFC 4959), with the client's lines inside an AUTHENTICATE exchange.

The login itself is `auth.authenticator`'s (the plaintext policy, the mechanisms, SASL steps and
throttling); this module maps its answers to IMAP replies. The TLS handshake is the listener's
(`Then.START_TLS`); the state change is the session's (`Context.authenticated`).
"""

from __future__ import annotations

import logging

from postoffice.addresses import BadAddress, normalize_address
from postoffice.auth.authenticator import Authenticated, Exchange, Failed, Reason
from postoffice.imap import responses as r
from postoffice.imap.context import Context
from postoffice.imap.outcome import AuthLineReader, Completion, Outcome, Then, ok, reply
from postoffice.imap.wire import Authenticate, AuthResponse, BadCommand, Login, StartTls

log = logging.getLogger(__name__)


async def starttls(ctx: Context, cmd: StartTls) -> Outcome:
    if ctx.tls_active or not ctx.tls_available:
        return reply(cmd.tag, "BAD", None, "TLS is already active")
    return Outcome(completion=Completion(cmd.tag, "OK", None, "Begin TLS negotiation now"), then=Then.START_TLS)


async def login(ctx: Context, cmd: Login) -> Outcome:
    answer = await ctx.auth.login(ctx.peer, cmd.userid, cmd.password)
    if isinstance(answer, Authenticated):
        return await _open(ctx, cmd.tag, answer.identity)
    return _failed(ctx, cmd.tag, answer)


async def authenticate(ctx: Context, cmd: Authenticate) -> Outcome:
    exchange = ctx.auth.start(cmd.mechanism, ctx.peer)
    if isinstance(exchange, Failed):
        return _failed(ctx, cmd.tag, exchange)
    # RFC 4959 §3: an initial response ("=" for an empty one) is the first client answer.
    return await _step(ctx, cmd.tag, exchange, cmd.initial_response)


def _reader(ctx: Context, tag: str, exchange: Exchange) -> AuthLineReader:
    """What answers the client's next line of this exchange (RFC 9051 §6.2.2)."""

    async def read(response: AuthResponse | BadCommand) -> Outcome:
        if isinstance(response, BadCommand):
            return _failed(ctx, tag, exchange.cancel(Reason.MALFORMED))
        if response.data is None:
            return _failed(ctx, tag, exchange.cancel())
        return await _step(ctx, tag, exchange, response.data)

    return read


async def _step(ctx: Context, tag: str, exchange: Exchange, response: bytes | None) -> Outcome:
    answer = await exchange.step(response)
    if isinstance(answer, Authenticated):
        return await _open(ctx, tag, answer.identity)
    if isinstance(answer, Failed):
        return _failed(ctx, tag, answer)
    # A challenge; with SCRAM the last one is the server's final data, answered empty.
    challenge = r.continuation_base64(answer.data) if answer.data else b"+ \r\n"
    return Outcome((challenge,), then=Then.READ_AUTH_LINE, reader=_reader(ctx, tag, exchange))


def _failed(ctx: Context, tag: str, failed: Failed) -> Outcome:
    match failed.reason:
        case Reason.PLAINTEXT_REFUSED:
            return reply(tag, "NO", r.PRIVACYREQUIRED, "Use STARTTLS first")
        case Reason.UNKNOWN_MECHANISM:
            # RFC 9051 §6.2.2: an unsupported mechanism gets a tagged NO.
            return reply(tag, "NO", r.CANNOT, "Unsupported mechanism")
        case Reason.MALFORMED | Reason.TOO_LONG:
            return reply(tag, "BAD", None, "Malformed response")
        case Reason.CANCELLED:
            return reply(tag, "BAD", None, "AUTHENTICATE cancelled")
        case Reason.AUTHZID_REFUSED:
            # RFC 9051 §7.1: the credentials were right, acting as that identity is not allowed.
            return reply(tag, "NO", r.AUTHORIZATIONFAILED, "Not authorized to act as that identity")
    log.info("imap: failed login from %s (%s)", ctx.client_ip, failed.reason.value)
    return reply(tag, "NO", r.AUTHENTICATIONFAILED, "Authentication failed")


async def _open(ctx: Context, tag: str, identity: str) -> Outcome:
    try:
        address = normalize_address(identity)
        account = await ctx.store.directory.find_account(address)
    except BadAddress:
        account = None
    if account is None:  # verified, then gone: counted as a failure all the same
        await ctx.auth.failed(ctx.peer, identity)
        return _failed(ctx, tag, Failed(Reason.BAD_CREDENTIALS))
    if limit := ctx.authenticated(account):
        log.info("imap: %s refused as %s: the limit of %s", ctx.client_ip, account.address, limit)
        return reply(tag, "NO", r.UNAVAILABLE, "Too many connections for this account, try again later")
    log.info("imap: %s logged in from %s", account.address, ctx.client_ip)
    return ok(tag, "Logged in", code=r.capability_code(ctx.capabilities()))
