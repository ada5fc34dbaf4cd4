"""`postoffice serve`: opens the store, makes TLS ready, starts every configured listener, and
stops them cleanly on SIGINT or SIGTERM.

Listeners are registered in `LISTENERS` by the stage that owns them; a listener whose address is
"" in the configuration is not started. Each binds its own socket here, so a port of 0 (used by
the tests) is resolved before the banner is printed, and the addresses actually bound are written
to `run/listeners.json` in the data directory for tools and tests to find.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from functools import partial
from pathlib import Path

import uvicorn

import postoffice
from postoffice.auth.throttle import LoginThrottle
from postoffice.config import Config, ConfigError, Listen, parse_address
from postoffice.imap import listener as imap_listener
from postoffice.mda.deliver import LocalDelivery
from postoffice.msa import listener as msa_listener
from postoffice.mta.listener import start_smtp
from postoffice.mta.outbound import Outbound, dkim_signer
from postoffice.mta.routing import Router
from postoffice.net import Admission, ConnectionLimits, LoginBudget, WaitingBudget
from postoffice.pop3 import listener as pop3_listener
from postoffice.store import open_store
from postoffice.store.api import QueuedMessage, RecipientState, Store
from postoffice.tls import channel_binding, server_context
from postoffice.web.app import make_app

log = logging.getLogger("postoffice.server")


@dataclass
class Running:
    """What the server holds while it runs: the services the stages share; listeners add their
    stop callbacks to `stoppers`."""

    config: Config
    store: Store
    tls: ssl.SSLContext
    router: Router
    mda: LocalDelivery
    throttle: LoginThrottle
    outbound: Outbound
    # RFC 5929 tls-server-end-point data of `tls`'s certificate, for SCRAM-SHA-256-PLUS.
    channel_binding: bytes | None = None
    login_budget: LoginBudget = field(default_factory=lambda: LoginBudget(0))
    admissions: dict[str, Admission] = field(default_factory=dict)
    imap_literal_budget: WaitingBudget | None = None  # large APPEND literals being read, both IMAP listeners
    bound: dict[str, str] = field(default_factory=dict)
    stoppers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def admission(self, protocol: str, limits: ConnectionLimits, cost: int) -> Admission:
        """The connection counts of `protocol`, one for its plain and TLS listeners together, all
        drawing on the one budget of memory before login."""
        if protocol not in self.admissions:
            self.admissions[protocol] = Admission(protocol, limits, budget=self.login_budget, cost=cost)
        return self.admissions[protocol]

    def handoff(self, queued: QueuedMessage) -> None:
        """A message was just queued: the MDA retries what the commit could not deliver locally,
        and the outbound loop looks at the queue now if anything is for other servers."""
        self.mda.deliver_soon(queued)
        if any(not r.is_local and r.state is RecipientState.QUEUED for r in queued.recipients):
            self.outbound.wake()


def bind(address: str) -> socket.socket:
    host, port = parse_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    sock.setblocking(False)
    return sock


def bound_address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def start_http(run: Running, sock: socket.socket) -> None:
    app = make_app(run.store, run.config.server_name)
    # loop="none": uvicorn serves on the loop already running here and sets up none of its own.
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", loop="none"))
    task = asyncio.create_task(server.serve(sockets=[sock]))

    async def stop() -> None:
        server.should_exit = True
        await task

    run.stoppers.append(stop)


# name in [listen] -> starter.
LISTENERS: dict[str, Callable[[Running, socket.socket], Awaitable[None]]] = {
    "smtp": start_smtp,
    "submission": partial(msa_listener.start, implicit_tls=False),
    "submissions": partial(msa_listener.start, implicit_tls=True),
    "pop3": partial(pop3_listener.start, implicit_tls=False),
    "pop3s": partial(pop3_listener.start, implicit_tls=True),
    "imap": partial(imap_listener.start, implicit_tls=False),
    "imaps": partial(imap_listener.start, implicit_tls=True),
    "http": start_http,
}


def setup_logging(level: str) -> None:
    logging.Formatter.converter = time.gmtime
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03dZ %(levelname)-7s %(name)s: %(message)s",
                                           "%Y-%m-%dT%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("uvicorn.error").setLevel("WARNING")


async def serve(config: Config) -> None:
    # The store's writer and readers are threads: hand the GIL over sooner than the default 5 ms,
    # or each commit's reply waits for the event loop's time slice to end.
    sys.setswitchinterval(0.0005)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    store = await asyncio.to_thread(open_store, config)
    try:
        tls = await asyncio.to_thread(server_context, config)
        binding = await asyncio.to_thread(channel_binding, config)
    except (OSError, ssl.SSLError, ValueError) as e:  # ValueError: a certificate cryptography cannot read
        await store.aclose()
        raise ConfigError(f"tls: cannot load the certificate or key: {e}") from None
    router = Router(store, delimiter=config.mta.recipient_delimiter, hostname=config.server_name)
    mda = LocalDelivery(store)
    run = Running(config, store, tls, router, mda, LoginThrottle(),
                  Outbound(store=store, config=config, router=router, mda=mda, signer=dkim_signer(store)),
                  channel_binding=binding, login_budget=LoginBudget(config.max_login_memory_bytes))
    try:
        sockets: dict[str, socket.socket] = {}
        for name, address in vars_of(config.listen).items():
            if not address:
                continue
            if name not in LISTENERS:
                continue  # configured, but no stage serves it in this version
            try:
                sockets[name] = bind(address)
            except OSError as e:
                raise ConfigError(f"listen.{name}: cannot listen on {address}: {e.strerror}") from None
        for name, sock in sockets.items():
            await LISTENERS[name](run, sock)
            run.bound[name] = bound_address(sock)
        write_listeners(config.data_path, run.bound)
        banner(config, run.bound)
        await run.mda.recover()  # what a crash left queued for local recipients
        run.outbound.start()
        run.stoppers.insert(0, run.outbound.stop)
        await stop.wait()
        log.info("shutting down")
    finally:
        for stopper in reversed(run.stoppers):
            try:
                await stopper()
            except Exception:
                log.exception("a listener failed to stop cleanly")
        (config.data_path / "run" / "listeners.json").unlink(missing_ok=True)
        await run.mda.drain()
        await store.aclose()
        log.info("stopped")


def run(config: Config) -> None:
    """Runs `serve` on uvloop, the event loop written in C, when it is installed (it is a dependency;
    the standard loop stays the fallback, and the tests' in-process helpers use it)."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve(config))
        return
    uvloop.run(serve(config))


def vars_of(listen: Listen) -> dict[str, str]:
    return {f.name: getattr(listen, f.name) for f in fields(listen)}


def write_listeners(data_dir: Path, bound: dict[str, str]) -> None:
    folder = data_dir / "run"
    folder.mkdir(exist_ok=True)
    tmp = folder / "listeners.json.tmp"
    tmp.write_text(json.dumps(bound, indent=2))
    tmp.replace(folder / "listeners.json")


def banner(config: Config, bound: dict[str, str]) -> None:
    lines = [f"postoffice {postoffice.__version__} serving {config.server_name} from {config.data_path.resolve()}"]
    lines += [f"  {name:<12} {address}" for name, address in bound.items()]
    for line in lines:
        log.info("%s", line)
