"""Main's history on a real data branch: 25 runs recorded through ``evalbot history record``
into a bare remote while a second clone writes concurrently (every write kept, no force-push),
then a PR's sparkline and the SVG trend chart rendered from it."""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from evalbot.cli import main
from evalbot.history.attach import MainHistory
from evalbot.history.store import DataBranch, GitRunner, PushConflict
from evalbot.history.trend import (
    HistoryRecord,
    append_records,
    parse_history,
    records_of,
    sparkline,
)
from evalbot.records import (
    MetricInfo,
    MetricKind,
    RunResult,
    SideRun,
    SuiteResult,
    SuiteStatus,
)
from evalbot.report.history import trend_section
from tests.gitrepo import Repo

N = 50


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, check=True
    ).stdout.strip()


def _side(passes: int, sha: str) -> SideRun:
    ids = [f"e{i}" for i in range(N)]
    return SideRun(
        side="head",
        rev="main",
        sha=sha,
        prompt_path="p.md",
        prompt_sha256="x",
        model_path="m.yaml",
        model_sha256="y",
        model="m",
        provider="openai",
        example_ids=ids,
        outputs=[[] for _ in ids],
        scores={"correct": [[1.0 if i < passes else 0.0] for i in range(N)]},
    )


def _result(run: int, passes: int) -> RunResult:
    sha = f"{run:040x}"
    suite = SuiteResult(
        name="answers",
        status=SuiteStatus.NEW,
        head=_side(passes, sha),
        metrics=[MetricInfo(name="correct", type="contains", kind=MetricKind.BINARY)],
        thresholds={"correct": {"min": 0.7, "max_drop": 0.02}},
    )
    return RunResult(
        tool_version="0.1.0",
        command="run",
        created_at="2026-12-01T00:00:00+00:00",
        finished_at=f"2026-12-{1 + run % 28:02d}T00:00:00+00:00",
        config_path="evalbot.yml",
        head_sha=sha,
        suites=[suite],
    )


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path, Path]:
    remote = tmp_path / "origin.git"
    _git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    repo = Repo(tmp_path / "a")
    repo.commit({"README.md": "app\n"}, "init")
    repo.git("remote", "add", "origin", str(remote))
    repo.git("push", "-q", "origin", "main")
    _git(tmp_path, "clone", "-q", str(remote), "b")
    for clone in (tmp_path / "a", tmp_path / "b"):
        _git(clone, "config", "user.name", "T")
        _git(clone, "config", "user.email", "t@example.com")
    return remote, tmp_path / "a", tmp_path / "b"


def test_25_runs_with_a_concurrent_writer_keep_every_record(clones, tmp_path, monkeypatch, capsys):
    remote, a, b = clones
    other = DataBranch(GitRunner(b), sleep=lambda s: None)
    other_commits: list[str] = []
    real_update = DataBranch.update
    race_next = {"now": False}

    def racing_update(self, mutate, message, *, attempts=5):
        """Every fifth run of clone a, clone b pushes a record between a's fetch and push."""

        def mutate_then_race(read):
            files = mutate(read)
            if self.git.root == a and race_next["now"]:
                race_next["now"] = False
                record = HistoryRecord(
                    suite="answers", metric="correct", value=0.5, n=N, sha="b" * 40,
                    date="2026-12-31T00:00:00+00:00", evalbot="0.1.0",
                )  # fmt: skip
                other_commits.append(
                    other.update(lambda r: append_records(r, [record]), "other writer")
                )
            return files

        return real_update(self, mutate_then_race, message, attempts=attempts)

    monkeypatch.setattr(DataBranch, "update", racing_update)
    monkeypatch.delenv("GITHUB_EVENT_NAME", raising=False)
    values = []
    for run in range(25):
        passes = 45 - (run % 7)  # a pass rate that moves between 78 % and 90 %
        values.append(passes / N)
        race_next["now"] = run % 5 == 0
        out = tmp_path / f"run{run}"
        out.mkdir()
        (out / "results.json").write_text(_result(run, passes).model_dump_json())
        assert main(["history", "record", str(out), "-C", str(a)]) == 0
    assert "written to evalbot-data" in capsys.readouterr().out
    assert len(other_commits) == 5  # five pushes lost the race and were re-applied

    tip = _git(remote, "rev-parse", "refs/heads/evalbot-data")
    for commit in other_commits:  # never force-pushed: the other writer's commits survive
        _git(remote, "merge-base", "--is-ancestor", commit, tip)
    text = _git(remote, "show", f"{tip}:history/answers.jsonl")
    records = parse_history(text)
    ours = [r for r in records if r.sha != "b" * 40]
    assert len(ours) == 25 and len(records) == 30
    assert [r.value for r in ours] == pytest.approx(values)
    first = ours[0]
    assert first.n == N and first.ci_low < first.value < first.ci_high
    assert first.evalbot == "0.1.0" and first.threshold == 0.7
    assert _git(remote, "rev-list", "--count", tip) == "30"

    # A PR reads the branch (its clone fetched it) and renders the sparkline.
    _git(b, "fetch", "-q", "origin", "evalbot-data:refs/remotes/origin/evalbot-data")
    history = MainHistory(
        store=DataBranch(GitRunner(b)), chart_base="https://github.example/octo/app/blob/x"
    )
    pr = _result(99, 30).suites[0]
    [trend] = history.with_trends(pr).trends
    assert len(trend.values) == 20 and trend.head == pytest.approx(0.6)
    line = sparkline(trend.values, trend.head)
    # 20 bars, then the head's: 60 % sits above the other writer's 50 % and below all ours.
    bars, head = line.split(" ▸")
    assert len(bars) == 20 and head == "▃"
    assert all(bar > head for bar, value in zip(bars, trend.values, strict=True) if value > 0.7)
    section = trend_section(history.with_trends(pr))
    assert line.replace(" ▸", "\u00a0▸") in section and "[SVG](https://github.example/" in section

    svg = _git(remote, "show", f"{tip}:charts/answers/correct.svg")
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    [polyline] = root.iter(f"{ns}polyline")
    assert len(polyline.get("points").split()) == 30
    assert root.find(f"{ns}polygon") is not None  # the interval band
    assert any("threshold 0.7" in (t.text or "") for t in root.iter(f"{ns}text"))
    (tmp_path / "trend.svg").write_text(svg)


def test_a_pull_request_event_only_reads(tmp_path, monkeypatch, clones):
    _, a, _ = clones
    out = tmp_path / "r"
    out.mkdir()
    (out / "results.json").write_text(_result(1, 40).model_dump_json())
    monkeypatch.setenv("GITHUB_EVENT_NAME", "pull_request_target")
    assert main(["history", "record", str(out), "-C", str(a)]) == 2
    assert _git(a, "ls-remote", "origin", "evalbot-data") == ""


def test_a_writer_that_always_loses_gives_up_without_forcing(clones):
    _, a, b = clones
    store = DataBranch(GitRunner(a), sleep=lambda s: None)
    other = DataBranch(GitRunner(b), sleep=lambda s: None)
    record = records_of(_result(1, 40))

    def always_race(read):
        other.update(lambda r: append_records(r, record), "other")
        return append_records(read, record)

    with pytest.raises(PushConflict):
        store.update(always_race, "mine", attempts=3)
