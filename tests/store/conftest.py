"""Store fixtures: every contract test runs against each backend (SQLite now, PostgreSQL later)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from postoffice.auth.passwords import make_credentials
from postoffice.store.sqlite.store import SqliteStore

CREDENTIALS = make_credentials("secret")


def open_backend(backend: str, data_dir: Path, **options: Any) -> SqliteStore:
    if backend == "sqlite":
        return SqliteStore(data_dir, **options)
    raise AssertionError(f"unknown backend {backend}")


@pytest.fixture(params=["sqlite"])
def with_store(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., Any]:
    """with_store(async_fn, **options) runs async_fn(store) on a fresh store, in a fresh event loop."""

    def run(fn: Callable[[SqliteStore], Awaitable[Any]], **options: Any) -> Any:
        async def main() -> Any:
            store = open_backend(request.param, tmp_path / "data", **options)
            try:
                return await fn(store)
            finally:
                await store.aclose()

        return asyncio.run(main())

    return run


async def make_account(store: SqliteStore, address: str = "alice@example.test") -> Any:
    domain = address.rpartition("@")[2]
    if not await store.directory.is_local_domain(domain):
        await store.directory.add_domain(domain)
    return await store.directory.add_account(address, CREDENTIALS)
