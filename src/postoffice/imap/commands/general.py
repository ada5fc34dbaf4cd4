"""The commands that read or change no mailbox: CAPABILITY, NOOP and LOGOUT (RFC 9051 §6.1),
ID (RFC 2971, any state), CHECK (RFC 3501 §6.4.1; gone from RFC 9051, answered as NOOP) and IDLE
(RFC 2177).

Each answers at once; what changed in the selected mailbox meanwhile is added by the session
after any of them (that is what NOOP and CHECK are for, RFC 9051 §6.1.2). IDLE answers with a
continuation; the listener then waits for DONE and the mailbox's changes together.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import postoffice
from postoffice.imap import responses as r
from postoffice.imap.context import Context
from postoffice.imap.outcome import Outcome, Then, ok
from postoffice.imap.wire import Capability, Check, Id, Idle, Logout, Noop

log = logging.getLogger(__name__)

# RFC 2971 §3.3: what ID tells about the server.
SERVER_ID = {"name": "postoffice", "vendor": "postoffice", "version": postoffice.__version__}


async def capability(ctx: Context, cmd: Capability) -> Outcome:
    return ok(cmd.tag, "CAPABILITY completed", r.untagged("CAPABILITY " + " ".join(ctx.capabilities())))


async def noop(ctx: Context, cmd: Noop | Check) -> Outcome:
    return ok(cmd.tag, f"{cmd.name} completed")


async def logout(ctx: Context, cmd: Logout) -> Outcome:
    # RFC 9051 §6.1.3: BYE first, then the tagged OK, then the server closes.
    await ctx.logout()
    return replace(ok(cmd.tag, "LOGOUT completed", r.untagged_status("BYE", None, "Logging out")), then=Then.CLOSE)


async def id_(ctx: Context, cmd: Id) -> Outcome:
    # RFC 2971 §3.1-§3.3: the client's fields are logged; ours answer.
    if cmd.params:
        log.info("imap: client %s says ID %s", ctx.client_ip,
                 ", ".join(f"{k}={v}" for k, v in list(cmd.params.items())[:30]))
    fields = b" ".join(r.quoted(k) + b" " + r.quoted(v) for k, v in SERVER_ID.items())
    return ok(cmd.tag, "ID completed", r.untagged(b"ID (" + fields + b")"))


async def idle(ctx: Context, cmd: Idle) -> Outcome:
    # RFC 2177 §3: a continuation, then updates as they come, until DONE.
    return Outcome((r.continuation("idling"),), then=Then.IDLE)
