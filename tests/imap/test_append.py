"""APPEND: MULTIAPPEND all or nothing, APPENDLIMIT, literal8 and the UTF8 data item, and line
ends made CRLF so that every count of the message agrees with what is sent (IMAP RFC822.SIZE,
POP3 LIST, POP3 RETR)."""

from __future__ import annotations

import imaplib
import poplib
import re

from tests.conftest import TEST_CONFIG, provision, start_server
from tests.imap.test_session_flow import PASSWORDS, connect, logged_in

USER = "alice@example.test"


def message(subject: str, body: str = "Body.\r\n") -> bytes:
    return f"From: a@example.test\r\nSubject: {subject}\r\n\r\n{body}".encode()


def literal(data: bytes, prefix: bytes = b"") -> bytes:
    return prefix + b"{%d+}\r\n" % len(data) + data


def uids_in(imap: imaplib.IMAP4, box: str) -> list[int]:
    imap.select(box)
    typ, data = imap.uid("SEARCH", None, "ALL")
    return [int(x) for x in data[0].split()]


def test_multiappend_stores_all_with_one_appenduid(mail_server):
    with connect(mail_server, USER) as imap:
        imap.create("Multi")
    raw = logged_in(mail_server, USER)
    try:
        # RFC 3502 §6.3.11: several messages in one APPEND; RFC 4315 §3: APPENDUID names them all.
        raw.send(b"a APPEND Multi " + literal(message("m1")) + b" (\\Seen) " + literal(message("m2"))
                 + b' "01-Jan-2020 10:00:00 +0000" ' + literal(message("m3")) + b"\r\n")
        done = raw.until(b"a ")[-1]
        found = re.match(rb"a OK \[APPENDUID (\d+) (\d+):(\d+)\]", done)
        assert found, done
        assert int(found[3]) - int(found[2]) == 2
    finally:
        raw.close()
    with connect(mail_server, USER) as imap:
        assert len(uids_in(imap, "Multi")) == 3
        typ, data = imap.fetch("1:3", "(FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        text = b" ".join(d[0] if isinstance(d, tuple) else d for d in data)
        assert text.count(b"\\Seen") == 1 and b"\" 1-Jan-2020 10:00:00 +0000\"" in text  # RFC 9051 §9 date-day-fixed


def test_multiappend_is_all_or_nothing(mail_server):
    with connect(mail_server, USER) as imap:
        imap.create("AllOrNone")
    raw = logged_in(mail_server, USER)
    try:
        # RFC 3502 §6.3.11: if any message fails, none is appended. The second holds a NUL in a
        # plain literal, which RFC 9051 §4.3 does not allow.
        raw.send(b"a APPEND AllOrNone " + literal(message("fine")) + b" " + literal(b"Subject: x\r\n\r\nnul\0\r\n")
                 + b"\r\n")
        assert raw.until(b"a ")[-1].startswith(b"a BAD")
        raw.send(b"b NOOP\r\n")
        assert raw.line().startswith(b"b OK")
    finally:
        raw.close()
    with connect(mail_server, USER) as imap:
        assert uids_in(imap, "AllOrNone") == []


def test_literal8_keeps_binary_content(mail_server):
    with connect(mail_server, USER) as imap:
        imap.create("Binary")
    content = (b"Subject: bin\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n"
               + bytes(range(256)) + b"\r\n")
    raw = logged_in(mail_server, USER)
    try:
        # RFC 3516 §4.4: literal8 carries binary octets, NUL included.
        raw.send(b"a APPEND Binary " + literal(content, b"~") + b"\r\n")
        assert raw.until(b"a ")[-1].startswith(b"a OK [APPENDUID")
    finally:
        raw.close()
    with connect(mail_server, USER) as imap:
        imap.select("Binary")
        typ, data = imap.fetch("1", "(RFC822.SIZE)")
        assert b"RFC822.SIZE %d" % len(content) in data[0]


def test_bare_line_ends_become_crlf_so_sizes_agree(mail_server):
    user = "carol@example.test"
    with connect(mail_server, user) as imap:
        typ, data = imap.select("INBOX")
        before = int(data[0])
        # RFC 5322 §2.1: lines end with CRLF; a client that sends LF alone gets CRLF stored.
        typ, data = imap.append("INBOX", None, None, b"Subject: lf\n\nline one\nline two\r\nend\r")
        assert typ == "OK"
        imap.select("INBOX")
        typ, data = imap.fetch(str(before + 1), "(RFC822.SIZE BODY.PEEK[])")
        stored = data[0][1]
        assert stored == b"Subject: lf\r\n\r\nline one\r\nline two\r\nend\r\n"
        assert b"RFC822.SIZE %d" % len(stored) in data[0][0]
    pop = poplib.POP3(*mail_server.listeners["pop3"])
    try:
        pop.user(user)
        pop.pass_(PASSWORDS[user])
        count, _ = pop.stat()
        size = int(pop.list(count).split()[2])  # RFC 1939 §5 LIST: the exact octets RETR sends
        lines = pop.retr(count)[1]
        assert size == len(stored)
        assert b"\r\n".join(lines) + b"\r\n" == stored
    finally:
        pop.quit()


def test_eight_bit_header_needs_utf8_accept(mail_server):
    with connect(mail_server, USER) as imap:
        imap.create("Utf8Box")
    content = "Subject: Grüße\r\nFrom: jörg@example.test\r\n\r\nHallo.\r\n".encode()
    raw = logged_in(mail_server, USER)
    try:
        # RFC 6855 §4: without ENABLE UTF8=ACCEPT, 8-bit header fields are refused with NO.
        raw.send(b"a APPEND Utf8Box " + literal(content) + b"\r\n")
        assert raw.until(b"a ")[-1].startswith(b"a NO")
        raw.send(b"e ENABLE UTF8=ACCEPT\r\n")
        raw.until(b"e ")
        # RFC 6855 §4: the UTF8 data item carries such a message as literal8.
        raw.send(b"b APPEND Utf8Box UTF8 (" + literal(content, b"~") + b")\r\n")
        assert raw.until(b"b ")[-1].startswith(b"b OK [APPENDUID")
        raw.send(b"s SELECT Utf8Box\r\nf FETCH 1 BODY.PEEK[]\r\n")
        raw.until(b"s OK")
        lines = raw.until(b"f ")
        assert lines[-1].startswith(b"f OK")
    finally:
        raw.close()
    with connect(mail_server, USER) as imap:
        imap.select("Utf8Box")
        assert imap.fetch("1", "(BODY.PEEK[])")[1][0][1] == content


def test_empty_message_is_refused(mail_server):
    raw = logged_in(mail_server, USER)
    try:
        raw.send(b"a APPEND INBOX {0+}\r\n\r\n")
        assert raw.until(b"a ")[-1].startswith(b"a NO [CANNOT]")
    finally:
        raw.close()


def test_appendlimit_refuses_before_reading(tmp_path):
    data_dir = tmp_path / "data"
    provision(data_dir)
    server = start_server(data_dir, TEST_CONFIG + "[imap]\nmax_append_bytes = 1000\n")
    try:
        host, port = server.listeners["imap"]
        with imaplib.IMAP4(host, port) as imap:
            assert "APPENDLIMIT=1000" in imap.capabilities  # RFC 7889 §3
        raw = logged_in(server, USER)
        try:
            # RFC 7888 §4: a literal over the limit is refused at its announcement with [TOOBIG];
            # for a synchronizing one no "+" is sent, so its octets never come.
            raw.send(b"a APPEND INBOX {5000}\r\n")
            assert raw.line().startswith(b"a BAD [TOOBIG]")
            raw.send(b"b APPEND INBOX " + literal(message("small")) + b"\r\n")
            assert raw.until(b"b ")[-1].startswith(b"b OK")
        finally:
            raw.close()
    finally:
        server.stop()
