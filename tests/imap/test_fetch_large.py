"""A FETCH larger than what the server holds before writing (1 MiB) arrives whole and in order,
with the updates due after it and the tagged OK last (RFC 9051 §7.5.2, §7.5.1)."""

from __future__ import annotations

from tests.imap.test_session_flow import connect

USER = "alice@example.test"


def test_a_fetch_of_several_megabytes_arrives_whole_and_in_order(mail_server):
    bodies = [f"Subject: big {n}\r\n\r\n".encode() + (b"%d" % n) * 700_000 + b"\r\n" for n in range(3)]
    with connect(mail_server, USER) as imap, connect(mail_server, USER) as other:
        imap.create("Big")
        for body in bodies:
            imap.append("Big", None, None, body)
        imap.select("Big")
        other.select("Big")
        other.append("Big", None, None, b"Subject: late\r\n\r\nx\r\n")
        imap.untagged_responses.clear()
        typ, data = imap.fetch("1:3", "(BODY.PEEK[])")
        assert typ == "OK"
        fetched = [part[1] for part in data if isinstance(part, tuple)]
        assert fetched == bodies
        # The EXISTS for the message appended meanwhile came with this command (RFC 9051 §7.4.1).
        assert imap.untagged_responses.get("EXISTS") == [b"4"]
