"""The ``exec`` provider: one run of ``config.command`` per request, in the side's directory.

The command reads the request object (see ``providers.app_payload``) as JSON on stdin and writes
either JSON ``{"output": ..., "input_tokens"?: ..., "output_tokens"?: ..., "cost_usd"?: ...}``
or plain text on stdout. A non-zero exit becomes an errored completion carrying the last line
of stderr.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Mapping
from pathlib import Path

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
    too_large,
)

__all__ = ["ExecProvider"]


def _last_line(data: bytes) -> str:
    lines = [ln.strip() for ln in data.decode("utf-8", errors="replace").splitlines()]
    return next((ln for ln in reversed(lines) if ln), "")


async def _kill_group(proc: asyncio.subprocess.Process) -> None:
    # The command may be a shell script with children holding the pipes open: kill the whole
    # process group it leads (it was started in a new session).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # pragma: no cover - not POSIX
            proc.kill()
    await proc.wait()


class _TooLarge(Exception):
    pass


async def _read_capped(stream: asyncio.StreamReader, *, tail: bool = False) -> bytes:
    """All of ``stream``, or ``_TooLarge`` past ``MAX_RESPONSE_BYTES``; with ``tail`` the
    last ``MAX_RESPONSE_BYTES`` are kept instead (stderr, for the error message)."""
    data = bytearray()
    while chunk := await stream.read(64 * 1024):
        data += chunk
        if len(data) > MAX_RESPONSE_BYTES:
            if not tail:
                raise _TooLarge
            del data[:-MAX_RESPONSE_BYTES]
    return bytes(data)


async def _communicate(proc: asyncio.subprocess.Process, data: bytes) -> tuple[bytes, bytes]:
    """``proc.communicate(data)`` with stdout capped (communicate buffers it all in memory)."""
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    out = asyncio.ensure_future(_read_capped(proc.stdout))
    err = asyncio.ensure_future(_read_capped(proc.stderr, tail=True))
    try:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.write(data)
            await proc.stdin.drain()
        proc.stdin.close()
        result = await out, await err
        await proc.wait()
        return result
    finally:
        for task in (out, err):
            task.cancel()


class ExecProvider:
    """Runs ``config.command`` with ``cwd=workdir`` for every request."""

    def __init__(self, config: ModelConfig, workdir: Path, env: Mapping[str, str] | None) -> None:
        assert config.command
        self.config = config
        self.command = list(config.command)
        self.workdir = workdir
        self.scope = "exec:" + json.dumps(self.command)
        self._env = dict(env) if env is not None else None

    async def complete(self, request: ModelRequest) -> Completion:
        data = json.dumps(app_payload(request), ensure_ascii=False, default=str).encode("utf-8")
        start = time.perf_counter()
        try:
            proc = await asyncio.create_subprocess_exec(
                *self.command,
                cwd=self.workdir,
                env=self._env,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
            )
        except (FileNotFoundError, PermissionError) as exc:
            reason = "not found" if isinstance(exc, FileNotFoundError) else "not executable"
            raise ProviderError(
                f"exec provider: command {self.command[0]!r} {reason} (cwd {self.workdir})",
                hint="check 'command' in the model config",
            ) from None
        try:
            out, err = await asyncio.wait_for(_communicate(proc, data), self.config.timeout_s)
        except _TooLarge:
            await _kill_group(proc)
            return too_large((time.perf_counter() - start) * 1000)
        except TimeoutError:
            await _kill_group(proc)
            return Completion(
                error=f"timed out after {self.config.timeout_s:g}s",
                latency_ms=(time.perf_counter() - start) * 1000,
            )
        except BaseException:
            await _kill_group(proc)
            raise
        latency_ms = (time.perf_counter() - start) * 1000
        if proc.returncode != 0:
            reason = one_line(_last_line(err)) or f"exit code {proc.returncode}"
            return Completion(error=reason, latency_ms=latency_ms)
        text = out.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or JSON evalbot will not decode
            parsed = None
        if isinstance(parsed, dict) and "output" in parsed:
            return completion_from_app(
                parsed, price=self.config.price, latency_ms=latency_ms, model=request.model
            )
        return Completion(
            text=text.removesuffix("\n").removesuffix("\r"),
            latency_ms=latency_ms,
            response_model=request.model or None,
        )

    async def aclose(self) -> None:
        return None


def _build(config: ModelConfig, context: ProviderContext, workdir: Path | None) -> ExecProvider:
    assert workdir is not None
    return ExecProvider(config, workdir, context.code_env)


register_builder("exec", _build)
