"""Sequence sets: the message numbers or UIDs a command acts on (RFC 9051 §9 sequence-set).

Role: `SequenceSet.parse` reads "2,4:7,9,12:*" or "$" into a value; `contains` and `iter` resolve
"*" against the largest number in use, which only the session knows; `str()` writes the set back
in the same syntax, and parsing that gives an equal value.

RFCs: RFC 9051 §9 (seq-number, seq-range, sequence-set, seq-last-command), §6.4.4.1 and RFC 5182
("$", the result saved by SEARCH RETURN (SAVE)). Ranges are unordered ("4:2" is "2:4") and "*"
stands for the largest number in use even when it is below the other end ("3291:*").

Left out: checking a number against the mailbox (the session answers BAD for a message number
above the count, RFC 9051 §9 seq-number) and replacing "$" by the saved set (`resolve_saved`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["SequenceSet", "STAR", "MAX_NUMBER"]

STAR = 0                      # stands for "*" in a range: 0 is never a valid seq-number
MAX_NUMBER = 2**32 - 1        # RFC 9051 §9 nz-number: unsigned 32-bit
_NUM = r"(?:[1-9][0-9]{0,9}|\*)"     # at most 10 digits, then checked against MAX_NUMBER
_SET = re.compile(rf"{_NUM}(?::{_NUM})?(?:,{_NUM}(?::{_NUM})?)*")


@dataclass(frozen=True, slots=True)
class SequenceSet:
    """Ranges as written, each `(first, last)` with `STAR` for "*"; `saved` for "$" (no ranges)."""

    ranges: tuple[tuple[int, int], ...] = ()
    saved: bool = False

    @classmethod
    def parse(cls, text: str) -> SequenceSet:
        """The set `text` spells; ValueError for "0", "1:", ",", a number over 2^32-1, ..."""
        if text == "$":
            return cls(saved=True)
        if not _SET.fullmatch(text):
            raise ValueError("invalid sequence set")
        ranges = []
        for item in text.split(","):
            first, _, last = item.partition(":")
            a = STAR if first == "*" else int(first)
            b = a if not last else STAR if last == "*" else int(last)
            if a > MAX_NUMBER or b > MAX_NUMBER:
                raise ValueError("number in sequence set out of range")
            ranges.append((a, b))
        return cls(tuple(ranges))

    @classmethod
    def of(cls, *numbers: int) -> SequenceSet:
        """A set of single numbers (convenient in tests and for the session)."""
        return cls(tuple((n, n) for n in numbers))

    def __str__(self) -> str:
        if self.saved:
            return "$"
        def num(n: int) -> str:
            return "*" if n == STAR else str(n)
        return ",".join(num(a) if a == b else f"{num(a)}:{num(b)}" for a, b in self.ranges)

    @property
    def uses_star(self) -> bool:
        return any(STAR in r for r in self.ranges)

    def resolve_saved(self, saved: SequenceSet) -> SequenceSet:
        """This set with "$" replaced by the saved result (RFC 5182 §2.1); others unchanged."""
        return saved if self.saved else self

    def intervals(self, largest: int) -> list[tuple[int, int]]:
        """Sorted, merged, non-empty `(low, high)` intervals with "*" as `largest` (numbers >= 1)."""
        if self.saved:
            raise ValueError("resolve '$' against the saved result first (resolve_saved)")
        spans = []
        for a, b in self.ranges:
            a = largest if a == STAR else a
            b = largest if b == STAR else b
            low, high = max(min(a, b), 1), max(a, b)
            if low <= high:
                spans.append((low, high))
        spans.sort()
        merged: list[tuple[int, int]] = []
        for low, high in spans:
            if merged and low <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], high))
            else:
                merged.append((low, high))
        return merged

    def contains(self, n: int, largest: int) -> bool:
        """Whether `n` is in the set when "*" is `largest` (the message count, or the last UID)."""
        return any(low <= n <= high for low, high in self.intervals(largest))

    def iter(self, largest: int) -> Iterator[int]:
        """Each number in the set once, ascending, with "*" as `largest`."""
        for low, high in self.intervals(largest):
            yield from range(low, high + 1)
