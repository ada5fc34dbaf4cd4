"""received.py: the Received trace field, its protocol types and its defence against the HELO."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from postoffice.message.headers import get_header, prepend_headers, scan_header
from postoffice.smtp.received import MAX_HELO_CHARS, protocol, received_header

NOW = datetime(2024, 3, 1, 12, 30, 5, tzinfo=timezone.utc)
BASE = dict(
    helo="client.example.test", client_ip="192.0.2.7", hostname="mx.example.test", tls=True,
    authenticated=True, smtputf8=False, queue_id="Q1a2b3", recipient="bob@example.test", now=NOW,
)


def received(**changes) -> str:
    name, value = received_header(**{**BASE, **changes})
    assert name == "Received"
    return value


def test_full_stamp():
    # RFC 5321 §4.4: from, by, with, id, for, then ";" and the RFC 5322 §3.3 date-time.
    assert received(authenticated_as="alice@example.test") == (
        "from client.example.test ([192.0.2.7]) by mx.example.test (postoffice) with ESMTPSA"
        " id Q1a2b3 for <bob@example.test> (authenticated as alice@example.test);"
        " Fri, 01 Mar 2024 12:30:05 +0000"
    )


@pytest.mark.parametrize(("tls", "authenticated", "smtputf8", "expected"), [
    (False, False, False, "ESMTP"), (False, True, False, "ESMTPA"),   # RFC 3848
    (True, False, False, "ESMTPS"), (True, True, False, "ESMTPSA"),
    (False, False, True, "UTF8SMTP"), (False, True, True, "UTF8SMTPA"),  # RFC 6531 §3.7.3
    (True, False, True, "UTF8SMTPS"), (True, True, True, "UTF8SMTPSA"),
])
def test_with_protocol(tls, authenticated, smtputf8, expected):
    assert protocol(tls=tls, authenticated=authenticated, smtputf8=smtputf8) == expected
    value = received(tls=tls, authenticated=authenticated, smtputf8=smtputf8)
    assert f" with {expected} id " in value


def test_hidden_client_ip_leaves_out_tcp_info():
    # RFC 5321 §4.4 Extended-Domain: the TCP-info comment is optional.
    assert received(client_ip=None).startswith("from client.example.test by mx.example.test ")


def test_ipv6_client_is_an_ipv6_address_literal():
    # RFC 5321 §4.1.3: IPv6-address-literal = "IPv6:" IPv6-addr.
    assert "([IPv6:2001:db8::1])" in received(client_ip="2001:0db8:0:0:0:0:0:1")
    assert "([IPv6:fe80::1])" in received(client_ip="fe80::1%eth0")
    assert "([192.0.2.9])" in received(client_ip="::ffff:192.0.2.9")


def test_for_clause_only_with_one_recipient():
    # RFC 5321 §7.2: naming one of several recipients would disclose the others (Bcc).
    assert " for " not in received(recipient=None)


def test_no_authenticated_comment_by_default():
    assert "authenticated as" not in received()


def test_hostile_helo_cannot_inject_a_field():
    # RFC 5321 §4.4: the HELO is the client's word; CR LF would start a new field, "(" ")" ";"
    # would end the From-domain early or fake the date.
    hostile = "evil\r\nX-Injected: yes\r\n\tmore (comment); Fri, 01 Jan 1999 00:00:00 +0000\x00\x7f"
    value = received(helo=hostile)
    helo = "evil__X-Injected:_yes___more__comment___Fri__01_Jan_1999_00:00:00__0000__"
    assert value.startswith(f"from {helo} ([192.0.2.7]) by ")
    message = prepend_headers(b"Subject: hi\r\n\r\nbody\r\n", [("Received", value)])
    fields, _ = scan_header(message)
    assert [f.key for f in fields] == ["received", "subject"]
    assert get_header(message, "X-Injected") == []
    assert value.count(";") == 1 and value.endswith("; Fri, 01 Mar 2024 12:30:05 +0000")


def test_helo_is_capped_and_never_empty():
    # RFC 5321 §4.5.3.1.2: a domain is at most 255 octets.
    assert received(helo="a" * 10_000).split()[1] == "a" * MAX_HELO_CHARS
    assert received(helo="").startswith("from unknown ")


def test_helo_address_literal_and_utf8_helo():
    assert received(helo="[IPv6:2001:db8::1]").startswith("from [IPv6:2001:db8::1] (")
    # RFC 6531 §3.3: U-labels only in an SMTPUTF8 session; otherwise the header stays ASCII.
    assert received(helo="bücher.example", smtputf8=True).startswith("from bücher.example ")
    assert received(helo="bücher.example").startswith("from b_cher.example ")


def test_recipient_and_identity_cannot_break_their_clause():
    value = received(recipient="a>b\r\n@example.test", authenticated_as="x) (y\\")
    assert "for <a_b__@example.test>" in value and "(authenticated as x_ _y_)" in value


def test_own_values_are_checked():
    with pytest.raises(ValueError):
        received(hostname="mx.example.test\r\nX: y")
    with pytest.raises(ValueError):
        received(queue_id="a b")
    with pytest.raises(ValueError):
        received(client_ip="not-an-ip")


@given(st.text(max_size=300), st.booleans())
def test_any_helo_gives_one_well_formed_field(helo, smtputf8):
    value = received(helo=helo, smtputf8=smtputf8, client_ip=None)
    from_domain = value.removeprefix("from ").split(" by mx.example.test ")[0]
    assert 0 < len(from_domain) <= MAX_HELO_CHARS
    assert not any(c in from_domain for c in " \t\r\n();\\\"<>,@")
    assert smtputf8 or from_domain.isascii()
