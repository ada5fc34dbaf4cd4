"""SASL server mechanisms: PLAIN, LOGIN, SCRAM-SHA-256, driven step by step without sockets."""

import asyncio
import base64
import hashlib
import hmac

import pytest
from argon2 import PasswordHasher
from hypothesis import given, settings
from hypothesis import strategies as st

from postoffice.auth.passwords import Credentials, make_credentials
from postoffice.auth.sasl import (
    AUTHZID_MISMATCH,
    CANCELLED,
    INVALID_CREDENTIALS,
    MALFORMED,
    MECHANISMS,
    Challenge,
    Failure,
    SaslExchange,
    Success,
    UnknownMechanism,
    start,
)

CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
ALICE = "alice@example.test"
ALICE_CREDS = make_credentials("secret", hasher=CHEAP)


def lookup_of(accounts: dict[str, Credentials], asked: list[str] | None = None):
    async def lookup(identity: str) -> Credentials | None:
        if asked is not None:
            asked.append(identity)
        return accounts.get(identity)
    return lookup


ACCOUNTS = lookup_of({ALICE: ALICE_CREDS})


async def _all_steps(exchange: SaslExchange, responses) -> list:
    return [await exchange.step(r) for r in responses]


def run(exchange: SaslExchange, *responses: bytes | None) -> list:
    return asyncio.run(_all_steps(exchange, responses))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class ScramClient:
    """Just enough of an RFC 5802 client to test the server, written from §3 of the RFC."""

    def __init__(self, username: str, password: str, *, gs2_header: str = "n,,",
                 nonce: str = "fyko+d2lbbFgONRv9qkxdawL", extensions: str = "") -> None:
        self.password, self.gs2_header = password, gs2_header
        self.bare = f"n={username},r={nonce}{extensions}"
        self.server_signature = b""

    def first(self) -> bytes:
        return (self.gs2_header + self.bare).encode()

    def final(self, server_first: bytes, *, nonce: str | None = None) -> bytes:
        attrs = dict(a.split("=", 1) for a in server_first.decode().split(","))
        salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        client_key = hmac.digest(salted, b"Client Key", "sha256")
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c={b64(self.gs2_header.encode())},r={nonce or attrs['r']}"
        auth_message = f"{self.bare},{server_first.decode()},{without_proof}".encode()
        signature = hmac.digest(stored_key, auth_message, "sha256")
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        server_key = hmac.digest(salted, b"Server Key", "sha256")
        self.server_signature = hmac.digest(server_key, auth_message, "sha256")
        return f"{without_proof},p={b64(proof)}".encode()


def success_for(client: ScramClient) -> Success:
    """RFC 5802 §5.1: success carries "v=" and the signature the client expects."""
    return Success(ALICE, b"v=" + b64(client.server_signature).encode())


def scram_exchange(client: ScramClient, lookup=ACCOUNTS, *, final=None):
    """Run a whole exchange; `final` may rewrite the client-final message."""
    async def go():
        exchange = start("SCRAM-SHA-256", lookup)
        server_first = await exchange.step(client.first())
        if not isinstance(server_first, Challenge):
            return server_first, None
        client_final = client.final(server_first.data)
        if final is not None:
            client_final = final(client_final)
        return await exchange.step(client_final), server_first
    return asyncio.run(go())


# --- choosing a mechanism ----------------------------------------------------------------------

def test_every_advertised_mechanism_starts():
    for name in MECHANISMS:
        assert start(name, ACCOUNTS).mechanism == name


def test_mechanism_names_are_case_insensitive_ascii():
    # RFC 4954 §8: mechanism names are case-insensitive.
    assert start("scram-sha-256", ACCOUNTS).mechanism == "SCRAM-SHA-256"
    with pytest.raises(UnknownMechanism):
        start("pla\u0131n", ACCOUNTS)  # dotless i upper-cases to I: not a way in
    with pytest.raises(UnknownMechanism):
        start("CRAM-MD5", ACCOUNTS)


def test_cancelled_is_a_failure():
    assert CANCELLED == Failure("cancelled")


# --- PLAIN -------------------------------------------------------------------------------------

def test_plain_success():
    # RFC 4616 §2: [authzid] NUL authcid NUL passwd
    assert run(start("PLAIN", ACCOUNTS), b"\0alice@example.test\0secret") == [Success(ALICE)]
    assert run(start("PLAIN", ACCOUNTS), f"{ALICE}\0{ALICE}\0secret".encode()) == [Success(ALICE)]


def test_plain_without_initial_response_gets_empty_challenge():
    # RFC 4954 §4: no initial response, so the server sends "334 " and waits.
    assert run(start("PLAIN", ACCOUNTS), None, b"\0alice@example.test\0secret") == [
        Challenge(b""), Success(ALICE)]


def test_plain_empty_initial_response_is_an_empty_message():
    # RFC 4954 §4: "=" is an empty initial response, which PLAIN cannot parse.
    assert run(start("PLAIN", ACCOUNTS), b"") == [MALFORMED]


def test_plain_identity_is_prepared_and_stripped():
    asked: list[str] = []
    lookup = lookup_of({ALICE: ALICE_CREDS}, asked)
    # RFC 4616 §2: identities are prepared (SASLprep maps U+00A0 to a space, then stripped).
    assert run(start("PLAIN", lookup), b"\0 alice@example.test\xc2\xa0\0secret") == [Success(ALICE)]
    assert asked == [ALICE]


@pytest.mark.parametrize("message", [
    b"\0alice@example.test\0wrong",
    b"\0alice@example.test\0",  # RFC 4616 §2: an empty password fails verification
    b"\0nobody@example.test\0secret",  # unknown user: the same answer
])
def test_plain_refuses_bad_credentials(message):
    assert run(start("PLAIN", ACCOUNTS), message) == [INVALID_CREDENTIALS]


def test_plain_authzid_must_be_the_authcid():
    # RFC 4616 §2: the server checks the authcid may act as the authzid; here only as itself.
    assert run(start("PLAIN", ACCOUNTS), b"bob@example.test\0alice@example.test\0secret") == [
        AUTHZID_MISMATCH]


@pytest.mark.parametrize("message", [
    b"alice@example.test secret",  # no NUL
    b"alice@example.test\0secret",  # one NUL
    b"\0alice@example.test\0sec\0ret",  # RFC 4616 §2: NUL MUST NOT appear in passwd
    b"\0\0secret",  # RFC 4616 §2: authcid = 1*SAFE
    b"\0alice@example.test\0\xff\xfe",  # RFC 4616 §2: UTF-8
    b"\0\xc3\x28\0secret",
    b"\0bad\x07name\0secret",  # RFC 4013 §2.3: the identity does not prepare
])
def test_plain_malformed(message):
    assert run(start("PLAIN", ACCOUNTS), message) == [MALFORMED]


def test_no_step_after_the_end():
    assert run(start("PLAIN", ACCOUNTS), b"\0alice@example.test\0secret", b"again", None) == [
        Success(ALICE), MALFORMED, MALFORMED]


# --- LOGIN -------------------------------------------------------------------------------------

def test_login_without_initial_response():
    assert run(start("LOGIN", ACCOUNTS), None, ALICE.encode(), b"secret") == [
        Challenge(b"Username:"), Challenge(b"Password:"), Success(ALICE)]


def test_login_with_initial_response_as_username():
    assert run(start("LOGIN", ACCOUNTS), ALICE.encode(), b"secret") == [
        Challenge(b"Password:"), Success(ALICE)]


def test_login_refusals():
    assert run(start("LOGIN", ACCOUNTS), ALICE.encode(), b"wrong")[-1] == INVALID_CREDENTIALS
    assert run(start("LOGIN", ACCOUNTS), b"nobody", b"secret")[-1] == INVALID_CREDENTIALS
    assert run(start("LOGIN", ACCOUNTS), b"\xff") == [MALFORMED]
    assert run(start("LOGIN", ACCOUNTS), b"") == [MALFORMED]
    assert run(start("LOGIN", ACCOUNTS), None, ALICE.encode(), None) == [
        Challenge(b"Username:"), Challenge(b"Password:"), MALFORMED]


# --- SCRAM-SHA-256 -----------------------------------------------------------------------------

RFC7677_CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
RFC7677_SERVER_FIRST = (b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                        b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
RFC7677_CLIENT_FINAL = (b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                        b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
RFC7677_SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


def rfc7677_exchange() -> SaslExchange:
    creds = make_credentials("pencil", scram_salt=base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="),
                             scram_iterations=4096, hasher=CHEAP)
    return start("SCRAM-SHA-256", lookup_of({"user": creds}),
                 nonce_factory=lambda: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0")


def test_scram_rfc7677_example():
    # RFC 7677 §3: the server's messages, byte for byte.
    assert run(rfc7677_exchange(), RFC7677_CLIENT_FIRST, RFC7677_CLIENT_FINAL) == [
        Challenge(RFC7677_SERVER_FIRST), Success("user", RFC7677_SERVER_FINAL)]


def test_scram_without_initial_response():
    # RFC 5802 §5.2: client-first; an empty challenge asks for it.
    assert run(rfc7677_exchange(), None, RFC7677_CLIENT_FIRST, RFC7677_CLIENT_FINAL) == [
        Challenge(b""), Challenge(RFC7677_SERVER_FIRST), Success("user", RFC7677_SERVER_FINAL)]


def test_scram_full_exchange_with_a_client():
    client = ScramClient(ALICE, "secret")
    result, server_first = scram_exchange(client)
    # RFC 5802 §5.1: the server nonce extends the client's; its own part is fresh.
    assert server_first.data.startswith(b"r=fyko+d2lbbFgONRv9qkxdawL")
    assert result == success_for(client)


def test_scram_server_nonces_differ():
    firsts = [run(start("SCRAM-SHA-256", ACCOUNTS), ScramClient(ALICE, "x").first())[0]
              for _ in range(2)]
    assert firsts[0] != firsts[1]


def test_scram_wrong_password():
    assert scram_exchange(ScramClient(ALICE, "wrong"))[0] == INVALID_CREDENTIALS


def test_scram_unknown_user_looks_like_a_known_one_until_the_proof():
    # RFC 5802 §9: don't disclose which users exist. Same message shape, a salt that stays the
    # same across attempts (as a real one would), failure only at the proof.
    result, first_a = scram_exchange(ScramClient("nobody@example.test", "secret"))
    _, first_b = scram_exchange(ScramClient("nobody@example.test", "secret"))
    _, first_other = scram_exchange(ScramClient("other@example.test", "secret"))
    assert result == INVALID_CREDENTIALS

    def salt_and_count(challenge):
        return challenge.data.split(b",")[1:]
    assert salt_and_count(first_a) == salt_and_count(first_b) != salt_and_count(first_other)
    assert salt_and_count(first_a)[1] == b"i=4096"
    assert len(base64.b64decode(salt_and_count(first_a)[0][2:])) == 16


def test_scram_y_flag_and_optional_extensions_are_accepted():
    # RFC 5802 §6: "y" (client thinks we lack channel binding, which is true) needs c=eSws;
    # RFC 5802 §5.1: unknown optional extensions are ignored.
    client = ScramClient(ALICE, "secret", gs2_header="y,,", extensions=",x=whatever")
    assert scram_exchange(client)[0] == success_for(client)


def test_scram_authzid_is_refused():
    # RFC 5802 §5.1 "a" is optional; scramp takes none, so neither ours nor another's is accepted.
    for authzid in (ALICE, "bob@example.test"):
        result, _ = scram_exchange(ScramClient(ALICE, "secret", gs2_header=f"n,a={authzid},"))
        assert result == AUTHZID_MISMATCH


def test_scram_username_escapes():
    # RFC 5802 §5.1: "," and "=" arrive as "=2C" and "=3D"; the lookup gets the real name.
    asked: list[str] = []
    scram_exchange(ScramClient("a=2Cb=3Dc", "x"), lookup_of({}, asked))
    assert asked == ["a,b=c"]


@pytest.mark.parametrize("client_first", [
    b"p=tls-unique,,n=user,r=abc",  # RFC 5802 §6: channel binding needs -PLUS, not offered
    b"n,,m=ext,n=user,r=abc",  # RFC 5802 §5.1: "m" MUST cause failure
    b"n,,n=us=er,r=abc",  # RFC 5802 §5.1: "=" not followed by 2C or 3D MUST fail
    b"n,,n=,r=abc",  # RFC 5802 §7: saslname = 1*(...)
    b"n,,n=user,r=ab,c",  # nonce is printable without ","; "c" is no attr-val
    b"n,,n=user,r=a b",  # RFC 5802 §7: nonce is printable ASCII
    b"n,,n=user,r=abc,m=x",  # "m" among extensions fails too
    b"n,,n=user",
    b"x,,n=user,r=abc",
    b"n,b=x,n=user,r=abc",
    b"n,,n=\xff,r=abc",  # RFC 5802 §7: UTF-8
    b"n,,n=bad\x07name,r=abc",  # RFC 5802 §5.1: the username must prepare with SASLprep
    b"",
    b"garbage",
])
def test_scram_malformed_client_first(client_first):
    assert run(start("SCRAM-SHA-256", ACCOUNTS), client_first) == [MALFORMED]


def _replace(old: bytes, new: bytes):
    return lambda final: final.replace(old, new, 1)


@pytest.mark.parametrize("rewrite", [
    _replace(b"c=biws", b"c=eSws"),  # RFC 5802 §6: c= MUST match the gs2-header sent
    _replace(b",r=fyko", b",r=fykO"),  # RFC 5802 §5.1: the nonce MUST be the server's
    _replace(b",p=", b",q="),  # no proof
    lambda final: final[: final.index(b",p=") + 3] + b"!!!!",  # proof not base64
    lambda final: final[: final.index(b",p=") + 3] + b"AAAA",  # proof of the wrong length
    lambda final: final[:-2] + b"B=",  # RFC 4648 §3.5: non-zero pad bits
    lambda final: b"r=x," + final,
    lambda final: final + b",p=AAAA",
    lambda final: b"\xff" + final,
])
def test_scram_malformed_client_final(rewrite):
    assert scram_exchange(ScramClient(ALICE, "secret"), final=rewrite)[0] == MALFORMED


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_scram_any_changed_byte_of_client_final_fails(position, delta):
    def mutate(final: bytes) -> bytes:
        i = position % len(final)
        return final[:i] + bytes([(final[i] + delta) % 256]) + final[i + 1:]
    result = scram_exchange(ScramClient(ALICE, "secret"), final=mutate)[0]
    assert isinstance(result, Failure)


# --- nothing a client sends raises -------------------------------------------------------------

@settings(max_examples=150, deadline=None)
@given(st.sampled_from(MECHANISMS),
       st.lists(st.one_of(st.none(), st.binary(max_size=200)), min_size=1, max_size=4))
def test_any_bytes_give_a_challenge_or_a_failure(mechanism, responses):
    # Every identity is known here, so no step pays for a full-cost fake verification.
    async def known(identity: str) -> Credentials:
        return ALICE_CREDS
    results = run(start(mechanism, known), *responses)
    assert all(isinstance(r, (Challenge, Success, Failure)) for r in results)
    assert not any(isinstance(r, Success) for r in results)
    ended = [i for i, r in enumerate(results) if not isinstance(r, Challenge)]
    if ended:
        assert all(isinstance(r, Failure) for r in results[ended[0]:])


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300))
def test_any_client_final_after_a_good_first_fails_cleanly(data):
    results = run(start("SCRAM-SHA-256", ACCOUNTS), ScramClient(ALICE, "secret").first(), data)
    assert isinstance(results[0], Challenge) and isinstance(results[1], Failure)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=60))
def test_any_text_client_first_gives_a_challenge_or_a_failure(text):
    results = run(start("SCRAM-SHA-256", ACCOUNTS), ("n,," + text).encode())
    assert isinstance(results[0], (Challenge, Failure))
