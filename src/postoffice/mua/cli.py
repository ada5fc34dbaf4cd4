"""The click groups `postoffice mail` and `postoffice contacts`, and the account and contact commands.

`mail`'s reading commands live in `cli_read` and its writing commands in `cli_send`; they join
the group here. Each failure is one line on stderr ("postoffice: ...") and exit code 1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from postoffice.mua import cli_read, cli_send, passwords, profiles, render
from postoffice.mua.connect import MuaError, check_endpoint
from postoffice.mua.context import ClientContext, client_options, pass_client


@click.group()
@client_options
@click.option("--account", "-a", "account_name", metavar="NAME", default=None,
              help="The account to use (default: $POSTOFFICE_MAIL_ACCOUNT, else the default account).")
@click.option("--insecure", is_flag=True,
              help="Accept a TLS certificate that does not verify (a self-signed test server), this time.")
@click.pass_context
def mail(ctx: click.Context, client_config: str | None, account_name: str | None, insecure: bool) -> None:
    """The mail client: send, reply, forward, list, read and fetch mail over SMTP, IMAP and POP3."""
    ctx.obj = ClientContext(client_config, account_name, insecure)


@click.group()
@client_options
@click.pass_context
def contacts(ctx: click.Context, client_config: str | None) -> None:
    """The address book (contacts.vcf beside client.toml): names for mail send --to."""
    ctx.obj = ClientContext(client_config)


# --- accounts ------------------------------------------------------------------------------------

@mail.group()
def account() -> None:
    """Client accounts: the servers to use and who to log in as."""


@account.command("add")
@click.argument("name")
@click.option("--address", required=True, help="Your address: the From of what you send, and the login.")
@click.option("--name", "display_name", default="", help="Your name, shown before the address in From.")
@click.option("--login", default="", help="The login name, when it is not the address.")
@click.option("--imap", default="", metavar="HOST:PORT", help="IMAP server (reading, folders, the Sent copy).")
@click.option("--smtp", default="", metavar="HOST:PORT", help="Submission server (sending).")
@click.option("--pop3", default="", metavar="HOST:PORT", help="POP3 server (mail fetch --pop3).")
@click.option("--tls", type=click.Choice(profiles.TLS_MODES), default="starttls", show_default=True,
              help="implicit: TLS from the start (993/465/995); starttls: upgrade (143/587/110); none: clear text.")
@click.option("--insecure", is_flag=True, help="Accept a certificate that does not verify (self-signed test servers).")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@click.option("--store-password", type=click.Choice(["auto", "keyring", "file", "no"]), default="auto",
              show_default=True,
              help="Where to keep the password: the system keyring (needs the `keyring` package); 'file': "
                   "credentials.toml beside client.toml, mode 0600, in clear, protected only by its "
                   "permissions; 'no': keep nothing and ask each time (or use $POSTOFFICE_MAIL_PASSWORD). "
                   "auto: the keyring when available, else the file.")
@click.option("--default", "make_default", is_flag=True, help="Make this the default account.")
@pass_client
def account_add(client: ClientContext, name: str, address: str, display_name: str, login: str, imap: str, smtp: str,
                pop3: str, tls: str, insecure: bool, password_stdin: bool, store_password: str,
                make_default: bool) -> None:
    """Add an account NAME. client.toml never holds the password: see --store-password."""
    if not (imap or smtp or pop3):
        raise MuaError("give at least one of --imap, --smtp and --pop3")
    new = profiles.Account(name=name, address=address.strip(), display_name=display_name, login=login,
                           imap=check_endpoint(imap, "imap"), smtp=check_endpoint(smtp, "smtp"),
                           pop3=check_endpoint(pop3, "pop3"), tls=tls, insecure=insecure)
    profiles.check(new, source="account add")
    book = client.profiles
    password = _read_password(password_stdin)
    place = "ask"
    if password and store_password != "no":
        if store_password == "keyring" and not passwords.keyring_usable():
            raise MuaError("no usable system keyring here (install the `keyring` package); "
                           "use --store-password file or no")
        place = store_password if store_password != "auto" else ("keyring" if passwords.keyring_usable() else "file")
    new = profiles.with_password_place(new, place)
    book.add(new, make_default=make_default)
    if place != "ask":
        passwords.store(book, new, password, place)
    book.save()
    where = {"keyring": "in the system keyring", "file": f"in {book.credentials_path} (mode 0600)",
             "ask": f"nowhere: it will be asked for (or taken from ${passwords.PASSWORD_ENV})"}[place]
    click.echo(f"account {name} added to {book.path}; password kept {where}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if env := os.environ.get(passwords.PASSWORD_ENV):
        return env
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, default="", show_default=False)
    return ""


@account.command("list")
@pass_client
def account_list(client: ClientContext) -> None:
    """List the accounts; (default) marks the one used without --account."""
    p = client.profiles
    if not p.accounts:
        click.echo(f"no accounts in {p.path}")
        return
    render.accounts([(a, a.name == p.default) for a in p.accounts.values()])


@account.command("del")
@click.argument("name")
@pass_client
def account_del(client: ClientContext, name: str) -> None:
    """Remove an account and the password kept for it (mail on the servers is not touched)."""
    p = client.profiles
    gone = p.account(name)
    passwords.forget(p, gone)
    p.remove(name)
    p.save()
    click.echo(f"account {name} removed")


@account.command("default")
@click.argument("name")
@pass_client
def account_default(client: ClientContext, name: str) -> None:
    """Make NAME the account used without --account."""
    p = client.profiles
    if name not in p.accounts:
        raise MuaError(f"no account named {name!r}")
    p.default = name
    p.save()
    click.echo(f"{name} is the default account")


# --- contacts ------------------------------------------------------------------------------------

@contacts.command("add")
@click.argument("name")
@click.argument("address")
@click.option("--note", default="", help="A note kept with the contact.")
@pass_client
def contacts_add(client: ClientContext, name: str, address: str, note: str) -> None:
    """Add NAME with ADDRESS (a second address for an existing NAME is added to it)."""
    from postoffice.mua.compose import address as parse_address

    spec = parse_address(address).addr_spec
    contact, created = client.book.add(" ".join(name.split()), spec, note)
    client.book.save()
    click.echo(f"{'added' if created else 'updated'} {contact.mailbox()}")


@contacts.command("list")
@pass_client
def contacts_list(client: ClientContext) -> None:
    """List every contact."""
    render.contacts(client.book.contacts())


@contacts.command("find")
@click.argument("text")
@pass_client
def contacts_find(client: ClientContext, text: str) -> None:
    """Contacts whose name, address, organization or note contains TEXT."""
    found = client.book.find(text)
    if not found:
        raise MuaError(f"no contact matches {text!r}")
    render.contacts(found)


@contacts.command("remove")
@click.argument("name")
@pass_client
def contacts_remove(client: ClientContext, name: str) -> None:
    """Remove the contact NAME names (it must name exactly one)."""
    gone = client.book.remove(name)
    client.book.save()
    click.echo(f"removed {gone.mailbox()}")


@contacts.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_client
def contacts_import(client: ClientContext, file: Path) -> None:
    """Add the contacts of a vCard file (3.0 or 4.0); a card with a known UID replaces ours."""
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise MuaError(f"{file}: no such file") from None
    except UnicodeDecodeError:
        raise MuaError(f"{file} is not UTF-8 text (vCard 4.0 requires UTF-8)") from None
    except OSError as e:
        raise MuaError(f"cannot read {file}: {e.strerror or e}") from None
    added, replaced = client.book.import_text(text, str(file))
    if not added and not replaced:
        raise MuaError(f"{file} holds no vCard")
    client.book.save()
    click.echo(f"imported {added} new contact(s), replaced {replaced}, from {file}")


@contacts.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--vcard-version", type=click.Choice(["4.0", "3.0"]), default="4.0", show_default=True,
              help="4.0 (RFC 6350) or 3.0 (RFC 2426, for older programs).")
@pass_client
def contacts_export(client: ClientContext, file: Path, vcard_version: str) -> None:
    """Write every contact to a vCard file ("-" for stdout)."""
    text = client.book.export_text(vcard_version)
    if str(file) == "-":
        click.echo(text, nl=False)
        return
    profiles.write_atomically(file, text.encode(), mode=0o600)
    click.echo(f"exported {len(client.book.cards)} contact(s) to {file} as vCard {vcard_version}")


for command in (*cli_send.COMMANDS, *cli_read.COMMANDS):
    mail.add_command(command)
