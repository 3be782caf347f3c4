"""``evalbot calibrate``: its options, the summary it prints, and the record it writes. The work
(labels, judging, agreement) is ``evalbot.pipeline.calibrate``."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from evalbot.fsio import write_atomic
from evalbot.options import DEFAULT_CONCURRENCY
from evalbot.pipeline.calibrate import CalibrationOptions, calibrate
from evalbot.stats.agreement import ALPHA_RELIABLE, ALPHA_TENTATIVE

__all__ = ["add_arguments", "run", "summary"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--labels", type=Path, required=True, help="JSONL of human-scored outputs")
    parser.add_argument("-C", "--repo", type=Path, default=Path("."), help="repository root")
    parser.add_argument("--config", default="evalbot.yml", help="config path in the repository")
    parser.add_argument("--suite", help="suite of the judge metric")
    parser.add_argument("--metric", help="the judge metric to calibrate")
    parser.add_argument(
        "--out", type=Path, default=Path("evalbot-calibration.json"), help="record to write"
    )
    parser.add_argument("--offline", action="store_true", help="answer from the cache only")
    parser.add_argument("--cache-dir", type=Path, help="response cache (default .evalbot/cache)")
    parser.add_argument(
        "--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="judge calls in flight"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap")
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap resamples")


def _fmt(value: float | None, ci: list[float | None] | None = None) -> str:
    if value is None:
        return "n/a"
    if ci and ci[0] is not None and ci[1] is not None:
        return f"{value:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]"
    return f"{value:.3f}"


def _pairwise_summary(record: dict[str, Any]) -> str:
    cis = record.get("cis", {})
    lines = [
        f"Judge {record['judge_model']} on {record['suite']}/{record['metric']} (pairwise): "
        f"n={record['n']} pairs ({record['n_dropped']} dropped, {record['n_decisive']} decisive "
        "on both sides)",
        f"  agreement            {_fmt(record.get('agreement'), cis.get('agreement'))}",
        f"  agreement w/o ties   "
        f"{_fmt(record.get('agreement_no_ties'), cis.get('agreement_no_ties'))}",
        f"  Cohen's κ (A/tie/B)  {_fmt(record.get('kappa'), cis.get('kappa'))}",
        f"  Krippendorff α (nominal) {_fmt(record.get('alpha'), cis.get('alpha'))}",
        f"  position consistency {_fmt(record.get('position_consistency'))} "
        f"(both orders agree; first slot chosen {_fmt(record.get('first_slot_rate'))})",
    ]
    low = cis.get("alpha", [None])[0]
    lines.append(
        f"Verdict: {record['verdict']} (α lower bound {_fmt(low)}; "
        f"reliable ≥ {ALPHA_RELIABLE}, tentative ≥ {ALPHA_TENTATIVE})"
    )
    return "\n".join(lines)


def summary(record: dict[str, Any]) -> str:
    if record.get("pairwise"):
        return _pairwise_summary(record)
    cis = record.get("cis", {})
    lines = [
        f"Judge {record['judge_model']} on {record['suite']}/{record['metric']}: "
        f"n={record['n']} ({record['n_dropped']} dropped)",
        f"  Cohen's κ            {_fmt(record.get('kappa'), cis.get('kappa'))}",
    ]
    if record.get("weighted_kappa") is not None:
        lines.append(
            f"  quadratic κ          {_fmt(record['weighted_kappa'], cis.get('weighted_kappa'))}"
        )
    lines += [
        f"  Krippendorff α ({record['alpha_level']}) {_fmt(record.get('alpha'), cis.get('alpha'))}",
        f"  Spearman ρ           {_fmt(record.get('spearman'), cis.get('spearman'))}",
    ]
    ceiling = record.get("ceiling")
    if ceiling:
        lines.append(
            f"  human–human ceiling  α {_fmt(ceiling.get('alpha'), ceiling.get('alpha_ci'))} "
            f"(n={ceiling['n']}, {ceiling['raters']} raters)"
        )
    lines += _sensitivity_lines(record.get("sensitivity"))
    low = cis.get("alpha", [None])[0]
    lines.append(
        f"Verdict: {record['verdict']} (α lower bound {_fmt(low)}; "
        f"reliable ≥ {ALPHA_RELIABLE}, tentative ≥ {ALPHA_TENTATIVE})"
    )
    return "\n".join(lines)


def _sensitivity_lines(sens: dict[str, Any] | None) -> list[str]:
    """se/sp and J, or the slope: what a diff divides judge deltas by (95 % intervals)."""
    if not sens or sens.get("estimate") is None:
        return []
    bounds = [sens.get("low"), sens.get("high")]
    if sens["kind"] == "binary":
        d = sens["details"]
        se, sp = _fmt(d["se"], d["se_bounds"]), _fmt(d["sp"], d["sp_bounds"])
        lines = [
            f"  sensitivity se       {se} (Wilson, {d['positives']} passes)",
            f"  specificity sp       {sp} (Wilson, {d['negatives']} fails)",
            f"  J = se + sp − 1      {_fmt(sens['estimate'], bounds)} (Newcombe)",
        ]
    else:
        lines = [
            f"  slope (judge/human)  {_fmt(sens['estimate'], bounds)} "
            "(Deming, orthogonal; bootstrap)"
        ]
    if not sens.get("calibrated"):
        lines.append("  → too weak to correct judge deltas with: a diff reports it uncalibrated")
    return lines


def run(args: argparse.Namespace) -> int:
    """CLI handler: 0 when the judge is reliable or tentative, 1 when unreliable."""
    repo = args.repo.resolve()
    raw_hosts = os.environ.get("EVALBOT_ALLOWED_HOSTS", "").split(",")
    hosts = tuple(h.strip().lower() for h in raw_hosts if h.strip())
    options = CalibrationOptions(
        labels=args.labels,
        repo_root=repo,
        config_path=args.config,
        suite=args.suite,
        metric=args.metric,
        offline=args.offline,
        cache_dir=args.cache_dir.resolve() if args.cache_dir else None,
        concurrency=max(1, args.concurrency),
        seed=args.seed,
        n_resamples=max(100, args.bootstrap),
        allowed_hosts=hosts or None,
    )
    record = calibrate(options, env=os.environ)
    write_atomic(args.out, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(summary(record))
    print(f"Record written to {args.out}; point judge.calibration in evalbot.yml at it.")
    return 1 if record["verdict"] == "unreliable" else 0
