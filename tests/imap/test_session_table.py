"""The session's tables: every command word a state accepts has a handler (RFC 9051 §3, §6)."""

from postoffice.imap.session import ACCEPTS, HANDLERS


def test_every_accepted_command_has_a_handler():
    accepted = frozenset().union(*ACCEPTS.values())
    assert accepted - HANDLERS.keys() == set()
