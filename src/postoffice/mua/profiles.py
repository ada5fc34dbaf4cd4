"""Client profiles: the accounts in `client.toml`, and where the client's other files live.

The file is `$POSTOFFICE_CLIENT_CONFIG`, else `$XDG_CONFIG_HOME/postoffice/client.toml`, else
`~/.config/postoffice/client.toml`; `--client-config FILE` overrides all three. Beside it live the
credentials file (`credentials.toml`, see `passwords`), the address book (`contacts.vcf`) and the
POP3 download records (`pop3-uidl/`), so one directory holds a person's whole client state.

The file never holds a password: an account names where its password is kept ("keyring",
"file" or "ask"). It is written here and read with `tomllib`; the writer is a few lines because
the shape is fixed (one table per account, string and boolean values).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

from postoffice.mua.connect import MuaError

CONFIG_ENV = "POSTOFFICE_CLIENT_CONFIG"
ACCOUNT_ENV = "POSTOFFICE_MAIL_ACCOUNT"
TLS_MODES = ("starttls", "implicit", "none")
PASSWORD_PLACES = ("keyring", "file", "ask")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True, slots=True)
class Account:
    name: str
    address: str                 # the From address and, unless `login` says otherwise, the login
    display_name: str = ""       # the phrase shown before the address in From
    login: str = ""              # the user name for AUTH/LOGIN/USER when it is not the address
    imap: str = ""               # "host:port" of the IMAP server ("" when the account has none)
    smtp: str = ""               # "host:port" of the submission server
    pop3: str = ""               # "host:port" of the POP3 server
    tls: str = "starttls"        # "starttls", "implicit" or "none", for all three servers
    insecure: bool = False       # accept a certificate that does not verify (self-signed test servers)
    password: str = "ask"        # where the password is kept: "keyring", "file" or "ask" (never here)

    @property
    def user(self) -> str:
        return self.login or self.address


@dataclass(slots=True)
class Profiles:
    path: Path
    accounts: dict[str, Account]
    default: str = ""

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def credentials_path(self) -> Path:
        return self.directory / "credentials.toml"

    @property
    def contacts_path(self) -> Path:
        return self.directory / "contacts.vcf"

    @property
    def uidl_directory(self) -> Path:
        return self.directory / "pop3-uidl"

    def account(self, name: str | None) -> Account:
        """The named account, else $POSTOFFICE_MAIL_ACCOUNT's, else the default one."""
        name = name or os.environ.get(ACCOUNT_ENV) or self.default
        if not self.accounts:
            raise MuaError(f"no mail account yet: add one with `postoffice mail account add` (file {self.path})")
        if not name:
            name = next(iter(self.accounts))
        if name not in self.accounts:
            raise MuaError(f"no account named {name!r} in {self.path} (accounts: {', '.join(self.accounts)})")
        return self.accounts[name]

    def add(self, account: Account, *, make_default: bool) -> None:
        if not _NAME.fullmatch(account.name):
            raise MuaError(f"account name {account.name!r}: use letters, digits, '.', '_' and '-'")
        if account.name in self.accounts:
            raise MuaError(f"account {account.name} exists (remove it first: postoffice mail account del {account.name})")
        self.accounts[account.name] = account
        if make_default or not self.default:
            self.default = account.name

    def remove(self, name: str) -> Account:
        account = self.account(name)
        del self.accounts[name]
        if self.default == name:
            self.default = next(iter(self.accounts), "")
        return account

    def save(self) -> None:
        lines = ["# postoffice mail client: accounts. Passwords are never kept in this file.", ""]
        if self.default:
            lines += [f"default = {toml_string(self.default)}", ""]
        for account in self.accounts.values():
            lines.append(f"[accounts.{account.name}]")
            for field in fields(Account):
                if field.name == "name":
                    continue
                value = getattr(account, field.name)
                if value == field.default and field.name not in ("tls", "password"):
                    continue
                lines.append(f"{field.name} = {_value(value)}")
            lines.append("")
        write_atomically(self.path, "\n".join(lines).encode(), mode=0o644)


def config_path(override: str | None = None) -> Path:
    if override:
        return Path(override).expanduser()
    if env := os.environ.get(CONFIG_ENV):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "postoffice" / "client.toml"


def load(override: str | None = None) -> Profiles:
    path = config_path(override)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Profiles(path, {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise MuaError(f"cannot read {path}: {e}") from None
    known = {f.name for f in fields(Account)} - {"name"}
    accounts: dict[str, Account] = {}
    for name, table in (data.get("accounts") or {}).items():
        if not isinstance(table, dict):
            raise MuaError(f"{path}: accounts.{name} is not a table")
        if unknown := set(table) - known:
            raise MuaError(f"{path}: unknown key accounts.{name}.{sorted(unknown)[0]}")
        for f in fields(Account):
            wanted = bool if f.type == "bool" else str
            if f.name in table and type(table[f.name]) is not wanted:
                raise MuaError(f"{path}: accounts.{name}.{f.name} must be a {'boolean' if wanted is bool else 'string'}")
        if "address" not in table:
            raise MuaError(f"{path}: accounts.{name} has no address")
        account = Account(name=name, **table)
        check(account, source=str(path))
        accounts[name] = account
    return Profiles(path, accounts, str(data.get("default", "")))


def check(account: Account, *, source: str) -> None:
    if account.tls not in TLS_MODES:
        raise MuaError(f"{source}: account {account.name}: tls must be one of {', '.join(TLS_MODES)}")
    if account.password not in PASSWORD_PLACES:
        raise MuaError(f"{source}: account {account.name}: password must be one of {', '.join(PASSWORD_PLACES)}")
    if "@" not in account.address:
        raise MuaError(f"{source}: account {account.name}: {account.address!r} is not an address")
    if any(c in account.display_name for c in "\r\n"):  # it goes into From (RFC 5322 §2.2)
        raise MuaError(f"{source}: account {account.name}: the name cannot hold a line break")
    if any(c in account.address + account.login for c in "\r\n\0"):  # RFC 9051 §9: LOGIN sends it quoted
        raise MuaError(f"{source}: account {account.name}: the address and login cannot hold a line break or NUL")


def with_password_place(account: Account, place: str) -> Account:
    return replace(account, password=place)


def write_atomically(path: Path, data: bytes, *, mode: int) -> None:
    """Write `data` to a new file and rename it over `path`: a crash leaves the old file or the new.

    The new file is made by mkstemp (a fresh name, O_EXCL, mode 0600) and only then given `mode`,
    so a credentials file is never readable by others, not even for an instant, and a name planted
    beside `path` (a symlink in /tmp, where `contacts export` may write) is never followed.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "wb", closefd=False) as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    sync_directory(path.parent)


def sync_directory(directory: Path) -> None:
    """fsync a directory, so that a file just created or renamed in it survives a crash."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def toml_string(value: str) -> str:
    # A JSON string with non-ASCII kept as is is a TOML basic string: the escapes JSON writes
    # (\" \\ \n \t \uXXXX ...) are all TOML escapes too. JSON leaves DEL as it is, which TOML
    # forbids in a basic string.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return toml_string(str(value))
