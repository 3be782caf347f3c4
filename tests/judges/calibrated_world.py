"""A repository whose `helpful` judge compresses the scale, with human labels and a calibration
record: the shared world of the judge-correction tests (CLI and action).

The model answers "Answer n [quality q]"; the base prompt gives quality 5 everywhere, the PR's
"Be vague." prompt quality 1 on two examples in three: a true drop of 2.7 points on the 1-5
scale. The judge grades 5→5, 4→5, 3→4, 2→4, 1→4, so it sees a drop of 0.67 only, inside the
0.9-point margin ("unchanged" in judge units). Its labels (human = true quality) give a slope of
about 0.31 judge points per human point, and the correction turns the drop back into about 2.2
human points: regressed.
"""

from __future__ import annotations

import json
import re

from evalbot.inputs.config import sha256_text
from evalbot.pipeline.judge_calibration import RECORD_SCHEMA, judge_prompt_version
from evalbot.score.rubric import RubricScorer
from tests.gitrepo import Repo
from tests.judges.helpers import fenced, prompt_of, reply_json

LABELS = "evals/helpful-labels.jsonl"
N_EXAMPLES = 36
N_LABELS = 40
JUDGE_OF = {5: 5, 4: 5, 3: 4, 2: 4, 1: 4}
RUBRIC = "# Helpful\n\n- 5: answers exactly.\n- 1: wrong or useless.\n"
CONFIG = """\
version: 1
judge: {model: models/judge.yaml, calibration: judges/helpful.json}
suites:
  - name: answers
    prompt: prompts/answers.md
    model: models/chat.yaml
    dataset: evals/answers.jsonl
    metrics:
      - {name: helpful, type: llm_rubric, rubric: rubrics/helpful.md, scale: [1, 5]}
    thresholds:
      helpful: {max_drop: 0.9}
"""
VAGUE = "Be vague. Answer {{n}}.\n"


def responder(body: dict) -> str:
    """The model under test and the judge, on one loopback endpoint."""
    if body["model"] == "judge-model":
        if prompt_of(body) == "rubric-steps/1":
            return reply_json(steps=["Read the answer.", "Grade it."])
        quality = int(re.search(r"quality (\d)", fenced(body, "answer")[0])[1])  # type: ignore[index]
        return reply_json(score=JUDGE_OF[quality], reason="graded")
    prompt = body["messages"][-1]["content"]
    n = int(re.search(r"Answer (\d+)", prompt)[1])  # type: ignore[index]
    quality = 1 if prompt.startswith("Be vague.") and n % 3 else 5
    return f"Answer {n} [quality {quality}]"


def labels(human_of=lambda q: q) -> str:
    rows = []
    for i in range(N_LABELS):
        quality = 1 + (i * 3) % 5
        rows.append({"id": f"l{i}", "n": i, "output": f"Label {i} [quality {quality}]",
                     "human": human_of(quality)})  # fmt: skip
    return "".join(json.dumps(r) + "\n" for r in rows)


def record(labels_text: str, *, judge_of=JUDGE_OF, rubric: str = RUBRIC, **over) -> str:
    """The record ``evalbot calibrate`` writes for ``labels_text``, judged by ``judge_of``."""
    values = {}
    for line in labels_text.splitlines():
        row = json.loads(line)
        values[row["id"]] = float(judge_of[int(re.search(r"quality (\d)", row["output"])[1])])  # type: ignore[index]
    data = {
        "schema": RECORD_SCHEMA,
        "judge_model": "judge-model",
        "suite": "answers",
        "metric": "helpful",
        "metric_type": "llm_rubric",
        "rubric_sha256": sha256_text(rubric),
        "prompt_version": judge_prompt_version(RubricScorer),
        "binary": False,
        "scale": [1, 5],
        "verdict": "reliable",
        "n": len(values),
        "labels": "evals/helpful-labels.jsonl",
        "labels_sha256": sha256_text(labels_text),
        "judge_values": values,
        "created_at": "2026-12-01T00:00:00+00:00",
        **over,
    }
    return json.dumps(data, indent=1)


def base_files() -> dict[str, str]:
    rows = "".join(json.dumps({"id": f"e{i}", "n": i}) + "\n" for i in range(N_EXAMPLES))
    text = labels()
    return {
        "evalbot.yml": CONFIG,
        "prompts/answers.md": "Answer {{n}}.\n",
        "models/chat.yaml": "provider: openai\nmodel: fake-1\nparams: {temperature: 0}\n",
        "models/judge.yaml": "provider: openai\nmodel: judge-model\n",
        "rubrics/helpful.md": RUBRIC,
        "evals/answers.jsonl": rows,
        "evals/helpful-labels.jsonl": text,
        "judges/helpful.json": record(text),
    }


def make_repo(root, head_files: dict[str, str | None]) -> tuple[Repo, str, str]:
    """main = the calibrated base; ``feature`` = the PR's vaguer prompt plus ``head_files``."""
    repo = Repo(root)
    base = repo.commit(base_files(), "base")
    repo.branch("feature")
    head = repo.commit({"prompts/answers.md": VAGUE, **head_files}, "vaguer answers")
    return repo, base, head
