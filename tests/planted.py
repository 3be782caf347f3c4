"""The planted regression shared by the end-to-end tests: a one-suite config whose blocking
``correct`` metric checks ``w{{n}}``, and a scripted model that answers every example right
except that a prompt starting "Be vague." misses the odd ones, a true drop of about 50 points."""

from __future__ import annotations

PLANTED_CONFIG = """\
version: 1
suites:
  - name: answers
    prompt: prompts/answers.md
    model: models/chat.yaml
    dataset: evals/answers.jsonl
    metrics:
      - {name: correct, type: contains, value: "{{expected}}"}
    thresholds:
      correct: {min: 0.8, max_drop: 0.02}
"""


def planted_responder(body: dict) -> str:
    """Right answers, except that the vague prompt misses every odd example."""
    prompt = body["messages"][-1]["content"]
    word = prompt.rsplit(" ", 1)[-1]
    if prompt.startswith("Be vague.") and int(word.removeprefix("w")) % 2:
        return "Happy to help!"
    return f"It is {word}"
