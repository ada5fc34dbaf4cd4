"""Fuzz target: SMTP command lines (smtp.wire.parse_command) never raise, always give a value."""

from _runner import run

from postoffice.smtp.wire import BadCommand, parse_command

SEEDS = [b"EHLO client.example.org", b"MAIL FROM:<alice@example.test> SIZE=1000 BODY=8BITMIME SMTPUTF8",
         b"RCPT TO:<bob@example.test> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;bob+2B@example.test",
         b"RCPT TO:<@a.example,@b.example:user@c.example>", b'RCPT TO:<"a@b"@example.test>', b"BDAT 100 LAST",
         b"AUTH PLAIN AGFsaWNlAHNlY3JldA==", b"MAIL FROM:<>", b"VRFY postmaster", b"RCPT TO:<Postmaster>"]


def target(data: bytes) -> None:
    for utf8 in (False, True):
        result = parse_command(data, smtputf8=utf8)
        assert isinstance(result, BadCommand) or hasattr(result, "verb")


if __name__ == "__main__":
    run(target, SEEDS)
