"""Credentials: SASLprep, Argon2id + SCRAM-SHA-256 verifiers, the storage encoding."""

import asyncio
import base64
import hashlib
import hmac
import json

import pytest
from argon2 import PasswordHasher
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from postoffice.auth.passwords import (
    Credentials,
    decode_credentials,
    encode_credentials,
    fake_verify_password_async,
    make_credentials,
    reject_empty_password,
    saslprep,
    verify_password,
    verify_password_async,
)

# Argon2 at its real cost takes ~0.2 s a hash; verification reads the cost from the hash, so
# credentials made with a cheap hasher test the same code quickly.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery staple"


# --- SASLprep ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("given_", "prepared"), [
    ("I\u00adX", "IX"),  # RFC 4013 §3: SOFT HYPHEN mapped to nothing
    ("user", "user"),  # RFC 4013 §3: no transformation
    ("USER", "USER"),  # RFC 4013 §3: case preserved
    ("\u00aa", "a"),  # RFC 4013 §3: NFKC
    ("\u2168", "IX"),  # RFC 4013 §3: NFKC
    ("a\u00a0b", "a b"),  # RFC 4013 §2.1: non-ASCII space mapped to SPACE
    ("\u0627\u0628", "\u0627\u0628"),  # RFC 3454 §6: all right-to-left is fine
    ("", ""),
])
def test_saslprep_rfc4013_examples(given_, prepared):
    assert saslprep(given_) == prepared


@pytest.mark.parametrize("bad", [
    "\u0007",  # RFC 4013 §3: prohibited character (C.2.1)
    "\u0627\u0031",  # RFC 4013 §3: bidi, must end with a right-to-left character (RFC 3454 §6)
    "\u0627a\u0628",  # RFC 3454 §6: right-to-left and left-to-right mixed
    "a\u0000b",  # RFC 4013 §2.3: C.2.1
    "\ue000",  # RFC 4013 §2.3: private use (C.3)
    "\ud800",  # RFC 4013 §2.3: surrogate code (C.5)
])
def test_saslprep_refuses_prohibited_output(bad):
    with pytest.raises(ValueError):
        saslprep(bad)


def test_saslprep_allows_unassigned_only_in_query_strings():
    # RFC 3454 §7: U+0221 was unassigned in Unicode 3.2; stored strings refuse it, queries keep it.
    with pytest.raises(ValueError):
        saslprep("d\u0221")
    assert saslprep("d\u0221", allow_unassigned=True) == "d\u0221"


def test_saslprep_error_does_not_repeat_the_input():
    with pytest.raises(ValueError) as caught:
        saslprep("hunter2\u0007")
    assert "hunter2" not in str(caught.value)


@given(st.text(max_size=40))
def test_saslprep_is_idempotent_or_refuses(s):
    try:
        prepared = saslprep(s, allow_unassigned=True)
    except ValueError:
        return
    assert saslprep(prepared, allow_unassigned=True) == prepared


# --- making and verifying ----------------------------------------------------------------------

def test_verify_password_accepts_the_password_and_nothing_else():
    creds = make_credentials(PASSWORD, hasher=CHEAP)
    assert verify_password(creds, PASSWORD)
    assert not verify_password(creds, PASSWORD + "!")
    assert not verify_password(creds, "")
    assert not verify_password(creds, "bad\u0007")  # presented, unpreparable: False, no raise


def test_default_hash_is_argon2id():
    creds = make_credentials(PASSWORD)
    assert creds.argon2_hash.startswith("$argon2id$")
    assert verify_password(creds, PASSWORD)


def test_sasl_equivalent_passwords_verify():
    # RFC 4616 §2: stored and presented passwords are prepared before hashing and comparing.
    creds = make_credentials("I\u00adX", hasher=CHEAP)
    assert verify_password(creds, "IX")
    assert verify_password(creds, "\u2168")


@pytest.mark.parametrize("empty", ["", "\u00ad\u200b"])  # the second prepares to nothing
def test_empty_password_is_refused(empty):
    with pytest.raises(ValueError, match="password must not be empty"):
        make_credentials(empty, hasher=CHEAP)


def test_reject_empty_password():
    with pytest.raises(ValueError, match="password must not be empty"):
        reject_empty_password("")
    reject_empty_password("x")


def test_prohibited_password_is_refused():
    with pytest.raises(ValueError):
        make_credentials("tab\u0007", hasher=CHEAP)


def test_scram_verifiers_follow_rfc5802():
    # RFC 5802 §3, computed here independently of the module.
    salt = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
    creds = make_credentials("pencil", scram_salt=salt, scram_iterations=4096, hasher=CHEAP)
    salted = hashlib.pbkdf2_hmac("sha256", b"pencil", salt, 4096)
    client_key = hmac.digest(salted, b"Client Key", "sha256")
    assert creds.scram_salt == salt and creds.scram_iterations == 4096
    assert creds.scram_stored_key == hashlib.sha256(client_key).digest()
    assert creds.scram_server_key == hmac.digest(salted, b"Server Key", "sha256")


def test_each_credentials_get_a_fresh_salt():
    a, b = (make_credentials(PASSWORD, hasher=CHEAP) for _ in range(2))
    assert len(a.scram_salt) == 16 and a.scram_salt != b.scram_salt
    assert a.scram_stored_key != b.scram_stored_key


def test_corrupt_stored_hash_raises_instead_of_saying_wrong_password():
    creds = make_credentials(PASSWORD, hasher=CHEAP)
    broken = Credentials("not a hash", creds.scram_salt, creds.scram_iterations,
                         creds.scram_stored_key, creds.scram_server_key)
    with pytest.raises(ValueError):
        verify_password(broken, PASSWORD)


def test_repr_does_not_show_secrets():
    creds = make_credentials(PASSWORD, hasher=CHEAP)
    assert creds.argon2_hash not in repr(creds)
    assert repr(creds.scram_stored_key) not in repr(creds)


def test_async_helpers():
    creds = make_credentials(PASSWORD, hasher=CHEAP)
    assert asyncio.run(verify_password_async(creds, PASSWORD))
    assert not asyncio.run(verify_password_async(creds, "nope"))
    assert not asyncio.run(fake_verify_password_async(PASSWORD))


# --- storage encoding --------------------------------------------------------------------------

def test_credentials_json_round_trip_without_clear_text():
    creds = make_credentials(PASSWORD, hasher=CHEAP)
    text = json.dumps(encode_credentials(creds))
    assert PASSWORD not in text
    assert base64.b64encode(PASSWORD.encode()).decode() not in text
    decoded = decode_credentials(json.loads(text))
    assert decoded == creds
    assert verify_password(decoded, PASSWORD)


# Letters, digits, punctuation, symbols and spaces assigned in Unicode 3.2, so SASLprep accepts
# nearly all of them (RFC 4013 §2.3, §2.5); the rare refusal (bidi) is assumed away.
_PASSWORDS = st.text(st.characters(categories=("L", "N", "P", "S", "Zs"), max_codepoint=0x1ff),
                     min_size=1, max_size=30)


@settings(max_examples=30, deadline=None)
@given(_PASSWORDS)
def test_any_acceptable_password_round_trips_and_verifies(password):
    try:
        creds = make_credentials(password, scram_iterations=1, hasher=CHEAP)
    except ValueError:
        assume(False)
    decoded = decode_credentials(json.loads(json.dumps(encode_credentials(creds))))
    assert decoded == creds and verify_password(decoded, password)


def _broken_encodings():
    good = encode_credentials(make_credentials(PASSWORD, hasher=CHEAP))
    scram = good["scram-sha-256"]
    yield {k: v for k, v in good.items() if k != "argon2"}
    yield {**good, "version": 2}
    yield {**good, "argon2": 42}
    yield {**good, "scram-sha-256": {**scram, "salt": "not base64!"}}
    yield {**good, "scram-sha-256": {**scram, "iterations": True}}
    yield {**good, "scram-sha-256": {**scram, "iterations": "4096"}}
    yield {**good, "scram-sha-256": {**scram, "iterations": 0}}
    yield {**good, "scram-sha-256": {**scram, "stored-key": "AAAA"}}
    yield {**good, "scram-sha-256": None}


@pytest.mark.parametrize("broken", list(_broken_encodings()))
def test_decode_refuses_malformed_dicts(broken):
    with pytest.raises(ValueError):
        decode_credentials(broken)
