"""Each command, from the RFC 9051 examples (command lines copied from the RFC text) and the
extension RFCs; then the refusals."""

from datetime import datetime, timedelta, timezone

import pytest

from postoffice.imap.wire import (
    All, Append, AppendMessage, Authenticate, Capability, Check, Close, Copy, Create, Delete, Enable,
    Examine, Expunge, Flag, Id, Idle, List, Login, Logout, Lsub, Move, Namespace, Noop, SequenceSet,
    Select, StartTls, Status, Store, Subscribe, UidExpunge, Unselect, Unsubscribe, Rename,
)
from postoffice.imap.wire.commands import QResync
from tests.imap.wire_helpers import bad, parse

S = SequenceSet.parse


def test_any_state():
    assert parse("abcd CAPABILITY") == Capability("abcd")        # RFC 9051 §6.1.1
    assert parse("a002 NOOP") == Noop("a002")                    # RFC 9051 §6.1.2
    assert parse("A023 LOGOUT") == Logout("A023")                # RFC 9051 §6.1.3
    assert Capability.name == "CAPABILITY" and Logout.name == "LOGOUT"


def test_not_authenticated():
    assert parse("a002 STARTTLS") == StartTls("a002")            # RFC 9051 §6.2.1
    # RFC 9051 §6.2.2 (with RFC 4959 SASL-IR initial responses).
    assert parse("A001 AUTHENTICATE GSSAPI") == Authenticate("A001", "GSSAPI")
    assert parse("A03 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=") == Authenticate(
        "A03", "PLAIN", b"test\x00test\x00test")
    assert parse("A01 AUTHENTICATE EXTERNAL =") == Authenticate("A01", "EXTERNAL", b"")
    assert parse("A01 authenticate scram-sha-256").mechanism == "SCRAM-SHA-256"
    assert parse("a001 LOGIN SMITH SESAME") == Login("a001", "SMITH", "SESAME")   # RFC 9051 §6.2.3
    assert parse('b LOGIN "fred" "foo"') == Login("b", "fred", "foo")             # RFC 9051 §7.1
    assert "SESAME" not in repr(parse("a001 LOGIN SMITH SESAME"))


def test_login_with_literals_rfc9051_7_6():
    assert parse("A001 LOGIN {11}\nFRED FOOBAR {7}\nfat man") == Login("A001", "FRED FOOBAR", "fat man")


def test_enable():
    # RFC 9051 §6.3.1
    assert parse("t2 ENABLE CONDSTORE X-GOOD-IDEA") == Enable("t2", ("CONDSTORE", "X-GOOD-IDEA"))
    assert parse("babc ENABLE IMAP4rev2") == Enable("babc", ("IMAP4REV2",))   # RFC 9051 §8
    assert parse("a ENABLE utf8=accept UTF8=ACCEPT").capabilities == ("UTF8=ACCEPT",)


def test_select_and_examine():
    assert parse("A142 SELECT INBOX") == Select("A142", "INBOX")           # RFC 9051 §6.3.2
    assert parse("A143 SELECT Drafts") == Select("A143", "Drafts")
    assert parse("a002 select inbox") == Select("a002", "INBOX")           # RFC 9051 §8
    assert parse("A932 EXAMINE blurdybloop") == Examine("A932", "blurdybloop")   # §6.3.3
    assert parse('k1 select "/archive/projects/experiment-iv"').mailbox == "/archive/projects/experiment-iv"


def test_select_condstore_and_qresync():
    # RFC 7162 §3.1.8, §3.2.5.1 examples.
    assert parse("a SELECT INBOX (CONDSTORE)") == Select("a", "INBOX", condstore=True)
    cmd = parse("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))")
    assert cmd.qresync == QResync(67890007, 20050715194045000, S("41,43:211,214:541"))
    cmd = parse("B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 "
                "15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))")
    assert cmd.qresync.known_uids == S("1:29997")
    assert cmd.qresync.seq_match[0] == S("5000,7500,9000,9990:9999")
    cmd = parse("a SELECT INBOX (QRESYNC (1 2 (3 4)))")
    assert cmd.qresync == QResync(1, 2, None, (S("3"), S("4")))
    bad("a SELECT INBOX (QRESYNC (0 2))")
    bad("a SELECT INBOX (CONDSTORE CONDSTORE)")
    bad("a SELECT INBOX (FOO)")
    bad("a SELECT INBOX ()")


def test_create_delete_rename_subscribe():
    assert parse("A003 CREATE owatagusiam/") == Create("A003", "owatagusiam/")   # RFC 9051 §6.3.4
    assert parse('A002 CREATE "INBOX.Sent Mail"') == Create("A002", "INBOX.Sent Mail")   # §6.3.10
    assert parse("A683 DELETE blurdybloop") == Delete("A683", "blurdybloop")        # §6.3.5
    assert parse("A683 RENAME blurdybloop sarasoop") == Rename("A683", "blurdybloop", "sarasoop")  # §6.3.6
    assert parse("Z433 RENAME INBOX old-mail") == Rename("Z433", "INBOX", "old-mail")
    assert parse("A002 SUBSCRIBE #news.comp.mail.mime") == Subscribe("A002", "#news.comp.mail.mime")  # §6.3.7
    assert parse("A002 UNSUBSCRIBE #news.comp.mail.mime") == Unsubscribe("A002", "#news.comp.mail.mime")
    assert parse('l create "///////"') == Create("l", "///////")                   # §7.1


def test_create_special_use():
    # RFC 6154 §5.2 example: CREATE with the USE parameter.
    assert parse("t1 CREATE MySpecial (USE (\\Drafts \\Sent))") == Create("t1", "MySpecial", ("\\Drafts", "\\Sent"))
    assert parse("t1 CREATE x (USE (\\junk))").special_use == ("\\Junk",)
    bad("t1 CREATE x (USE (Junk))")
    bad("t1 CREATE x (FOO (\\Junk))")


def test_list_basic():
    # RFC 9051 §6.3.9.8
    assert parse('A101 LIST "" ""') == List("A101", "", ("",))
    assert parse('A102 LIST #news.comp.mail.misc ""') == List("A102", "#news.comp.mail.misc", ("",))
    assert parse('A202 LIST ~/Mail/ %') == List("A202", "~/Mail/", ("%",))
    assert parse('A682 LIST "" *') == List("A682", "", ("*",))


def test_list_extended():
    # RFC 9051 §6.3.9.8 (RFC 5258 §5 examples).
    assert parse('A02 LIST (SUBSCRIBED) "" "*"') == List("A02", "", ("*",), ("SUBSCRIBED",), extended=True)
    assert parse('A03 LIST () "" "%" RETURN (CHILDREN)') == List(
        "A03", "", ("%",), (), ("CHILDREN",), extended=True)
    assert parse('A05 LIST (REMOTE SUBSCRIBED) "" "*"').selection == ("REMOTE", "SUBSCRIBED")
    assert parse('A06 LIST (REMOTE) "" "*" RETURN (SUBSCRIBED)').returns == ("SUBSCRIBED",)
    assert parse('D03 LIST (RECURSIVEMATCH SUBSCRIBED) "" "*2"').patterns == ("*2",)
    assert parse('a1 LIST "" ("foo")') == List("a1", "", ("foo",), extended=True)
    assert parse('a3 LIST (SUBSCRIBED RECURSIVEMATCH) "" foo RETURN (CHILDREN)').returns == ("CHILDREN",)
    assert parse('a3.1 LIST "" (% music/rock)').patterns == ("%", "music/rock")
    assert parse('A002 LIST (SPECIAL-USE) "" "*"').selection == ("SPECIAL-USE",)
    assert parse('C04 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN\n (CHILDREN)'.replace("\n", "")).extended
    # RFC 9051 §6.3.9.8 / RFC 5819: STATUS return option.
    cmd = parse('A01 LIST "" % RETURN (STATUS (MESSAGES UNSEEN))')
    assert cmd.returns == ("STATUS",) and cmd.status == ("MESSAGES", "UNSEEN")
    cmd = parse('A02 LIST (SUBSCRIBED RECURSIVEMATCH) "" % RETURN (STATUS (MESSAGES))')
    assert cmd.selection == ("SUBSCRIBED", "RECURSIVEMATCH") and cmd.status == ("MESSAGES",)


def test_list_refusals():
    bad('a LIST (RECURSIVEMATCH) "" "*"')          # RFC 5258 §3.1: needs a base option
    bad('a LIST (REMOTE RECURSIVEMATCH) "" "*"')
    bad('a LIST (FOO) "" "*"')                     # RFC 5258 §3: BAD for unknown options
    bad('a LIST "" "*" RETURN (FOO)')
    bad('a LIST "" "*" RETURN (STATUS (FOO))')
    bad('a LIST "" ()')


def test_lsub_namespace_status():
    assert parse('a LSUB "#news." "comp.mail.*"') == Lsub("a", "#news.", "comp.mail.*")   # RFC 3501 §6.3.9
    assert parse("A001 NAMESPACE") == Namespace("A001")                                  # RFC 9051 §6.3.10
    assert parse("A042 STATUS blurdybloop (UIDNEXT MESSAGES)") == Status(
        "A042", "blurdybloop", ("UIDNEXT", "MESSAGES"))                                    # RFC 9051 §6.3.11
    assert parse('k2 status "/archive/projects/experiment-iv" (messages)').items == ("MESSAGES",)
    assert parse("a STATUS INBOX (HIGHESTMODSEQ SIZE DELETED RECENT UNSEEN UIDVALIDITY)").items[0] == "HIGHESTMODSEQ"
    bad("a STATUS INBOX ()")
    bad("a STATUS INBOX (BOGUS)")


def test_append():
    # RFC 9051 §6.3.12, with a date-time (RFC 9051 §9).
    cmd = parse('A003 APPEND saved-messages (\\Seen) " 7-Feb-1994 21:52:25 -0800" {5}\nhello')
    tz = timezone(timedelta(hours=-8))
    assert cmd == Append("A003", "saved-messages", (
        AppendMessage(("\\Seen",), datetime(1994, 2, 7, 21, 52, 25, tzinfo=tz), b"hello"),))
    assert parse("a APPEND INBOX {2+}\nhi").messages == (AppendMessage((), None, b"hi"),)
    assert parse('a APPEND INBOX "17-Jul-1996 02:44:25 +0000" {2}\nhi').messages[0].internaldate == datetime(
        1996, 7, 17, 2, 44, 25, tzinfo=timezone.utc)


def test_multiappend_and_binary():
    # RFC 3502 §6.3.11 example, shortened; RFC 3516 §4.4: literal8.
    cmd = parse('A003 APPEND saved-messages (\\Seen) {3}\nabc (\\Seen \\Draft) ~{3}\na\x00b {1+}\nz')
    assert [m.literal for m in cmd.messages] == [b"abc", b"a\x00b", b"z"]
    assert [m.binary for m in cmd.messages] == [False, True, False]
    assert cmd.messages[1].flags == ("\\Seen", "\\Draft")


def test_append_refusals():
    # Refused on the announcing line: the client waits for "+", so the literal never comes.
    bad('a APPEND INBOX "7-Feb-1994" {2}')            # not a date-time
    bad('a APPEND INBOX "31-Feb-1994 00:00:00 +0000" {2}')
    bad('a APPEND INBOX "1-Feb-1994 00:00:00 +9999" {2}')
    assert bad('a APPEND INBOX (\\) {2+}').drain == 2
    bad('a APPEND INBOX hi')
    bad('a APPEND INBOX {2}\nhi extra')


def test_idle_and_selected_state_commands():
    assert parse("A002 IDLE") == Idle("A002")                     # RFC 9051 §6.3.13
    assert parse("A341 CLOSE") == Close("A341")                   # §6.4.1
    assert parse("A342 UNSELECT") == Unselect("A342")             # §6.4.2, RFC 3691
    assert parse("A202 EXPUNGE") == Expunge("A202")               # §6.4.3
    assert parse("a CHECK") == Check("a")                         # RFC 3501 §6.4.1
    assert parse("A003 UID EXPUNGE 3000:3002") == UidExpunge("A003", S("3000:3002"))   # §6.4.9, RFC 4315
    assert UidExpunge.name == "UID EXPUNGE"


def test_copy_move():
    assert parse("A003 COPY 2:4 MEETING") == Copy("A003", S("2:4"), "MEETING")           # RFC 9051 §6.4.7
    assert parse("A005 UID COPY 305:310 meeting") == Copy("A005", S("305:310"), "meeting", uid=True)
    assert parse('E283 COPY $ "Other Messages"') == Copy("E283", S("$"), "Other Messages")   # §6.4.4.4
    assert parse("a UID MOVE 42:69 foo") == Move("a", S("42:69"), "foo", uid=True)        # §6.4.8, RFC 6851
    assert parse("n1 uid copy 1:* oldmail") == Copy("n1", S("1:*"), "oldmail", uid=True)


def test_store():
    # RFC 9051 §6.4.6
    assert parse("A003 STORE 2:4 +FLAGS (\\Deleted)") == Store("A003", S("2:4"), "+", ("\\Deleted",))
    assert parse("F284 STORE $ +FLAGS.Silent (\\Deleted)") == Store("F284", S("$"), "+", ("\\Deleted",), silent=True)
    assert parse("a005 store 12 +flags \\deleted") == Store("a005", S("12"), "+", ("\\Deleted",))   # §8
    assert parse("m STORE 42 FLAGS f1 f2 f3").flags == ("f1", "f2", "f3")                   # §7.1
    assert parse("a STORE 1 -FLAGS ()") == Store("a", S("1"), "-", ())
    # RFC 7162 §3.1.3 example.
    cmd = parse("d105 UID STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)")
    assert cmd == Store("d105", S("7,5,9"), "+", ("\\Deleted",), True, True, 320162338)
    bad("a STORE 1 FLAGSX (\\Seen)")
    bad("a STORE 1 +FLAGS")
    bad("a STORE 1 (FOO 1) FLAGS (\\Seen)")


def test_id():
    # RFC 2971 §3.1 example.
    cmd = parse('a023 ID ("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")')
    assert cmd == Id("a023", {"name": "sodr", "version": "19.34", "vendor": "Pink Floyd Music Limited"})
    assert parse("a ID NIL") == Id("a", None)
    assert parse('a ID ("Name" NIL)').params == {"name": None}
    bad('a ID ("x" "' + "v" * 1025 + '")')
    bad("a ID (" + " ".join(f'"f{i}" NIL' for i in range(31)) + ")")


def test_refusals_carry_the_tag():
    assert bad("A442 XPIG-LATIN").tag == "A442"                  # RFC 9051 §6.5
    assert bad("a NOOP extra").tag == "a"
    assert bad("a  NOOP").tag == "a"                              # RFC 9051 §9 note 2: one SP
    assert bad("+ NOOP").tag is None                              # RFC 9051 §9 tag: no "+"
    assert bad("").tag is None                                    # RFC 9051 §7.1.3 "...empty line..."
    assert bad("a UID NOOP").tag == "a"
    assert bad("a LOGIN fred").tag == "a"


def test_tags_are_astring_chars_except_plus():
    assert parse("a.b-c]1 NOOP").tag == "a.b-c]1"
    bad("a+b NOOP")
    bad("a*b NOOP")


def test_keywords_are_case_insensitive():
    assert parse("a uid fetch 1 flags").uid
    assert parse("x Login u p") == Login("x", "u", "p")


def test_mailbox_names():
    # RFC 9051 §9 mailbox: all case variants of INBOX are INBOX.
    assert parse("a SELECT iNbOx").mailbox == "INBOX"
    assert parse('a SELECT "InBox"').mailbox == "INBOX"
    assert parse("a SELECT INBOX.sub").mailbox == "INBOX.sub"
    # RFC 3501 §5.1.3: rev1 clients send modified UTF-7.
    assert parse("a CREATE ~peter/mail/&U,BTFw-/&ZeVnLIqe-").mailbox == "~peter/mail/台北/日本語"
    assert bad("a CREATE &Jjo").tag == "a"
    assert bad('a CREATE "caf\u00e9"').text == "Mailbox name is not valid modified UTF-7"
    # RFC 9051 §5.1 (IMAP4rev2, UTF8=ACCEPT): UTF-8 as sent, "&" is just "&".
    assert parse('a CREATE "caf\u00e9"', utf8=True).mailbox == "café"
    assert parse("a CREATE &U,BTFw-", utf8=True).mailbox == "&U,BTFw-"
    assert parse("a CREATE {5}\ncaf\u00e9", utf8=True).mailbox == "café"


def test_strings():
    assert parse(r'a LOGIN "a\"b" "c\\d"') == Login("a", 'a"b', "c\\d")
    bad(r'a LOGIN "a\b" c')                     # RFC 9051 §9 QUOTED-CHAR: only \" and \\
    bad(b'a LOGIN "a\xffb" c\r\n')              # not UTF-8
    bad(b'a LOGIN "a\x00b" c\r\n')              # RFC 9051 §9 note 3: no NUL


@pytest.mark.parametrize("line", ["A999 UID FETCH 4827313:4828442 FLAGS", "h search from maria@example.com"])
def test_rfc9051_section_7_examples_parse(line):
    parse(line)


def test_sample_connection_section_8():
    # RFC 9051 §8, the client side.
    for line in ["a000 starttls", "A001 AUTHENTICATE SCRAM-SHA-256", "babc ENABLE IMAP4rev2",
                 "a002 select inbox", "a003 fetch 12 full", "a004 fetch 12 body[header]",
                 "a005 store 12 +flags \\deleted", "a006 logout"]:
        parse(line)
    assert parse("a SEARCH ALL").criteria == All()
    assert parse("a SEARCH SEEN").criteria == Flag("\\Seen")
