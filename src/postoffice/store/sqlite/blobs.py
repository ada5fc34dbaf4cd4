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
from dataclasses import dataclass
from pathlib import Path

from postoffice.message.parsed import ParsedMessage, parse_message
from postoffice.store.api import BlobRef, NotFound, StoredMessage
from postoffice.store.sqlite.engine import Readers, Writer


OFF_LOOP_BYTES = 64 * 1024


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True, slots=True)
class PreparedBlob:
    sha256: str
    size: int
    inline: bytes | None  # None: the content is already durable in its file
    parsed: str


def insert_blob(conn: sqlite3.Connection, blob: PreparedBlob) -> BlobRef:
    """Records a prepared blob inside any write job; a content stored before is found, not copied."""
    row = conn.execute("SELECT id FROM blobs WHERE sha256 = ?", (blob.sha256,)).fetchone()
    if row is None:
        row = conn.execute("INSERT INTO blobs (sha256, size, data, parsed) VALUES (?, ?, ?, ?) RETURNING id",
                           (blob.sha256, blob.size, blob.inline, blob.parsed)).fetchone()
    return BlobRef(row[0], blob.sha256, blob.size)


class SqliteBlobs:
    def __init__(self, writer: Writer, readers: Readers, directory: Path, *, inline_bytes: int) -> None:
        self._w, self._r = writer, readers
        self.directory = directory
        self._inline = inline_bytes

    def path_of(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / sha256

    async def prepare(self, data: bytes) -> PreparedBlob:
        """Hashes and parses `data` and, when it is large, makes its file durable: all that can be
        done before the transaction that records it (see `insert_blob`)."""
        # Small contents are handled right here: a hop to a thread costs more than the work.
        # Large ones go off the event loop so that other sessions are not held up.
        if len(data) <= OFF_LOOP_BYTES:
            return self._prepare(data)
        return await asyncio.to_thread(self._prepare, data)

    async def put(self, data: bytes) -> BlobRef:
        prepared = await self.prepare(data)
        return await self._w.run(lambda c: insert_blob(c, prepared))

    def _prepare(self, data: bytes) -> PreparedBlob:
        sha256 = hashlib.sha256(data).hexdigest()
        parsed = parse_message(data).to_json()
        if len(data) <= self._inline:
            return PreparedBlob(sha256, len(data), data, parsed)
        self._write_file(data, sha256)
        return PreparedBlob(sha256, len(data), None, parsed)

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
        # A point lookup, and inline contents are small: read right here, without a thread hop.
        row = self._r.quick(lambda c: c.execute("SELECT data FROM blobs WHERE id = ?", (blob.id,)).fetchone())
        if row is None:
            raise NotFound(f"no blob {blob.sha256}")
        if row[0] is not None:
            return bytes(row[0])
        return await asyncio.to_thread(self.path_of(blob.sha256).read_bytes)

    async def read_message(self, message: StoredMessage) -> bytes:
        """A stored message's whole bytes: its own prefix, then the shared blob."""
        return message.prefix + await self.read(message.blob)

    async def parsed(self, blob: BlobRef) -> ParsedMessage:
        # A point lookup, like `read`: answered on the caller's thread, no hop.
        row = self._r.quick(lambda c: c.execute("SELECT parsed FROM blobs WHERE id = ?", (blob.id,)).fetchone())
        if row is None:
            raise NotFound(f"no blob {blob.sha256}")
        return ParsedMessage.from_json(row[0])

    async def count(self) -> int:
        return await self._r.run(lambda c: c.execute("SELECT count(*) FROM blobs").fetchone()[0])
