"""Password credentials: what the store keeps per account, and how a presented password is checked.

Role: turn a clear password into `Credentials` (an Argon2id hash for PLAIN/LOGIN, plus the
SCRAM-SHA-256 verifiers that SCRAM needs, since SCRAM cannot be answered from an Argon2 hash),
encode them as one JSON-safe dict for a TEXT column, and verify a presented password.

Verification cache: Argon2id costs ~0.2 s of CPU a check, and real clients (phones, several
devices, a sync tool every minute) log in again and again with the same password. So after a
successful Argon2 check the process remembers, for a while, an HMAC-SHA256 under a random key made
at start of (stored Argon2 hash, NUL, presented password); the same pair presented again is
answered True from that digest alone. Why this is safe:
- Only successes are remembered: a wrong password always costs a full Argon2 check, so the cache
  makes guessing no cheaper, and an entry can only be matched by presenting the right password.
- The stored hash is part of the digest, so a changed password (a new hash, with a new salt)
  matches no entry; entries also expire (TTL) and are bounded in number (LRU).
- Neither the password nor the hash is kept, only digests under a random key that exists in this
  process's memory and nowhere else; nothing is written to disk. Someone able to read that memory
  gets the key as well and could test guesses for a cached account at the speed of HMAC, not of
  Argon2; but such a reader also sees passwords as clients send them, so the cache adds no new
  exposure.
- The answer for a known account with the right password comes sooner; an unknown account or a
  wrong password always takes the full cost (`fake_verify_password_async` for unknown accounts),
  so the delay still tells nothing about which accounts exist.

RFCs: RFC 5802 §3 (SaltedPassword, ClientKey, StoredKey, ServerKey), RFC 7677 §3 (SHA-256 and an
iteration count of at least 4096), RFC 4013 (SASLprep) over RFC 3454 (stringprep), RFC 4616 §2
(both the stored and the presented password are prepared before hashing or comparing).

Left out: rehashing when the Argon2 parameters change (argon2's `check_needs_rehash` is the hook),
SCRAM-SHA-1 verifiers, password strength policy beyond "not empty", a verification cache shared
between processes (each process has its own, and forgets it when it stops).

Why hand-written: Argon2 itself comes from argon2-cffi. SASLprep is not in the standard library
(only its tables are, in `stringprep`), and the small packages offering it are not well kept, so
the forty lines of RFC 4013 live here.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import secrets
import stringprep
import threading
import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

DEFAULT_SCRAM_ITERATIONS = 4096
"""RFC 7677 §3: the iteration count announced for SCRAM-SHA-256 SHOULD be at least 4096."""

SCRAM_SALT_BYTES = 16

_ENCODING_VERSION = 1

# RFC 9106 "low memory" profile (argon2-cffi's default): about 0.2 s and 64 MiB per hash, which is
# why every caller on the event loop goes through the *_async helpers below.
_DEFAULT_HASHER = PasswordHasher()

# The verification cache (see the module docstring). 10,000 entries, a few hundred bytes each, hold
# one per account for as many accounts as one server is meant for; past that, the least recently
# used pays for Argon2 again. 15 minutes spans many logins of a client that polls every minute and
# bounds how long a digest outlives its last Argon2 check.
VERIFIED_CACHE_MAX_ENTRIES = 10_000
VERIFIED_CACHE_TTL_S = 15 * 60.0


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the store keeps for one account: never the clear password.

    The secret fields stay out of `repr` so a logged value cannot leak them.
    """

    argon2_hash: str = field(repr=False)
    scram_salt: bytes
    scram_iterations: int
    scram_stored_key: bytes = field(repr=False)
    scram_server_key: bytes = field(repr=False)


# --- SASLprep (RFC 4013) ------------------------------------------------------------------------

# RFC 4013 §2.3: the prohibited output. C.1.2 (non-ASCII space) is listed although §2.1 maps it,
# because NFKC could in principle produce one again.
_PROHIBITED = (
    stringprep.in_table_c12,  # non-ASCII space characters
    stringprep.in_table_c21_c22,  # ASCII and non-ASCII control characters
    stringprep.in_table_c3,  # private use
    stringprep.in_table_c4,  # non-character code points
    stringprep.in_table_c5,  # surrogate codes
    stringprep.in_table_c6,  # inappropriate for plain text
    stringprep.in_table_c7,  # inappropriate for canonical representation
    stringprep.in_table_c8,  # change display properties or deprecated
    stringprep.in_table_c9,  # tagging characters
)


def saslprep(s: str, *, allow_unassigned: bool = False) -> str:
    """Prepare `s` with the SASLprep profile (RFC 4013); ValueError if the output is prohibited.

    `allow_unassigned` is True for "query" strings (what a client presents) and False for "stored"
    strings (what goes into the store), RFC 3454 §7. The error text never repeats the input: it
    may be a password.
    """
    # RFC 4013 §2.1: non-ASCII spaces map to SPACE; "commonly mapped to nothing" (B.1) vanish.
    mapped = "".join(" " if stringprep.in_table_c12(c) else c
                     for c in s if not stringprep.in_table_b1(c))
    # RFC 4013 §2.2: NFKC, in the Unicode version stringprep is pinned to (RFC 3454 uses 3.2).
    prepared = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)
    for c in prepared:
        if any(in_table(c) for in_table in _PROHIBITED):
            raise ValueError("string contains a prohibited character")
        # RFC 4013 §2.5, RFC 3454 §7: unassigned code points are refused in stored strings.
        if not allow_unassigned and stringprep.in_table_a1(c):
            raise ValueError("string contains an unassigned code point")
    # RFC 4013 §2.4, RFC 3454 §6: a string with right-to-left characters holds no left-to-right
    # ones and starts and ends with a right-to-left character, so it cannot display misleadingly.
    if any(stringprep.in_table_d1(c) for c in prepared):
        if any(stringprep.in_table_d2(c) for c in prepared):
            raise ValueError("string mixes right-to-left and left-to-right characters")
        if not (stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1])):
            raise ValueError("right-to-left string must start and end right-to-left")
    return prepared


# --- making and checking credentials ------------------------------------------------------------

# Longer passwords are refused when set and fail when presented, before SASLprep (pure Python,
# ~0.2 s for 64 KB) or Argon2 see them: a client cannot buy CPU with one long line.
MAX_PASSWORD_CHARS = 1024


def reject_empty_password(password: str) -> None:
    """Raise ValueError if `password` is empty (no account gets a password that is nothing) or
    longer than MAX_PASSWORD_CHARS."""
    if not password:
        raise ValueError("password must not be empty")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ValueError(f"password must be at most {MAX_PASSWORD_CHARS} characters")


def scram_keys(prepared_password: str, salt: bytes, iterations: int) -> tuple[bytes, bytes]:
    """(StoredKey, ServerKey) for SCRAM-SHA-256, RFC 5802 §3, from a SASLprep'd password."""
    # RFC 5802 §2.2: Hi() is PBKDF2 with HMAC as the PRF and one hash-length block.
    salted_password = hashlib.pbkdf2_hmac("sha256", prepared_password.encode("utf-8"), salt,
                                          iterations)
    client_key = hmac.digest(salted_password, b"Client Key", "sha256")
    server_key = hmac.digest(salted_password, b"Server Key", "sha256")
    return hashlib.sha256(client_key).digest(), server_key


def make_credentials(
    password: str,
    *,
    scram_iterations: int = DEFAULT_SCRAM_ITERATIONS,
    scram_salt: bytes | None = None,
    hasher: PasswordHasher | None = None,
) -> Credentials:
    """Credentials for `password`: an Argon2id hash and SCRAM-SHA-256 verifiers.

    `scram_salt` is random (16 bytes) unless given, which only tests and migrations do; `hasher`
    sets the Argon2 cost (tests use a cheap one). CPU-heavy: call it off the event loop.
    """
    reject_empty_password(password)
    if scram_iterations < 1:
        raise ValueError("scram_iterations must be positive")
    # RFC 5802 §2.2 Normalize(), RFC 4616 §2: the stored form is prepared as a "stored" string and
    # the same prepared form feeds both hashes, so PLAIN and SCRAM accept the same passwords.
    prepared = saslprep(password)
    reject_empty_password(prepared)  # e.g. a password made only of soft hyphens
    salt = secrets.token_bytes(SCRAM_SALT_BYTES) if scram_salt is None else scram_salt
    stored_key, server_key = scram_keys(prepared, salt, scram_iterations)
    return Credentials(
        argon2_hash=(hasher or _DEFAULT_HASHER).hash(prepared),
        scram_salt=salt,
        scram_iterations=scram_iterations,
        scram_stored_key=stored_key,
        scram_server_key=server_key,
    )


class VerificationCache:
    """Recent successful verifications, as keyed digests with a time of expiry (LRU, bounded).

    One entry per stored hash: found by a digest of the hash, it holds a digest of (hash, NUL,
    password) that a later verification must match, compared in constant time. Safe to use from
    the event loop and from worker threads at once. `clock` is for tests.
    """

    def __init__(
        self,
        *,
        max_entries: int = VERIFIED_CACHE_MAX_ENTRIES,
        ttl_s: float = VERIFIED_CACHE_TTL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1 or ttl_s <= 0:
            raise ValueError("max_entries and ttl_s must be positive")
        self.max_entries = max_entries
        self.ttl_s = ttl_s
        self._clock = clock
        self._key = secrets.token_bytes(32)  # per process, never stored: digests are useless outside
        self._lock = threading.Lock()
        self._entries: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def _digests(self, argon2_hash: str, password: str) -> tuple[bytes, bytes]:
        stored = argon2_hash.encode("utf-8", "surrogatepass")
        # The password as presented, not prepared: SASLprep is pure Python (~0.1 ms for a short
        # password, ~0.2 s for the 64 KiB an IMAP line may hold), and this runs on the event loop.
        # Any presented form that verified once verifies again, so keying on it stays sound.
        presented = password.encode("utf-8", "surrogatepass")
        # The first message never holds a NUL (an Argon2 hash is ASCII without one) and the second
        # always does, so the two digests cannot stand for each other.
        return (hmac.digest(self._key, stored, "sha256"),
                hmac.digest(self._key, stored + b"\0" + presented, "sha256"))

    def holds(self, argon2_hash: str, password: str) -> bool:
        """Whether `password` verified against `argon2_hash` less than `ttl_s` ago."""
        slot, proof = self._digests(argon2_hash, password)
        with self._lock:
            entry = self._entries.get(slot)
            if entry is None:
                return False
            remembered, expires = entry
            if self._clock() >= expires:
                del self._entries[slot]
                return False
            if not hmac.compare_digest(remembered, proof):
                return False  # a wrong password leaves the right one's entry alone
            self._entries.move_to_end(slot)  # recently used; the expiry stays as it was
            return True

    def remember(self, argon2_hash: str, password: str) -> None:
        """Note that `password` has just verified against `argon2_hash`: successes only."""
        slot, proof = self._digests(argon2_hash, password)
        with self._lock:
            self._entries[slot] = (proof, self._clock() + self.ttl_s)
            self._entries.move_to_end(slot)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


_VERIFIED = VerificationCache()


def _prepare_presented(password: str) -> str | None:
    """The presented password prepared for hashing, or None if no account can have it."""
    # RFC 4616 §2: the presented password is prepared as a "query" string; if preparation fails
    # or leaves nothing, verification fails.
    if len(password) > MAX_PASSWORD_CHARS:
        return None
    try:
        prepared = saslprep(password, allow_unassigned=True)
    except ValueError:
        return None
    return prepared or None


def verify_password(
    creds: Credentials,
    password: str,
    *,
    cache: VerificationCache | None = None,
    hasher: PasswordHasher | None = None,
) -> bool:
    """Whether `password` is the one `creds` were made from. A wrong password gives False.

    A success is remembered in `cache` (the process's own unless given) and answered from it while
    it lasts; a failure always costs a full Argon2 check. `hasher` only matters to tests, which
    wrap it to count the checks: the parameters come from the hash itself, so any hasher instance
    verifies any hash. A corrupt stored hash still raises (argon2's InvalidHashError): that is our
    failure, to be answered with a temporary error, not a "wrong password" that would hide it.
    """
    cache = _VERIFIED if cache is None else cache
    if cache.holds(creds.argon2_hash, password):
        return True
    prepared = _prepare_presented(password)
    if prepared is None:
        return False
    try:
        (hasher or _DEFAULT_HASHER).verify(creds.argon2_hash, prepared)
    except VerificationError:
        return False
    cache.remember(creds.argon2_hash, password)
    return True


async def verify_password_async(
    creds: Credentials,
    password: str,
    *,
    cache: VerificationCache | None = None,
    hasher: PasswordHasher | None = None,
) -> bool:
    """`verify_password`, with Argon2 on a worker thread: it would stall the event loop ~0.2 s.

    The cache is asked here first (one HMAC), so a remembered success never waits for a thread.
    """
    cache = _VERIFIED if cache is None else cache
    if cache.holds(creds.argon2_hash, password):
        return True
    return await asyncio.to_thread(verify_password, creds, password, cache=cache, hasher=hasher)


def _spend_a_verification(password: str, hasher: PasswordHasher) -> bool:
    # The same work `verify_password` does on a cache miss: nothing for a password no account can
    # have (it answers False before Argon2), one Argon2 computation otherwise.
    prepared = _prepare_presented(password)
    if prepared is not None:
        hasher.hash(prepared)
    return False


async def fake_verify_password_async(password: str, *, hasher: PasswordHasher | None = None) -> bool:
    """Spend what a verification costs, then answer False.

    Used for an unknown account, so that a login for a name that does not exist takes as long as
    one for a name that does: the delay must not tell an attacker which accounts exist. Never
    answered from the cache, as a wrong password for a known account never is. `hasher` is for
    tests, as in `verify_password`.
    """
    return await asyncio.to_thread(_spend_a_verification, password, hasher or _DEFAULT_HASHER)


# --- storage encoding ---------------------------------------------------------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any) -> bytes:
    if not isinstance(value, str):
        raise ValueError("expected a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("invalid base64 in credentials") from e


def encode_credentials(c: Credentials) -> dict[str, Any]:
    """A JSON-safe dict of `c` (bytes as base64), for a store to keep in one TEXT column."""
    return {
        "version": _ENCODING_VERSION,
        "argon2": c.argon2_hash,
        "scram-sha-256": {
            "salt": _b64(c.scram_salt),
            "iterations": c.scram_iterations,
            "stored-key": _b64(c.scram_stored_key),
            "server-key": _b64(c.scram_server_key),
        },
    }


def decode_credentials(d: dict[str, Any]) -> Credentials:
    """The `Credentials` encoded by `encode_credentials`; ValueError if `d` is not such a dict."""
    try:
        if d["version"] != _ENCODING_VERSION:
            raise ValueError("unknown credentials version")
        scram = d["scram-sha-256"]
        argon2_hash, iterations = d["argon2"], scram["iterations"]
        salt, stored_key, server_key = (
            _unb64(scram["salt"]), _unb64(scram["stored-key"]), _unb64(scram["server-key"]))
    except (KeyError, TypeError) as e:
        raise ValueError("malformed credentials") from e
    # bool is an int in Python; an iteration count of True is still nonsense.
    if not isinstance(argon2_hash, str) or type(iterations) is not int or iterations < 1:
        raise ValueError("malformed credentials")
    if len(stored_key) != hashlib.sha256().digest_size or len(server_key) != len(stored_key):
        raise ValueError("malformed credentials")
    return Credentials(argon2_hash, salt, iterations, stored_key, server_key)
