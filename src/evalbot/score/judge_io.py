"""What every LLM judge shares: versioned prompt files, fencing of untrusted text, and one call
path with JSON-reply validation and a bounded repair loop.

* Prompts live in the top-level ``prompts/*.md`` (installed as ``evalbot.prompts``). Each starts
  with a ``version:`` line that is rendered into the system message, so a prompt change changes
  every judge request and therefore every cache key: a cached verdict can never outlive the
  prompt that produced it.
* Untrusted text (the example's input, the outputs under test, contexts, rubrics) is wrapped in a
  tag whose name carries a nonce derived from the text itself. A closing tag forged inside the
  text cannot match, and the nonce is deterministic, so the rendered prompt (and its cache key)
  is the same on every run.
* A reply that is not the JSON the prompt asked for is retried at most twice, each time with a
  new ``sample`` index and a repair message, so the response cache cannot hand back the same
  broken reply; after that the score is ``None`` with the error in its details.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from evalbot.inputs.config import MetricConfig, ModelConfig, load_model_config
from evalbot.records import Completion, Example, Message
from evalbot.score.base import NoJudgeError

if TYPE_CHECKING:
    from collections.abc import Callable

    from evalbot.run.runner import ModelRunner
    from evalbot.score.base import ScoreSetup

__all__ = [
    "JUDGE_DEFAULT_PARAMS",
    "Judge",
    "JudgePrompt",
    "JudgeReply",
    "NoJudgeError",
    "ask_judge",
    "expected_text",
    "fence",
    "load_prompt",
    "optional_fence",
    "parse_reply",
    "render_input",
    "resolve_judge",
]

JUDGE_DEFAULT_PARAMS: dict[str, Any] = {"temperature": 0, "seed": 20240521}
"""Deterministic by default; the judge's model config ``params`` override these."""

MAX_RETRIES = 2
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_SECTION = re.compile(r"^## (system|user)\s*$", re.MULTILINE)


# ---------------------------------------------------------------------------------------------
# Prompt files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JudgePrompt:
    name: str
    version: str
    """e.g. ``rubric-score/1``: rendered into the system message, hence into cache keys."""
    system: str
    user: str

    def render(self, **values: str) -> list[Message]:
        """Fill ``{{name}}`` placeholders in one pass (text inserted is never re-expanded)."""
        values.setdefault("data_rule", _data_rule())

        def fill(template: str) -> str:
            return _PLACEHOLDER.sub(lambda m: values[m[1]], template).strip()

        system = f"evalbot judge prompt {self.version}\n\n{fill(self.system)}"
        return [
            Message(role="system", content=system),
            Message(role="user", content=fill(self.user)),
        ]

    def render_user(self, **values: str) -> Message:
        """Only the user section (a follow-up turn), tagged with the version."""
        content = _PLACEHOLDER.sub(lambda m: values[m[1]], self.user).strip()
        return Message(role="user", content=f"({self.version}) {content}")


@functools.cache
def load_prompt(name: str) -> JudgePrompt:
    """Load ``prompts/<name>.md`` (``version:`` line, then ``## system`` / ``## user``)."""
    text = (resources.files("evalbot.prompts") / f"{name}.md").read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    if not first.startswith("version:"):
        raise RuntimeError(f"prompt {name}.md must start with a 'version:' line")
    parts = _SECTION.split(rest)
    sections = dict(zip(parts[1::2], parts[2::2], strict=True))
    return JudgePrompt(
        name=name,
        version=first.removeprefix("version:").strip(),
        system=sections.get("system", "").strip(),
        user=sections.get("user", "").strip(),
    )


@functools.cache
def _data_rule() -> str:
    text = (resources.files("evalbot.prompts") / "data_rule.md").read_text(encoding="utf-8")
    first, _, rest = text.partition("\n")
    return f"({first.removeprefix('version:').strip()}) {rest.strip()}"


# ---------------------------------------------------------------------------------------------
# Fencing untrusted text
# ---------------------------------------------------------------------------------------------


def fence(label: str, text: str) -> str:
    """Wrap untrusted ``text`` in ``<label-NONCE>…</label-NONCE>``.

    The nonce is 12 hex digits of a hash of the label and the text, so it is stable across runs
    (cache-friendly) yet unknowable to whoever wrote the text: to forge the closing tag, the text
    would have to contain a hash of itself. The loop makes the guarantee unconditional.
    """
    counter = 0
    while True:
        seed = f"{label}\0{counter}\0{text}".encode()
        tag = f"{label}-{hashlib.sha256(seed).hexdigest()[:12]}"
        if tag not in text:
            return f"<{tag}>\n{text}\n</{tag}>"
        counter += 1


def optional_fence(label: str, text: str | None) -> str:
    return fence(label, text) if text else "(none)"


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def render_input(example: Example) -> str:
    """The example's template variables as ``name: value`` lines (the task the system saw)."""
    if not example.vars:
        return "(none)"
    return "\n".join(f"{key}: {_as_text(value)}" for key, value in example.vars.items())


def expected_text(example: Example) -> str | None:
    if example.expected is None or example.expected == "":
        return None
    if isinstance(example.expected, list):
        return "\n".join(_as_text(item) for item in example.expected)
    return _as_text(example.expected)


# ---------------------------------------------------------------------------------------------
# Judge model and calls
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Judge:
    """A judge model bound to the shared runner. ``config.params`` already carry the defaults."""

    runner: ModelRunner
    config: ModelConfig
    path: str

    @property
    def model(self) -> str:
        return self.config.model

    @classmethod
    def of(cls, runner: ModelRunner, config: ModelConfig, path: str) -> Judge:
        params = {**JUDGE_DEFAULT_PARAMS, **config.params}
        return cls(runner=runner, config=config.model_copy(update={"params": params}), path=path)


def resolve_judge(metric: MetricConfig, setup: ScoreSetup) -> Judge:
    """The runtime judge, or the metric's own ``judge: <model config path>`` on the same runner."""
    if setup.judge is None:
        raise NoJudgeError(
            "needs an LLM judge: add 'judge: {model: models/judge.yaml}' to evalbot.yml "
            "(top level or in the suite)"
        )
    override = metric.options.get("judge")
    if override is None:
        return Judge.of(setup.judge.runner, setup.judge.model, setup.judge.model_path)
    if not isinstance(override, str):
        raise ValueError("option 'judge' must be the path of a model config file")
    config, _ = load_model_config(setup.tree, override)
    return Judge.of(setup.judge.runner, config, override)


T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class JudgeReply(Generic[T]):
    parsed: T | None
    completion: Completion | None
    """The completion the parsed reply came from (its logprobs), or the last one tried."""
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.parsed is not None


def parse_reply(text: str, schema: type[T]) -> T:
    """The first JSON object in ``text`` (code fences and chatter around it are tolerated)."""
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end < start:
        raise ValueError("the reply contains no JSON object")
    try:
        return schema.model_validate_json(text[start : end + 1])
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(object)"
        raise ValueError(f"{where}: {first.get('msg', 'invalid')}") from None


async def ask_judge(
    judge: Judge,
    messages: list[Message],
    schema: type[T],
    *,
    check: Callable[[T], str | None] | None = None,
    logprobs: bool = False,
    max_retries: int = MAX_RETRIES,
) -> JudgeReply[T]:
    """One judge question: the reply must parse as ``schema`` and pass ``check`` (which returns
    an error message or None). Provider errors are not retried here: the runner already did."""
    # Imported here, not at the top: `evalbot validate` imports every scorer module and should
    # not pay for the openai SDK it never uses.
    from evalbot.run.runner import build_request

    extra = {"logprobs": True, "top_logprobs": 20} if logprobs else None
    attempt_messages = messages
    completion: Completion | None = None
    error = "no attempt"
    for attempt in range(max_retries + 1):
        request = build_request(
            judge.config, attempt_messages, sample=attempt, purpose="judge", extra_params=extra
        )
        completion = await judge.runner.complete(judge.config, request)
        if not completion.ok:
            return JudgeReply(
                None, completion, f"judge call failed: {completion.error}", attempt + 1
            )
        text = completion.text or ""
        try:
            parsed = parse_reply(text, schema)
            problem = check(parsed) if check else None
            if problem:
                raise ValueError(problem)
        except ValueError as exc:
            error = str(exc)[:300]
            attempt_messages = [
                *messages,
                Message(role="assistant", content=text[:4000]),
                load_prompt("repair").render_user(error=error),
            ]
            continue
        return JudgeReply(parsed, completion, None, attempt + 1)
    attempts = max_retries + 1
    return JudgeReply(
        None, completion, f"invalid judge reply after {attempts} attempts: {error}", attempts
    )
