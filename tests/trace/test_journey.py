"""A message's whole journey, as `postoffice trace` prints it and as `trace --json` gives it.

Submitted by alice to bob and carol (local) and dave@remote.test (relayed after one deferral),
then read by bob over POP3 and by carol over IMAP (who then expunges it): every stage in order, with its fields.
"""

from __future__ import annotations

import imaplib
import json
import poplib

from tests.conftest import inbox, provision, start_server
from tests.mta.remote import RemoteMx
from tests.mta.test_outbound import cli, config, submit, wait_for


def journey(data_dir, key: str) -> list[dict]:
    return json.loads(cli(data_dir, "trace", key, "--json"))


def test_trace_json_follows_a_message_from_submission_to_pop3_and_imap(tmp_path):
    data_dir = tmp_path / "data"
    provision(data_dir)
    with RemoteMx() as remote:
        remote.handler.script.data_replies = ["451 4.3.0 try later"]
        server = start_server(data_dir, config(remote))
        try:
            queue_id = submit(server, ["bob@example.test", "carol@example.test", "dave@remote.test"], "journey")
            wait_for(lambda: remote.handler.received, what="the relay after one deferral")
            inbox(data_dir, "bob@example.test", expect=1)
            pop = poplib.POP3(*server.listeners["pop3"], timeout=20)
            pop.user("bob@example.test")
            pop.pass_("bob-secret")
            pop.retr(1)
            pop.quit()
            with imaplib.IMAP4(*server.listeners["imap"]) as imap:
                imap.login("carol@example.test", "carol-secret")
                imap.select("INBOX")
                imap.fetch("1", "(BODY.PEEK[])")
                imap.fetch("1", "(BODY[])")  # a second fetch is no second event
            with imaplib.IMAP4(*server.listeners["imap"]) as imap:
                imap.login("carol@example.test", "carol-secret")
                imap.select("INBOX")
                imap.fetch("1", "(RFC822)")  # nor one in a new session
                imap.store("1", "+FLAGS", "(\\Deleted)")
                imap.expunge()
            wait_for(lambda: any(e["stage"] == "expunged" for e in journey(data_dir, queue_id)),
                     what="IMAP's fetch and expunge in the journey")
            events = journey(data_dir, queue_id)
            text = cli(data_dir, "trace", queue_id)
        finally:
            server.stop()

    stages = [e["stage"] for e in events]
    assert stages == ["submitted", "authenticated", "fixed-up", "routed", "routed", "routed", "queued",
                      "delivered", "delivered", "deferred", "relayed", "retrieved", "fetched", "expunged"], stages
    by_stage = {}
    for e in events:
        by_stage.setdefault(e["stage"], []).append(e)
        assert e["queue_id"] == queue_id and e["message_id"].endswith("@mail.example.test>")
        assert e["at"] and e["type"]
    submitted = by_stage["submitted"][0]
    assert submitted["protocol"] == "submission" and submitted["client_ip"] == "127.0.0.1"
    assert submitted["tls"].startswith("TLSv1") and submitted["helo"]
    assert (by_stage["authenticated"][0]["login"], by_stage["authenticated"][0]["mechanism"]) == ("alice@example.test", "PLAIN")
    assert "added Message-ID" in " ".join(by_stage["fixed-up"][0]["changes"])
    routed = {e["address"]: e for e in by_stage["routed"]}
    assert routed["bob@example.test"]["local"] and routed["bob@example.test"]["how"] == "account"
    assert not routed["dave@remote.test"]["local"]
    assert by_stage["queued"][0]["recipients"] == 3 and by_stage["queued"][0]["size"] > 0
    delivered = {e["recipient"]: e for e in by_stage["delivered"]}
    assert {r: (e["mailbox"], e["uid"]) for r, e in delivered.items()} == {
        "bob@example.test": ("INBOX", 1), "carol@example.test": ("INBOX", 1)}
    deferred, relayed = by_stage["deferred"][0], by_stage["relayed"][0]
    for attempt, number in ((deferred, 1), (relayed, 2)):
        assert attempt["recipient"] == "dave@remote.test" and attempt["attempt"] == number
        assert attempt["host"] == "127.0.0.1" and attempt["port"] == remote.controller.port and attempt["via"] == "route"
    assert deferred["reply_code"] == 451 and deferred["reply"] == "451 4.3.0 try later"
    assert deferred["status"] == "4.3.0" and deferred["next_attempt"]
    assert relayed["reply_code"] == 250 and relayed["status"].startswith("2.")
    retrieved, fetched = by_stage["retrieved"][0], by_stage["fetched"][0]
    assert (retrieved["protocol"], retrieved["account"], retrieved["mailbox"], retrieved["uid"]) == (
        "POP3", "bob@example.test", "INBOX", 1)
    assert (fetched["protocol"], fetched["account"], fetched["mailbox"], fetched["uid"]) == (
        "IMAP", "carol@example.test", "INBOX", 1)
    assert by_stage["expunged"][0]["account"] == "carol@example.test"

    # The text form reads as it always did: one line per event, the stage third.
    lines = text.splitlines()
    assert lines[0].split() == [queue_id, events[0]["message_id"]]
    assert [line.split()[2] for line in lines[1:]] == stages
    assert "bob@example.test: delivered to INBOX UID 1" in text
    assert "dave@remote.test to 127.0.0.1:" in text and "451 4.3.0 try later; next attempt" in text
    assert "by POP3 as bob@example.test" in text and "by IMAP as carol@example.test" in text
