"""The MTA's SMTP listener: mail from other servers for local domains (port 25; 2525 by default)."""

from __future__ import annotations

import socket

from postoffice.mta.policy import InboundPolicy
from postoffice.smtp.listener import SmtpListener


async def start_smtp(run: object, sock: socket.socket) -> None:
    config = run.config  # type: ignore[attr-defined]
    policy = InboundPolicy(store=run.store, router=run.router, handoff=run.handoff, hostname=config.server_name)  # type: ignore[attr-defined]
    listener = SmtpListener(policy_for=lambda: policy, hostname=config.server_name, limits=config.smtp,
                            tls_context=run.tls, implicit_tls=False, throttle=None,  # type: ignore[attr-defined]
                            spool_dir=config.data_path / "spool")
    await listener.start(sock)
    run.stoppers.append(listener.stop)  # type: ignore[attr-defined]
