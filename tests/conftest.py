"""Fixtures shared by every test: real stores in fresh directories, the real CLI, the real server."""

from __future__ import annotations

import functools
import itertools
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# Machines here are shared and noisy: a slow example is not a failure (no per-example deadline).
settings.register_profile("postoffice", deadline=None)
settings.load_profile("postoffice")

REPO = Path(__file__).resolve().parent.parent
POSTOFFICE = str(Path(sys.executable).with_name("postoffice"))


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def cli(data_dir: Path):
    """Runs `postoffice ARGS` against the test's data directory, as a separate process."""

    def run(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> CliResult:
        full_env = {**os.environ, "POSTOFFICE_DATA": str(data_dir), **(env or {})}
        p = subprocess.run([POSTOFFICE, *args], input=stdin, capture_output=True, text=True, env=full_env,
                           timeout=120)
        return CliResult(p.returncode, p.stdout, p.stderr)

    return run


@dataclass
class RunningServer:
    process: subprocess.Popen[bytes]
    data_dir: Path
    listeners: dict[str, tuple[str, int]]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=30)


def wait_for_listeners(data_dir: Path, process: subprocess.Popen[bytes], log_path: Path,
                       timeout: float = 30) -> dict[str, tuple[str, int]]:
    path = data_dir / "run" / "listeners.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited {process.returncode}:\n{log_path.read_text()}")
        if path.exists():
            out = {}
            for name, addr in json.loads(path.read_text()).items():
                host, _, port = addr.rpartition(":")
                out[name] = (host.strip("[]"), int(port))
            return out
        time.sleep(0.05)
    raise AssertionError(f"server did not start:\n{log_path.read_text()}")


# Tests never reach out: mail for other domains goes to a closed port on loopback (and so waits in
# the queue) unless a test routes it to a remote MX of its own.
NO_NETWORK = '\n[relay]\nsmarthost = "127.0.0.1:9"\n'


def start_server(data_dir: Path, config_text: str, *, extra_args: tuple[str, ...] = ()) -> RunningServer:
    data_dir.mkdir(parents=True, exist_ok=True)
    if "[relay]" not in config_text:
        config_text += NO_NETWORK
    (data_dir / "run" / "listeners.json").unlink(missing_ok=True)
    config = data_dir.parent / "postoffice.toml"
    config.write_text(config_text)
    log_path = data_dir.parent / "server.log"
    log = open(log_path, "wb")
    process = subprocess.Popen([POSTOFFICE, "serve", "--config", str(config), "--data-dir", str(data_dir), *extra_args],
                               stdout=log, stderr=subprocess.STDOUT)
    return RunningServer(process, data_dir, wait_for_listeners(data_dir, process, log_path), log_path)


# Every listener on port 0, so tests never collide with each other or with a running server.
TEST_CONFIG = """
hostname = "mail.example.test"
[listen]
smtp = "127.0.0.1:0"
submission = "127.0.0.1:0"
submissions = "127.0.0.1:0"
pop3 = "127.0.0.1:0"
pop3s = "127.0.0.1:0"
imap = "127.0.0.1:0"
imaps = "127.0.0.1:0"
http = "127.0.0.1:0"
"""


@pytest.fixture
def server(data_dir: Path) -> Iterator[RunningServer]:
    s = start_server(data_dir, TEST_CONFIG)
    try:
        yield s
    finally:
        s.stop()


# --- a server with mail users, and ways to look into their mailboxes ------------------------------

USERS = {"alice@example.test": "alice-secret", "bob@example.test": "bob-secret", "carol@example.test": "carol-secret"}


def provision(data_dir: Path) -> None:
    """example.test with alice, bob and carol, and the alias team@ -> alice, bob."""
    import asyncio

    from postoffice.auth.passwords import make_credentials
    from postoffice.store.sqlite.store import SqliteStore

    async def main() -> None:
        store = SqliteStore(data_dir)
        try:
            await store.directory.add_domain("example.test")
            for address, password in USERS.items():
                await store.directory.add_account(address, make_credentials(password))
            await store.directory.add_alias("team@example.test", ["alice@example.test", "bob@example.test"])
        finally:
            await store.aclose()

    asyncio.run(main())


def new_account(server: RunningServer, prefix: str, password: str) -> str:
    """A new account "<prefix>N@example.test" on the running server, with the default mailboxes,
    so that a test sees only its own mail and mailboxes."""
    import asyncio

    from postoffice.store.sqlite.store import SqliteStore

    address = f"{prefix}{next(_ACCOUNTS)}@example.test"

    async def add() -> None:
        store = SqliteStore(server.data_dir)
        try:
            await store.directory.add_account(address, _credentials(password))
        finally:
            await store.aclose()

    asyncio.run(add())
    return address


_ACCOUNTS = itertools.count(1)


@functools.cache
def _credentials(password: str) -> Any:
    from postoffice.auth.passwords import make_credentials

    return make_credentials(password)


def inbox(data_dir: Path, address: str, *, expect: int | None = None, timeout: float = 10) -> list[bytes]:
    """The messages in `address`'s INBOX, oldest first; with `expect`, waits until there are that many."""
    import asyncio

    from postoffice.store.sqlite.store import SqliteStore

    async def read() -> list[bytes]:
        store = SqliteStore(data_dir)
        try:
            account = await store.directory.find_account(address)
            box = await store.mailboxes.find(account.id, "INBOX")
            return [await store.blobs.read_message(m) for m in await store.mailboxes.messages(box.id)]
        finally:
            await store.aclose()

    deadline = time.monotonic() + timeout
    while True:
        messages = asyncio.run(read())
        if expect is None or len(messages) >= expect or time.monotonic() > deadline:
            return messages
        time.sleep(0.05)


@pytest.fixture(scope="module")
def mail_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One provisioned server for a whole test module (tests use their own subjects and users)."""
    data_dir = tmp_path_factory.mktemp("mail") / "data"
    provision(data_dir)
    s = start_server(data_dir, TEST_CONFIG)
    try:
        yield s
    finally:
        s.stop()


def client_tls() -> ssl.SSLContext:
    """Clients trust our self-signed test certificate without checking it."""

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx
