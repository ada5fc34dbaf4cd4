"""`mail reply` and `mail forward`: recipients, quoting and threading (RFC 5322 §3.6.4)."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

from tests.mua.conftest import fetch_raw, find_uids


def parsed(raw: bytes):
    return message_from_bytes(raw, policy=policy.default)


def addresses(msg, name: str) -> set[str]:
    field = msg[name]
    return {a.addr_spec for a in field.addresses} if field else set()


def sent_id(out: str) -> str:
    return re.search(r"sent (<[^>]+>)", out).group(1)


def test_reply_all_threads_and_leaves_out_the_replier(people, mail_server):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    first = sent_id(alice.ok("mail", "send", "--to", "bob@example.test", "--cc", "carol@example.test",
                             "--subject", "Picnic r1", stdin="Saturday at noon?\nBring fruit.\n").out)
    uid = find_uids(mail_server, bob.address, "r1")[0]

    second = sent_id(bob.ok("mail", "reply", str(uid), "--all", stdin="Sounds good.\n").out)
    reply_uid = find_uids(mail_server, alice.address, "Re: Picnic r1")[0]
    reply = parsed(fetch_raw(mail_server, alice.address, reply_uid))
    assert reply["Subject"] == "Re: Picnic r1"
    # RFC 5322 §3.6.4: In-Reply-To is the parent's Message-ID; References starts the thread with it.
    assert reply["In-Reply-To"] == first and reply["References"] == first
    # Reply-all: the sender in To, the other recipients in Cc, and never the replier himself.
    assert addresses(reply, "To") == {"alice@example.test"}
    assert addresses(reply, "Cc") == {"carol@example.test"}
    body = reply.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert body.startswith("Sounds good.\n") and "wrote:" in body
    assert "> Saturday at noon?\n> Bring fruit." in body
    # The original is marked answered in bob's INBOX.
    row = next(line for line in bob.ok("mail", "list").out.splitlines() if "Picnic r1" in line)
    assert "answered" in row

    # carol answers bob's reply: the thread grows, and Re: does not double.
    carol_uid = find_uids(mail_server, carol.address, "Re: Picnic r1")[0]
    carol.ok("mail", "reply", str(carol_uid), "--all", stdin="Me too.\n")
    third = parsed(fetch_raw(mail_server, bob.address, find_uids(mail_server, bob.address, "Re: Picnic r1")[0]))
    assert third["Subject"] == "Re: Picnic r1"
    assert third["In-Reply-To"] == second and third["References"].split() == [first, second]
    assert addresses(third, "To") == {"bob@example.test"} and addresses(third, "Cc") == {"alice@example.test"}
    # Both replies are in their writers' Sent folders.
    assert find_uids(mail_server, bob.address, "Re: Picnic r1", folder="Sent")
    assert find_uids(mail_server, carol.address, "Re: Picnic r1", folder="Sent")


def test_plain_reply_goes_to_the_sender_only(people, mail_server):
    alice, bob = people["alice"], people["bob"]
    alice.ok("mail", "send", "--to", "bob@example.test", "--cc", "carol@example.test", "--subject", "Quick r2",
             stdin="A question.\n")
    uid = find_uids(mail_server, bob.address, "r2")[0]
    out = bob.ok("mail", "reply", str(uid), stdin="An answer.\n").out
    assert "to alice@example.test (" in out
    reply = parsed(fetch_raw(mail_server, alice.address, find_uids(mail_server, alice.address, "Re: Quick r2")[0]))
    assert addresses(reply, "To") == {"alice@example.test"} and reply["Cc"] is None


def test_forward_keeps_text_and_attachments(people, mail_server, tmp_path):
    alice, bob, carol = people["alice"], people["bob"], people["carol"]
    report = tmp_path / "report.pdf"
    report.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8)
    first = sent_id(alice.ok("mail", "send", "--to", "carol@example.test", "--subject", "Report f1",
                             "--attach", str(report), stdin="The quarterly numbers.\n").out)
    uid = find_uids(mail_server, carol.address, "f1")[0]
    carol.ok("mail", "forward", str(uid), "--to", "bob@example.test", stdin="FYI, see below.\n")

    fwd_uid = find_uids(mail_server, bob.address, "Fwd: Report f1")[0]
    shown = bob.ok("mail", "read", str(fwd_uid)).out
    assert "Subject: Fwd: Report f1" in shown
    assert "FYI, see below." in shown and "Forwarded message" in shown and "The quarterly numbers." in shown
    assert "From: alice@example.test" in shown
    fwd = parsed(fetch_raw(mail_server, bob.address, fwd_uid))
    assert first in fwd["References"]
    out = tmp_path / "bob"
    bob.ok("mail", "save-attachments", str(fwd_uid), str(out))
    assert (out / "report.pdf").read_bytes() == report.read_bytes()

    # --as-attachment: the whole message travels as message/rfc822 (RFC 2046 §5.2.1).
    carol.ok("mail", "forward", str(uid), "--to", "bob@example.test", "--as-attachment", "--subject", "Whole f2",
             stdin="")
    whole_uid = find_uids(mail_server, bob.address, "Whole f2")[0]
    assert "message/rfc822" in bob.ok("mail", "read", str(whole_uid)).out
    whole = parsed(fetch_raw(mail_server, bob.address, whole_uid))
    inner = next(p for p in whole.iter_attachments() if p.get_content_type() == "message/rfc822")
    assert inner.get_content()["Message-ID"] == first
