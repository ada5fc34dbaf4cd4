"""The examples of RFC 9051 §6.1-§6.3 (any state, not authenticated, authenticated), sent to the
real server over a raw socket: the same kinds of response, status and codes as the "S:" lines,
values right for the test's data (see rfc_examples.py)."""

from __future__ import annotations

import re
import unicodedata

from tests.conftest import client_tls
from tests.imap.test_session_flow import deliver
from tests.imap.rfc_examples import (
    Client, PASSWORD, SYSTEM_FLAGS, append, expand, flags, list_line, listed, literal_of, login, message,
    new_account, number, one, plain, starttls, status, uid_of,
)


# --- §6.1 Any state -------------------------------------------------------------------------------

def test_capability_before_and_after_starttls(tls_required):
    # RFC 9051 §6.1.1 example
    with Client(tls_required) as c:
        lines = c.ok("abcd", "CAPABILITY")
        assert len(lines) == 1 and lines[0].startswith(b"* CAPABILITY ")
        caps = set(lines[0].split()[2:])
        assert {b"IMAP4rev2", b"STARTTLS", b"LOGINDISABLED"} <= caps and b"AUTH=PLAIN" not in caps
        starttls(c, "efgh")
        lines = c.ok("ijkl", "CAPABILITY")
        caps = set(lines[0].split()[2:])
        assert len(lines) == 1 and {b"IMAP4rev2", b"AUTH=PLAIN"} <= caps
        assert not {b"STARTTLS", b"LOGINDISABLED"} & caps


def test_noop_reports_what_changed_elsewhere(mail_server):
    # RFC 9051 §6.1.2 example: EXPUNGE, EXISTS and FETCH (with UID, §7.5.2) for changes made by another session.
    address = new_account(mail_server)
    with login(mail_server, address) as a, login(mail_server, address) as b:
        a.ok("c", "CREATE box")
        uids = append(a, "box", *(message(f"n{i}") for i in range(4)))
        a.ok("s", "SELECT box")
        assert a.ok("a002", "NOOP") == []
        b.ok("s", "SELECT box")
        b.ok("x1", "STORE 2 +FLAGS.SILENT (\\Deleted)")
        b.ok("x2", "EXPUNGE")
        b.ok("x3", "STORE 3 +FLAGS.SILENT (\\Seen \\Deleted)")
        new = append(b, "box", message("n4"))
        untagged = a.ok("a047", "NOOP")
        view, fetched = list(uids), []
        for line in untagged:  # each number as it stands when its response comes
            if line.endswith(b" EXPUNGE"):
                del view[number(line) - 1]
            elif line.endswith(b" EXISTS"):
                view += new[:number(line) - len(view)]
            else:
                assert view[number(line) - 1] == uid_of(line)
                fetched.append((uid_of(line), flags(line)))
        assert view == [uids[0], uids[2], uids[3], new[0]]
        assert fetched == [(uids[3], {b"\\Seen", b"\\Deleted"})]
        assert len(untagged) == 3


def test_logout(mail_server):
    # RFC 9051 §6.1.3 example: BYE first, then the tagged OK, then the server closes.
    with Client(mail_server) as c:
        c.send(b"A023 LOGOUT\r\n")
        assert c.line().startswith(b"* BYE ")
        assert c.line().startswith(b"A023 OK")
        assert c.sock.recv(100) == b""


# --- §6.2 Not authenticated -----------------------------------------------------------------------

def test_starttls_then_authenticate_plain(tls_required):
    # RFC 9051 §6.2.1 example, and §6.2.2 second example (the same exchange with other tags).
    address = new_account(tls_required)
    with Client(tls_required) as c:
        assert c.greeting.startswith(b"* OK [CAPABILITY ")
        caps = set(c.greeting.split(b"]")[0].split()[3:])
        assert {b"IMAP4rev2", b"STARTTLS", b"LOGINDISABLED"} <= caps
        assert {b"IMAP4rev2", b"STARTTLS", b"LOGINDISABLED"} <= set(c.ok("a001", "CAPABILITY")[0].split())
        starttls(c, "a002")
        caps = set(c.ok("a003", "CAPABILITY")[0].split())
        assert {b"IMAP4rev2", b"AUTH=PLAIN"} <= caps and b"STARTTLS" not in caps
        c.ok("a004", f"AUTHENTICATE PLAIN {plain(address)}")
        c.ok("a005", "SELECT INBOX")  # authenticated now


def test_starttls_refusals(tls_required):
    # RFC 9051 §6.2.1: BAD after TLS is negotiated and on an Implicit TLS port; what follows
    # STARTTLS in the same TCP buffer is not run as a command (the plaintext command injection).
    # This server takes the second way the RFC allows: the data is thrown away.
    with Client(tls_required) as c:
        starttls(c, "a1")
        assert c.run("a2", "STARTTLS")[1].startswith(b"a2 BAD")
    with Client(tls_required, tls=True) as c:
        assert c.run("a1", "STARTTLS")[1].startswith(b"a1 BAD")
    with Client(tls_required) as c:
        c.send(b"a1 STARTTLS\r\na2 NOOP\r\n")
        assert c.line().startswith(b"a1 OK")
        c.sock = client_tls().wrap_socket(c.sock)
        c.send(b"a3 NOOP\r\n")
        assert c.line().startswith(b"a3 OK")


def test_authenticate_with_a_mechanism_not_offered(mail_server):
    # RFC 9051 §6.2.2 first and last examples: GSSAPI and EXTERNAL are not offered here, so the
    # server answers NO ("SHOULD reject the AUTHENTICATE command by sending a tagged NO").
    with Client(mail_server) as c:
        caps = set(c.greeting.split(b"]")[0].split()[3:])
        assert c.greeting.startswith(b"* OK [CAPABILITY ") and b"IMAP4rev2" in caps
        assert not {b"AUTH=GSSAPI", b"AUTH=EXTERNAL"} & caps
        assert c.run("A001", "AUTHENTICATE GSSAPI")[1].startswith(b"A001 NO")
        assert c.run("A01", "AUTHENTICATE EXTERNAL =")[1].startswith(b"A01 NO")


def test_authenticate_plain_without_initial_response(mail_server):
    # RFC 9051 §6.2.2 third example: an empty challenge, "+" and a space, then the response.
    address = new_account(mail_server)
    with Client(mail_server) as c:
        assert b"AUTH=PLAIN" in c.ok("C01", "CAPABILITY")[0].split()
        c.send(b"A01 AUTHENTICATE PLAIN\r\n")
        assert c.line() == b"+ "
        c.send(plain(address).encode() + b"\r\n")
        assert c.collect("A01")[1].startswith(b"A01 OK")


def test_login(mail_server):
    # RFC 9051 §6.2.3 example
    with Client(mail_server) as c:
        c.ok("a001", f"LOGIN {new_account(mail_server)} {PASSWORD}")
        c.ok("a002", "SELECT INBOX")


# --- §6.3 Authenticated ---------------------------------------------------------------------------

def test_enable(mail_server):
    # RFC 9051 §6.3.1 examples; UTF8=ACCEPT stands for X-GOOD-IDEA, and CONDSTORE is not served here.
    with login(mail_server, rev2=False) as c:
        before = set(c.ok("t1", "CAPABILITY")[0].split())
        assert c.ok("t2", "ENABLE CONDSTORE UTF8=ACCEPT") == [b"* ENABLED UTF8=ACCEPT"]
        assert set(c.ok("t3", "CAPABILITY")[0].split()) == before
        assert c.ok("a1", "ENABLE CONDSTORE") == [b"* ENABLED"]  # sent even when nothing was enabled


def test_select(mail_server):
    # RFC 9051 §6.3.2 both examples: FLAGS, EXISTS, LIST and the OKs, then [READ-WRITE]; a second
    # SELECT first closes the mailbox with OK [CLOSED].
    with login(mail_server) as c:
        append(c, "INBOX", *(message(f"s{i}") for i in range(3)))
        append(c, "Drafts", *(message(f"d{i}") for i in range(5)))
        for tag, box, count, closed in (("A142", "INBOX", 3, False), ("A143", "Drafts", 5, True)):
            known, list_response = status(c, box), list_line(c, box)
            untagged, done = c.run(tag, f"SELECT {box}")
            assert done.startswith(tag.encode() + b" OK [READ-WRITE]")
            assert untagged[0].startswith(b"* OK [CLOSED]") == closed
            assert b"* %d EXISTS" % count in untagged and known["MESSAGES"] == count
            assert int(one(untagged, rb"\* OK \[UIDVALIDITY (\d+)\].*")) == known["UIDVALIDITY"]
            assert int(one(untagged, rb"\* OK \[UIDNEXT (\d+)\].*")) == known["UIDNEXT"]
            assert SYSTEM_FLAGS <= set(one(untagged, rb"\* FLAGS \(([^)]*)\)").split())
            permanent = set(one(untagged, rb"\* OK \[PERMANENTFLAGS \(([^)]*)\)\].*").split())
            assert SYSTEM_FLAGS | {b"\\*"} <= permanent
            assert list_response in untagged  # the attributes as LIST gives them (accurate)


def test_examine(mail_server):
    # RFC 9051 §6.3.3 example: like SELECT, no permanent flags, [READ-ONLY]; nothing changes.
    with login(mail_server) as c:
        c.ok("c", "CREATE blurdybloop")
        append(c, "blurdybloop", *(message(f"e{i}") for i in range(17)))
        known, list_response = status(c, "blurdybloop"), list_line(c, "blurdybloop")
        untagged, done = c.run("A932", "EXAMINE blurdybloop")
        assert done.startswith(b"A932 OK [READ-ONLY]")
        assert b"* 17 EXISTS" in untagged and list_response in untagged
        assert int(one(untagged, rb"\* OK \[UIDVALIDITY (\d+)\].*")) == known["UIDVALIDITY"]
        assert int(one(untagged, rb"\* OK \[UIDNEXT (\d+)\].*")) == known["UIDNEXT"]
        assert SYSTEM_FLAGS <= set(one(untagged, rb"\* FLAGS \(([^)]*)\)").split())
        assert one(untagged, rb"\* OK \[PERMANENTFLAGS \(([^)]*)\)\].*") == b""
        c.ok("f", "FETCH 1 BODY[]")  # no \Seen: no per-user state changes either
        c.ok("u", "UNSELECT")
        assert status(c, "blurdybloop")["UNSEEN"] == 17


def test_create_declares_and_makes_a_hierarchy(mail_server):
    # RFC 9051 §6.3.4 example A003-A004: the trailing delimiter only declares the name.
    with login(mail_server) as c:
        c.ok("A003", "CREATE owatagusiam/")
        assert list(listed(c, "owatagusiam*")) == ["owatagusiam"]
        c.ok("A004", "CREATE owatagusiam/blurdybloop")
        assert listed(c, "owatagusiam*") == {"owatagusiam": {b"\\HasChildren"},
                                              "owatagusiam/blurdybloop": {b"\\HasNoChildren"}}
        c.ok("s", "SELECT owatagusiam/blurdybloop")


def test_create_of_a_name_not_in_nfc(mail_server):
    # RFC 9051 §6.3.4 example A005, §5.1: a name that is not Net-Unicode (NFC, RFC 5198) is refused,
    # or created normalized and answered with LIST ... ("OLDNAME" ("<the name sent>")).
    decomposed = "Cafe\u0301"
    composed = unicodedata.normalize("NFC", decomposed)
    with login(mail_server) as c:
        untagged, done = c.run("A005", f'CREATE "{decomposed}"')
        created = done.startswith(b"A005 OK")
        assert created or done.startswith(b"A005 NO"), done
        assert [ascii(name) for name in listed(c, "Caf*")] == ([ascii(composed)] if created else [])
        if created:
            line = one(untagged, rb'\* LIST \([^)]*\) "/" (.*)')
            assert line == f'"{composed}" ("OLDNAME" ("{decomposed}"))'.encode()


def test_delete_a_name_with_inferiors(mail_server):
    # RFC 9051 §6.3.5 first example: a name with inferiors is refused (NO, and here the SHOULD of
    # [HASCHILDREN]), its inferior can go, then the name itself. INBOX cannot be deleted.
    with login(mail_server) as c:
        c.ok("c1", "CREATE blurdybloop")
        c.ok("c2", "CREATE foo/bar")
        assert {"blurdybloop", "foo", "foo/bar"} <= set(listed(c, "*"))
        c.ok("A683", "DELETE blurdybloop")
        assert c.run("A684", "DELETE foo")[1].startswith(b"A684 NO [HASCHILDREN]")
        c.ok("A685", "DELETE foo/bar")
        names = set(listed(c, "*"))
        assert "foo" in names and not {"blurdybloop", "foo/bar"} & names
        c.ok("A687", "DELETE foo")
        assert "foo" not in listed(c, "*")
        assert c.run("x", "DELETE INBOX")[1].startswith(b"x NO")


def test_delete_never_removes_inferiors(mail_server):
    # RFC 9051 §6.3.5 second example: "DELETE foo" MUST NOT remove foo/bar. The example's server
    # deletes foo and keeps foo/bar; this one takes the other way the section allows, NO
    # [HASCHILDREN], and both stay as they were.
    with login(mail_server) as c:
        c.ok("c1", "CREATE blurdybloop")
        c.ok("c2", "CREATE foo/bar")
        append(c, "foo/bar", message("kept"))
        c.ok("A83", "DELETE blurdybloop")
        assert c.run("A84", "DELETE foo")[1].startswith(b"A84 NO [HASCHILDREN]")
        names = listed(c, "*")
        assert names["foo/bar"] == {b"\\HasNoChildren"} and "blurdybloop" not in names
        assert listed(c, "%")["foo"] == {b"\\HasChildren"}
        assert status(c, "foo/bar")["MESSAGES"] == 1


def test_rename_moves_inferiors(mail_server):
    # RFC 9051 §6.3.6 example A682-A685
    with login(mail_server) as c:
        c.ok("c1", "CREATE blurdybloop")
        c.ok("c2", "CREATE foo/bar")
        append(c, "foo/bar", message("moved along"))
        assert {"blurdybloop", "foo", "foo/bar"} <= set(listed(c, "*"))
        c.ok("A683", "RENAME blurdybloop sarasoop")
        c.ok("A684", "RENAME foo zowie")
        names = set(listed(c, "*"))
        assert {"sarasoop", "zowie", "zowie/bar"} <= names
        assert not {"blurdybloop", "foo", "foo/bar"} & names
        assert status(c, "zowie/bar")["MESSAGES"] == 1


def test_rename_inbox(mail_server):
    # RFC 9051 §6.3.6 example Z432-Z434: INBOX's messages move to the new name, INBOX stays,
    # empty, and its inferiors are left as they were.
    with login(mail_server) as c:
        c.ok("c", "CREATE INBOX/bar")
        append(c, "INBOX", message("first"), message("second"))
        append(c, "INBOX/bar", message("below"))
        assert {"INBOX", "INBOX/bar"} <= set(listed(c, "*"))
        c.ok("Z433", "RENAME INBOX old-mail")
        assert {"INBOX", "INBOX/bar", "old-mail"} <= set(listed(c, "*"))
        assert [status(c, box)["MESSAGES"] for box in ("INBOX", "INBOX/bar", "old-mail")] == [0, 1, 2]
        c.ok("s", "EXAMINE old-mail")
        found = c.ok("f", "FETCH 1:* BODY.PEEK[HEADER.FIELDS (SUBJECT)]")
        assert [literal_of(r, b"BODY[HEADER.FIELDS (SUBJECT)]") for r in found] == [
            b"Subject: first\r\n\r\n", b"Subject: second\r\n\r\n"]


def test_rename_then_subscribe_the_new_name_and_unsubscribe_the_old(mail_server):
    # RFC 9051 §6.3.6 last example, and §6.3.8: "This command returns a tagged OK response if the
    # unsubscription is successful or if the mailbox is not subscribed."
    with login(mail_server) as c:
        c.ok("c", "CREATE X")
        c.ok("1001", "RENAME X Y")
        c.ok("1002", "SUBSCRIBE Y")
        c.ok("1003", "UNSUBSCRIBE X")
        subscribed = listed(c, "*", selection="(SUBSCRIBED) ")
        assert b"\\Subscribed" in subscribed["Y"] and "X" not in subscribed


def test_subscribe(mail_server):
    # RFC 9051 §6.3.7 example; subscribing again is OK too ("or if the mailbox is already subscribed").
    with login(mail_server) as c:
        c.ok("c", "CREATE #news.comp.mail.mime")
        c.ok("u", "UNSUBSCRIBE #news.comp.mail.mime")
        assert listed(c, "#news*", selection="(SUBSCRIBED) ") == {}
        c.ok("A002", "SUBSCRIBE #news.comp.mail.mime")
        assert b"\\Subscribed" in listed(c, "#news*", selection="(SUBSCRIBED) ")["#news.comp.mail.mime"]
        c.ok("A003", "SUBSCRIBE #news.comp.mail.mime")


def test_unsubscribe(mail_server):
    # RFC 9051 §6.3.8 example; unsubscribing again is OK too ("or if the mailbox is not subscribed").
    with login(mail_server) as c:
        c.ok("c", "CREATE #news.comp.mail.mime")
        c.ok("s", "SUBSCRIBE #news.comp.mail.mime")
        c.ok("A002", "UNSUBSCRIBE #news.comp.mail.mime")
        assert listed(c, "#news*", selection="(SUBSCRIBED) ") == {}
        assert "#news.comp.mail.mime" in listed(c, "#news*")
        c.ok("A003", "UNSUBSCRIBE #news.comp.mail.mime")


def test_list_basic_examples(mail_server):
    # RFC 9051 §6.3.9.8, the basic examples: an empty pattern asks for the delimiter and the root
    # of the reference (a prefix of it, "" when the reference is not rooted).
    with login(mail_server) as c:
        assert c.ok("A101", 'LIST "" ""') == [b'* LIST (\\Noselect) "/" ""']
        for tag, reference in (("A102", "#news.comp.mail.misc"), ("A103", "/usr/staff/jones")):
            lines = c.ok(tag, f'LIST {reference} ""')
            m = re.fullmatch(rb'\* LIST \(\\Noselect\) "/" "(.*)"', lines[0]) if len(lines) == 1 else None
            assert m and reference.encode().startswith(m[1]), lines
        # "%" at the end also returns the levels of hierarchy; names keep the reference as prefix.
        c.ok("c1", "CREATE ~/Mail/foo/x")
        c.ok("c2", "CREATE ~/Mail/meetings")
        assert listed(c, "%", "~/Mail/") == {"~/Mail/foo": {b"\\HasChildren"}, "~/Mail/meetings": {b"\\HasNoChildren"}}


def test_namespace(mail_server):
    # RFC 9051 §6.3.10 example 1 (one personal namespace, no prefix, "/"), and example 5's client
    # creating a mailbox for sent items within it.
    with login(mail_server) as c:
        assert c.ok("A001", "NAMESPACE") == [b'* NAMESPACE (("" "/")) NIL NIL']
        c.ok("A002", 'CREATE "Sent Mail"')
        assert listed(c, "Sent Mail") == {"Sent Mail": {b"\\HasNoChildren"}}


def test_status(mail_server):
    # RFC 9051 §6.3.11 example: the items asked for, with the mailbox's values.
    with login(mail_server) as c:
        c.ok("c", "CREATE blurdybloop")
        uids = append(c, "blurdybloop", message("a"), message("b"), message("c"))
        line = one(c.ok("A042", "STATUS blurdybloop (UIDNEXT MESSAGES)"), rb"\* STATUS blurdybloop \((.*)\)")
        words = line.split()
        assert dict(zip(words[::2], words[1::2])) == {b"MESSAGES": b"3", b"UIDNEXT": b"%d" % (uids[-1] + 1)}


def test_status_items_of_imap4rev2(mail_server):
    # RFC 9051 §6.3.11: MESSAGES, UIDNEXT, UIDVALIDITY, UNSEEN, DELETED and SIZE (at least the sum
    # of the RFC822.SIZE of the messages).
    with login(mail_server) as c:
        c.ok("c", "CREATE blurdybloop")
        contents = [message("a"), message("b", body="longer body\r\n" * 20), message("c")]
        uids = append(c, "blurdybloop", ("(\\Seen)", None, contents[0]), ("(\\Deleted)", None, contents[1]),
                      contents[2])
        validity = int(one(c.ok("s", "EXAMINE blurdybloop"), rb"\* OK \[UIDVALIDITY (\d+)\].*"))
        c.ok("u", "UNSELECT")
        got = status(c, "blurdybloop", "MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE")
        assert {k: v for k, v in got.items() if k != "SIZE"} == {
            "MESSAGES": 3, "UIDNEXT": uids[-1] + 1, "UIDVALIDITY": validity, "UNSEEN": 2, "DELETED": 1}
        assert got["SIZE"] >= sum(map(len, contents))


RFC_APPEND_MESSAGE = (
    "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\nFrom: Fred Foobar <foobar@Blurdybloop.example>\r\n"
    "Subject: afternoon meeting\r\nTo: mooch@owatagu.siam.edu.example\r\n"
    "Message-Id: <B27397-0100000@Blurdybloop.example>\r\nMIME-Version: 1.0\r\n"
    "Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\nHello Joe, do you think we can meet at 3:30 tomorrow?\r\n"
).encode()


def test_append_with_a_synchronizing_literal(mail_server):
    # RFC 9051 §6.3.12 first example: the 326 octets wait for "+", then are stored as sent, \Seen.
    with login(mail_server) as c:
        c.ok("c", "CREATE saved-messages")
        c.send(b"A003 APPEND saved-messages (\\Seen) {326}\r\n")
        assert c.line().startswith(b"+ ")
        c.send(RFC_APPEND_MESSAGE + b"\r\n")
        assert c.collect("A003")[1].startswith(b"A003 OK")
        c.ok("s", "EXAMINE saved-messages")
        [found] = c.ok("f", "FETCH 1 (FLAGS BODY.PEEK[])")
        assert flags(found) == {b"\\Seen"} and literal_of(found, b"BODY[]") == RFC_APPEND_MESSAGE


def test_append_literal_plus_then_copy(mail_server):
    # RFC 9051 §6.3.12 second example: APPENDUID, COPYUID pairing source and new UIDs, a UID COPY of
    # UIDs that do not exist (OK, nothing copied), and the SELECT of the copy's mailbox. UIDs are
    # persistent here, so there is no [UIDNOTSTICKY] and A006 has a COPYUID too.
    with login(mail_server) as c:
        for box in ("saved-messages", "meeting", "funny", "current"):
            c.ok("c", f"CREATE {box}")
        source = append(c, "current", *(message(f"m{i}") for i in range(5)))
        c.ok("s", "SELECT current")
        c.ok("d", "STORE 3 +FLAGS.SILENT (\\Deleted)")
        c.ok("x", "EXPUNGE")  # messages 2:4 are now UIDs source[1], source[3], source[4]
        message_297 = RFC_APPEND_MESSAGE.replace(b"@Blurdybloop.example", b"@example.com").replace(
            b"mooch@owatagu.siam.edu.example", b"mooch@example.com")
        assert len(message_297) == 297
        c.send(b"A003 APPEND saved-messages (\\Seen) {297+}\r\n" + message_297 + b"\r\n")
        validity, uid = re.search(rb"A003 OK \[APPENDUID (\d+) (\d+)\]", c.collect("A003")[1]).groups()
        saved_messages = status(c, "saved-messages")
        assert (int(validity), int(uid)) == (saved_messages["UIDVALIDITY"], saved_messages["UIDNEXT"] - 1)
        meeting = status(c, "meeting")
        code = re.search(rb"A004 OK \[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\]", c.run("A004", "COPY 2:4 meeting")[1])
        assert int(code[1]) == meeting["UIDVALIDITY"]
        assert expand(code[2]) == [source[1], source[3], source[4]]
        assert len(set(expand(code[3]))) == 3 and min(expand(code[3])) >= meeting["UIDNEXT"]
        done = c.run("A005", f"UID COPY {source[-1] + 1}:{source[-1] + 6} meeting")[1]
        assert done.startswith(b"A005 OK") and b"COPYUID" not in done
        assert status(c, "meeting")["MESSAGES"] == 3
        copied = re.search(rb"A006 OK \[COPYUID \d+ (\d+) (\d+)\]", c.run("A006", "COPY 2 funny")[1])
        assert int(copied[1]) == source[1]
        untagged, done = c.run("A007", "SELECT funny")
        assert done.startswith(b"A007 OK [READ-WRITE]") and b"* 1 EXISTS" in untagged
        assert int(one(untagged, rb"\* OK \[UIDNEXT (\d+)\].*")) == int(copied[2]) + 1
        assert b'* LIST (\\HasNoChildren) "/" funny' in untagged
        assert not any(b"UIDNOTSTICKY" in line for line in untagged)


def test_idle(mail_server):
    # RFC 9051 §6.3.13 example: new mail and another client's expunges arrive while idling; none
    # while a FETCH runs (§7.5.1); the tagged OK follows DONE.
    address = new_account(mail_server)
    with login(mail_server, address) as c, login(mail_server, address) as other:
        append(c, "INBOX", *(message(f"i{i}") for i in range(3)))
        untagged = c.ok("A001", "SELECT INBOX")
        assert b"* 3 EXISTS" in untagged
        c.send(b"A002 IDLE\r\n")
        assert c.line().startswith(b"+ ")
        deliver(mail_server, address, "new mail arrives")
        assert c.line() == b"* 4 EXISTS"
        c.send(b"DONE\r\n")
        assert c.collect("A002")[1].startswith(b"A002 OK")
        other.ok("s", "SELECT INBOX")
        other.ok("d", "STORE 2 +FLAGS.SILENT (\\Deleted)")
        other.ok("x", "EXPUNGE")
        untagged = c.ok("A003", "FETCH 4 ALL")
        assert not any(line.endswith(b"EXPUNGE") for line in untagged)
        assert any(line.startswith(b"* 4 FETCH (") and b"ENVELOPE" in line for line in untagged)
        c.send(b"A004 IDLE\r\n")
        seen = c.until(b"+ ")
        while b"* 2 EXPUNGE" not in seen:
            seen.append(c.line())
        other.ok("d", "STORE 3 +FLAGS.SILENT (\\Deleted)")
        other.ok("x", "EXPUNGE")
        assert c.until(b"* 3 EXPUNGE")[-1] == b"* 3 EXPUNGE"
        deliver(mail_server, address, "more new mail")
        assert c.until(b"* 3 EXISTS")[-1] == b"* 3 EXISTS"
        c.send(b"DONE\r\n")
        assert c.collect("A004")[1].startswith(b"A004 OK")
        untagged = c.ok("A005", "FETCH 3 ALL")
        assert any(line.startswith(b"* 3 FETCH (") and b'"more new mail"' in line for line in untagged)
        c.send(b"A006 IDLE\r\n")
        assert c.line().startswith(b"+ ")
        c.send(b"DONE\r\n")
        assert c.collect("A006")[1].startswith(b"A006 OK")
