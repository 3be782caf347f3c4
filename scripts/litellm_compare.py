"""The same `evalbot diff`, directly against the loopback fake and through a real LiteLLM proxy
in front of it; prints both sets of figures, then what happens when things fail behind the proxy.

    python scripts/litellm_compare.py [--litellm PATH] [--n 40] [--latency 0.02]

LiteLLM is an optional dependency of this script only, never of evalbot: install it in a
separate virtualenv from the hash-pinned list beside this file and pass its executable::

    python -m venv /tmp/venv-litellm
    /tmp/venv-litellm/bin/pip install --require-hashes --no-deps -r scripts/litellm-requirements.txt
    python scripts/litellm_compare.py --litellm /tmp/venv-litellm/bin/litellm

The proxy only ever talks to the fake on 127.0.0.1: its config names no other host, the model
cost map is read from the package (``LITELLM_LOCAL_MODEL_COST_MAP``) and telemetry is off.

Scenarios (each a fresh cache, so every request is sent):
  ok            both sides answer; figures should match apart from latency
  unknown-model the model config names a model the proxy does not route (400 "Invalid model name")
  judge-unknown the judge model is unknown to the proxy: a blocking llm_rubric metric
  upstream-500  the upstream answers 500 to everything: calls per example, direct vs proxied, for
                evalbot's default retries and for --max-retries 0
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fakes and tests.gitrepo

import yaml  # noqa: E402

from tests.fakes.openai_server import FakeOpenAI, Reply  # noqa: E402
from tests.gitrepo import Repo  # noqa: E402

MASTER_KEY = "sk-proxy-master"
UPSTREAM_KEY = "test-key"


def _answer(body: dict) -> Reply | str:
    """Deterministic: the expected word is in the answer for 90 % of questions; the judge gives
    4 or 5. Same request, same answer, whoever relays it."""
    first = str(body["messages"][0]["content"])
    last = str(body["messages"][-1]["content"])
    if first.startswith("evalbot judge prompt rubric-steps"):
        return json.dumps({"steps": ["Check that the answer names the word asked for."]})
    if first.startswith("evalbot judge prompt rubric-score"):
        return json.dumps({"score": 4 + zlib.crc32(last.encode()) % 2, "reason": "fine"})
    word = last.rsplit(" ", 1)[-1].strip("?")
    if zlib.crc32(last.encode()) % 10 == 0:
        return "I am not sure."
    return f"The word is {word}."


def _repo(root: Path, n: int, *, model: str, judge: bool) -> Repo:
    metrics: list[dict[str, Any]] = [{"name": "said", "type": "contains", "value": "{{word}}"}]
    thresholds: dict[str, Any] = {"said": {"max_drop": 0.1}}
    config: dict[str, Any] = {"version": 1, "suites": []}
    files = {
        "prompts/q.md": "Say the word: {{word}}?\n",
        "models/m.yaml": f"provider: openai\nmodel: {model}\nparams: {{temperature: 0}}\n",
        "evals/q.jsonl": "".join(
            json.dumps({"id": f"q{i}", "word": f"w{i}"}) + "\n" for i in range(n)
        ),
    }
    if judge:
        config["judge"] = {"model": "models/judge.yaml"}
        files["models/judge.yaml"] = f"provider: openai\nmodel: {judge}\n"
        files["rubrics/r.md"] = "# Right word\n\n- 5: names it.\n- 1: does not.\n"
        metrics.append({"name": "judged", "type": "llm_rubric", "rubric": "rubrics/r.md"})
        thresholds["judged"] = {"max_drop": 0.5}
    config["suites"].append(
        {
            "name": "words",
            "prompt": "prompts/q.md",
            "model": "models/m.yaml",
            "dataset": "evals/q.jsonl",
            "metrics": metrics,
            "thresholds": thresholds,
        }
    )
    files["evalbot.yml"] = yaml.safe_dump(config, sort_keys=False)
    repo = Repo(root)
    repo.commit(files, "base")
    repo.branch("pr")
    repo.commit({"prompts/q.md": "Please say the word: {{word}}?\n"}, "reword")
    return repo


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Proxy:
    """A LiteLLM proxy on 127.0.0.1 routing ``models`` to the fake."""

    def __init__(self, litellm: str, upstream: str, models: list[str], workdir: Path) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        entry = {"api_base": upstream, "api_key": UPSTREAM_KEY}
        config = {
            "model_list": [
                {"model_name": m, "litellm_params": {"model": f"openai/{m}", **entry}}
                for m in models
            ],
            "litellm_settings": {"telemetry": False, "num_retries": 2},
            "general_settings": {"master_key": MASTER_KEY},
        }
        path = workdir / "litellm.yaml"
        path.write_text(yaml.safe_dump(config))
        env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI_")}
        env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False")
        self.log = (workdir / "litellm.log").open("w")
        self.process = subprocess.Popen(
            [litellm, "--config", str(path), "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(
                    f"litellm exited with {self.process.returncode}: see {path.parent}"
                )
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health/liveliness"):
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise SystemExit("litellm did not start within 120 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def _diff(repo: Repo, out: Path, base_url: str, key: str, *extra: str) -> dict[str, Any]:
    env = {**os.environ, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": key}
    args = [sys.executable, "-m", "evalbot", "diff", "-C", str(repo.root)]
    args += ["--base", "main", "--head", "pr", "--out", str(out), "--cache-dir", str(out / "c")]
    args += ["--quiet", *extra]
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    path = out / "results.json"
    result = json.loads(path.read_text()) if path.exists() else {}
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    return {"exit": done.returncode, "seconds": seconds, "result": result, "stderr": lines[-1:]}


_COLUMNS = ("base", "head", "delta", "p")


def _num(value: Any) -> str:
    return f"{value:.6g}" if isinstance(value, int | float) else str(value)


def _figures(run: dict[str, Any]) -> list[str]:
    result = run["result"]
    lines = [f"exit {run['exit']}, verdict {result.get('verdict')}, {run['seconds']:.1f} s wall"]
    for suite in result.get("suites", []):
        lines.append(f"suite {suite['name']}: gate {suite.get('gate')}")
        for c in suite.get("comparisons", []):
            values = [c.get(k) for k in ("base_mean", "head_mean", "delta", "p_value")]
            shown = " ".join(f"{k} {_num(v):<10}" for k, v in zip(_COLUMNS, values, strict=True))
            lines.append(f"  {c['metric']:<14} {shown} {c.get('verdict')}")
        for side in (suite.get("base"), suite.get("head")):
            if side:
                u = side["usage"]
                lines.append(
                    f"  {side['side']}: model {side['model']} served by {side.get('served_by')}, "
                    f"requests {u['requests']} sent {u['sent']} errors {u['errors']}, tokens "
                    f"{u['input_tokens']}/{u['output_tokens']}, latency p50/p95 "
                    f"{u.get('latency_p50_ms') or 0:.1f}/{u.get('latency_p95_ms') or 0:.1f} ms, "
                    f"judge requests {side['judge_usage']['requests']}, error rate "
                    f"{side['error_rate']:.0%}, judge errors {side.get('judge_errors', 0)}"
                )
        lines += [f"  note: {n}" for n in suite.get("notes", [])[:3]]
    usage = result.get("usage") or {}
    lines.append(f"run usage: sent {usage.get('sent')} errors {usage.get('errors')}")
    lines += [f"stderr: {line}" for line in run["stderr"]]
    return lines


def _same_apart_from_latency(a: dict[str, Any], b: dict[str, Any]) -> bool:
    def strip(result: dict[str, Any]) -> list[Any]:
        out = []
        for suite in result.get("suites", []):
            for c in suite.get("comparisons", []):
                if c["metric"] != "latency_ms":
                    out.append({k: c.get(k) for k in ("metric", "base_mean", "head_mean", "delta")})
            out.append(suite.get("gate"))
        return out

    return strip(a["result"]) == strip(b["result"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--litellm", default=shutil.which("litellm"), help="litellm executable")
    parser.add_argument("--n", type=int, default=40, help="examples in the ok scenario")
    parser.add_argument("--latency", type=float, default=0.02, help="fake's latency (s)")
    args = parser.parse_args()
    if not args.litellm:
        print("litellm not found: see this script's docstring for the optional install")
        return 2

    with tempfile.TemporaryDirectory() as tmp, FakeOpenAI(_answer, latency_s=args.latency) as fake:
        work = Path(tmp)
        proxy = Proxy(args.litellm, fake.base_url, ["fake-model", "judge-model"], work)
        try:
            print(f"# ok: {args.n} examples, contains + llm_rubric, both sides")
            repo = _repo(work / "ok", args.n, model="fake-model", judge="judge-model")
            runs = {}
            for name, url, key in (
                ("direct", fake.base_url, UPSTREAM_KEY),
                ("proxied", proxy.base_url, MASTER_KEY),
            ):
                fake.reset()
                runs[name] = _diff(repo, work / f"out-ok-{name}", url, key)
                print(f"## {name} (upstream requests {len(fake.requests)})")
                print("\n".join(_figures(runs[name])))
            same = _same_apart_from_latency(runs["direct"], runs["proxied"])
            print(f"same figures apart from latency: {same}\n")

            print("# unknown-model through the proxy")
            fake.reset()
            repo = _repo(work / "unknown", 20, model="gpt-typo", judge=False)
            run = _diff(repo, work / "out-unknown", proxy.base_url, MASTER_KEY)
            print("\n".join(_figures(run)) + f"\nupstream requests {len(fake.requests)}\n")

            print("# judge-unknown through the proxy (blocking llm_rubric)")
            fake.reset()
            repo = _repo(work / "judge", 20, model="fake-model", judge="judge-typo")
            run = _diff(repo, work / "out-judge", proxy.base_url, MASTER_KEY)
            print("\n".join(_figures(run)) + "\n")

            print("# upstream-500: every upstream call fails (4 examples x 2 sides)")
            fake.responder = lambda body: Reply(status=500)
            repo = _repo(work / "boom", 4, model="fake-model", judge=False)
            for name, url, key in (
                ("direct", fake.base_url, UPSTREAM_KEY),
                ("proxied", proxy.base_url, MASTER_KEY),
            ):
                for retries in ("4", "0"):
                    fake.reset()
                    out = work / f"out-boom-{name}-{retries}"
                    run = _diff(repo, out, url, key, "--max-retries", retries)
                    per = len(fake.requests) / 8
                    print(
                        f"{name}, --max-retries {retries}: exit {run['exit']}, "
                        f"{len(fake.requests)} upstream calls ({per:g} per example), "
                        f"{run['seconds']:.1f} s wall"
                    )
        finally:
            proxy.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
