"""DKIM: signing the mail we relay, and checking a signature for diagnostics.

Pure functions: a key is a value (`DkimKey`), DNS is a function handed in, nothing here touches the
store or a socket. The outbound relay signs each message with its sender domain's key just before
it is queued for the remote MX; `postoffice` diagnostics check our own signature against the
published TXT record.

RFC 6376 (DKIM): relaxed/relaxed canonicalization (§3.4.2, §3.4.4), the recommended header set of
§5.4.1 signed when present, From always signed and oversigned once (§5.4, §5.4.2), the key record
of §3.6.1. RFC 8463: Ed25519-SHA256 (k=ed25519, p= the raw 32-byte public key). RFC 8301: RSA keys
of at least 1024 bits (2048 by default). RFC 8058: List-Unsubscribe-Post is signed when present.

Why dkimpy: it is maintained, made for mail, and already gets the subtle parts right: splitting a
message into fields, relaxed canonicalization, choosing which instance of a repeated field each
h= entry covers (§5.4.2), tag-list parsing and checking (t=, x=, i=). We use those pieces as they
are, and dkimpy's verifier as is for RSA. Only the private-key operation, the DKIM-Signature layout
and Ed25519 verification are ours, written on `cryptography` (already a dependency), because
dkimpy does RSA in pure Python (`pow`, not constant time), needs PyNaCl (not a dependency) for any
Ed25519 operation, and takes t= from the clock with no way to pass it in.

Left out: key rotation and publishing the TXT record (the operator's, with `txt_record`), ARC
(RFC 8617), the l= body length (it lets anyone append to a signed body), x= expiry (not set),
i= (it defaults to @d=), verifying more than the topmost signature, and DMARC alignment.
"""

from __future__ import annotations

import base64
import hashlib
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import dkim
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from dkim.canonicalization import CanonicalizationPolicy, InvalidCanonicalizationPolicyError
from dkim.util import InvalidTagValueList, parse_tag_value

ALGORITHMS = ("rsa-sha256", "ed25519-sha256")

# RFC 6376 §5.4.1, plus what §5.4 calls highly advised (Sender, the MIME fields) and the rest of
# a Resent- block (RFC 5322 §3.6.6). Trace fields (Return-Path, Received, Delivered-To) and
# Comments/Keywords are left out: they are added or rewritten in transit (§5.4.1).
SIGNED_HEADERS: tuple[bytes, ...] = (
    b"from", b"sender", b"reply-to", b"subject", b"date", b"to", b"cc",
    b"resent-date", b"resent-from", b"resent-sender", b"resent-to", b"resent-cc",
    b"resent-message-id", b"in-reply-to", b"references", b"message-id",
    b"list-id", b"list-help", b"list-unsubscribe", b"list-subscribe", b"list-post",
    b"list-owner", b"list-archive",
    b"list-unsubscribe-post",  # RFC 8058 §4: MUST be signed for one-click unsubscribe
    b"mime-version", b"content-type", b"content-transfer-encoding", b"content-id",
    b"content-description",
)

MIN_RSA_BITS = 1024  # RFC 8301 §3.2: signers MUST use at least 1024 bits (and SHOULD use 2048)
MAX_LINE = 78  # RFC 5322 §2.1.1: lines SHOULD be no longer than 78 characters
_CANONICALIZATION = CanonicalizationPolicy.from_c_value(b"relaxed/relaxed")
# A selector is one or more DNS labels (RFC 6376 §3.1); d= a domain name. ASCII only: an IDN
# domain is given in its A-label form (xn--...). Checked because both end up inside a header.
_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_LINE_END = re.compile(rb"\r?\n")


@dataclass(frozen=True, slots=True)
class DkimKey:
    """One signing key of one domain.

    `private_pem` is the private key as unencrypted PKCS#8 PEM for both algorithms (what
    `cryptography` loads; a PKCS#1 "RSA PRIVATE KEY" PEM is accepted too). RFC 8463 and dkimpy
    write an Ed25519 key as the base64 of its raw 32-byte seed instead; convert with
    `Ed25519PrivateKey.from_private_bytes(seed).private_bytes(PEM, PKCS8, NoEncryption())`.
    `public_b64` is the p= value: base64 of the DER SubjectPublicKeyInfo for RSA (RFC 6376 §3.6.1),
    base64 of the raw 32-byte public key for Ed25519 (RFC 8463 §4).
    """

    domain: str
    selector: str
    algorithm: str  # one of ALGORITHMS
    private_pem: bytes = field(repr=False)  # kept out of repr, so out of logs and tracebacks
    public_b64: str

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(f"unknown DKIM algorithm {self.algorithm!r}")
        for name in (self.domain, self.selector):
            if not _DNS_NAME.fullmatch(name):
                raise ValueError(f"not an ASCII DNS name: {name!r}")


def generate_key(domain: str, selector: str = "postoffice", algorithm: str = "rsa-sha256", *,
                 bits: int = 2048) -> DkimKey:
    """A new key pair for `selector._domainkey.domain`; `bits` is for RSA only."""
    if algorithm == "rsa-sha256":
        if bits < MIN_RSA_BITS:
            raise ValueError(f"RSA DKIM keys need at least {MIN_RSA_BITS} bits (RFC 8301)")
        private: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey = rsa.generate_private_key(
            public_exponent=65537, key_size=bits)
        public = private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    elif algorithm == "ed25519-sha256":
        private = ed25519.Ed25519PrivateKey.generate()
        public = private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    else:
        raise ValueError(f"unknown DKIM algorithm {algorithm!r}")
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return DkimKey(domain, selector, algorithm, pem, base64.b64encode(public).decode("ascii"))


def txt_record(key: DkimKey) -> tuple[str, str]:
    """The DNS name and TXT value that publish `key` (RFC 6376 §3.6.1, §3.6.2.1).

    An RSA-2048 value is longer than the 255 octets of one DNS character-string: it is published
    as several strings in one TXT record, which verifiers concatenate (RFC 6376 §3.6.2.2).
    """
    k = "rsa" if key.algorithm == "rsa-sha256" else "ed25519"  # RFC 8463 §4
    return f"{key.selector}._domainkey.{key.domain}", f"v=DKIM1; k={k}; p={key.public_b64}"


def sign(message: bytes, key: DkimKey, *, now: int | None = None) -> bytes:
    """`message` with a DKIM-Signature field prepended, its line ends made CRLF.

    The signature covers the message as it goes on the wire: SMTP carries CRLF only, so a bare
    LF (a message built with Python's `email` package, say) becomes CRLF here, before hashing,
    and the caller sends the returned bytes. A bare CR is left as it is. `now` (seconds since
    the epoch) is the t= tag; the clock when None.

    Raises ValueError for a message without a From field (RFC 6376 §5.4: From MUST be signed)
    and for a header that cannot be split into fields; the caller sends such a message unsigned.
    """
    message = _LINE_END.sub(b"\r\n", message)
    try:
        fields, body = dkim.rfc822_parse(message)
    except dkim.MessageFormatError as e:
        raise ValueError("message header cannot be parsed for DKIM") from e
    names = [name.lower() for name, _ in fields]
    if b"from" not in names:
        raise ValueError("message has no From field, which DKIM must sign (RFC 6376 §5.4)")
    # RFC 6376 §5.4.2: each present instance listed once (dkimpy signs them bottom to top), and
    # From once more than present, so a From added in transit breaks the signature.
    signed = [name for name in names if name in SIGNED_HEADERS] + [b"from"]

    body_hash = hashlib.sha256(_CANONICALIZATION.canonicalize_body(body)).digest()
    t = int(time.time()) if now is None else now
    tags = [b"v=1;", b"a=" + key.algorithm.encode() + b";", b"c=relaxed/relaxed;",
            b"d=" + key.domain.encode() + b";", b"s=" + key.selector.encode() + b";",
            b"t=%d;" % t, *(b"h=" + b" : ".join(signed) + b";").split(b" "),
            b"bh=" + base64.b64encode(body_hash) + b";"]
    # RFC 6376 §3.5, §3.7: the field is hashed with an empty b=, then b= is filled in. b= gets
    # lines of its own, so the bytes before it are exactly those that were hashed.
    unsigned = _fold(tags, len(b"DKIM-Signature:")) + b"\r\n b="
    hasher = hashlib.sha256()
    dkim.hash_headers(hasher, _CANONICALIZATION, _CANONICALIZATION.canonicalize_headers(fields),
                      signed, (b"DKIM-Signature", unsigned), None)
    b = base64.b64encode(_signature(key, hasher.digest()))
    chunks = [b[i:i + MAX_LINE - 6] for i in range(0, len(b), MAX_LINE - 6)]
    return b"DKIM-Signature:" + unsigned + b"\r\n ".join(chunks) + b"\r\n" + message


def verify(message: bytes, dnsfunc: Callable[[bytes], bytes | str | None]) -> bool:
    """Whether the topmost DKIM-Signature of `message` verifies.

    `dnsfunc(name)` returns the TXT value published at `name` (dkimpy asks for the name with its
    final dot: b"sel._domainkey.example.org.") or None. False for an unsigned or malformed
    message, a missing or revoked key and a bad signature; an exception from `dnsfunc` escapes.
    """
    try:
        return bool(_Verifier(message).verify(dnsfunc=lambda name, timeout=5: dnsfunc(name)))
    except (dkim.DKIMException, ValueError):  # PyNaCl's errors for a key of the wrong kind are ValueErrors
        return False


def _fold(words: list[bytes], used: int) -> bytes:
    """`words`, each after one space, starting a new line (CRLF SP) before MAX_LINE is passed."""
    out = bytearray()
    for word in words:
        if used + 1 + len(word) > MAX_LINE and out:
            out += b"\r\n"
            used = 0
        out += b" " + word
        used += 1 + len(word)
    return bytes(out)


def _signature(key: DkimKey, digest: bytes) -> bytes:
    """The b= bytes for the SHA-256 `digest` of the canonicalized header fields."""
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    if key.algorithm == "rsa-sha256" and isinstance(private, rsa.RSAPrivateKey):
        return private.sign(digest, padding.PKCS1v15(), Prehashed(hashes.SHA256()))
    if key.algorithm == "ed25519-sha256" and isinstance(private, ed25519.Ed25519PrivateKey):
        return private.sign(digest)  # RFC 8463 §3: PureEdDSA over the SHA-256 hash
    raise ValueError(f"private key does not match algorithm {key.algorithm}")


class _Verifier(dkim.DKIM):
    """dkimpy's verifier, with Ed25519 checked by `cryptography` rather than PyNaCl."""

    def verify_sig(self, sig: dict[bytes, bytes], include_headers: list[bytes],
                   sig_header: tuple[bytes, bytes], dnsfunc: Callable[..., bytes | str | None],
                   ) -> bool:
        if sig[b"a"] != b"ed25519-sha256":
            return bool(super().verify_sig(sig, include_headers, sig_header, dnsfunc))
        public = _ed25519_key(dnsfunc(sig[b"s"] + b"._domainkey." + sig[b"d"] + b"."))
        if public is None:
            return False
        try:
            policy = CanonicalizationPolicy.from_c_value(sig.get(b"c", b"simple/simple"))
            body = policy.canonicalize_body(self.body)
            if b"l" in sig:
                body = body[:int(sig[b"l"])]
            if hashlib.sha256(body).digest() != _b64(sig[b"bh"]):
                return False
            if b"from" in include_headers:  # as dkimpy does: an extra From breaks it too
                include_headers.append(b"from")
            hasher = hashlib.sha256()
            dkim.hash_headers(hasher, policy, policy.canonicalize_headers(self.headers),
                              include_headers, sig_header, sig)
            public.verify(_b64(sig[b"b"]), hasher.digest())  # RFC 8463 §3
        except (InvalidCanonicalizationPolicyError, InvalidSignature, ValueError):
            return False  # ValueError: l= or a base64 value malformed
        return True


def _ed25519_key(record: bytes | str | None) -> ed25519.Ed25519PublicKey | None:
    """The Ed25519 key a TXT record publishes; None if it publishes none (RFC 6376 §3.6.1)."""
    if record is None:
        return None
    try:
        tags = parse_tag_value(record.encode("ascii") if isinstance(record, str) else record)
        if tags.get(b"v", b"DKIM1") != b"DKIM1" or tags.get(b"k") != b"ed25519":
            return None
        if not tags.get(b"p"):  # an empty p= is a revoked key
            return None
        return ed25519.Ed25519PublicKey.from_public_bytes(_b64(tags[b"p"]))
    except (InvalidTagValueList, ValueError):  # binascii.Error is a ValueError
        return None


def _b64(value: bytes) -> bytes:
    """A base64 tag value; FWS may appear anywhere in it (RFC 6376 §3.5, §3.6.1)."""
    return base64.b64decode(re.sub(rb"\s+", b"", value), validate=True)
