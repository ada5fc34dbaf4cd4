"""Fuzz target: POP3 command lines and byte-stuffing never raise; stuffing is unambiguous."""

from _runner import run

from postoffice.pop3.wire import BadCommand, parse_command, stuffed

SEEDS = [b"USER alice@example.test", b"PASS se cret", b"TOP 1 10", b"LIST", b"UIDL 3", b"AUTH PLAIN =", b"RETR 1",
         b"From: a\r\n\r\n.body\r\n"]


def target(data: bytes) -> None:
    result = parse_command(data)
    assert isinstance(result, BadCommand) or hasattr(result, "keyword")
    out = stuffed(data)
    assert out.endswith(b".\r\n") and b"\r\n.\r\n" not in out[:-3]


if __name__ == "__main__":
    run(target, SEEDS)
