"""What a received message holds, read safely: header fields the email package cannot parse, and
file names chosen by the sender."""

from __future__ import annotations

from email.headerregistry import Address

from postoffice.mua import compose, parts


def test_a_malformed_message_id_still_threads_a_reply():
    # The email package's Message-ID parser raises on this one (AttributeError, IndexError): the
    # reply is still made, and RFC 5322 §3.6.4's In-Reply-To and References carry the id as sent.
    for message_id in ("<a@[b>", "<[abc]@x>", "<a@"):
        original = parts.parse(f"From: Bob <bob@example.test>\r\nMessage-ID: {message_id}\r\n"
                               f"Subject: odd\r\n\r\nhi\r\n".encode())
        assert parts.header(original, "Message-ID") == message_id
        draft = compose.Draft(Address(addr_spec="me@example.test"))
        compose.reply(draft, original, reply_all=True, own={"me@example.test"})
        assert [a.addr_spec for a in draft.to] == ["bob@example.test"] and draft.subject == "Re: odd"
        expected = compose.message_ids(message_id)
        assert draft.references == expected and draft.in_reply_to == (expected[0] if expected else None)


def test_saved_file_names_fit_a_file_system():
    # NAME_MAX is 255 bytes: a name of 150 two-byte letters is 300 bytes; the extension is kept.
    name = parts.safe_filename(parts.Attachment("é" * 150 + ".pdf", "application/pdf", b""), 1)
    assert name.endswith(".pdf") and len(name.encode()) <= 200 and name.startswith("é")
    assert len(parts.safe_filename(parts.Attachment("x" * 300, "text/plain", b""), 1).encode()) <= 200
    assert parts.safe_filename(parts.Attachment("../../.profile", "text/plain", b""), 1) == "profile"


def test_a_message_file_is_attached_as_a_message_not_base64():
    # RFC 2046 §5.2.1: message/rfc822 is never base64; the recipient must find the message in it.
    eml = b"From: x@example.test\nSubject: inner\n\nbody line\n"
    draft = compose.Draft(Address(addr_spec="me@example.test"), [Address(addr_spec="you@example.test")],
                          subject="s", text="hi", attachments=[compose.FileAttachment("m.eml", "message/rfc822", eml)])
    built = compose.build(draft)
    assert b"base64" not in built.data and b"\n" not in built.data.replace(b"\r\n", b"")
    (att,) = parts.attachments(parts.parse(built.data))
    assert att.content_type == "message/rfc822" and att.filename == "m.eml"
    assert att.data == eml.replace(b"\n", b"\r\n")
