"""LoginThrottle: delays per address and per account, with a fake clock (no sleeping)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postoffice.auth.throttle import LoginThrottle

IP = "192.0.2.1"
ALICE = "alice@example.test"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(**kwargs) -> tuple[LoginThrottle, FakeClock]:
    clock = FakeClock()
    return LoginThrottle(clock=clock, **kwargs), clock


def fail(t: LoginThrottle, n: int, ip: str = IP, account: str | None = ALICE) -> None:
    for _ in range(n):
        t.record_failure(ip, account)


def test_no_failures_no_delay():
    t, _ = throttle()
    assert t.delay_for(IP, ALICE) == 0
    assert t.delay_for(IP, None) == 0
    assert len(t) == 0  # asking does not start tracking


def test_delay_doubles_after_free_failures_up_to_the_cap():
    t, _ = throttle()
    seen = []
    for _ in range(10):
        t.record_failure(IP, ALICE)
        seen.append(t.delay_for(IP, ALICE))
    assert seen == [0, 0, 0.5, 1, 2, 4, 8, 10, 10, 10]


def test_settings_are_respected():
    t, _ = throttle(free_failures=0, base_delay_s=1, max_delay_s=3)
    fail(t, 1)
    assert t.delay_for(IP, ALICE) == 1
    fail(t, 5)
    assert t.delay_for(IP, ALICE) == 3


def test_address_and_account_are_counted_separately():
    t, _ = throttle()
    fail(t, 4)
    # The same address guessing at another account, and another address guessing at alice.
    assert t.delay_for(IP, "bob@example.test") == 1
    assert t.delay_for("198.51.100.7", ALICE) == 1
    assert t.delay_for("198.51.100.7", "bob@example.test") == 0


def test_many_addresses_on_one_account_are_slowed():
    t, _ = throttle()
    for i in range(5):
        t.record_failure(f"198.51.100.{i}", ALICE)
    assert t.delay_for("203.0.113.9", ALICE) == 2


def test_account_case_does_not_give_fresh_counters():
    t, _ = throttle()
    fail(t, 3, account="Alice@Example.TEST")
    assert t.delay_for("198.51.100.7", ALICE) == 0.5


def test_ipv6_is_counted_per_64():
    # One host commonly holds a /64: counting single addresses would give it endless counters.
    t, _ = throttle()
    fail(t, 3, ip="2001:db8:1:2::1", account=None)
    assert t.delay_for("2001:db8:1:2:ffff::9", None) == 0.5
    assert t.delay_for("2001:db8:1:3::1", None) == 0
    fail(t, 3, ip="::ffff:192.0.2.1", account=None)  # IPv4-mapped counts as the IPv4 address
    assert t.delay_for(IP, None) == 0.5


def test_success_clears_address_and_account():
    t, _ = throttle()
    fail(t, 6)
    t.record_success(IP, ALICE)
    assert t.delay_for(IP, ALICE) == 0
    assert len(t) == 0


def test_failures_expire_after_the_window():
    t, clock = throttle(window_s=900)
    fail(t, 3)
    clock.now += 600
    fail(t, 1)
    assert t.delay_for(IP, ALICE) == 1
    clock.now += 300  # the first three are now 900 s old and no longer count
    assert t.delay_for(IP, ALICE) == 0
    clock.now += 600
    assert t.delay_for(IP, ALICE) == 0
    assert len(t) == 0  # expired keys are dropped when looked at


def test_tracked_keys_are_bounded_and_the_oldest_go():
    t, _ = throttle(max_keys=10, free_failures=0)
    for i in range(100):
        t.record_failure(f"10.0.{i // 256}.{i % 256}", None)
    assert len(t) == 10
    assert t.delay_for("10.0.0.0", None) == 0  # dropped
    assert t.delay_for("10.0.0.99", None) == 0.5  # kept


def test_a_flood_of_failures_keeps_few_timestamps():
    t, _ = throttle()
    fail(t, 10_000)
    assert t.delay_for(IP, ALICE) == 10
    assert all(len(times) <= 10 for times in t._failures.values())


@pytest.mark.parametrize("bad", [
    {"base_delay_s": 0}, {"max_delay_s": -1}, {"window_s": 0}, {"free_failures": -1},
    {"max_keys": 0},
])
def test_nonsense_settings_are_refused(bad):
    with pytest.raises(ValueError):
        LoginThrottle(**bad)


_operations = st.lists(st.tuples(
    st.sampled_from(["fail", "ok", "wait"]),
    st.sampled_from(["192.0.2.1", "192.0.2.2", "2001:db8::1", "not-an-ip"]),
    st.sampled_from([None, "", ALICE, "bob@example.test"]),
    st.floats(min_value=0, max_value=2000),
), max_size=60)


@given(_operations)
def test_delay_stays_between_zero_and_the_cap(operations):
    t, clock = throttle(max_keys=3)
    for op, ip, account, seconds in operations:
        if op == "fail":
            t.record_failure(ip, account)
        elif op == "ok":
            t.record_success(ip, account)
        else:
            clock.now += seconds
        assert 0 <= t.delay_for(ip, account) <= 10
        assert len(t) <= 3


def test_a_failure_waits_what_was_due_then_counts():
    import asyncio

    clock = [0.0]
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    throttle = LoginThrottle(clock=lambda: clock[0])
    for _ in range(5):
        asyncio.run(throttle.failed("192.0.2.1", "a@example.test", sleep))
    # The wait before each attempt is what the failures counted so far ask for: none for the first
    # three (two free failures, the third's delay applies to the next), then 0.5 s and 1 s.
    assert slept == [0.5, 1.0]
