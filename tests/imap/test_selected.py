"""The selected-mailbox view: sequence numbers stay right while others change the mailbox."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from postoffice.imap.selected import Exists, Expunge, FlagsChanged, SelectedMailbox
from postoffice.store.api import Change, ChangeKind

BOX = 7


def view(*uids: int) -> SelectedMailbox:
    return SelectedMailbox(BOX, 1, list(uids))


def change(kind: ChangeKind, uid: int, modseq: int = 10, flags: frozenset[str] = frozenset()) -> Change:
    return Change(BOX, kind, uid, modseq, flags)


def test_new_messages_are_announced_with_exists():
    v = view(1, 2)
    v.apply(change(ChangeKind.APPEND, 3))
    v.apply(change(ChangeKind.APPEND, 4))
    assert v.updates(allow_expunge=False) == [Exists(4)]
    assert v.uid_of(4) == 4 and v.updates(allow_expunge=True) == []


def test_expunges_wait_while_sequence_numbers_are_in_use():
    # RFC 9051 §7.5.2: no EXPUNGE during FETCH, STORE or SEARCH by sequence number
    v = view(10, 20, 30, 40)
    v.apply(change(ChangeKind.EXPUNGE, 20))
    v.apply(change(ChangeKind.EXPUNGE, 40))
    assert v.updates(allow_expunge=False) == []
    assert v.seq_of(30) == 3 and v.is_expunged(20)  # numbers unchanged for the client meanwhile
    # each EXPUNGE renumbers what follows (RFC 9051 §7.5.1)
    assert v.updates(allow_expunge=True) == [Expunge(2), Expunge(3)]
    assert list(v.uids) == [10, 30] and v.seq_of(30) == 2


def test_flag_changes_name_the_current_sequence_number():
    v = view(10, 20, 30)
    v.apply(change(ChangeKind.FLAGS, 30, 12, frozenset({"\\Seen"})))
    v.apply(change(ChangeKind.EXPUNGE, 10))
    assert v.updates(allow_expunge=False) == [FlagsChanged(3, 30, frozenset({"\\Seen"}), 12)]
    assert v.updates(allow_expunge=True) == [Expunge(1)]


def test_a_message_that_comes_and_goes_unseen_is_never_mentioned():
    v = view(1)
    v.apply(change(ChangeKind.APPEND, 2))
    v.apply(change(ChangeKind.EXPUNGE, 2))
    assert v.updates(allow_expunge=True) == []


def test_own_store_is_not_echoed():
    v = view(1, 2)
    v.apply(change(ChangeKind.FLAGS, 2, 11, frozenset({"\\Flagged"})))
    v.forget_flags({2})
    assert v.updates(allow_expunge=True) == []


def test_changes_of_other_mailboxes_are_ignored():
    v = view(1)
    v.apply(Change(BOX + 1, ChangeKind.EXPUNGE, 1, 5))
    assert v.updates(allow_expunge=True) == []


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(["append", "expunge", "flags", "report", "report-no-expunge"]),
                          st.integers(1, 30)), max_size=60))
def test_the_client_s_view_follows_the_mailbox(ops):
    """Whatever happens, once everything is reported the client's numbering is the mailbox's."""
    actual = list(range(1, 11))
    v = view(*actual)
    client = list(actual)  # what a client would hold, updated only from the reported responses
    next_uid = 11
    for op, n in ops:
        if op == "append":
            actual.append(next_uid)
            v.apply(change(ChangeKind.APPEND, next_uid))
            next_uid += 1
        elif op == "expunge" and actual:
            uid = actual.pop(n % len(actual))
            v.apply(change(ChangeKind.EXPUNGE, uid))
        elif op == "flags" and actual:
            v.apply(change(ChangeKind.FLAGS, actual[n % len(actual)], flags=frozenset({"\\Seen"})))
        elif op.startswith("report"):
            for u in v.updates(allow_expunge=op == "report"):
                if isinstance(u, Expunge):
                    del client[u.seq - 1]
                elif isinstance(u, Exists):
                    client.extend(range(max(client, default=0) + 1, next_uid))
                    client = [c for c in client if c in actual or c in v.uids]
                elif isinstance(u, FlagsChanged):
                    assert client[u.seq - 1] == u.uid
    for u in v.updates(allow_expunge=True):
        if isinstance(u, Expunge):
            del client[u.seq - 1]
    assert list(v.uids) == actual


def test_own_move_expunges_at_once_and_leaves_others_pending():
    # RFC 6851 §3.3: the moving session is told of its own expunges even in a sequence-number
    # MOVE; an expunge made elsewhere still waits (RFC 9051 §7.5.1). The feed's echo is ignored.
    v = view(10, 20, 30, 40)
    v.apply(change(ChangeKind.EXPUNGE, 40))  # elsewhere
    v.apply(change(ChangeKind.EXPUNGE, 20))  # our move, echoed by the feed
    assert v.expunge_now({30, 20}) == [Expunge(2), Expunge(2)]
    v.apply(change(ChangeKind.EXPUNGE, 30))  # echo arriving late
    assert v.updates(allow_expunge=False) == [] and list(v.uids) == [10, 40]
    assert v.updates(allow_expunge=True) == [Expunge(2)] and list(v.uids) == [10]
