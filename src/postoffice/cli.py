"""The `postoffice` command: run the server and administer its data directory.

Administration opens the same store the server uses, also while the server runs (SQLite in WAL
mode lets both write in turn). Every refusal is one line on stderr and a non-zero exit code; a
success exits 0.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sys
from collections.abc import Awaitable, Callable
from typing import IO, TYPE_CHECKING, Any, Concatenate, TypeVar

import click

import postoffice
from postoffice import config as config_module
from postoffice.addresses import BadAddress, normalize_address, normalize_alias, normalize_domain
from postoffice.config import Config, ConfigError
from postoffice.store.api import Store, StoreError

if TYPE_CHECKING:
    from postoffice.auth.passwords import Credentials

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., object])


class Failure(click.ClickException):
    """One line on stderr, exit code 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.echo(f"postoffice: {self.format_message()}", err=True)


def location_options(f: F) -> F:
    """--config and --data-dir, accepted before or after the subcommand."""
    f = click.option("--data-dir", "data_dir", default=None, metavar="DIR",
                     help="Data directory (default: $POSTOFFICE_DATA or ./postoffice-data).")(f)
    return click.option("--config", "config_file", default=None, metavar="FILE",
                        help="TOML configuration file.")(f)


def load_config(ctx: click.Context, config_file: str | None, data_dir: str | None) -> Config:
    root = ctx.find_root().params
    try:
        return config_module.load(config_file or root.get("config_file"), data_dir=data_dir or root.get("data_dir"))
    except ConfigError as e:
        raise Failure(str(e)) from None


def with_store(fn: Callable[Concatenate[Store, ...], Awaitable[T]]) -> Callable[..., T]:
    """Runs the async `fn(store, **params)` on the configured store; store refusals become one line."""

    # click calls the command with its parameters by keyword, as whatever their types make them.
    def wrapper(ctx: click.Context, /, config_file: str | None, data_dir: str | None, **params: Any) -> T:
        from postoffice.store import open_store

        config = load_config(ctx, config_file, data_dir)

        async def main() -> T:
            store = await asyncio.to_thread(open_store, config)
            try:
                return await fn(store, **params)
            finally:
                await store.aclose()

        try:
            return asyncio.run(main())
        except (StoreError, BadAddress, ValueError) as e:
            raise Failure(str(e)) from None

    return location_options(functools.wraps(fn)(click.pass_context(wrapper)))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@location_options
@click.version_option(postoffice.__version__, prog_name="postoffice")
def main(config_file: str | None, data_dir: str | None) -> None:
    """postoffice: a complete mail system (SMTP, POP3, IMAP, and a mail client)."""


@main.command()
@location_options
@click.pass_context
def serve(ctx: click.Context, config_file: str | None, data_dir: str | None) -> None:
    """Run the server: every listener of the configuration, until SIGINT or SIGTERM."""
    from postoffice import server

    config = load_config(ctx, config_file, data_dir)
    server.setup_logging(config.log_level)
    try:
        server.run(config)
    except ConfigError as e:
        raise Failure(str(e)) from None
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        sys.exit(130)


@main.command("config")
def show_config() -> None:
    """Print every setting with its default and what it does."""
    for key, default, doc in config_module.describe():
        if isinstance(default, str):
            shown = f'"{default}"'
        elif isinstance(default, bool):
            shown = str(default).lower()
        elif isinstance(default, tuple):
            shown = "[" + ", ".join(f"{v:g}" for v in default) + "]"
        elif isinstance(default, dict):
            shown = "{ " + ", ".join(f'"{k}" = "{v}"' for k, v in default.items()) + " }" if default else "{}"
        else:
            shown = str(default)
        line = f"{key} = {shown}"
        click.echo(f"{line:<43} # {doc}")


# --- domains ---------------------------------------------------------------------------------

@main.group()
def domain() -> None:
    """Local domains: mail for them is delivered here."""


@domain.command("add")
@click.argument("name")
@with_store
async def domain_add(store: Store, name: str) -> None:
    """Add a local domain."""
    await store.directory.add_domain(normalize_domain(name))


@domain.command("list")
@with_store
async def domain_list(store: Store) -> None:
    """List the local domains."""
    for name in await store.directory.list_domains():
        click.echo(name)


@domain.command("del")
@click.argument("name")
@with_store
async def domain_del(store: Store, name: str) -> None:
    """Delete a local domain that has no users and no aliases left."""
    await store.directory.delete_domain(normalize_domain(name))


# --- users -----------------------------------------------------------------------------------

def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt="Again")
    else:
        raise Failure("no password given: use --password-stdin, or run on a terminal")
    if not password:
        raise Failure("the password must not be empty")
    return password


def credentials_for(password: str) -> Credentials:
    from postoffice.auth.passwords import make_credentials

    try:
        return make_credentials(password)
    except ValueError as e:  # empty after SASLprep, too long, or not a string SASLprep takes
        raise Failure(f"unusable password: {e}") from None


@main.group()
def user() -> None:
    """Accounts: an address with a password and mailboxes."""


@user.command("add")
@click.argument("address")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@with_store
async def user_add(store: Store, address: str, password_stdin: bool) -> None:
    """Add an account, with INBOX, Sent, Drafts, Trash, Junk and Archive."""
    address = normalize_address(address)
    if not await store.directory.is_local_domain(address.rpartition("@")[2]):
        raise Failure(f"{address.rpartition('@')[2]} is not a local domain (add it with: postoffice domain add)")
    if await store.directory.find_account(address):
        raise Failure(f"user {address} exists")
    credentials = await asyncio.to_thread(credentials_for, read_password(password_stdin))
    await store.directory.add_account(address, credentials)


@user.command("list")
@with_store
async def user_list(store: Store) -> None:
    """List the accounts."""
    for account in await store.directory.list_accounts():
        click.echo(account.address)


@user.command("passwd")
@click.argument("address")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@with_store
async def user_passwd(store: Store, address: str, password_stdin: bool) -> None:
    """Change an account's password."""
    address = normalize_address(address)
    if not await store.directory.find_account(address):
        raise Failure(f"no user {address}")
    credentials = await asyncio.to_thread(credentials_for, read_password(password_stdin))
    await store.directory.set_credentials(address, credentials)


@user.command("del")
@click.argument("address")
@with_store
async def user_del(store: Store, address: str) -> None:
    """Delete an account with its mailboxes and mail."""
    await store.directory.delete_account(normalize_address(address))


# --- aliases ---------------------------------------------------------------------------------

@main.group()
def alias() -> None:
    """Aliases: an address (or @domain, the catch-all) that delivers to other addresses."""


@alias.command("add")
@click.argument("alias_address", metavar="ALIAS")
@click.argument("targets", nargs=-1, required=True, metavar="TARGET...")
@with_store
async def alias_add(store: Store, alias_address: str, targets: tuple[str, ...]) -> None:
    """Add an alias with one or more targets, local or remote."""
    await store.directory.add_alias(normalize_alias(alias_address), [normalize_address(t) for t in targets])


@alias.command("list")
@with_store
async def alias_list(store: Store) -> None:
    """List the aliases and their targets."""
    for a in await store.directory.list_aliases():
        click.echo(f"{a.address} -> {', '.join(a.targets)}")


@alias.command("del")
@click.argument("alias_address", metavar="ALIAS")
@with_store
async def alias_del(store: Store, alias_address: str) -> None:
    """Delete an alias."""
    await store.directory.delete_alias(normalize_alias(alias_address))


# --- the queue and the journey -----------------------------------------------------------------

@main.group()
def queue() -> None:
    """The MTA queue: messages with recipients not yet delivered."""


@queue.command("list")
@with_store
async def queue_list(store: Store) -> None:
    """List queued messages, their recipients and states."""
    messages = await store.queue.list()
    if not messages:
        click.echo("queue is empty")
        return
    for m in messages:
        sender = m.envelope.sender or "<>"
        click.echo(f"{m.queue_id}  {m.received:%Y-%m-%d %H:%M:%S}Z  {m.blob.size:>8} bytes  from {sender}  {m.message_id}")
        for r in m.recipients:
            due = f"  next attempt {r.next_attempt:%Y-%m-%d %H:%M:%S}Z" if r.state.value == "queued" and r.next_attempt else ""
            reply = f"  ({r.last_reply})" if r.last_reply else ""
            click.echo(f"    {r.state.value:<9} {r.address}  via {r.route}{due}{reply}")


@queue.command("show")
@click.argument("queue_id", metavar="ID")
@with_store
async def queue_show(store: Store, queue_id: str) -> None:
    """One queued message: its envelope, each recipient's attempts, and its journey."""
    m = await store.queue.get(queue_id)
    if m is None:
        raise Failure(f"no queued message {queue_id}")
    e = m.envelope
    click.echo(f"queue id:    {m.queue_id}\nmessage-id:  {m.message_id}\nreceived:    {m.received:%Y-%m-%d %H:%M:%S}Z"
               f"\nsender:      <{e.sender}>\nsize:        {m.blob.size} bytes")
    if e.envid or e.ret:
        click.echo(f"dsn:         ENVID={e.envid or '-'} RET={e.ret or '-'}")
    for r in m.recipients:
        click.echo(f"recipient    {r.address}  [{r.state.value}]  attempts {r.attempts}  via {r.route}")
        if r.last_attempt:
            click.echo(f"    last attempt {r.last_attempt:%Y-%m-%d %H:%M:%S}Z  {r.remote_mta}  {r.last_reply}")
        if r.state.value == "queued" and r.next_attempt:
            click.echo(f"    next attempt {r.next_attempt:%Y-%m-%d %H:%M:%S}Z")
    for ev in await store.journey.events(queue_id):
        click.echo(f"  {ev.at:%Y-%m-%d %H:%M:%S}Z  {ev.stage.value:<10} {ev.detail}")


@queue.command("retry")
@click.argument("queue_id", metavar="ID")
@with_store
async def queue_retry(store: Store, queue_id: str) -> None:
    """Make a queued message's recipients due now."""
    if not await store.queue.retry_now(queue_id):
        raise Failure(f"no queued recipients for {queue_id}")
    click.echo(f"{queue_id}: due now")


@queue.command("flush")
@with_store
async def queue_flush(store: Store) -> None:
    """Make every queued recipient due now."""
    click.echo(f"{await store.queue.retry_now(None)} recipient(s) due now")


@queue.command("delete")
@click.argument("queue_id", metavar="ID")
@with_store
async def queue_delete(store: Store, queue_id: str) -> None:
    """Remove a message from the queue, without bouncing it."""
    if not await store.queue.delete(queue_id):
        raise Failure(f"no queued message {queue_id}")
    click.echo(f"{queue_id}: deleted")


# --- DKIM ------------------------------------------------------------------------------------------

@main.group()
def dkim() -> None:
    """DKIM keys: outgoing mail from a domain with a key is signed (RFC 6376)."""


@dkim.command("generate")
@click.argument("domain")
@click.option("--selector", default="postoffice", show_default=True, help="The selector (s=) of the key.")
@click.option("--algorithm", type=click.Choice(["rsa-sha256", "ed25519-sha256"]), default="rsa-sha256",
              show_default=True)
@with_store
async def dkim_generate(store: Store, domain: str, selector: str, algorithm: str) -> None:
    """Make a key for DOMAIN and print the DNS TXT record to publish."""
    from postoffice.mta import dkim as dkim_keys
    from postoffice.store.api import DkimKeyRecord

    domain = normalize_domain(domain)
    key = await asyncio.to_thread(dkim_keys.generate_key, domain, selector, algorithm)
    await store.dkim_keys.add(DkimKeyRecord(key.domain, key.selector, key.algorithm, key.private_pem, key.public_b64))
    name, value = dkim_keys.txt_record(key)
    click.echo(f'{name}. IN TXT "{value}"')


@dkim.command("list")
@with_store
async def dkim_list(store: Store) -> None:
    """List the DKIM keys and their TXT records."""
    from postoffice.mta import dkim as dkim_keys

    for r in await store.dkim_keys.list():
        key = dkim_keys.DkimKey(r.domain, r.selector, r.algorithm, r.private_pem, r.public_b64)
        name, value = dkim_keys.txt_record(key)
        click.echo(f'{name}. IN TXT "{value}"')


@main.command()
@click.argument("key", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print the events as a JSON array, every field of each.")
@with_store
async def trace(store: Store, key: str, as_json: bool) -> None:
    """The journey of a message, by queue id or Message-ID: one line per stage."""
    events = await store.journey.events(key)
    if not events:
        raise Failure(f"no message with queue id or Message-ID {key}")
    if as_json:
        click.echo(json.dumps([e.to_json() for e in events], indent=2, ensure_ascii=False))
        return
    shown_ids: set[str] = set()
    for e in events:
        if e.queue_id not in shown_ids:
            shown_ids.add(e.queue_id)
            click.echo(f"{e.queue_id}  {e.message_id}")
        click.echo(f"  {e.at:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f"Z  {e.stage.value:<10} {e.detail}")


# --- the store itself ------------------------------------------------------------------------

@main.command()
@with_store
async def check(store: Store) -> None:
    """Check the store's integrity: every message has its blob, UIDs are unique, UIDNEXT is above them."""
    problems = await store.check_integrity()
    for p in problems:
        click.echo(p)
    if problems:
        raise Failure(f"{len(problems)} problem(s) found")
    click.echo("store is consistent")


# --- the mail client -------------------------------------------------------------------------

from postoffice.mua.cli import contacts, mail  # noqa: E402

main.add_command(mail)
main.add_command(contacts)


if __name__ == "__main__":
    main()
