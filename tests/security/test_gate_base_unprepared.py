"""Issue 8: a PR that breaks the base side (its prompt no longer renders with the PR's golden
set) is not evaluated head-only, which would drop every comparison with the base."""

from __future__ import annotations

from pathlib import Path

from tests.security.conftest import run_action
from tests.security.gate_repo import config, gate_repo, golden, suite

GATED = {"correct": {"max_drop": 0.02}}


def test_renaming_a_golden_set_variable_is_an_error_not_a_head_only_pass(tmp_path: Path):
    with gate_repo(tmp_path, config(suite(thresholds=GATED))) as attack:
        ws = attack.push(
            {
                "evals/answers.jsonl": golden(var="num"),
                "prompts/answers.md": "Be vague. Answer {{num}}: w{{num}}\n",
            }
        )
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == 2, out.log
        assert out.check["conclusion"] == "failure"
        assert out.outputs["verdict"] == "error"
        summary = out.result.summary or ""
        assert "suite answers: the base side cannot be prepared" in summary
        assert "land the golden-set change in its own PR first" in summary
        assert "\n" not in summary
        assert attack.llm.requests == []  # refused before any spend
