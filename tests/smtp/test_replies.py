"""SMTP replies: encoding on the wire and the consistency of every named reply."""

import pytest

from postoffice.smtp import replies
from postoffice.smtp.replies import Refused, Reply

ALL_REPLIES = {name: value for name, value in vars(replies).items() if isinstance(value, Reply)}


def test_single_line_reply_carries_its_enhanced_status_code():
    # RFC 5321 §4.2.1 "code SP text CRLF"; RFC 2034 §4: status code before the text
    assert replies.SENDER_OK.encode() == b"250 2.1.0 Sender OK\r\n"
    assert replies.RECIPIENT_OK.encode() == b"250 2.1.5 Recipient OK\r\n"


def test_multi_line_reply_has_the_status_code_on_every_line():
    # RFC 5321 §4.2.1: "code-" on all lines but the last; RFC 2034 §4: same status code on each line
    reply = Reply(550, "5.7.1", "first", ("second", "third"))
    assert reply.encode() == b"550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n"


def test_ehlo_reply_lists_keywords_without_status_codes():
    # RFC 5321 §4.1.1.1 and RFC 2034 §3 (4): no enhanced status code in replies to EHLO
    reply = replies.ehlo("mx.example.test", ["PIPELINING", "8BITMIME", "SIZE 1000"])
    assert reply.encode() == (b"250-mx.example.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n"
                              b"250 SIZE 1000\r\n")


def test_ehlo_without_keywords_is_one_line():
    assert replies.ehlo("mx.example.test").encode() == b"250 mx.example.test\r\n"


def test_greeting_helo_and_354_have_no_status_code():
    # RFC 2034 §3 (4): not on the greeting nor on HELO; §4: never on 3xx
    assert replies.greeting("mx.example.test").encode() == b"220 mx.example.test ESMTP postoffice\r\n"
    assert replies.helo("mx.example.test").encode() == b"250 mx.example.test\r\n"
    assert replies.DATA_START.encode().startswith(b"354 End data")


def test_queued_names_the_queue_id():
    assert replies.queued("ABC123").encode() == b"250 2.0.0 Ok: queued as ABC123\r\n"


def test_auth_challenge_is_base64_and_may_be_empty():
    # RFC 4954 §4: "334 " followed by the base64 challenge, possibly empty
    assert replies.auth_challenge(b"").encode() == b"334 \r\n"
    assert replies.auth_challenge(b"hi").encode() == b"334 aGk=\r\n"


def test_reply_text_cannot_break_the_line():
    # RFC 5321 §4.2: one CRLF per reply line; a CR/LF in a text must not start a forged reply
    encoded = Reply(250, "2.0.0", "ok\r\n250 forged").encode()
    assert encoded.count(b"\r\n") == 1


@pytest.mark.parametrize("name", sorted(ALL_REPLIES))
def test_every_named_reply_is_well_formed(name):
    # RFC 2034 §4: status class agrees with the reply code; RFC 5321 §4.2: lines end with CRLF
    reply = ALL_REPLIES[name]
    assert reply.encode().endswith(b"\r\n")
    if 300 <= reply.code < 400:
        assert reply.status == ""
    else:
        assert reply.status[:1] == str(reply.code)[0]


def test_our_own_failure_is_temporary():
    # STYLE.md: our own failure is 451 4.3.0, never a 5xx
    assert (replies.LOCAL_ERROR.code, replies.LOCAL_ERROR.status) == (451, "4.3.0")


@pytest.mark.parametrize("code, status", [(250, "5.0.0"), (550, "2.1.0"), (550, "5.1"), (600, ""), (250, "x")])
def test_inconsistent_reply_is_a_programming_error(code, status):
    # RFC 2034 §4: "a 2xx response must incorporate a 2.X.X code", and so on
    with pytest.raises(ValueError):
        Reply(code, status, "text")


def test_refused_carries_its_reply():
    with pytest.raises(Refused) as caught:
        raise Refused(replies.NO_SUCH_USER)
    assert caught.value.reply is replies.NO_SUCH_USER
