"""`mail folders`, `list`, `read`, `save-attachments`, `flag`, `move`, `delete` (IMAP) and `fetch` (POP3).

Message numbers are IMAP UIDs, as `mail list` shows them. Reading a message sets \\Seen, as in
any mail client, unless --peek; `--raw` writes the message's exact bytes as the server holds them.
`delete` moves to Trash (found by its \\Trash special use) and only deletes for good with
--expunge, or when the message is in Trash already.
"""

from __future__ import annotations

import shlex
import sys
from datetime import date
from pathlib import Path

import click

from postoffice.mua import imapdata, parts, render
from postoffice.mua.connect import MuaError
from postoffice.mua.context import ClientContext, pass_client
from postoffice.mua.imap import FLAG_NAMES, TRASH_NAMES, ImapClient

folder_option = click.option("--folder", "-f", default="INBOX", show_default=True, help="The folder to use.")

SEARCH_KEYS = {"from": "FROM", "to": "TO", "cc": "CC", "subject": "SUBJECT", "body": "BODY", "text": "TEXT",
               "since": "SINCE", "before": "BEFORE", "on": "ON"}
IS_KEYS = {"unread": "UNSEEN", "read": "SEEN", "flagged": "FLAGGED", "answered": "ANSWERED", "draft": "DRAFT",
           "deleted": "DELETED"}
MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def search_criteria(query: str) -> list[tuple[str, str | None]]:
    """`from:bob subject:"lunch plans" since:2024-05-01 is:flagged words` as IMAP SEARCH keys.

    Bare words match anywhere in the message (TEXT); every term must match (RFC 3501 §6.4.4).
    """
    try:
        words = shlex.split(query)
    except ValueError as e:
        raise MuaError(f"cannot read the search {query!r}: {e}") from None
    out: list[tuple[str, str | None]] = []
    for word in words:
        try:
            imapdata.quote(word)  # RFC 9051 §9: every search string is sent as an IMAP string
        except imapdata.ImapDataError as e:
            raise MuaError(f"cannot search for {word!r}: {e}") from None
        key, colon, value = word.partition(":")
        key = key.lower()
        if colon and key == "is" and value.lower() in IS_KEYS:
            out.append((IS_KEYS[value.lower()], None))
        elif colon and key in SEARCH_KEYS and value:
            if key in ("since", "before", "on"):
                try:
                    day = date.fromisoformat(value)
                except ValueError:
                    raise MuaError(f"{word}: dates are written YYYY-MM-DD") from None
                value = f"{day.day}-{MONTHS[day.month - 1]}-{day.year:04d}"  # RFC 3501 §9 date: 4-digit year
            out.append((SEARCH_KEYS[key], value))
        else:
            out.append(("TEXT", word))
    return out


@click.command("folders")
@pass_client
def folders(client: ClientContext) -> None:
    """List the folders, with their special use and how many messages (and unread ones) they hold."""
    account = client.account(needs="imap")
    with client.imap(account) as imap:
        rows = [(f, imap.status(f.name) if f.selectable else {}) for f in imap.folders()]
    render.folders(rows)


@click.command("list")
@folder_option
@click.option("--unread", is_flag=True, help="Only messages not read yet.")
@click.option("--search", "query", default="", metavar="QUERY",
              help='Words to find; or from:, to:, cc:, subject:, body:, since:YYYY-MM-DD, before:, is:flagged ...')
@click.option("--limit", "-n", type=click.IntRange(min=1), default=50, show_default=True,
              help="Show at most the N newest.")
@pass_client
def list_messages(client: ClientContext, folder: str, unread: bool, query: str, limit: int) -> None:
    """List messages: number (for read, reply, ...), date, from, subject, flags."""
    account = client.account(needs="imap")
    criteria = search_criteria(query) if query else []
    if unread:
        criteria.insert(0, ("UNSEEN", None))
    with client.imap(account) as imap:
        if any(v is not None and not v.isascii() for _, v in criteria):
            imap.enable_utf8()
        imap.select(folder, readonly=True)
        uids = imap.search(criteria)
        summaries = imap.summaries(uids[-limit:])
    render.messages(summaries, folder)


@click.command("read")
@click.argument("uid", metavar="ID", type=click.IntRange(min=1))
@folder_option
@click.option("--raw", is_flag=True, help="Write the message's source, byte for byte.")
@click.option("--peek", is_flag=True, help="Leave the message unread.")
@pass_client
def read(client: ClientContext, uid: int, folder: str, raw: bool, peek: bool) -> None:
    """Show message ID: its headers, its text and a list of its attachments."""
    account = client.account(needs="imap")
    with client.imap(account) as imap:
        imap.select(folder, readonly=peek)
        data = imap.message(uid, peek=peek)
    if raw:
        out = sys.stdout.buffer
        out.write(data)
        out.flush()
        return
    render.message(parts.parse(data))


@click.command("save-attachments")
@click.argument("uid", metavar="ID", type=click.IntRange(min=1))
@click.argument("directory", metavar="DIR", type=click.Path(file_okay=False, path_type=Path))
@folder_option
@pass_client
def save_attachments(client: ClientContext, uid: int, directory: Path, folder: str) -> None:
    """Save the attachments of message ID into DIR (existing files are never overwritten)."""
    account = client.account(needs="imap")
    with client.imap(account) as imap:
        imap.select(folder, readonly=True)
        data = imap.message(uid, peek=True)
    found = parts.attachments(parts.parse(data))
    if not found:
        raise MuaError(f"message {uid} has no attachments")
    for i, att in enumerate(found, 1):
        try:
            path = parts.save(att, directory, i)
        except OSError as e:
            raise MuaError(f"cannot write into {directory}: {e.strerror}") from None
        click.echo(f"{path}  ({render.human_size(att.size)})")


def _check_exist(imap: ImapClient, uids: tuple[int, ...], folder: str) -> list[int]:
    found = imap.existing(list(uids))
    missing = sorted(set(uids) - set(found))
    if missing:
        raise MuaError(f"no message {', '.join(map(str, missing))} in {folder}")
    return found


@click.command("flag")
@click.argument("uids", metavar="ID...", nargs=-1, required=True, type=click.IntRange(min=1))
@click.argument("flag", type=click.Choice(sorted(FLAG_NAMES)))
@folder_option
@click.option("--unset", is_flag=True, help="Remove the flag instead of setting it.")
@pass_client
def flag(client: ClientContext, uids: tuple[int, ...], flag: str, folder: str, unset: bool) -> None:
    """Set (or with --unset, clear) a flag on messages: seen, flagged, answered, draft, deleted."""
    account = client.account(needs="imap")
    with client.imap(account) as imap:
        imap.select(folder)
        found = _check_exist(imap, uids, folder)
        imap.store_flags(found, [FLAG_NAMES[flag]], add=not unset)
    click.echo(f"{'cleared' if unset else 'set'} {flag} on {', '.join(map(str, found))}")


@click.command("move")
@click.argument("uids", metavar="ID...", nargs=-1, required=True, type=click.IntRange(min=1))
@click.argument("target", metavar="FOLDER")
@folder_option
@pass_client
def move(client: ClientContext, uids: tuple[int, ...], target: str, folder: str) -> None:
    """Move messages to FOLDER."""
    account = client.account(needs="imap")
    with client.imap(account) as imap:
        known = {f.name.casefold(): f.name for f in imap.folders()}
        if target.casefold() not in known:
            raise MuaError(f"no folder {target!r} (see `postoffice mail folders`)")
        target = known[target.casefold()] if target.upper() != "INBOX" else "INBOX"
        imap.select(folder)
        found = _check_exist(imap, uids, folder)
        imap.move(found, target)
    click.echo(f"moved {', '.join(map(str, found))} to {target}")


@click.command("delete")
@click.argument("uids", metavar="ID...", nargs=-1, required=True, type=click.IntRange(min=1))
@folder_option
@click.option("--expunge", is_flag=True, help="Delete for good instead of moving to Trash.")
@pass_client
def delete(client: ClientContext, uids: tuple[int, ...], folder: str, expunge: bool) -> None:
    """Delete messages: into Trash, or for good with --expunge (or when already in Trash)."""
    account = client.account(needs="imap")
    with client.imap(account) as imap:
        trash = None if expunge else imap.find_folder("\\Trash", TRASH_NAMES)
        imap.select(folder)
        found = _check_exist(imap, uids, folder)
        ids = ", ".join(map(str, found))
        if trash and trash.casefold() != folder.casefold():
            imap.move(found, trash)
            click.echo(f"moved {ids} to {trash}")
            return
        imap.store_flags(found, ["\\Deleted"], add=True)
        if imap.expunge(found):
            click.echo(f"deleted {ids}")
        else:
            click.echo(f"marked {ids} deleted; the server has no UIDPLUS, so they go at its next EXPUNGE")


@click.command("fetch")
@click.option("--pop3", "use_pop3", is_flag=True, default=True,
              help="Download over POP3 (the account's --pop3 server); the default and only way for now.")
@click.option("--keep", is_flag=True, help="Leave the messages on the server (later runs fetch only new ones).")
@click.option("--to-maildir", "maildir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="Into a Maildir (made if missing), as mutt or Dovecot read it.")
@click.option("--to-mbox", "mbox", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path),
              help="Appended to an mbox file.")
@pass_client
def fetch(client: ClientContext, use_pop3: bool, keep: bool, maildir: Path | None, mbox: Path | None) -> None:
    """Download the INBOX into a Maildir or an mbox and, unless --keep, delete it from the server.

    A message is deleted on the server only once it is safely on disk here; an interrupted fetch
    resumes where it stopped (by UIDL).
    """
    from postoffice.mua import pop3

    where = maildir or mbox
    if where is None or (maildir is not None and mbox is not None):
        raise MuaError("give one of --to-maildir DIR and --to-mbox FILE")
    account = client.account(needs="pop3")
    password = client.password(account)
    destination: pop3.Destination = pop3.MaildirDestination(where) if maildir else pop3.MboxDestination(where)
    progress = render.DownloadProgress()
    try:
        result = pop3.fetch(account, password, destination, client.profiles.uidl_directory, keep=keep,
                            insecure=client.insecure, progress=progress)
    finally:
        progress.stop()
        destination.close()
    line = f"fetched {result.fetched} new message(s) into {where}"
    if result.skipped:
        line += f", {result.skipped} already there"
    line += f"; deleted {result.deleted} from the server" if not keep else "; kept on the server"
    click.echo(line)
    if not result.resumable:
        click.echo("postoffice: the server has no UIDL: an interrupted fetch cannot resume", err=True)


COMMANDS = [folders, list_messages, read, save_attachments, flag, move, delete, fetch]
