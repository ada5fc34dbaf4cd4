"""The IMAP client side: folders, listing, reading, flags, moving, deleting and APPEND to Sent.

Built on imaplib (RFC 3501 IMAP4rev1, which every server speaks) with UIDs as message numbers
everywhere (`UID SEARCH/FETCH/STORE/MOVE`), so a number a person saw in `mail list` still names
the same message after others were deleted (RFC 3501 §2.3.1.1), as long as UIDVALIDITY holds.

Extensions used when the server announces them, with a fallback when it does not: MOVE (RFC 6851)
else COPY + \\Deleted + UID EXPUNGE; UIDPLUS (RFC 4315) for UID EXPUNGE, without which a delete
is only marked; SPECIAL-USE (RFC 6154) attributes in LIST to find Sent and Trash, else the usual
names; UTF8=ACCEPT (RFC 6855) for non-ASCII search text, else one CHARSET UTF-8 literal.

imaplib sends mailbox names and strings as given, so this module quotes them itself (and encodes
names in modified UTF-7). A NO or BAD becomes a one-line MuaError with the server's text.
"""

from __future__ import annotations

import imaplib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from postoffice.mua import imapdata
from postoffice.mua.connect import (Endpoint, MuaError, TIMEOUT_S, explained, parse_endpoint, server_reply,
                                    tls_context)
from postoffice.mua.profiles import Account

FLAG_NAMES = {"seen": "\\Seen", "flagged": "\\Flagged", "answered": "\\Answered", "draft": "\\Draft",
              "deleted": "\\Deleted", "forwarded": "$Forwarded"}
SENT_NAMES = ("Sent", "Sent Items", "Sent Messages", "Sent Mail")
TRASH_NAMES = ("Trash", "Deleted Items", "Deleted Messages")
SUMMARY_ITEMS = "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[HEADER.FIELDS (DATE FROM TO SUBJECT)])"


@dataclass(frozen=True, slots=True)
class Folder:
    name: str                 # as a person writes it (decoded from modified UTF-7)
    attributes: tuple[str, ...]
    delimiter: str | None

    @property
    def special_use(self) -> str | None:
        for attr in self.attributes:
            if attr.lower() in ("\\sent", "\\trash", "\\drafts", "\\junk", "\\archive", "\\all", "\\flagged"):
                return attr
        return None

    @property
    def selectable(self) -> bool:
        return not any(a.lower() in ("\\noselect", "\\nonexistent") for a in self.attributes)


@dataclass(frozen=True, slots=True)
class Summary:
    uid: int
    flags: tuple[str, ...]
    internaldate: str
    size: int
    header: bytes             # the Date, From, To and Subject fields


class ImapClient:
    """One logged-in IMAP session; use as a context manager."""

    def __init__(self, account: Account, password: str, *, insecure: bool) -> None:
        self.account = account
        self.endpoint: Endpoint = parse_endpoint(account.imap, "imap", account.tls)
        self._password = password
        self._insecure = insecure or account.insecure
        self.conn: imaplib.IMAP4 | None = None
        self.selected: str | None = None

    # --- session ----------------------------------------------------------------------------

    def __enter__(self) -> ImapClient:
        with explained(self.endpoint):
            ctx = tls_context(insecure=self._insecure)
            if self.account.tls == "implicit":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(self.endpoint.host, self.endpoint.port, ssl_context=ctx,
                                                        timeout=TIMEOUT_S)
            else:
                conn = imaplib.IMAP4(self.endpoint.host, self.endpoint.port, timeout=TIMEOUT_S)
            self.conn = conn
            if self.account.tls == "starttls":
                if "STARTTLS" not in conn.capabilities:
                    raise MuaError(f"the {self.endpoint} offers no STARTTLS; use --tls implicit or --tls none")
                conn.starttls(ssl_context=ctx)
            try:
                self._login(conn)
            except imaplib.IMAP4.abort:
                raise
            except imaplib.IMAP4.error as e:
                raise MuaError(f"the {self.endpoint} refused the login for {self.account.user}: "
                               f"{server_reply(e)}") from None
        # What the server offers after login may differ from its greeting's list (RFC 3501 §7.2.1).
        data = self._call(conn.capability, what="CAPABILITY")
        conn.capabilities = tuple(imapdata.text(data[0] if data and isinstance(data[0], bytes) else None).upper().split())
        return self

    def _login(self, conn: imaplib.IMAP4) -> None:
        user, password = self.account.user, self._password
        if (user + password).isascii():
            conn.login(imapdata.quote(user), password)
            return
        # LOGIN takes ASCII strings here (imaplib encodes the command as ASCII); AUTHENTICATE PLAIN
        # carries UTF-8 (RFC 4616, RFC 9051 §6.2.2).
        if "AUTH=PLAIN" not in conn.capabilities:
            raise MuaError(f"the {self.endpoint} offers no AUTH=PLAIN, the one way to send a non-ASCII login "
                           f"or password")
        conn.authenticate("PLAIN", lambda _: b"\0" + user.encode() + b"\0" + password.encode())

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if self.conn is not None:
            try:
                self.conn.logout()
            except (imaplib.IMAP4.error, OSError):
                pass
            self.conn = None
        if isinstance(exc, imapdata.ImapDataError):
            # A response these parsers cannot read: one line, like every other failure.
            raise MuaError(f"the {self.endpoint} sent a response that cannot be read: {exc}") from None

    @property
    def c(self) -> imaplib.IMAP4:
        assert self.conn is not None
        return self.conn

    def has(self, capability: str) -> bool:
        return capability.upper() in (c.upper() for c in self.c.capabilities)

    def _call(self, fn: Callable[..., tuple[str, list[Any]]], *args: object, what: str = "") -> imapdata.Data:
        with explained(self.endpoint):
            typ, data = fn(*args)
        if typ != "OK":
            text = imapdata.text(data[-1] if data else b"")
            raise MuaError(f"the {self.endpoint} refused {what or fn.__name__.upper()}: {typ} {text}".rstrip())
        return data

    def _uid(self, command: str, *args: object) -> imapdata.Data:
        self.c.untagged_responses.pop("FETCH", None)  # updates left from an earlier command
        return self._call(self.c.uid, command, *args, what=f"UID {command}")

    def mailbox(self, name: str) -> str:
        """A folder name as the wire wants it: quoted, in UTF-8 or modified UTF-7."""
        if name.upper() == "INBOX":
            return "INBOX"
        try:
            return imapdata.quote(name if self.c.utf8_enabled else imapdata.encode_mailbox(name))
        except imapdata.ImapDataError as e:
            raise MuaError(f"{name!r} cannot be a folder name: {e}") from None

    # --- folders ----------------------------------------------------------------------------

    def folders(self) -> list[Folder]:
        data = self._call(self.c.list, '""', '"*"', what="LIST")
        out = []
        for attrs, delimiter, raw in imapdata.list_items(data):
            name = raw if self.c.utf8_enabled else imapdata.decode_mailbox(raw)
            out.append(Folder(name, tuple(attrs), delimiter))
        return out

    def status(self, folder: str) -> dict[str, int]:
        data = self._call(self.c.status, self.mailbox(folder), "(MESSAGES UNSEEN)", what="STATUS")
        return imapdata.status_items(data)

    def find_folder(self, use: str, names: tuple[str, ...]) -> str | None:
        """The folder with special-use attribute `use` (RFC 6154 §2), else the first usual name."""
        folders = self.folders()
        for f in folders:
            if f.special_use and f.special_use.lower() == use.lower():
                return f.name
        by_name = {f.name.lower(): f.name for f in folders}
        for candidate in names:
            if candidate.lower() in by_name:
                return by_name[candidate.lower()]
        return None

    def sent_folder(self) -> str:
        """Where copies of sent mail go: \\Sent, else "Sent" and the like, else a new "Sent"."""
        if found := self.find_folder("\\Sent", SENT_NAMES):
            return found
        if self.has("CREATE-SPECIAL-USE"):  # RFC 6154 §3
            with explained(self.endpoint):
                typ, _ = self.c._simple_command("CREATE", self.mailbox("Sent"), "(USE (\\Sent))")
            if typ == "OK":
                return "Sent"
        self._call(self.c.create, self.mailbox("Sent"), what="CREATE Sent")
        return "Sent"

    # --- the selected folder ----------------------------------------------------------------

    def select(self, folder: str, *, readonly: bool = False) -> None:
        self._call(self.c.select, self.mailbox(folder), readonly, what=f"SELECT {folder}")
        self.selected = folder

    def enable_utf8(self) -> bool:
        """ENABLE UTF8=ACCEPT when offered (RFC 6855 §3), before a folder is selected."""
        if self.has("UTF8=ACCEPT") and self.has("ENABLE"):
            self._call(self.c.enable, "UTF8=ACCEPT", what="ENABLE")
            return True
        return False

    def search(self, criteria: list[tuple[str, str | None]]) -> list[int]:
        """UID SEARCH with keys and their string arguments: [("UNSEEN", None), ("FROM", "bob")]."""
        args: list[str] = []
        literal: bytes | None = None
        wide = [v for _, v in criteria if v is not None and not v.isascii()]
        if wide and not self.c.utf8_enabled:
            # RFC 3501 §6.4.4: CHARSET UTF-8, the non-ASCII string sent as a literal; imaplib can
            # send one literal, at the end of the command, so it goes last.
            if len(wide) > 1:
                raise MuaError(f"the {self.endpoint} can search for one non-ASCII text at a time")
            criteria = sorted(criteria, key=lambda kv: kv[1] is not None and not kv[1].isascii())
            args += ["CHARSET", "UTF-8"]
        for key, value in criteria:
            args.append(key)
            if value is None:
                continue
            if not value.isascii() and not self.c.utf8_enabled:
                literal = value.encode()
            else:
                args.append(imapdata.quote(value))
        if not criteria:
            args.append("ALL")
        if literal is not None:
            self.c.literal = literal  # type: ignore[assignment]  # imaplib sends bytes; typeshed says str
        data = self._uid("SEARCH", *args)
        return sorted(int(n) for n in b" ".join(d for d in data if isinstance(d, bytes)).split())

    def summaries(self, uids: list[int]) -> list[Summary]:
        if not uids:
            return []
        items = imapdata.fetch_items(self._uid("FETCH", imapdata.sequence_set(uids), SUMMARY_ITEMS))
        out = []
        for uid in sorted(items):
            it = items[uid]
            header = next((v for k, v in it.items() if k.startswith("BODY[HEADER.FIELDS")), b"")
            flags, size = it.get("FLAGS"), it.get("RFC822.SIZE")
            out.append(Summary(uid, tuple(str(f) for f in flags) if isinstance(flags, list) else (),
                               imapdata.text(it.get("INTERNALDATE")), size if isinstance(size, int) else 0,
                               header if isinstance(header, bytes) else b""))
        return out

    def message(self, uid: int, *, peek: bool = False) -> bytes:
        """The message's exact bytes; without `peek`, reading sets \\Seen (RFC 3501 §6.4.5)."""
        section = "BODY.PEEK[]" if peek else "BODY[]"
        items = imapdata.fetch_items(self._uid("FETCH", str(uid), f"(UID {section})"))
        found = items.get(uid, {}).get("BODY[]")
        if not isinstance(found, bytes):
            raise MuaError(f"no message {uid} in {self.selected}")
        return found

    def existing(self, uids: list[int]) -> list[int]:
        """Those of `uids` that are in the selected folder."""
        if not uids:
            return []
        return sorted(imapdata.fetch_items(self._uid("FETCH", imapdata.sequence_set(uids), "(UID)")))

    def store_flags(self, uids: list[int], flags: list[str], *, add: bool) -> None:
        self._uid("STORE", imapdata.sequence_set(uids), "+FLAGS.SILENT" if add else "-FLAGS.SILENT",
                  "(" + " ".join(flags) + ")")

    def move(self, uids: list[int], folder: str) -> None:
        target = self.mailbox(folder)
        if self.has("MOVE"):  # RFC 6851 §3.1
            self._uid("MOVE", imapdata.sequence_set(uids), target)
            return
        self._uid("COPY", imapdata.sequence_set(uids), target)
        self.store_flags(uids, ["\\Deleted"], add=True)
        self.expunge(uids)

    def expunge(self, uids: list[int]) -> bool:
        """UID EXPUNGE (RFC 4315 §2.1): only these messages. Without UIDPLUS, False (left marked)."""
        if not self.has("UIDPLUS"):
            return False
        self._uid("EXPUNGE", imapdata.sequence_set(uids))
        return True

    def append(self, folder: str, message: bytes, flags: str = "(\\Seen)") -> None:
        self._call(self.c.append, self.mailbox(folder), flags, time.time(), message,
                   what=f"APPEND to {folder}")
