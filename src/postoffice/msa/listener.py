"""The MSA's listeners: submission with STARTTLS (587; 2587 by default) and with implicit TLS
(RFC 8314; 465, 2465 by default)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from postoffice.msa.policy import SubmissionPolicy
from postoffice.net import ConnectionLimits
from postoffice.smtp.listener import SmtpListener, login_cost

if TYPE_CHECKING:
    from postoffice.server import Running


def _listener(run: Running, *, implicit_tls: bool) -> SmtpListener:
    config = run.config
    policy = SubmissionPolicy(store=run.store, router=run.router, mda=run.mda, handoff=run.handoff,
                              hostname=config.server_name, plaintext_auth=config.submission.plaintext_auth,
                              hide_client_ip=config.submission.hide_client_ip, throttle=run.throttle)
    sub = config.submission
    limits = ConnectionLimits(config.smtp.max_connections, config.smtp.max_connections_per_ip,
                              sub.max_connections_per_account_ip, sub.max_connections_per_account)
    return SmtpListener(policy_for=lambda: policy, hostname=config.server_name, limits=config.smtp,
                        tls_context=run.tls, implicit_tls=implicit_tls, channel_binding=run.channel_binding,
                        spool_dir=config.data_path / "spool",
                        admission=run.admission("submission", limits, login_cost(config.smtp)),
                        login_timeout_s=sub.login_timeout_s)


async def start(run: Running, sock: socket.socket, *, implicit_tls: bool) -> None:
    """Starts a submission listener on `sock`: 587 with STARTTLS, or 465 with implicit TLS."""
    listener = _listener(run, implicit_tls=implicit_tls)
    await listener.start(sock)
    run.stoppers.append(listener.stop)
