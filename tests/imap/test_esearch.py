"""ESEARCH (RFC 4731), SEARCHRES (RFC 5182) and the IMAP4rev2 SEARCH (RFC 9051 §6.4.4, §6.4.4.1,
§7.3.4) end to end: the RFC examples against the real server, over a raw socket so that every
response line is checked as a client reads it.

Each test builds its own mailbox of 22 messages shaped so that the RFC examples give the RFC's
answers (see `fill_rfc`); the mailbox first held one message that was expunged, so UIDs are one
above sequence numbers, and "$" shows it maps between the two."""

from __future__ import annotations

import imaplib
import re
from datetime import datetime, timezone

from tests.imap.test_session_flow import PASSWORDS, Raw, connect

USER = "alice@example.test"
OLD = datetime(2005, 6, 1, 12, 0, tzinfo=timezone.utc)
NEW = datetime(2006, 3, 1, 12, 0, tzinfo=timezone.utc)

# Sequence numbers in the RFC mailbox.
FLAGGED = {2, 5, 10, 11}  # 5 is from Smith: FLAGGED NOT FROM "Smith" is 2,10:11 (RFC 4731 §3.1)
SEEN = {1, 2, 3}  # the first unseen is 4 (RFC 4731 §3.1, "SEARCH RETURN (MIN) UNSEEN")
DELETED = {7, 8, 9}
JUNK = {3, 4, 17}  # keyword $Junk (RFC 9051 §6.4.4.4 example 7)
RECENT = {2, 5, 10, 11, 12, 13, 14, 15, 21}  # internal date 1-Mar-2006; the others 1-Jun-2005
SMITH = {5}
LARGE = {11, 13}  # over 4096 octets (RFC 9051 §6.4.4.4 example 3, SMALLER 4096)
# SINCE 12-Feb-2006 NOT FROM "Smith" is 2,10:15,21, the set of RFC 9051 §6.4.4.4 example 10.
SINCE_NOT_SMITH = 'SINCE 12-Feb-2006 NOT FROM "Smith"'
FLAGGED_NOT_SMITH = 'FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"'


def rfc_message(n: int) -> bytes:
    sender = "Smith <smith@example.test>" if n in SMITH else "Eric <eric@example.test>"
    body = ("x" * 70 + "\r\n") * 80 if n in LARGE else f"Message number {n}.\r\n"
    return f"From: {sender}\r\nTo: alice@example.test\r\nSubject: m{n}\r\n\r\n{body}".encode()


def fill_rfc(imap: imaplib.IMAP4, box: str) -> list[int]:
    """Creates `box` with the 22 messages described above; returns their UIDs by sequence number
    (index 0 is message 1)."""
    assert imap.create(box)[0] == "OK"
    typ, _ = imap.append(box, "(\\Deleted)", None, b"Subject: gone\r\n\r\nExpunged at once.\r\n")
    assert typ == "OK"
    imap.select(box)
    assert imap.expunge()[0] == "OK"
    imap.close()
    uids = []
    for n in range(1, 23):
        flags = ([r"\Flagged"] * (n in FLAGGED) + [r"\Seen"] * (n in SEEN) + [r"\Deleted"] * (n in DELETED)
                 + ["$Junk"] * (n in JUNK))
        typ, data = imap.append(box, "(" + " ".join(flags) + ")", NEW if n in RECENT else OLD, rfc_message(n))
        m = re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0])
        assert typ == "OK" and m, data
        uids.append(int(m.group(1)))
    assert uids[0] > 1  # the expunged message took the first UID
    return uids


def open_rfc(server, box: str, *, rev2: bool = False) -> tuple[Raw, list[int]]:
    """The RFC mailbox `box`, filled, and a raw session that has it selected."""
    with connect(server, USER) as imap:
        uids = fill_rfc(imap, box)
    raw = Raw(server)
    run(raw, f'l LOGIN {USER} "{PASSWORDS[USER]}"')
    if rev2:
        assert run(raw, "e ENABLE IMAP4rev2")[0] == b"* ENABLED IMAP4rev2"
    assert run(raw, f"s SELECT {box}")[-1].startswith(b"s OK")
    return raw, uids


def run(raw: Raw, line: str) -> list[bytes]:
    """Sends one command; its response lines, the tagged one last."""
    tag = line.split(" ", 1)[0]
    raw.send(line.encode() + b"\r\n")
    return raw.until(tag.encode() + b" ")


def ok(lines: list[bytes], tag: str) -> list[bytes]:
    """The untagged lines of a command that must have succeeded."""
    assert lines[-1].startswith(f"{tag} OK".encode()), lines
    return lines[:-1]


def uid_list(uids: list[int], seqs) -> str:
    return " ".join(str(uids[n - 1]) for n in sorted(seqs))


def saved_seqs(raw: Raw) -> bytes:
    """What "$" holds now, as message numbers, read with a SEARCH that does not SAVE."""
    lines = ok(run(raw, "d SEARCH RETURN (ALL) $"), "d")
    assert len(lines) == 1 and lines[0].startswith(b'* ESEARCH (TAG "d")'), lines
    return lines[0][len(b'* ESEARCH (TAG "d")'):].strip()


# --- capabilities ---------------------------------------------------------------------------------

def test_capability_lists_esearch_searchres_and_binary(mail_server):
    raw = Raw(mail_server)
    try:
        # RFC 4731 §4, RFC 5182 §3, RFC 3516 §4.1: advertised before and after login.
        greeting = re.search(rb"\[CAPABILITY ([^]]*)\]", raw.greeting)[1]
        assert {b"ESEARCH", b"SEARCHRES", b"BINARY"} <= set(greeting.split())
        run(raw, f'l LOGIN {USER} "{PASSWORDS[USER]}"')
        caps = set(ok(run(raw, "c CAPABILITY"), "c")[0].split())
        assert {b"ESEARCH", b"SEARCHRES", b"BINARY"} <= caps
    finally:
        raw.close()


# --- ESEARCH (RFC 4731) ---------------------------------------------------------------------------

def test_rfc4731_examples(mail_server):
    raw, uids = open_rfc(mail_server, "Esearch4731")
    try:
        # RFC 4731 §3.1, first example: MIN and COUNT of FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith".
        assert run(raw, f"A282 SEARCH RETURN (MIN COUNT) {FLAGGED_NOT_SMITH}") == [
            b'* ESEARCH (TAG "A282") MIN 2 COUNT 3', b"A282 OK SEARCH completed"]
        # RETURN () is ALL, as a sequence-set.
        assert run(raw, f"A283 SEARCH RETURN () {FLAGGED_NOT_SMITH}") == [
            b'* ESEARCH (TAG "A283") ALL 2,10:11', b"A283 OK SEARCH completed"]
        # The first unseen message.
        assert ok(run(raw, "A284 SEARCH RETURN (MIN) UNSEEN"), "A284") == [b'* ESEARCH (TAG "A284") MIN 4']
        # UID SEARCH: the UID indicator, and UIDs in the data (the set 1:5000 is message numbers).
        assert ok(run(raw, "A285 UID SEARCH RETURN (MIN MAX) 1:5000"), "A285") == [
            f'* ESEARCH (TAG "A285") UID MIN {uids[0]} MAX {uids[21]}'.encode()]
        # The number of deleted messages.
        assert ok(run(raw, "A286 SEARCH RETURN (COUNT) DELETED"), "A286") == [b'* ESEARCH (TAG "A286") COUNT 3']
    finally:
        raw.close()


def test_esearch_all_is_a_compressed_set_of_numbers_or_uids(mail_server):
    raw, uids = open_rfc(mail_server, "EsearchAll")
    try:
        # RFC 4731 §3.1: ALL uses the sequence-set syntax; RFC 9051 §7.3.4 shows COUNT before ALL.
        assert ok(run(raw, f"a SEARCH RETURN (MIN MAX ALL COUNT) {SINCE_NOT_SMITH}"), "a") == [
            b'* ESEARCH (TAG "a") MIN 2 MAX 21 COUNT 8 ALL 2,10:15,21']
        assert ok(run(raw, f"b UID SEARCH RETURN (ALL) {SINCE_NOT_SMITH}"), "b") == [
            f'* ESEARCH (TAG "b") UID ALL {uids[1]},{uids[9]}:{uids[14]},{uids[20]}'.encode()]
        # Options repeat or come in any order; each item is answered once (RFC 9051 §7.3.4).
        assert ok(run(raw, "c SEARCH RETURN (COUNT MIN COUNT) ALL"), "c") == [b'* ESEARCH (TAG "c") MIN 1 COUNT 22']
        # The ALL set can be used as it is in another command (RFC 4731 §3.1).
        lines = ok(run(raw, "d FETCH 2,10:15,21 (UID)"), "d")
        assert len(lines) == 8
    finally:
        raw.close()


def test_esearch_when_nothing_matches(mail_server):
    raw, _ = open_rfc(mail_server, "EsearchNone")
    try:
        # RFC 4731 §3.1: no MIN, MAX or ALL when nothing matched, but still the ESEARCH response;
        # COUNT is always there when asked for.
        assert run(raw, 'a SEARCH RETURN (MIN MAX ALL COUNT) SUBJECT "no such subject"') == [
            b'* ESEARCH (TAG "a") COUNT 0', b"a OK SEARCH completed"]
        assert ok(run(raw, 'b UID SEARCH RETURN (MIN MAX ALL) SUBJECT "no such subject"'), "b") == [
            b'* ESEARCH (TAG "b") UID']
        assert ok(run(raw, 'c SEARCH RETURN () SUBJECT "no such subject"'), "c") == [b'* ESEARCH (TAG "c")']
    finally:
        raw.close()


def test_plain_search_still_answers_search_in_imap4rev1(mail_server):
    raw, uids = open_rfc(mail_server, "EsearchPlain")
    try:
        # RFC 3501 §7.2.5: without RETURN an IMAP4rev1 client gets the SEARCH response it knows.
        assert ok(run(raw, "a SEARCH FLAGGED"), "a") == [b"* SEARCH 2 5 10 11"]
        assert ok(run(raw, "b UID SEARCH FLAGGED"), "b") == [f"* SEARCH {uid_list(uids, FLAGGED)}".encode()]
    finally:
        raw.close()


def test_unknown_return_option_is_bad(mail_server):
    raw, _ = open_rfc(mail_server, "EsearchBad")
    try:
        # RFC 9051 §6.4.4: options not defined by a supported extension MUST be rejected with BAD.
        assert run(raw, "a SEARCH RETURN (PARTIAL 1:10) ALL")[-1].startswith(b"a BAD")
    finally:
        raw.close()


# --- IMAP4rev2 SEARCH (RFC 9051 §6.4.4, §7.3.4) ---------------------------------------------------

def test_imap4rev2_search_always_answers_esearch(mail_server):
    raw, uids = open_rfc(mail_server, "EsearchRev2", rev2=True)
    try:
        # RFC 9051 §6.4.4: no result option means ALL; the answer is ESEARCH, never SEARCH.
        assert run(raw, f"A283 SEARCH {FLAGGED_NOT_SMITH}") == [
            b'* ESEARCH (TAG "A283") ALL 2,10:11', b"A283 OK SEARCH completed"]
        assert ok(run(raw, "b UID SEARCH FLAGGED"), "b") == [
            f'* ESEARCH (TAG "b") UID ALL {uids[1]},{uids[4]},{uids[9]}:{uids[10]}'.encode()]
        # RFC 9051 §6.4.4 example: nothing found is an ESEARCH with the tag alone.
        assert run(raw, 'A284 SEARCH TEXT "string not in mailbox"') == [
            b'* ESEARCH (TAG "A284")', b"A284 OK SEARCH completed"]
        assert ok(run(raw, "A286 SEARCH RETURN (COUNT) DELETED"), "A286") == [b'* ESEARCH (TAG "A286") COUNT 3']
        # SAVE alone suppresses the ESEARCH response; "$" is then used (RFC 9051 §6.4.4.4 example 3).
        assert run(raw, f"A300 SEARCH RETURN (SAVE) {SINCE_NOT_SMITH}") == [b"A300 OK SEARCH completed"]
        expected = f"{uids[1]},{uids[9]},{uids[11]},{uids[13]}:{uids[14]},{uids[20]}"
        assert ok(run(raw, "A301 UID SEARCH UID $ SMALLER 4096"), "A301") == [
            f'* ESEARCH (TAG "A301") UID ALL {expected}'.encode()]
        assert ok(run(raw, "A302 UID SEARCH $ SMALLER 4096"), "A302") == [
            f'* ESEARCH (TAG "A302") UID ALL {expected}'.encode()]
    finally:
        raw.close()


# --- SEARCHRES (RFC 5182, RFC 9051 §6.4.4.1) ------------------------------------------------------

def test_save_then_fetch_dollar_examples_1_and_2(mail_server):
    raw, uids = open_rfc(mail_server, "SaveFetch")
    try:
        # RFC 9051 §6.4.4.4 example 1: SAVE alone answers only the tagged OK.
        assert run(raw, f"A282 SEARCH RETURN (SAVE) {FLAGGED_NOT_SMITH}") == [b"A282 OK SEARCH completed"]
        assert ok(run(raw, "A283 FETCH $ (UID FLAGS)"), "A283") == [
            f"* 2 FETCH (UID {uids[1]} FLAGS (\\Flagged \\Seen))".encode(),
            f"* 10 FETCH (UID {uids[9]} FLAGS (\\Flagged))".encode(),
            f"* 11 FETCH (UID {uids[10]} FLAGS (\\Flagged))".encode()]
        # Example 2: the same pipelined; the server runs them in order (RFC 9051 §6.4.4.2).
        raw.send(f"B282 SEARCH RETURN (SAVE) {SINCE_NOT_SMITH}\r\nB283 FETCH $ (UID)\r\n".encode())
        assert raw.until(b"B282 ") == [b"B282 OK SEARCH completed"]
        lines = ok(raw.until(b"B283 "), "B283")
        assert [int(line.split()[1]) for line in lines] == [2, 10, 11, 12, 13, 14, 15, 21]
    finally:
        raw.close()


def test_dollar_in_search_examples_3_and_4(mail_server):
    raw, uids = open_rfc(mail_server, "SaveSearch")
    try:
        assert run(raw, f"A300 SEARCH RETURN (SAVE) {SINCE_NOT_SMITH}") == [b"A300 OK SEARCH completed"]
        # Example 3: UID $ and $ name the same messages, in a UID SEARCH too.
        expected = f"* SEARCH {uid_list(uids, {2, 10, 12, 14, 15, 21})}".encode()
        assert ok(run(raw, "A301 UID SEARCH UID $ SMALLER 4096"), "A301") == [expected]
        assert ok(run(raw, "A302 UID SEARCH $ SMALLER 4096"), "A302") == [expected]
        # Example 4: "$" combined with other numbers by OR.
        assert ok(run(raw, "P283 SEARCH RETURN (ALL) OR $ 1,3 UNDELETED"), "P283") == [
            b'* ESEARCH (TAG "P283") ALL 1:3,10:15,21']
        # Searching with "$" does not change it (RFC 9051 §6.4.4.1: no SAVE, no change).
        assert saved_seqs(raw) == b"ALL 2,10:15,21"
    finally:
        raw.close()


def test_bad_search_keeps_dollar_and_empty_save_empties_it(mail_server):
    raw, _ = open_rfc(mail_server, "SaveFail")
    try:
        assert run(raw, f"B282 SEARCH RETURN (SAVE) {FLAGGED_NOT_SMITH}") == [b"B282 OK SEARCH completed"]
        # RFC 9051 §6.4.4.1: a SEARCH answered BAD MUST NOT change "$", SAVE or not.
        lines = run(raw, 'B283 SEARCH RETURN (SAVE) (OR $ 1,3000:3021) NOSUCHKEY "XXXX"')
        assert lines[-1].startswith(b"B283 BAD")
        assert saved_seqs(raw) == b"ALL 2,10:11"
        # A SAVE that finds nothing leaves "$" empty (§6.4.4.1: "the empty sequence").
        assert run(raw, 'B284 SEARCH RETURN (SAVE) SUBJECT "no such subject"') == [b"B284 OK SEARCH completed"]
        assert saved_seqs(raw) == b""
    finally:
        raw.close()


def test_empty_dollar_is_valid_and_matches_nothing_example_6(mail_server):
    raw, _ = open_rfc(mail_server, "SaveEmpty")
    try:
        run(raw, "c CREATE SaveEmptyOther")
        # Before any SAVE, "$" is the empty sequence (RFC 9051 §6.4.4.1): OK and nothing done.
        assert run(raw, "f FETCH $ (UID)") == [b"f OK FETCH completed"]
        assert run(raw, "g UID FETCH $ (UID)") == [b"g OK FETCH completed"]
        assert run(raw, "s STORE $ +FLAGS (\\Answered)") == [b"s OK STORE completed"]
        assert ok(run(raw, "q SEARCH $"), "q") == [b"* SEARCH"]
        # Example 6: SAVE finds nothing, then COPY $ copies nothing, successfully.
        raw.send(b'E282 SEARCH RETURN (SAVE) SINCE 28-Oct-2006 NOT FROM "Eric"\r\nE283 COPY $ SaveEmptyOther\r\n')
        assert raw.until(b"E282 ") == [b"E282 OK SEARCH completed"]
        assert raw.until(b"E283 ")[-1].startswith(b"E283 OK")
        status = ok(run(raw, "t STATUS SaveEmptyOther (MESSAGES)"), "t")
        assert status == [b"* STATUS SaveEmptyOther (MESSAGES 0)"]
        assert ok(run(raw, "a SEARCH ANSWERED"), "a") == [b"* SEARCH"]
    finally:
        raw.close()


def test_pipelined_save_copy_store_example_7(mail_server):
    raw, uids = open_rfc(mail_server, "SaveJunk")
    try:
        run(raw, "c CREATE SaveJunkTo")
        raw.send(b"F282 SEARCH RETURN (SAVE) KEYWORD $Junk\r\nF283 COPY $ SaveJunkTo\r\n"
                 b"F284 STORE $ +FLAGS.Silent (\\Deleted)\r\n")
        assert raw.until(b"F282 ") == [b"F282 OK SEARCH completed"]
        copied = raw.until(b"F283 ")
        assert copied[-1].startswith(b"F283 OK [COPYUID ")
        assert f" {uids[2]}:{uids[3]},{uids[16]} ".encode() in copied[-1]  # RFC 4315 §3: what "$" held
        assert raw.until(b"F284 ") == [b"F284 OK STORE completed"]
        assert ok(run(raw, "a SEARCH RETURN (ALL) DELETED"), "a") == [b'* ESEARCH (TAG "a") ALL 3:4,7:9,17']
        assert ok(run(raw, "t STATUS SaveJunkTo (MESSAGES)"), "t") == [b"* STATUS SaveJunkTo (MESSAGES 3)"]
    finally:
        raw.close()


def test_what_save_keeps_with_min_max_all_count_example_10(mail_server):
    raw, _ = open_rfc(mail_server, "SaveCombos")
    try:
        # RFC 9051 §6.4.4.4 example 10 and §6.4.4.1 table 4 (RFC 5182 §2.4).
        assert ok(run(raw, f"C282 SEARCH RETURN (ALL) {SINCE_NOT_SMITH}"), "C282") == [
            b'* ESEARCH (TAG "C282") ALL 2,10:15,21']
        assert saved_seqs(raw) == b""  # no SAVE: "$" has not changed
        assert ok(run(raw, f"C283 SEARCH RETURN (ALL SAVE) {SINCE_NOT_SMITH}"), "C283") == [
            b'* ESEARCH (TAG "C283") ALL 2,10:15,21']
        assert saved_seqs(raw) == b"ALL 2,10:15,21"
        assert ok(run(raw, f"C284 SEARCH RETURN (SAVE MIN) {SINCE_NOT_SMITH}"), "C284") == [
            b'* ESEARCH (TAG "C284") MIN 2']
        assert saved_seqs(raw) == b"ALL 2"
        assert ok(run(raw, f"C285 SEARCH RETURN (MAX SAVE MIN) {SINCE_NOT_SMITH}"), "C285") == [
            b'* ESEARCH (TAG "C285") MIN 2 MAX 21']
        assert saved_seqs(raw) == b"ALL 2,21"
        assert ok(run(raw, f"C286 SEARCH RETURN (MAX SAVE MIN COUNT) {SINCE_NOT_SMITH}"), "C286") == [
            b'* ESEARCH (TAG "C286") MIN 2 MAX 21 COUNT 8']
        assert saved_seqs(raw) == b"ALL 2,10:15,21"
        assert ok(run(raw, f"C287 SEARCH RETURN (SAVE MAX) {SINCE_NOT_SMITH}"), "C287") == [
            b'* ESEARCH (TAG "C287") MAX 21']
        assert saved_seqs(raw) == b"ALL 21"
        assert ok(run(raw, f"C288 SEARCH RETURN (ALL SAVE MIN) {SINCE_NOT_SMITH}"), "C288") == [
            b'* ESEARCH (TAG "C288") MIN 2 ALL 2,10:15,21']
        assert saved_seqs(raw) == b"ALL 2,10:15,21"
        # Example 9: the latest SAVE wins.
        raw.send(b"H282 SEARCH RETURN (SAVE) KEYWORD $Junk\r\nH283 SEARCH RETURN (SAVE) FLAGGED\r\n")
        assert raw.until(b"H282 ") == [b"H282 OK SEARCH completed"]
        assert raw.until(b"H283 ") == [b"H283 OK SEARCH completed"]
        assert saved_seqs(raw) == b"ALL 2,5,10:11"
    finally:
        raw.close()


def test_dollar_maps_between_uids_and_numbers(mail_server):
    raw, uids = open_rfc(mail_server, "SaveForms")
    try:
        run(raw, "c CREATE SaveFormsTo")
        # RFC 9051 §6.4.4.1: a UID SEARCH result used by FETCH (numbers), and the other way.
        assert run(raw, "a UID SEARCH RETURN (SAVE) KEYWORD $Junk") == [b"a OK SEARCH completed"]
        assert ok(run(raw, "f FETCH $ (UID)"), "f") == [
            f"* {n} FETCH (UID {uids[n - 1]})".encode() for n in sorted(JUNK)]
        assert run(raw, "b SEARCH RETURN (SAVE) FLAGGED") == [b"b OK SEARCH completed"]
        seen = {n: " \\Seen" if n in SEEN else "" for n in FLAGGED}
        assert ok(run(raw, "u UID FETCH $ (FLAGS)"), "u") == [
            f"* {n} FETCH (UID {uids[n - 1]} FLAGS (\\Flagged{seen[n]}))".encode() for n in sorted(FLAGGED)]
        # UID STORE $ reports each message stored to.
        lines = ok(run(raw, "s UID STORE $ +FLAGS (\\Answered)"), "s")
        assert [int(line.split()[1]) for line in lines] == sorted(FLAGGED)
        assert ok(run(raw, "q SEARCH ANSWERED"), "q") == [b"* SEARCH 2 5 10 11"]
        # UID MOVE $: the moved messages leave the mailbox, and "$" with them.
        lines = run(raw, "m UID MOVE $ SaveFormsTo")
        assert lines[-1].startswith(b"m OK")
        assert [line for line in lines if line.endswith(b"EXPUNGE")] == [
            b"* 2 EXPUNGE", b"* 4 EXPUNGE", b"* 8 EXPUNGE", b"* 8 EXPUNGE"]
        assert saved_seqs(raw) == b""
        assert ok(run(raw, "t STATUS SaveFormsTo (MESSAGES)"), "t") == [b"* STATUS SaveFormsTo (MESSAGES 4)"]
    finally:
        raw.close()


def test_expunged_messages_leave_dollar(mail_server):
    raw, uids = open_rfc(mail_server, "SaveExpunge")
    other = connect(mail_server, USER)
    try:
        assert run(raw, "a SEARCH RETURN (SAVE) FLAGGED") == [b"a OK SEARCH completed"]
        # Our own EXPUNGE (RFC 9051 §6.4.4.1: an expunged message is removed from "$"); what is
        # left is renumbered with the mailbox: 11 becomes 10, the \Deleted 7:9 are gone too.
        run(raw, "s STORE 10 +FLAGS.SILENT (\\Deleted)")
        assert ok(run(raw, "x EXPUNGE"), "x") == [b"* 7 EXPUNGE"] * 4
        assert saved_seqs(raw) == b"ALL 2,5,7"
        # Another session's expunge: once reported, the message is not in "$" either.
        other.select("SaveExpunge")
        other.store("2", "+FLAGS.SILENT", "(\\Deleted)")
        other.expunge()
        assert ok(run(raw, "n NOOP"), "n") == [b"* 2 EXPUNGE"]
        assert ok(run(raw, "u UID FETCH $ (UID)"), "u") == [
            f"* 4 FETCH (UID {uids[4]})".encode(), f"* 6 FETCH (UID {uids[10]})".encode()]
    finally:
        other.logout()
        raw.close()


def test_select_examine_and_unselect_reset_dollar(mail_server):
    raw, uids = open_rfc(mail_server, "SaveReset")
    try:
        assert run(raw, "a SEARCH RETURN (SAVE) FLAGGED") == [b"a OK SEARCH completed"]
        assert len(ok(run(raw, "f FETCH $ (UID)"), "f")) == 4
        # RFC 9051 §6.4.4.1: a successful SELECT or EXAMINE resets "$" to the empty sequence.
        assert run(raw, "s SELECT SaveReset")[-1].startswith(b"s OK")
        assert run(raw, "g FETCH $ (UID)") == [b"g OK FETCH completed"]
        assert run(raw, "b SEARCH RETURN (SAVE) FLAGGED") == [b"b OK SEARCH completed"]
        assert run(raw, "e EXAMINE SaveReset")[-1].startswith(b"e OK")
        assert run(raw, "h FETCH $ (UID)") == [b"h OK FETCH completed"]
        # UNSELECT leaves the mailbox; the next SELECT starts with "$" empty again.
        assert run(raw, "c SEARCH RETURN (SAVE) FLAGGED") == [b"c OK SEARCH completed"]
        assert run(raw, "u UNSELECT") == [b"u OK UNSELECT completed"]
        assert run(raw, "v FETCH $ (UID)")[-1].startswith(b"v BAD")  # no mailbox selected
        assert run(raw, "s SELECT SaveReset")[-1].startswith(b"s OK")
        assert saved_seqs(raw) == b""
    finally:
        raw.close()


def test_unknown_charset_is_no_badcharset_and_the_session_goes_on(mail_server):
    raw = Raw(mail_server)
    try:
        raw.send(b"l LOGIN carol@example.test carol-secret\r\ns SELECT INBOX\r\n")
        raw.until(b"s ")
        # RFC 9051 §6.4.4: an unsupported charset gets a tagged NO with BADCHARSET and the list.
        raw.send(b"a SEARCH CHARSET KOI8-R SUBJECT x\r\n")
        assert raw.line() == b"a NO [BADCHARSET (US-ASCII UTF-8)] Unsupported charset"
        raw.send(b"b NOOP\r\n")
        assert raw.until(b"b ")[-1].startswith(b"b OK")
    finally:
        raw.close()
