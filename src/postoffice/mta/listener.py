"""The MTA's SMTP listener: mail from other servers for local domains (port 25; 2525 by default)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from postoffice.mta.policy import InboundPolicy
from postoffice.net import ConnectionLimits
from postoffice.smtp.listener import SmtpListener, login_cost

if TYPE_CHECKING:
    from postoffice.server import Running


async def start_smtp(run: Running, sock: socket.socket) -> None:
    config = run.config
    policy = InboundPolicy(store=run.store, router=run.router, mda=run.mda, handoff=run.handoff,
                           hostname=config.server_name)
    limits = ConnectionLimits(config.smtp.max_connections, config.smtp.max_connections_per_ip)
    listener = SmtpListener(policy_for=lambda: policy, hostname=config.server_name, limits=config.smtp,
                            tls_context=run.tls, implicit_tls=False, spool_dir=config.data_path / "spool",
                            admission=run.admission("smtp", limits, login_cost(config.smtp)))
    await listener.start(sock)
    run.stoppers.append(listener.stop)
