"""postoffice: a complete mail system, MUA to MSA to MTA to MDA to the mailbox store to POP3/IMAP."""
__version__ = "0.1.0"
