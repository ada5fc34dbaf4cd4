"""LOGIN over a real socket: an unknown account is refused exactly as a wrong password is, and a
client that logs in again and again with the right password keeps getting in.

What each login costs (a full Argon2 check for an unknown account or a wrong password, none for a
remembered success) is counted in tests/auth/test_verification_cache.py; nothing here is timed.
"""

from __future__ import annotations

import imaplib

import pytest

ALICE, ALICE_PASSWORD = "alice@example.test", "alice-secret"


def test_unknown_account_login_is_refused_like_a_wrong_password(mail_server):
    host, port = mail_server.listeners["imap"]
    with imaplib.IMAP4(host, port) as imap:
        # imaplib raises with the tagged response's text only for NO (BAD raises "command error").
        with pytest.raises(imaplib.IMAP4.error) as unknown:
            imap.login("nobody@example.test", ALICE_PASSWORD)
        assert unknown.value.args[0].startswith(b"[AUTHENTICATIONFAILED]")  # RFC 5530 §3
        with pytest.raises(imaplib.IMAP4.error) as wrong:
            imap.login(ALICE, "not-alice-secret")
        # The same answer, so the reply does not tell which accounts exist.
        assert unknown.value.args == wrong.value.args
        assert imap.state == "NONAUTH"
        assert imap.login(ALICE, ALICE_PASSWORD)[0] == "OK"


def test_logging_in_again_and_again_with_the_same_password(mail_server):
    host, port = mail_server.listeners["imap"]
    for _ in range(3):
        with imaplib.IMAP4(host, port) as imap:
            assert imap.login(ALICE, ALICE_PASSWORD)[0] == "OK"
            assert imap.select("INBOX")[0] == "OK"
            assert imap.logout()[0] == "BYE"
