"""Delivery Status Notifications: the report's structure, its fields, the returned message, NOTIFY."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta, timezone

import pytest

from postoffice.mta.dsn import (
    SUBJECT_DELAYED,
    SUBJECT_DELIVERED,
    SUBJECT_FAILED,
    RecipientReport,
    build_dsn,
    wants_report,
)

ARRIVAL = datetime(2024, 3, 1, 9, 0, 0, tzinfo=timezone.utc)
NOW = ARRIVAL + timedelta(hours=4)
UNTIL = ARRIVAL + timedelta(days=5)
LUNCH = (b"From: Alice <alice@example.test>\r\nTo: dave@remote.test, carol@slow.test\r\n"
         b"Subject: lunch\r\nMessage-ID: <lunch-1@example.test>\r\n\r\nNoon at the usual place?\r\n")
CAFE = LUNCH.replace(b"Noon at the usual place?", "Noon at the caf\u00e9?".encode())

FAILED = RecipientReport("dave@remote.test", "rfc822;Dave@remote.test", "failed", "5.1.1", "mx.remote.test",
                         "550 5.1.1 No such user", NOW)
DELAYED = RecipientReport("carol@slow.test", None, "delayed", "4.4.1", None, None, NOW, UNTIL)
DELIVERED = RecipientReport("erin@remote.test", None, "delivered", "2.0.0", "mx.remote.test", "250 2.0.0 OK", NOW)


def dsn(recipients, *, original=LUNCH, envid=None, ret=None) -> bytes:
    return build_dsn(reporting_mta="mail.example.test", sender="alice@example.test", original=original,
                     recipients=recipients, envid=envid, ret=ret, arrival=ARRIVAL, now=NOW,
                     message_id="dsn-1@mail.example.test")


def parsed(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def parts(raw: bytes):
    return list(parsed(raw).iter_parts())


def status_groups(raw: bytes):
    """The message/delivery-status part as field groups: per-message first, then one per recipient."""
    return parts(raw)[1].get_payload()


def test_report_is_multipart_report_of_three_parts():
    # RFC 3464 §2 (a)-(d), RFC 6522 §3: human text, message/delivery-status, the returned message
    msg = parsed(dsn([FAILED, DELAYED]))
    assert msg.get_content_type() == "multipart/report"
    assert msg.get_param("report-type") == "delivery-status"
    assert [p.get_content_type() for p in msg.iter_parts()] == [
        "text/plain", "message/delivery-status", "message/rfc822"]
    assert not msg.defects and all(not p.defects for p in msg.walk())


def test_report_headers():
    # RFC 3464 §2: addressed to the return path; RFC 3834 §5: marked as an automatic reply
    raw = dsn([FAILED])
    msg = parsed(raw)
    assert msg["From"] == "Mail Delivery System <MAILER-DAEMON@mail.example.test>"
    assert b"\r\nTo: <alice@example.test>\r\n" in raw and msg["To"].addresses[0].addr_spec == "alice@example.test"
    assert msg["Subject"] == SUBJECT_FAILED
    assert msg["Message-ID"] == "<dsn-1@mail.example.test>"
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["MIME-Version"] == "1.0"
    assert msg["Date"].datetime == NOW


def test_output_has_crlf_line_ends_only():
    raw = dsn([FAILED, DELAYED])
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")


@pytest.mark.parametrize("recipients, subject", [
    ([FAILED, DELAYED], SUBJECT_FAILED), ([DELAYED], SUBJECT_DELAYED), ([DELAYED, DELIVERED], SUBJECT_DELAYED),
    ([DELIVERED], SUBJECT_DELIVERED)])
def test_subject_says_the_worst_news(recipients, subject):
    assert parsed(dsn(recipients))["Subject"] == subject


def test_delivery_status_fields_for_failed_and_delayed_recipients():
    # RFC 3464 §2.2 per-message fields, §2.3 per-recipient fields; RFC 3461 §6.3 (b), (d)-(i)
    per_message, failed, delayed = status_groups(dsn([FAILED, DELAYED]))
    assert per_message["Reporting-MTA"] == "dns; mail.example.test"
    assert per_message["Arrival-Date"] == "Fri, 01 Mar 2024 09:00:00 +0000"
    assert failed["Original-Recipient"] == "rfc822;Dave@remote.test"  # RFC 3464 §2.3.2: case kept
    assert failed["Final-Recipient"] == "rfc822; dave@remote.test"
    assert failed["Action"] == "failed" and failed["Status"] == "5.1.1"
    assert failed["Remote-MTA"] == "dns; mx.remote.test"
    assert failed["Diagnostic-Code"] == "smtp; 550 5.1.1 No such user"
    assert failed["Last-Attempt-Date"] == "Fri, 01 Mar 2024 13:00:00 +0000"
    assert "Will-Retry-Until" not in failed  # RFC 3464 §2.3.9: only in "delayed"
    assert delayed["Final-Recipient"] == "rfc822; carol@slow.test"
    assert delayed["Action"] == "delayed" and delayed["Status"] == "4.4.1"
    assert delayed["Will-Retry-Until"] == "Wed, 06 Mar 2024 09:00:00 +0000"
    # RFC 3464 §2.3.5: no Remote-MTA when no remote MTA was involved; RFC 3461 §6.3 (d): no ORCPT, no field
    assert "Remote-MTA" not in delayed and "Diagnostic-Code" not in delayed
    assert "Original-Recipient" not in delayed


def test_delivery_status_field_order():
    # RFC 3464 §2.2, §2.3: the order of the ABNF; groups separated by one blank line
    body = dsn([FAILED, DELAYED]).split(b"message/delivery-status", 1)[1].split(b"\r\n\r\n", 1)[1]
    body = body.split(b"\r\n--", 1)[0]
    names = [[line.split(b":")[0].decode() for line in group.split(b"\r\n") if line and line[:1] != b" "]
             for group in body.split(b"\r\n\r\n")]
    assert names == [["Reporting-MTA", "Arrival-Date"],
                     ["Original-Recipient", "Final-Recipient", "Action", "Status", "Remote-MTA", "Diagnostic-Code",
                      "Last-Attempt-Date"],
                     ["Final-Recipient", "Action", "Status", "Last-Attempt-Date", "Will-Retry-Until"]]


def test_envid_only_when_given():
    # RFC 3461 §6.3 (a): MUST be supplied with ENVID, MUST NOT without; decoded, case kept (RFC 3464 §2.2.1)
    assert "Original-Envelope-Id" not in status_groups(dsn([FAILED]))[0]
    per_message = status_groups(dsn([FAILED], envid="QQ-314 Lunch"))[0]
    assert per_message["Original-Envelope-Id"] == "QQ-314 Lunch"


def test_envid_that_is_not_printable_ascii_is_written_as_xtext():
    # RFC 3461 §4.4: an ENVID is printable ASCII; anything else is xtext-encoded (§4) so it stays one field
    raw = dsn([FAILED], envid="id\r\nX-Evil: 1")
    per_message = status_groups(raw)[0]
    assert per_message["Original-Envelope-Id"] == "id+0D+0AX-Evil:+201"
    assert "X-Evil" not in per_message


def test_ret_full_returns_the_whole_message_with_a_failure():
    # RFC 3461 §4.3, §6.2: RET=FULL, a failure: the entire message as message/rfc822
    returned = parts(dsn([FAILED], ret="FULL"))[2]
    assert returned.get_content_type() == "message/rfc822"
    inner = returned.get_payload()[0]
    assert inner["Subject"] == "lunch" and inner.get_content() == "Noon at the usual place?\r\n"


def test_ret_hdrs_returns_the_header_section_only():
    # RFC 3461 §4.3: HDRS; RFC 6522 §4: text/rfc822-headers
    raw = dsn([FAILED], ret="hdrs")  # RFC 3461 §4.3: any case
    returned = parts(raw)[2]
    assert returned.get_content_type() == "text/rfc822-headers"
    assert "Subject: lunch" in returned.get_content()
    assert b"usual place" not in raw


def test_absent_ret_returns_the_message_with_a_failure_and_headers_with_a_delay():
    # RFC 3461 §4.3 leaves absent RET to the MTA; and "if a DSN contains no indications of delivery
    # failure, only the headers of the message should be returned", even with RET=FULL
    assert parts(dsn([FAILED, DELAYED]))[2].get_content_type() == "message/rfc822"
    for ret in (None, "FULL"):
        raw = dsn([DELAYED], ret=ret)
        assert parts(raw)[2].get_content_type() == "text/rfc822-headers" and b"usual place" not in raw


def test_human_text_names_the_address_and_quotes_the_reply():
    # RFC 3464 §2 (b), RFC 6522 §3: the first part is the explanation a person reads
    text = parts(dsn([FAILED, DELAYED]))[0].get_content()
    assert "<dave@remote.test>" in text
    assert "mx.remote.test said:" in text and "550 5.1.1 No such user" in text
    assert "could not be delivered" in text
    assert "<carol@slow.test>" in text and "Wed, 06 Mar 2024 09:00:00 +0000" in text
    assert text.index("<dave@remote.test>") < text.index("not yet been delivered") < text.index("<carol@slow")


def test_human_text_without_a_reply_explains_the_status_code():
    # RFC 3463 §3.5 X.4.1: no answer from host
    text = parts(dsn([DELAYED]))[0].get_content()
    assert "did not answer" in text and "4.4.1" in text


def test_hostile_reply_injects_no_field_and_keeps_the_structure():
    # RFC 3464 §2.1.1: fields follow RFC 822 rules, so CR LF in a reply would start a new field
    hostile = RecipientReport("dave@remote.test", None, "failed", "5.0.0", "mx.remote.test",
                              "550 oops\r\nX-Evil: 1\r\n\r\n--boundary\r\nContent-Type: text/html", NOW)
    raw = dsn([hostile, DELAYED])
    msg = parsed(raw)
    assert "X-Evil" not in msg and len(parts(raw)) == 3
    per_message, failed, delayed = status_groups(raw)
    assert "X-Evil" not in failed and "X-Evil" not in delayed
    assert failed["Diagnostic-Code"].startswith("smtp; 550 oops X-Evil: 1")
    assert not any(line.startswith(b"X-Evil") for line in raw.split(b"\r\n"))
    assert "550 oops X-Evil: 1" in parts(raw)[0].get_content()


def test_very_long_reply_is_folded_and_capped():
    # RFC 5322 §2.1.1: no line over 998 octets; folded at spaces, so unfolding gives the words back
    long = RecipientReport("dave@remote.test", None, "failed", "5.0.0", "mx.remote.test",
                           "550 " + " ".join(["word"] * 3000) + " " + "x" * 5000, NOW)
    raw = dsn([long])
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    diagnostic = status_groups(raw)[1]["Diagnostic-Code"]
    assert diagnostic.startswith("smtp; 550 word word") and len(diagnostic) <= 1000


def test_malformed_status_is_reported_as_the_class():
    # RFC 3464 §2.3.4: no leading zeros; RFC 3461 §6.3 (g): 5.0.0 when nothing specific fits
    odd = RecipientReport("dave@remote.test", None, "failed", "5.01.1", None, None, NOW)
    assert status_groups(dsn([odd]))[1]["Status"] == "5.0.0"


def test_eight_bit_original_is_returned_as_8bit():
    # RFC 2045 §6.4: the part and the multipart containing it say 8bit; the bytes are kept
    raw = dsn([FAILED], original=CAFE)
    assert CAFE in raw
    msg = parsed(raw)
    assert msg["Content-Transfer-Encoding"] == "8bit"
    assert parts(raw)[2]["Content-Transfer-Encoding"] == "8bit"
    assert raw.replace(CAFE, b"").isascii()


def test_seven_bit_original_keeps_the_report_7bit():
    raw = dsn([FAILED])
    assert raw.isascii()
    assert parsed(raw)["Content-Transfer-Encoding"] == "7bit" and parts(raw)[2]["Content-Transfer-Encoding"] == "7bit"


def test_non_ascii_address_stays_7bit_in_the_report():
    # RFC 3464 §2.1: 7bit MUST be used for message/delivery-status; RFC 6533 §3: utf-8 address type
    utf8 = RecipientReport("j\u00f6rg@remote.test", None, "failed", "5.1.1", None, None, NOW)
    raw = dsn([utf8])
    assert raw.isascii()
    assert status_groups(raw)[1]["Final-Recipient"] == "utf-8; j\\x{F6}rg@remote.test"
    assert "<j\u00f6rg@remote.test>" in parts(raw)[0].get_content()


def test_boundary_never_occurs_inside_a_part():
    # RFC 2046 §5.1.1: the boundary must not appear in the encapsulated content
    first = parsed(dsn([FAILED])).get_boundary()
    raw = dsn([FAILED], original=LUNCH.replace(b"Noon", f"--{first}\r\nNoon".encode()))
    assert parsed(raw).get_boundary() != first and len(parts(raw)) == 3


def test_nothing_is_reported_to_the_null_reverse_path():
    # RFC 3461 §6.1, RFC 5321 §4.5.5
    with pytest.raises(ValueError):
        build_dsn(reporting_mta="mail.example.test", sender="", original=LUNCH, recipients=[FAILED],
                  envid=None, ret=None, arrival=ARRIVAL, now=NOW, message_id="x@mail.example.test")


# RFC 3461 §4.1, §6.2: NEVER: nothing; no NOTIFY: FAILURE,DELAY; otherwise what is listed.
NOTIFY_CASES = {
    None: {"failed", "delayed"},
    "NEVER": set(),
    "never": set(),
    "SUCCESS": {"delivered", "relayed", "expanded"},
    "FAILURE": {"failed"},
    "DELAY": {"delayed"},
    "SUCCESS,FAILURE": {"delivered", "relayed", "expanded", "failed"},
    "SUCCESS,DELAY": {"delivered", "relayed", "expanded", "delayed"},
    "FAILURE,DELAY": {"failed", "delayed"},
    "success,failure,delay": {"delivered", "relayed", "expanded", "failed", "delayed"},
}


@pytest.mark.parametrize("notify", list(NOTIFY_CASES))
@pytest.mark.parametrize("action", ["failed", "delayed", "delivered", "relayed", "expanded"])
def test_wants_report(notify, action):
    assert wants_report(notify, action) is (action in NOTIFY_CASES[notify])
