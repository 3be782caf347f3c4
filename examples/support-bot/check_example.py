"""Sanity checks for the support-bot example: golden sets, config, and the demo model's rates.

    python examples/support-bot/check_example.py

Loads both golden sets (counts, unique ids, fields), checks that every file evalbot.yml names
exists, renders the base and head support prompts with plain ``{{var}}`` substitution, calls
``demo_model.respond`` directly for every example and sample, and prints the rates the recorded
cache should show: ``correct`` (icontains expected), ``cites_policy`` (the regex from evalbot.yml),
a simulated ``helpful`` grade, answer length, and the triage metrics. Exits 1 on a failed check.
Needs PyYAML (an evalbot dependency); no network.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE / "repo"
BASE_OVERRIDES = HERE / "pr" / "BASE_OVERRIDES"
sys.path.insert(0, str(HERE))

import demo_model  # noqa: E402

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
failures: list[str] = []


def check(condition: bool, message: str) -> None:
    print(("  ok    " if condition else "  FAIL  ") + message)
    if not condition:
        failures.append(message)


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise SystemExit(f"{path}:{number}: invalid JSON: {exc}") from exc
        if not isinstance(row, dict):
            raise SystemExit(f"{path}:{number}: expected one JSON object per line")
        rows.append(row)
    return rows


def variables(row: dict[str, Any]) -> dict[str, str]:
    """Template values: every key, lists (``context``) joined by blank lines."""
    return {k: "\n\n".join(v) if isinstance(v, list) else str(v) for k, v in row.items()}


def substitute(template: str, values: dict[str, str], *, where: str) -> str:
    def one(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise SystemExit(f"{where}: no value for {{{{{match.group(1)}}}}}")
        return values[match.group(1)]

    return _PLACEHOLDER.sub(one, template)


def render(prompt_path: Path, row: dict[str, Any]) -> list[dict[str, str]]:
    text = prompt_path.read_text(encoding="utf-8")
    values = variables(row)
    where = f"{prompt_path.name} (example {row['id']})"
    if prompt_path.suffix in (".yaml", ".yml"):
        messages = yaml.safe_load(text)["messages"]
        return [
            {"role": m["role"], "content": substitute(m["content"], values, where=where)}
            for m in messages
        ]
    return [{"role": "user", "content": substitute(text, values, where=where)}]


def body(model_path: Path, messages: list[dict[str, str]]) -> dict[str, Any]:
    model = yaml.safe_load(model_path.read_text(encoding="utf-8"))
    return {"model": model["model"], "messages": messages, **model.get("params", {})}


def judge_prompt(row: dict[str, Any], answer: str, rubric: str, style: str) -> list[dict[str, str]]:
    """A plausible rubric-judge prompt (evalbot's real one may differ; the demo model parses
    labelled sections, <answer> tags and MT-bench brackets)."""
    system = (
        "You are an impartial judge. Grade the answer to the customer's question with the rubric. "
        'Reply with JSON: {"reason": "<one sentence>", "score": <integer from 1 to 5>}.'
    )
    context = "\n\n".join(row["context"])
    if style == "labels":
        user = (
            f"Rubric:\n{rubric}\n\nQuestion:\n{row['question']}\n\nContext:\n{context}\n\n"
            f"Reference fact:\n{row['expected']}\n\nAnswer:\n{answer}\n"
        )
    elif style == "tags":
        user = (
            f"<rubric>\n{rubric}\n</rubric>\n<question>{row['question']}</question>\n"
            f"<context>{context}</context>\n<answer>\n{answer}\n</answer>"
        )
    else:
        user = (
            f"{rubric}\n\n[Question]\n{row['question']}\n\n[The Start of Assistant's Answer]\n"
            f"{answer}\n[The End of Assistant's Answer]"
        )
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def main() -> int:
    config = yaml.safe_load((REPO / "evalbot.yml").read_text(encoding="utf-8"))
    suites = {s["name"]: s for s in config["suites"]}
    support_suite, triage_suite = suites["support-answers"], suites["ticket-triage"]
    samples = int(support_suite["samples"])

    print("== config")
    try:
        from evalbot.inputs.config import EvalbotConfig, ModelConfig
    except ImportError:
        print("  (evalbot not importable: schema validation skipped)")
    else:
        EvalbotConfig.model_validate(config)
        for path in sorted((REPO / "models").glob("*.yaml")):
            ModelConfig.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        check(True, "evalbot.yml and models/*.yaml validate against evalbot.inputs.config")
    for suite in config["suites"]:
        paths = [suite["prompt"], suite["model"], suite["dataset"]]
        paths += [m[k] for m in suite["metrics"] for k in ("rubric", "schema") if k in m]
        missing = [p for p in paths if not (REPO / p).is_file()]
        check(not missing, f"{suite['name']}: every referenced file exists {missing or ''}")
    changed = sorted(
        str(p.relative_to(BASE_OVERRIDES)) for p in BASE_OVERRIDES.rglob("*") if p.is_file()
    )
    check(changed == ["prompts/support.yaml"], f"the PR changes only {changed}")
    check(
        (BASE_OVERRIDES / "prompts/support.yaml").read_bytes()
        != (REPO / "prompts/support.yaml").read_bytes(),
        "base and head support prompts differ",
    )

    print("\n== golden sets")
    support = load_jsonl(REPO / support_suite["dataset"])
    tickets = load_jsonl(REPO / triage_suite["dataset"])
    for name, rows, fields in (
        ("support.jsonl", support, ("id", "question", "expected", "context", "group")),
        ("tickets.jsonl", tickets, ("id", "ticket", "expected", "urgency", "channel")),
    ):
        ids = [r.get("id") for r in rows]
        check(len(rows) >= 60, f"{name}: {len(rows)} rows (>= 60)")
        check(len(set(ids)) == len(ids), f"{name}: ids unique")
        check(
            all(all(f in r for f in fields) for r in rows),
            f"{name}: every row has {', '.join(fields)}",
        )
    groups = Counter(r["group"] for r in support)
    print(f"  support groups ({len(groups)}): {dict(sorted(groups.items()))}")
    check(len(groups) >= 8, "support.jsonl: at least 8 groups")
    check(
        all(any(r["expected"].lower() in c.lower() for c in r["context"]) for r in support),
        "support.jsonl: every expected fact appears in its context",
    )
    categories = Counter(r["expected"] for r in tickets)
    print(f"  ticket categories ({len(categories)}): {dict(sorted(categories.items()))}")
    print(f"  ticket urgency: {dict(sorted(Counter(r['urgency'] for r in tickets).items()))}")
    schema = json.loads((REPO / "schemas/triage.schema.json").read_text(encoding="utf-8"))
    allowed = set(schema["properties"]["category"]["enum"])
    check(set(categories) <= allowed, "tickets.jsonl: categories are the schema's labels")

    print(f"\n== support-answers: demo model, {len(support)} examples x {samples} samples per side")
    cite = re.compile(
        next(m["pattern"] for m in support_suite["metrics"] if m["name"] == "cites_policy")
    )
    rubric = (REPO / "rubrics/helpful.md").read_text(encoding="utf-8")
    judge_model = REPO / "models/judge.yaml"
    results: dict[str, dict[str, list[list[float]]]] = {}
    routing_ok = True
    parse_agree = 0
    for side, prompt in (
        ("base", BASE_OVERRIDES / "prompts/support.yaml"),
        ("head", REPO / "prompts/support.yaml"),
    ):
        out: dict[str, list[list[float]]] = {"correct": [], "cites": [], "helpful": [], "chars": []}
        for row in support:
            request = body(REPO / support_suite["model"], render(prompt, row))
            routing_ok &= demo_model.request_kind(request) == "support"
            answers = [demo_model.respond(request, sample=k) for k in range(samples)]
            out["correct"].append([float(row["expected"].lower() in a.lower()) for a in answers])
            out["cites"].append([float(bool(cite.search(a))) for a in answers])
            out["chars"].append([float(len(a)) for a in answers])
            grades = []
            for a in answers:
                replies = [
                    demo_model.respond(body(judge_model, judge_prompt(row, a, rubric, style)))
                    for style in ("labels", "tags", "mtbench")
                ]
                routing_ok &= (
                    demo_model.request_kind(
                        body(judge_model, judge_prompt(row, a, rubric, "labels"))
                    )
                    == "judge"
                )
                scores = [json.loads(r)["score"] for r in replies]
                parse_agree += len(set(scores)) == 1
                grades.append(float(scores[0]))
            out["helpful"].append(grades)
        results[side] = out
    check(routing_ok, "every support request is routed as support, every judge request as judge")
    total = 2 * len(support) * samples
    check(
        parse_agree == total, f"judge grades agree across 3 prompt layouts ({parse_agree}/{total})"
    )

    def mean(rows: list[list[float]]) -> float:
        return statistics.fmean(v for r in rows for v in r)

    print(f"\n  {'metric':<22}{'base':>8}{'head':>8}{'delta':>8}")
    for key, label in (
        ("correct", "correct"),
        ("cites", "cites_policy"),
        ("helpful", "helpful (sim. judge)"),
        ("chars", "answer length (chars)"),
    ):
        b, h = mean(results["base"][key]), mean(results["head"][key])
        fmt = "{:>8.1f}" if key == "chars" else "{:>8.3f}"
        print(f"  {label:<22}" + fmt.format(b) + fmt.format(h) + fmt.format(h - b))
    per_example = [
        (statistics.fmean(b), statistics.fmean(h))
        for b, h in zip(results["base"]["correct"], results["head"]["correct"], strict=True)
    ]
    worse = sum(h < b for b, h in per_example)
    better = sum(h > b for b, h in per_example)
    print(
        f"  correct per example (mean of {samples}): head worse on {worse}, better on {better}, "
        f"equal on {len(per_example) - worse - better}"
    )
    helpful_delta = [
        statistics.fmean(h) - statistics.fmean(b)
        for b, h in zip(results["base"]["helpful"], results["head"]["helpful"], strict=True)
    ]
    se = statistics.stdev(helpful_delta) / len(helpful_delta) ** 0.5
    print(f"  helpful paired delta {statistics.fmean(helpful_delta):+.3f} (naive SE {se:.3f})")
    base_correct, head_correct = mean(results["base"]["correct"]), mean(results["head"]["correct"])
    check(
        0.85 <= base_correct <= 0.95,
        f"base correct {base_correct:.3f} in [0.85, 0.95] (target 0.90)",
    )
    check(
        0.66 <= head_correct <= 0.78,
        f"head correct {head_correct:.3f} in [0.66, 0.78] (target 0.72)",
    )
    check(head_correct < 0.8 <= base_correct, "head is below the min: 0.8 threshold, base above it")

    samples_triage = triage_suite["samples"]
    print(f"\n== ticket-triage: demo model, {len(tickets)} examples x {samples_triage} sample")
    valid = category = urgency = schema_ok = 0
    for row in tickets:
        request = body(REPO / triage_suite["model"], render(REPO / triage_suite["prompt"], row))
        routing_ok &= demo_model.request_kind(request) == "classify"
        reply = demo_model.respond(request, sample=0)
        category += bool(re.search(rf'"category"\s*:\s*"{re.escape(row["expected"])}"', reply))
        urgency += bool(re.search(rf'"urgency"\s*:\s*"{re.escape(row["urgency"])}"', reply))
        try:
            parsed = json.loads(reply)
        except json.JSONDecodeError:
            continue
        valid += 1
        schema_ok += (
            isinstance(parsed, dict)
            and set(parsed) == {"category", "urgency"}
            and parsed["category"] in allowed
            and parsed["urgency"] in {"low", "medium", "high"}
        )
    n = len(tickets)
    print(
        f"  valid_json {valid / n:.3f}  schema_ok {schema_ok / n:.3f}  "
        f"category {category / n:.3f}  urgency {urgency / n:.3f}"
    )
    check(routing_ok, "every triage request is routed as classify")
    check(category / n >= 0.85, f"category {category / n:.3f} >= 0.85 (target 0.90)")
    check(valid / n >= 0.9, f"valid_json {valid / n:.3f} >= 0.9 (target 0.97)")

    print(f"\n{'FAILED: ' + '; '.join(failures) if failures else 'all checks passed'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
