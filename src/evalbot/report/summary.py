"""``--json``: the run's summary as one JSON object on stdout, for scripts (progress stays on
stderr). The full record, with every output and score, is results.json; this is its verdict,
per-suite tables and costs, with the same meanings as the comment (docs/comment.md)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evalbot.errors import exit_code_for_verdict
from evalbot.records import RunResult, SuiteResult
from evalbot.report.headline import regressed_rows, short_description, tally

__all__ = ["SUMMARY_VERSION", "json_summary"]

SUMMARY_VERSION = 1


def _num(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _suite(suite: SuiteResult) -> dict[str, Any]:
    return {
        "name": suite.name,
        "status": str(suite.status),
        "gate": str(suite.gate),
        "triggers": suite.triggers,
        "metrics": [
            {
                "metric": c.metric,
                "base": _num(c.base_mean),
                "head": _num(c.head_mean),
                "delta": _num(c.delta),
                "ci": [_num(c.ci_low), _num(c.ci_high)],
                "confidence": c.confidence,
                "p": _num(c.p_two_sided),
                "gate_p": _num(c.p_adjusted if c.p_adjusted is not None else c.p_value),
                "verdict": str(c.verdict),
                "blocking": c.blocking,
                "gate": str(c.gate),
                "n": c.n,
                "mde": _num(c.mde),
            }
            for c in suite.comparisons
        ],
        "values": [
            {
                "metric": v.metric,
                "value": _num(v.value),
                "ci": [_num(v.low), _num(v.high)],
                "confidence": v.confidence,
                "n": v.n,
                "samples": v.samples,
                "method": v.method,
            }
            for v in suite.values
        ],
        "thresholds": [
            {
                "metric": a.metric,
                "bound": a.bound,
                "limit": a.limit,
                "value": _num(a.value),
                "passed": a.passed,
            }
            for a in suite.absolute
        ],
        "notes": suite.notes,
    }


def json_summary(result: RunResult, *, out_dir: Path | None = None) -> str:
    """One line of JSON (``json.loads`` it; the keys are documented in the README)."""
    t = tally(result)
    u, j = result.usage, result.judge_usage
    summary = {
        "summary_version": SUMMARY_VERSION,
        "command": result.command,
        "verdict": result.verdict,
        "exit_code": exit_code_for_verdict(result.verdict),
        "headline": short_description(result),
        "regressions": len(regressed_rows(result)),
        "blocking_regressions": len(t.blocking_regressions),
        "thresholds_crossed": len(t.crossed),
        "inconclusive": len(t.inconclusive),
        "base_sha": result.base_sha,
        "head_sha": result.head_sha,
        "results": str(out_dir / "results.json") if out_dir is not None else None,
        "cost": {
            "spent_usd": u.spent_usd + j.spent_usd,
            "evaluated_usd": u.cost_usd + j.cost_usd,
            "calls_sent": u.sent + j.sent,
            "calls": u.requests + j.requests,
        },
        "suites": [_suite(s) for s in result.suites],
        "notes": result.notes,
    }
    return json.dumps(summary, ensure_ascii=False, allow_nan=False)
