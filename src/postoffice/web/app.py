"""HTTP: the health check now; administration, the journey view and metrics will live beside it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import postoffice

if TYPE_CHECKING:
    from postoffice.store.api import Store


def make_app(store: Store, hostname: str) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        try:
            domains = await store.directory.list_domains()
        except Exception:  # the store is what health means here: say so, don't crash the handler
            return JSONResponse({"status": "error", "store": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "hostname": hostname, "version": postoffice.__version__,
                             "domains": len(domains)})

    return Starlette(routes=[Route("/healthz", healthz)])
