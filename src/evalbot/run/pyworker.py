"""Worker process of the ``python`` provider: ``python -m evalbot.run.pyworker module:function``.

Started with the side's directory as working directory (and ``sys.path[0]``), it imports the
user's function once, then answers requests speaking JSON lines:

- first line out: ``{"ready": true}`` or ``{"ready": false, "error": "Type: message"}``;
- in: ``{"id": n, "payload": {...}}``; out: ``{"id": n, "ok": true, "result": ..., "latency_ms":
  ...}`` or ``{"id": n, "ok": false, "error": "Type: message", "latency_ms": ...}``.

The function gets the payload dict and returns a str or a dict with ``output``; async functions
run on one event loop kept for the worker's lifetime (so an app's async clients survive between
calls). Whatever the user's code prints goes to stderr: stdout carries the protocol only.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable
from typing import IO, Any

__all__ = ["load_target", "main"]


def load_target(target: str) -> Callable[[dict[str, Any]], Any]:
    """Import ``package.module:function`` (the function may be a dotted attribute path)."""
    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise ValueError(f"target {target!r} is not 'module:function'")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{target} is not callable")
    return obj


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    message = text[0] if text else ""
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


async def _wait(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def _send(channel: IO[str], message: dict[str, Any]) -> None:
    channel.write(json.dumps(message, ensure_ascii=False, default=str) + "\n")
    channel.flush()


def _serve(fn: Callable[[dict[str, Any]], Any], channel: IO[str], loop: asyncio.Runner) -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        message = json.loads(line)
        start = time.perf_counter()
        try:
            value = fn(message["payload"])
            if inspect.isawaitable(value):
                value = loop.run(_wait(value))
            json.dumps(value, default=str)  # fail here, as the app's error, not in _send
            reply = {"id": message["id"], "ok": True, "result": value}
        except (Exception, SystemExit) as exc:  # the user's code: report, keep serving
            reply = {"id": message["id"], "ok": False, "error": _describe(exc)}
        reply["latency_ms"] = (time.perf_counter() - start) * 1000
        _send(channel, reply)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m evalbot.run.pyworker module:function", file=sys.stderr)
        return 2
    # Keep the real stdout for the protocol, then point fd 1 (and sys.stdout) at stderr so that
    # prints, C extensions and child processes cannot corrupt it.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    workdir = os.getcwd()
    if not sys.path or os.path.abspath(sys.path[0] or ".") != workdir:
        sys.path.insert(0, workdir)
    try:
        fn = load_target(args[0])
    except BaseException as exc:  # the user's import failed: tell the parent, then stop
        _send(channel, {"ready": False, "error": _describe(exc)})
        return 1
    _send(channel, {"ready": True})
    with asyncio.Runner() as loop:
        _serve(fn, channel, loop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
