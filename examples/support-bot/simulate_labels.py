"""Write ``repo/evals/helpful-labels.jsonl``: SIMULATED human labels for the ``helpful`` judge.

    python examples/support-bot/simulate_labels.py [--results RESULTS_JSON] [--out FILE]

**These are not real human labels.** Nobody rated these answers. They are demo data, like the
recorded responses, so that the example can show ``evalbot calibrate`` and a calibration record
end to end. A real team would have people score the answers blind (docs/judges.md, "Running a
study of about 100 examples"); this script stands in for those people.

What it does, deterministically (seed 20250303):

1. **Answers.** It takes the support answers of both sides from an evalbot results.json of the
   example's offline diff: the recorded sample responses of the scripted stand-in model
   (``demo_model.py``), base prompt and PR prompt, 74 questions x 3 samples each. Without
   ``--results`` it builds the example in a temporary directory with ``make_repo.py`` and runs
   ``evalbot diff --base main --head pr --offline`` there (no key, no network) to get one.
2. **Sample of 100.** 50 answers per side, at most one per question and side. So that low and
   middle grades are represented, the draw is stratified on the deterministic ``correct`` check
   (does the answer contain the ``expected`` fact?), never on the judge's score: 15 answers
   without the fact from the base side (of about 22 there are) and 20 from the head side, the rest
   with it. Rows are shuffled, so the file shows no side order.
3. **A rubric-following rater.** Each answer gets a "true" grade from rules that apply the anchors
   of ``rubrics/helpful.md`` to the text, using the question, the policy passages and the
   ``expected`` fact (what a support lead would check):

   - 1: it states a figure (an amount, a percentage, a number of days/hours/years...) that is not
     in the policy passages or the question, i.e. a wrong figure;
   - 5: it contains the key fact AND adds something the rubric asks for at 5: the policy section it
     relied on (``[Policy §x.y]``), a concrete next step (start a return from Orders, submit a
     claim, share the order number, Account > Security...) or a second detail from the policy
     passage. A pointer to the help center is not counted as a next step (it is vague);
   - 4: it contains the key fact but nothing more (correct, but terse: the anchor's "misses a
     useful secondary detail or next step");
   - 2: no fact, and it hands the customer off ("connect you with a teammate", "not completely
     sure") although the passage answers the question (the anchor's "deflects, hedges");
   - 3: no fact, nothing wrong, no hand-off: on topic and polite but vague.

   The rater does not call the judge and does not use ``demo_model``'s grading code.
4. **Rater noise.** Each simulated rater, independently, moves an item's grade by one point
   (up or down, at random; inward at the ends of the scale) with probability 0.15.
5. **Two raters on 30 items.** A seeded subset of 30 rows carries two ratings,
   ``"human": [a, b]``, from two independent noisy raters (so ``evalbot calibrate`` reports the
   human-human ceiling); the other 70 carry one.

Every row's ``metadata`` says ``"simulated_labels": true`` and records the side and sample it came
from (the judge never sees ``metadata``). Only the standard library is used.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE / "repo"
SUITE = "support-answers"
SEED = 20250303
PER_SIDE = 50
MISSES = {"base": 15, "head": 20}
"""Answers without the expected fact drawn per side (stratification on the `correct` check)."""
NOISE = 0.15
DOUBLE_RATED = 30

_SECTION = re.compile(r"\[Policy §\d+\.\d+\]")
_NEXT_STEP = re.compile(
    r"start (?:a|the) (?:return|exchange)|from orders in your account|under orders|"
    r"submit a claim|share your order number|account > security|print a prepaid return label|"
    r"bring it to any northwind store|contact us at|email us at|call us",
    re.I,
)
_HANDOFF = re.compile(
    r"connect you with a teammate|teammate who can|not completely sure|wrong information", re.I
)
_FIGURE = re.compile(
    r"\$\d[\d,]*(?:\.\d+)?"
    r"|\b\d+(?:\.\d+)?(?=\s*%)"
    r"|\b\d+(?:\.\d+)?(?=[- ](?:business days?|days?|hours?|minutes?|years?|months?|weeks?|"
    r"points?|am|pm)\b)"
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$])")


def _norm(text: str) -> str:
    return " ".join(text.replace("\u2019", "'").split()).lower()


def wrong_figure(answer: str, question: str, context: list[str]) -> bool:
    """Does the answer state a figure that appears nowhere in the passages or the question?"""
    source = _norm(" ".join(context) + " " + question)
    return any(
        not re.search(rf"(?<![\d.]){re.escape(f.lower())}(?!\d)", source)
        for f in _FIGURE.findall(answer)
    )


def second_detail(answer: str, expected: str, context: list[str]) -> bool:
    """Does the answer also carry a policy sentence other than the one with the key fact?"""
    low = _norm(answer)
    for passage in context:
        body = passage.split(":", 1)[1] if passage.startswith("§") and ":" in passage else passage
        for sentence in _SENTENCE.split(body):
            core = _norm(sentence).rstrip(".!")
            if len(core) >= 25 and expected.lower() not in core and core[:40] in low:
                return True
    return False


def true_grade(row: dict[str, Any], answer: str) -> int:
    """The rubric anchors of rubrics/helpful.md applied to the answer (see the module docstring)."""
    question, expected, context = row["question"], row["expected"], row["context"]
    if wrong_figure(answer, question, context):
        return 1
    if expected.lower() in answer.lower():
        extras = (
            bool(_SECTION.search(answer))
            or bool(_NEXT_STEP.search(answer))
            or second_detail(answer, expected, context)
        )
        return 5 if extras else 4
    if _HANDOFF.search(answer):
        return 2
    return 3


def noisy(grade: int, rng: random.Random) -> int:
    """One rater's grade: the true grade, moved one point with probability NOISE."""
    if rng.random() >= NOISE:
        return grade
    step = rng.choice((-1, 1))
    if not 1 <= grade + step <= 5:
        step = -step
    return grade + step


def _results_from_offline_diff() -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    with tempfile.TemporaryDirectory(prefix="northwind-labels-") as tmp:
        subprocess.run(
            [sys.executable, str(HERE / "make_repo.py"), tmp, "--force"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        done = subprocess.run(
            ["evalbot", "diff", "--base", "main", "--head", "pr", "--offline"],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        results = Path(tmp) / "evalbot-results" / "results.json"
        if not results.is_file():
            code = done.returncode
            raise SystemExit(f"evalbot diff --offline wrote no results.json (exit {code})")
        return _load(results)


def _load(results_json: Path) -> dict[str, Any]:
    """results.json with the per-example outputs put back from outputs.jsonl.gz beside it."""
    from evalbot.report.results_io import load_full

    return load_full(results_json.parent).model_dump(mode="json")


def _pool(results: dict[str, Any], side: str) -> list[tuple[str, int, str]]:
    suite = next(s for s in results["suites"] if s["name"] == SUITE)
    run = suite[side]
    pool = []
    for example_id, outputs in zip(run["example_ids"], run["outputs"], strict=True):
        for sample, output in enumerate(outputs):
            if output.get("text") is not None and not output.get("error"):
                pool.append((example_id, sample, output["text"]))
    return pool


def build(results: dict[str, Any]) -> list[dict[str, Any]]:
    golden = {
        row["id"]: row
        for row in map(json.loads, (REPO / "evals/support.jsonl").read_text("utf-8").splitlines())
    }
    rng = random.Random(SEED)
    chosen: list[tuple[str, str, int, str]] = []
    for side in ("base", "head"):
        pool = _pool(results, side)
        rng.shuffle(pool)
        used: set[str] = set()
        for want_fact, quota in ((False, MISSES[side]), (True, PER_SIDE - MISSES[side])):
            taken = 0
            for example_id, sample, text in pool:
                has_fact = golden[example_id]["expected"].lower() in text.lower()
                if taken == quota or example_id in used or has_fact != want_fact:
                    continue
                chosen.append((side, example_id, sample, text))
                used.add(example_id)
                taken += 1
            if taken < quota:
                raise SystemExit(f"{side}: only {taken} answers for a quota of {quota}")
    rng.shuffle(chosen)
    double = set(rng.sample(range(len(chosen)), DOUBLE_RATED))
    rater_a, rater_b = random.Random(SEED + 1), random.Random(SEED + 2)
    rows = []
    for index, (side, example_id, sample, text) in enumerate(chosen):
        g = golden[example_id]
        grade = true_grade(g, text)
        first = noisy(grade, rater_a)
        human: int | list[int] = [first, noisy(grade, rater_b)] if index in double else first
        rows.append(
            {
                "id": f"{example_id}:{side}:{sample}",
                "question": g["question"],
                "expected": g["expected"],
                "context": g["context"],
                "group": g["group"],
                "output": text,
                "human": human,
                "metadata": {
                    "simulated_labels": True,
                    "source": "examples/support-bot/simulate_labels.py",
                    "side": side,
                    "sample": sample,
                },
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, help="results.json of the example's diff")
    parser.add_argument(
        "--out", type=Path, default=REPO / "evals" / "helpful-labels.jsonl", help="labels to write"
    )
    args = parser.parse_args(argv)
    results = _load(args.results) if args.results else _results_from_offline_diff()
    rows = build(results)
    args.out.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    counts: dict[int, int] = {}
    for r in rows:
        for h in r["human"] if isinstance(r["human"], list) else [r["human"]]:
            counts[h] = counts.get(h, 0) + 1
    two = sum(isinstance(r["human"], list) for r in rows)
    print(f"wrote {len(rows)} SIMULATED labels ({two} with two raters) to {args.out}")
    print(f"  ratings by grade: {dict(sorted(counts.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
