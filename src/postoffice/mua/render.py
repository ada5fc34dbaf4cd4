"""What the terminal shows: tables of messages, folders, contacts and accounts; a message; progress.

Tables and the progress bar use `rich`. Text that comes from a message (subjects, names, bodies)
is never read as rich markup or highlighted, so a subject like "[bold]hi" shows as written, and its
control characters are shown as U+FFFD: a sender must not be able to send escape sequences to the
reader's terminal (retitle it, rewrite the screen, answer back). When the output is not a terminal
(a pipe, a file), tables are drawn wide and without colour, so that lines are not cut for a width
nobody sees.
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Iterable
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import click

from postoffice.mua import parts
from postoffice.mua.contacts import Contact
from postoffice.mua.imap import FLAG_NAMES, Folder, Summary
from postoffice.mua.profiles import Account

if TYPE_CHECKING:  # rich is imported when something is shown, not when the command starts
    from rich.console import Console
    from rich.progress import Progress, TaskID
    from rich.table import Table

FLAG_WORDS = {v.lower(): k for k, v in FLAG_NAMES.items()}
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # C0 but tab and line feed, DEL, C1


def shown(text: str) -> str:
    """Text from a message or a server, safe to put on a terminal."""
    return _CONTROL.sub("\ufffd", text)


def console(*, stderr: bool = False) -> Console:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = stream.isatty()
    width = None if tty else max(160, shutil.get_terminal_size((160, 24)).columns)
    return Console(file=stream, width=width, highlight=False, markup=False, emoji=False,
                   color_system="auto" if tty else None, soft_wrap=False)


def _table(*columns: str, title: str | None = None) -> Table:
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, title=title)
    for name in columns:
        table.add_column(name, overflow="fold")
    return table


def short_date(value: str, fallback: str = "") -> str:
    for text, parse in ((value, parsedate_to_datetime), (fallback, _internaldate)):
        if not text:
            continue
        try:
            when = parse(text)
        except (TypeError, ValueError, IndexError):
            continue
        if when.tzinfo is not None:
            when = when.astimezone()
        return when.strftime("%Y-%m-%d %H:%M")
    return ""


def _internaldate(text: str) -> datetime:
    return datetime.strptime(text, "%d-%b-%Y %H:%M:%S %z")  # RFC 3501 §9 date-time


def flag_words(flags: Iterable[str]) -> str:
    flags = [f.lower() for f in flags]
    words = [] if "\\seen" in flags else ["unread"]
    words += [FLAG_WORDS[f] for f in flags if f in FLAG_WORDS and f != "\\seen"]
    return " ".join(words)


def messages(summaries: list[Summary], folder: str) -> None:
    out = console()
    if not summaries:
        out.print(f"no messages in {folder}")
        return
    table = _table("#", "date", "from", "subject", "flags", title=None)
    for s in summaries:
        head = parts.parse(s.header)
        sender = _who(head)
        table.add_row(str(s.uid), short_date(parts.header(head, "Date"), s.internaldate), shown(sender),
                      shown(parts.header(head, "Subject")) or "(no subject)", flag_words(s.flags))
    out.print(table)


def _who(msg: EmailMessage) -> str:
    addresses: tuple[Address, ...]
    try:
        field = msg.get("From")
        addresses = getattr(field, "addresses", ())
    except Exception:  # see parts.header: the registry's parsers fail in many ways
        addresses = ()
    if addresses:
        a = addresses[0]
        return a.display_name or a.addr_spec
    return parts.header(msg, "From")


def folders(rows: list[tuple[Folder, dict[str, int]]]) -> None:
    table = _table("folder", "special use", "messages", "unread")
    for folder, status in rows:
        table.add_row(shown(folder.name), (folder.special_use or "").lstrip("\\"),
                      str(status.get("MESSAGES", "")) if folder.selectable else "",
                      str(status.get("UNSEEN", "")) if folder.selectable else "")
    console().print(table)


def message(msg: EmailMessage) -> None:
    """Headers, the text, then the attachments, numbered as save-attachments numbers them."""
    from rich.text import Text

    out = console()
    for name in ("From", "To", "Cc", "Date", "Subject"):
        value = parts.header(msg, name)
        if value:
            out.print(Text.assemble((f"{name}: ", "bold"), shown(value)))
    out.print()
    click.echo(shown(parts.body_text(msg).rstrip("\n")))
    found = parts.attachments(msg)
    if found:
        out.print()
        out.print(Text(f"Attachments ({len(found)}):", style="bold"))
        for i, att in enumerate(found, 1):
            out.print(f"  {i}. {shown(att.filename or parts.safe_filename(att, i))}  {shown(att.content_type)}  "
                      f"{human_size(att.size)}")


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"  # pragma: no cover


def contacts(found: list[Contact]) -> None:
    out = console()
    if not found:
        out.print("no contacts")
        return
    table = _table("name", "email", "organization", "note")
    for c in found:
        table.add_row(shown(c.name), shown("\n".join(c.emails)), shown(c.organization), shown(c.note))
    out.print(table)


def accounts(rows: list[tuple[Account, bool]]) -> None:
    table = _table("account", "address", "IMAP", "SMTP", "POP3", "TLS", "password")
    for account, is_default in rows:
        tls = account.tls + (" (insecure)" if account.insecure else "")
        table.add_row(account.name + (" (default)" if is_default else ""), account.address, account.imap or "-",
                      account.smtp or "-", account.pop3 or "-", tls, account.password)
    console().print(table)


class DownloadProgress:
    """A progress bar on stderr for a download of many messages, shown on a terminal only."""

    THRESHOLD = 5  # messages; fewer go by too fast to need a bar

    def __init__(self) -> None:
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def start(self, count: int, total_bytes: int) -> None:
        err = console(stderr=True)
        if count < self.THRESHOLD or not err.is_terminal:
            return
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                   TransferSpeedColumn)

        progress = Progress(TextColumn(f"fetching {count} messages"), BarColumn(), DownloadColumn(),
                            TransferSpeedColumn(), TimeRemainingColumn(), console=err, transient=True)
        progress.start()
        self._progress, self._task = progress, progress.add_task("fetch", total=total_bytes)

    def advance(self, size: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.advance(self._task, size)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
