"""Tests of the IMAP server."""
