"""FETCH BINARY, BINARY.PEEK and BINARY.SIZE (RFC 3516, RFC 9051 §6.4.5, §7.5.2) end to end:
imaplib against the real server (it reads the "~{n}" literal8 like any literal), the raw socket
where the exact response line matters. Each test has a mailbox of its own; messages come by APPEND.

The message: part 1 text/plain in quoted-printable, part 2 an application/octet-stream attachment
in base64 whose content holds every octet, NUL included; part 3 in x-uuencode (an encoding the
server does not decode); part 4 a message/rfc822 whose body is part 4.1."""

from __future__ import annotations

import base64
import email
import email.policy
import imaplib
import re

from tests.imap.test_session_flow import PASSWORDS, Raw, connect

USER = "bob@example.test"
ATTACHMENT = bytes(range(256)) * 3  # 768 octets, NUL among them
TEXT = "Grüße aus Köln, a long line that goes on and on\r\nand a second line.\r\n".encode()

MIXED = (
    b"From: carol@example.test\r\n"
    b"To: bob@example.test\r\n"
    b"Subject: binary parts\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n'
    b"\r\n"
    b"--b1\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: quoted-printable\r\n"
    b"\r\n"
    b"Gr=C3=BC=C3=9Fe aus K=C3=B6ln, a long line that goes=\r\n"
    b" on and on\r\n"
    b"and a second line.\r\n"
    b"\r\n"
    b"--b1\r\n"
    b'Content-Type: application/octet-stream; name="data.bin"\r\n'
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    + base64.encodebytes(ATTACHMENT).replace(b"\n", b"\r\n")
    + b"--b1\r\n"
    b"Content-Type: application/octet-stream\r\n"
    b"Content-Transfer-Encoding: x-uuencode\r\n"
    b"\r\n"
    b"begin 644 x.bin\r\n"
    b"#86)C\r\n"
    b"`\r\n"
    b"end\r\n"
    b"--b1\r\n"
    b"Content-Type: message/rfc822\r\n"
    b"\r\n"
    b"From: dave@example.test\r\n"
    b"Subject: inside\r\n"
    b"\r\n"
    b"Inner body.\r\n"
    b"--b1--\r\n"
)

SINGLE = (
    b"From: carol@example.test\r\n"
    b"Subject: one part\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: image/png\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
    + base64.encodebytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR").replace(b"\n", b"\r\n")
)


def fill(imap: imaplib.IMAP4, box: str, messages: list[bytes]) -> None:
    assert imap.create(box)[0] == "OK"
    for data in messages:
        assert imap.append(box, None, None, data)[0] == "OK"


def fetch(imap: imaplib.IMAP4, numbers: str, items: str) -> tuple[str, list]:
    imap.untagged_responses.pop("FETCH", None)
    return imap.fetch(numbers, items)


def literal_of(data: list, name: bytes) -> tuple[bytes, bytes]:
    """(the response text before the literal of `name`, the literal) from imaplib's FETCH data."""
    for item in data:
        if isinstance(item, tuple) and item[0].rstrip().endswith(b"}") and name in item[0]:
            return item[0], item[1]
    raise AssertionError(f"no {name!r} literal in {data!r}")


def flags_of(imap: imaplib.IMAP4, number: int) -> bytes:
    typ, data = fetch(imap, str(number), "(FLAGS)")
    assert typ == "OK"
    return re.search(rb"FLAGS \(([^)]*)\)", data[0])[1]


def test_email_package_agrees_with_the_test_message():
    # The expected contents are what Python's own MIME decoder makes of the message.
    parts = email.message_from_bytes(MIXED, policy=email.policy.compat32).get_payload()
    assert parts[0].get_payload(decode=True) == TEXT
    assert parts[1].get_payload(decode=True) == ATTACHMENT


def test_binary_of_base64_attachment_with_nul_is_a_literal8_of_the_original(mail_server):
    with connect(mail_server, USER) as imap:
        fill(imap, "BinAttach", [MIXED])
        imap.select("BinAttach")
        typ, data = fetch(imap, "1", "(BINARY.PEEK[2])")
        assert typ == "OK"
        head, content = literal_of(data, b"BINARY[2]")
        # RFC 9051 §7.5.2: the content with its transfer encoding removed; holding NUL, it comes
        # as a literal8 (RFC 3516 §4.3, RFC 9051 §4.3).
        assert content == ATTACHMENT
        assert head.endswith(b"BINARY[2] ~{768}")
        # The same octets with UID FETCH, by UID.
        typ, data = imap.uid("FETCH", "1:*", "(BINARY.PEEK[2])")
        assert literal_of(data, b"BINARY[2]")[1] == ATTACHMENT
        assert b"\\Seen" not in flags_of(imap, 1)  # PEEK leaves \Seen alone


def test_binary_of_quoted_printable_text_is_decoded_in_a_plain_literal(mail_server):
    with connect(mail_server, USER) as imap:
        fill(imap, "BinText", [MIXED])
        imap.select("BinText")
        typ, data = fetch(imap, "1", "(BINARY.PEEK[1])")
        head, content = literal_of(data, b"BINARY[1]")
        # Soft line breaks gone, =XX decoded: the UTF-8 the sender wrote, in CRLF lines
        # (RFC 9051 §7.5.2); no NUL, so a plain literal (it SHOULD be a string).
        assert content == TEXT
        assert head.endswith(b"BINARY[1] {%d}" % len(TEXT))
        # BODY[1] still gives the encoded text.
        typ, data = fetch(imap, "1", "(BODY.PEEK[1])")
        assert literal_of(data, b"BODY[1]")[1].startswith(b"Gr=C3=BC=C3=9Fe")


def test_binary_size_is_the_decoded_length(mail_server):
    with connect(mail_server, USER) as imap:
        fill(imap, "BinSize", [MIXED, SINGLE])
        imap.select("BinSize")
        typ, data = fetch(imap, "1", "(BINARY.SIZE[2] BINARY.SIZE[1] RFC822.SIZE BINARY.SIZE[])")
        assert typ == "OK"
        # RFC 9051 §7.5.2: BINARY.SIZE MUST match the size BINARY[...] returns.
        assert b"BINARY.SIZE[2] 768" in data[0]
        assert b"BINARY.SIZE[1] %d" % len(TEXT) in data[0]
        size = int(re.search(rb"RFC822.SIZE (\d+)", data[0])[1])
        assert b"BINARY.SIZE[] %d" % size in data[0]  # BINARY[] is the message as stored
        # Part 1 of a single-part message is its body, decoded.
        typ, data = fetch(imap, "2", "(BINARY.SIZE[1] BINARY.PEEK[1])")
        assert b"BINARY.SIZE[1] 16" in data[0][0]
        assert literal_of(data, b"BINARY[1]")[1] == b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def test_partial_binary_counts_decoded_octets(mail_server):
    raw = Raw(mail_server)
    try:
        with connect(mail_server, USER) as imap:
            fill(imap, "BinPartial", [MIXED])
            imap.select("BinPartial")
            # RFC 9051 §6.4.5: <origin.count> of the DECODED data; the response names the origin.
            typ, data = fetch(imap, "1", "(BINARY.PEEK[2]<250.10>)")
            head, content = literal_of(data, b"BINARY[2]<250>")
            assert content == bytes(range(250, 256)) + bytes(range(4))
            assert head.endswith(b"BINARY[2]<250> ~{10}")
            # Past the end: empty (RFC 9051 §6.4.5, as for BODY).
            typ, data = fetch(imap, "1", "(BINARY.PEEK[2]<5000.10>)")
            head, content = literal_of(data, b"BINARY[2]<5000>")
            assert content == b"" and head.endswith(b"{0}")
            # A slice without NUL: a plain literal, cut in decoded octets (6 are "Grüß").
            typ, data = fetch(imap, "1", "(BINARY.PEEK[1]<0.6>)")
            head, content = literal_of(data, b"BINARY[1]<0>")
            assert content == "Grüß".encode() and head.endswith(b"{6}")
        # The exact lines, read off the socket.
        raw.send(f'l LOGIN {USER} "{PASSWORDS[USER]}"\r\ns EXAMINE BinPartial\r\n'.encode())
        raw.until(b"s OK")
        raw.send(b"f FETCH 1 (BINARY.PEEK[2]<0.3>)\r\n")
        assert raw.line() == b"* 1 FETCH (BINARY[2]<0> ~{3}"
        raw.send(b"g FETCH 1 (BINARY.PEEK[2]<1.2>)\r\n")
        # The 3 octets of the literal8, then ")" and the tagged OK; then the second answer, whose
        # two octets hold no NUL and so come as a plain literal (RFC 9051 §7.5.2).
        assert raw.line() == b"\x00\x01\x02)"
        assert raw.line() == b"f OK FETCH completed"
        assert raw.line() == b"* 1 FETCH (BINARY[2]<1> {2}"
        assert raw.line() == b"\x01\x02)"
    finally:
        raw.close()


def test_unknown_transfer_encoding_is_refused_and_changes_nothing(mail_server):
    with connect(mail_server, USER) as imap:
        fill(imap, "BinUnknown", [SINGLE, MIXED])
        imap.select("BinUnknown")
        # RFC 9051 §7.5.2: "it MUST fail the request" with NO [UNKNOWN-CTE], BINARY.SIZE too.
        for item in ("BINARY[3]", "BINARY.PEEK[3]", "BINARY.SIZE[3]"):
            typ, data = fetch(imap, "2", f"({item})")
            assert typ == "NO" and data[0].startswith(b"[UNKNOWN-CTE]"), (item, data)
            assert "FETCH" not in imap.untagged_responses
        # A non-PEEK BINARY that fails sets no \Seen.
        assert b"\\Seen" not in flags_of(imap, 2)
        # One message that cannot be decoded fails the whole FETCH: no partial answers.
        typ, data = fetch(imap, "1:2", "(BINARY[1] BINARY[3])")
        assert typ == "NO" and b"UNKNOWN-CTE" in data[0]
        assert "FETCH" not in imap.untagged_responses
        assert b"\\Seen" not in flags_of(imap, 1)
        # BODY[3] still gives the part as stored.
        typ, data = fetch(imap, "2", "(BODY.PEEK[3])")
        assert literal_of(data, b"BODY[3]")[1].startswith(b"begin 644 x.bin")


def test_non_peek_binary_sets_seen(mail_server):
    with connect(mail_server, USER) as imap:
        fill(imap, "BinSeen", [MIXED])
        imap.select("BinSeen")
        assert b"\\Seen" not in flags_of(imap, 1)
        # RFC 9051 §6.4.5: BINARY sets \Seen as BODY[] does (BINARY.PEEK does not); the new
        # FLAGS come with the response.
        typ, data = fetch(imap, "1", "(BINARY[2])")
        assert literal_of(data, b"BINARY[2]")[1] == ATTACHMENT
        assert b"FLAGS (\\Seen)" in b"".join(x if isinstance(x, bytes) else x[0] for x in data)
        assert b"\\Seen" in flags_of(imap, 1)
        # Read-only: nothing is set.
        imap.store("1", "-FLAGS", "(\\Seen)")
        imap.select("BinSeen", readonly=True)
        fetch(imap, "1", "(BINARY[1])")
        assert b"\\Seen" not in flags_of(imap, 1)


def test_binary_of_a_multipart_or_message_part_is_refused(mail_server):
    with connect(mail_server, USER) as imap:
        fill(imap, "BinTree", [MIXED])
        imap.select("BinTree")
        # RFC 9051 §6.4.5: BINARY "can only be requested for leaf body parts".
        typ, data = fetch(imap, "1", "(BINARY.PEEK[4])")
        assert typ == "NO" and data[0].startswith(b"[CLIENTBUG]")
        typ, data = fetch(imap, "1", "(BINARY.SIZE[4])")
        assert typ == "NO" and data[0].startswith(b"[CLIENTBUG]")
        # A leaf inside the encapsulated message is fine.
        typ, data = fetch(imap, "1", "(BINARY.PEEK[4.1] BINARY.SIZE[4.1])")
        assert literal_of(data, b"BINARY[4.1]")[1] == b"Inner body."
        assert b"BINARY.SIZE[4.1] 11" in b"".join(x if isinstance(x, bytes) else x[0] for x in data)


def test_binary_of_the_whole_message_and_of_a_missing_part(mail_server):
    with connect(mail_server, USER) as imap:
        fill(imap, "BinWhole", [MIXED])
        imap.select("BinWhole")
        typ, data = fetch(imap, "1", "(BINARY.PEEK[])")
        whole = literal_of(data, b"BINARY[]")[1]
        typ, data = fetch(imap, "1", "(BODY.PEEK[])")
        assert whole == literal_of(data, b"BODY[]")[1]
        assert whole.endswith(MIXED)
        # A part that is not there: NIL, and a size of 0 (nothing to expect).
        typ, data = fetch(imap, "1", "(BINARY.PEEK[9] BINARY.SIZE[9] BINARY.PEEK[2.1])")
        assert typ == "OK"
        assert data == [b"1 (BINARY[9] NIL BINARY.SIZE[9] 0 BINARY[2.1] NIL)"]
