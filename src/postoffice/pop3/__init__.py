"""POP3 access to the mailbox store: wire, replies, session, listener (RFC 1939, 2449, 2595, 5034)."""
