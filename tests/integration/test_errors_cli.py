"""Bad input gets one line with the fix and exit 2: a python target that cannot be imported, a
misspelled metric type, ``publish`` run by hand; ``power`` never prints nan."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from evalbot.cli import main
from tests.gitrepo import Repo

CONFIG = """\
version: 1
suites:
  - name: s
    prompt: prompts/p.md
    model: models/m.yaml
    dataset: evals/d.jsonl
    metrics:
      - {name: ok, type: METRIC, value: x}
"""


def _repo(tmp_path, *, metric: str = "contains", files: dict[str, str] | None = None) -> Repo:
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "evalbot.yml": CONFIG.replace("METRIC", metric),
            "prompts/p.md": "Answer {{q}}\n",
            "models/m.yaml": "provider: python\nmodel: app\ntarget: myapp.answer:reply\n",
            "evals/d.jsonl": '{"id": "1", "q": "x"}\n',
            **(files or {}),
        },
        "init",
    )
    return repo


def _evalbot(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    return subprocess.run(
        [sys.executable, "-m", "evalbot", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_validate_catches_a_python_target_that_cannot_be_imported(tmp_path):
    repo = _repo(tmp_path)
    done = _evalbot("validate", cwd=repo.root)
    assert done.returncode == 2, done.stdout + done.stderr
    [line] = [x for x in done.stdout.splitlines() if x.startswith("error:")]
    assert line.startswith("error: models/m.yaml: module 'myapp.answer' cannot be imported")
    assert "fix: set target to module:function importable from the repository root" in line
    # The run itself stops with the reason, and no asyncio trace at shutdown.
    run = _evalbot("run", "--out", str(tmp_path / "out"), "-q", cwd=repo.root)
    assert run.returncode == 3
    assert "No module named 'myapp'" in run.stderr
    assert "Traceback" not in run.stderr and "Event loop is closed" not in run.stderr


@pytest.mark.parametrize(
    ("source", "says"),
    [
        ("def other(payload):\n    return 'x'\n", "myapp/answer.py defines no 'reply'"),
        ("def reply(payload:\n", "myapp/answer.py does not parse"),
        ("def reply(payload):\n    return 'x'\n", None),
        ("from myapp.impl import *\n", None),  # cannot tell without running it: not refused
    ],
)
def test_validate_reads_the_target_module_without_running_it(tmp_path, source, says):
    marker = tmp_path / "ran"
    # Were the module imported, it would write the marker: validate must not run user code.
    code = f"open({str(marker)!r}, 'w').close()\n{source}"
    repo = _repo(tmp_path, files={"myapp/__init__.py": "", "myapp/answer.py": code})
    done = _evalbot("validate", cwd=repo.root)
    if says is None:
        assert done.returncode == 0, done.stdout
    else:
        assert done.returncode == 2 and says in done.stdout, done.stdout
    assert not marker.exists()


def test_a_misspelled_metric_type_gets_did_you_mean(tmp_path, capsys):
    repo = _repo(
        tmp_path, metric="contians", files={"myapp/answer.py": "def reply(p):\n    return 1\n"}
    )
    assert main(["validate", "-C", str(repo.root)]) == 2
    out = capsys.readouterr().out
    assert "metric 'ok': unknown type 'contians' (fix: did you mean 'contains'?" in out


def test_publish_run_by_hand_says_so_in_plain_words(tmp_path, monkeypatch, capsys):
    for name in ("GITHUB_ACTIONS", "GITHUB_EVENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    assert main(["publish", "--results", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert "::" not in out + err  # no workflow command for a person to read
    assert err.startswith("evalbot: error: evalbot publish posts the PR comment and check")
    assert f"open {tmp_path}/comment.md" in err


def test_power_with_too_few_examples_prints_none_not_nan(capsys):
    assert main(["power", "--n", "40", "--discordance", "0.1"]) == 0
    out = capsys.readouterr().out
    assert "nan" not in out.lower() and "none" in out
