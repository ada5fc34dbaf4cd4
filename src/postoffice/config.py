"""Configuration: one TOML file becomes frozen dataclasses, once, at start.

Every setting is declared here with its default and a one-line doc (the `doc` metadata), so the
defaults are the embedded configuration: `postoffice serve` with no file runs on them. An unknown
key or a value of the wrong kind stops the start with one line naming the key and the file
(`ConfigError`), never a traceback. Nothing reads configuration from a module global: the loaded
`Config` is passed in by constructor, so tests build their own.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import socket
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, get_type_hints

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

DEFAULT_DATA_DIR = "./postoffice-data"
DATA_DIR_ENV = "POSTOFFICE_DATA"


class ConfigError(Exception):
    """A configuration problem, said in one line that names the key and the file."""


_T = TypeVar("_T")
_Section = TypeVar("_Section", bound="DataclassInstance")


def setting(default: _T, doc: str) -> _T:
    """A field with its default and doc; typed as its value, the way `dataclasses.field` is."""
    if isinstance(default, dict):
        return field(default_factory=lambda: copy.copy(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


def section(cls: type[_T], doc: str) -> _T:
    return field(default_factory=cls, metadata={"doc": doc})


@dataclass(frozen=True, slots=True)
class Listen:
    smtp: str = setting("127.0.0.1:2525", "SMTP from other servers (MTA); port 25 in a real deployment")
    submission: str = setting("127.0.0.1:2587", "submission with STARTTLS (MSA, RFC 6409)")
    submissions: str = setting("127.0.0.1:2465", "submission over implicit TLS (RFC 8314)")
    pop3: str = setting("127.0.0.1:2110", "POP3 with STLS")
    pop3s: str = setting("127.0.0.1:2995", "POP3 over implicit TLS")
    imap: str = setting("127.0.0.1:2143", "IMAP with STARTTLS")
    imaps: str = setting("127.0.0.1:2993", "IMAP over implicit TLS")
    http: str = setting("127.0.0.1:8025", "HTTP: health, administration, the journey view")


@dataclass(frozen=True, slots=True)
class Tls:
    cert: str = setting("", "PEM certificate chain; empty: a self-signed one made on first start")
    key: str = setting("", "PEM private key for `cert`; empty with an empty `cert`")


@dataclass(frozen=True, slots=True)
class Store:
    group_commit: bool = setting(True, "commit many writes per fsync under load")
    max_group: int = setting(256, "most writes committed together in one transaction")
    inline_blob_bytes: int = setting(65536, "blobs up to this size live in the database, larger as files")
    readers: int = setting(4, "reader connections to the database")


@dataclass(frozen=True, slots=True)
class Smtp:
    max_message_bytes: int = setting(26_214_400, "largest message accepted (SIZE, RFC 1870); 552 5.3.4 past it")
    max_line_bytes: int = setting(998, "longest line of message data, CRLF excluded (RFC 5321 §4.5.3.1.6)")
    max_command_bytes: int = setting(2048, "longest command line, CRLF included")
    max_recipients: int = setting(100, "recipients per message; 452 4.5.3 past it (RFC 5321 §4.5.3.1.8)")
    idle_timeout_s: float = setting(300.0, "a silent client is closed with 421 4.4.2 after this (RFC 5321 §4.5.3.2.7)")
    max_connections_per_ip: int = setting(
        50, "simultaneous connections from one client address (on submission: before AUTH); a relaying MTA opens many")
    max_connections: int = setting(1000, "simultaneous connections on one listener")
    max_errors: int = setting(10, "protocol errors in one session before 421 and close")


@dataclass(frozen=True, slots=True)
class Submission:
    plaintext_auth: str = setting("loopback", "AUTH before TLS: never, loopback (clients on 127.0.0.0/8 and ::1) or always")
    hide_client_ip: bool = setting(False, "leave the client's IP address out of the Received header")
    login_timeout_s: float = setting(60.0, "a client that has not authenticated is closed after this long idle")
    max_connections_per_account_ip: int = setting(10, "simultaneous authenticated connections of one account from one address")
    max_connections_per_account: int = setting(50, "simultaneous authenticated connections of one account")


@dataclass(frozen=True, slots=True)
class Pop3:
    plaintext_auth: str = setting("loopback", "USER/PASS and AUTH before STLS: never, loopback or always")
    idle_timeout_s: float = setting(600.0, "a silent client is closed after this (RFC 1939 §3: at least 10 minutes)")
    max_errors: int = setting(10, "protocol errors and failed logins in one session before it is closed")
    max_connections_per_ip: int = setting(20, "simultaneous connections from one client address before login")
    max_connections: int = setting(1000, "simultaneous connections on one listener")
    login_timeout_s: float = setting(60.0, "a client that has not logged in is closed after this long idle")


@dataclass(frozen=True, slots=True)
class Imap:
    plaintext_auth: str = setting("loopback", "LOGIN and AUTHENTICATE before TLS: never, loopback or always")
    idle_timeout_s: float = setting(1800.0, "a silent client is logged out after this (RFC 9051 §5.4: at least 30 minutes)")
    max_connections_per_ip: int = setting(20, "simultaneous connections from one client address before login")
    max_connections: int = setting(1000, "simultaneous connections on one listener")
    max_connections_per_account_ip: int = setting(10, "simultaneous logged-in connections of one account from one address")
    max_connections_per_account: int = setting(50, "simultaneous logged-in connections of one account")
    login_timeout_s: float = setting(60.0, "a client that has not logged in is closed after this long idle")
    login_max_line_bytes: int = setting(8192, "the longest command line before login")
    login_max_literal_bytes: int = setting(8192, "the largest literal before login (LOGIN, AUTHENTICATE); BAD [TOOBIG] past it")
    max_literal_memory_bytes: int = setting(
        134_217_728, "large literals (APPEND) being read at once, over all sessions; the others wait their turn")
    max_append_bytes: int = setting(26_214_400, "the largest message APPEND takes (APPENDLIMIT, RFC 7889)")
    max_line_bytes: int = setting(65_536, "the longest command line, literals apart")
    max_errors: int = setting(20, "BAD answers in a row before the server says BYE")


@dataclass(frozen=True, slots=True)
class Mta:
    recipient_delimiter: str = setting("+", "plus-addressing: user+tag@domain goes to user@domain; empty turns it off")


@dataclass(frozen=True, slots=True)
class Relay:
    smarthost: str = setting("", "HOST:PORT to send all outgoing mail through; empty: each domain's MX")
    routes: dict[str, str] = setting({}, "per-domain next hop, HOST:PORT, overriding DNS: { \"remote.test\" = \"127.0.0.1:2626\" }")
    username: str = setting("", "AUTH user at the smarthost; empty: no AUTH")
    password: str = setting("", "AUTH password at the smarthost")
    require_tls: bool = setting(False, "refuse to send to the smarthost or a route without STARTTLS")
    verify_certificates: bool = setting(False, "check the next hop's certificate (opportunistic TLS does not)")
    port: int = setting(25, "the port of MX hosts")


@dataclass(frozen=True, slots=True)
class Queue:
    retry_schedule_s: tuple[float, ...] = setting(
        (60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0),
        "waits between attempts; the last repeats until the lifetime ends")
    lifetime_s: float = setting(432_000.0, "a recipient not delivered after this is bounced (5 days)")
    delay_notice_s: float = setting(14_400.0, "when to tell the sender mail is delayed (RFC 3461 DELAY)")
    concurrency: int = setting(20, "deliveries under way at once, in all")
    per_destination: int = setting(4, "deliveries under way at once to one next hop")
    scan_interval_s: float = setting(1.0, "how often the queue is looked at for due recipients")
    connect_timeout_s: float = setting(30.0, "to connect to a next hop and hear its greeting")
    command_timeout_s: float = setting(300.0, "to wait for any reply of the next hop (RFC 5321 §4.5.3.2)")


@dataclass(frozen=True, slots=True)
class Config:
    hostname: str = setting("", "this server's name in greetings and headers; empty: the machine's FQDN")
    data_dir: str = setting("", f"where the store, blobs and certificate live; empty: ${DATA_DIR_ENV} or {DEFAULT_DATA_DIR}")
    log_level: str = setting("info", "debug, info, warning or error")
    max_login_memory_bytes: int = setting(
        268_435_456, "memory all connections not yet logged in may hold together, at their worst; past it new ones "
        "get the protocol's try-later; 0: no limit")
    listen: Listen = section(Listen, "listener addresses, HOST:PORT; an empty string disables one")
    tls: Tls = section(Tls, "the certificate offered by every TLS listener")
    store: Store = section(Store, "the mailbox store")
    smtp: Smtp = section(Smtp, "limits of both SMTP listeners (smtp and submission)")
    submission: Submission = section(Submission, "the MSA: submission and submissions")
    mta: Mta = section(Mta, "receiving and routing")
    pop3: Pop3 = section(Pop3, "the POP3 server")
    imap: Imap = section(Imap, "the IMAP server")
    relay: Relay = section(Relay, "outgoing mail: where it goes")
    queue: Queue = section(Queue, "outgoing mail: retries, bounces, concurrency")

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def server_name(self) -> str:
        return self.hostname or socket.getfqdn() or "localhost"


PLAINTEXT_AUTH = ("never", "loopback", "always")
LOG_LEVELS = frozenset({"debug", "info", "warning", "error"})


def load(path: str | os.PathLike[str] | None = None, *, data_dir: str | None = None) -> Config:
    """The configuration from `path` (or the defaults), with the data directory decided.

    Precedence for the data directory: the `data_dir` argument (the --data-dir flag), the file's
    `data_dir`, $POSTOFFICE_DATA, then ./postoffice-data.
    """
    raw: dict[str, Any] = {}
    where = str(path) if path else "<defaults>"
    if path is not None:
        try:
            with open(path, "rb") as f:
                raw = tomllib.load(f)
        except FileNotFoundError:
            raise ConfigError(f"{where}: no such file") from None
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{where}: not valid TOML: {e}") from None
        except OSError as e:
            raise ConfigError(f"{where}: cannot read: {e.strerror}") from None
    config = _build(Config, raw, where, prefix="")
    chosen = data_dir or config.data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR
    config = dataclasses.replace(config, data_dir=chosen)
    _check(config, where)
    return config


def _build(cls: type[_Section], raw: dict[str, Any], where: str, prefix: str) -> _Section:
    hints = get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, object] = {}
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if key not in known:
            raise ConfigError(f"{where}: unknown key '{name}'")
        kind = hints[key]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: '{name}' must be a table")
            values[key] = _build(kind, value, where, prefix=f"{name}.")
        else:
            values[key] = _coerce(kind, value, where, name)
    return cls(**values)


def _coerce(kind: object, value: Any, where: str, name: str) -> object:
    # TOML already types its values (tomllib gives them as Any); only refuse the wrong ones (a
    # bool is not an int here).
    if kind is bool:
        ok = isinstance(value, bool)
    elif kind is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        value = float(value) if ok else value
    elif kind is str:
        ok = isinstance(value, str)
    elif kind == dict[str, str]:
        ok = isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    elif kind == tuple[str, ...]:
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        value = tuple(value) if ok else value
    elif kind == tuple[float, ...]:
        ok = isinstance(value, list) and bool(value) and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value)
        value = tuple(float(v) for v in value) if ok else value
    else:  # pragma: no cover - a declaration this loader does not know is our bug
        raise TypeError(f"unsupported setting type {kind!r} for {name}")
    if not ok:
        raise ConfigError(f"{where}: '{name}' must be {_kind_name(kind)}, not {value!r}")
    return value


def _kind_name(kind: object) -> str:
    names: dict[object, str] = {
        bool: "true or false", int: "a whole number", float: "a number", str: "a string",
        dict[str, str]: "a table of strings", tuple[str, ...]: "a list of strings",
        tuple[float, ...]: "a non-empty list of positive numbers"}
    return names.get(kind, str(kind))


def parse_address(value: str) -> tuple[str, int]:
    """HOST:PORT (or [v6]:PORT) as a (host, port) pair; ValueError when it is neither."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(value)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def _check(config: Config, where: str) -> None:
    for f in dataclasses.fields(Listen):
        value = getattr(config.listen, f.name)
        if value:
            try:
                parse_address(value)
            except ValueError:
                raise ConfigError(f"{where}: 'listen.{f.name}' must be HOST:PORT or \"\", not {value!r}") from None
    if bool(config.tls.cert) != bool(config.tls.key):
        raise ConfigError(f"{where}: 'tls.cert' and 'tls.key' must be given together")
    if config.log_level not in LOG_LEVELS:
        raise ConfigError(f"{where}: 'log_level' must be one of {', '.join(sorted(LOG_LEVELS))}, not {config.log_level!r}")
    for name in ("max_group", "inline_blob_bytes", "readers"):
        if getattr(config.store, name) < 1:
            raise ConfigError(f"{where}: 'store.{name}' must be at least 1")
    for f in dataclasses.fields(Smtp):
        if getattr(config.smtp, f.name) <= 0:
            raise ConfigError(f"{where}: 'smtp.{f.name}' must be above 0")
    if config.smtp.max_line_bytes < 78 or config.smtp.max_command_bytes < 512:
        raise ConfigError(f"{where}: 'smtp.max_line_bytes' must be at least 78 and 'smtp.max_command_bytes' at least 512")
    if config.imap.max_line_bytes < 1024:
        raise ConfigError(f"{where}: 'imap.max_line_bytes' must be at least 1024")
    for name, value in (("submission", config.submission.plaintext_auth), ("pop3", config.pop3.plaintext_auth),
                        ("imap", config.imap.plaintext_auth)):
        if value not in PLAINTEXT_AUTH:
            raise ConfigError(f"{where}: '{name}.plaintext_auth' must be one of {', '.join(PLAINTEXT_AUTH)}")
    for section_name, section_cls in (("pop3", Pop3), ("imap", Imap)):
        for f in dataclasses.fields(section_cls):
            if f.name != "plaintext_auth" and getattr(getattr(config, section_name), f.name) <= 0:
                raise ConfigError(f"{where}: '{section_name}.{f.name}' must be above 0")
    for name, value in [("relay.smarthost", config.relay.smarthost),
                        *((f"relay.routes.{d}", v) for d, v in config.relay.routes.items())]:
        if value:
            try:
                parse_address(value)
            except ValueError:
                raise ConfigError(f"{where}: '{name}' must be HOST:PORT, not {value!r}") from None
    for f in dataclasses.fields(Queue):
        if f.name != "retry_schedule_s" and getattr(config.queue, f.name) <= 0:
            raise ConfigError(f"{where}: 'queue.{f.name}' must be above 0")
    if len(config.mta.recipient_delimiter) > 1:
        raise ConfigError(f"{where}: 'mta.recipient_delimiter' must be one character or empty")


def describe(cls: type[DataclassInstance] = Config, prefix: str = "") -> list[tuple[str, object, str]]:
    """Every setting as (key, default, doc): `postoffice config` prints these."""
    out: list[tuple[str, object, str]] = []
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            out.extend(describe(kind, f"{prefix}{f.name}."))
        else:
            default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            out.append((f"{prefix}{f.name}", default, f.metadata["doc"]))
    return out
