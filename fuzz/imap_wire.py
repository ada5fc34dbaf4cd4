"""Fuzz target: the IMAP command parser never raises, accounts for the bytes it used, and what it
parses once parses the same when the bytes arrive in two pieces."""

from _runner import run

from postoffice.imap.wire import LIMITS, BadCommand, NeedMore, parse_command

SEEDS = [b"a LOGIN alice {5+}\r\nsecre\r\n", b"b SELECT INBOX\r\n", b'c LIST (SUBSCRIBED) "" ("*" "%") RETURN (STATUS (MESSAGES))\r\n',
         b"d UID FETCH 1:*,$ (FLAGS BODY.PEEK[1.2.HEADER.FIELDS (SUBJECT)]<0.100> BINARY[1])\r\n",
         b"e SEARCH RETURN (MIN SAVE) CHARSET UTF-8 OR (SUBJECT x NOT SEEN) UID 1:4\r\n",
         b"f APPEND Sent (\\Seen) \"01-Jan-2020 10:00:00 +0000\" ~{3+}\r\na\0b UTF8 (~{1+}\r\nx)\r\n",
         b"g STORE 1 +FLAGS.SILENT (\\Deleted)\r\n", b"h AUTHENTICATE PLAIN =\r\n", b"i ID (\"name\" NIL)\r\n"]


def target(data: bytes) -> None:
    for utf8 in (False, True):
        result, used = parse_command(data, LIMITS, utf8=utf8)
        assert 0 <= used <= len(data)
        if isinstance(result, NeedMore):
            assert used == 0
            continue
        assert isinstance(result, BadCommand) or hasattr(result, "tag")
        if not isinstance(result, BadCommand) and used > 1:
            # The same bytes cut anywhere: the first piece needs more, the whole parses the same.
            cut = used // 2
            first, _ = parse_command(data[:cut], LIMITS, utf8=utf8)
            assert isinstance(first, (NeedMore, BadCommand)) or first == result
            assert parse_command(data[:used], LIMITS, utf8=utf8) == (result, used)


if __name__ == "__main__":
    run(target, SEEDS)
