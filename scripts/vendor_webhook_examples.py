"""Vendor GitHub's recorded webhook payloads that evalbot handles into tests/fixtures/webhooks/.

Source: the npm package ``@octokit/webhooks-examples`` (MIT), whose ``api.github.com/index.json``
holds example payloads recorded from github.com. Usage::

    npm pack @octokit/webhooks-examples@7.6.1 && tar xzf octokit-webhooks-examples-7.6.1.tgz
    python scripts/vendor_webhook_examples.py package/api.github.com/index.json

Writes ``<event>/<name>.json`` (one payload per file, duplicates dropped). ``pull_request``
payloads also stand for ``pull_request_target``, which GitHub sends with the same body.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

EVENTS = ("pull_request", "push", "workflow_dispatch", "merge_group", "workflow_run")
OUT = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "webhooks"


def _stem(event: str, payload: dict) -> str:
    if event == "push":
        kind = "tag" if str(payload.get("ref", "")).startswith("refs/tags/") else "branch"
        change = (
            "deleted"
            if payload.get("deleted")
            else "created"
            if payload.get("created")
            else "updated"
        )
        return f"{kind}-{change}"
    return str(payload.get("action") or event)


def main(index: str) -> int:
    entries = json.loads(Path(index).read_text(encoding="utf-8"))
    written = 0
    for entry in entries:
        if entry["name"] not in EVENTS:
            continue
        seen: set[str] = set()
        counts: dict[str, int] = {}
        for payload in entry["examples"]:
            digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            stem = _stem(entry["name"], payload)
            counts[stem] = counts.get(stem, 0) + 1
            path = OUT / entry["name"] / f"{stem}-{counts[stem]}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n", "utf-8")
            written += 1
    print(f"wrote {written} payloads under {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
