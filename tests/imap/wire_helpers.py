"""Helpers for the IMAP wire tests: parse a whole command and check it used every byte."""

from __future__ import annotations

from postoffice.imap.wire import BadCommand, Limits, NeedMore, parse_command

LIMITS = Limits()


def crlf(text: str) -> bytes:
    """A command as the RFC prints it, one "C:" line per list item, joined with CRLF."""
    return text.encode("utf-8").replace(b"\n", b"\r\n") + b"\r\n"


def parse(line: str | bytes, *, utf8: bool = False, limits: Limits = LIMITS):
    buf = crlf(line) if isinstance(line, str) else line
    result, used = parse_command(buf, limits, utf8=utf8)
    assert not isinstance(result, (NeedMore, BadCommand)), result
    assert used == len(buf)
    return result


def bad(line: str | bytes, *, utf8: bool = False, limits: Limits = LIMITS) -> BadCommand:
    buf = crlf(line) if isinstance(line, str) else line
    result, used = parse_command(buf, limits, utf8=utf8)
    assert isinstance(result, BadCommand), result
    assert used == len(buf)
    return result
