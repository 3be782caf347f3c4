"""A repository whose base config gates one suite, and a PR that regresses it while editing
``evalbot.yml``: the attacks of issue 8 on the PR-controlled config, run through
``evalbot action`` with the real pipeline, the loopback OpenAI fake and the GitHub fake.

The fake model answers by the prompt's first word, so a PR regresses by editing the prompt:
``Be vague.`` misses every odd example (a drop of 50 points, significant with 40 examples);
``Slip.`` misses every twentieth (2 of 40: below a high ``min``, not a significant drop);
``Flaky.`` gets an HTTP 400 on every fifth example (a 20 % error rate).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from tests.action.conftest import REPO
from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.gitrepo import Repo
from tests.security.conftest import KEY, MODEL, Attack

N = 40
PROMPT = "Answer {{n}}: w{{n}}\n"
VAGUE = "Be vague. " + PROMPT
SLIP = "Slip. " + PROMPT
FLAKY = "Flaky. " + PROMPT
REWORDED = "Please. " + PROMPT
"""A prompt edit that changes no answer."""

CORRECT = {"name": "correct", "type": "contains", "value": "{{expected}}"}
CHATTY = {"name": "chatty", "type": "icontains", "value": "happy", "higher_is_better": False}


def responder(body: dict) -> Reply | str:
    prompt = body["messages"][-1]["content"]
    n = int(prompt.rsplit(" ", 1)[-1].removeprefix("w"))
    if prompt.startswith("Flaky.") and n % 5 == 0:
        return Reply(status=400, content="bad request")
    if (prompt.startswith("Be vague.") and n % 2) or (prompt.startswith("Slip.") and n % 20 == 0):
        return "Happy to help!"
    return f"It is w{n}"


def suite(**fields: Any) -> dict[str, Any]:
    return {
        "name": "answers",
        "prompt": "prompts/answers.md",
        "model": "models/chat.yaml",
        "dataset": "evals/answers.jsonl",
        "metrics": [CORRECT, CHATTY],
        **fields,
    }


class _Plain(yaml.SafeDumper):
    """Writes shared dicts out in full: evalbot refuses YAML aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def config(*suites: dict[str, Any], gate: dict[str, Any] | None = None) -> str:
    data: dict[str, Any] = {"version": 1}
    if gate:
        data["gate"] = gate
    data["suites"] = list(suites) or [suite()]
    return yaml.dump(data, Dumper=_Plain, sort_keys=False)


def golden(var: str = "n") -> str:
    return "".join(f'{{"id": "e{i}", "{var}": {i}, "expected": "w{i}"}}\n' for i in range(N))


@contextmanager
def gate_repo(tmp: Path, base_config: str, **extra: str) -> Iterator[Attack]:
    """A sound base (the prompt answers every example) with ``base_config``."""
    repo = Repo(tmp / "workspace")
    base = repo.commit(
        {
            "evalbot.yml": base_config,
            "prompts/answers.md": PROMPT,
            "models/chat.yaml": MODEL,
            "evals/answers.jsonl": golden(),
            **extra,
        },
        "base",
    )
    repo.branch("feature")
    with FakeGitHub() as github, FakeOpenAI(responder, api_key=KEY) as llm:
        github.add_repo(REPO)
        yield Attack(tmp=tmp, github=github, llm=llm, repo=repo, base_sha=base)


__all__ = [
    "CHATTY",
    "CORRECT",
    "FLAKY",
    "PROMPT",
    "REWORDED",
    "SLIP",
    "VAGUE",
    "N",
    "config",
    "gate_repo",
    "golden",
    "suite",
]
