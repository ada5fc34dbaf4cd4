"""`mail send`, `mail reply` and `mail forward`: compose, submit, then keep a copy in Sent.

The order keeps a failure from sending anything half-done: attachments are read, the body is
written (or edited) and every recipient resolved before any connection; the submission sends to
all recipients or to none (submit); only after the server took the message is the copy appended
to Sent over IMAP and the original flagged \\Answered or $Forwarded. A failure in that last step is
reported on stderr, but the exit code stays 0: the message is sent, and sending it again would
send it twice.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from email.errors import HeaderParseError
from email.headerregistry import Address
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from postoffice.mua import compose, draft as drafts, parts
from postoffice.mua.compose import Draft
from postoffice.mua.connect import MuaError
from postoffice.mua.context import ClientContext, pass_client
from postoffice.mua.profiles import Account

if TYPE_CHECKING:
    from postoffice.mua.imap import ImapClient

F = TypeVar("F", bound=Callable[..., object])


def recipient_options(f: F) -> F:
    f = click.option("--bcc", multiple=True, metavar="ADDR|NAME", help="Blind copy (not shown to the others).")(f)
    f = click.option("--cc", multiple=True, metavar="ADDR|NAME", help="Copy to; repeat or separate with commas.")(f)
    return f


def body_options(f: F) -> F:
    f = click.option("--no-sent-copy", is_flag=True, help="Do not keep a copy in the Sent folder.")(f)
    f = click.option("--edit", is_flag=True, help="Write the message in $VISUAL or $EDITOR.")(f)
    f = click.option("--attach", multiple=True, metavar="FILE", help="Attach a file; repeat for more.")(f)
    f = click.option("--body-file", metavar="FILE", help="The text of the message (default: stdin).")(f)
    return f


def _read_text(name: str, what: str) -> str:
    if name == "-":
        return sys.stdin.read()
    try:
        return Path(name).expanduser().read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MuaError(f"{what} not found: {name}; nothing was sent") from None
    except (OSError, UnicodeDecodeError) as e:
        raise MuaError(f"cannot read {what} {name}: {e}; nothing was sent") from None


def _body(body_file: str | None, *, edit: bool, optional: bool) -> str:
    if body_file:
        return _read_text(body_file, "body file")
    if edit:
        return ""
    stdin = sys.stdin
    if stdin.isatty():
        if optional:
            return ""
        click.echo("Type the message, then Ctrl-D on a line of its own:", err=True)
    return stdin.read()


def _me(account: Account) -> Address:
    try:
        return compose.make_address(account.display_name, account.address)
    except (ValueError, IndexError, HeaderParseError):
        raise MuaError(f"account {account.name}: {account.address!r} is not an address") from None


def _edited(client: ClientContext, d: Draft) -> Draft:
    shown = drafts.EditedDraft([", ".join(str(a) for a in d.to)] if d.to else [],
                               [", ".join(str(a) for a in d.cc)] if d.cc else [],
                               [", ".join(str(a) for a in d.bcc)] if d.bcc else [], d.subject, d.text)
    edited = drafts.edit(shown)
    d.to = compose.recipients(edited.to, client.lookup)
    d.cc = compose.recipients(edited.cc, client.lookup)
    d.bcc = compose.recipients(edited.bcc, client.lookup)
    d.subject, d.text = edited.subject, edited.body
    return d


def _deliver(client: ClientContext, account: Account, d: Draft, *, sent_copy: bool,
             afterwards: Callable[[ImapClient], None] | None = None) -> None:
    from postoffice.mua import submit

    if not (d.to or d.cc or d.bcc):
        raise MuaError("no recipients (give --to, --cc or --bcc); nothing was sent")
    built = compose.build(d)
    reply = submit.submit(account, client.password(account),
                          submit.Submission(built.sender, built.recipients, built.data, built.smtputf8, built.eightbit),
                          insecure=client.insecure)
    click.echo(f"sent {built.message_id} to {', '.join(built.recipients)} ({reply})")
    if not account.imap or (not sent_copy and afterwards is None):
        return
    try:
        with client.imap(account) as imap:
            if sent_copy:
                folder = imap.sent_folder()
                imap.append(folder, built.sent_copy)
                click.echo(f"copy saved in {folder}")
            if afterwards is not None:
                afterwards(imap)
    except MuaError as e:
        click.echo(f"postoffice: the message was sent, but {e.format_message()}", err=True)


def _original(client: ClientContext, account: Account, folder: str, uid: int) -> bytes:
    with client.imap(account) as imap:
        imap.select(folder, readonly=True)
        return imap.message(uid, peek=True)


def _flag_original(folder: str, uid: int, flag: str) -> Callable[[ImapClient], None]:
    def mark(imap: ImapClient) -> None:
        imap.select(folder)
        try:
            imap.store_flags([uid], [flag], add=True)
        except MuaError:
            if flag.startswith("\\"):
                raise  # a system flag must work; a keyword ($Forwarded) the server may not keep

    return mark


@click.command("send")
@click.option("--to", "to", multiple=True, metavar="ADDR|NAME", help="Recipient; repeat or separate with commas.")
@recipient_options
@click.option("--subject", "-s", default="", help="The subject (any language: encoded as RFC 2047 asks).")
@body_options
@click.option("--html-file", metavar="FILE", help="An HTML version of the text (sent as multipart/alternative).")
@pass_client
def send(client: ClientContext, to: tuple[str, ...], cc: tuple[str, ...], bcc: tuple[str, ...], subject: str,
         body_file: str | None, attach: tuple[str, ...], edit: bool, no_sent_copy: bool,
         html_file: str | None) -> None:
    """Send a message. Names without "@" come from the address book."""
    account = client.account(needs="smtp")
    attachments = compose.read_attachments(attach)
    html = _read_text(html_file, "HTML file") if html_file else None
    text = _body(body_file, edit=edit, optional=html is not None)
    if html is not None and not text.strip():
        text = parts.html_to_text(html)
    d = Draft(_me(account), compose.recipients(to, client.lookup), compose.recipients(cc, client.lookup),
              compose.recipients(bcc, client.lookup), subject, text, html, attachments)
    if edit:
        d = _edited(client, d)
    _deliver(client, account, d, sent_copy=not no_sent_copy)


@click.command("reply")
@click.argument("uid", metavar="ID", type=click.IntRange(min=1))
@click.option("--all", "reply_all", is_flag=True, help="Reply to the sender and every other recipient.")
@click.option("--folder", "-f", default="INBOX", show_default=True, help="The folder the message is in.")
@click.option("--to", "to", multiple=True, metavar="ADDR|NAME", help="Another recipient.")
@recipient_options
@click.option("--subject", "-s", default="", help='Another subject than "Re: " and the original\'s.')
@body_options
@pass_client
def reply(client: ClientContext, uid: int, reply_all: bool, folder: str, to: tuple[str, ...], cc: tuple[str, ...],
          bcc: tuple[str, ...], subject: str, body_file: str | None, attach: tuple[str, ...], edit: bool,
          no_sent_copy: bool) -> None:
    """Reply to message ID, quoting it and threading (In-Reply-To, References)."""
    account = client.account(needs="smtp")
    attachments = compose.read_attachments(attach)
    d = Draft(_me(account), compose.recipients(to, client.lookup), compose.recipients(cc, client.lookup),
              compose.recipients(bcc, client.lookup), subject, attachments=attachments)
    text = _body(body_file, edit=edit, optional=False)
    original = parts.parse(_original(client, account, folder, uid))
    d.text = text
    compose.reply(d, original, reply_all=reply_all, own={account.address, account.user})
    if edit:
        d = _edited(client, d)
    _deliver(client, account, d, sent_copy=not no_sent_copy, afterwards=_flag_original(folder, uid, "\\Answered"))


@click.command("forward")
@click.argument("uid", metavar="ID", type=click.IntRange(min=1))
@click.option("--to", "to", multiple=True, required=True, metavar="ADDR|NAME", help="Forward to; repeat for more.")
@recipient_options
@click.option("--folder", "-f", default="INBOX", show_default=True, help="The folder the message is in.")
@click.option("--as-attachment", is_flag=True, help="Attach the whole message instead of quoting it inline.")
@click.option("--subject", "-s", default="", help='Another subject than "Fwd: " and the original\'s.')
@body_options
@pass_client
def forward(client: ClientContext, uid: int, to: tuple[str, ...], cc: tuple[str, ...], bcc: tuple[str, ...],
            folder: str, as_attachment: bool, subject: str, body_file: str | None, attach: tuple[str, ...],
            edit: bool, no_sent_copy: bool) -> None:
    """Forward message ID with its attachments; an optional note comes from --body-file or stdin."""
    account = client.account(needs="smtp")
    attachments = compose.read_attachments(attach)
    d = Draft(_me(account), compose.recipients(to, client.lookup), compose.recipients(cc, client.lookup),
              compose.recipients(bcc, client.lookup), subject, attachments=attachments)
    d.text = _body(body_file, edit=edit, optional=True)
    original = parts.parse(_original(client, account, folder, uid))
    compose.forward(d, original, as_attachment=as_attachment)
    if edit:
        d = _edited(client, d)
    _deliver(client, account, d, sent_copy=not no_sent_copy, afterwards=_flag_original(folder, uid, "$Forwarded"))


COMMANDS = [send, reply, forward]
