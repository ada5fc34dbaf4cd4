"""Sequence sets (RFC 9051 §9 sequence-set, RFC 5182 "$")."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postoffice.imap.wire import STAR, SequenceSet


def test_rfc9051_example_sets():
    # RFC 9051 §9 sequence-set: 2,4:7,9,12:* in a 15-message mailbox.
    s = SequenceSet.parse("2,4:7,9,12:*")
    assert list(s.iter(15)) == [2, 4, 5, 6, 7, 9, 12, 13, 14, 15]
    # *:4,5:7 in a 10-message mailbox is 4..10.
    assert list(SequenceSet.parse("*:4,5:7").iter(10)) == [4, 5, 6, 7, 8, 9, 10]


def test_ranges_are_unordered_and_star_may_be_below():
    assert list(SequenceSet.parse("4:2").iter(10)) == [2, 3, 4]
    # RFC 9051 §9 seq-range: 3291:* includes the last UID even if it is below 3291.
    s = SequenceSet.parse("3291:*")
    assert s.contains(3000, 3000) and not s.contains(2999, 3000)


def test_contains():
    s = SequenceSet.parse("1,5:7,*")
    assert s.contains(1, 20) and s.contains(6, 20) and s.contains(20, 20)
    assert not s.contains(2, 20) and not s.contains(19, 20)


def test_saved_result():
    s = SequenceSet.parse("$")
    assert s.saved and str(s) == "$"
    with pytest.raises(ValueError):
        s.contains(1, 5)
    assert s.resolve_saved(SequenceSet.of(3, 4)) == SequenceSet.of(3, 4)


def test_empty_mailbox_star():
    assert list(SequenceSet.parse("*").iter(0)) == []
    assert list(SequenceSet.parse("1:*").iter(0)) == [1]


@pytest.mark.parametrize("text", ["", "0", "1:0", "0:*", "1,", ",1", "1:", ":1", "1::2", "a", "1 2",
                                  "4294967296", "$,1", "1,$", "01", "**", "12345678901"])
def test_invalid(text):
    with pytest.raises(ValueError):
        SequenceSet.parse(text)


def test_largest_number():
    assert SequenceSet.parse("4294967295").ranges == ((4294967295, 4294967295),)


number = st.one_of(st.just(STAR), st.integers(1, 2**32 - 1))
sets = st.builds(SequenceSet, st.lists(st.tuples(number, number), min_size=1, max_size=8).map(tuple))


@given(sets)
def test_str_parses_back(s):
    again = SequenceSet.parse(str(s))
    assert list(again.intervals(100)) == list(s.intervals(100))


@given(sets, st.integers(0, 60), st.integers(1, 60))
def test_contains_agrees_with_iter(s, largest, n):
    small = SequenceSet(tuple((min(a, 60), min(b, 60)) for a, b in s.ranges))
    assert small.contains(n, largest) == (n in set(small.iter(largest)))
