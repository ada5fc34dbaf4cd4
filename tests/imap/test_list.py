"""LIST end to end, over a raw socket (to see every response line in its order) and imaplib: basic
LIST (RFC 9051 §6.3.9, RFC 3501 §6.3.8), LIST-EXTENDED (RFC 5258, its §5 examples adapted to this
store), CHILDREN (RFC 5258 §4). Each test logs in as an account of its own (list_client.py)."""

from __future__ import annotations

import imaplib
import re
import time

from tests.imap.list_client import (
    Client, DEFAULTS, PASSWORD, connect, create_without_superiors, lines, new_user,
)


# --- capabilities --------------------------------------------------------------------------------------

def test_list_extensions_are_advertised(mail_server):
    c = connect(mail_server)
    try:
        # RFC 5258 §1, RFC 5819 §1, RFC 6154 §2, RFC 3348 §2 (folded into RFC 5258 §4).
        caps = set(c.ok("CAPABILITY")[0].split()[2:])
        assert {b"LIST-EXTENDED", b"LIST-STATUS", b"SPECIAL-USE", b"CHILDREN"} <= caps
    finally:
        c.close()


# --- basic LIST ----------------------------------------------------------------------------------------

def test_wildcards_and_reference(mail_server):
    c = connect(mail_server)
    try:
        # RFC 5258 §5 example 1's hierarchy (its "inbox" is our INBOX, which comes first).
        c.create("Fruit/Apple", "Fruit/Banana", "Tofu", "Vegetable/Broccoli", "Vegetable/Corn")
        assert c.ok('LIST "" "*"') == lines(
            'LIST (\\HasNoChildren) "/" INBOX',
            'LIST (\\HasNoChildren \\Archive) "/" Archive',
            'LIST (\\HasNoChildren \\Drafts) "/" Drafts',
            'LIST (\\HasChildren) "/" Fruit',
            'LIST (\\HasNoChildren) "/" Fruit/Apple',
            'LIST (\\HasNoChildren) "/" Fruit/Banana',
            'LIST (\\HasNoChildren \\Junk) "/" Junk',
            'LIST (\\HasNoChildren \\Sent) "/" Sent',
            'LIST (\\HasNoChildren) "/" Tofu',
            'LIST (\\HasNoChildren \\Trash) "/" Trash',
            'LIST (\\HasChildren) "/" Vegetable',
            'LIST (\\HasNoChildren) "/" Vegetable/Broccoli',
            'LIST (\\HasNoChildren) "/" Vegetable/Corn',
        )
        # RFC 9051 §6.3.9: "%" does not match the hierarchy delimiter, "*" does.
        top = c.ok('LIST "" %')
        assert [line.rsplit(b" ", 1)[1] for line in top] == [
            b"INBOX", b"Archive", b"Drafts", b"Fruit", b"Junk", b"Sent", b"Tofu", b"Trash", b"Vegetable"]
        assert c.ok('LIST "" Fruit/%') == lines('LIST (\\HasNoChildren) "/" Fruit/Apple',
                                                'LIST (\\HasNoChildren) "/" Fruit/Banana')
        assert c.ok('LIST "" %/%') == c.ok('LIST "" */*')
        assert c.ok('LIST "" "*/B*"') == lines('LIST (\\HasNoChildren) "/" Fruit/Banana',
                                                'LIST (\\HasNoChildren) "/" Vegetable/Broccoli')
        assert [line.rsplit(b" ", 1)[1] for line in c.ok('LIST "" T%')] == [b"Tofu", b"Trash"]
        assert c.ok('LIST "" Fruit') == lines('LIST (\\HasChildren) "/" Fruit')
        assert c.ok('LIST "" Nothing*') == []
        # RFC 9051 §6.3.9 table 1: the reference is prefixed to the pattern ("archive/" "%").
        assert c.ok('LIST Vegetable/ %') == lines('LIST (\\HasNoChildren) "/" Vegetable/Broccoli',
                                                  'LIST (\\HasNoChildren) "/" Vegetable/Corn')
        assert c.ok('LIST Vegetable/ C*') == lines('LIST (\\HasNoChildren) "/" Vegetable/Corn')
    finally:
        c.close()


def test_imaplib_lists_the_folder_tree(mail_server):
    user = new_user(mail_server)
    host, port = mail_server.listeners["imap"]
    with imaplib.IMAP4(host, port) as imap:
        imap.login(user, PASSWORD)
        imap.create("Projects/2024")
        typ, data = imap.list('""', "*")
        assert typ == "OK"
        found = {}
        for line in data:
            m = re.fullmatch(rb'\(([^)]*)\) "/" (.+)', line)
            found[m.group(2).decode()] = m.group(1).decode().split()
        assert found["Projects"] == ["\\HasChildren"] and found["Projects/2024"] == ["\\HasNoChildren"]
        assert found["Sent"] == ["\\HasNoChildren", "\\Sent"]  # RFC 6154 §2: in every LIST
        typ, data = imap.list('""', "%")
        assert typ == "OK" and not any(b"Projects/2024" in line for line in data)


def test_inbox_is_matched_in_any_case(mail_server):
    c = connect(mail_server)
    try:
        c.create("INBOX/Receipts")
        inbox = lines('LIST (\\HasChildren) "/" INBOX')
        # RFC 9051 §6.3.9: INBOX is listed when the upper-case "INBOX" matches the pattern.
        assert c.ok('LIST "" inbox') == inbox
        assert c.ok('LIST "" InBoX') == inbox
        assert c.ok('LIST "" in%') == inbox
        # RFC 9051 §5.1: INBOX is case-insensitive, so its inferiors are reached through any case.
        receipts = lines('LIST (\\HasNoChildren) "/" INBOX/Receipts')
        assert c.ok('LIST "" inbox/%') == receipts
        assert c.ok('LIST Inbox/ *') == receipts
        assert c.ok('LIST "" INBOX*') == inbox + receipts
    finally:
        c.close()


def test_empty_pattern_asks_for_the_delimiter(mail_server):
    c = connect(mail_server)
    try:
        # RFC 9051 §6.3.9 example A101, RFC 3501 §6.3.8.
        assert c.ok('LIST "" ""') == lines('LIST (\\Noselect) "/" ""')
        assert c.ok('LIST Sent ""') == lines('LIST (\\Noselect) "/" ""')  # the root of a non-rooted name is ""
        # RFC 5258 §3: in the extended syntax an empty pattern is not special, it is ignored.
        assert c.ok('LIST () "" ""') == []
        assert c.ok('LIST "" ("" INBOX)') == lines('LIST (\\HasNoChildren) "/" INBOX')
        assert c.ok('LIST "" "" RETURN ()') == []
    finally:
        c.close()


def test_several_patterns(mail_server):
    c = connect(mail_server)
    try:
        # RFC 5258 §5 example 7.
        c.create("Sent/March2004", "Sent/December2003", "Sent/August2004")
        assert c.ok('LIST "" ("INBOX" "Drafts" "Sent/%")') == lines(
            'LIST (\\HasNoChildren) "/" INBOX',
            'LIST (\\HasNoChildren \\Drafts) "/" Drafts',
            'LIST (\\HasNoChildren) "/" Sent/August2004',
            'LIST (\\HasNoChildren) "/" Sent/December2003',
            'LIST (\\HasNoChildren) "/" Sent/March2004',
        )
        # RFC 5258 §3: a name matching several patterns is listed once.
        assert c.ok('LIST "" (Sent/* *2004 Sent/March2004)') == lines(
            'LIST (\\HasNoChildren) "/" Sent/August2004',
            'LIST (\\HasNoChildren) "/" Sent/December2003',
            'LIST (\\HasNoChildren) "/" Sent/March2004',
        )
    finally:
        c.close()


def test_wildcard_heavy_patterns_answer_at_once(mail_server):
    c = connect(mail_server)
    try:
        c.create("a" * 200, "b" * 100 + "/" + "a" * 100)
        # A backtracking matcher would take hours over these; the server answers in well under the
        # socket's 10 s timeout.
        started = time.monotonic()
        assert c.ok('LIST "" "' + "%" * 60 + 'q"') == []
        assert c.ok('LIST "" "' + "*a" * 40 + 'q"') == []
        assert c.ok('LSUB "" "' + "%*" * 40 + 'q"') == []
        assert time.monotonic() - started < 5
    finally:
        c.close()


def test_a_pattern_of_a_million_wildcards_costs_what_one_does(mail_server):
    # RFC 9051 §6.3.9: a pattern may come as a literal, as long as the literal limit; a run of
    # wildcards matches what one wildcard does, and must not cost a position per character.
    c = connect(mail_server)
    try:
        pattern = b"%" * 500_000 + b"*" * 500_000 + b"q"
        started = time.monotonic()
        assert c.ok(b'LIST "" {%d+}\r\n' % len(pattern) + pattern) == []
        assert c.ok(b'LIST "" ({%d+}\r\n' % len(pattern) + pattern + b' "Arch%%%ve")') == [
            b'* LIST (\\HasNoChildren \\Archive) "/" Archive']
        assert time.monotonic() - started < 5
    finally:
        c.close()


# --- LIST-EXTENDED ---------------------------------------------------------------------------------

def _fruit_and_vegetables(c: Client) -> None:
    """RFC 5258 §5 examples 1-2: subscribed are inbox, Fruit/Banana, Vegetable, Vegetable/Broccoli."""
    c.create("Fruit/Apple", "Fruit/Banana", "Tofu", "Vegetable/Broccoli", "Vegetable/Corn")
    c.unsubscribe(*DEFAULTS, "Fruit", "Fruit/Apple", "Tofu", "Vegetable/Corn")


def test_subscribed_selection_and_return_options(mail_server):
    c = connect(mail_server)
    try:
        _fruit_and_vegetables(c)
        subscribed = lines(
            'LIST (\\HasNoChildren \\Subscribed) "/" INBOX',
            'LIST (\\HasNoChildren \\Subscribed) "/" Fruit/Banana',
            'LIST (\\HasChildren \\Subscribed) "/" Vegetable',
            'LIST (\\HasNoChildren \\Subscribed) "/" Vegetable/Broccoli',
        )
        # RFC 5258 §5 example 2 (without "Fruit/Peach": a subscription here needs the mailbox).
        assert c.ok('LIST (SUBSCRIBED) "" "*"') == subscribed
        # Example 5: REMOTE changes nothing without remote mailboxes (RFC 5258 §3.1).
        assert c.ok('LIST (REMOTE SUBSCRIBED) "" "*"') == subscribed
        assert c.ok('LIST (subscribed subscribed) "" "*"') == subscribed  # §3: an option given twice counts once
        # Example 6: every mailbox, with its subscription state.
        assert c.ok('LIST (REMOTE) "" "*" RETURN (SUBSCRIBED)') == lines(
            'LIST (\\HasNoChildren \\Subscribed) "/" INBOX',
            'LIST (\\HasNoChildren \\Archive) "/" Archive',
            'LIST (\\HasNoChildren \\Drafts) "/" Drafts',
            'LIST (\\HasChildren) "/" Fruit',
            'LIST (\\HasNoChildren) "/" Fruit/Apple',
            'LIST (\\HasNoChildren \\Subscribed) "/" Fruit/Banana',
            'LIST (\\HasNoChildren \\Junk) "/" Junk',
            'LIST (\\HasNoChildren \\Sent) "/" Sent',
            'LIST (\\HasNoChildren) "/" Tofu',
            'LIST (\\HasNoChildren \\Trash) "/" Trash',
            'LIST (\\HasChildren \\Subscribed) "/" Vegetable',
            'LIST (\\HasNoChildren \\Subscribed) "/" Vegetable/Broccoli',
            'LIST (\\HasNoChildren) "/" Vegetable/Corn',
        )
        # Example 3: CHILDREN tells which top-level mailboxes have inferiors.
        assert c.ok('LIST () "" "%" RETURN (CHILDREN)') == lines(
            'LIST (\\HasNoChildren) "/" INBOX',
            'LIST (\\HasNoChildren \\Archive) "/" Archive',
            'LIST (\\HasNoChildren \\Drafts) "/" Drafts',
            'LIST (\\HasChildren) "/" Fruit',
            'LIST (\\HasNoChildren \\Junk) "/" Junk',
            'LIST (\\HasNoChildren \\Sent) "/" Sent',
            'LIST (\\HasNoChildren) "/" Tofu',
            'LIST (\\HasNoChildren \\Trash) "/" Trash',
            'LIST (\\HasChildren) "/" Vegetable',
        )
        # LSUB (RFC 3501 §6.3.9) names the same mailboxes as LIST (SUBSCRIBED).
        assert [line.rsplit(b" ", 1)[1] for line in c.ok('LSUB "" "*"')] == [
            b"INBOX", b"Fruit/Banana", b"Vegetable", b"Vegetable/Broccoli"]
    finally:
        c.close()


def test_recursivematch_reports_subscribed_children(mail_server):
    c = connect(mail_server)
    try:
        # RFC 5258 §5 example 8.
        c.create("Foo/Bar", "Foo/Baz", "Moo")
        c.unsubscribe("INBOX", *DEFAULTS, "Foo", "Foo/Bar", "Moo")
        # A) only Foo/Baz is subscribed.
        assert c.ok('LIST (SUBSCRIBED) "" "*"') == lines('LIST (\\HasNoChildren \\Subscribed) "/" Foo/Baz')
        assert c.ok('LIST (SUBSCRIBED) "" "%"') == []
        assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"') == lines(
            'LIST (\\HasChildren) "/" Foo ("CHILDINFO" ("SUBSCRIBED"))')
        # A1) Foo subscribed too.
        c.ok("SUBSCRIBE Foo")
        assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"') == lines(
            'LIST (\\HasChildren \\Subscribed) "/" Foo ("CHILDINFO" ("SUBSCRIBED"))')
        # B) nothing subscribed: no responses, though Foo has children.
        c.unsubscribe("Foo", "Foo/Baz")
        assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"') == []
        # C) Foo and Moo subscribed: Foo has children, none of them subscribed.
        c.ok("SUBSCRIBE Foo")
        c.ok("SUBSCRIBE Moo")
        assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)') == lines(
            'LIST (\\HasChildren \\Subscribed) "/" Foo',
            'LIST (\\HasNoChildren \\Subscribed) "/" Moo',
        )
        # RFC 5258 §3.5: CHILDINFO only with RECURSIVEMATCH, never in a plain LIST.
        assert not any(b"CHILDINFO" in line for line in c.ok('LIST (SUBSCRIBED) "" "*"') + c.ok('LIST "" "*"'))
    finally:
        c.close()


def test_childinfo_whether_or_not_the_child_matches(mail_server):
    c = connect(mail_server)
    try:
        # RFC 5258 §5 example 9 ("qux2" exists here: CREATE makes superiors).
        c.create("foo2/bar1", "foo2/bar2", "baz2/bar2", "baz2/bar22", "baz2/bar222", "eps2/mamba", "qux2/bar2")
        c.unsubscribe("INBOX", *DEFAULTS, "foo2", "baz2", "qux2")
        assert c.ok('LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2"') == lines(
            'LIST (\\HasNoChildren \\Subscribed) "/" baz2/bar2',
            'LIST (\\HasNoChildren \\Subscribed) "/" baz2/bar22',
            'LIST (\\HasNoChildren \\Subscribed) "/" baz2/bar222',
            'LIST (\\HasChildren \\Subscribed) "/" eps2 ("CHILDINFO" ("SUBSCRIBED"))',
            'LIST (\\HasChildren) "/" foo2 ("CHILDINFO" ("SUBSCRIBED"))',
            'LIST (\\HasNoChildren \\Subscribed) "/" foo2/bar2',
            'LIST (\\HasNoChildren \\Subscribed) "/" qux2/bar2',
        )
        # With "*" every subscribed child is listed itself, so the unsubscribed parents are not
        # (RFC 5258 §3.5: redundant CHILDINFO responses are suppressed); eps2 keeps its CHILDINFO.
        assert c.ok('LIST (RECURSIVEMATCH SUBSCRIBED) "" "*"') == lines(
            'LIST (\\HasNoChildren \\Subscribed) "/" baz2/bar2',
            'LIST (\\HasNoChildren \\Subscribed) "/" baz2/bar22',
            'LIST (\\HasNoChildren \\Subscribed) "/" baz2/bar222',
            'LIST (\\HasChildren \\Subscribed) "/" eps2 ("CHILDINFO" ("SUBSCRIBED"))',
            'LIST (\\HasNoChildren \\Subscribed) "/" eps2/mamba',
            'LIST (\\HasNoChildren \\Subscribed) "/" foo2/bar1',
            'LIST (\\HasNoChildren \\Subscribed) "/" foo2/bar2',
            'LIST (\\HasNoChildren \\Subscribed) "/" qux2/bar2',
        )
        # RFC 5258 §5 example 10: CHILDINFO does not depend on the child matching the pattern.
        c.create("foo/bar")
        c.unsubscribe("foo")
        assert c.ok('LIST "" ("foo" "foo/*")') == lines('LIST (\\HasChildren) "/" foo',
                                                       'LIST (\\HasNoChildren) "/" foo/bar')
        assert c.ok('LIST (SUBSCRIBED) "" "foo/*"') == lines('LIST (\\HasNoChildren \\Subscribed) "/" foo/bar')
        assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" foo RETURN (CHILDREN)') == lines(
            'LIST (\\HasChildren) "/" foo ("CHILDINFO" ("SUBSCRIBED"))')
    finally:
        c.close()


def test_missing_hierarchy_level(mail_server):
    c = connect(mail_server)
    try:
        create_without_superiors(mail_server, c.login_name, "music/rock")
        # RFC 5258 §5 example 11: "music" does not exist but "%" reaches it, not its child.
        assert lines('LIST (\\NonExistent \\HasChildren) "/" music') == [
            line for line in c.ok('LIST () "" %') if line.endswith(b" music")]
        # RFC 3501 §6.3.8: a rev1 client's basic LIST says \Noselect for such a level.
        assert lines('LIST (\\Noselect \\HasChildren) "/" music') == [
            line for line in c.ok('LIST "" %') if line.endswith(b" music")]
        # With "*" or with the child among the patterns, the child stands for itself.
        assert [line for line in c.ok('LIST "" *') if b"music" in line] == lines(
            'LIST (\\HasNoChildren) "/" music/rock')
        assert c.ok('LIST "" (% music/rock)')[-1:] == lines('LIST (\\HasNoChildren) "/" music/rock')
        assert not any(line.endswith(b" music") for line in c.ok('LIST "" (% music/rock)'))
        # RFC 5258 §3.5 table: not existing, not subscribed, a subscribed child.
        assert c.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" m%') == lines(
            'LIST (\\NonExistent \\HasChildren) "/" music ("CHILDINFO" ("SUBSCRIBED"))')
        assert c.ok('LIST (SUBSCRIBED) "" m%') == []
        # It cannot be selected; once created it is an ordinary mailbox.
        assert c.run("SELECT music")[1].startswith(b"NO")
        c.create("music")
        assert c.ok('LIST "" m%') == lines('LIST (\\HasChildren) "/" music')
    finally:
        c.close()


def test_invalid_options_are_refused(mail_server):
    c = connect(mail_server)
    try:
        # RFC 5258 §3.1: RECURSIVEMATCH alone, or only with REMOTE, is BAD.
        c.bad('LIST (RECURSIVEMATCH) "" "*"')
        c.bad('LIST (REMOTE RECURSIVEMATCH) "" "*"')
        # RFC 5258 §3: an option the server does not know is BAD.
        c.bad('LIST (NEWEST) "" "*"')
        c.bad('LIST "" "*" RETURN (EVERYTHING)')
        # RFC 5819 §2: STATUS takes STATUS items.
        c.bad('LIST "" "*" RETURN (STATUS (BIGGEST))')
        c.bad('LIST "" "*" RETURN (STATUS ())')
        # The session goes on.
        assert c.ok('LIST "" INBOX') == lines('LIST (\\HasNoChildren) "/" INBOX')
    finally:
        c.close()
