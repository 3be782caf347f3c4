"""``python`` (worker subprocesses) and ``exec`` providers, on apps written to a temp dir."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from evalbot.errors import CacheMissError, ProviderError
from evalbot.inputs.config import ModelConfig
from evalbot.records import Completion
from evalbot.run.cache import ResponseCache
from evalbot.run.runner import ModelRunner, build_request
from tests.run.helpers import run, user

APP = """
import asyncio, os

def answer(req):
    print("stdout noise must not break the protocol")
    return req["prompt"].upper()

async def answer_async(req):
    await asyncio.sleep(0.01)
    return {"output": f"{req['vars']['name']}:{req['sample']}", "input_tokens": 7,
            "output_tokens": 2, "cost_usd": 0.001}

def rich(req):
    return {"output": req["model"] + "|" + str(req["params"].get("temperature")),
            "input_tokens": 1000, "output_tokens": 1000}

def fails(req):
    raise ValueError("bad input: " + req["prompt"])

def wrong_type(req):
    return 42

def slow(req):
    import time
    time.sleep(float(req["vars"].get("sleep", 5)))
    return "slow"

def where(req):
    return os.getcwd() + "|" + VERSION

def dies(req):
    import sys
    sys.stderr.write("fatal: out of memory\\n")
    os._exit(3)

VERSION = "{version}"
"""


def _app(root: Path, version: str = "head") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "myapp.py").write_text(APP.replace("{version}", version))
    return root


def _py(target: str, **fields: object) -> ModelConfig:
    return ModelConfig.model_validate({"provider": "python", "target": f"myapp:{target}", **fields})


async def _call(
    runner: ModelRunner, cfg: ModelConfig, workdir: Path, text: str = "hi", **kw: object
) -> Completion:
    return await runner.complete(cfg, build_request(cfg, user(text), **kw), workdir=workdir)


def test_python__sync_function_gets_payload(tmp_path: Path) -> None:
    workdir = _app(tmp_path / "head")

    async def go() -> Completion:
        runner = ModelRunner()
        try:
            return await _call(runner, _py("answer"), workdir, "make me loud")
        finally:
            await runner.aclose()

    done = run(go())
    assert done.text == "MAKE ME LOUD" and done.ok
    assert done.latency_ms is not None


def test_python__async_function_and_dict_return(tmp_path: Path) -> None:
    workdir = _app(tmp_path / "head")

    async def go() -> Completion:
        runner = ModelRunner()
        try:
            cfg = _py("answer_async")
            return await _call(runner, cfg, workdir, vars={"name": "ada"}, sample=2)
        finally:
            await runner.aclose()

    done = run(go())
    assert (done.text, done.input_tokens, done.output_tokens) == ("ada:2", 7, 2)
    assert done.cost_usd == pytest.approx(0.001)


def test_python__model_params_and_price(tmp_path: Path) -> None:
    workdir = _app(tmp_path / "head")
    cfg = _py("rich", model="gpt-4o", params={"temperature": 0.3}, price={"input": 1, "output": 2})

    async def go() -> Completion:
        runner = ModelRunner()
        try:
            return await _call(runner, cfg, workdir)
        finally:
            await runner.aclose()

    done = run(go())
    assert done.text == "gpt-4o|0.3"
    assert done.cost_usd == pytest.approx(0.003)


def test_python__exceptions_become_errored_completions(tmp_path: Path) -> None:
    workdir = _app(tmp_path / "head")

    async def go() -> tuple[Completion, Completion, Completion]:
        runner = ModelRunner(concurrency=1)  # one worker: it must survive the errors
        try:
            bad = await _call(runner, _py("fails"), workdir, "x1")
            odd = await _call(runner, _py("wrong_type"), workdir)
            fine = await _call(runner, _py("answer"), workdir, "still here")
            return bad, odd, fine
        finally:
            await runner.aclose()

    bad, odd, fine = run(go())
    assert bad.error == "ValueError: bad input: x1"
    assert odd.error is not None and odd.error.startswith("TypeError: the app returned int")
    assert fine.text == "STILL HERE"


def test_python__timeout_kills_worker_and_recovers(tmp_path: Path) -> None:
    workdir = _app(tmp_path / "head")
    cfg = _py("slow", timeout_s=0.3)

    async def go() -> tuple[Completion, Completion]:
        runner = ModelRunner(concurrency=1)
        try:
            late = await _call(runner, cfg, workdir, vars={"sleep": 5})
            quick = await _call(runner, cfg, workdir, vars={"sleep": 0})
            return late, quick
        finally:
            await runner.aclose()

    late, quick = run(go())
    assert late.error == "timed out after 0.3s"
    assert quick.text == "slow"


def test_python__crashed_worker_reports_stderr_and_is_replaced(tmp_path: Path) -> None:
    workdir = _app(tmp_path / "head")

    async def go() -> tuple[Completion, Completion]:
        runner = ModelRunner(concurrency=1)
        try:
            dead = await _call(runner, _py("dies"), workdir)
            alive = await _call(runner, _py("answer"), workdir, "ok")
            return dead, alive
        finally:
            await runner.aclose()

    dead, alive = run(go())
    assert dead.error == "worker exited with code 3: fatal: out of memory"
    assert alive.text == "OK"


def test_python__import_failure_is_a_provider_error(tmp_path: Path) -> None:
    workdir = _app(tmp_path / "head")

    async def go() -> None:
        runner = ModelRunner()
        try:
            await _call(runner, _py("missing_function"), workdir)
        finally:
            await runner.aclose()

    with pytest.raises(ProviderError, match=r"cannot load 'myapp:missing_function'.*Attribute"):
        run(go())


def test_python__each_side_runs_its_own_code(tmp_path: Path) -> None:
    base, head = _app(tmp_path / "base", "v1"), _app(tmp_path / "head", "v2")
    cfg = _py("where")

    async def go() -> list[Completion]:
        runner = ModelRunner()
        try:
            return await asyncio.gather(
                _call(runner, cfg, base, code_version="tree-base"),
                _call(runner, cfg, head, code_version="tree-head"),
            )
        finally:
            await runner.aclose()

    on_base, on_head = run(go())
    assert on_base.text == f"{base.resolve()}|v1"
    assert on_head.text == f"{head.resolve()}|v2"


def test_python__cached_by_code_version_not_when_dirty(tmp_path: Path) -> None:
    workdir = _app(tmp_path / "head")
    cache = ResponseCache(tmp_path / "cache")
    cfg = _py("answer")

    async def go(code_version: str | None, offline: bool = False) -> Completion:
        runner = ModelRunner(cache=cache, offline=offline)
        try:
            return await _call(runner, cfg, workdir, code_version=code_version)
        finally:
            await runner.aclose()

    assert not run(go("tree1")).cached
    assert run(go("tree1", offline=True)).cached
    assert not run(go(None)).cached
    with pytest.raises(CacheMissError, match="uncommitted work tree"):
        run(go(None, offline=True))


def test_python__pool_runs_calls_in_parallel(tmp_path: Path) -> None:
    workdir = _app(tmp_path / "head")
    cfg = _py("slow")

    async def go() -> float:
        runner = ModelRunner(concurrency=4)
        try:
            warm = [_call(runner, cfg, workdir, f"w{i}", vars={"sleep": 0.05}) for i in range(4)]
            await asyncio.gather(*warm)  # four workers started, out of the timing
            loop = asyncio.get_running_loop()
            start = loop.time()
            await asyncio.gather(
                *(_call(runner, cfg, workdir, f"q{i}", vars={"sleep": 0.3}) for i in range(4))
            )
            return loop.time() - start
        finally:
            await runner.aclose()

    assert run(go()) < 0.9  # serial would take 1.2 s


EXEC_SCRIPT = """
import json, sys
req = json.load(sys.stdin)
mode = req["vars"].get("mode", "text")
if mode == "json":
    print(json.dumps({"output": req["prompt"][::-1], "output_tokens": 3}))
elif mode == "fail":
    print("partial output")
    sys.stderr.write("warming up\\nerror: model exploded\\n")
    sys.exit(2)
elif mode == "hang":
    import time; time.sleep(10)
else:
    print("plain " + req["prompt"] + " " + str(req["sample"]))
"""


def _exec_app(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "tool.py").write_text(EXEC_SCRIPT)
    return root


def _exec(**fields: object) -> ModelConfig:
    return ModelConfig.model_validate(
        {"provider": "exec", "command": [sys.executable, "tool.py"], **fields}
    )


def _exec_call(workdir: Path, cfg: ModelConfig, **kw: object) -> Completion:
    async def go() -> Completion:
        runner = ModelRunner()
        try:
            return await _call(runner, cfg, workdir, "abc", **kw)
        finally:
            await runner.aclose()

    return run(go())


def test_exec__plain_text_stdout(tmp_path: Path) -> None:
    done = _exec_call(_exec_app(tmp_path), _exec(), sample=1)
    assert done.text == "plain abc 1"


def test_exec__json_stdout(tmp_path: Path) -> None:
    done = _exec_call(_exec_app(tmp_path), _exec(), vars={"mode": "json"})
    assert (done.text, done.output_tokens) == ("cba", 3)


def test_exec__nonzero_exit_reports_last_stderr_line(tmp_path: Path) -> None:
    done = _exec_call(_exec_app(tmp_path), _exec(), vars={"mode": "fail"})
    assert done.error == "error: model exploded"


def test_exec__timeout(tmp_path: Path) -> None:
    done = _exec_call(_exec_app(tmp_path), _exec(timeout_s=0.3), vars={"mode": "hang"})
    assert done.error == "timed out after 0.3s"


def test_exec__missing_command_is_a_provider_error(tmp_path: Path) -> None:
    cfg = ModelConfig.model_validate({"provider": "exec", "command": ["./no-such-tool"]})
    with pytest.raises(ProviderError, match=r"'\./no-such-tool' not found"):
        _exec_call(tmp_path, cfg)


def test_mock__echoes_or_replies(tmp_path: Path) -> None:
    echo = ModelConfig.model_validate({"provider": "mock", "model": "dry"})
    fixed = ModelConfig.model_validate(
        {"provider": "mock", "model": "dry", "params": {"reply": "canned"}}
    )

    async def go() -> list[Completion]:
        runner = ModelRunner(cache=ResponseCache(tmp_path), offline=True)
        try:
            return [
                await runner.complete(echo, build_request(echo, user("echo me"))),
                await runner.complete(fixed, build_request(fixed, user("ignored"))),
            ]
        finally:
            await runner.aclose()

    a, b = run(go())
    assert (a.text, b.text) == ("echo me", "canned")
    assert not any(ResponseCache(tmp_path).keys())  # offline works, nothing recorded


def test_exec_payload_is_the_python_payload(tmp_path: Path) -> None:
    (tmp_path / "dump.py").write_text("import sys; sys.stdout.write(sys.stdin.read())")
    command = [sys.executable, "dump.py"]
    cfg = ModelConfig.model_validate(
        {"provider": "exec", "command": command, "model": "m", "params": {"a": 1}}
    )
    done = _exec_call(tmp_path, cfg, vars={"v": 1}, sample=2)
    payload = json.loads(done.text or "")
    assert payload == {
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "abc"},
        ],
        "prompt": "abc",
        "vars": {"v": 1},
        "params": {"a": 1},
        "model": "m",
        "sample": 2,
    }
