"""Issue 8: renaming a suite (in evalbot.yml, or its prompt file with git) does not make it
"new", which would judge it by absolute thresholds only and let a regression through."""

from __future__ import annotations

from pathlib import Path

from evalbot.records import SuiteStatus
from tests.security.conftest import MODEL, run_action
from tests.security.gate_repo import PROMPT, VAGUE, config, gate_repo, suite

GATED = {"correct": {"max_drop": 0.02}}
LONG = "".join(f"Rule {i}: answer the quiz question in one short sentence.\n" for i in range(8))
"""A longer prompt, so that git still sees the edited file as renamed."""


def _comparison(out, name: str, metric: str = "correct"):
    [result] = [s for s in out.result.suites if s.name == name]
    return result, next(c for c in result.comparisons if c.metric == metric)


def test_a_suite_renamed_in_the_config_is_compared_with_its_base_definition(tmp_path: Path):
    with gate_repo(tmp_path, config(suite(thresholds=GATED))) as attack:
        loose = suite(name="answers-v2", thresholds={"correct": {"max_drop": 0.9}})
        ws = attack.push({"evalbot.yml": config(loose), "prompts/answers.md": VAGUE})
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == 1, out.log
        assert out.check["conclusion"] == "failure"
        renamed, correct = _comparison(out, "answers-v2")
        assert renamed.status == SuiteStatus.EVALUATED
        assert correct.verdict == "regressed" and correct.gate == "fail"
        assert renamed.thresholds["correct"]["max_drop"] == 0.02  # the base's, not 0.9
        assert [s.name for s in out.result.suites] == ["answers-v2"]  # not evaluated twice
        notes = " ".join(out.result.notes)
        assert "Suite answers-v2 is suite answers of the base config renamed" in notes


def test_a_new_suite_over_an_existing_prompt_is_compared_against_the_base_prompt(
    tmp_path: Path,
):
    """The base has prompts/other.md but no suite for it; the PR adds one and regresses it."""
    base = config(suite(thresholds=GATED))
    with gate_repo(tmp_path, base, **{"prompts/other.md": PROMPT}) as attack:
        other = suite(name="other", prompt="prompts/other.md", thresholds=GATED)
        ws = attack.push(
            {"evalbot.yml": config(suite(thresholds=GATED), other), "prompts/other.md": VAGUE}
        )
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == 1, out.log
        result, correct = _comparison(out, "other")
        assert result.status == SuiteStatus.EVALUATED and correct.verdict == "regressed"
        assert result.base is not None and result.base.prompt_path == "prompts/other.md"
        assert any("compared against the base's prompts/other.md" in n for n in out.result.notes)


def test_a_prompt_file_renamed_with_git_follows_the_rename(tmp_path: Path):
    base_files = {"prompts/answers.md": LONG + PROMPT}
    with gate_repo(tmp_path, config(suite(thresholds=GATED)), **base_files) as attack:
        attack.repo.git("mv", "prompts/answers.md", "prompts/quiz.md")
        moved = suite(name="quiz", prompt="prompts/quiz.md", thresholds={})
        ws = attack.push(
            {"evalbot.yml": config(moved), "prompts/quiz.md": "Be vague. " + LONG + PROMPT}
        )
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == 1, out.log
        result, correct = _comparison(out, "quiz")
        assert result.status == SuiteStatus.EVALUATED and correct.gate == "fail"
        assert result.base is not None and result.base.prompt_path == "prompts/answers.md"
        assert result.thresholds["correct"]["max_drop"] == 0.02


def test_only_a_suite_whose_prompt_did_not_exist_at_base_is_new(tmp_path: Path):
    with gate_repo(tmp_path, config(suite(thresholds=GATED))) as attack:
        fresh = suite(
            name="fresh", prompt="prompts/fresh.md", model="models/fresh.yaml", thresholds=GATED
        )
        ws = attack.push(
            {
                "evalbot.yml": config(suite(thresholds=GATED), fresh),
                "prompts/fresh.md": VAGUE,
                "models/fresh.yaml": MODEL,
            }
        )
        out = run_action(attack.env(ws), ws, attack.github)
        [result] = [s for s in out.result.suites if s.name == "fresh"]
        assert result.status == SuiteStatus.NEW
        assert any("its prompt did not exist on the base" in n for n in result.notes)
        assert out.code == 0, out.log  # absolute thresholds only, and it has none
