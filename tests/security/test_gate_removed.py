"""Issue 8: deleting a gated suite from evalbot.yml in the PR that regresses its prompt does
not pass; deleting the suite with its prompt is a note, not a block."""

from __future__ import annotations

from pathlib import Path

from evalbot.records import SuiteStatus
from tests.security.conftest import run_action
from tests.security.gate_repo import CORRECT, VAGUE, config, gate_repo, suite

GATED = {"correct": {"max_drop": 0.02}}
OTHER = suite(name="other", prompt="prompts/other.md", metrics=[CORRECT])


def test_deleting_the_suite_while_regressing_its_prompt_still_fails(tmp_path: Path):
    base = config(suite(thresholds=GATED), OTHER)
    with gate_repo(tmp_path, base, **{"prompts/other.md": "{{n}}\n"}) as attack:
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
    with gate_repo(tmp_path, base, **{"prompts/other.md": "{{n}}\n"}) as attack:
        ws = attack.push({"evalbot.yml": config(OTHER), "prompts/answers.md": None})
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == 0, out.log
        assert "answers" not in [s.name for s in out.result.suites]
        assert "Suite answers removed by this PR (its prompt prompts/answers.md too)." in (
            out.result.notes
        )
        assert "Suite answers removed by this PR" in out.everything_written_or_posted()
