"""``python -m evalbot.fake_openai``: the tests' OpenAI-compatible fake, run on its own, is enough
to try evalbot on a project without a key (README, "Try it without a key")."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.gitrepo import Repo

CONFIG = """\
version: 1
suites:
  - name: support
    prompt: prompts/support.md
    model: models/m.yaml
    dataset: evals/support.jsonl
    metrics:
      - {name: echoed, type: contains, value: "{{question}}"}
"""


def _repo(tmp_path) -> Repo:
    repo = Repo(tmp_path / "repo")
    rows = "".join(json.dumps({"id": f"q{i}", "question": f"q{i}"}) + "\n" for i in range(5))
    repo.commit(
        {
            "evalbot.yml": CONFIG,
            "prompts/support.md": "Answer: {{question}}\n",
            "models/m.yaml": "provider: openai\nmodel: gpt-4o-mini\n",
            "evals/support.jsonl": rows,
        },
        "base",
    )
    return repo


def test_the_fake_runs_standalone_and_evalbot_runs_against_it(tmp_path):
    server = subprocess.Popen(
        [sys.executable, "-m", "evalbot.fake_openai", "--port", "0", "--latency", "0.01"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        first = server.stdout.readline()
        assert "demo/test fake, not a model" in first, first
        base_url = first.rsplit(" at ", 1)[1].strip()
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1")
        repo = _repo(tmp_path)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
        env.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY="fake")
        args = ["run", "-C", str(repo.root), "--out", str(tmp_path / "out")]
        done = subprocess.run(
            [sys.executable, "-m", "evalbot", *args, "--cache-dir", str(tmp_path / "cache")],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        result = json.loads((tmp_path / "out" / "results.json").read_text())
        assert result["usage"]["sent"] == 5
        # The fake echoes the prompt, so `echoed` passes on every example.
        assert "echoed         100.0%" in done.stdout, done.stdout
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_fake_says_what_it_is_in_its_help():
    done = subprocess.run(
        [sys.executable, "-m", "evalbot.fake_openai", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "a demo and test fake, not a model" in text
    for option in ("--port", "--latency", "--error-rate", "--rate-limit-rate", "--api-key"):
        assert option in text
    assert "(default: 8000)" in text
