"""Fuzz target: parse_message never raises; offsets nest; the JSON form round-trips."""

from _runner import run

from postoffice.message.parsed import ParsedMessage, parse_message

SEEDS = [b"From: a@b\r\nSubject: =?utf-8?q?x?=\r\n\r\nhi\r\n",
         b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n",
         b"Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n"]


def target(data: bytes) -> None:
    parsed = parse_message(data)
    assert 0 <= parsed.body.header_start <= parsed.body.body_start <= parsed.body.end <= len(data)
    assert ParsedMessage.from_json(parsed.to_json()) == parsed


if __name__ == "__main__":
    run(target, SEEDS)
