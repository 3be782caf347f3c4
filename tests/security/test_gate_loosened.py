"""Issue 8: a PR cannot turn a failing gate green by loosening ``evalbot.yml`` in the same PR.

Each case regresses the prompt and loosens one setting; the base's config alone fails the PR.
The gate uses the stricter of base and head, and the comment says which setting was held.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.security.conftest import run_action
from tests.security.gate_repo import (
    CHATTY,
    CORRECT,
    FLAKY,
    REWORDED,
    SLIP,
    VAGUE,
    config,
    gate_repo,
    suite,
)

CASES = {
    "raises max_drop": (
        config(suite(thresholds={"correct": {"max_drop": 0.02}})),
        config(suite(thresholds={"correct": {"max_drop": 0.9}})),
        VAGUE,
        "This PR loosens correct max_drop 0.02 → 0.9: the base's threshold applies until it is "
        "merged.",
    ),
    "lowers min": (
        config(suite(thresholds={"correct": {"min": 0.97}})),
        config(suite(thresholds={"correct": {"min": 0.9}})),
        SLIP,
        "This PR loosens correct min 0.97 → 0.9",
    ),
    "raises max": (
        config(suite(thresholds={"chatty": {"max": 0.02}})),
        config(suite(thresholds={"chatty": {"max": 0.2}})),
        SLIP,
        "This PR loosens chatty max 0.02 → 0.2",
    ),
    "removes the threshold": (
        config(suite(thresholds={"correct": {"max_drop": 0.02}})),
        config(suite(thresholds={})),
        VAGUE,
        "This PR removes the threshold of correct (max_drop 0.02)",
    ),
    "makes it non-blocking": (
        config(suite(thresholds={"correct": {"max_drop": 0.02}})),
        config(suite(thresholds={"correct": {"max_drop": 0.02, "blocking": False}})),
        VAGUE,
        "This PR loosens correct blocking true → false",
    ),
    "removes the blocking metric": (
        config(suite(thresholds={"correct": {"max_drop": 0.02}})),
        config(suite(metrics=[{"name": "chatty", "type": "icontains", "value": "zzz"}])),
        VAGUE,
        "This PR removes the blocking metric correct",
    ),
    "redefines the blocking metric": (
        config(suite(thresholds={"correct": {"max_drop": 0.02}})),
        config(
            suite(
                metrics=[{"name": "correct", "type": "regex", "pattern": ".*"}, CHATTY],
                thresholds={"correct": {"max_drop": 0.02}},
            )
        ),
        VAGUE,
        "This PR redefines the blocking metric correct: its base definition is also computed, "
        "as correct.base, and gates until the change is merged.",
    ),
    "raises alpha": (
        config(suite(thresholds={"correct": {"max_drop": 0.03}}), gate={"on_inconclusive": "fail"}),
        config(
            suite(thresholds={"correct": {"max_drop": 0.03}}),
            gate={"on_inconclusive": "fail", "alpha": 0.45},
        ),
        REWORDED,
        "This PR changes gate alpha 0.05 → 0.45: the base's alpha applies until it is merged.",
    ),
    "switches on_inconclusive to warn": (
        config(suite(thresholds={"correct": {"max_drop": 0.03}}), gate={"on_inconclusive": "fail"}),
        config(suite(thresholds={"correct": {"max_drop": 0.03}}), gate={"on_inconclusive": "warn"}),
        REWORDED,
        "This PR loosens gate on_inconclusive fail → warn",
    ),
    "raises max_error_rate": (
        config(suite(thresholds={"correct": {"max_drop": 0.3}})),
        config(suite(thresholds={"correct": {"max_drop": 0.3}}), gate={"max_error_rate": 0.5}),
        FLAKY,
        "This PR loosens gate max_error_rate 0.05 → 0.5",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_loosening_the_config_in_the_regressing_pr_does_not_pass(tmp_path: Path, case: str):
    base_config, head_config, prompt, note = CASES[case]
    # Under the base's own config this prompt fails the gate (exit 3 where it errors past
    # max_error_rate): the loosened config must not make it any greener.
    verdict, code = ("error", 3) if prompt == FLAKY else ("fail", 1)
    with gate_repo(tmp_path, base_config) as attack:
        ws = attack.push({"prompts/answers.md": prompt, "evalbot.yml": head_config})
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == code, out.log
        assert out.check["conclusion"] == "failure"
        assert out.outputs["verdict"] == verdict
        [comment] = attack.github.comments_on("octo/app", 7)
        assert note in comment["body"].replace("\\_", "_")  # markdown escapes "_"
        assert any(note in line for line in out.result.notes)


def test_tightening_takes_effect_at_once(tmp_path: Path):
    base_config = config(suite(thresholds={"correct": {"max_drop": 0.9}}))
    with gate_repo(tmp_path, base_config) as attack:
        ws = attack.push(
            {
                "prompts/answers.md": VAGUE,
                "evalbot.yml": config(suite(thresholds={"correct": {"max_drop": 0.02}})),
            }
        )
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == 1, out.log
        [answers] = out.result.suites
        assert answers.thresholds["correct"]["max_drop"] == 0.02
        assert "loosens" not in out.everything_written_or_posted()


def test_a_pr_that_only_loosens_is_told_so_and_still_gated_by_the_base(tmp_path: Path):
    """The same loosening without a regression passes, and says the base's threshold holds."""
    base_config = config(suite(thresholds={"correct": {"max_drop": 0.02}}))
    with gate_repo(tmp_path, base_config) as attack:
        head = config(suite(metrics=[CORRECT], thresholds={"correct": {"max_drop": 0.1}}))
        ws = attack.push({"evalbot.yml": head})
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == 0, out.log
        [answers] = out.result.suites
        assert answers.thresholds["correct"]["max_drop"] == 0.02
        assert "This PR loosens correct max_drop 0.02 → 0.1" in out.result.notes[-1]
