"""The store contract: what every backend must do, checked through the store interface only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from postoffice.store.api import (
    BlobRef, ChangeKind, Conflict, CopyPlan, Envelope, FlagMode, NewCopy, NotFound, QueuedRecipient,
)
from postoffice.trace.events import Event, Routing, Stage
from tests.store.conftest import make_account

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
MESSAGE = (b"From: alice@example.test\r\nTo: bob@example.test\r\nSubject: lunch\r\n"
           b"Message-ID: <lunch-1@example.test>\r\n\r\nAt noon?\r\n")


async def inbox_of(store, account):
    return await store.mailboxes.find(account.id, "INBOX")


def test_every_account_gets_the_standard_mailboxes_with_special_use(with_store):
    async def body(store):
        account = await make_account(store)
        boxes = {m.name: m for m in await store.mailboxes.list(account.id)}
        # RFC 6154 §2 special-use attributes
        assert {n: m.special_use for n, m in boxes.items()} == {
            "INBOX": None, "Sent": "\\Sent", "Drafts": "\\Drafts", "Trash": "\\Trash",
            "Junk": "\\Junk", "Archive": "\\Archive"}
        assert all(m.uidnext == 1 and m.subscribed for m in boxes.values())
        assert len({m.uidvalidity for m in boxes.values()}) == 6

    with_store(body)


def test_10000_appends_give_uids_1_to_10000_and_increasing_modseqs(with_store):
    async def body(store):
        account = await make_account(store)
        inbox = await inbox_of(store, account)
        blob = await store.blobs.put(MESSAGE)
        for start in range(0, 10_000, 500):  # 500 writers at a time: group commit under load
            await asyncio.gather(*(store.mailboxes.append(inbox.id, blob, frozenset(), NOW) for _ in range(500)))
        after = await store.mailboxes.get(inbox.id)
        messages = await store.mailboxes.messages(inbox.id)
        assert [m.uid for m in messages] == list(range(1, 10_001))
        assert after.uidnext == 10_001 and after.messages == 10_000
        modseqs = [m.modseq for m in messages]
        assert all(a < b for a, b in zip(modseqs, modseqs[1:]))  # RFC 7162 §3.1: strictly increasing
        assert after.highestmodseq == modseqs[-1]
        assert after.uidvalidity == inbox.uidvalidity

    with_store(body)


def test_flag_changes_and_expunges_bump_modseq_and_reach_the_change_feed(with_store):
    async def body(store):
        account = await make_account(store)
        inbox = await inbox_of(store, account)
        blob = await store.blobs.put(MESSAGE)
        with store.feed.subscribe(inbox.id) as feed:
            a = await store.mailboxes.append(inbox.id, blob, frozenset(), NOW)
            b = await store.mailboxes.append(inbox.id, blob, frozenset({"\\Flagged"}), NOW)
            seen = await store.mailboxes.set_flags(inbox.id, [a.uid, b.uid], frozenset({"\\Seen"}), FlagMode.ADD)
            assert [c.uid for c in seen] == [1, 2] and seen[0].modseq > b.modseq
            assert seen[1].flags == {"\\Seen", "\\Flagged"}
            unchanged = await store.mailboxes.set_flags(inbox.id, [a.uid], frozenset({"\\Seen"}), FlagMode.ADD)
            assert unchanged == []  # nothing changed, so no new modseq
            gone = await store.mailboxes.expunge(inbox.id, [a.uid, 99])
            assert [(c.kind, c.uid) for c in gone] == [(ChangeKind.EXPUNGE, 1)] and gone[0].modseq > seen[0].modseq
            heard = [feed.get_nowait() for _ in range(feed.qsize())]
        assert [(c.kind, c.uid) for c in heard] == [
            (ChangeKind.APPEND, 1), (ChangeKind.APPEND, 2), (ChangeKind.FLAGS, 1), (ChangeKind.FLAGS, 2),
            (ChangeKind.EXPUNGE, 1)]
        status = await store.mailboxes.get(inbox.id)
        assert status.highestmodseq == gone[0].modseq and status.messages == 1
        # RFC 7162 §3.1.4.1 style resync: what changed since the first append
        since = await store.mailboxes.changes_since(inbox.id, a.modseq)
        assert [(c.kind, c.uid) for c in since] == [(ChangeKind.FLAGS, 2), (ChangeKind.EXPUNGE, 1)]
        replaced = await store.mailboxes.set_flags(inbox.id, [2], frozenset({"$Label1"}), FlagMode.REPLACE)
        assert replaced[0].flags == {"$Label1"}
        removed = await store.mailboxes.set_flags(inbox.id, [2], frozenset({"$Label1"}), FlagMode.REMOVE)
        assert removed[0].flags == frozenset()
        # an expunged UID is never given again (RFC 9051 §2.3.1.1)
        again = await store.mailboxes.append(inbox.id, blob, frozenset(), NOW)
        assert again.uid == 3

    with_store(body)


def test_one_message_delivered_to_50_mailboxes_is_one_blob(with_store):
    async def body(store):
        inboxes = []
        for i in range(50):
            account = await make_account(store, f"user{i}@example.test")
            inboxes.append(await inbox_of(store, account))
        blobs = [await store.blobs.put(MESSAGE) for _ in range(50)]
        assert len({b.id for b in blobs}) == 1
        await asyncio.gather(*(store.mailboxes.append(m.id, blobs[i], frozenset(), NOW) for i, m in enumerate(inboxes)))
        assert await store.blobs.count() == 1
        for m in inboxes:
            [stored] = await store.mailboxes.messages(m.id)
            assert stored.blob == blobs[0] and stored.size == len(MESSAGE)
            assert await store.blobs.read(stored.blob) == MESSAGE

    with_store(body)


def test_large_blobs_live_in_files_and_read_back_byte_for_byte(with_store):
    big = MESSAGE + b"x" * 200_000 + b"\r\n"

    async def body(store):
        blob = await store.blobs.put(big)
        assert store.blobs.path_of(blob.sha256).stat().st_size == len(big)
        assert await store.blobs.read(blob) == big
        account = await make_account(store)
        await store.mailboxes.append((await inbox_of(store, account)).id, blob, frozenset(), NOW)
        assert await store.check_integrity() == []
        store.blobs.path_of(blob.sha256).unlink()
        assert any("missing" in p for p in await store.check_integrity())

    with_store(body, inline_blob_bytes=1024)


def test_the_parsed_form_is_kept_with_the_blob(with_store):
    async def body(store):
        blob = await store.blobs.put(MESSAGE)
        parsed = await store.blobs.parsed(blob)
        assert parsed.size == len(MESSAGE)
        assert parsed.envelope.subject == "lunch"

    with_store(body)


def test_uidvalidity_of_a_recreated_mailbox_is_greater(with_store):
    async def body(store):
        account = await make_account(store)
        first = await store.mailboxes.create(account.id, "Projects")
        await store.mailboxes.delete(first.id)
        second = await store.mailboxes.create(account.id, "Projects")
        assert second.uidvalidity > first.uidvalidity  # RFC 9051 §2.3.1.1

    with_store(body)


def test_mailbox_rename_moves_children_and_refuses_clashes(with_store):
    async def body(store):
        account = await make_account(store)
        work = await store.mailboxes.create(account.id, "Work")
        await store.mailboxes.create(account.id, "Work/2026")
        await store.mailboxes.rename(work.id, "Job")
        names = {m.name for m in await store.mailboxes.list(account.id)}
        assert {"Job", "Job/2026"} <= names and "Work/2026" not in names
        with pytest.raises(Conflict):
            await store.mailboxes.rename(work.id, "Sent")
        with pytest.raises(Conflict):
            await store.mailboxes.create(account.id, "Job")
        inbox = await inbox_of(store, account)
        with pytest.raises(Conflict):
            await store.mailboxes.delete(inbox.id)  # RFC 9051 §6.3.4
        await store.mailboxes.subscribe(work.id, False)
        assert not (await store.mailboxes.get(work.id)).subscribed

    with_store(body)


def test_a_failing_write_does_not_spoil_the_writes_committed_with_it(with_store):
    async def body(store):
        account = await make_account(store)
        inbox = await inbox_of(store, account)
        blob = await store.blobs.put(MESSAGE)
        results = await asyncio.gather(
            *(store.mailboxes.append(inbox.id if i % 2 else 999_999, blob, frozenset(), NOW) for i in range(40)),
            return_exceptions=True)
        assert sum(isinstance(r, NotFound) for r in results) == 20
        assert [m.uid for m in await store.mailboxes.messages(inbox.id)] == list(range(1, 21))

    with_store(body)


def test_a_full_disk_is_an_error_and_keeps_what_was_stored(with_store):
    async def body(store):
        account = await make_account(store)
        inbox = await inbox_of(store, account)
        blob = await store.blobs.put(MESSAGE)
        await store.mailboxes.append(inbox.id, blob, frozenset(), NOW)
        pages = await store.writer.run(lambda c: c.execute("PRAGMA page_count").fetchone()[0])
        await store.writer.run(lambda c: c.execute(f"PRAGMA max_page_count = {pages}"))
        with pytest.raises(Exception) as failed:
            for i in range(200):
                await store.blobs.put(MESSAGE + b"%d" % i + b"y" * 3000)
        assert "full" in str(failed.value)
        await store.writer.run(lambda c: c.execute("PRAGMA max_page_count = 1073741823"))
        assert [m.uid for m in await store.mailboxes.messages(inbox.id)] == [1]
        assert await store.check_integrity() == []

    with_store(body)


def test_queue_and_journey_find_a_message_by_queue_id_and_message_id(with_store):
    async def body(store):
        account = await make_account(store)
        inbox = await inbox_of(store, account)
        queued = await store.queue.enqueue(
            MESSAGE, Envelope(sender="carol@remote.test", client="[127.0.0.1]:5555", envid="E1", ret="HDRS"),
            "<lunch-1@example.test>",
            [QueuedRecipient("alice@example.test", route="local", account=account.id, notify="FAILURE"),
             QueuedRecipient("dave@remote.test", route="remote", orcpt="rfc822;dave@remote.test")],
            queue_id="LUNCH0000001")
        assert queued.queue_id == "LUNCH0000001" and [r.id > 0 for r in queued.recipients] == [True, True]
        again = await store.queue.get(queued.queue_id)
        assert again.envelope.envid == "E1" and again.recipients[1].orcpt == "rfc822;dave@remote.test"
        assert [m.queue_id for m in await store.queue.list()] == [queued.queue_id]
        routing = Routing(address="alice@example.test", final="alice@example.test", local=True, how="account")
        await store.journey.record(queued.queue_id, [Event(Stage.ROUTED, routing)])
        by_id = await store.journey.events(queued.queue_id)
        by_message_id = await store.journey.events("lunch-1@example.test")
        assert [e.stage for e in by_id] == [Stage.QUEUED, Stage.ROUTED] == [e.stage for e in by_message_id]
        assert by_id[1].data == routing and by_id[1].message_id == "<lunch-1@example.test>"
        assert await store.journey.events("<nothing@example.test>") == []

    with_store(body)


def test_directory_refuses_duplicates_and_unknown_domains(with_store):
    async def body(store):
        await make_account(store)
        with pytest.raises(Conflict):
            await store.directory.add_domain("example.test")
        with pytest.raises(Conflict):
            await make_account(store)
        with pytest.raises(NotFound):
            await store.directory.add_account("x@elsewhere.test", (await store.directory.list_accounts())[0].credentials)
        await store.directory.add_alias("team@example.test", ["alice@example.test", "bob@remote.test"])
        await store.directory.add_alias("@example.test", ["alice@example.test"])
        assert (await store.directory.find_alias("team@example.test")).targets == ("alice@example.test", "bob@remote.test")
        with pytest.raises(Conflict):
            await store.directory.add_alias("team@example.test", ["carol@example.test"])
        with pytest.raises(Conflict):
            await store.directory.add_alias("alice@example.test", ["bob@example.test"])
        with pytest.raises(Conflict):
            await store.directory.delete_domain("example.test")
        await store.directory.delete_alias("team@example.test")
        await store.directory.delete_alias("@example.test")
        await store.directory.delete_account("alice@example.test")
        await store.directory.delete_domain("example.test")
        assert await store.directory.list_domains() == []

    with_store(body)


def test_local_delivery_is_exactly_once_and_settles_the_queue(with_store):
    from postoffice.store.api import LocalCopy, RecipientState

    async def body(store):
        alice_account = await make_account(store)
        bob_account = await make_account(store, "bob@example.test")
        bob = await inbox_of(store, bob_account)
        queued = await store.queue.enqueue(
            MESSAGE, Envelope(sender="carol@remote.test"), "<lunch-1@example.test>",
            [QueuedRecipient("alice@example.test", route="local", account=alice_account.id),
             QueuedRecipient("bob@example.test", route="local", account=bob_account.id),
             QueuedRecipient("dave@remote.test", route="remote")], queue_id="LUNCH0000002")
        copies = [LocalCopy(r.id, CopyPlan("INBOX", b"Delivered-To: " + r.address.encode() + b"\r\n"))
                  for r in queued.recipients if r.is_local]
        assert [q.queue_id for q in await store.queue.pending_local()] == [queued.queue_id]
        first = await store.queue.deliver_local(queued.queue_id, copies, NOW)
        again = await store.queue.deliver_local(queued.queue_id, copies, NOW)  # as after a crash
        assert [a.uid for _, a in first if a] == [1, 1] and again == []
        [stored] = await store.mailboxes.messages(bob.id)
        assert await store.blobs.read_message(stored) == b"Delivered-To: bob@example.test\r\n" + MESSAGE
        assert stored.size == len(b"Delivered-To: bob@example.test\r\n" + MESSAGE)
        assert await store.blobs.count() == 1  # one blob for both local recipients
        left = await store.queue.get(queued.queue_id)
        assert [r.state for r in left.recipients] == [RecipientState.DELIVERED, RecipientState.DELIVERED,
                                                      RecipientState.QUEUED]
        assert await store.queue.pending_local() == []
        stages = [e.stage for e in await store.journey.events(queued.queue_id)]
        assert stages == [Stage.QUEUED, Stage.DELIVERED, Stage.DELIVERED]

    with_store(body)


def test_deleting_a_user_takes_it_out_of_aliases(with_store):
    async def body(store):
        await make_account(store, "alice@example.test")
        await make_account(store, "bob@example.test")
        await store.directory.add_alias("team@example.test", ["alice@example.test", "bob@example.test"])
        await store.directory.add_alias("solo@example.test", ["alice@example.test"])
        await store.directory.delete_account("alice@example.test")
        assert (await store.directory.find_alias("team@example.test")).targets == ("bob@example.test",)
        assert await store.directory.find_alias("solo@example.test") is None

    with_store(body)


def test_copy_and_move_keep_the_blob_and_move_is_one_step(with_store):
    async def body(store):
        account = await make_account(store)
        inbox = await inbox_of(store, account)
        archive = await store.mailboxes.find(account.id, "Archive")
        blob = await store.blobs.put(MESSAGE)
        for flags in (frozenset({"\\Seen"}), frozenset()):
            await store.mailboxes.append(inbox.id, blob, flags, NOW, b"Delivered-To: alice@example.test\r\n")
        assert await store.mailboxes.copy(inbox.id, [2, 1, 99], archive.id) == [(1, 1), (2, 2)]
        copied = await store.mailboxes.messages(archive.id)
        assert [m.flags for m in copied] == [frozenset({"\\Seen"}), frozenset()]
        assert copied[0].prefix == b"Delivered-To: alice@example.test\r\n" and await store.blobs.count() == 1
        with store.feed.subscribe(inbox.id) as feed:
            assert await store.mailboxes.copy(inbox.id, [1], archive.id, move=True) == [(1, 3)]  # RFC 6851 §3.3
            heard = [feed.get_nowait() for _ in range(feed.qsize())]
        assert [(c.kind, c.uid) for c in heard] == [(ChangeKind.EXPUNGE, 1)]
        assert [m.uid for m in await store.mailboxes.messages(inbox.id)] == [2]

    with_store(body)


def test_lookups_by_uid_ranges_counts_and_flagged_uids(with_store):
    async def body(store):
        account = await make_account(store)
        inbox = await inbox_of(store, account)
        blob = await store.blobs.put(MESSAGE)
        for n in range(1, 301):
            flags = frozenset({"\\Seen"} if n % 3 else set()) | (frozenset({"\\Deleted", "$Junk"}) if n % 50 == 0 else set())
            await store.mailboxes.append(inbox.id, blob, flags, NOW)
        await store.mailboxes.expunge(inbox.id, [10, 11])
        # A few ranges, many ranges (more than a lookup per range is worth), and UIDs not there.
        few = await store.mailboxes.messages(inbox.id, [5, 9, 10, 11, 12, 299, 300, 301, 999])
        assert [m.uid for m in few] == [5, 9, 12, 299, 300]
        every_other = list(range(1, 301, 2))
        assert [m.uid for m in await store.mailboxes.messages(inbox.id, every_other)] == [
            u for u in every_other if u != 11]
        assert await store.mailboxes.messages(inbox.id, []) == []
        flags = dict(await store.mailboxes.flags(inbox.id, list(range(1, 400))))
        assert sorted(flags) == [u for u in range(1, 301) if u not in (10, 11)]
        assert flags[3] == frozenset() and flags[300] == frozenset({"\\Deleted", "$Junk"})
        assert flags[1] == frozenset({"\\Seen"})
        assert await store.mailboxes.flags(inbox.id, every_other) == [(u, flags[u]) for u in every_other if u != 11]
        assert await store.mailboxes.uids(inbox.id) == [u for u in range(1, 301) if u not in (10, 11)]
        assert await store.mailboxes.uids(inbox.id, flagged="\\Deleted") == [50, 100, 150, 200, 250, 300]
        counts = await store.mailboxes.counts(inbox.id)
        unseen = [u for u in range(1, 301) if u % 3 == 0]
        assert (counts.messages, counts.unseen, counts.deleted, counts.last_uid) == (298, len(unseen), 6, 300)
        assert counts.first_unseen_uid == 3 and counts.size == 298 * len(MESSAGE)
        empty = await store.mailboxes.counts((await store.mailboxes.find(account.id, "Trash")).id)
        assert (empty.messages, empty.size, empty.last_uid, empty.first_unseen_uid) == (0, 0, 0, None)

    with_store(body)


def test_append_all_is_one_transaction(with_store):
    async def body(store):
        account = await make_account(store)
        inbox = await inbox_of(store, account)
        blob = await store.blobs.put(MESSAGE)
        with store.feed.subscribe(inbox.id) as feed:
            done = await store.mailboxes.append_all(inbox.id, [NewCopy(blob, frozenset({"\\Seen"}), NOW),
                                                               NewCopy(blob, frozenset(), NOW)])
            assert [a.uid for a in done] == [1, 2]
            assert [feed.get_nowait().kind for _ in range(2)] == [ChangeKind.APPEND, ChangeKind.APPEND]
        # The second of two fails (its blob does not exist): the first is not stored either.
        missing = BlobRef(blob.id + 1000, "0" * 64, 10)
        with pytest.raises(Exception):
            await store.mailboxes.append_all(inbox.id, [NewCopy(blob, frozenset(), NOW), NewCopy(missing, frozenset(), NOW)])
        assert [m.uid for m in await store.mailboxes.messages(inbox.id)] == [1, 2]
        assert (await store.mailboxes.get(inbox.id)).uidnext == 3

    with_store(body)


def test_search_headers_are_the_parsed_forms_header_fields(with_store):
    async def body(store):
        account = await make_account(store)
        inbox = await inbox_of(store, account)
        other = b"From: =?utf-8?q?J=C3=B6rg?= <j@example.test>\r\nSubject: second\r\n\r\nx\r\n"
        for content in (MESSAGE, other):
            await store.mailboxes.append(inbox.id, await store.blobs.put(content), frozenset(), NOW)
        found = await store.mailboxes.search_headers(inbox.id)
        assert found[1] == (await store.blobs.parsed((await store.mailboxes.messages(inbox.id))[0].blob)).headers
        assert found[1]["subject"] == ["lunch"] and found[2]["from"] == ["Jörg <j@example.test>"]  # RFC 2047 decoded

    with_store(body)


def test_uid_lookups_with_many_runs_give_only_the_uids_asked(with_store):
    async def body(store):
        account = await make_account(store)
        inbox = await inbox_of(store, account)
        blob = await store.blobs.put(MESSAGE)
        await store.mailboxes.append_all(inbox.id, [NewCopy(blob, frozenset(), NOW) for _ in range(1000)])
        odd = list(range(1, 1001, 2))  # 500 runs: more than one lookup per run is worth
        assert [m.uid for m in await store.mailboxes.messages(inbox.id, odd)] == odd
        assert [uid for uid, _ in await store.mailboxes.flags(inbox.id, odd)] == odd

    with_store(body)
