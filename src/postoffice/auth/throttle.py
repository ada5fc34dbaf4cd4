"""Login throttling: how long to wait before answering an authentication attempt.

Role: docs/architecture.md "repeated auth failures are throttled per address and per account". The
protocol layer asks `delay_for` before it answers an AUTH/LOGIN/AUTHENTICATE, sleeps that long
(without holding anything), then reports the outcome with `record_failure` or `record_success`.
Failures are counted separately per client address and per account, so one address guessing many
accounts and many addresses guessing one account are both slowed down.

RFCs: none prescribes this; RFC 4954 §9 and RFC 5802 §9 ask servers to resist password guessing.

Left out: persistence and sharing between nodes (a restart forgets; each `postoffice serve` node
counts its own), refusing outright (a delay keeps the legitimate user able to log in), and any
delay for successful logins.

Why hand-written: a dict of timestamps with an injectable clock; a rate-limit library would bring
its own notion of time and storage for forty lines of logic.
"""

from __future__ import annotations

import ipaddress
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterator

_Key = tuple[str, str]


class LoginThrottle:
    """Failure counts per client address and per account, in memory, bounded in size.

    With the defaults, the first two failures cost nothing; the third asks for 0.5 s, then 1, 2, 4,
    8 and 10 s (the cap) for every later one, until failures are older than `window_s`.
    """

    def __init__(
        self,
        *,
        base_delay_s: float = 0.5,  # the delay after the first failure beyond the free ones
        max_delay_s: float = 10.0,  # no answer is delayed longer than this
        window_s: float = 900.0,  # a failure stops counting this long after it happened
        free_failures: int = 2,  # failures allowed before any delay: typing slips happen
        max_keys: int = 100_000,  # addresses and accounts tracked at most; the oldest go first
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if base_delay_s <= 0 or max_delay_s < 0 or window_s <= 0:
            raise ValueError("delays and window must be positive")
        if free_failures < 0 or max_keys < 1:
            raise ValueError("free_failures must be >= 0 and max_keys >= 1")
        self._base_delay_s = base_delay_s
        self._max_delay_s = max_delay_s
        self._window_s = window_s
        self._free_failures = free_failures
        self._max_keys = max_keys
        self._clock = clock
        # Once the delay reaches its cap, older failures change nothing: keep only as many
        # timestamps per key as it takes to get there, so a flood of failures costs no memory.
        steps_to_cap = 1
        while base_delay_s * 2 ** (steps_to_cap - 1) < max_delay_s:
            steps_to_cap += 1
        self._kept_per_key = free_failures + steps_to_cap
        # Insertion order is recency order (a failure moves its key to the end), so the first key
        # is the one to drop when the table is full.
        self._failures: OrderedDict[_Key, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """How many addresses and accounts are tracked."""
        return len(self._failures)

    def delay_for(self, ip: str, account: str | None) -> float:
        """Seconds to wait before answering `ip` about `account` (None while it is not known)."""
        now = self._clock()
        return max(self._delay_for_key(key, now) for key in self._keys(ip, account))

    def record_failure(self, ip: str, account: str | None) -> None:
        now = self._clock()
        for key in self._keys(ip, account):
            times = self._failures.get(key)
            if times is None:
                if len(self._failures) >= self._max_keys:
                    self._failures.popitem(last=False)
                times = self._failures[key] = deque(maxlen=self._kept_per_key)
            else:
                self._failures.move_to_end(key)
                self._expire(times, now)
            times.append(now)

    async def failed(self, ip: str, account: str | None, sleep: Callable[[float], Awaitable[None]]) -> None:
        """A failed attempt: wait what was due before it (with `sleep`), and count it."""
        delay = self.delay_for(ip, account)
        self.record_failure(ip, account)
        if delay:
            await sleep(delay)

    def record_success(self, ip: str, account: str | None) -> None:
        """Forget the failures of this address and this account: the user got it right.

        Clearing the address too spares colleagues behind the same NAT after one person's typos;
        the per-account counter still slows anyone who guesses at other accounts from there.
        """
        for key in self._keys(ip, account):
            self._failures.pop(key, None)

    def _delay_for_key(self, key: _Key, now: float) -> float:
        times = self._failures.get(key)
        if times is None:
            return 0.0
        self._expire(times, now)
        if not times:
            del self._failures[key]
            return 0.0
        beyond_free = len(times) - self._free_failures
        if beyond_free <= 0:
            return 0.0
        return min(self._max_delay_s, self._base_delay_s * 2.0 ** (beyond_free - 1))

    def _expire(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self._window_s:
            times.popleft()

    def _keys(self, ip: str, account: str | None) -> Iterator[_Key]:
        yield ("ip", _address_key(ip))
        if account:
            # Case-folded: the store may match addresses case-insensitively, and an attacker must
            # not get fresh counters by writing ALICE@ for alice@.
            yield ("account", account.strip().casefold())


def _address_key(ip: str) -> str:
    """The unit an address is counted in: an IPv4 address, or the /64 an IPv6 address is in.

    One IPv6 host usually holds a whole /64, so counting single addresses would give it 2**64
    fresh counters.
    """
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip  # not an IP (a Unix socket peer, a test name): count it as given
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
