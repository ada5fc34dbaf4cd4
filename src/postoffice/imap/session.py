"""The IMAP session: the state machine of RFC 3501 / RFC 9051 §3, IMAP4rev1 by default and IMAP4rev2
after ENABLE IMAP4rev2, with LITERAL+ (RFC 7888), IDLE (RFC 2177), UNSELECT (RFC 3691), UIDPLUS
(RFC 4315), MOVE (RFC 6851), ENABLE (RFC 5161), ID (RFC 2971), SASL-IR (RFC 4959) and UTF8=ACCEPT
(RFC 6855). It never touches a socket: the listener feeds it parsed commands and writes the bytes
of its outcomes.

States (RFC 9051 §3): NOT_AUTHENTICATED, AUTHENTICATED, SELECTED, LOGOUT; what each accepts is
`ACCEPTS`. FETCH, STORE, SEARCH (ESEARCH, SEARCHRES), COPY, MOVE and UID EXPUNGE live in
`commands/messages.py`; CREATE, DELETE, RENAME, SUBSCRIBE, UNSUBSCRIBE, STATUS and APPEND
(MULTIAPPEND, APPENDLIMIT, BINARY literal8, UTF8 data) in `commands/mailboxes.py`; LIST (with
LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, CHILDREN) and LSUB in `commands/listing.py`; NAMESPACE
(RFC 2342), ENABLE and ID here; STARTTLS, LOGIN and AUTHENTICATE in `commands/auth.py` (the login
itself is `auth.authenticator`'s: the plaintext policy, the mechanisms, SASL steps and throttling).

Invariants:
- the selected mailbox's view (`selected.SelectedMailbox`) is subscribed to the store's change feed
  before the mailbox is read, so no change falls between the read and the subscription;
- after every command the changes from the feed are reported, expunges only after commands that
  do not use sequence numbers (RFC 9051 §7.5.1, RFC 3501 §7.4.1);
- our own failures answer NO [SERVERBUG] (logged with the traceback), never a dropped connection;
- `max_errors` BAD answers in a row end the session with BYE.

What ENABLE changes: IMAP4rev2 makes SELECT send LIST and OK [CLOSED] instead of RECENT and
[UNSEEN], SEARCH answer ESEARCH, STATUS accept DELETED; IMAP4rev2 and UTF8=ACCEPT make mailbox
names UTF-8 both ways and allow 8-bit headers in APPEND; after UTF8=ACCEPT, SEARCH takes no CHARSET.

Left out, answered NO [CANNOT] "not implemented yet": CONDSTORE and QRESYNC (SELECT parameters,
CHANGEDSINCE, UNCHANGEDSINCE, MODSEQ).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from dataclasses import dataclass, field, replace
from typing import Any

import postoffice
from postoffice.auth.accounts import credentials_of
from postoffice.auth.authenticator import Authenticator, Peer
from postoffice.imap import responses as r
from postoffice.imap.commands import auth
from postoffice.imap.outcome import AuthLineReader, Completion, Outcome, Refused, Status, Then, ok, reply, update_line
from postoffice.imap.selected import SelectedMailbox
from postoffice.imap.wire import (
    Append, AuthResponse, Authenticate, BadCommand, Capability, Check, Close, Command, Copy, Create, Delete, Done,
    Enable, Examine, Expunge as ExpungeCmd, Fetch, Id, Idle, List, Login, Logout, Lsub, Move, Namespace, Noop, Rename,
    Search, Select, StartTls, Status, Store, Subscribe, UidExpunge, Unselect, Unsubscribe,
)
from postoffice.store.api import Account

log = logging.getLogger(__name__)

DELIMITER = "/"
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


class State(enum.Enum):
    NOT_AUTHENTICATED = "not-authenticated"
    AUTHENTICATED = "authenticated"
    SELECTED = "selected"
    LOGOUT = "logout"


_ANY = frozenset({"CAPABILITY", "NOOP", "LOGOUT", "ID"})  # ID in any state: RFC 2971 §3.1
_AUTHENTICATED = _ANY | frozenset({
    "SELECT", "EXAMINE", "LIST", "IDLE", "CREATE", "DELETE", "RENAME", "SUBSCRIBE", "UNSUBSCRIBE", "LSUB",
    "NAMESPACE", "STATUS", "APPEND",
})
ACCEPTS: dict[State, frozenset[str]] = {
    State.NOT_AUTHENTICATED: _ANY | frozenset({"STARTTLS", "LOGIN", "AUTHENTICATE"}),
    # RFC 5161 §3.1, RFC 9051 §6.3.1: ENABLE only in the authenticated state, before SELECT.
    State.AUTHENTICATED: _AUTHENTICATED | frozenset({"ENABLE"}),
    State.SELECTED: _AUTHENTICATED | frozenset({
        "CHECK", "CLOSE", "UNSELECT", "EXPUNGE", "UID EXPUNGE", "FETCH", "STORE", "SEARCH", "COPY", "MOVE",
    }),
    State.LOGOUT: frozenset(),
}
# RFC 5161 §3.1, RFC 6855 §3, RFC 9051 §6.3.1: what ENABLE can turn on, as spelled in replies.
ENABLEABLE = {"IMAP4REV2": "IMAP4rev2", "UTF8=ACCEPT": "UTF8=ACCEPT"}
# RFC 2971 §3.3: what ID tells about the server.
SERVER_ID = {"name": "postoffice", "vendor": "postoffice", "version": postoffice.__version__}
# RFC 9051 §7.5.1, RFC 3501 §7.4.1: no EXPUNGE while a command using sequence numbers runs.
_NO_EXPUNGE_AFTER = frozenset({"FETCH", "STORE", "SEARCH", "COPY", "MOVE"})


@dataclass
class ImapSession:
    store: Any
    hostname: str
    client_ip: str
    is_loopback: bool
    authenticator: Authenticator | None = None  # None: the default policy, without throttling
    tls_available: bool = True
    tls_active: bool = False
    channel_binding: bytes | None = None  # RFC 5929 tls-server-end-point data, used once TLS is on
    state: State = State.NOT_AUTHENTICATED
    account: int | None = None
    address: str | None = None
    selected: SelectedMailbox | None = None
    feed: asyncio.Queue | None = None  # the selected mailbox's change feed
    _feed_cm: Any = None
    _reader: AuthLineReader | None = None  # the AUTHENTICATE exchange in progress
    pending_tag: str = ""  # the tag of AUTHENTICATE or IDLE while it runs
    sleep: Any = asyncio.sleep
    enabled: set[str] = field(default_factory=set)  # what ENABLE turned on (RFC 5161), upper-case
    append_limit: int = 26_214_400  # APPENDLIMIT (RFC 7889): the largest message APPEND takes
    max_errors: int = 20  # BAD answers in a row before BYE
    bad_in_a_row: int = 0
    # Sends a command's untagged responses ahead of its completion (the listener writes and drains):
    # a FETCH of many large messages is written as it goes instead of being held whole in memory.
    emit: Any = None

    def __post_init__(self) -> None:
        if self.authenticator is None:
            self.authenticator = Authenticator(lambda identity: credentials_of(self.store, identity))

    @property
    def rev2(self) -> bool:
        """IMAP4rev2 rules apply (RFC 9051 §2.1: after ENABLE IMAP4rev2)."""
        return "IMAP4REV2" in self.enabled

    @property
    def utf8(self) -> bool:
        """Mailbox names and quoted strings in UTF-8 (RFC 9051 §6.3.1, RFC 6855 §3)."""
        return "IMAP4REV2" in self.enabled or "UTF8=ACCEPT" in self.enabled

    def greeting(self) -> bytes:
        return r.untagged_status("OK", r.capability_code(self.capabilities()), f"{self.hostname} IMAP4rev1 ready")

    # --- the command loop ----------------------------------------------------------------------------

    async def handle(self, cmd: Command | BadCommand) -> Outcome:
        """The outcome of one command; never raises. After `max_errors` BAD answers in a row
        the session ends with BYE: a client that speaks something else (HTTP, SMTP, noise) is let go
        instead of being answered line by line forever."""
        outcome = await self._handle(cmd)
        if not outcome.is_bad:
            self.bad_in_a_row = 0
            return outcome
        self.bad_in_a_row += 1
        if self.bad_in_a_row < self.max_errors:
            return outcome
        self.state = State.LOGOUT
        await self.close()
        return replace(outcome, then=Then.CLOSE,
                       after=(r.untagged_status("BYE", None, "Too many invalid commands"),))

    async def _handle(self, cmd: Command | BadCommand) -> Outcome:
        if isinstance(cmd, BadCommand):
            name, _, args = (cmd.code or "").partition(" ")
            code = r.Code(name, args) if name else None
            if cmd.tag is None:
                return Outcome(completion=Completion(None, "BAD", code, cmd.text))
            # RFC 9051 §6.4.4: an unsupported charset is a tagged NO [BADCHARSET], not a BAD; a
            # SEARCH answered NO empties the saved result (RFC 9051 §6.4.4.1; any such SEARCH here,
            # with SAVE or not, as the refused command's options are not known).
            status: Status = "NO" if name == "BADCHARSET" else "BAD"
            if status == "NO" and self.selected is not None:
                self.selected.save(())
            return reply(cmd.tag, status, code, cmd.text)
        name = cmd.name
        if name not in ACCEPTS[self.state]:
            return reply(cmd.tag, "BAD", None, f"{name} not allowed now")
        try:
            outcome = await self._dispatch(cmd)
        except Refused as e:
            outcome = reply(cmd.tag, e.status, e.code, e.text)
        except Exception:
            log.exception("imap: %s failed for %s", name, self.client_ip)
            outcome = reply(cmd.tag, "NO", r.SERVERBUG, "Internal error, try again later")
        if outcome.then in (Then.IDLE, Then.READ_AUTH_LINE):
            self.pending_tag = cmd.tag  # the command goes on: its completion comes later
        self._reader = outcome.reader
        if outcome.then in (Then.NOTHING, Then.IDLE) and self.selected is not None:
            uid_form = getattr(cmd, "uid", False)
            allow = name not in _NO_EXPUNGE_AFTER or uid_form
            try:
                outcome = outcome.with_updates(self.pending_updates(allow_expunge=allow))
            except Exception:
                log.exception("imap: updates failed for %s", self.client_ip)
        return outcome

    def pending_updates(self, *, allow_expunge: bool = True) -> bytes:
        """The untagged responses for what changed elsewhere (selected.py decides what is due)."""
        if self.selected is None:
            return b""
        self.drain_feed()
        return b"".join(update_line(u) for u in self.selected.updates(allow_expunge=allow_expunge))

    def drain_feed(self) -> None:
        while self.feed is not None and not self.feed.empty():
            self.selected.apply(self.feed.get_nowait())

    async def _dispatch(self, cmd: Command) -> Outcome:
        match cmd:
            case Capability():
                return ok(cmd.tag, "CAPABILITY completed", r.untagged("CAPABILITY " + " ".join(self.capabilities())))
            case Noop() | Check():
                return ok(cmd.tag, f"{cmd.name} completed")
            case Logout():
                # RFC 9051 §6.1.3: BYE first, then the tagged OK, then the server closes.
                self.state = State.LOGOUT
                await self.close()
                return replace(ok(cmd.tag, "LOGOUT completed", r.untagged_status("BYE", None, "Logging out")),
                               then=Then.CLOSE)
            case StartTls():
                return await auth.starttls(self, cmd)
            case Login():
                return await auth.login(self, cmd)
            case Authenticate():
                return await auth.authenticate(self, cmd)
            case Select() | Examine():
                return await self._select(cmd)
            case List():
                from postoffice.imap.commands import listing
                return await listing.list_(self, cmd)
            case Close() | Unselect():
                if isinstance(cmd, Close) and not self.selected.read_only:
                    # RFC 9051 §6.4.1: CLOSE expunges \Deleted silently (no EXPUNGE responses).
                    from postoffice.imap.commands.messages import deleted_uids
                    uids = await deleted_uids(self)
                    if uids:
                        await self.store.mailboxes.expunge(self.selected.mailbox, uids)
                await self._deselect()
                return ok(cmd.tag, f"{cmd.name} completed")
            case ExpungeCmd():
                return await self._expunge(cmd)
            case Search() if cmd.charset is not None and "UTF8=ACCEPT" in self.enabled:
                # RFC 6855 §3: after ENABLE UTF8=ACCEPT a charset conflicts with the session's UTF-8.
                return reply(cmd.tag, "BAD", r.CLIENTBUG, "No CHARSET after ENABLE UTF8=ACCEPT")
            case Fetch() | Store() | Search():
                from postoffice.imap.commands import messages
                return await messages.run(self, cmd)
            case Copy() | Move():
                from postoffice.imap.commands import messages
                return await messages.copy_move(self, cmd)
            case UidExpunge():
                from postoffice.imap.commands import messages
                return await messages.uid_expunge(self, cmd)
            case Enable():
                # RFC 5161 §3.1-§3.2: ENABLED lists what this command turned on, nothing else.
                new = [c for c in dict.fromkeys(cmd.capabilities) if c in ENABLEABLE and c not in self.enabled]
                self.enabled.update(new)
                line = r.untagged(" ".join(["ENABLED"] + [ENABLEABLE[c] for c in new]))
                return ok(cmd.tag, "ENABLE completed", line)
            case Id():
                # RFC 2971 §3.1-§3.3: the client's fields are logged; ours answer.
                if cmd.params:
                    log.info("imap: client %s says ID %s", self.client_ip,
                             ", ".join(f"{k}={v}" for k, v in list(cmd.params.items())[:30]))
                fields = b" ".join(r.quoted(k) + b" " + r.quoted(v) for k, v in SERVER_ID.items())
                return ok(cmd.tag, "ID completed", r.untagged(b"ID (" + fields + b")"))
            case Create() | Delete() | Rename() | Subscribe() | Unsubscribe() | Lsub() | Status() | Append():
                from postoffice.imap.commands import listing, mailboxes
                handler = {Create: mailboxes.create, Delete: mailboxes.delete, Rename: mailboxes.rename,
                           Subscribe: mailboxes.subscribe, Unsubscribe: mailboxes.subscribe, Lsub: listing.lsub,
                           Status: mailboxes.status, Append: mailboxes.append}[type(cmd)]
                return await handler(self, cmd)
            case Namespace():
                # RFC 2342 §5: one personal namespace, "" with "/"; no other users', no shared.
                line = r.untagged(b'NAMESPACE (("" "' + DELIMITER.encode() + b'")) NIL NIL')
                return ok(cmd.tag, "NAMESPACE completed", line)
            case Idle():
                # RFC 2177 §3: a continuation, then updates as they come, until DONE.
                return Outcome((r.continuation("idling"),), then=Then.IDLE)
        return reply(cmd.tag, "NO", r.CANNOT, "not implemented yet")

    def idle_done(self, done: Done | BadCommand) -> Outcome:
        tag, self.pending_tag = self.pending_tag, ""
        if isinstance(done, BadCommand):
            return reply(tag, "BAD", None, "Expected DONE")
        return ok(tag, "IDLE terminated", self.pending_updates())

    async def close(self) -> None:
        """The connection ended, however it ended: leave the change feed."""
        await self._deselect()

    # --- not authenticated ---------------------------------------------------------------------------

    @property
    def auth(self) -> Authenticator:
        assert self.authenticator is not None  # set in __post_init__
        return self.authenticator

    @property
    def peer(self) -> Peer:
        """The connection as the authenticator sees it."""
        return Peer(self.client_ip, self.is_loopback, self.tls_active,
                    self.channel_binding if self.tls_active else None)

    def capabilities(self) -> list[str]:
        """RFC 9051 §7.2.2: only what works now."""
        # NAMESPACE (RFC 2342), STATUS=SIZE (RFC 8438), CREATE-SPECIAL-USE (RFC 6154 §3).
        # UIDPLUS (RFC 4315 §2), MOVE (RFC 6851 §3.1), ENABLE (RFC 5161), ID (RFC 2971),
        # UTF8=ACCEPT (RFC 6855 §3), MULTIAPPEND (RFC 3502), APPENDLIMIT (RFC 7889 §3).
        caps = ["IMAP4rev1", "IMAP4rev2", "LITERAL+", "IDLE", "UNSELECT", "NAMESPACE", "STATUS=SIZE",
                "CREATE-SPECIAL-USE", "UIDPLUS", "MOVE", "ENABLE", "ID", "UTF8=ACCEPT", "MULTIAPPEND",
                f"APPENDLIMIT={self.append_limit}", "LIST-EXTENDED", "LIST-STATUS", "SPECIAL-USE", "CHILDREN",
                "ESEARCH", "SEARCHRES", "BINARY"]  # RFC 4731 §4, RFC 5182 §3, RFC 3516 §4.1
        if self.state is State.NOT_AUTHENTICATED:
            if self.tls_available and not self.tls_active:
                caps.append("STARTTLS")
            if self.auth.plaintext_allowed(self.peer):
                caps += ["AUTH=" + m for m in self.auth.mechanisms(self.peer)] + ["SASL-IR"]  # RFC 4959
            else:
                caps.append("LOGINDISABLED")  # RFC 9051 §6.2.3
        return caps

    def tls_started(self) -> None:
        self.tls_active = True

    async def auth_line(self, response: AuthResponse | BadCommand) -> Outcome:
        """The client's answer to a challenge (RFC 9051 §6.2.2)."""
        reader, self._reader = self._reader, None
        if reader is None:
            return reply(self.pending_tag, "BAD", None, "Malformed response")
        try:
            outcome = await reader(response)
        except Exception:
            log.exception("imap: AUTHENTICATE failed for %s", self.client_ip)
            return reply(self.pending_tag, "NO", r.SERVERBUG, "Internal error, try again later")
        self._reader = outcome.reader
        return outcome

    def authenticated(self, account: Account) -> None:
        self.account, self.address = account.id, account.address
        self.state = State.AUTHENTICATED

    # --- authenticated -------------------------------------------------------------------------------

    async def _select(self, cmd: Select | Examine) -> Outcome:
        if cmd.condstore or cmd.qresync:
            return reply(cmd.tag, "NO", r.CANNOT, "not implemented yet")
        # RFC 9051 §6.3.2: a SELECT deselects first, even when it fails; a rev2 client is told
        # with OK [CLOSED] (RFC 9051 §7.1; rev1 clients were never promised it).
        closed = r.untagged_status("OK", r.CLOSED, "Previous mailbox is now closed") if (
            self.selected is not None and self.rev2) else b""
        await self._deselect()
        box = await self.store.mailboxes.find(self.account, cmd.mailbox)
        if box is None:
            return reply(cmd.tag, "NO", r.NONEXISTENT, "No such mailbox")
        read_only = isinstance(cmd, Examine)
        self._feed_cm = self.store.feed.subscribe(box.id)
        self.feed = self._feed_cm.__enter__()  # before reading: no change falls in between
        box = await self.store.mailboxes.get(box.id)
        uids = await self.store.mailboxes.uids(box.id)
        counts = await self.store.mailboxes.counts(box.id)
        self.selected = SelectedMailbox(box.id, box.uidvalidity, uids, highestmodseq=box.highestmodseq,
                                        read_only=read_only)
        self.state = State.SELECTED
        uidnext = max(box.uidnext, (uids[-1] + 1) if uids else 1)
        # RFC 3501 §6.3.1: FLAGS, EXISTS, RECENT, and OK [UNSEEN] [PERMANENTFLAGS] [UIDVALIDITY] [UIDNEXT];
        # RFC 9051 §6.3.2: FLAGS, EXISTS, LIST, and the same OKs but UNSEEN (RECENT is gone in rev2).
        out = [closed, r.untagged(b"FLAGS " + r.flag_list(SYSTEM_FLAGS)), r.untagged(b"%d EXISTS" % len(uids))]
        if self.rev2:
            from postoffice.imap.commands.listing import select_list_line
            out.append(await select_list_line(self, box))
        else:
            out.append(r.untagged(b"0 RECENT"))  # \Recent is never set (RFC 9051 §2.3.2)
            first = counts.first_unseen_uid
            unseen = self.selected.seq_of(first) if first is not None else None
            if unseen is not None:
                out.append(r.untagged_status("OK", r.code("UNSEEN", unseen), "First unseen"))
        permanent = () if read_only else SYSTEM_FLAGS + ("\\*",)
        out += [r.untagged_status("OK", r.permanentflags(permanent), "Flags permitted"),
                r.untagged_status("OK", r.uidvalidity(box.uidvalidity), "UIDs valid"),
                r.untagged_status("OK", r.uidnext(uidnext), "Predicted next UID")]
        code = r.READ_ONLY if read_only else r.READ_WRITE
        return ok(cmd.tag, f"{cmd.name} completed", *out, code=code)

    async def _deselect(self) -> None:
        if self._feed_cm is not None:
            cm, self._feed_cm, self.feed = self._feed_cm, None, None
            with contextlib.suppress(Exception):
                cm.__exit__(None, None, None)
        self.selected = None
        if self.state is State.SELECTED:
            self.state = State.AUTHENTICATED

    async def _expunge(self, cmd: ExpungeCmd) -> Outcome:
        if self.selected.read_only:
            return reply(cmd.tag, "NO", r.READ_ONLY, "Mailbox is read-only")
        from postoffice.imap.commands.messages import deleted_uids
        uids = await deleted_uids(self)
        if uids:
            # The store publishes the expunges to our own feed too: `handle` reports them (and any
            # made elsewhere) as EXPUNGE responses before the tagged OK (RFC 9051 §6.4.3).
            await self.store.mailboxes.expunge(self.selected.mailbox, uids)
        return ok(cmd.tag, "EXPUNGE completed")
