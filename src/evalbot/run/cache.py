"""Content-addressed on-disk cache of completions, shared by the base and head sides.

Layout: one SQLite database, ``root/completions.sqlite3`` (WAL mode), a row per answer: the
request key and the stored entry, one ``Completion`` as JSON (without ``cached``). One row
insert costs ~30 µs of CPU where a file per answer (temporary file, write, chmod, rename) cost
~200 µs and a directory entry each; see benchmarks/runner_throughput.py.

Concurrency and crashes: every write is one SQLite transaction (a ``put``, or a batch of them),
so another task, another shard process or a parallel CI job on the same directory sees a whole
entry or none (SQLite's locking; a writer waits up to ``BUSY_TIMEOUT_S`` for another). The
runner's puts are batched
(``put(..., batch=True)``): held in memory, where ``get`` finds them, and written together in one
transaction every ``BATCH_SIZE`` entries or ``BATCH_AGE_S`` seconds, and by ``flush``/``close``
(the runner's ``aclose``). One commit per batch instead of per answer is what keeps the cache off
the request path at high concurrency; a process killed before a flush loses those answers (they
are asked again next time), never leaves a partial one. A process killed mid-write leaves
an uncommitted transaction that SQLite rolls back on the next open; and since an entry is only
trusted after its signature (or, unsigned, its JSON) checks out, damaged bytes are a miss, never
an answer. The database file is made 0644 before SQLite opens it (its ``-wal``/``-shm`` files
take the same mode), so the runner's ``actions/cache`` step can read it.

The previous layout, ``root/<key[:2]>/<key>.json`` (one file per entry, as the shipped example's
``recorded`` answers are committed), is still read: a key missing from the database is looked up
there, with the same checks. New entries only go to the database.

Trust: anyone can compute a key, so an entry proves nothing by its name. With a ``secret`` (the
action always has one, from the workflow's side) every entry is written as a signed envelope,
``evalbot-mac-v1 <hmac>`` on the first line, then the completion; the HMAC covers the key and the
body. An entry without a valid signature for its own key (planted in the repository, copied from
another key, edited in a restored cache) is a miss. Without a secret (the CLI on a developer's
machine) plain entries, such as the recorded answers of the shipped example, are read as before.
Keys and entries are never logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalbot.fsio import FILE_MODE, ensure_dir
from evalbot.records import Completion, ModelRequest
from evalbot.run.providers import provider_spec
from evalbot.signing import seal, unseal

__all__ = ["CACHE_FORMAT", "DB_NAME", "ResponseCache", "cacheable", "request_key"]

CACHE_FORMAT = 1
"""Bumped when the key's recipe changes, so old entries are simply never found again."""
DB_NAME = "completions.sqlite3"
BUSY_TIMEOUT_S = 60.0
"""How long a writer waits for another process's transaction before giving up on one entry."""
BATCH_SIZE = 64
BATCH_AGE_S = 0.5
"""A batch of ``put(..., batch=True)`` entries is written once it holds ``BATCH_SIZE`` entries,
or at the first put after its oldest entry is ``BATCH_AGE_S`` old."""
_SCHEMA = "CREATE TABLE IF NOT EXISTS entries (key TEXT PRIMARY KEY, entry BLOB NOT NULL)"


def cacheable(request: ModelRequest) -> bool:
    """Whether the answer is determined by the request alone.

    ``python``/``exec`` answers come from the user's code, so they are cacheable only when the
    code is pinned by a git tree id (``code_version``); a dirty work tree has none.
    """
    return not (provider_spec(request.provider).runs_user_code and request.code_version is None)


def request_key(request: ModelRequest, *, scope: str = "") -> str:
    """sha256 of the canonical JSON of the fields that determine the answer.

    ``purpose`` is left out (a judge call and a generation with the same input are the same
    call). ``scope`` names what answers beyond the request itself — the endpoint of an ``openai``
    model, the entry point of a ``python``/``exec`` one — so that the same model id served by two
    endpoints never shares an entry.
    """
    fields: dict[str, Any] = {
        "format": CACHE_FORMAT,
        "provider": request.provider,
        "model": request.model,
        "params": request.params,
        "messages": [m.model_dump() for m in request.messages],
        "sample": request.sample,
        "scope": scope,
    }
    if provider_spec(request.provider).runs_user_code:
        fields["vars"] = request.vars
        fields["code_version"] = request.code_version
    canonical = json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ResponseCache:
    """Completions on disk, keyed by ``request_key``. Errored completions are never stored.

    The database is opened on first use (a cache only read offline from a directory of
    legacy files creates nothing there) and closed by ``close`` (the runner's ``aclose``); a
    connection left open is closed by the interpreter, and SQLite recovers one left by a
    killed process. Safe to use from several threads.
    """

    def __init__(self, root: Path, *, secret: bytes | None = None) -> None:
        self.root = Path(root)
        self.db_path = self.root / DB_NAME
        self.secret = secret
        self._db: sqlite3.Connection | None = None
        self._broken = False
        self._lock = threading.Lock()
        self._pending: dict[str, bytes] = {}
        self._pending_since = 0.0
        self._legacy_dirs: frozenset[str] | None = None
        """The previous layout's two-character directories, listed once: a miss then costs
        no file system lookup when there are none (nothing writes that layout any more)."""

    def key_for(self, request: ModelRequest, *, scope: str = "") -> str:
        return request_key(request, scope=scope)

    def path_for(self, key: str) -> Path:
        """Where the previous layout kept the entry for ``key`` (read, never written)."""
        return self.root / key[:2] / f"{key}.json"

    def get(
        self, request: ModelRequest, *, scope: str = "", key: str | None = None
    ) -> Completion | None:
        """The recorded completion (with ``cached=True``), or None on a miss.

        An unreadable, unsigned (with a secret) or malformed entry counts as a miss; the next
        ``put`` replaces it. ``key``: ``key_for(request, scope=scope)`` when the caller has it.
        """
        if not cacheable(request):
            return None
        key = key or self.key_for(request, scope=scope)
        pending = self._pending.get(key)
        if pending is not None:
            return self._decode(key, pending)
        return self._decode(key, self._stored(key)) or self._decode(key, self._legacy(key))

    def contains(self, request: ModelRequest, *, scope: str = "") -> bool:
        """Whether an entry exists for ``request`` (not whether its signature holds)."""
        key = self.key_for(request, scope=scope)
        if key in self._pending:
            return True
        return self._stored(key) is not None or self.path_for(key).is_file()

    def put(
        self,
        request: ModelRequest,
        completion: Completion,
        *,
        scope: str = "",
        key: str | None = None,
        batch: bool = False,
    ) -> bool:
        """Store a successful completion; returns whether it was stored (``batch``: queued for
        the next batch write, see the module docstring)."""
        if not completion.ok or not cacheable(request):
            return False
        key = key or self.key_for(request, scope=scope)
        body = completion.model_dump_json(exclude={"cached"}).encode("utf-8")
        entry = seal(self.secret, "completion", key, body)
        if not batch:
            return self._write([(key, entry)])
        now = time.monotonic()
        with self._lock:
            if not self._pending:
                self._pending_since = now
            self._pending[key] = entry
            due = len(self._pending) >= BATCH_SIZE or now - self._pending_since >= BATCH_AGE_S
        if due:
            self.flush()
        return True

    def flush(self) -> bool:
        """Write the queued entries in one transaction; whether they were written."""
        with self._lock:
            rows, self._pending = list(self._pending.items()), {}
        return self._write(rows) if rows else True

    def _write(self, rows: list[tuple[str, bytes]]) -> bool:
        with self._lock:
            db = self._connect(create=True)
            if db is None:
                return False
            try:
                # One transaction: durable once it returns, whole or not at all for readers.
                with db:
                    db.execute("BEGIN IMMEDIATE")
                    db.executemany("INSERT OR REPLACE INTO entries VALUES (?, ?)", rows)
            except sqlite3.Error:
                return False  # e.g. another writer held the lock for BUSY_TIMEOUT_S
        return True

    def keys(self) -> Iterator[str]:
        """Every key with an entry, in the database or the previous layout (unchecked)."""
        seen: set[str] = set()
        self.flush()
        with self._lock:
            db = self._connect(create=False)
            rows = db.execute("SELECT key FROM entries").fetchall() if db is not None else []
        for (key,) in rows:
            seen.add(key)
            yield key
        for path in sorted(self.root.glob("??/*.json")):
            if path.stem not in seen:
                yield path.stem

    def entries(self) -> Iterator[tuple[str, Completion]]:
        """Every entry that reads back as an answer (checked as ``get`` checks it), by key."""
        for key in list(self.keys()):
            hit = self._decode(key, self._stored(key)) or self._decode(key, self._legacy(key))
            if hit is not None:
                yield key, hit

    def close(self) -> None:
        """Write what is queued and close the database (SQLite folds its write-ahead log back
        into the file)."""
        self.flush()
        with self._lock:
            db, self._db = self._db, None
        if db is not None:
            with contextlib.suppress(sqlite3.Error):
                db.close()

    # -- internals ---------------------------------------------------------------------------

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        """The open database, opening (and with ``create``, making) it; None when there is
        none yet, or it cannot be used (a file that is not a database counts as empty)."""
        if self._db is not None or self._broken:
            return self._db
        path = self.db_path
        if not create and not path.exists():
            return None
        try:
            if create:
                ensure_dir(self.root)
                # Made here with its mode so SQLite never creates it under the process's umask.
                fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
                with contextlib.suppress(OSError):  # someone else's file: theirs to keep
                    if os.fstat(fd).st_size == 0:
                        os.fchmod(fd, FILE_MODE)
                os.close(fd)
            db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit is atomic and survives a killed process; only a power
            # loss can drop the last answers, which are then simply fetched again.
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute(_SCHEMA)
        except (OSError, sqlite3.Error):
            self._broken = True
            return None
        self._db = db
        return db

    def _stored(self, key: str) -> bytes | None:
        with self._lock:
            db = self._connect(create=False)
            if db is None:
                return None
            try:
                row = db.execute("SELECT entry FROM entries WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error:
                return None
        return bytes(row[0]) if row is not None else None

    def _legacy(self, key: str) -> bytes | None:
        if self._legacy_dirs is None:
            try:
                with os.scandir(self.root) as entries:
                    names = {e.name for e in entries if len(e.name) == 2 and e.is_dir()}
            except OSError:
                names = set()
            self._legacy_dirs = frozenset(names)
        if key[:2] not in self._legacy_dirs:
            return None
        try:
            return self.path_for(key).read_bytes()
        except OSError:
            return None

    def _decode(self, key: str, stored: bytes | None) -> Completion | None:
        if stored is None:
            return None
        body = unseal(self.secret, "completion", key, stored)
        if body is None:
            return None  # not written by this workflow
        try:
            completion = Completion.model_validate_json(body)
        except ValidationError:
            return None
        if not completion.ok:
            return None
        return completion.model_copy(update={"cached": True})
