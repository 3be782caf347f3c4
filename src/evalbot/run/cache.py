"""Content-addressed on-disk cache of completions, shared by the base and head sides.

Layout: ``root/<key[:2]>/<key>.json``, each file one ``Completion`` (without ``cached``). Writes
go through ``evalbot.fsio.write_atomic`` (a temporary file in the same directory renamed into
place, mode 0644 so the runner's ``actions/cache`` step can read it), so concurrent writers and
readers — other tasks, other shards, a parallel CI job on a
shared cache directory — only ever see a whole file.

Trust: anyone can compute a key, so an entry proves nothing by its name. With a ``secret`` (the
action always has one, from the workflow's side) every entry is written as a signed envelope,
``evalbot-mac-v1 <hmac>`` on the first line, then the completion; the HMAC covers the key and the
body. A file without a valid signature for its own key (planted in the repository, copied from
another key, edited in a restored cache) is a miss. Without a secret (the CLI on a developer's
machine) plain files, such as the recorded answers of the shipped example, are read as before.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from evalbot.fsio import ensure_dir, write_atomic
from evalbot.records import Completion, ModelRequest
from evalbot.run.providers import provider_spec
from evalbot.signing import seal, unseal

__all__ = ["CACHE_FORMAT", "ResponseCache", "cacheable", "request_key"]

CACHE_FORMAT = 1
"""Bumped when the key's recipe changes, so old entries are simply never found again."""


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
    """Completions on disk, keyed by ``request_key``. Errored completions are never stored."""

    def __init__(self, root: Path, *, secret: bytes | None = None) -> None:
        self.root = Path(root)
        self.secret = secret
        self._made: set[Path] = set()

    def key_for(self, request: ModelRequest, *, scope: str = "") -> str:
        return request_key(request, scope=scope)

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, request: ModelRequest, *, scope: str = "") -> Completion | None:
        """The recorded completion (with ``cached=True``), or None on a miss.

        An unreadable or malformed entry counts as a miss; the next ``put`` replaces it.
        """
        if not cacheable(request):
            return None
        key = self.key_for(request, scope=scope)
        try:
            body = unseal(self.secret, "completion", key, self.path_for(key).read_bytes())
            if body is None:
                return None  # not written by this workflow
            completion = Completion.model_validate_json(body)
        except (OSError, ValidationError):
            return None
        if not completion.ok:
            return None
        return completion.model_copy(update={"cached": True})

    def put(self, request: ModelRequest, completion: Completion, *, scope: str = "") -> bool:
        """Store a successful completion; returns whether it was stored."""
        if not completion.ok or not cacheable(request):
            return False
        key = self.key_for(request, scope=scope)
        path = self.path_for(key)
        if path.parent not in self._made:
            ensure_dir(path.parent)
            self._made.add(path.parent)
        body = completion.model_dump_json(exclude={"cached"}).encode("utf-8")
        write_atomic(path, seal(self.secret, "completion", key, body))
        return True
