"""The mail spool and mailbox store (docs/architecture.md "Storage"): `open_store` gives the configured backend."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from postoffice.config import Config
    from postoffice.store.api import Store


def open_store(config: Config) -> Store:
    from postoffice.store.sqlite.store import SqliteStore

    s = config.store
    return SqliteStore(config.data_path, group_commit=s.group_commit, max_group=s.max_group,
                       inline_blob_bytes=s.inline_blob_bytes, readers=s.readers)
