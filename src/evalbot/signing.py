"""Signed files: what evalbot stores between runs (cache entries, frozen judge steps) carries an
HMAC under a key only the workflow holds, so that a file the pull request plants or edits is
recognised and ignored.

Format: ``evalbot-mac-v1 <hex hmac>`` on the first line, then the body. The HMAC covers a kind
(``completion``, ``judge-steps``), the file's key (its name) and the body, so a valid entry cannot
be copied under another key either.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["seal", "unseal"]

_SEAL = b"evalbot-mac-v1 "


def _mac(secret: bytes, kind: str, key: str, body: bytes) -> str:
    message = b"\0".join((kind.encode(), key.encode(), body))
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def seal(secret: bytes | None, kind: str, key: str, body: bytes) -> bytes:
    """``body`` as stored: signed for (``kind``, ``key``) when there is a secret."""
    if secret is None:
        return body
    return _SEAL + _mac(secret, kind, key, body).encode() + b"\n" + body


def unseal(secret: bytes | None, kind: str, key: str, data: bytes) -> bytes | None:
    """The body of a stored entry, or None when a secret is set and the signature is missing
    or wrong. Without a secret, signed and plain entries are both read."""
    if data.startswith(_SEAL):
        header, _, body = data.partition(b"\n")
        if secret is None:
            return body
        expected = _mac(secret, kind, key, body).encode()
        return body if hmac.compare_digest(header[len(_SEAL) :], expected) else None
    return None if secret is not None else data
