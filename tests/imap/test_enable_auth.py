"""ENABLE (IMAP4rev2, UTF8=ACCEPT), ID, every SASL mechanism with and without SASL-IR, and the
limit on BAD answers in a row, over real sockets."""

from __future__ import annotations

import base64
import imaplib
import time

from tests.conftest import TEST_CONFIG, provision, start_server
from tests.imap.test_session_flow import PASSWORDS, Raw, logged_in
from tests.scram import ScramClient, b64

USER = "bob@example.test"


def test_capabilities_name_what_is_served(mail_server):
    host, port = mail_server.listeners["imap"]
    with imaplib.IMAP4(host, port) as imap:
        caps = set(imap.capabilities)
        # RFC 9051 §7.2.2, RFC 4959 §3, RFC 5161 §4, RFC 2971 §3, RFC 6855 §3, RFC 3502 §3, RFC 7889 §3.
        assert {"IMAP4REV1", "IMAP4REV2", "ENABLE", "ID", "SASL-IR", "AUTH=PLAIN", "AUTH=LOGIN",
                "AUTH=SCRAM-SHA-256", "UTF8=ACCEPT", "MULTIAPPEND"} <= caps
        assert "APPENDLIMIT=26214400" in caps


def test_enable_lists_only_what_it_turned_on(mail_server):
    raw = logged_in(mail_server, USER)
    try:
        # RFC 5161 §3.1: CONDSTORE is not served, so not enabled; UTF8=ACCEPT is (RFC 6855 §3).
        raw.send(b"e1 ENABLE CONDSTORE utf8=accept\r\n")
        assert raw.until(b"e1 ") == [b"* ENABLED UTF8=ACCEPT", b"e1 OK ENABLE completed"]
        # RFC 5161 §3.1: a later ENABLED names only what that command enabled.
        raw.send(b"e2 ENABLE UTF8=ACCEPT IMAP4rev2\r\n")
        assert raw.until(b"e2 ") == [b"* ENABLED IMAP4rev2", b"e2 OK ENABLE completed"]
        # RFC 5161 §3.1: the CAPABILITY list does not change after ENABLE.
        raw.send(b"c CAPABILITY\r\n")
        assert b"IMAP4rev2" in raw.until(b"c ")[0].split()
        # RFC 9051 §6.3.1: ENABLE belongs to the authenticated state, before SELECT.
        raw.send(b"s SELECT INBOX\r\nx ENABLE UTF8=ACCEPT\r\n")
        raw.until(b"s OK")
        assert raw.until(b"x ")[-1].startswith(b"x BAD")
    finally:
        raw.close()


def test_enable_needs_authentication(mail_server):
    raw = Raw(mail_server)
    try:
        raw.send(b"e ENABLE IMAP4rev2\r\n")
        assert raw.line().startswith(b"e BAD")  # RFC 5161 §3.1
    finally:
        raw.close()


def test_rev2_select_sends_list_and_closed_but_no_recent(mail_server):
    raw = logged_in(mail_server, USER)
    try:
        raw.send(b"e ENABLE IMAP4rev2\r\n")
        raw.until(b"e ")
        raw.send(b"s1 SELECT INBOX\r\n")
        lines = raw.until(b"s1 ")
        # RFC 9051 §6.3.2: FLAGS, EXISTS, LIST and the OKs; RECENT and UNSEEN are rev1 only.
        assert any(l.startswith(b"* FLAGS (") for l in lines)
        assert any(l.endswith(b" EXISTS") for l in lines)
        assert b'* LIST (\\HasNoChildren) "/" INBOX' in lines
        assert not any(b"RECENT" in l or b"[UNSEEN" in l for l in lines)
        assert lines[-1].startswith(b"s1 OK [READ-WRITE]")
        # RFC 9051 §6.3.2, §7.1: selecting again closes the first with OK [CLOSED], before the rest.
        raw.send(b"s2 EXAMINE Sent\r\n")
        lines = raw.until(b"s2 ")
        assert lines[0].startswith(b"* OK [CLOSED]")
        assert b'* LIST (\\HasNoChildren \\Sent) "/" Sent' in lines
        assert lines[-1].startswith(b"s2 OK [READ-ONLY]")
    finally:
        raw.close()


def test_rev1_select_keeps_recent_and_sends_no_closed(mail_server):
    raw = logged_in(mail_server, USER)
    try:
        raw.send(b"s1 SELECT INBOX\r\ns2 SELECT INBOX\r\n")
        raw.until(b"s1 ")
        lines = raw.until(b"s2 ")
        assert b"* 0 RECENT" in lines  # RFC 3501 §6.3.1
        assert not any(b"[CLOSED]" in l for l in lines)
    finally:
        raw.close()


def test_utf8_mailbox_names_after_enable(mail_server):
    raw = logged_in(mail_server, USER)
    try:
        # RFC 3501 §5.1.3: a rev1 client names "Entwürfe" in modified UTF-7.
        raw.send(b'c CREATE "Entw&APw-rfe"\r\n')
        assert raw.until(b"c ")[-1].startswith(b"c OK")
        raw.send(b'l LIST "" "Entw*"\r\n')
        assert raw.until(b"l ")[0] == b'* LIST (\\HasNoChildren) "/" Entw&APw-rfe'
        # RFC 6855 §3: after ENABLE UTF8=ACCEPT, the same mailbox is named in UTF-8 both ways.
        raw.send(b"e ENABLE UTF8=ACCEPT\r\n")
        raw.until(b"e ")
        raw.send('l2 LIST "" "Entw*"\r\n'.encode())
        assert raw.until(b"l2 ")[0] == '* LIST (\\HasNoChildren) "/" "Entwürfe"'.encode()
        raw.send('s STATUS "Entwürfe" (MESSAGES)\r\n'.encode())
        assert raw.until(b"s ")[0] == '* STATUS "Entwürfe" (MESSAGES 0)'.encode()
        # RFC 6855 §3: no SEARCH with a charset once UTF-8 is accepted.
        raw.send('x SELECT "Entwürfe"\r\ny SEARCH CHARSET UTF-8 ALL\r\n'.encode())
        raw.until(b"x OK")
        assert raw.until(b"y ")[-1].startswith(b"y BAD")
    finally:
        raw.close()


def test_id_answers_with_the_server_name(mail_server):
    raw = Raw(mail_server)
    try:
        # RFC 2971 §3.1: ID in any state; the server answers with its own fields.
        raw.send(b'i ID ("name" "test client" "version" "1.0")\r\n')
        lines = raw.until(b"i ")
        assert lines[0].startswith(b'* ID ("name" "postoffice"')
        assert lines[-1].startswith(b"i OK")
        raw.send(b"j ID NIL\r\n")
        assert raw.until(b"j ")[-1].startswith(b"j OK")
    finally:
        raw.close()


def test_authenticate_login(mail_server):
    raw = Raw(mail_server)
    try:
        # RFC 9051 §6.2.2: each challenge is a base64 "+" line; LOGIN asks for user then password.
        raw.send(b"a AUTHENTICATE LOGIN\r\n")
        assert raw.line().startswith(b"+ ")
        raw.send(base64.b64encode(USER.encode()) + b"\r\n")
        assert raw.line().startswith(b"+ ")
        raw.send(base64.b64encode(PASSWORDS[USER].encode()) + b"\r\n")
        assert raw.until(b"a ")[-1].startswith(b"a OK")
    finally:
        raw.close()


def test_authenticate_plain_with_initial_response(mail_server):
    raw = Raw(mail_server)
    try:
        # RFC 4959 §3: the initial response on the command line, no empty challenge first.
        ir = base64.b64encode(f"\0{USER}\0{PASSWORDS[USER]}".encode())
        raw.send(b"a AUTHENTICATE PLAIN " + ir + b"\r\n")
        assert raw.until(b"a ")[-1].startswith(b"a OK")
    finally:
        raw.close()
    raw = Raw(mail_server)
    try:
        ir = base64.b64encode(f"\0{USER}\0wrong".encode())
        raw.send(b"a AUTHENTICATE PLAIN " + ir + b"\r\n")
        assert raw.until(b"a ")[-1].startswith(b"a NO [AUTHENTICATIONFAILED]")  # RFC 5530 §3
        raw.send(b"b NOOP\r\n")
        assert raw.line().startswith(b"b OK")  # the connection survives
    finally:
        raw.close()


def test_authenticate_scram_sha_256(mail_server):
    for initial_response in (False, True):
        raw = Raw(mail_server)
        try:
            client = ScramClient(USER, PASSWORDS[USER])
            if initial_response:
                raw.send(b"a AUTHENTICATE SCRAM-SHA-256 " + b64(client.first()).encode() + b"\r\n")
            else:
                raw.send(b"a AUTHENTICATE SCRAM-SHA-256\r\n")
                assert raw.line() == b"+ "
                raw.send(b64(client.first()).encode() + b"\r\n")
            server_first = base64.b64decode(raw.line()[2:])
            raw.send(b64(client.final(server_first)).encode() + b"\r\n")
            # RFC 5802 §3, RFC 9051 §6.2.2: the server-final message as a last challenge, answered empty.
            assert base64.b64decode(raw.line()[2:]) == client.expected_server_signature
            raw.send(b"\r\n")
            assert raw.until(b"a ")[-1].startswith(b"a OK")
            raw.send(b"s SELECT INBOX\r\n")
            assert raw.until(b"s ")[-1].startswith(b"s OK")
        finally:
            raw.close()


def test_authenticate_refusals(mail_server):
    raw = Raw(mail_server)
    try:
        raw.send(b"a AUTHENTICATE GSSAPI\r\n")
        assert raw.line().startswith(b"a NO [CANNOT]")  # RFC 9051 §6.2.2
        raw.send(b"b AUTHENTICATE PLAIN\r\n")
        assert raw.line().startswith(b"+")
        raw.send(b"*\r\n")
        assert raw.line().startswith(b"b BAD")  # RFC 9051 §6.2.2: "*" cancels
        raw.send(b"c AUTHENTICATE PLAIN\r\n")
        raw.line()
        raw.send(b"!!not base64!!\r\n")
        assert raw.line().startswith(b"c BAD")
        raw.send(b"d NOOP\r\n")
        assert raw.line().startswith(b"d OK")
    finally:
        raw.close()


def test_too_many_bad_commands_in_a_row_end_the_session(tmp_path):
    config = TEST_CONFIG + "[imap]\nmax_errors = 3\n"
    server = start_server(tmp_path / "data", config)
    try:
        raw = Raw(server)
        try:
            raw.send(b"a1 FROB\r\na2 NOOP\r\nb1 FROB\r\nb2 FROB\r\n")
            assert raw.line().startswith(b"a1 BAD")
            assert raw.line().startswith(b"a2 OK")  # a good command resets the count
            assert raw.line().startswith(b"b1 BAD")
            assert raw.line().startswith(b"b2 BAD")
            raw.send(b"b3 FROB\r\n")
            assert raw.line().startswith(b"b3 BAD")
            assert raw.line().startswith(b"* BYE")
            assert raw.sock.recv(100) == b""
        finally:
            raw.close()
    finally:
        server.stop()



def test_failed_logins_are_slowed_down_but_the_user_still_gets_in(tmp_path):
    data_dir = tmp_path / "data"
    provision(data_dir)
    server = start_server(data_dir, TEST_CONFIG)
    try:
        raw = Raw(server)
        try:
            waits = []
            for n in range(4):
                started = time.monotonic()
                raw.send(f'f{n} LOGIN {USER} "wrong"\r\n'.encode())
                assert raw.line().startswith(f"f{n} NO [AUTHENTICATIONFAILED]".encode())  # RFC 5530 §3
                waits.append(time.monotonic() - started)
            # Two slips are free; the third failure and later ones are answered after a delay.
            assert waits[3] >= 0.4
            raw.send(f'g LOGIN {USER} "{PASSWORDS[USER]}"\r\n'.encode())
            assert raw.until(b"g ")[-1].startswith(b"g OK")
        finally:
            raw.close()
    finally:
        server.stop()


def test_rev2_status_has_no_recent_and_names_have_a_length_limit(mail_server):
    raw = logged_in(mail_server, USER)
    try:
        raw.send(b"r STATUS INBOX (RECENT)\r\n")
        assert raw.line().startswith(b"* STATUS INBOX (RECENT 0)")  # RFC 3501 §6.3.10
        raw.until(b"r ")
        raw.send(b"e ENABLE IMAP4rev2\r\n")
        raw.until(b"e ")
        raw.send(b"s STATUS INBOX (RECENT)\r\n")
        assert raw.line().startswith(b"s BAD")  # RFC 9051 §9 status-att: RECENT is gone
        # A name of more than 1,024 octets is refused; one of 1,024 is taken.
        raw.send(b"c1 CREATE " + b"n" * 1025 + b"\r\n")
        assert raw.line().startswith(b"c1 NO [CANNOT]")
        raw.send(b"c2 CREATE " + b"n" * 1024 + b"\r\n")
        assert raw.line().startswith(b"c2 OK")
        raw.send(b'l LIST "" ' + b"n%" * 1100 + b"\r\n")
        assert raw.line().startswith(b"l OK")  # nothing that long can match
    finally:
        raw.close()
