"""LIST and LSUB end to end, over a raw socket (to see every response line in its order) and imaplib:
basic LIST (RFC 9051 §6.3.9, RFC 3501 §6.3.8), LIST-EXTENDED (RFC 5258, its §5 examples adapted to
this store), CHILDREN (RFC 5258 §4), LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154), LSUB (RFC 3501
§6.3.9), mailbox names in modified UTF-7 and UTF-8 (RFC 3501 §5.1.3, RFC 6855 §3).

Each test logs in as an account of its own, made with the default mailboxes (INBOX, Archive, Drafts,
Junk, Sent, Trash, all subscribed), so the listings are exactly the test's own."""

from __future__ import annotations

import asyncio
import imaplib
import itertools
import re
import time

from postoffice.auth.passwords import make_credentials
from postoffice.store.sqlite.store import SqliteStore
from tests.imap.test_session_flow import Raw

PASSWORD = "list-secret"
_users = itertools.count(1)
DEFAULTS = ("Archive", "Drafts", "Junk", "Sent", "Trash")


def new_user(server) -> str:
    """A new account on the running server, with the default mailboxes."""
    address = f"lister{next(_users)}@example.test"

    async def add() -> None:
        store = SqliteStore(server.data_dir)
        try:
            await store.directory.add_account(address, make_credentials(PASSWORD))
        finally:
            await store.aclose()

    asyncio.run(add())
    return address


def create_without_superiors(server, user: str, name: str) -> None:
    """A mailbox made straight in the store (as an import would), its superiors left missing."""

    async def create() -> None:
        store = SqliteStore(server.data_dir)
        try:
            account = await store.directory.find_account(user)
            await store.mailboxes.create(account.id, name)
        finally:
            await store.aclose()

    asyncio.run(create())


class Client:
    """A logged-in raw connection: `run` sends one command and returns its untagged lines and its
    completion (the tagged line without the tag)."""

    def __init__(self, server, user: str) -> None:
        self.raw = Raw(server)
        self.tags = itertools.count(1)
        self.login_name = user
        assert self.run(f"LOGIN {user} {PASSWORD}")[1].startswith(b"OK")

    def run(self, command: str | bytes) -> tuple[list[bytes], bytes]:
        tag = b"t%d" % next(self.tags)
        self.raw.send(tag + b" " + (command.encode() if isinstance(command, str) else command) + b"\r\n")
        lines = self.raw.until(tag + b" ")
        return lines[:-1], lines[-1][len(tag) + 1:]

    def ok(self, command: str | bytes) -> list[bytes]:
        lines, done = self.run(command)
        assert done.startswith(b"OK"), (command, done)
        return lines

    def bad(self, command: str | bytes) -> bytes:
        lines, done = self.run(command)
        assert done.startswith(b"BAD"), (command, lines, done)
        return done

    def create(self, *names: str) -> None:
        for name in names:
            self.ok(f'CREATE "{name}"')

    def unsubscribe(self, *names: str) -> None:
        for name in names:
            self.ok(f'UNSUBSCRIBE "{name}"')

    def close(self) -> None:
        self.raw.close()


def connect(server) -> Client:
    return Client(server, new_user(server))


def lines(*items: str) -> list[bytes]:
    """Expected response lines, written as the RFCs print them."""
    return [("* " + item).encode() for item in items]


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
