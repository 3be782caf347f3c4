"""The production side of the support chat widget (deliberately tiny).

It retrieves the policy passages that best match the customer's question, fills
prompts/support.yaml and calls the model configured in models/support.yaml. evalbot evaluates the
same prompt and model files on evals/support.jsonl, whose ``context`` holds the policy passages
that answer each golden question (curated by the support team, in the format below).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
_WORD = re.compile(r"[a-z0-9$%]+")
_STOP = {
    "the",
    "a",
    "an",
    "i",
    "my",
    "to",
    "do",
    "is",
    "it",
    "can",
    "of",
    "on",
    "for",
    "and",
    "you",
}


def policy_passages(path: Path = ROOT / "policy" / "policy.md") -> list[str]:
    """One passage per ``### N.M Title`` subsection, formatted as ``§N.M Title: text``."""
    passages = []
    for match in re.finditer(
        r"^### (\d+\.\d+) ([^\n]+)\n((?:[^\n#][^\n]*\n?)+)", path.read_text(), re.M
    ):
        section, title, body = match.groups()
        passages.append(f"§{section} {title}: {' '.join(body.split())}")
    return passages


def retrieve(question: str, passages: list[str], k: int = 2) -> list[str]:
    """Keyword-overlap retrieval: good enough for a 13-section policy."""
    words = set(_WORD.findall(question.lower())) - _STOP
    scored = sorted(passages, key=lambda p: -len(words & set(_WORD.findall(p.lower()))))
    return scored[:k]


def render(question: str, context: list[str]) -> list[dict[str, str]]:
    prompt = yaml.safe_load((ROOT / "prompts" / "support.yaml").read_text())
    values = {"question": question, "context": "\n\n".join(context)}
    return [
        {
            "role": m["role"],
            "content": re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda g: values[g[1]], m["content"]),
        }
        for m in prompt["messages"]
    ]


def answer(question: str) -> str:
    from openai import (
        OpenAI,
    )  # the same SDK and env vars (OPENAI_BASE_URL, OPENAI_API_KEY) as evalbot

    model = yaml.safe_load((ROOT / "models" / "support.yaml").read_text())
    messages = render(question, retrieve(question, policy_passages()))
    reply = OpenAI().chat.completions.create(
        model=model["model"], messages=messages, **model["params"]
    )
    return reply.choices[0].message.content or ""


if __name__ == "__main__":
    print(answer(" ".join(sys.argv[1:]) or "How long do I have to return something?"))
