"""The selected mailbox as one IMAP session sees it: sequence numbers, and what it has yet to be told.

Other sessions, the MDA and POP3 change a mailbox while a session has it selected; the store's
change feed tells every session (store.feed). Each session keeps its own view: the UIDs in
sequence-number order, as last reported to its client. Changes wait in the view until the session
may report them (RFC 9051 §7.5.2, §7.4.1, RFC 3501 §5.2 and §5.5):
- new messages (EXISTS) and flag changes (FETCH FLAGS) may be sent after any command;
- expunges (EXPUNGE n) must not be sent while a command that uses sequence numbers (FETCH, STORE,
  SEARCH, COPY, MOVE, not their UID forms) is in progress, since the client's sequence numbers
  would shift under it; they wait for the next command that allows them, such as NOOP.
Sequence numbers change only when an EXPUNGE or EXISTS is actually reported, so the numbers a
client uses always mean what it was told. This module is pure: no store calls, no I/O.

The view also keeps the search result variable of RFC 5182 §2.1 / RFC 9051 §6.4.4.1 ("$", set by
SEARCH RETURN (SAVE)) as UIDs, so that it means the same messages in FETCH $ and UID FETCH $ and
needs no renumbering; a message expunged (here or elsewhere) leaves it at once. A new view starts
with it empty, which is the reset on SELECT and EXAMINE; CLOSE and UNSELECT drop the view.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, MutableSequence
from dataclasses import dataclass, field

from postoffice.store.api import Change, ChangeKind


@dataclass(frozen=True, slots=True)
class Exists:
    count: int


@dataclass(frozen=True, slots=True)
class Expunge:
    seq: int  # the sequence number as the client knew it when told


@dataclass(frozen=True, slots=True)
class FlagsChanged:
    seq: int
    uid: int
    flags: frozenset[str]
    modseq: int


Update = Exists | Expunge | FlagsChanged


@dataclass
class SelectedMailbox:
    mailbox: int
    uidvalidity: int
    uids: MutableSequence[int]  # ascending; sequence number n is uids[n - 1]; kept as 32-bit integers
    highestmodseq: int = 0
    read_only: bool = False
    _arrived: list[int] = field(default_factory=list)  # UIDs appended, not yet reported (EXISTS)
    _gone: set[int] = field(default_factory=set)  # UIDs expunged, not yet reported (EXPUNGE)
    _flags: dict[int, tuple[frozenset[str], int]] = field(default_factory=dict)  # uid -> (flags, modseq)
    saved: frozenset[int] = frozenset()  # UIDs of the last SEARCH RETURN (SAVE): "$" (RFC 5182 §2.1)
    name: str = ""  # the mailbox's name when selected, for the journey
    told: set[int] = field(default_factory=set)  # UIDs whose body fetch the journey has heard of

    def __post_init__(self) -> None:
        # 4 octets a message instead of a list's ~36: a session holds its mailbox's numbering for
        # as long as it is selected, and thousands of sessions idle at once (RFC 9051 UIDs are 32-bit).
        self.uids = array("I", self.uids)

    # --- what the client knows ---------------------------------------------------------------------

    @property
    def exists(self) -> int:
        return len(self.uids)

    def uid_of(self, seq: int) -> int | None:
        return self.uids[seq - 1] if 1 <= seq <= len(self.uids) else None

    def seq_of(self, uid: int) -> int | None:
        i = bisect.bisect_left(self.uids, uid)
        return i + 1 if i < len(self.uids) and self.uids[i] == uid else None

    def is_expunged(self, uid: int) -> bool:
        """Expunged elsewhere but not yet reported: still numbered for the client, but gone (a FETCH
        of it answers NO or nothing, RFC 9051 §7.5.2 allows either; we send nothing)."""
        return uid in self._gone

    def save(self, uids: Iterable[int]) -> None:
        """SEARCH RETURN (SAVE) found `uids` (RFC 9051 §6.4.4.1): they are "$" from now on."""
        self.saved = frozenset(uids)

    def saved_targets(self) -> list[tuple[int, int]]:
        """(seq, uid) of the messages "$" names, ascending; none before any SAVE (RFC 9051
        §6.4.4.1: an empty "$" is a valid set that matches nothing, not an error)."""
        return [(n, u) for n, u in enumerate(self.uids, 1) if u in self.saved]

    # --- what happened elsewhere -------------------------------------------------------------------

    def apply(self, change: Change) -> None:
        """Takes one change from the feed into the pending set."""
        if change.mailbox != self.mailbox:
            return
        self.highestmodseq = max(self.highestmodseq, change.modseq)
        if change.kind is ChangeKind.APPEND:
            if self.seq_of(change.uid) is None and change.uid not in self._arrived:
                bisect.insort(self._arrived, change.uid)
        elif change.kind is ChangeKind.EXPUNGE:
            # RFC 5182 §2.1: an expunged message leaves the saved search result.
            self._forget_saved({change.uid})
            if change.uid in self._arrived:  # came and went before the client heard of it
                self._arrived.remove(change.uid)
            elif self.seq_of(change.uid) is not None:
                self._gone.add(change.uid)
            self._flags.pop(change.uid, None)
        elif change.kind is ChangeKind.FLAGS:
            if change.uid not in self._gone:
                self._flags[change.uid] = (change.flags, change.modseq)

    def _forget_saved(self, uids: set[int]) -> None:
        if self.saved & uids:
            self.saved = self.saved - uids

    def forget_flags(self, uids: set[int]) -> None:
        """This session's own STORE already told its client (or was .SILENT): no echo later."""
        for uid in uids:
            self._flags.pop(uid, None)

    # --- telling the client --------------------------------------------------------------------------

    def expunge_now(self, uids: set[int]) -> list[Expunge]:
        """This session's own MOVE expunged `uids`: they leave the view at once, whatever other
        expunges still wait (RFC 6851 §3.3: the moving client is told with EXPUNGE responses, and
        RFC 9051 §7.5.1 forbids only expunges it did not ask for during a sequence-number command).
        Each number is as of after the previous one; the feed's echo of these is then ignored."""
        out: list[Expunge] = []
        self._forget_saved(uids)
        for uid in sorted(uids):
            self._gone.discard(uid)
            self._flags.pop(uid, None)
            seq = self.seq_of(uid)
            if seq is not None:
                out.append(Expunge(seq))
                del self.uids[seq - 1]
        return out

    def updates(self, *, allow_expunge: bool) -> list[Update]:
        """The untagged responses due now, in an order that keeps sequence numbers right: expunges
        first (highest number first is not needed: each number is as of after the previous one),
        then EXISTS for new messages, then flag changes of messages the client knows."""
        out: list[Update] = []
        if allow_expunge and self._gone:
            for uid in sorted(self._gone):
                seq = self.seq_of(uid)
                if seq is not None:
                    out.append(Expunge(seq))
                    del self.uids[seq - 1]
            self._gone.clear()
        if self._arrived:
            self.uids.extend(u for u in self._arrived if not self.uids or u > self.uids[-1])
            self._arrived.clear()
            out.append(Exists(len(self.uids)))
        for uid, (flags, modseq) in sorted(self._flags.items()):
            seq = self.seq_of(uid)
            if seq is not None and uid not in self._gone:
                out.append(FlagsChanged(seq, uid, flags, modseq))
        self._flags.clear()
        return out
