"""The MSA's listeners: submission with STARTTLS (587; 2587 by default) and with implicit TLS
(RFC 8314; 465, 2465 by default)."""

from __future__ import annotations

import socket

from postoffice.msa.policy import SubmissionPolicy
from postoffice.smtp.listener import SmtpListener


def _listener(run: object, *, implicit_tls: bool) -> SmtpListener:
    config = run.config  # type: ignore[attr-defined]
    policy = SubmissionPolicy(store=run.store, router=run.router, handoff=run.handoff,  # type: ignore[attr-defined]
                              hostname=config.server_name, plaintext_auth=config.submission.plaintext_auth,
                              hide_client_ip=config.submission.hide_client_ip)
    return SmtpListener(policy_for=lambda: policy, hostname=config.server_name, limits=config.smtp,
                        tls_context=run.tls, implicit_tls=implicit_tls, throttle=run.throttle,  # type: ignore[attr-defined]
                        spool_dir=config.data_path / "spool")


async def start(run: object, sock: socket.socket, *, implicit_tls: bool) -> None:
    """Starts a submission listener on `sock`: 587 with STARTTLS, or 465 with implicit TLS."""
    listener = _listener(run, implicit_tls=implicit_tls)
    await listener.start(sock)
    run.stoppers.append(listener.stop)  # type: ignore[attr-defined]
