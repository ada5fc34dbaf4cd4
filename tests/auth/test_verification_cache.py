"""The verification cache in passwords.py: a success is remembered, a failure never is, and the
stored hash, the TTL and the LRU bound decide how long a success counts.

Argon2 is counted, never timed: the hasher handed to the verification wraps argon2-cffi's and
counts the computations it is asked for.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from argon2 import PasswordHasher

from postoffice.auth.passwords import (
    MAX_PASSWORD_CHARS,
    VerificationCache,
    fake_verify_password_async,
    make_credentials,
    verify_password,
    verify_password_async,
)

# Credentials are made with a cheap hasher (verification reads the cost from the hash) that is not
# the counting one, so only verifications are counted.
CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
PASSWORD = "correct horse battery staple"


class CountingHasher(PasswordHasher):
    """argon2-cffi's hasher at a cheap cost, counting each Argon2 computation asked of it."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verifications = 0
        self.hashes = 0

    def verify(self, hash, password):
        self.verifications += 1
        return super().verify(hash, password)

    def hash(self, password, *, salt=None):
        self.hashes += 1
        return super().hash(password, salt=salt)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingExecutor(ThreadPoolExecutor):
    """The event loop's default executor, counting what is sent to a worker thread."""

    submitted = 0

    def submit(self, *args, **kwargs):
        self.submitted += 1
        return super().submit(*args, **kwargs)


@pytest.fixture
def argon2() -> CountingHasher:
    return CountingHasher()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(clock) -> VerificationCache:
    return VerificationCache(max_entries=3, ttl_s=60, clock=clock)


def creds(password: str = PASSWORD):
    return make_credentials(password, scram_iterations=1, hasher=CHEAP)


def test_a_remembered_success_is_answered_without_argon2(argon2, cache):
    alice = creds()
    assert verify_password(alice, PASSWORD, cache=cache, hasher=argon2)
    for _ in range(5):
        assert verify_password(alice, PASSWORD, cache=cache, hasher=argon2)
    assert argon2.verifications == 1


def test_a_wrong_password_after_a_success_still_costs_a_full_verification(argon2, cache):
    alice = creds()
    assert verify_password(alice, PASSWORD, cache=cache, hasher=argon2)
    for n in range(2, 5):
        assert not verify_password(alice, PASSWORD + "!", cache=cache, hasher=argon2)
        assert argon2.verifications == n
    # Wrong guesses do not push the right password's entry out.
    assert verify_password(alice, PASSWORD, cache=cache, hasher=argon2)
    assert argon2.verifications == 4


def test_failures_are_never_remembered(argon2, cache):
    alice = creds()
    for _ in range(3):
        assert not verify_password(alice, "guess", cache=cache, hasher=argon2)
    assert argon2.verifications == 3 and len(cache) == 0


def test_a_changed_password_makes_old_entries_useless(argon2, cache):
    old = creds()
    assert verify_password(old, PASSWORD, cache=cache, hasher=argon2)
    # What `postoffice user passwd` stores: new credentials, so a new Argon2 hash.
    new = creds("a new password")
    assert not verify_password(new, PASSWORD, cache=cache, hasher=argon2)
    assert verify_password(new, "a new password", cache=cache, hasher=argon2)
    assert argon2.verifications == 3
    # Even set back to the same password, the hash has a fresh salt: a full check again.
    again = creds()
    assert verify_password(again, PASSWORD, cache=cache, hasher=argon2)
    assert argon2.verifications == 4


def test_a_success_counts_until_its_ttl_and_a_hit_does_not_extend_it(argon2, cache, clock):
    alice = creds()
    assert verify_password(alice, PASSWORD, cache=cache, hasher=argon2)
    clock.now += 59
    assert verify_password(alice, PASSWORD, cache=cache, hasher=argon2)
    assert argon2.verifications == 1
    clock.now += 1  # 60 s after the Argon2 check, although 1 s after the last hit
    assert verify_password(alice, PASSWORD, cache=cache, hasher=argon2)
    assert argon2.verifications == 2
    clock.now += 59
    assert verify_password(alice, PASSWORD, cache=cache, hasher=argon2)
    assert argon2.verifications == 2


def test_the_cache_is_bounded_and_the_least_recently_used_goes_first(argon2, cache):
    accounts = [creds(f"password {i}") for i in range(4)]
    for i, account in enumerate(accounts[:3]):
        assert verify_password(account, f"password {i}", cache=cache, hasher=argon2)
    assert verify_password(accounts[0], "password 0", cache=cache, hasher=argon2)  # a hit: now newest
    assert verify_password(accounts[3], "password 3", cache=cache, hasher=argon2)  # evicts account 1
    assert len(cache) == 3 and argon2.verifications == 4
    for i in (0, 2, 3):
        assert verify_password(accounts[i], f"password {i}", cache=cache, hasher=argon2)
    assert argon2.verifications == 4
    assert verify_password(accounts[1], "password 1", cache=cache, hasher=argon2)
    assert argon2.verifications == 5 and len(cache) == 3


def test_a_cache_needs_room_and_time():
    with pytest.raises(ValueError):
        VerificationCache(max_entries=0)
    with pytest.raises(ValueError):
        VerificationCache(ttl_s=0)


def test_sasl_equivalent_forms_verify_with_the_cache_as_without():
    # RFC 4616 §2: the cache is keyed on the password as presented; every form that prepares to
    # the stored one verifies, through the cache or through Argon2.
    cache = VerificationCache()
    ix = creds("I\u00adX")
    for presented in ["IX", "\u2168", "IX", "I\u00adX", "\u2168"]:
        assert verify_password(ix, presented, cache=cache)
    assert not verify_password(ix, "ix", cache=cache)


def test_the_async_helper_answers_a_remembered_success_without_a_worker_thread(argon2, cache):
    alice = creds()

    async def main():
        executor = CountingExecutor(max_workers=1)
        asyncio.get_running_loop().set_default_executor(executor)
        answers = [await verify_password_async(alice, presented, cache=cache, hasher=argon2)
                   for presented in (PASSWORD, PASSWORD, PASSWORD, "wrong")]
        return answers, executor.submitted

    # The first check and the wrong password go to a worker; the two hits stay on the loop.
    assert asyncio.run(main()) == ([True, True, True, False], 2)
    assert argon2.verifications == 2


def test_an_unknown_account_costs_what_a_known_one_does(argon2):
    # The fake verification does the Argon2 work verify_password does on a miss: none for a
    # password no account can have (empty, or empty or refused after SASLprep), one otherwise.
    alice = creds()
    for presented in ["", "\u00ad", "bad\u0007"]:
        assert not verify_password(alice, presented, cache=VerificationCache(), hasher=argon2)
        assert not asyncio.run(fake_verify_password_async(presented, hasher=argon2))
    assert argon2.verifications == 0 and argon2.hashes == 0
    for _ in range(2):
        assert not verify_password(alice, "wrong", cache=VerificationCache(), hasher=argon2)
        assert not asyncio.run(fake_verify_password_async("wrong", hasher=argon2))
    assert argon2.verifications == 2 and argon2.hashes == 2


def test_an_overlong_password_is_refused_before_any_work(argon2):
    # Setting one is refused; presenting one fails before SASLprep and Argon2, known account or not.
    with pytest.raises(ValueError, match="at most"):
        make_credentials("x" * (MAX_PASSWORD_CHARS + 1), scram_iterations=1, hasher=CHEAP)
    assert make_credentials("x" * MAX_PASSWORD_CHARS, scram_iterations=1, hasher=CHEAP)
    alice = creds()
    long = PASSWORD + "x" * 100_000
    assert not verify_password(alice, long, cache=VerificationCache(), hasher=argon2)
    assert not asyncio.run(fake_verify_password_async(long, hasher=argon2))
    assert argon2.verifications == 0 and argon2.hashes == 0
