"""IMAP4rev2 (RFC 9051) with IMAP4rev1 (RFC 3501) compatibility: the mail access protocol.

Layered as the other protocol packages (STYLE.md): `wire/` turns bytes into command values and
never does I/O; the session and listener build on it.
"""
