"""Our splitter against the stdlib `email` package on generated messages.

`email` builds the messages (EmailMessage, serialised with policy SMTP: CRLF, RFC 5322 / 2045-2046)
and parses them again; our parser must find the same leaf parts, of the same types, and the bytes
at raw[body_start:end] of each, once transfer-decoded, must be the payload `email` decodes.
"""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from postoffice.message.decoding import decode_transfer
from postoffice.message.mime import BodyPart
from postoffice.message.parsed import parse_message_strictly

TEXT = st.lists(
    st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=20)
    | st.sampled_from(["\n", "=", ".", "--", "From ", "\u20ac", " \n", "=20", "x" * 90]),
    max_size=15,
).map("".join)
BINARY = st.binary(max_size=600)
TEXT_CTE = st.sampled_from([None, "quoted-printable", "base64", "8bit"])


@st.composite
def leaf_parts(draw, depth=0):
    """A message whose body is text, html, data, or (nested) a message/rfc822."""
    msg = EmailMessage()
    msg["Subject"] = draw(st.sampled_from(["plain", "Grüße", "a " * 50]))
    kind = draw(st.sampled_from(["text", "html", "binary"] + (["message"] if depth < 2 else [])))
    if kind == "text":
        cte = draw(TEXT_CTE)
        text = draw(TEXT)
        if cte == "8bit" and not text.isascii():
            cte = None
        msg.set_content(text, cte=cte) if cte else msg.set_content(text)
    elif kind == "html":
        msg.set_content("<p>" + draw(TEXT) + "</p>", subtype="html")
    elif kind == "binary":
        msg.set_content(draw(BINARY), maintype="application", subtype="octet-stream",
                        filename="data.bin")
    else:
        msg.set_content(draw(messages(depth + 1)))
    return msg


@st.composite
def messages(draw, depth=0):
    """A message built the way a mail client builds one: body, alternative, attachments."""
    msg = EmailMessage()
    msg["From"] = "Alice <alice@example.test>"
    msg["To"] = "bob@example.test"
    msg["Subject"] = "generated"
    msg.set_content(draw(TEXT))
    if draw(st.booleans()):
        msg.add_alternative("<p>" + draw(TEXT) + "</p>", subtype="html")
    for _ in range(draw(st.integers(0, 3 if depth < 2 else 0))):
        kind = draw(st.sampled_from(["binary", "text", "message"]))
        if kind == "binary":
            msg.add_attachment(draw(BINARY), maintype="application", subtype="octet-stream",
                               filename="a.bin")
        elif kind == "text":
            cte = draw(st.sampled_from([None, "quoted-printable", "base64"]))
            msg.add_attachment(draw(TEXT), filename="notes.txt", cte=cte)
        else:
            msg.add_attachment(draw(leaf_parts(depth + 1)) if depth < 2 else draw(TEXT))
    return msg


def our_leaves(part: BodyPart) -> list[BodyPart]:
    if part.children:
        return [leaf for child in part.children for leaf in our_leaves(child)]
    if part.is_message:
        return our_leaves(part.body)
    return [part]


def their_leaves(msg: email.message.Message) -> list[email.message.Message]:
    return [part for part in msg.walk() if not part.is_multipart()]


@settings(max_examples=150, deadline=None)
@given(messages())
def test_leaves_types_and_payloads_agree_with_the_email_package(built):
    raw = built.as_bytes(policy=email.policy.SMTP)
    ours = our_leaves(parse_message_strictly(raw).body)
    theirs = their_leaves(email.message_from_bytes(raw, policy=email.policy.default))
    assert [f"{p.type}/{p.subtype}".lower() for p in ours] == [p.get_content_type() for p in theirs]
    for part, their_part in zip(ours, theirs):
        encoded = raw[part.body_start:part.end]
        assert decode_transfer(encoded, part.encoding) == their_part.get_payload(decode=True)
        assert part.encoding.lower() == their_part.get("content-transfer-encoding", "7bit").lower()
        assert part.size == len(encoded)


@settings(max_examples=50, deadline=None)
@given(messages())
def test_message_rfc822_parts_agree_with_the_email_package(built):
    raw = built.as_bytes(policy=email.policy.SMTP)
    theirs = [p for p in email.message_from_bytes(raw, policy=email.policy.default).walk()
              if p.get_content_type() == "message/rfc822"]
    ours = []

    def collect(part: BodyPart) -> None:
        if part.is_message:
            ours.append(part)
            collect(part.body)
        for child in part.children:
            collect(child)

    collect(parse_message_strictly(raw).body)
    assert len(ours) == len(theirs)
    for part, their_part in zip(ours, theirs):
        inner = their_part.get_payload(0)
        # The inner message's header, re-read by the email package, is the one we sliced.
        header = raw[part.body.header_start:part.body.body_start]
        assert email.message_from_bytes(header, policy=email.policy.default).items() == inner.items()
