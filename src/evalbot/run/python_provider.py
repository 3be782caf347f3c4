"""The ``python`` provider: the user's own app (``module:function``) in worker subprocesses.

Each side runs its own code: workers start in the side's directory (the work tree for head, a
temporary export of the base commit for base), so the two never import each other's modules.
A small pool of workers per (directory, target) is started lazily and reused; a worker that
times out or dies is killed and replaced on the next call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evalbot.errors import ProviderError
from evalbot.inputs.config import ModelConfig
from evalbot.records import Completion, ModelRequest
from evalbot.run.providers import (
    MAX_RESPONSE_BYTES,
    ProviderContext,
    app_payload,
    completion_from_app,
    one_line,
    register_builder,
)

__all__ = ["PythonProvider", "WorkerPool"]

log = logging.getLogger(__name__)

_MAX_WORKERS = 8
"""Cap on ``python`` provider workers per (directory, target): each is a whole interpreter with
the user's app imported."""
_STARTUP_TIMEOUT_S = 120.0
"""Importing an app (and its ML stack) can be slow; only a hang should hit this."""
_LINE_LIMIT = MAX_RESPONSE_BYTES
_TOO_LARGE = f"the answer is larger than {MAX_RESPONSE_BYTES // 2**20} MiB: not read"
"""Largest JSON line accepted from a worker (asyncio's default of 64 KiB is too small)."""


class _WorkerGone(Exception):
    pass


class _Worker:
    def __init__(self, proc: asyncio.subprocess.Process, label: str) -> None:
        self.proc = proc
        self.label = label
        self.stderr_tail: deque[str] = deque(maxlen=20)
        self._serial = 0
        self._drain = asyncio.create_task(self._read_stderr())

    @classmethod
    async def start(cls, workdir: Path, target: str, env: Mapping[str, str] | None) -> _Worker:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "evalbot.run.pyworker",
            target,
            cwd=workdir,
            env=dict(env) if env is not None else None,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=_LINE_LIMIT,
        )
        worker = cls(proc, target)
        try:
            hello = await asyncio.wait_for(worker._read(), _STARTUP_TIMEOUT_S)
        except (TimeoutError, _WorkerGone) as exc:
            await worker.kill()
            reason = "did not start in time" if isinstance(exc, TimeoutError) else str(exc)
            raise ProviderError(f"python provider: {target!r} in {workdir}: {reason}") from None
        if not hello.get("ready"):
            await worker.kill()
            raise ProviderError(
                f"python provider: cannot load {target!r} in {workdir}: {hello.get('error')}",
                hint="check 'target' in the model config (module:function, importable from "
                "the repository root)",
            )
        return worker

    async def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        async for raw in self.proc.stderr:
            line = raw.decode("utf-8", errors="replace").rstrip()
            if line:
                self.stderr_tail.append(line)
                log.debug("%s: %s", self.label, line)

    async def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        try:
            line = await self.proc.stdout.readline()
        except ValueError:  # the line is longer than the stream's limit
            raise _WorkerGone(_TOO_LARGE) from None
        if not line:
            code = await self.proc.wait()
            await asyncio.wait([self._drain], timeout=1)
            last = self.stderr_tail[-1] if self.stderr_tail else "no output on stderr"
            raise _WorkerGone(f"worker exited with code {code}: {one_line(last)}")
        try:
            return json.loads(line)
        except (ValueError, RecursionError):  # not JSON, too deep, a number too long
            raise _WorkerGone("worker wrote something other than a JSON line") from None

    async def call(self, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self._serial += 1
        line = json.dumps({"id": self._serial, "payload": payload}, default=str) + "\n"
        try:
            self.proc.stdin.write(line.encode("utf-8"))
            await self.proc.stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            raise _WorkerGone("worker exited before the request was sent") from None
        reply = await asyncio.wait_for(self._read(), timeout_s)
        if reply.get("id") != self._serial:
            raise _WorkerGone("worker protocol out of step")
        return reply

    async def stop(self, grace_s: float = 2.0) -> None:
        """Close stdin (the worker exits), then kill it if it lingers."""
        if self.proc.returncode is None and self.proc.stdin is not None:
            self.proc.stdin.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), grace_s)
        await self.kill()

    async def kill(self) -> None:
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.proc.wait()
        self._drain.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._drain


class WorkerPool:
    """Up to ``size`` workers for one (directory, target), started on demand."""

    def __init__(
        self, workdir: Path, target: str, *, size: int, env: Mapping[str, str] | None
    ) -> None:
        self.workdir = workdir
        self.target = target
        self.size = max(1, size)
        self._env = env
        self._idle: list[_Worker] = []
        self._started = 0
        self._ready = asyncio.Condition()
        self._failure: ProviderError | None = None

    async def acquire(self) -> _Worker:
        async with self._ready:
            while True:
                if self._failure is not None:
                    raise self._failure
                if self._idle:
                    return self._idle.pop()
                if self._started < self.size:
                    self._started += 1
                    break
                await self._ready.wait()
        try:
            return await _Worker.start(self.workdir, self.target, self._env)
        except ProviderError as exc:
            async with self._ready:
                self._started -= 1
                self._failure = exc  # an import error will not fix itself: fail fast
                self._ready.notify_all()
            raise

    async def release(self, worker: _Worker, *, broken: bool = False) -> None:
        if broken:
            await worker.kill()
        async with self._ready:
            if broken:
                self._started -= 1
            else:
                self._idle.append(worker)
            self._ready.notify()

    async def aclose(self) -> None:
        async with self._ready:
            idle, self._idle = self._idle, []
        await asyncio.gather(*(w.stop() for w in idle))


class PythonProvider:
    """Calls ``config.target`` with one dict per request (see ``providers.app_payload``)."""

    def __init__(self, config: ModelConfig, pool: WorkerPool) -> None:
        self.config = config
        self.scope = f"python:{config.target}"
        self._pool = pool

    async def complete(self, request: ModelRequest) -> Completion:
        timeout_s = self.config.timeout_s
        worker = await self._pool.acquire()
        start = time.perf_counter()
        broken = False
        try:
            reply = await worker.call(app_payload(request), timeout_s)
        except TimeoutError:
            broken = True
            return Completion(
                error=f"timed out after {timeout_s:g}s",
                latency_ms=(time.perf_counter() - start) * 1000,
            )
        except _WorkerGone as exc:
            broken = True
            return Completion(error=str(exc), latency_ms=(time.perf_counter() - start) * 1000)
        except BaseException:
            broken = True  # cancelled mid-call: the worker's reply would be out of step
            raise
        finally:
            await self._pool.release(worker, broken=broken)
        latency_ms = reply.get("latency_ms")
        if not reply.get("ok"):
            return Completion(error=one_line(str(reply.get("error"))), latency_ms=latency_ms)
        return completion_from_app(
            reply.get("result"),
            price=self.config.price,
            latency_ms=latency_ms,
            model=request.model,
        )

    async def aclose(self) -> None:
        # Pools are shared by every config with the same (directory, target); the runner closes
        # them.
        return None


def _build(config: ModelConfig, context: ProviderContext, workdir: Path | None) -> PythonProvider:
    assert config.target and workdir is not None
    slot = (str(workdir), config.target)
    if slot not in context.pools:
        context.pools[slot] = WorkerPool(
            workdir,
            config.target,
            size=min(context.concurrency, _MAX_WORKERS),
            env=context.code_env,
        )
    return PythonProvider(config, context.pools[slot])


register_builder("python", _build)
