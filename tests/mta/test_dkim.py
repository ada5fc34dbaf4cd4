"""DKIM signing and verification: keys, the TXT record, what is signed, and what breaks it."""

from __future__ import annotations

import base64
import re

import dkim as dkimpy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from postoffice.mta.dkim import (
    ALGORITHMS,
    SIGNED_HEADERS,
    DkimKey,
    generate_key,
    sign,
    txt_record,
    verify,
)

# One key per algorithm for the whole module: RSA-2048 generation is the slow part.
KEYS = {algorithm: generate_key("example.org", "mail2024", algorithm) for algorithm in ALGORITHMS}
NOW = 1_700_000_000

MESSAGE = b"\r\n".join([
    b"Return-Path: <alice@example.org>",
    b"Received: from submission.example.org by mx.example.org with ESMTPSA; Tue, 14 Nov 2023",
    b"Received: from [192.0.2.7] by submission.example.org; Tue, 14 Nov 2023 22:13:20 +0000",
    b"Delivered-To: alice@example.org",
    b"From: Alice =?UTF-8?Q?Lov=C3=A9lace?= <alice@example.org>",
    b"To: Bob <bob@example.net>,",
    b"\tCarol <carol@example.net>",
    b"Subject: =?UTF-8?B?Q2Fmw6kgbWVudSDimJU=?=",
    b"Date: Tue, 14 Nov 2023 22:13:20 +0000",
    b"Message-ID: <20231114221320.1@example.org>",
    b"MIME-Version: 1.0",
    b'Content-Type: multipart/alternative; boundary="b1"',
    b"X-Mailer: postoffice",
    b"",
    b"--b1",
    b"Content-Type: text/plain; charset=utf-8",
    b"Content-Transfer-Encoding: quoted-printable",
    b"",
    b"Caf=C3=A9 at noon?  ",
    b"",
    b"--b1",
    b"Content-Type: text/html; charset=utf-8",
    b"Content-Transfer-Encoding: 8bit",
    b"",
    "<p>Café at noon?</p>".encode(),
    b"--b1--",
    b"",
])


def resolver(*keys: DkimKey):
    """A static DNS: the TXT records publishing `keys`, as dkimpy's dnsfunc is called."""
    records = dict(txt_record(key) for key in keys)

    def lookup(name: bytes, timeout: int = 5) -> str | None:
        return records.get(name.decode().removesuffix("."))

    return lookup


def h_tag(signed: bytes) -> list[bytes]:
    """The h= names of the topmost field, which `sign` prepends."""
    name, value = dkimpy.rfc822_parse(signed)[0][0]
    assert name == b"DKIM-Signature"
    return [name.strip() for name in parse(value)[b"h"].split(b":")]


def parse(value: bytes) -> dict[bytes, bytes]:
    return dkimpy.util.parse_tag_value(value)


def test_rsa_key_is_2048_bits_and_published_as_spki():
    key = KEYS["rsa-sha256"]
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    assert key.private_pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    public = serialization.load_der_public_key(base64.b64decode(key.public_b64))
    assert public.public_numbers() == private.public_key().public_numbers()


def test_ed25519_key_is_published_as_the_raw_32_bytes():
    key = KEYS["ed25519-sha256"]
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    # RFC 8463 §4: p= is the bare public key, not a SubjectPublicKeyInfo
    assert base64.b64decode(key.public_b64) == private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_txt_record_names_the_selector_and_key_type():
    # RFC 6376 §3.6.1, §3.6.2.1; RFC 8463 §4
    rsa_key, ed_key = KEYS["rsa-sha256"], KEYS["ed25519-sha256"]
    assert txt_record(rsa_key) == ("mail2024._domainkey.example.org",
                                   f"v=DKIM1; k=rsa; p={rsa_key.public_b64}")
    assert txt_record(ed_key) == ("mail2024._domainkey.example.org",
                                  f"v=DKIM1; k=ed25519; p={ed_key.public_b64}")


def test_private_key_stays_out_of_repr():
    assert "PRIVATE" not in repr(KEYS["rsa-sha256"])


@pytest.mark.parametrize("kwargs", [
    {"algorithm": "rsa-sha1"},                     # RFC 8301 §3.1: rsa-sha1 MUST NOT be used
    {"algorithm": "rsa-sha256", "bits": 512},     # RFC 8301 §3.2: at least 1024 bits
    {"selector": "bad; p=evil"},
    {"selector": ""},
])
def test_generate_key_refuses(kwargs):
    with pytest.raises(ValueError):
        generate_key("example.org", **kwargs)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_signed_message_verifies(algorithm):
    signed = sign(MESSAGE, KEYS[algorithm], now=NOW)
    assert signed.endswith(MESSAGE) and signed.startswith(b"DKIM-Signature:")
    assert verify(signed, resolver(KEYS[algorithm]))


def test_dkimpy_verifies_our_rsa_signature():
    signed = sign(MESSAGE, KEYS["rsa-sha256"], now=NOW)
    assert dkimpy.verify(signed, dnsfunc=resolver(KEYS["rsa-sha256"]))


def test_dkimpy_verifies_our_ed25519_signature():
    pytest.importorskip("nacl", reason="dkimpy checks Ed25519 only with PyNaCl")
    signed = sign(MESSAGE, KEYS["ed25519-sha256"], now=NOW)
    assert dkimpy.verify(signed, dnsfunc=resolver(KEYS["ed25519-sha256"]))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("tamper", [
    lambda m: m.replace(b"noon?", b"ten?"),                                 # the body
    lambda m: m.replace(b"Subject: =?UTF-8?B?Q2Fmw6kgbWVudSDimJU=?=", b"Subject: Win!"),
    lambda m: m.replace(b"Message-ID:", b"From: mallory@example.com\r\nMessage-ID:"),
])
def test_change_after_signing_fails(algorithm, tamper):
    signed = sign(MESSAGE, KEYS[algorithm], now=NOW)
    assert tamper(signed) != signed
    assert not verify(tamper(signed), resolver(KEYS[algorithm]))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_transit_changes_that_relaxed_allows_still_verify(algorithm):
    # RFC 6376 §3.4.2, §3.4.4 (relaxed); §5.4.1: trace fields are added and rewritten in transit
    signed = sign(MESSAGE, KEYS[algorithm], now=NOW)
    moved = b"Received: from mx.example.org by mx.example.net; Tue, 14 Nov 2023\r\n" + signed
    moved = moved.replace(b"Return-Path: <alice@example.org>", b"Return-Path: <>")
    moved = moved.replace(b"Subject: ", b"Subject:    ").replace(b"noon?  \r\n", b"noon?\r\n")
    assert verify(moved, resolver(KEYS[algorithm]))


def test_h_lists_present_core_fields_and_oversigns_from():
    h = h_tag(sign(MESSAGE, KEYS["rsa-sha256"], now=NOW))
    # RFC 6376 §5.4: From MUST be signed; §5.4.2: one more From than present blocks an added one
    assert h.count(b"from") == 2
    assert h == [b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
                 b"content-type", b"from"]
    # RFC 6376 §5.4.1: trace fields are modified in transit; an unknown X- field is not core
    assert not {b"received", b"return-path", b"delivered-to", b"x-mailer"} & set(h)
    assert not {b"received", b"return-path", b"delivered-to"} & set(SIGNED_HEADERS)


def test_repeated_field_is_listed_once_per_instance():
    # RFC 6376 §5.4.2: to sign every instance, list the name as often as it occurs
    message = MESSAGE.replace(b"Date:", b"Cc: dave@example.net\r\nCc: erin@example.net\r\nDate:")
    h = h_tag(sign(message, KEYS["ed25519-sha256"], now=NOW))
    assert h.count(b"cc") == 2
    assert verify(sign(message, KEYS["ed25519-sha256"]), resolver(KEYS["ed25519-sha256"]))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_bare_lf_is_signed_as_the_crlf_that_smtp_will_send(algorithm):
    # RFC 5321 §2.3.8: lines end in CRLF on the wire, so the signature is over that form
    lf = MESSAGE.replace(b"\r\n", b"\n")
    signed = sign(lf, KEYS[algorithm], now=NOW)
    assert signed == sign(MESSAGE, KEYS[algorithm], now=NOW)  # both signatures are deterministic
    assert b"\n" not in signed.replace(b"\r\n", b"")
    assert verify(signed, resolver(KEYS[algorithm]))


def test_now_is_the_t_tag_and_lines_stay_short():
    signed = sign(MESSAGE, KEYS["rsa-sha256"], now=NOW)
    header = signed[:signed.index(b"\r\nReturn-Path:")]
    assert parse(header.split(b":", 1)[1])[b"t"] == str(NOW).encode()
    assert max(len(line) for line in header.split(b"\r\n")) <= 78  # RFC 5322 §2.1.1


@pytest.mark.parametrize("message", [
    MESSAGE.replace(b"From: Alice", b"Sender: Alice"),  # RFC 6376 §5.4: no From to sign
    b"Not a header line\r\n\r\nbody\r\n",
    b"",
])
def test_unsignable_message_is_refused(message):
    with pytest.raises(ValueError):
        sign(message, KEYS["ed25519-sha256"])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_verify_fails_without_the_right_published_key(algorithm):
    signed = sign(MESSAGE, KEYS[algorithm], now=NOW)
    other = generate_key("example.org", "mail2024", "ed25519-sha256")
    revoked = lambda name, timeout=5: "v=DKIM1; k=rsa; p="  # noqa: E731  RFC 6376 §3.6.1
    assert not verify(signed, resolver(other))
    assert not verify(signed, resolver())  # no record at all
    assert not verify(signed, revoked)
    assert not verify(MESSAGE, resolver(KEYS[algorithm]))  # unsigned


@settings(max_examples=50, deadline=None)
@given(body=st.binary(max_size=300),
       subject=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60))
def test_any_body_and_subject_round_trip(body, subject):
    message = b"From: a@example.org\r\nSubject: " + subject.encode() + b"\r\n\r\n" + body
    key = KEYS["ed25519-sha256"]
    assert verify(sign(message, key), resolver(key))


# RFC 8463 Appendix A: keys and a message signed by the RFC's author, checked independently
# of our signer. The Ed25519 key is RFC 8032 §7.1 test 1.
RFC8463_SEED = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A="
RFC8463_RECORDS = {
    b"brisbane._domainkey.football.example.com.":
        b"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
    b"test._domainkey.football.example.com.":
        b"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
        b"iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
        b"DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
        b"Ip3G+2kryOTIKT+l/K4w3QIDAQAB",
}
RFC8463_ED25519_SIGNATURE = b"\r\n".join([
    b"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;",
    b" d=football.example.com; i=@football.example.com;",
    b" q=dns/txt; s=brisbane; t=1528637909; h=from : to :",
    b" subject : date : message-id : from : subject : date;",
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;",
    b" b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus",
    b" Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==",
    b"",
])
RFC8463_RSA_SIGNATURE = b"\r\n".join([
    b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;",
    b" d=football.example.com; i=@football.example.com;",
    b" q=dns/txt; s=test; t=1528637909; h=from : to : subject :",
    b" date : message-id : from : subject : date;",
    b" bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;",
    b" b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3",
    b" DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz",
    b" dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=",
    b"",
])
RFC8463_MESSAGE = b"\r\n".join([
    b"From: Joe SixPack <joe@football.example.com>",
    b"To: Suzie Q <suzie@shopping.example.net>",
    b"Subject: Is dinner ready?",
    b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)",
    b"Message-ID: <20030712040037.46341.5F8J@football.example.com>",
    b"",
    b"Hi.",
    b"",
    b"We lost the game.  Are you hungry yet?",
    b"",
    b"Joe.",
    b"",
])


def rfc8463_dns(name: bytes, timeout: int = 5) -> bytes | None:
    return RFC8463_RECORDS.get(name)


def test_rfc8463_ed25519_example_verifies():
    message = RFC8463_ED25519_SIGNATURE + RFC8463_RSA_SIGNATURE + RFC8463_MESSAGE
    assert verify(message, rfc8463_dns)
    assert not verify(message.replace(b"hungry", b"angry"), rfc8463_dns)


def test_rfc8463_rsa_example_verifies():
    # RFC 8463 Appendix A: "either signature would be valid if the other were not present"
    assert verify(RFC8463_RSA_SIGNATURE + RFC8463_MESSAGE, rfc8463_dns)


def test_signing_with_rfc8463_key_matches_its_body_hash_and_record():
    private = ed25519.Ed25519PrivateKey.from_private_bytes(base64.b64decode(RFC8463_SEED))
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = base64.b64encode(private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()
    key = DkimKey("football.example.com", "brisbane", "ed25519-sha256", pem, public)
    name, value = txt_record(key)
    assert value.encode() == RFC8463_RECORDS[name.encode() + b"."]
    signed = sign(RFC8463_MESSAGE, key, now=1528637909)
    header = signed[:signed.index(b"\r\nFrom:")]
    assert re.search(rb"bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;", header)
    assert verify(signed, rfc8463_dns)
