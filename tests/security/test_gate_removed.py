"""Issue 8: deleting a gated suite from evalbot.yml in the PR that regresses its prompt does
not pass; deleting the suite with its prompt is a note, not a block."""

from __future__ import annotations

from pathlib import Path

from evalbot.records import SuiteStatus
from tests.security.conftest import run_action
from tests.security.gate_repo import CORRECT, PROMPT, VAGUE, config, gate_repo, golden, suite
from tests.security.test_gate_renamed import LONG

GATED = {"correct": {"max_drop": 0.02}}
OTHER = suite(
    name="other", prompt="prompts/other.md", dataset="evals/other.jsonl", metrics=[CORRECT]
)
OTHER_FILES = {"prompts/other.md": "{{n}}\n", "evals/other.jsonl": golden()}
"""A second suite with files of its own, so that the config keeps one suite."""


def test_deleting_the_suite_while_regressing_its_prompt_still_fails(tmp_path: Path):
    base = config(suite(thresholds=GATED), OTHER)
    with gate_repo(
        tmp_path, base, **{"prompts/other.md": "{{n}}\n", "evals/other.jsonl": golden()}
    ) as attack:
        ws = attack.push({"evalbot.yml": config(OTHER), "prompts/answers.md": VAGUE})
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == 1, out.log
        assert out.check["conclusion"] == "failure"
        [removed] = [s for s in out.result.suites if s.name == "answers"]
        assert removed.status == SuiteStatus.EVALUATED and removed.gate == "fail"
        assert "suite removed by this PR" in removed.triggers
        notes = " ".join(out.result.notes)
        assert "Suite answers removed by this PR: evaluated with its base definition" in notes


def test_deleting_the_suite_with_its_prompt_is_a_note(tmp_path: Path):
    base = config(suite(thresholds=GATED), OTHER)
    with gate_repo(
        tmp_path, base, **{"prompts/other.md": "{{n}}\n", "evals/other.jsonl": golden()}
    ) as attack:
        ws = attack.push({"evalbot.yml": config(OTHER), "prompts/answers.md": None})
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == 0, out.log
        assert "answers" not in [s.name for s in out.result.suites]
        assert "Suite answers removed by this PR (its prompt prompts/answers.md too)." in (
            out.result.notes
        )
        assert "Suite answers removed by this PR" in out.everything_written_or_posted()


def test_deleting_the_suite_and_moving_its_prompt_with_git_still_fails(tmp_path: Path):
    base_files = {
        "prompts/answers.md": LONG + PROMPT,
        "prompts/other.md": "{{n}}\n",
        "evals/other.jsonl": golden(),
    }
    with gate_repo(tmp_path, config(suite(thresholds=GATED), OTHER), **base_files) as attack:
        attack.repo.git("mv", "prompts/answers.md", "prompts/quiz.md")
        ws = attack.push(
            {"evalbot.yml": config(OTHER), "prompts/quiz.md": "Be vague. " + LONG + PROMPT}
        )
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == 1, out.log
        [removed] = [s for s in out.result.suites if s.name == "answers"]
        assert removed.gate == "fail"
        assert removed.head is not None and removed.head.prompt_path == "prompts/quiz.md"
        assert removed.base is not None and removed.base.prompt_path == "prompts/answers.md"


def test_deleting_the_suite_and_its_golden_set_but_not_its_prompt_is_an_error(tmp_path: Path):
    base = config(suite(thresholds=GATED), OTHER)
    with gate_repo(
        tmp_path, base, **{"prompts/other.md": "{{n}}\n", "evals/other.jsonl": golden()}
    ) as attack:
        ws = attack.push(
            {
                "evalbot.yml": config(OTHER),
                "prompts/answers.md": VAGUE,
                "evals/answers.jsonl": None,
            }
        )
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == 2, out.log
        assert out.check["conclusion"] == "failure"
        summary = out.result.summary or ""
        assert "suite answers is removed by this PR" in summary
        assert "remove the suite from the config in its own PR first" in summary
