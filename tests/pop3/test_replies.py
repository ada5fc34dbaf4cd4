"""POP3 replies: status lines on the wire, response codes, and the consistency of every named reply."""

import pytest

from postoffice.pop3 import replies
from postoffice.pop3.replies import Challenge, Refused, Reply

ALL_REPLIES = {name: value for name, value in vars(replies).items() if isinstance(value, Reply)}


def test_positive_and_negative_status_lines():
    # RFC 1939 §3: "+OK" / "-ERR" in upper case, then the text, then CRLF
    assert Reply(True, "fine").encode() == b"+OK fine\r\n"
    assert Reply(False, "no").encode() == b"-ERR no\r\n"


def test_empty_text_is_the_bare_status():
    # RFC 2449 §3 single-line = status [SP text] CRLF; RFC 1939 §5 NOOP example "S: +OK"
    assert replies.OK.encode() == b"+OK\r\n"


def test_response_code_is_bracketed_before_the_text():
    # RFC 2449 §8: "[" resp-code "]" at the beginning of the human readable text
    assert replies.AUTH_FAILED.encode() == b"-ERR [AUTH] authentication failed\r\n"
    assert replies.IN_USE.encode().startswith(b"-ERR [IN-USE] ")
    assert replies.LOGIN_DELAY.encode().startswith(b"-ERR [LOGIN-DELAY] ")


def test_our_own_failure_is_sys_temp_with_a_generic_text():
    # STYLE.md: our own failure is -ERR [SYS/TEMP]; RFC 3206 §4
    assert replies.SYS_TEMP.encode() == b"-ERR [SYS/TEMP] local error, try again later\r\n"


def test_plaintext_refusal_is_an_auth_policy_refusal_naming_stls():
    # RFC 3206 §5: [AUTH] covers "an attempt to authenticate in violation of policy"; RFC 2595 §2.3
    encoded = replies.PLAINTEXT_REFUSED.encode()
    assert encoded.startswith(b"-ERR [AUTH] ") and b"STLS" in encoded


@pytest.mark.parametrize("text", ["ok\r\n+OK forged", "ok\nx", "ok\rx", "nul\x00", "caf\u00e9", "tab\t"])
def test_reply_text_cannot_break_the_line(text):
    # RFC 1939 §3: one CRLF per status line; a CR/LF in a text must not start a forged reply
    encoded = Reply(True, text).encode()
    assert encoded.count(b"\r\n") == 1 and encoded.endswith(b"\r\n")
    assert b"\r" not in encoded[:-2] and b"\n" not in encoded[:-2] and encoded.isascii()


def test_text_without_code_cannot_pose_as_a_response_code():
    # RFC 2449 §3: text = *schar / resp-code *CHAR; a client would read "[AUTH]" as a code
    assert Reply(False, "[AUTH] forged").encode() == b"-ERR ?AUTH] forged\r\n"


def test_long_dynamic_text_is_cut_to_512_octets():
    # RFC 2449 §4: the first line of a response is at most 512 octets with its CRLF
    encoded = replies.greeting("h" * 600).encode()
    assert len(encoded) == 512 and encoded.endswith(b"\r\n")


@pytest.mark.parametrize("code", ["", "A]B", "A//B", "/A", "A B", "SYS/"])
def test_malformed_response_code_is_a_programming_error(code):
    # RFC 2449 §3: resp-code = "[" resp-level *("/" resp-level) "]"
    with pytest.raises(ValueError):
        Reply(False, "text", code)


@pytest.mark.parametrize("name", sorted(ALL_REPLIES))
def test_every_named_reply_is_well_formed(name):
    # RFC 1939 §3 status indicators; RFC 2449 §4 length; §3 printable text
    encoded = ALL_REPLIES[name].encode()
    assert encoded.startswith((b"+OK", b"-ERR")) and encoded.endswith(b"\r\n")
    assert encoded.count(b"\r\n") == 1 and len(encoded) <= 512 and encoded.isascii()


def test_no_exception_text_in_refusals():
    # STYLE.md: reply texts are generic; every -ERR is short and names no internals
    for reply in ALL_REPLIES.values():
        assert "Error(" not in reply.text and "Traceback" not in reply.text


# --- RFC 1939 example sessions: the formats clients parse ---------------------------------

def test_greeting_is_positive_and_has_no_apop_timestamp():
    # RFC 1939 §4: any positive response; §7: a timestamp only from a server offering APOP
    encoded = replies.greeting("pop.example.test").encode()
    assert encoded == b"+OK pop.example.test POP3 server ready\r\n" and b"<" not in encoded


def test_stat_is_count_and_size_only():
    # RFC 1939 §5 STAT example: "S: +OK 2 320", nothing after the size
    assert replies.stat(2, 320).encode() == b"+OK 2 320\r\n"
    assert replies.stat(0, 0).encode() == b"+OK 0 0\r\n"


def test_list_replies():
    # RFC 1939 §5 LIST examples: "+OK 2 messages (320 octets)" then listings; "LIST 2": "+OK 2 200"
    assert replies.list_follows(2, 320).encode() == b"+OK 2 messages (320 octets)\r\n"
    assert replies.list_follows(1, 120).encode() == b"+OK 1 message (120 octets)\r\n"
    assert replies.scan_listing(2, 200).encode() == b"+OK 2 200\r\n"
    assert replies.NO_SUCH_MESSAGE.encode() == b"-ERR no such message\r\n"


def test_uidl_replies():
    # RFC 1939 §7 UIDL example: "UIDL 2" gives "+OK 2 QhdPYR:00WBw1Ph7x7"
    assert replies.unique_id_listing(2, "QhdPYR:00WBw1Ph7x7").encode() == b"+OK 2 QhdPYR:00WBw1Ph7x7\r\n"
    assert replies.UIDL_FOLLOWS.encode().startswith(b"+OK")


@pytest.mark.parametrize("uid", ["", "a b", "x" * 71, "caf\u00e9", "a\r\n"])
def test_unique_id_outside_the_rfc_range_is_a_programming_error(uid):
    # RFC 1939 §7: a unique-id is 1 to 70 characters in 0x21-0x7E
    with pytest.raises(ValueError):
        replies.unique_id_listing(1, uid)


def test_retr_dele_rset_pass_replies():
    # RFC 1939 §5 RETR "+OK 120 octets", DELE "+OK message 1 deleted", RSET and §7 PASS
    # "+OK maildrop has 2 messages (320 octets)"
    assert replies.retr_follows(120).encode() == b"+OK 120 octets\r\n"
    assert replies.deleted(1).encode() == b"+OK message 1 deleted\r\n"
    assert replies.reset(2, 320).encode() == b"+OK maildrop has 2 messages (320 octets)\r\n"
    assert replies.logged_in(2, 320).encode() == b"+OK maildrop has 2 messages (320 octets)\r\n"
    assert replies.logged_in(1, 369).encode() == b"+OK maildrop has 1 message (369 octets)\r\n"
    assert replies.ALREADY_DELETED.encode() == b"-ERR message already deleted\r\n"


def test_multiline_openers_are_positive():
    # RFC 1939 §7 TOP "+OK top of message follows"; RFC 2449 §5 "+OK Capability list follows"
    assert replies.TOP_FOLLOWS.encode() == b"+OK top of message follows\r\n"
    assert replies.CAPA_FOLLOWS.encode() == b"+OK Capability list follows\r\n"
    assert replies.AUTH_MECHANISMS_FOLLOW.ok


def test_quit_replies():
    # RFC 1939 §4 QUIT in AUTHORIZATION; §6 "(maildrop empty)" / "(2 messages left)"
    assert replies.BYE.encode() == b"+OK POP3 server signing off\r\n"
    assert replies.signing_off(0).encode() == b"+OK POP3 server signing off (maildrop empty)\r\n"
    assert replies.signing_off(2).encode() == b"+OK POP3 server signing off (2 messages left)\r\n"
    assert replies.signing_off(1).encode() == b"+OK POP3 server signing off (1 message left)\r\n"
    assert replies.DELETE_FAILED.encode() == b"-ERR [SYS/TEMP] some deleted messages not removed\r\n"


def test_closing_replies_are_negative():
    # STYLE.md: shutdown sends -ERR; a timeout or too many errors closes the connection after -ERR
    for reply in (replies.TIMEOUT, replies.TOO_MANY_ERRORS, replies.SHUTTING_DOWN):
        assert reply.encode().startswith(b"-ERR ")
    assert b"idle timeout" in replies.TIMEOUT.encode()


def test_stls_replies():
    # RFC 2595 §4 examples: "+OK Begin TLS negotiation", "-ERR Command not permitted when TLS active"
    assert replies.TLS_READY.encode() == b"+OK begin TLS negotiation\r\n"
    assert replies.TLS_ALREADY_ACTIVE.encode() == b"-ERR command not permitted when TLS active\r\n"
    assert not replies.TLS_NOT_AVAILABLE.ok


def test_auth_challenge_is_base64_and_may_be_empty():
    # RFC 5034 §4: "+" SP base64; the empty challenge is "+ " alone, nothing else on the line
    assert replies.auth_challenge(b"").encode() == b"+ \r\n"
    assert replies.auth_challenge(b"hi").encode() == b"+ aGk=\r\n"
    assert isinstance(replies.auth_challenge(b"x"), Challenge)


def test_long_challenge_is_not_cut():
    # RFC 5034 §4: challenges may be of arbitrary length; the 512-octet limit is for status lines
    assert len(replies.auth_challenge(b"x" * 1000).encode()) == 2 + 1336 + 2


def test_auth_failures_are_negative():
    # RFC 5034 §4: "*", bad base64 and an unsupported mechanism each give -ERR
    for reply in (replies.AUTH_CANCELLED, replies.BAD_BASE64, replies.MECHANISM_NOT_SUPPORTED,
                  replies.INITIAL_RESPONSE_NOT_ALLOWED):
        assert reply.encode().startswith(b"-ERR ")


def test_refused_carries_its_reply():
    with pytest.raises(Refused) as caught:
        raise Refused(replies.IN_USE)
    assert caught.value.reply is replies.IN_USE
    assert str(caught.value) == "-ERR [IN-USE] maildrop in use by another session"
