"""Mailbox commands end to end (imaplib against the real server): CREATE, DELETE, RENAME,
SUBSCRIBE/UNSUBSCRIBE, LSUB, STATUS, NAMESPACE, APPEND. Each test has a user of its own."""

from __future__ import annotations

import imaplib
import re

import pytest

from tests.imap.test_session_flow import Raw, connect


def names(imap: imaplib.IMAP4, pattern: str = "*") -> dict[str, str]:
    typ, lines = imap.list('""', pattern)
    assert typ == "OK"
    out = {}
    for line in lines:
        if line is None:
            continue
        m = re.fullmatch(rb'\(([^)]*)\) "/" (.+)', line)
        out[m.group(2).decode().strip('"')] = m.group(1).decode()
    return out


def refused(call, *args) -> str:
    with pytest.raises(imaplib.IMAP4.error) as e:
        typ, data = call(*args)
        if typ != "OK":  # imaplib returns NO as a result for most commands
            raise imaplib.IMAP4.error(f"{typ} {data!r}")
    return str(e.value)


def test_capabilities_are_truthful(mail_server):
    with connect(mail_server, "alice@example.test") as imap:
        caps = set(imap.capabilities)
        assert {"NAMESPACE", "STATUS=SIZE", "CREATE-SPECIAL-USE"} <= caps
        assert {"UIDPLUS", "MOVE"} <= caps
        assert "CONDSTORE" not in caps and "QRESYNC" not in caps  # not implemented


def test_create_nested_list_rename_delete(mail_server):
    with connect(mail_server, "alice@example.test") as imap:
        # RFC 9051 §6.3.4: the missing superiors are created too.
        assert imap.create("Work/Projects/Alpha")[0] == "OK"
        listed = names(imap)
        assert "\\HasChildren" in listed["Work"] and "\\HasChildren" in listed["Work/Projects"]
        assert "\\HasNoChildren" in listed["Work/Projects/Alpha"]
        assert names(imap, "Work/%") == {"Work/Projects": "\\HasChildren"}
        # A trailing delimiter declares the name; it is created without it.
        assert imap.create("Lists/")[0] == "OK"
        assert "Lists" in names(imap) and "Lists/" not in names(imap)
        assert "ALREADYEXISTS" in refused(imap.create, "Work/Projects")
        assert "ALREADYEXISTS" in refused(imap.create, "inbox")  # RFC 9051 §5.1: INBOX in any case
        assert imap.create("inbox/Child")[0] == "OK"  # an inferior of INBOX, not of a new "inbox"
        assert "INBOX/Child" in names(imap) and "inbox" not in names(imap)
        # RFC 6154 §3: CREATE with USE.
        typ, _ = imap._simple_command("CREATE", "Outbox", "(USE (\\Sent))")
        assert typ == "OK" and "\\Sent" in names(imap, "Outbox")["Outbox"]

        # RFC 9051 §6.3.6: the inferiors move with the mailbox.
        assert imap.rename("Work", "Job")[0] == "OK"
        listed = names(imap)
        assert {"Job", "Job/Projects", "Job/Projects/Alpha"} <= set(listed)
        assert not any(n == "Work" or n.startswith("Work/") for n in listed)
        assert "ALREADYEXISTS" in refused(imap.rename, "Job/Projects", "Lists")
        assert "NONEXISTENT" in refused(imap.rename, "Nowhere", "Somewhere")
        assert imap.rename("Job/Projects/Alpha", "Archive2/Alpha")[0] == "OK"  # superiors made
        assert {"Archive2", "Archive2/Alpha"} <= set(names(imap))

        # RFC 9051 §6.3.5: INBOX cannot go; a mailbox with inferiors is refused with HASCHILDREN.
        assert "CANNOT" in refused(imap.delete, "INBOX")
        assert "HASCHILDREN" in refused(imap.delete, "Archive2")
        assert "NONEXISTENT" in refused(imap.delete, "Nowhere")
        assert imap.delete("Archive2/Alpha")[0] == "OK"
        assert imap.delete("Archive2")[0] == "OK"
        assert "Archive2" not in names(imap)


def test_rename_inbox_moves_its_messages(mail_server):
    with connect(mail_server, "bob@example.test") as imap:
        imap.create("INBOX/Child")
        for subject in ("one", "two"):
            msg = f"Subject: {subject}\r\n\r\nbody {subject}\r\n".encode()
            assert imap.append("INBOX", "(\\Flagged)", None, msg)[0] == "OK"
        before = int(imap.select("INBOX")[1][0])
        imap.close()
        assert imap.rename("INBOX", '"Old Inbox"')[0] == "OK"
        # RFC 9051 §6.3.6: INBOX stays, empty; its inferiors are unaffected.
        assert imap.select("INBOX")[1][0] == b"0"
        assert imap.select('"Old Inbox"')[1][0] == str(before).encode()
        assert b"\\Flagged" in imap.fetch("1", "(FLAGS)")[1][0]
        assert "INBOX/Child" in names(imap)
        imap.append("INBOX", None, None, b"Subject: three\r\n\r\n3\r\n")
        assert imap.rename("INBOX", "INBOX/Moved")[0] == "OK"  # an inferior of INBOX is fine
        assert imap.select("INBOX/Moved")[1][0] == b"1"
        # Deleting the selected mailbox closes it (RFC 9051 §7.1 CLOSED).
        typ, _ = imap.delete("INBOX/Moved")
        assert typ == "OK" and imap.untagged_responses.get("CLOSED") is not None
        assert "BAD" in refused(imap.fetch, "1", "(FLAGS)")


def test_subscribe_and_lsub(mail_server):
    with connect(mail_server, "carol@example.test") as imap:
        imap.create("Club/News")
        assert imap.subscribe("Club/News")[0] == "OK"
        typ, lines = imap.lsub('""', "*")
        assert typ == "OK" and b'() "/" Club/News' in lines
        # RFC 3501 §6.3.9: with "%", an unsubscribed superior comes back \Noselect.
        assert imap.unsubscribe("Club")[0] == "OK"
        top = imap.lsub('""', "%")[1]
        assert b'(\\Noselect) "/" Club' in top and b'() "/" INBOX' in top  # defaults are subscribed
        assert not any(b"Club/News" in line for line in top)
        assert imap.lsub('""', "Club/%")[1] == [b'() "/" Club/News']
        assert imap.unsubscribe("Club/News")[0] == "OK"
        assert imap.lsub('""', "Club*")[1] == [None]
        assert "NONEXISTENT" in refused(imap.subscribe, "Nowhere")


def test_status_and_namespace(mail_server):
    with connect(mail_server, "carol@example.test") as imap:
        imap.create("Stats")
        a, b = b"Subject: a\r\n\r\nA\r\n", b"Subject: bb\r\n\r\nBB\r\n"
        imap.append("Stats", "(\\Seen)", None, a)
        imap.append("Stats", None, None, b)
        typ, data = imap.status("Stats", "(MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT SIZE)")
        assert typ == "OK"
        m = re.fullmatch(rb"Stats \(MESSAGES 2 UIDNEXT (\d+) UIDVALIDITY (\d+) UNSEEN 1 RECENT 0 SIZE (\d+)\)", data[0])
        assert m and int(m.group(3)) == len(a) + len(b)  # RFC 8438
        imap.select("Stats")
        assert imap.untagged_responses["UIDVALIDITY"][-1] == m.group(2)
        assert imap.untagged_responses["UIDNEXT"][-1] == m.group(1)
        imap.close()
        assert "NONEXISTENT" in refused(imap.status, "Nowhere", "(MESSAGES)")
        typ, data = imap.namespace()  # RFC 2342 §5
        assert typ == "OK" and data == [b'(("" "/")) NIL NIL']


def test_status_refuses_unadvertised_items(mail_server):
    raw = Raw(mail_server)
    try:
        raw.send(b"a1 LOGIN carol@example.test carol-secret\r\n")
        assert raw.until(b"a1 ")[-1].startswith(b"a1 OK")
        raw.send(b"a2 STATUS INBOX (HIGHESTMODSEQ)\r\n")
        assert raw.until(b"a2 ")[-1].startswith(b"a2 BAD")
        raw.send(b"a3 STATUS INBOX (MESSAGES DELETED)\r\n")  # DELETED is IMAP4rev2's
        assert raw.until(b"a3 ")[-1].startswith(b"a3 BAD")
        raw.send(b"a4 ENABLE IMAP4rev2\r\na4 STATUS INBOX (MESSAGES DELETED)\r\n")
        raw.until(b"a4 OK ENABLE")
        assert raw.until(b"a4 ")[-2].startswith(b"* STATUS INBOX (MESSAGES ")  # RFC 9051 §6.3.11
        raw.send(b"a5 CREATE Foo (USE (\\All))\r\n")
        assert raw.until(b"a5 ")[-1].startswith(b"a5 NO [USEATTR]")  # RFC 6154 §3
    finally:
        raw.close()


def test_append_with_flags_and_date(mail_server):
    with connect(mail_server, "carol@example.test") as imap:
        imap.create("Kept")
        message = b"From: carol@example.test\r\nSubject: kept\r\n\r\nExact bytes.\r\n\xe9 8bit\r\n"
        date = '"05-Mar-2024 10:11:12 +0100"'
        typ, data = imap.append("Kept", "(\\Flagged $Important)", date, message)
        assert typ == "OK" and b"[APPENDUID " in data[0]  # RFC 4315 §3
        imap.select("Kept")
        typ, data = imap.fetch("1", "(BODY.PEEK[] FLAGS INTERNALDATE)")
        assert data[0][1] == message  # the octets, exactly (RFC 9051 §6.3.12)
        rest = data[0][0] + data[1]
        assert b"\\Flagged" in rest and b"$Important" in rest and b"\\Seen" not in rest
        assert b'INTERNALDATE " 5-Mar-2024 ' in rest
        # Appending to the selected mailbox: the new message is announced (RFC 9051 §6.3.12).
        imap.append("Kept", None, None, b"Subject: second\r\n\r\n.\r\n")
        assert imap.untagged_responses.get("EXISTS", [])[-1] == b"2"
        # RFC 9051 §6.3.12: a missing destination gets NO [TRYCREATE].
        assert "TRYCREATE" in refused(imap.append, "Missing", None, None, message)
