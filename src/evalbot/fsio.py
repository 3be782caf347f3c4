"""Every file evalbot writes goes through here: atomic, and readable by the steps that follow.

In the Action, evalbot runs as root inside the container while the workflow's later steps
(``actions/upload-artifact``, ``actions/cache``) run as the runner's user (uid 1001). A file made
by ``tempfile.mkstemp`` is 0600 and would be unreadable to them, so files get mode 0644 and the
directories evalbot creates 0755, set explicitly rather than left to whatever umask the
container has. Nothing evalbot writes is secret (results are scrubbed before they are written).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["DIR_MODE", "FILE_MODE", "append_text", "ensure_dir", "open_atomic", "write_atomic"]

FILE_MODE = 0o644
DIR_MODE = 0o755


def ensure_dir(path: Path) -> Path:
    """``mkdir -p`` whose new directories are 0755 whatever the umask; existing ones untouched."""
    path = Path(path)
    missing: list[Path] = []
    probe = path
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    path.mkdir(parents=True, exist_ok=True)
    for made in reversed(missing):
        with contextlib.suppress(OSError):  # made concurrently by someone else: theirs to keep
            os.chmod(made, DIR_MODE)
    return path


def write_atomic(path: Path, data: str | bytes, *, fsync: bool = False) -> None:
    """Write ``data`` next to ``path``, make it 0644, then rename it over ``path``.

    A reader (another task, shard or CI job) only ever sees a whole file, and the mode is set
    before the rename, so there is no moment at which the file exists but cannot be read.
    Text is written as UTF-8 with the newlines given. ``fsync`` also flushes it to the disk
    (the ``--out`` files; cache entries skip it, there are thousands and they can be re-fetched).
    """
    payload = data.encode("utf-8") if isinstance(data, str) else data
    with open_atomic(Path(path), fsync=fsync) as handle:
        handle.write(payload)


@contextlib.contextmanager
def open_atomic(path: Path, *, fsync: bool = False) -> Iterator[BinaryIO]:
    """``write_atomic`` for data written in pieces (a stream too large to hold in memory): a
    binary handle on a temporary file next to ``path``, made 0644 and renamed over ``path``
    when the block ends without an error (removed otherwise)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[:24]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if fsync:
                os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def append_text(path: Path, text: str) -> None:
    """Append UTF-8 text (``GITHUB_OUTPUT``, the job summary); a file this creates is 0644."""
    existed = os.path.exists(path)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    with os.fdopen(fd, "ab") as handle:
        if not existed:  # the runner's own files keep their mode
            os.fchmod(handle.fileno(), FILE_MODE)
        handle.write(text.encode("utf-8"))
