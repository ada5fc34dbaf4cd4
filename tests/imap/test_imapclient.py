"""IMAPClient (PyPI), a client many Python programs use, through the commands it offers: its own
parsing of our responses is the check, besides the values."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError

from tests.conftest import client_tls
from tests.imap.test_session_flow import PASSWORDS, deliver

USER = "carol@example.test"


@pytest.fixture
def client(mail_server):
    host, port = mail_server.listeners["imap"]
    c = IMAPClient(host, port, ssl=False, timeout=10)
    c.normalise_times = False
    c.login(USER, PASSWORDS[USER])
    yield c
    try:
        c.logout()
    except Exception:
        pass


def test_capabilities_id_namespace_and_enable(client):
    caps = client.capabilities()
    assert {b"IMAP4REV1", b"IMAP4REV2", b"IDLE", b"UIDPLUS", b"MOVE", b"ID", b"ENABLE"} <= set(caps)
    fields = client.id_({"name": "imapclient"})[0]
    assert dict(zip(fields[::2], fields[1::2]))[b"name"] == b"postoffice"  # RFC 2971 §3.3
    ns = client.namespace()  # RFC 2342 §5
    assert ns.personal == (("", "/"),) and ns.other is None and ns.shared is None
    assert client.enable("UTF8=ACCEPT", "CONDSTORE") == [b"UTF8=ACCEPT"]  # RFC 5161 §3.2


def test_folders_create_rename_subscribe_status_delete(client):
    client.create_folder("Projects/Alpha")
    assert client.folder_exists("Projects")  # RFC 9051 §6.3.4: superiors are created
    client.rename_folder("Projects/Alpha", "Projects/Beta")
    names = [name for _, _, name in client.list_folders()]
    assert "Projects/Beta" in names and "Projects/Alpha" not in names
    client.subscribe_folder("Projects/Beta")
    assert "Projects/Beta" in [name for _, _, name in client.list_sub_folders()]
    client.unsubscribe_folder("Projects/Beta")
    assert "Projects/Beta" not in [name for _, _, name in client.list_sub_folders()]
    status = client.folder_status("Projects/Beta", ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN"])
    assert status[b"MESSAGES"] == 0 and status[b"UIDNEXT"] == 1 and status[b"UIDVALIDITY"] > 0
    with pytest.raises(IMAPClientError):
        client.delete_folder("Projects")  # RFC 9051 §6.3.5: it has an inferior
    client.delete_folder("Projects/Beta")
    client.delete_folder("Projects")
    assert not client.folder_exists("Projects")
    # RFC 6154 §2: the special-use attributes find the folders.
    assert client.find_special_folder(b"\\Sent") == "Sent"
    assert client.find_special_folder(b"\\Trash") == "Trash"


def test_append_fetch_search_flags_copy_move_expunge(client):
    client.create_folder("Work")
    when = datetime(2025, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    msg = b"From: Dave <dave@remote.test>\r\nTo: carol@example.test\r\nSubject: Quarterly report\r\n" \
          b"Message-ID: <q1@remote.test>\r\nDate: Tue, 04 Mar 2025 05:06:07 +0000\r\n\r\nNumbers attached.\r\n"
    reply = client.append("Work", msg, flags=[b"\\Flagged"], msg_time=when)
    uid = int(re.match(rb"\[APPENDUID \d+ (\d+)\]", reply)[1])  # RFC 4315 §3
    client.multiappend("Work", [b"Subject: two\r\n\r\nb\r\n", b"Subject: three\r\n\r\nc\r\n"])  # RFC 3502
    info = client.select_folder("Work")
    assert info[b"EXISTS"] == 3 and info[b"UIDVALIDITY"] > 0
    data = client.fetch([uid], ["ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "BODY.PEEK[]", "BODYSTRUCTURE"])[uid]
    env = data[b"ENVELOPE"]
    assert env.subject == b"Quarterly report" and env.message_id == b"<q1@remote.test>"
    assert env.from_[0].mailbox == b"dave" and env.from_[0].host == b"remote.test" and env.from_[0].name == b"Dave"
    assert data[b"FLAGS"] == (b"\\Flagged",)
    assert data[b"INTERNALDATE"] == when
    assert data[b"RFC822.SIZE"] == len(msg) and data[b"BODY[]"] == msg
    assert data[b"BODYSTRUCTURE"][0].lower() == b"text" and data[b"BODYSTRUCTURE"][1].lower() == b"plain"
    assert client.search(["SUBJECT", "quarterly"]) == [uid]
    assert client.search(["FLAGGED"]) == [uid]
    assert client.search(["NOT", "FLAGGED"]) == [uid + 1, uid + 2]
    client.add_flags([uid + 1], [b"\\Seen", b"custom"])
    client.remove_flags([uid], [b"\\Flagged"])
    flags = client.get_flags([uid, uid + 1])
    assert flags[uid] == () and set(flags[uid + 1]) == {b"\\Seen", b"custom"}
    assert client.search(["KEYWORD", "custom"]) == [uid + 1]
    before = client.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"]
    client.copy([uid], "INBOX")
    assert client.folder_status("INBOX", ["MESSAGES"])[b"MESSAGES"] == before + 1
    client.move([uid + 2], "Trash")  # RFC 6851
    assert client.search("ALL") == [uid, uid + 1]
    client.delete_messages([uid])
    client.uid_expunge([uid])  # RFC 4315 §2.1
    assert client.search("ALL") == [uid + 1]
    client.unselect_folder()  # RFC 3691
    client.select_folder("Work", readonly=True)
    with pytest.raises(IMAPClientError):
        client.add_flags([uid + 1], [b"\\Deleted"])  # EXAMINE: read-only
    client.close_folder()


def test_idle_hears_a_delivery(mail_server, client):
    client.select_folder("INBOX")
    client.idle()  # RFC 2177
    deliver(mail_server, USER, "heard while idling")
    responses = client.idle_check(timeout=5)
    client.idle_done()
    assert any(r[1] == b"EXISTS" for r in responses)


def test_starttls_then_login(mail_server):
    host, port = mail_server.listeners["imap"]
    c = IMAPClient(host, port, ssl=False, timeout=10)
    c.starttls(client_tls())
    c.login(USER, PASSWORDS[USER])
    assert c.select_folder("INBOX")[b"EXISTS"] >= 0
    c.logout()


def test_implicit_tls(mail_server):
    host, port = mail_server.listeners["imaps"]
    c = IMAPClient(host, port, ssl=True, ssl_context=client_tls(), timeout=10)
    c.login(USER, PASSWORDS[USER])
    assert c.select_folder("INBOX")[b"UIDVALIDITY"] > 0
    c.logout()
