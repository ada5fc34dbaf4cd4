"""LIST with SPECIAL-USE (RFC 6154) and LIST-STATUS (RFC 5819), mailbox names in modified UTF-7 and
UTF-8 (RFC 3501 §5.1.3, RFC 6855 §3), IMAP4rev2 and LSUB (RFC 3501 §6.3.9). Each test logs in as an
account of its own (list_client.py)."""

from __future__ import annotations

from tests.imap.list_client import (
    Client, DEFAULTS, connect, create_without_superiors, lines,
)


# --- SPECIAL-USE ---------------------------------------------------------------------------------------

def test_special_use_attributes_and_options(mail_server):
    c = connect(mail_server)
    try:
        c.create("ToDo", "Projects/Plans")
        c.ok("CREATE MyDrafts (USE (\\Drafts))")
        c.ok("CREATE Projects/Old (USE (\\Archive))")
        # RFC 6154 §5.1: the attributes come with the plain LIST too.
        assert c.ok('LIST "" "%"') == lines(
            'LIST (\\HasNoChildren) "/" INBOX',
            'LIST (\\HasNoChildren \\Archive) "/" Archive',
            'LIST (\\HasNoChildren \\Drafts) "/" Drafts',
            'LIST (\\HasNoChildren \\Junk) "/" Junk',
            'LIST (\\HasNoChildren \\Drafts) "/" MyDrafts',
            'LIST (\\HasChildren) "/" Projects',
            'LIST (\\HasNoChildren \\Sent) "/" Sent',
            'LIST (\\HasNoChildren) "/" ToDo',
            'LIST (\\HasNoChildren \\Trash) "/" Trash',
        )
        # RFC 6154 §5.2: the return option asks for them explicitly.
        assert c.ok('LIST "" "%" RETURN (SPECIAL-USE)') == c.ok('LIST "" "%"')
        # The selection option lists only mailboxes with a special use, at any depth with "*".
        assert c.ok('LIST (SPECIAL-USE) "" "*"') == lines(
            'LIST (\\HasNoChildren \\Archive) "/" Archive',
            'LIST (\\HasNoChildren \\Drafts) "/" Drafts',
            'LIST (\\HasNoChildren \\Junk) "/" Junk',
            'LIST (\\HasNoChildren \\Drafts) "/" MyDrafts',
            'LIST (\\HasNoChildren \\Archive) "/" Projects/Old',
            'LIST (\\HasNoChildren \\Sent) "/" Sent',
            'LIST (\\HasNoChildren \\Trash) "/" Trash',
        )
        assert c.ok('LIST (SPECIAL-USE) "" "Projects/%"') == lines(
            'LIST (\\HasNoChildren \\Archive) "/" Projects/Old')
        # RFC 5258 §3: selection options are cumulative.
        c.unsubscribe("Junk", "MyDrafts")
        assert c.ok('LIST (SPECIAL-USE SUBSCRIBED) "" "*"') == lines(
            'LIST (\\HasNoChildren \\Subscribed \\Archive) "/" Archive',
            'LIST (\\HasNoChildren \\Subscribed \\Drafts) "/" Drafts',
            'LIST (\\HasNoChildren \\Subscribed \\Archive) "/" Projects/Old',
            'LIST (\\HasNoChildren \\Subscribed \\Sent) "/" Sent',
            'LIST (\\HasNoChildren \\Subscribed \\Trash) "/" Trash',
        )
    finally:
        c.close()


# --- LIST-STATUS -----------------------------------------------------------------------------------

def _append(c: Client, mailbox: str, flags: str, body: bytes) -> None:
    c.raw.send(b"ap APPEND %s (%s) {%d+}\r\n%s\r\n" % (mailbox.encode(), flags.encode(), len(body), body))
    assert c.raw.until(b"ap ")[-1].startswith(b"ap OK")


def test_list_status(mail_server):
    c = connect(mail_server)
    try:
        c.create("foo")
        create_without_superiors(mail_server, c.login_name, "bar/baz")
        for flags in ("\\Seen", "", ""):
            _append(c, "INBOX", flags, b"Subject: hi\r\n\r\nhello\r\n")
        _append(c, "foo", "", b"Subject: a\r\n\r\nA\r\n")
        _append(c, "foo", "\\Seen", b"Subject: b\r\n\r\nB\r\n")
        # RFC 5819 §3 example A01: each selectable mailbox's LIST is followed by its STATUS; "bar"
        # cannot be selected, so it has none.
        assert c.ok('LIST "" % RETURN (STATUS (MESSAGES UNSEEN))') == lines(
            'LIST (\\HasNoChildren) "/" INBOX',
            'STATUS INBOX (MESSAGES 3 UNSEEN 2)',
            'LIST (\\HasNoChildren \\Archive) "/" Archive',
            'STATUS Archive (MESSAGES 0 UNSEEN 0)',
            'LIST (\\HasNoChildren \\Drafts) "/" Drafts',
            'STATUS Drafts (MESSAGES 0 UNSEEN 0)',
            'LIST (\\HasNoChildren \\Junk) "/" Junk',
            'STATUS Junk (MESSAGES 0 UNSEEN 0)',
            'LIST (\\HasNoChildren \\Sent) "/" Sent',
            'STATUS Sent (MESSAGES 0 UNSEEN 0)',
            'LIST (\\HasNoChildren \\Trash) "/" Trash',
            'STATUS Trash (MESSAGES 0 UNSEEN 0)',
            'LIST (\\NonExistent \\HasChildren) "/" bar',
            'LIST (\\HasNoChildren) "/" foo',
            'STATUS foo (MESSAGES 2 UNSEEN 1)',
        )
        # The values are those of the STATUS command.
        (status,) = c.ok("STATUS foo (MESSAGES UIDNEXT UIDVALIDITY SIZE)")
        assert c.ok('LIST "" foo RETURN (STATUS (MESSAGES UIDNEXT UIDVALIDITY SIZE))') == [
            b'* LIST (\\HasNoChildren) "/" foo', status]
        # Example A02: "foo" is listed for its subscribed child, but does not meet the selection
        # criteria itself, so it has no STATUS.
        c.create("foo/child")
        c.unsubscribe(*DEFAULTS, "foo")
        assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (STATUS (MESSAGES))') == lines(
            'LIST (\\HasNoChildren \\Subscribed) "/" INBOX',
            'STATUS INBOX (MESSAGES 3)',
            'LIST (\\NonExistent \\HasChildren) "/" bar ("CHILDINFO" ("SUBSCRIBED"))',
            'LIST (\\HasChildren) "/" foo ("CHILDINFO" ("SUBSCRIBED"))',
        )
        # The selected mailbox has its STATUS too.
        c.ok("SELECT foo")
        assert c.ok('LIST "" foo RETURN (STATUS (MESSAGES))') == lines(
            'LIST (\\HasChildren) "/" foo', 'STATUS foo (MESSAGES 2)')
    finally:
        c.close()


def test_list_status_takes_the_items_status_takes(mail_server):
    c = connect(mail_server)
    try:
        for item in ("MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "SIZE", "RECENT", "DELETED", "HIGHESTMODSEQ"):
            status = c.run(f"STATUS INBOX ({item})")[1].split()[0]
            listed, done = c.run(f'LIST "" INBOX RETURN (STATUS ({item}))')
            assert done.split()[0] == status, item
            if status == b"OK":
                assert listed[1].startswith(b"* STATUS INBOX (" + item.encode() + b" "), item
            else:
                assert listed == [], item  # refused before anything is listed
    finally:
        c.close()


# --- names beyond ASCII ----------------------------------------------------------------------------

def test_modified_utf7_names_for_rev1_clients(mail_server):
    c = connect(mail_server)
    try:
        # RFC 3501 §5.1.3: "Café/Größe" and "日本語" as a rev1 client spells them.
        c.ok("CREATE Caf&AOk-/Gr&APYA3w-e")
        c.ok("CREATE &ZeVnLIqe-")
        assert c.ok('LIST "" Caf&AOk-*') == lines('LIST (\\HasChildren) "/" Caf&AOk-',
                                                   'LIST (\\HasNoChildren) "/" Caf&AOk-/Gr&APYA3w-e')
        assert lines('LIST (\\HasNoChildren) "/" &ZeVnLIqe-') == [
            line for line in c.ok('LIST "" %') if b"&ZeVn" in line]
        assert c.ok('LIST "" (&ZeVnLIqe- Caf&AOk-/%) RETURN (STATUS (MESSAGES))') == lines(
            'LIST (\\HasNoChildren) "/" Caf&AOk-/Gr&APYA3w-e',
            'STATUS Caf&AOk-/Gr&APYA3w-e (MESSAGES 0)',
            'LIST (\\HasNoChildren) "/" &ZeVnLIqe-',
            'STATUS &ZeVnLIqe- (MESSAGES 0)',
        )
        c.unsubscribe("Caf&AOk-")
        assert c.ok('LSUB "" Caf&AOk-%') == lines('LSUB (\\Noselect) "/" Caf&AOk-')
    finally:
        c.close()


def test_utf8_names_after_enable(mail_server):
    c = connect(mail_server)
    try:
        c.ok("CREATE Caf&AOk-/Gr&APYA3w-e")
        c.unsubscribe("Caf&AOk-")
        # RFC 6855 §3: after ENABLE UTF8=ACCEPT the names come (and go) as UTF-8 quoted strings.
        assert c.ok("ENABLE UTF8=ACCEPT") == lines("ENABLED UTF8=ACCEPT")
        assert c.ok('LIST "" "Caf\u00e9*"'.encode()) == [
            b'* LIST (\\HasChildren) "/" "Caf\xc3\xa9"',
            b'* LIST (\\HasNoChildren) "/" "Caf\xc3\xa9/Gr\xc3\xb6\xc3\x9fe"',
        ]
        assert c.ok('LIST "" "Caf\u00e9/%" RETURN (STATUS (UNSEEN))'.encode()) == [
            b'* LIST (\\HasNoChildren) "/" "Caf\xc3\xa9/Gr\xc3\xb6\xc3\x9fe"',
            b'* STATUS "Caf\xc3\xa9/Gr\xc3\xb6\xc3\x9fe" (UNSEEN 0)',
        ]
        assert c.ok('LSUB "" "C%"') == [b'* LSUB (\\Noselect) "/" "Caf\xc3\xa9"']
        assert c.ok('LSUB "" "C*"') == [b'* LSUB () "/" "Caf\xc3\xa9/Gr\xc3\xb6\xc3\x9fe"']
    finally:
        c.close()


# --- IMAP4rev2 and LSUB --------------------------------------------------------------------------------

def test_rev2_session(mail_server):
    c = connect(mail_server)
    try:
        create_without_superiors(mail_server, c.login_name, "music/rock")
        assert c.ok("ENABLE IMAP4rev2") == lines("ENABLED IMAP4rev2")
        # RFC 9051 §7.3.1: a level that does not exist is \NonExistent for a rev2 client.
        assert [line for line in c.ok('LIST "" %') if line.endswith(b" music")] == lines(
            'LIST (\\NonExistent \\HasChildren) "/" music')
        # RFC 9051 §6.3.11: DELETED is a STATUS item of IMAP4rev2, in LIST-STATUS too.
        _append(c, "Sent", "\\Deleted", b"Subject: gone\r\n\r\nbye\r\n")
        assert c.ok('LIST "" Sent RETURN (STATUS (MESSAGES DELETED))') == lines(
            'LIST (\\HasNoChildren \\Sent) "/" Sent', 'STATUS Sent (MESSAGES 1 DELETED 1)')
        # RFC 9051 Appendix E item 19: LSUB is deprecated, and still answered.
        assert c.ok('LSUB "" S*') == lines('LSUB () "/" Sent')
    finally:
        c.close()


def test_lsub(mail_server):
    c = connect(mail_server)
    try:
        c.create("News/Local", "News/World")
        c.unsubscribe("News", "News/World", *DEFAULTS)
        # RFC 3501 §6.3.9: with "%", an unsubscribed superior of a subscribed name is \Noselect.
        assert c.ok('LSUB "" %') == lines('LSUB () "/" INBOX', 'LSUB (\\Noselect) "/" News')
        assert c.ok('LSUB "" *') == lines('LSUB () "/" INBOX', 'LSUB () "/" News/Local')
        assert c.ok('LSUB News/ %') == lines('LSUB () "/" News/Local')
        assert c.ok('LSUB "" inbox') == lines('LSUB () "/" INBOX')
        assert c.ok('LSUB "" ""') == lines('LSUB (\\Noselect) "/" ""')
        c.unsubscribe("News/Local")
        assert c.ok('LSUB "" N*') == []
    finally:
        c.close()
