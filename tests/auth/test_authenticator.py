"""The Authenticator without sockets: plaintext policy, mechanisms offered, SASL answers, throttling,
and SCRAM-SHA-256-PLUS channel binding against scramp's own client."""

import asyncio
import base64

import pytest
import scramp
from argon2 import PasswordHasher

from postoffice.auth.authenticator import (
    Authenticated, Authenticator, Challenge, Exchange, Failed, Peer, Reason,
)
from postoffice.auth.passwords import Credentials, make_credentials
from postoffice.auth.throttle import LoginThrottle

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
ALICE = "alice@example.test"
ALICE_CREDS = make_credentials("secret", hasher=CHEAP)
BINDING = bytes(range(32))  # stands for the hash of our certificate (RFC 5929 §4.1)

REMOTE = Peer("192.0.2.1", is_loopback=False)
LOOPBACK = Peer("127.0.0.1", is_loopback=True)
TLS = Peer("192.0.2.1", is_loopback=False, tls_active=True, channel_binding=BINDING)


async def lookup(identity: str) -> Credentials | None:
    return ALICE_CREDS if identity == ALICE else None


class Sleeps:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def authenticator(**kwargs) -> Authenticator:
    return Authenticator(lookup, **kwargs)


def run(coro):
    return asyncio.run(coro)


def started(auth: Authenticator, mechanism: str, peer: Peer) -> Exchange:
    exchange = auth.start(mechanism, peer)
    assert isinstance(exchange, Exchange)
    return exchange


# --- policy and mechanisms -----------------------------------------------------------------------

@pytest.mark.parametrize("setting, peer, allowed", [
    ("never", LOOPBACK, False), ("never", TLS, True),
    ("loopback", LOOPBACK, True), ("loopback", REMOTE, False), ("loopback", TLS, True),
    ("always", REMOTE, True),
])
def test_plaintext_policy(setting, peer, allowed):
    # RFC 4954 §4, RFC 5034 §4, RFC 9051 §6.2.3: no password in the clear unless configured.
    auth = authenticator(plaintext_auth=setting)
    assert auth.plaintext_allowed(peer) is allowed
    assert bool(auth.mechanisms(peer)) is allowed
    if not allowed:
        assert auth.start("PLAIN", peer) == Failed(Reason.PLAINTEXT_REFUSED)
        assert run(auth.login(peer, ALICE, "secret")) == Failed(Reason.PLAINTEXT_REFUSED)


def test_unknown_setting_is_refused():
    with pytest.raises(ValueError):
        authenticator(plaintext_auth="sometimes")


def test_plus_is_offered_only_with_tls_and_channel_binding():
    # RFC 5802 §5.1: -PLUS is advertised only where channel binding is possible.
    auth = authenticator(plaintext_auth="always")
    plain = ("PLAIN", "LOGIN", "SCRAM-SHA-256")
    assert auth.mechanisms(REMOTE) == auth.available(REMOTE) == plain
    assert auth.mechanisms(Peer("192.0.2.1", False, tls_active=True)) == plain
    assert auth.mechanisms(TLS) == plain + ("SCRAM-SHA-256-PLUS",)
    assert auth.start("SCRAM-SHA-256-PLUS", REMOTE) == Failed(Reason.UNKNOWN_MECHANISM)
    # Channel binding data left over from a TLS that is not active is not used.
    assert auth.start("scram-sha-256-plus", Peer("192.0.2.1", False, channel_binding=BINDING)) == \
        Failed(Reason.UNKNOWN_MECHANISM)
    assert auth.start("CRAM-MD5", TLS) == Failed(Reason.UNKNOWN_MECHANISM)
    assert started(auth, "scram-sha-256-plus", TLS).mechanism == "SCRAM-SHA-256-PLUS"


# --- one-line logins and PLAIN --------------------------------------------------------------------

def test_login_success_and_failures_are_throttled_per_address_and_account():
    sleeps, throttle = Sleeps(), LoginThrottle(free_failures=1)
    auth = authenticator(throttle=throttle, sleep=sleeps)
    assert run(auth.login(TLS, ALICE, "wrong")) == Failed(Reason.BAD_CREDENTIALS)
    assert run(auth.login(TLS, ALICE, "wrong")) == Failed(Reason.BAD_CREDENTIALS)
    assert run(auth.login(TLS, ALICE, "wrong")) == Failed(Reason.BAD_CREDENTIALS)
    assert sleeps.delays == [0.5]  # the third failure waited for the second one beyond the free one
    # Another address guessing the same account is slowed down as well.
    assert throttle.delay_for("198.51.100.7", ALICE) > 0
    assert run(auth.login(TLS, ALICE, "secret")) == Authenticated(ALICE)
    assert throttle.delay_for(TLS.ip, ALICE) == 0  # forgiven after a success


def test_unknown_account_costs_a_fake_verification(monkeypatch):
    # The delay must not tell which accounts exist: an unknown one spends what a check costs.
    spent: list[str] = []

    async def fake(password: str, **kwargs) -> bool:
        spent.append(password)
        return False
    monkeypatch.setattr("postoffice.auth.authenticator.fake_verify_password_async", fake)
    throttle = LoginThrottle()
    auth = authenticator(throttle=throttle)
    assert run(auth.login(TLS, "nobody@example.test", "guess")) == Failed(Reason.BAD_CREDENTIALS)
    assert spent == ["guess"] and len(throttle) == 2  # counted for the address and the account


def test_plain_answers():
    sleeps = Sleeps()
    auth = authenticator(throttle=LoginThrottle(free_failures=0), sleep=sleeps)

    def plain(message: bytes):
        return run(started(auth, "PLAIN", TLS).step(message))
    assert plain(b"\0" + ALICE.encode() + b"\0secret") == Authenticated(ALICE)
    assert plain(b"\0" + ALICE.encode() + b"\0wrong") == Failed(Reason.BAD_CREDENTIALS)
    assert plain(b"bob@example.test\0" + ALICE.encode() + b"\0secret") == Failed(Reason.AUTHZID_REFUSED)
    assert plain(b"no nuls") == Failed(Reason.MALFORMED)
    assert sleeps.delays == [0.5]  # the bad password and the refused authzid counted; malformed not


def test_an_ended_exchange_only_answers_malformed():
    exchange = started(authenticator(), "PLAIN", TLS)
    assert run(exchange.step(None)) == Challenge(b"")
    assert exchange.cancel() == Failed(Reason.CANCELLED)
    assert run(exchange.step(b"\0" + ALICE.encode() + b"\0secret")) == Failed(Reason.MALFORMED)


# --- SCRAM, with and without channel binding ------------------------------------------------------

def scram_login(mechanism: str, peer: Peer, *, client_binding: tuple[str, bytes] | None,
                password: str = "secret", acknowledgement: bytes = b"", auth: Authenticator | None = None):
    """A whole exchange with scramp's client; the answers the server gave, in order."""
    client = scramp.ScramClient([mechanism], ALICE, password, channel_binding=client_binding)
    exchange = started(auth or authenticator(), mechanism, peer)

    async def go():
        first = await exchange.step(client.get_client_first().encode())
        if not isinstance(first, Challenge):
            return [first]
        client.set_server_first(first.data.decode())
        final = await exchange.step(client.get_client_final().encode())
        if not isinstance(final, Challenge):
            return [first, final]
        client.set_server_final(final.data.decode())  # raises unless the server proved itself
        assert exchange.awaits_acknowledgement
        return [first, final, await exchange.step(acknowledgement)]
    return run(go())


def test_scram_sha_256_plus_with_the_right_channel_binding():
    # RFC 5802 §6, RFC 5929 §4: c= carries the gs2-header and our certificate's hash.
    answers = scram_login("SCRAM-SHA-256-PLUS", TLS, client_binding=("tls-server-end-point", BINDING))
    assert answers[-1] == Authenticated(ALICE)


def test_scram_sha_256_plus_with_a_wrong_channel_binding_fails():
    sleeps = Sleeps()
    auth = authenticator(throttle=LoginThrottle(free_failures=0), sleep=sleeps)
    answers = scram_login("SCRAM-SHA-256-PLUS", TLS, client_binding=("tls-server-end-point", b"\1" * 32),
                          auth=auth)
    assert answers[-1] == Failed(Reason.CHANNEL_BINDING)
    assert sleeps.delays == []  # counted: the next failure waits
    assert len(auth.throttle) == 2


def test_scram_sha_256_plus_needs_a_p_flag():
    # A client without channel binding ("n") cannot use -PLUS.
    exchange = started(authenticator(), "SCRAM-SHA-256-PLUS", TLS)
    assert run(exchange.step(b"n,,n=" + ALICE.encode() + b",r=abcdef")) == Failed(Reason.MALFORMED)


def test_scram_sha_256_under_tls_refuses_a_downgraded_client():
    # RFC 5802 §6: "y" says the client supports channel binding but thinks we do not; under TLS
    # we do, so the mechanism list was tampered with.
    exchange = started(authenticator(), "SCRAM-SHA-256", TLS)
    assert run(exchange.step(b"y,,n=" + ALICE.encode() + b",r=abcdef")) == Failed(Reason.CHANNEL_BINDING)


def test_scram_sha_256_without_channel_binding_still_works_under_tls():
    assert scram_login("SCRAM-SHA-256", TLS, client_binding=None)[-1] == Authenticated(ALICE)
    assert scram_login("SCRAM-SHA-256", LOOPBACK, client_binding=None)[-1] == \
        Authenticated(ALICE)


def test_scram_wrong_password_and_a_non_empty_acknowledgement():
    assert scram_login("SCRAM-SHA-256", TLS, client_binding=None, password="wrong")[-1] == \
        Failed(Reason.BAD_CREDENTIALS)
    # RFC 9051 §6.2.2, RFC 5034 §4: the answer to the final data is empty.
    assert scram_login("SCRAM-SHA-256", TLS, client_binding=None, acknowledgement=b"x")[-1] == \
        Failed(Reason.MALFORMED)


def test_the_server_final_data_is_the_servers_proof():
    answers = scram_login("SCRAM-SHA-256-PLUS", TLS, client_binding=("tls-server-end-point", BINDING))
    assert answers[1].data.startswith(b"v=") and base64.b64decode(answers[1].data[2:])
