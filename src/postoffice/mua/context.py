"""What every `mail` and `contacts` command shares: the options of the two groups, the profiles,
the chosen account, its password, the address book, and an IMAP session on the account.

Loaded lazily and once per command, so `postoffice mail account list` never asks for a password
and `mail send` to plain addresses never reads the address book.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

import click

from postoffice.mua import passwords
from postoffice.mua.connect import MuaError
from postoffice.mua.contacts import AddressBook
from postoffice.mua.profiles import Account, Profiles, load

if TYPE_CHECKING:
    from postoffice.mua.imap import ImapClient

P = ParamSpec("P")
R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., object])


@dataclass(slots=True)
class ClientContext:
    config_override: str | None = None
    account_name: str | None = None
    insecure: bool = False
    _profiles: Profiles | None = None
    _book: AddressBook | None = None
    _passwords: dict[str, str] = field(default_factory=dict)

    @property
    def profiles(self) -> Profiles:
        if self._profiles is None:
            self._profiles = load(self.config_override)
        return self._profiles

    def account(self, *, needs: str = "") -> Account:
        account = self.profiles.account(self.account_name)
        if needs and not getattr(account, needs):
            raise MuaError(f"account {account.name} has no {needs.upper()} server "
                           f"(add it again with --{needs} HOST:PORT)")
        return account

    def password(self, account: Account) -> str:
        if account.name not in self._passwords:
            self._passwords[account.name] = passwords.password_for(self.profiles, account)
        return self._passwords[account.name]

    @property
    def book(self) -> AddressBook:
        if self._book is None:
            self._book = AddressBook.load(self.profiles.contacts_path)
        return self._book

    def lookup(self, name: str) -> str:
        """A name from --to/--cc/--bcc, as "Name <address>" from the address book."""
        try:
            return self.book.resolve(name).mailbox()
        except MuaError as e:
            raise type(e)(f"{e.format_message()}; nothing was sent") from None

    def imap(self, account: Account) -> ImapClient:
        from postoffice.mua.imap import ImapClient

        return ImapClient(account, self.password(account), insecure=self.insecure)


def client_options(f: F) -> F:
    """--client-config on a group: where client.toml (and everything beside it) is."""
    return click.option("--client-config", "client_config", metavar="FILE", default=None,
                        help="The client's account file (default: $POSTOFFICE_CLIENT_CONFIG or "
                             "~/.config/postoffice/client.toml); contacts and credentials live beside it.")(f)


def pass_client(f: Callable[Concatenate[ClientContext, P], R]) -> Callable[P, R]:
    """Give the command the ClientContext its group made."""

    def wrapper(ctx: click.Context, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return f(ctx.ensure_object(ClientContext), *args, **kwargs)

    return functools.wraps(f)(click.pass_context(wrapper))
