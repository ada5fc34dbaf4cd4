"""The mail client (MUA): `postoffice mail …` and `postoffice contacts …`.

The first stage of the flow in docs/architecture.md, on the person's side. It speaks only the standard
protocols (SMTP submission with STARTTLS or implicit TLS and AUTH, IMAP4rev1, POP3), through the
standard library's clients, so it works with any server and never imports our server's code.

Modules: `profiles` (client.toml: accounts and where the other client files live), `passwords`
(where a password comes from and where it is kept), `connect` (endpoints, TLS, one-line errors),
`compose` (MIME building, replies, forwards), `draft` ($EDITOR on a draft), `submit` (SMTP),
`imapdata` and `imap` (the IMAP client side), `pop3` (fetching into Maildir or mbox), `parts`
(what a received message holds), `contacts` (the vCard address book), `render` (what the terminal
shows), `context` (what every command shares) and `cli`, `cli_send`, `cli_read` (the click
commands).
"""
