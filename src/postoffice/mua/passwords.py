"""Where an account's password comes from, and where it is kept between commands.

When a command needs a password, it takes the first of:
1. `$POSTOFFICE_MAIL_PASSWORD` (for scripts and CI; it applies to whichever account is used);
2. the place the account names in client.toml:
   - "keyring": the system keyring (Secret Service, macOS Keychain, …) through the `keyring`
     package, when that package is installed and has a working backend;
   - "file": `credentials.toml` beside client.toml, created with mode 0600 (readable by you
     alone) and refused if its mode lets anyone else read it, as ssh does with its keys. The
     password is in clear inside that file: file permissions are its only protection, the same
     protection as ~/.netrc, ~/.pgpass or a fetchmailrc. It is not encrypted, because a key kept
     beside it would protect nothing;
   - "ask": nothing is kept;
3. a prompt on the terminal (/dev/tty, so a message body piped on stdin is left alone).

client.toml itself never holds a password.
"""

from __future__ import annotations

import getpass
import os
import stat
import tomllib
from pathlib import Path

from postoffice.mua.connect import MuaError
from postoffice.mua.profiles import Account, Profiles, toml_string, write_atomically

PASSWORD_ENV = "POSTOFFICE_MAIL_PASSWORD"
KEYRING_SERVICE = "postoffice-mail"


def keyring_usable() -> bool:
    try:
        import keyring
        from keyring.backends import fail
    except ImportError:
        return False
    try:
        return not isinstance(keyring.get_keyring(), fail.Keyring)
    except Exception:  # a broken backend configuration is "no keyring" here
        return False


def store(profiles: Profiles, account: Account, password: str, place: str) -> None:
    """Keep `password` in `place` ("keyring" or "file")."""
    if place == "keyring":
        import keyring
        from keyring.errors import KeyringError

        try:
            keyring.set_password(KEYRING_SERVICE, _keyring_user(account), password)
        except KeyringError as e:  # locked, refused, no backend after all: say so, then stop
            raise MuaError(f"the system keyring did not keep the password of account {account.name}: "
                           f"{_one_line(e)}; use --store-password file or no") from None
    elif place == "file":
        passwords = _read_file(profiles.credentials_path)
        passwords[account.name] = password
        _write_file(profiles.credentials_path, passwords)


def forget(profiles: Profiles, account: Account) -> None:
    if account.password == "keyring" and keyring_usable():
        import keyring

        try:
            keyring.delete_password(KEYRING_SERVICE, _keyring_user(account))
        except Exception:  # already gone: nothing to forget
            pass
    elif account.password == "file" and profiles.credentials_path.exists():
        passwords = _read_file(profiles.credentials_path)
        if passwords.pop(account.name, None) is not None:
            _write_file(profiles.credentials_path, passwords)


def password_for(profiles: Profiles, account: Account) -> str:
    if env := os.environ.get(PASSWORD_ENV):
        return env
    if account.password == "keyring":
        if not keyring_usable():
            raise MuaError(f"account {account.name} keeps its password in the system keyring, which is not "
                           f"available here; set ${PASSWORD_ENV}")
        import keyring
        from keyring.errors import KeyringError

        try:
            found: str | None = keyring.get_password(KEYRING_SERVICE, _keyring_user(account))
        except KeyringError as e:
            raise MuaError(f"cannot read the password of account {account.name} from the system keyring: "
                           f"{_one_line(e)}; set ${PASSWORD_ENV}") from None
        if found:
            return found
    elif account.password == "file":
        if found := _read_file(profiles.credentials_path).get(account.name):
            return found
    return _prompt(account)


def _prompt(account: Account) -> str:
    try:
        os.close(os.open("/dev/tty", os.O_RDWR))  # getpass asks there: is there a terminal at all?
    except OSError:
        raise MuaError(f"no password for account {account.name}: set ${PASSWORD_ENV}, or keep one with "
                       f"`postoffice mail account add {account.name} ... --password-stdin`") from None
    password = getpass.getpass(f"Password for {account.user}: ")
    if not password:
        raise MuaError("no password given")
    return password


def _keyring_user(account: Account) -> str:
    return f"{account.name}:{account.user}"


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def _read_file(path: Path) -> dict[str, str]:
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise MuaError(f"{path} can be read by others (mode {stat.S_IMODE(st.st_mode):04o}): "
                       f"run `chmod 600 {path}` and change the passwords it holds")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise MuaError(f"cannot read {path}: {e}") from None
    table = data.get("passwords", {})
    return {str(k): str(v) for k, v in table.items()} if isinstance(table, dict) else {}


def _write_file(path: Path, passwords: dict[str, str]) -> None:
    lines = ["# postoffice mail client: account passwords, in clear, protected only by this file's",
             "# mode (0600: readable by you alone). Keep it out of shared backups.", "", "[passwords]"]
    lines += [f"{toml_string(name)} = {toml_string(pw)}" for name, pw in passwords.items()]
    write_atomically(path, ("\n".join(lines) + "\n").encode(), mode=0o600)
