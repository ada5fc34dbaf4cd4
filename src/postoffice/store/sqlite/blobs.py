"""Message contents stored once each (store.api.Blobs), inline or as files named by their hash.

A content is named by its SHA-256: the same message delivered to fifty mailboxes is one row and at
most one file. Small contents live in the row itself, so they become durable in the same commit
as the row; large ones are written to `blobs/ab/<sha256>` first (temporary name, fsync, rename,
fsync of the directory), so the file is on disk before any row can point to it. The parse-once
form (message.parsed) is computed here, once per content, and kept in the same row.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import tempfile
from pathlib import Path

from postoffice.message.parsed import ParsedMessage, parse_message
from postoffice.store.api import BlobRef, NotFound, StoredMessage
from postoffice.store.sqlite.engine import Readers, Writer


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SqliteBlobs:
    def __init__(self, writer: Writer, readers: Readers, directory: Path, *, inline_bytes: int) -> None:
        self._w, self._r = writer, readers
        self.directory = directory
        self._inline = inline_bytes

    def path_of(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / sha256

    async def put(self, data: bytes) -> BlobRef:
        sha256 = await asyncio.to_thread(lambda: hashlib.sha256(data).hexdigest())
        known = await self._r.run(lambda c: c.execute("SELECT id, size FROM blobs WHERE sha256 = ?", (sha256,)).fetchone())
        if known:
            return BlobRef(known[0], sha256, known[1])
        parsed, inline = await asyncio.to_thread(self._prepare, data, sha256)

        def job(conn: sqlite3.Connection) -> BlobRef:
            conn.execute(
                "INSERT OR IGNORE INTO blobs (sha256, size, data, parsed) VALUES (?, ?, ?, ?)",
                (sha256, len(data), data if inline else None, parsed),
            )
            row = conn.execute("SELECT id FROM blobs WHERE sha256 = ?", (sha256,)).fetchone()
            return BlobRef(row[0], sha256, len(data))

        return await self._w.run(job)

    def _prepare(self, data: bytes, sha256: str) -> tuple[str, bool]:
        parsed = parse_message(data).to_json()
        if len(data) <= self._inline:
            return parsed, True
        self._write_file(data, sha256)
        return parsed, False

    def _write_file(self, data: bytes, sha256: str) -> None:
        final = self.path_of(sha256)
        if final.exists():
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        fsync_dir(final.parent)
        fsync_dir(self.directory)

    async def read(self, blob: BlobRef) -> bytes:
        row = await self._r.run(lambda c: c.execute("SELECT data FROM blobs WHERE id = ?", (blob.id,)).fetchone())
        if row is None:
            raise NotFound(f"no blob {blob.sha256}")
        if row[0] is not None:
            return bytes(row[0])
        return await asyncio.to_thread(self.path_of(blob.sha256).read_bytes)

    async def read_message(self, message: StoredMessage) -> bytes:
        """A stored message's whole bytes: its own prefix, then the shared blob."""
        return message.prefix + await self.read(message.blob)

    async def parsed(self, blob: BlobRef) -> ParsedMessage:
        row = await self._r.run(lambda c: c.execute("SELECT parsed FROM blobs WHERE id = ?", (blob.id,)).fetchone())
        if row is None:
            raise NotFound(f"no blob {blob.sha256}")
        return ParsedMessage.from_json(row[0])

    async def count(self) -> int:
        return await self._r.run(lambda c: c.execute("SELECT count(*) FROM blobs").fetchone()[0])
