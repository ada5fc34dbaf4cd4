"""The examples of RFC 9051 §6.4 (selected state) and §7 (server responses), sent to the real
server over a raw socket: the same kinds of response, status and codes as the "S:" lines, values
right for the test's data (see rfc_examples.py)."""

from __future__ import annotations

import base64
import re
import time

from tests.imap.rfc_examples import (
    Client, PASSWORD, append, esearch, expand, flags, literal_of, login, message, new_account, number, one,
    saved, status, uid_of,
)


# --- §6.4 Selected --------------------------------------------------------------------------------

def test_close(mail_server):
    # RFC 9051 §6.4.1 example: \Deleted messages go without EXPUNGE responses; after EXAMINE, none go.
    with login(mail_server) as c:
        c.ok("c", "CREATE box")
        append(c, "box", ("(\\Deleted)", None, message("gone")), message("kept"), ("(\\Deleted)", None, message("x")))
        c.ok("e", "EXAMINE box")
        assert c.ok("A340", "CLOSE") == []
        assert status(c, "box")["MESSAGES"] == 3
        c.ok("s", "SELECT box")
        assert c.ok("A341", "CLOSE") == []
        assert status(c, "box")["MESSAGES"] == 1
        assert c.run("f", "FETCH 1 FLAGS")[1].startswith(b"f BAD")  # back in the authenticated state


def test_unselect(mail_server):
    # RFC 9051 §6.4.2 example: like CLOSE, but nothing is removed.
    with login(mail_server) as c:
        c.ok("c", "CREATE box")
        append(c, "box", ("(\\Deleted)", None, message("stays")))
        c.ok("s", "SELECT box")
        assert c.ok("A342", "UNSELECT") == []
        assert status(c, "box")["MESSAGES"] == 1
        assert c.run("f", "FETCH 1 FLAGS")[1].startswith(b"f BAD")


def test_expunge(mail_server):
    # RFC 9051 §6.4.3 example: messages 3, 4, 7 and 11 have \Deleted; each EXPUNGE numbers the
    # message as it stands after the previous ones (§7.5.1).
    with login(mail_server) as c:
        c.ok("c", "CREATE box")
        marked = {3, 4, 7, 11}
        uids = append(c, "box", *((("(\\Deleted)" if n in marked else "()"), None, message(f"x{n}"))
                                  for n in range(1, 13)))
        c.ok("s", "SELECT box")
        untagged = c.ok("A202", "EXPUNGE")
        numbers, removed = list(range(1, 13)), []
        for line in untagged:
            assert re.fullmatch(rb"\* \d+ EXPUNGE", line), line
            removed.append(numbers.pop(number(line) - 1))
        assert sorted(removed) == sorted(marked)
        assert [uid_of(line) for line in c.ok("f", "FETCH 1:* (UID)")] == [
            u for n, u in enumerate(uids, 1) if n not in marked]


def search_box(c: Client) -> list[int]:
    """Eleven messages for the SEARCH examples: flagged, since 1-Feb-1994 and not from Smith are 2,
    10 and 11; 1-3 are \\Seen; 5 and 6 \\Deleted; 4 and 9 $Junk; 3 and 8 from Smith; 9 is over 4096
    octets; 7 says "отпуск" and "мать", 1 and 3 "мать"."""
    flag_sets = {1: "\\Seen \\Flagged", 2: "\\Seen \\Flagged", 3: "\\Seen \\Flagged", 4: "$Junk", 5: "\\Deleted \\Seen",
                 6: "\\Deleted", 8: "\\Flagged", 9: "$Junk", 10: "\\Flagged", 11: "\\Flagged"}
    bodies = {1: "мать\r\n", 3: "мать\r\n", 7: "отпуск, мать\r\n", 9: "long line of text\r\n" * 300}
    specs = []
    for n in range(1, 12):
        sender = "Smith <smith@example.test>" if n in (3, 8) else "Jones <jones@example.test>"
        when = "01-Jan-1994 10:00:00 +0000" if n == 1 else f"{n:02d}-Feb-1994 10:00:00 +0000"
        content = message(f"search {n}", sender=sender, body=bodies.get(n, "Hello.\r\n"))
        specs.append((f"({flag_sets.get(n, '')})", when, content))
    c.ok("c", "CREATE search")
    uids = append(c, "search", *specs)
    c.ok("s", "SELECT search")
    return uids


def test_search_return_options(mail_server):
    # RFC 9051 §6.4.4 examples, answered with ESEARCH in an IMAP4rev2 session.
    with login(mail_server) as c:
        uids = search_box(c)
        criteria = 'FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"'
        assert esearch(one(c.ok("A282", f"SEARCH RETURN (MIN COUNT) {criteria}"), rb"(.*)")) == (
            "A282", False, {"MIN": b"2", "COUNT": b"3"})
        assert esearch(one(c.ok("A283", f"SEARCH RETURN () {criteria}"), rb"(.*)")) == (
            "A283", False, {"ALL": b"2,10:11"})
        assert c.ok("A284", 'SEARCH TEXT "string not in mailbox"') == [b'* ESEARCH (TAG "A284")']
        c.send("A285 SEARCH CHARSET UTF-8 TEXT {12}\r\n".encode())
        assert c.line().startswith(b"+ ")
        c.send("отпуск\r\n".encode())
        untagged, done = c.collect("A285")
        assert done.startswith(b"A285 OK") and untagged == [b'* ESEARCH (TAG "A285") ALL 7']
        assert c.ok("A286", "SEARCH RETURN (MIN) UNSEEN") == [b'* ESEARCH (TAG "A286") MIN 4']
        assert esearch(one(c.ok("A287", "UID SEARCH RETURN (MIN MAX) 1:5000"), rb"(.*)")) == (
            "A287", True, {"MIN": b"%d" % uids[0], "MAX": b"%d" % uids[-1]})
        assert c.ok("A288", "SEARCH RETURN (COUNT) DELETED") == [b'* ESEARCH (TAG "A288") COUNT 2']


def test_search_save_then_fetch(mail_server):
    # RFC 9051 §6.4.4.4 examples 1 and 2: SAVE alone answers no ESEARCH; "$" names the result, also
    # when the FETCH is pipelined behind the SEARCH.
    with login(mail_server) as c:
        uids = search_box(c)
        assert c.ok("A282", 'SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"') == []
        found = c.ok("A283", "FETCH $ (UID INTERNALDATE FLAGS BODY.PEEK[HEADER])")
        assert [(number(r), uid_of(r)) for r in found] == [(n, uids[n - 1]) for n in (2, 10, 11)]
        assert all(b"INTERNALDATE" in r and literal_of(r, b"BODY[HEADER]").startswith(b"Date: ") for r in found)
        # Example 2: the same, pipelined.
        c.send(b'A284 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"\r\n'
               b"A285 FETCH $ (UID INTERNALDATE FLAGS BODY.PEEK[HEADER])\r\n")
        assert c.ok_after("A284") == []
        assert [number(r) for r in c.ok_after("A285")] == [2, 10, 11]


def test_search_save_used_by_later_searches(mail_server):
    # RFC 9051 §6.4.4.4 examples 3 and 4: "$" as a UID set, as a key, and inside OR.
    with login(mail_server) as c:
        uids = search_box(c)
        c.ok("A300", 'SEARCH RETURN (SAVE) SINCE 1-Feb-1994 NOT FROM "Smith"')  # 2, 4-7, 9-11
        expected = {"ALL": ",".join(str(uids[n - 1]) for n in (2, 4, 5, 6, 7, 10, 11)).encode()}
        for tag, command in (("A301", "UID SEARCH UID $ SMALLER 4096"), ("A302", "UID SEARCH $ SMALLER 4096")):
            tag_, uid, data = esearch(one(c.ok(tag, command), rb"(.*)"))
            assert (tag_, uid) == (tag, True) and expand(data["ALL"]) == expand(expected["ALL"])
        c.ok("P282", 'SEARCH RETURN (SAVE) SINCE 1-Feb-1994 NOT FROM "Smith"')
        untagged = c.ok("P283", "SEARCH CHARSET UTF-8 (OR $ 1,3000:3021) TEXT {8+}\r\n".encode() + "мать".encode())
        assert untagged == [b'* ESEARCH (TAG "P283") ALL 1,7']


def test_search_with_an_unknown_charset_empties_the_saved_result(mail_server):
    # RFC 9051 §6.4.4.4 example 5: NO [BADCHARSET ...] naming what is supported, and "$" is empty
    # afterwards (§6.4.4.1: a SEARCH with SAVE answered NO empties it).
    with login(mail_server) as c:
        search_box(c)
        c.ok("B282", 'SEARCH RETURN (SAVE) SINCE 1-Feb-1994 NOT FROM "Smith"')
        untagged, done = c.run("B283", b"SEARCH RETURN (SAVE) CHARSET KOI8-R (OR $ 1,3000:3021) TEXT {4+}\r\n"
                               + "мать".encode("koi8-r"))
        assert re.match(rb"B283 NO \[BADCHARSET \(?[^\]]*UTF-8", done), done
        assert saved(c) == []


def test_search_save_of_nothing_and_pipelined_use(mail_server):
    # RFC 9051 §6.4.4.4 examples 6 and 7: an empty "$" copies nothing and is no error; SAVE, COPY $
    # and STORE $ pipelined act in order.
    with login(mail_server) as c:
        search_box(c)
        c.ok("c", 'CREATE "Other Messages"')
        c.send(b'E282 SEARCH RETURN (SAVE) SINCE 28-Oct-2006 NOT FROM "Eric"\r\nE283 COPY $ "Other Messages"\r\n')
        assert c.ok_after("E282") == [] and c.ok_after("E283") == []
        assert status(c, '"Other Messages"')["MESSAGES"] == 0
        c.send(b"F282 SEARCH RETURN (SAVE) KEYWORD $Junk\r\nF283 COPY $ Junk\r\n"
               b"F284 STORE $ +FLAGS.Silent (\\Deleted)\r\n")
        assert [c.ok_after(tag) for tag in ("F282", "F283", "F284")] == [[], [], []]
        assert status(c, "Junk")["MESSAGES"] == 2
        assert esearch(one(c.ok("d", "SEARCH RETURN (ALL) DELETED"), rb"(.*)"))[2] == {"ALL": b"4:6,9"}


def test_search_save_replaces_the_saved_result(mail_server):
    # RFC 9051 §6.4.4.4 examples 8 and 9: a SEARCH without SAVE leaves "$" alone, the last SAVE wins.
    with login(mail_server) as c:
        search_box(c)
        c.send(b'G282 SEARCH RETURN (SAVE) KEYWORD $Junk\r\nG283 SEARCH RETURN (ALL) SINCE 1-Feb-1994 FROM "Smith"\r\n')
        assert c.ok_after("G282") == []
        assert c.ok_after("G283") == [b'* ESEARCH (TAG "G283") ALL 3,8']
        assert saved(c) == [4, 9]
        c.send(b"H282 SEARCH RETURN (SAVE) KEYWORD $Junk\r\n"
               b'H283 SEARCH RETURN (SAVE) SINCE 1-Feb-1994 FROM "Smith"\r\n')
        assert c.ok_after("H282") == [] and c.ok_after("H283") == []
        assert saved(c) == [3, 8]


def test_search_return_option_combinations(mail_server):
    # RFC 9051 §6.4.4.4 example 10 and §6.4.4.1 table 4: what each combination answers and saves.
    with login(mail_server) as c:
        search_box(c)
        c.ok("C281", "SEARCH RETURN (SAVE) 1")
        criteria = 'SINCE 1-Feb-1994 NOT FROM "Smith"'
        everything = [2, 4, 5, 6, 7, 9, 10, 11]
        for tag, options, answer, now_saved in (
                ("C282", "ALL", {"ALL": b"2,4:7,9:11"}, [1]),
                ("C283", "ALL SAVE", {"ALL": b"2,4:7,9:11"}, everything),
                ("C284", "SAVE MIN", {"MIN": b"2"}, [2]),
                ("C285", "MAX SAVE MIN", {"MIN": b"2", "MAX": b"11"}, [2, 11]),
                ("C286", "MAX SAVE MIN COUNT", {"MIN": b"2", "MAX": b"11", "COUNT": b"8"}, everything),
                ("C287", "ALL SAVE MIN", {"MIN": b"2", "ALL": b"2,4:7,9:11"}, everything)):
            assert esearch(one(c.ok(tag, f"SEARCH RETURN ({options}) {criteria}"), rb"(.*)")) == (tag, False, answer)
            assert saved(c) == now_saved, tag


def test_fetch_header_fields(mail_server):
    # RFC 9051 §6.4.5 example: the fields asked for, in the message's order, and the blank line;
    # BODY[...] sets \Seen, and the FLAGS in the same response say so.
    with login(mail_server) as c:
        c.ok("c", "CREATE box")
        contents = [message(f"f{n}", day=n) for n in range(1, 5)]
        append(c, "box", *contents)
        c.ok("s", "SELECT box")
        found = c.ok("A654", "FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])")
        assert [number(r) for r in found] == [2, 3, 4]
        for n, r in zip((2, 3, 4), found):
            fields = literal_of(r, b"BODY[HEADER.FIELDS (DATE FROM)]")
            assert fields == (f"Date: Mon, {n} Feb 1994 21:52:25 -0800\r\n"
                              f"From: Fred Foobar <foobar@example.test>\r\n\r\n").encode()
            assert flags(r) == {b"\\Seen"}
        assert status(c, "box")["UNSEEN"] == 1


def test_store(mail_server):
    # RFC 9051 §6.4.6 example: each message's flags after the change.
    with login(mail_server) as c:
        c.ok("c", "CREATE box")
        append(c, "box", message("1"), ("(\\Seen)", None, message("2")), message("3"),
               ("(\\Flagged \\Seen)", None, message("4")))
        c.ok("s", "SELECT box")
        found = c.ok("A003", "STORE 2:4 +FLAGS (\\Deleted)")
        assert [(number(r), flags(r)) for r in found] == [
            (2, {b"\\Deleted", b"\\Seen"}), (3, {b"\\Deleted"}), (4, {b"\\Deleted", b"\\Flagged", b"\\Seen"})]
        assert [r for r in found if not re.fullmatch(rb"\* \d FETCH \(FLAGS \([^)]*\)\)", r)] == []


def test_copy(mail_server):
    # RFC 9051 §6.4.7 example: COPYUID with the destination's UIDVALIDITY, the source UIDs (here
    # not contiguous, like 304,319:320) and the new ones in the same order.
    with login(mail_server) as c:
        c.ok("c1", "CREATE box")
        c.ok("c2", "CREATE MEETING")
        uids = append(c, "box", *(message(f"c{n}") for n in range(5)))
        c.ok("s", "SELECT box")
        c.ok("d", "STORE 3 +FLAGS.SILENT (\\Deleted)")
        c.ok("x", "EXPUNGE")
        before = status(c, "MEETING")
        done = c.run("A003", "COPY 2:4 MEETING")[1]
        code = re.fullmatch(rb"A003 OK \[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\] .*", done)
        assert code and int(code[1]) == before["UIDVALIDITY"], done
        assert code[2] == b"%d,%d:%d" % (uids[1], uids[3], uids[4])
        new = expand(code[3])
        assert len(new) == 3 and new == sorted(new) and new[0] >= before["UIDNEXT"]
        c.ok("e", "EXAMINE MEETING")
        copied = c.ok("f", "FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        assert [(uid_of(r), literal_of(r, b"BODY[HEADER.FIELDS (SUBJECT)]")) for r in copied] == [
            (u, b"Subject: c%d\r\n\r\n" % n) for u, n in zip(new, (1, 3, 4))]


def test_move(mail_server):
    # RFC 9051 §6.4.8 example: UIDs 42:69 are messages 22:49 here, as in the example; COPYUID in an
    # untagged OK before the EXPUNGEs, then the tagged OK.
    with login(mail_server) as c:
        c.ok("c1", "CREATE box")
        c.ok("c2", "CREATE foo")
        uids = append(c, "box", *(message(f"m{n}") for n in range(1, 70)))
        c.ok("s", "SELECT box")
        c.ok("d", "STORE 1:20 +FLAGS.SILENT (\\Deleted)")
        c.ok("x", "EXPUNGE")
        moving = uids[41:69]
        foo = status(c, "foo")
        untagged, done = c.run("a", f"UID MOVE {moving[0]}:{moving[-1]} foo")
        assert done.startswith(b"a OK")
        code = re.fullmatch(rb"\* OK \[COPYUID (\d+) ([\d:,]+) ([\d:,]+)\].*", untagged[0])
        assert code and int(code[1]) == foo["UIDVALIDITY"] and expand(code[2]) == moving
        assert len(expand(code[3])) == 28
        numbers, removed = list(range(1, 50)), []
        for line in untagged[1:]:
            assert re.fullmatch(rb"\* \d+ EXPUNGE", line), line
            removed.append(numbers.pop(number(line) - 1))
        assert sorted(removed) == list(range(22, 50))
        assert status(c, "foo")["MESSAGES"] == 28 and status(c, "box")["MESSAGES"] == 21


def test_uid_expunge(mail_server):
    # RFC 9051 §6.4.9 first example: only \Deleted messages with UIDs in the set go.
    with login(mail_server) as c:
        c.ok("c", "CREATE box")
        deleted = ("(\\Deleted)", None)
        uids = append(c, "box", (*deleted, message("1")), message("2"), (*deleted, message("3")),
                      (*deleted, message("4")), (*deleted, message("5")), message("6"))
        c.ok("s", "SELECT box")
        assert c.ok("A003", f"UID EXPUNGE {uids[2]}:{uids[4]}") == [b"* 3 EXPUNGE"] * 3
        assert [uid_of(r) for r in c.ok("f", "FETCH 1:* (UID)")] == [uids[0], uids[1], uids[5]]


def test_uid_fetch(mail_server):
    # RFC 9051 §6.4.9 second example: UIDs that do not exist are ignored, each response names its
    # message by number and carries UID; a range ending in "*" always holds the last message.
    with login(mail_server) as c:
        c.ok("c", "CREATE box")
        uids = append(c, "box", *(("(\\Seen)", None, message(f"u{n}")) for n in range(6)))
        c.ok("s", "SELECT box")
        c.ok("d", "STORE 2,4 +FLAGS.SILENT (\\Deleted)")
        c.ok("x", "EXPUNGE")
        found = c.ok("A999", f"UID FETCH {uids[1]}:{uids[-1] + 10} FLAGS")
        assert [(number(r), uid_of(r), flags(r)) for r in found] == [
            (2, uids[2], {b"\\Seen"}), (3, uids[4], {b"\\Seen"}), (4, uids[5], {b"\\Seen"})]
        assert [uid_of(r) for r in c.ok("A998", f"UID FETCH {uids[-1] + 100}:* FLAGS")] == [uids[-1]]


# --- §7 Server responses --------------------------------------------------------------------------

def test_response_code_examples(mail_server):
    # RFC 9051 §7.1: ALREADYEXISTS, AUTHENTICATIONFAILED, CANNOT, HASCHILDREN, NONEXISTENT and
    # TRYCREATE, each with the command the RFC shows (or the one the code is defined for).
    with Client(mail_server) as c:
        assert c.run("b", 'LOGIN "fred" "foo"')[1].startswith(b"b NO [AUTHENTICATIONFAILED]")
    with login(mail_server) as c:
        c.ok("c1", "CREATE this")
        c.ok("c2", "CREATE that")
        c.ok("c3", "CREATE Notes/today")
        assert c.run("o356", "RENAME this that")[1].startswith(b"o356 NO [ALREADYEXISTS]")
        assert c.run("p", "RENAME nothing that")[1].startswith(b"p NO [NONEXISTENT]")
        assert c.run("l", 'create "///////"')[1].startswith(b"l NO [CANNOT]")
        assert c.run("m356", "DELETE Notes")[1].startswith(b"m356 NO [HASCHILDREN]")
        assert c.run("t1", "APPEND nowhere {1+}\r\nx")[1].startswith(b"t1 NO [TRYCREATE]")
        append(c, "this", message("one"))
        c.ok("s", "SELECT this")
        assert c.run("t2", "COPY 1 nowhere")[1].startswith(b"t2 NO [TRYCREATE]")
        assert c.run("t3", "MOVE 1 nowhere")[1].startswith(b"t3 NO [TRYCREATE]")


def test_authorization_failed(mail_server):
    # RFC 9051 §7.1 AUTHORIZATIONFAILED example: the password of the authentication identity is
    # right, but it may not act as the authorization identity asked for (RFC 4616 §2 authzid).
    me, other = new_account(mail_server), new_account(mail_server)
    with Client(mail_server) as c:
        response = base64.b64encode(f"{other}\0{me}\0{PASSWORD}".encode()).decode()
        assert c.run("c1", f"AUTHENTICATE PLAIN {response}")[1].startswith(b"c1 NO [AUTHORIZATIONFAILED]")
        assert c.run("c2", "SELECT INBOX")[1].startswith(b"c2 BAD")  # still not authenticated


def test_privacy_required(tls_required):
    # RFC 9051 §7.1 PRIVACYREQUIRED example: no password over a connection without TLS.
    with Client(tls_required) as c:
        assert c.run("d", f'login "{new_account(tls_required)}" "{PASSWORD}"')[1].startswith(
            b"d NO [PRIVACYREQUIRED]")


def test_ok_greeting_and_login(mail_server):
    # RFC 9051 §7.1.1 example: an untagged OK greets (not authenticated yet), LOGIN completes OK.
    with Client(mail_server) as c:
        assert c.greeting.startswith(b"* OK ")
        assert c.run("A000", "SELECT INBOX")[1].startswith(b"A000 BAD")
        c.ok("A001", f"LOGIN {new_account(mail_server)} {PASSWORD}")


def test_bad_responses(mail_server):
    # RFC 9051 §7.1.3 example: a line too long and an empty line get an untagged BAD (no command
    # can be named), and the session goes on; §6.5 example: an unknown command gets a tagged BAD.
    with Client(mail_server) as c:
        c.send(b"x" * 70000 + b"\r\n")
        assert c.line().startswith(b"* BAD ")
        c.send(b"\r\n")
        assert c.line().startswith(b"* BAD ")
        assert b"XPIG-LATIN" not in c.ok("a441", "CAPABILITY")[0].split()
        assert c.run("A442", "XPIG-LATIN")[1].startswith(b"A442 BAD")
        c.ok("n", "NOOP")


def test_autologout_bye(tls_required):
    # RFC 9051 §7.1.5 example: a silent client is told BYE, then the connection closes.
    with Client(tls_required) as c:
        started = time.monotonic()
        assert c.line().startswith(b"* BYE ")
        assert c.sock.recv(100) == b""
        assert time.monotonic() - started < 9


def test_esearch_response_examples(mail_server):
    # RFC 9051 §7.3.4 examples: "COUNT 18 ALL 1:17,21", and with UIDs "UID COUNT 17 ALL 4:18,21,28".
    with login(mail_server) as c:
        c.ok("c", "CREATE box")
        uids = append(c, "box", *(message(f"e{n}") for n in range(1, 29)))
        c.ok("s", "SELECT box")
        assert esearch(one(c.ok("a566", "SEARCH RETURN (COUNT ALL) NOT 18:20 NOT 22:28"), rb"(.*)")) == (
            "a566", False, {"COUNT": b"18", "ALL": b"1:17,21"})
        gone = [1, 2, 3, 19, 20, 22, 23, 24, 25, 26, 27]
        c.ok("d", "STORE %s +FLAGS.SILENT (\\Deleted)" % ",".join(map(str, gone)))
        c.ok("x", "EXPUNGE")
        kept = [u for n, u in enumerate(uids, 1) if n not in gone]
        tag, uid, data = esearch(one(c.ok("a567", "UID SEARCH RETURN (COUNT ALL) ALL"), rb"(.*)"))
        assert (tag, uid, data["COUNT"]) == ("a567", True, b"17") and expand(data["ALL"]) == kept
        if uids == list(range(1, 29)):
            assert data["ALL"] == b"4:18,21,28"


def test_fetch_response(mail_server):
    # RFC 9051 §7.5.2 example: FLAGS, RFC822.SIZE (the octets of BODY[]) and UID.
    with login(mail_server) as c:
        c.ok("c", "CREATE box")
        content = message("sized")
        [uid] = append(c, "box", ("(\\Seen)", None, content))
        c.ok("s", "SELECT box")
        [line] = c.ok("f", "FETCH 1 (FLAGS RFC822.SIZE UID)")
        assert re.fullmatch(rb"\* 1 FETCH \((FLAGS \([^)]*\)|RFC822\.SIZE \d+|UID \d+| )+\)", line), line
        assert flags(line) == {b"\\Seen"} and uid_of(line) == uid
        assert int(re.search(rb"RFC822\.SIZE (\d+)", line)[1]) == len(content)


def test_continuation_request(mail_server):
    # RFC 9051 §7.6 example: "+" before each synchronizing literal; an unknown command announcing
    # one gets BAD at once, and the octets it announced are not waited for.
    address = new_account(mail_server)
    with Client(mail_server) as c:
        c.send(b"A001 LOGIN {%d}\r\n" % len(address))
        assert c.line().startswith(b"+ ")
        c.send(address.encode() + b" {%d}\r\n" % len(PASSWORD))
        assert c.line().startswith(b"+ ")
        c.send(PASSWORD.encode() + b"\r\n")
        assert c.collect("A001")[1].startswith(b"A001 OK")
        c.send(b"A044 BLURDYBLOOP {102856}\r\n")
        assert c.line().startswith(b"A044 BAD")
        c.ok("A045", "NOOP")
