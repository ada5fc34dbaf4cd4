"""Holds for the SQLite backend (store.api.Locks): in this process's memory.

One server process owns a SQLite store at a time, so a set is the whole of it, and a hold cannot
outlive its process. A backend shared by several servers keeps them in the database instead
(PostgreSQL's advisory locks, which also end with the session that took them).
"""

from __future__ import annotations


class ProcessLocks:
    def __init__(self) -> None:
        self._held: set[str] = set()

    async def acquire(self, key: str) -> bool:
        if key in self._held:
            return False
        self._held.add(key)
        return True

    async def release(self, key: str) -> None:
        self._held.discard(key)
