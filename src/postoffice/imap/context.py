"""What an IMAP command may touch of its session: a `typing.Protocol` the session satisfies.

Commands (`commands/*`) take a `Context` instead of the session class, so they never import the
session and the session imports them without a cycle. The protocol names what a command reads
(the store, the logged-in account, the selected view, what ENABLE turned on), how it sends
untagged responses ahead of its completion, and the state changes it may ask for (RFC 9051 §3:
authenticated, selected, back to authenticated, logout). The session alone decides the state
table and keeps the change feed. `logged_in` and `selected_view` give a command the account and
the view its state guarantees, typed as present.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Set
from typing import Protocol

from postoffice.auth.authenticator import Authenticator, Peer
from postoffice.imap.outcome import Refused
from postoffice.imap.selected import SelectedMailbox
from postoffice.store.api import Account, AccountId, MailboxId, Store

Emit = Callable[[bytes], Awaitable[None]]
"""Writes untagged responses now and waits until they are drained (a large FETCH streams)."""


class Context(Protocol):
    """One session as its commands see it."""

    @property
    def store(self) -> Store: ...
    @property
    def client_ip(self) -> str: ...
    @property
    def account(self) -> AccountId | None: ...
    @property
    def address(self) -> str | None:
        """The logged-in account's address, for the journey."""
    @property
    def selected(self) -> SelectedMailbox | None: ...
    @property
    def enabled(self) -> Set[str]:
        """What ENABLE turned on (RFC 5161), upper-case."""
    @property
    def rev2(self) -> bool:
        """IMAP4rev2 rules apply (RFC 9051 §2.1: after ENABLE IMAP4rev2)."""
    @property
    def utf8(self) -> bool:
        """Mailbox names and quoted strings in UTF-8 (RFC 9051 §6.3.1, RFC 6855 §3)."""
    @property
    def append_limit(self) -> int: ...
    @property
    def emit(self) -> Emit | None:
        """Sends untagged responses ahead of the completion; None when they must be held."""

    # --- logging in -----------------------------------------------------------------------------------
    @property
    def tls_active(self) -> bool: ...
    @property
    def tls_available(self) -> bool: ...
    @property
    def auth(self) -> Authenticator:
        """The login policy and machinery (plaintext policy, mechanisms, throttling)."""
    @property
    def peer(self) -> Peer:
        """The connection as the authenticator sees it."""
    def capabilities(self) -> list[str]:
        """RFC 9051 §7.2.2: what works now."""

    # --- the selected mailbox and state changes --------------------------------------------------------
    def drain_feed(self) -> None:
        """Takes what the selected mailbox's change feed holds into the view."""
    def enable(self, extensions: list[str]) -> None:
        """Turns on `extensions` (upper-case names ENABLE may turn on)."""
    def authenticated(self, account: Account) -> str | None:
        """Logged in as `account`: the authenticated state; or, when a connection limit of the
        account refuses it, the limit's name (and the state is unchanged)."""
    def listen(self, mailbox: MailboxId) -> None:
        """Hears `mailbox`'s change feed from now on: called before the mailbox is read, so no
        change falls between the read and the subscription."""
    def select(self, view: SelectedMailbox) -> None:
        """The selected state, with `view` (of the mailbox `listen` was called for)."""
    async def deselect(self) -> None:
        """No mailbox selected: the feed is left, the state is authenticated again."""
    async def logout(self) -> None:
        """The logout state: the session ends after this command's response."""


def logged_in(ctx: Context) -> AccountId:
    """The account of a command the state table admits only after login."""
    if ctx.account is None:
        raise Refused("BAD", None, "Not logged in")
    return ctx.account


def selected_view(ctx: Context) -> SelectedMailbox:
    """The selected mailbox's view, for a command the state table admits only in the selected state."""
    if ctx.selected is None:
        raise Refused("BAD", None, "No mailbox selected")
    return ctx.selected
