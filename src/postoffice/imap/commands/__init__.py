"""IMAP command families that grew their own modules (STYLE.md)."""
