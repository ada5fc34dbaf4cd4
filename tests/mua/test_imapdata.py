"""Folder names and FETCH data as the client reads them from the wire."""

from __future__ import annotations

from postoffice.mua.imapdata import decode_mailbox, encode_mailbox, fetch_items, list_items, sequence_set
from tests.mua.conftest import deliver, find_uids, imap_login


def test_modified_utf7_as_in_rfc_3501():
    # RFC 3501 §5.1.3's example: "~peter/mail/台北/日本語".
    assert encode_mailbox("~peter/mail/台北/日本語") == "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
    assert decode_mailbox("~peter/mail/&U,BTFw-/&ZeVnLIqe-") == "~peter/mail/台北/日本語"
    assert encode_mailbox("Tom & Jerry") == "Tom &- Jerry" and decode_mailbox("Tom &- Jerry") == "Tom & Jerry"
    assert decode_mailbox("&Jjo-!") == "☺!"  # RFC 3501 §5.1.3: "&Jjo-!" is a smiley and "!"


def test_fetch_responses_spread_over_literals_are_put_back_together():
    # What imaplib hands back for `* 1 FETCH (UID 7 BODY[HEADER.FIELDS (SUBJECT)] {n} FLAGS (\Seen))`.
    data = [(b'1 (UID 7 BODY[HEADER.FIELDS (SUBJECT)] {15}', b"Subject: a)b\r\n"), b' FLAGS (\\Seen) RFC822.SIZE 42)',
            b'2 (UID 9 FLAGS () INTERNALDATE "17-Jul-1996 02:44:25 -0700" RFC822.SIZE 3 BODY[HEADER.FIELDS (SUBJECT)] NIL)']
    items = fetch_items(data)
    assert items[7]["BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: a)b\r\n"
    assert items[7]["FLAGS"] == ["\\Seen"] and items[7]["RFC822.SIZE"] == 42
    assert items[9]["INTERNALDATE"] == b"17-Jul-1996 02:44:25 -0700" and items[9]["FLAGS"] == []
    assert list_items([b'(\\HasNoChildren \\Sent) "/" "Sent Items"', (b'() "/" {5}', b'a"b\\c'), b""]) == [
        (["\\HasNoChildren", "\\Sent"], "/", "Sent Items"), ([], "/", 'a"b\\c')]
    assert sequence_set([9, 1, 2, 3, 7, 10]) == "1:3,7,9:10"


def test_folders_with_names_in_any_language(people, mail_server):
    carol = people["carol"]
    imap = imap_login(mail_server, carol.address)
    try:
        assert imap.create('"' + encode_mailbox("Reçus/日本語") + '"')[0] == "OK"
    finally:
        imap.logout()
    deliver(mail_server, carol.address, "Letter i1")
    uid = find_uids(mail_server, carol.address, "i1")[0]
    assert "Reçus/日本語" in carol.ok("mail", "folders").out
    carol.ok("mail", "move", str(uid), "Reçus/日本語")
    assert "Letter i1" in carol.ok("mail", "list", "--folder", "Reçus/日本語").out
    assert "Letter i1" not in carol.ok("mail", "list").out
    # Searching with non-ASCII text works too (RFC 6855 UTF8=ACCEPT, or CHARSET UTF-8).
    carol.ok("mail", "send", "--to", "carol@example.test", "--subject", "Crème brûlée i2", stdin="Délicieux.\n")
    find_uids(mail_server, carol.address, "i2")
    found = carol.ok("mail", "list", "--search", "subject:brûlée").out
    assert "Crème brûlée i2" in found and "Letter" not in found
    assert "Crème brûlée i2" in carol.ok("mail", "list", "--search", "délicieux").out


def test_mailbox_names_that_look_like_numbers_or_nil_stay_names():
    # RFC 9051 §9: mailbox is an astring; "007" is not the number 7, nor the atom NIL a null, and
    # "²" is no number at all.
    data = [b'() "/" 007', b'() "/" NIL', '() "/" ²'.encode(), b'() "/" 2024']
    assert [name for _, _, name in list_items(data)] == ["007", "NIL", "²", "2024"]
