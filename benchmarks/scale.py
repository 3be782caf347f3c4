"""A large golden set, one process vs a sharded run: wall time, peak RSS and file sizes.

    python benchmarks/scale.py [--n 20000] [--shards 8] [--concurrency 64]

Builds a git repository with one suite of N examples (a prompt change between base and head),
then runs, each as its own ``evalbot`` process against the loopback OpenAI fake (latency 0, in
a child process, as a real endpoint is on another machine):

1. ``evalbot diff`` unsharded, fresh cache (N x 2 requests);
2. ``evalbot diff --shard K/S`` for K = 1..S, each from a copy of that cache (the rerun of an
   unchanged PR: 0 requests), then ``evalbot merge`` of the S results;
3. ``evalbot publish --results`` of the merged results through the loopback GitHub fake.

Peak RSS is each child's own ``ru_maxrss`` (``os.wait4``). The merged verdict and comparisons
are checked against the unsharded run. File sizes are those of every file in ``--out``:
results.json and, since format 2, the per-example outputs.jsonl.gz next to it.

To measure another checkout of evalbot (a "before"), run this script with
``PYTHONPATH=<that checkout>/src``: the evalbot children and the in-process publish use it.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.fakes

from tests.fakes.github_server import FakeGitHub  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402
from tests.gitrepo import Repo  # noqa: E402


def _serve(urls: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    with FakeOpenAI(latency_s=0.0) as fake:
        urls.put(fake.base_url)
        stop.wait()


def _prompt(system: str) -> str:
    user = {"role": "user", "content": "Question {{n}}: what is {{expected}}?"}
    return yaml.safe_dump({"messages": [{"role": "system", "content": system}, user]})


def _repo(root: Path, n: int) -> Repo:
    config = {
        "version": 1,
        "suites": [
            {
                "name": "big",
                "prompt": "prompts/big.yaml",
                "model": "models/m.yaml",
                "dataset": "evals/big.jsonl",
                "metrics": [{"name": "correct", "type": "contains", "value": "{{expected}}"}],
                "thresholds": {"correct": {"max_drop": 0.01}},
            }
        ],
    }
    rows = (json.dumps({"id": f"ex-{i}", "n": i, "expected": f"w{i}"}) for i in range(n))
    repo = Repo(root)
    repo.commit(
        {
            "evalbot.yml": yaml.safe_dump(config, sort_keys=False),
            "models/m.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0}\n",
            "prompts/big.yaml": _prompt("You answer."),
            "evals/big.jsonl": "\n".join(rows) + "\n",
        },
        "base",
    )
    repo.branch("pr")
    repo.commit({"prompts/big.yaml": _prompt("You answer, briefly.")}, "prompt")
    return repo


def _run(argv: list[str], env: dict[str, str]) -> tuple[int, float, float, float]:
    """Exit code, wall seconds, peak RSS (MiB) and CPU seconds (user + system) of one evalbot
    process. On a shared machine CPU time is the steadier figure: wall grows with the load."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalbot", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"evalbot {' '.join(argv)} exited {code}: {err.strip()}")
    return code, wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime


def _sizes(directory: Path) -> str:
    files = sorted(p for p in directory.iterdir() if p.is_file())
    return ", ".join(f"{p.name} {p.stat().st_size / 2**20:.2f} MiB" for p in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()

    urls: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(urls, stop), daemon=True)
    server.start()
    base_url = urls.get(timeout=30)
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            repo = _repo(tmp / "repo", args.n)
            env = {
                **os.environ,
                "OPENAI_BASE_URL": base_url,
                "OPENAI_API_KEY": "test-key",
                "EVALBOT_CACHE_SECRET": "bench",
            }
            common = ["-C", str(repo.root), "--base", "main", "--head", "pr", "-q"]
            common += ["--concurrency", str(args.concurrency)]
            print(f"{args.n:,} examples x 2 sides, latency 0, concurrency {args.concurrency}")

            whole = tmp / "whole"
            cache = tmp / "cache"
            argv = ["diff", *common, "--out", str(whole), "--cache-dir", str(cache)]
            _, wall, rss, cpu = _run(argv, env)
            print(
                f"one process:  wall {wall:6.1f} s  CPU {cpu:6.1f} s  peak RSS {rss:6.0f} MiB  "
                f"{_sizes(whole)}"
            )

            dirs = []
            walls, peaks, cpus = [], [], []
            for k in range(1, args.shards + 1):
                out, shard_cache = tmp / f"shard-{k}", tmp / f"cache-{k}"
                shutil.copytree(cache, shard_cache)
                argv = ["diff", *common, "--out", str(out), "--cache-dir", str(shard_cache)]
                _, wall, rss, cpu = _run([*argv, "--shard", f"{k}/{args.shards}"], env)
                walls.append(wall)
                cpus.append(cpu)
                peaks.append(rss)
                dirs.append(str(out))
            print(
                f"{args.shards} shards (warm cache, run one after the other): wall max "
                f"{max(walls):.1f} s, sum {sum(walls):.1f} s; CPU max {max(cpus):.1f} s; "
                f"peak RSS max {max(peaks):.0f} MiB;"
                f" shard 1: {_sizes(Path(dirs[0]))}"
            )
            merged = tmp / "merged"
            _, wall, rss, cpu = _run(["merge", *dirs, "--out", str(merged)], env)
            print(
                f"merge:        wall {wall:6.1f} s  CPU {cpu:6.1f} s  peak RSS {rss:6.0f} MiB  "
                f"{_sizes(merged)}"
            )

            a = json.loads((whole / "results.json").read_text())["suites"][0]["comparisons"]
            b = json.loads((merged / "results.json").read_text())["suites"][0]["comparisons"]
            print(f"merged comparisons identical to the unsharded run: {a == b}")
            import evalbot

            print(f"evalbot from {Path(evalbot.__file__).parent}")

            _publish(merged, repo)
    finally:
        stop.set()
        server.join(timeout=10)


def _publish(merged: Path, repo: Repo) -> None:
    from evalbot.github import publish
    from evalbot.github.client import make_github

    head, base = repo.git("rev-parse", "pr"), repo.git("rev-parse", "main")
    with FakeGitHub() as gh, tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        gh.add_repo("octo/app")
        gh.add_pull("octo/app", 7, head_sha=head, base_sha=base)
        pull = {"sha": head, "ref": "pr", "repo": {"full_name": "octo/app"}}
        event = {
            "action": "synchronize",
            "number": 7,
            "pull_request": {
                "number": 7,
                "head": pull,
                "base": {"sha": base, "ref": "main", "repo": {"full_name": "octo/app"}},
            },
            "repository": {"full_name": "octo/app", "default_branch": "main"},
        }
        (tmp / "event.json").write_text(json.dumps(event))
        env = {
            "GITHUB_EVENT_NAME": "pull_request",
            "GITHUB_EVENT_PATH": str(tmp / "event.json"),
            "GITHUB_REPOSITORY": "octo/app",
            "GITHUB_WORKSPACE": str(tmp),
            "GITHUB_API_URL": gh.url,
            "GITHUB_OUTPUT": str(tmp / "output.txt"),
            "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
            "INPUT_GITHUB-TOKEN": "ghs_bench",
        }
        start, cpu = time.perf_counter(), time.process_time()
        code = publish.publish_command(
            merged,
            env=env,
            stdout=io.StringIO(),
            github_factory=lambda t, u: make_github(t, u, throttle=False, retry=False),
        )
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        body = gh.comments_on("octo/app", 7)[0]["body"]
        print(
            f"publish:      wall {wall:6.1f} s  CPU {cpu:6.1f} s (this process, the GitHub fake "
            f"included)  exit {code}  comment {len(body):,} chars"
        )


if __name__ == "__main__":
    main()
