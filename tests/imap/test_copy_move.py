"""COPY, MOVE, their UID forms, UID EXPUNGE, APPENDUID and ENABLE end to end (imaplib and a raw
socket against the real server): RFC 9051 §6.4.7-§6.4.9, RFC 6851, RFC 4315, RFC 5161. Each test
has mailboxes of its own; messages come by APPEND."""

from __future__ import annotations

import imaplib
import re

import pytest

from tests.imap.test_session_flow import connect, logged_in, untagged

USER = "carol@example.test"


def message(subject: str) -> bytes:
    return f"From: carol@example.test\r\nSubject: {subject}\r\n\r\nBody of {subject}.\r\n".encode()


def fill(imap: imaplib.IMAP4, box: str, subjects: list[str], flags: str = "()") -> list[int]:
    """Creates `box`, appends one message per subject, returns their UIDs (from APPENDUID)."""
    assert imap.create(box)[0] == "OK"
    uids = []
    for subject in subjects:
        typ, data = imap.append(box, flags, None, message(subject))
        m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
        assert typ == "OK" and m, data
        uids.append(int(m.group(2)))
    return uids


def uidvalidity(imap: imaplib.IMAP4, box: str) -> int:
    typ, data = imap.status(box, "(UIDVALIDITY)")
    return int(re.search(rb"UIDVALIDITY (\d+)", data[0]).group(1))


def bodies(imap: imaplib.IMAP4, box: str) -> dict[int, tuple[bytes, bytes]]:
    """uid -> (BODY[], the rest of the FETCH line with FLAGS), read-only."""
    imap.select(box, readonly=True)
    typ, data = imap.uid("FETCH", "1:*", "(BODY.PEEK[] FLAGS)")
    assert typ == "OK"
    out = {}
    for item in data:
        if isinstance(item, tuple):
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            out[uid] = (item[1], item[0])
    for i, item in enumerate(data):
        if isinstance(item, tuple) and i + 1 < len(data) and isinstance(data[i + 1], bytes):
            uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
            out[uid] = (out[uid][0], item[0] + data[i + 1])
    imap.unselect() if hasattr(imap, "unselect") else imap.close()
    return out


def test_appenduid_names_the_new_message(mail_server):
    with connect(mail_server, USER) as imap:
        uids = fill(imap, "AppendUid", ["a1", "a2"])
        assert uids[1] > uids[0]
        typ, data = imap.append("AppendUid", None, None, message("a3"))
        # RFC 4315 §3: APPENDUID uidvalidity of the destination and the message's UID.
        m = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
        assert int(m.group(1)) == uidvalidity(imap, "AppendUid")
        imap.select("AppendUid")
        typ, data = imap.uid("SEARCH", None, 'SUBJECT "a3"')
        assert int(data[0]) == int(m.group(2))


def test_copy_keeps_bytes_and_flags_and_answers_copyuid(mail_server):
    with connect(mail_server, USER) as imap:
        src = fill(imap, "CopySrc", ["c1", "c2", "c3"], "(\\Flagged $Label)")
        imap.create("CopyDst")
        dst_validity = uidvalidity(imap, "CopyDst")
        imap.select("CopySrc")
        typ, data = imap.copy("1,3", "CopyDst")
        m = re.search(rb"\[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]", data[0])
        assert typ == "OK" and m, data
        # RFC 4315 §3: the destination's UIDVALIDITY, then source and destination UIDs by position.
        assert int(m.group(1)) == dst_validity
        assert m.group(2) == f"{src[0]},{src[2]}".encode()
        new = [int(x) for x in re.split(rb"[:,]", m.group(3))]
        new = list(range(new[0], new[1] + 1)) if b":" in m.group(3) else new
        assert len(new) == 2
        # COPY leaves the source alone (RFC 9051 §6.4.7).
        typ, data = imap.search(None, "ALL")
        assert data[0].split() == [b"1", b"2", b"3"]
        imap.close()
        source, copied = bodies(imap, "CopySrc"), bodies(imap, "CopyDst")
        assert sorted(copied) == new
        for s, d in zip([src[0], src[2]], new):
            assert copied[d][0] == source[s][0]  # the octets (FETCH BODY[])
            assert b"\\Flagged" in copied[d][1] and b"$Label" in copied[d][1]


def test_copy_to_a_missing_mailbox_and_of_nothing(mail_server):
    with connect(mail_server, USER) as imap:
        src = fill(imap, "CopyNone", ["n1"])
        imap.select("CopyNone")
        typ, data = imap.copy("1", "NoSuchBox")
        assert typ == "NO" and b"[TRYCREATE]" in data[0]  # RFC 9051 §6.4.7
        # RFC 9051 §6.4.9: a UID set that matches nothing is not an error.
        typ, data = imap.uid("COPY", str(src[0] + 100), "CopyNone")
        assert typ == "OK" and data == [None]  # no COPYUID, nothing copied
        imap.select("CopyNone")
        assert imap.search(None, "ALL")[1][0].split() == [b"1"]
        with pytest.raises(imaplib.IMAP4.error, match="Invalid message sequence"):
            imap.copy("5", "CopyNone")  # beyond the message count: BAD (RFC 9051 §9 seq-number)


def test_move_reports_copyuid_then_expunges_to_both_sessions(mail_server):
    with connect(mail_server, USER) as imap:
        src = fill(imap, "MoveSrc", ["m1", "m2", "m3", "m4"])
        imap.create("MoveDst")
        dst_validity = uidvalidity(imap, "MoveDst")
    other = connect(mail_server, USER)
    raw = logged_in(mail_server, USER)
    try:
        other.select("MoveSrc")
        raw.send(b"s SELECT MoveSrc\r\n")
        raw.until(b"s OK")
        raw.send(b"m MOVE 2:3 MoveDst\r\n")
        lines = raw.until(b"m ")
        # RFC 6851 §4.3: untagged OK [COPYUID], then EXPUNGEs (each number after the previous), then OK.
        m = re.fullmatch(rb"\* OK \[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\].*", lines[0])
        assert m and int(m.group(1)) == dst_validity and m.group(2) == f"{src[1]}:{src[2]}".encode()
        assert lines[1:3] == [b"* 2 EXPUNGE", b"* 2 EXPUNGE"]
        assert lines[-1].startswith(b"m OK") and len(lines) == 4
        # The moving session's view dropped them: two left, numbered 1 and 2.
        raw.send(b"f FETCH 1:* (UID)\r\n")
        lines = raw.until(b"f ")
        assert lines[:-1] == [f"* 1 FETCH (UID {src[0]})".encode(), f"* 2 FETCH (UID {src[3]})".encode()]
        # Another session hears the expunges at its next NOOP (RFC 9051 §7.5.1).
        other.untagged_responses.clear()
        other.noop()
        assert untagged(other, "EXPUNGE") == [b"2", b"2"]
        typ, data = other.uid("SEARCH", None, "ALL")
        assert [int(x) for x in data[0].split()] == [src[0], src[3]]
        other.close()
        moved = bodies(other, "MoveDst")
        assert [b[0] for b in moved.values()] == [message("m2"), message("m3")]
    finally:
        other.logout()
        raw.close()


def test_uid_move_and_read_only(mail_server):
    with connect(mail_server, USER) as imap:
        src = fill(imap, "UidMoveSrc", ["u1", "u2", "u3"])
        imap.create("UidMoveDst")
        imap.select("UidMoveSrc")
        typ, data = imap.uid("MOVE", f"{src[2]},{src[0]}", "UidMoveDst")
        assert typ == "OK"
        assert untagged(imap, "EXPUNGE") == [b"1", b"2"]  # UIDs ascending, numbers as they shift
        # RFC 6851 §4.3 / RFC 4315 §3: the source UIDs in ascending order.
        assert re.fullmatch(rb"\d+ %d,%d \d+:\d+" % (src[0], src[2]), untagged(imap, "COPYUID")[0])
        typ, data = imap.uid("SEARCH", None, "ALL")
        assert [int(x) for x in data[0].split()] == [src[1]]
        typ, data = imap.uid("MOVE", f"{src[2]}", "Nowhere")
        assert typ == "NO" and b"TRYCREATE" in data[0]
        imap.select("UidMoveSrc", readonly=True)
        typ, data = imap.uid("MOVE", f"{src[1]}", "UidMoveDst")
        assert typ == "NO" and b"READ-ONLY" in data[0]
        imap.select("UidMoveDst")
        typ, data = imap.search(None, "ALL")
        assert data[0].split() == [b"1", b"2"]


def test_uid_expunge_only_deleted_in_the_set(mail_server):
    with connect(mail_server, USER) as imap:
        src = fill(imap, "UidExp", ["e1", "e2", "e3", "e4"])
        imap.select("UidExp")
        imap.store("1:3", "+FLAGS.SILENT", "(\\Deleted)")
        # RFC 4315 §2.1: only \Deleted messages whose UIDs are in the set; e3 is \Deleted but outside.
        typ, data = imap.uid("EXPUNGE", f"{src[0]}:{src[1]},{src[3]}")
        assert typ == "OK"
        assert untagged(imap, "EXPUNGE") == [b"1", b"1"]
        typ, data = imap.uid("SEARCH", None, "ALL")
        assert [int(x) for x in data[0].split()] == [src[2], src[3]]
