"""``llm_rubric``: G-Eval-style pointwise grading on an integer scale (Liu et al., 2023).

1. Evaluation steps are generated once from the rubric by the judge (auto-CoT) and frozen in a
   JSON file keyed by the rubric's sha256, the scale and the judge model; every later run, and
   both sides of a diff, reuse it. A user-written ``steps`` file takes precedence. Regenerating
   steps per run (as DeepEval does unless given steps) would judge base and head under
   different prompts.
2. The form-filling call asks for ``{"score": n, "reason": ...}``, score first, with
   ``logprobs``. The score is Σ p(s)·s over the valid score tokens among the top logprobs of the
   score token, renormalised after dropping p < 0.01, non-integers and out-of-scale values
   (DeepEval's ``calculate_weighted_summed_score``); without logprobs, the parsed integer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
)

from evalbot.fsio import ensure_dir, write_atomic
from evalbot.inputs.config import MetricConfig, sha256_text
from evalbot.parsing import ParseProblem, load_json
from evalbot.records import Completion, Example, MetricKind, TokenLogprob
from evalbot.score.base import MetricOptions, Score, ScoreSetup, register
from evalbot.score.judge_io import (
    Judge,
    ask_judge,
    expected_text,
    fence,
    load_prompt,
    optional_fence,
    render_input,
    resolve_judge,
)

if TYPE_CHECKING:
    import asyncio
from evalbot.signing import seal, unseal

__all__ = [
    "STEPS_FILE_VERSION",
    "FrozenSteps",
    "RubricOptions",
    "RubricScorer",
    "WeightedScore",
    "build_rubric",
    "weighted_score",
]

STEPS_FILE_VERSION = 1
MIN_TOKEN_PROB = 0.01


class _StepsReply(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    steps: list[str] = Field(min_length=1, max_length=12)


class _ScoreReply(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    score: int
    reason: str = ""


class FrozenSteps(BaseModel):
    """The frozen evaluation steps file (``judge-steps/*.json``)."""

    model_config = ConfigDict(extra="ignore", defer_build=True)
    version: int = STEPS_FILE_VERSION
    rubric_sha256: str
    judge_model: str
    scale: list[int] | None = None
    prompt: str | None = None
    """Version of the prompt that generated the steps (``rubric-steps/N``)."""
    steps: list[str] = Field(min_length=1)


class WeightedScore(NamedTuple):
    value: float
    probs: dict[int, float]
    """Renormalised probability per valid score."""
    confidence: float
    """Largest renormalised probability."""


def _as_int(token: str) -> int | None:
    text = token.strip().strip("\"'")
    return int(text) if re.fullmatch(r"-?\d+", text) else None


def _score_position(top_logprobs: list[list[TokenLogprob]], raw: int) -> int | None:
    """Index of the score token. At temperature 0 the chosen token is each position's most
    likely one, so the reply can be rebuilt from them and the ``"score"`` value located in it
    (digits inside the reason are never mistaken for the score); failing that, the first
    position whose most likely token is the parsed score."""
    best = [max(alts, key=lambda alt: alt.logprob).token if alts else "" for alts in top_logprobs]
    match = re.search(r'"score"\s*:\s*"?\s*(-?\d+)', "".join(best))
    if match and int(match[1]) == raw:
        offset = 0
        for index, token in enumerate(best):
            if offset <= match.start(1) < offset + len(token):
                return index
            offset += len(token)
    return next((i for i, token in enumerate(best) if _as_int(token) == raw), None)


def weighted_score(
    top_logprobs: list[list[TokenLogprob]] | None, raw: int, lo: int, hi: int
) -> WeightedScore | None:
    """Σ p(s)·s over the valid scores at the score token, or None without usable logprobs."""
    position = _score_position(top_logprobs or [], raw)
    if position is None:
        return None
    probs: dict[int, float] = {}
    for alt in (top_logprobs or [])[position]:
        value, p = _as_int(alt.token), math.exp(alt.logprob)
        if value is None or not lo <= value <= hi or p < MIN_TOKEN_PROB:
            continue
        probs[value] = probs.get(value, 0.0) + p
    total = sum(probs.values())
    if total <= 0:
        return None
    probs = {s: p / total for s, p in sorted(probs.items())}
    return WeightedScore(
        value=sum(s * p for s, p in probs.items()),
        probs=probs,
        confidence=max(probs.values()),
    )


def _parse_user_steps(text: str) -> list[str]:
    """A steps file: JSON (``{"steps": [...]}`` or a list) or one step per Markdown line."""
    try:
        data = load_json(text)
    except ParseProblem:
        data = None
    if isinstance(data, dict):
        data = data.get("steps")
    if isinstance(data, list):
        return [str(s).strip() for s in data if str(s).strip()]
    steps = []
    for line in text.splitlines():
        item = re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", line).strip()
        if item and not line.lstrip().startswith("#"):
            steps.append(item)
    return steps


@dataclass
class _StepsState:
    steps: list[str] | None = None
    origin: str = ""
    """``user``, ``frozen`` (read from the file) or ``generated`` (this run)."""
    file: str | None = None
    error: str | None = None


class RubricScorer:
    kind = MetricKind.CONTINUOUS
    higher_is_better = True
    judge_prompts = ("rubric_steps", "rubric_score")
    """evalbot's prompts it renders: a new version makes a calibration record stale."""

    def __init__(
        self,
        name: str,
        *,
        judge: Judge,
        rubric: str,
        rubric_path: str,
        scale: tuple[int, int],
        steps: list[str] | None = None,
        steps_path: str | None = None,
        steps_dir: Path | None = None,
        steps_secret: bytes | None = None,
        logprobs: bool = True,
    ) -> None:
        self.name = name
        self.judge = judge
        self.rubric = rubric
        self.rubric_path = rubric_path
        self.rubric_sha256 = sha256_text(rubric)
        self.lo, self.hi = scale
        self.steps_dir = steps_dir
        # Frozen steps decide how every answer is judged: signed like cache entries, so a file
        # the PR plants in the steps directory is ignored where the cache is signed.
        self.steps_secret = steps_secret
        self.logprobs = logprobs
        self._state = _StepsState()
        if steps is not None:
            self._state = _StepsState(steps=steps, origin="user", file=steps_path)
        # Made by the first `steps()`: `validate` builds scorers without importing asyncio.
        self._lock: asyncio.Lock | None = None

    # -- steps ---------------------------------------------------------------------------

    def steps_file(self) -> Path | None:
        if self.steps_dir is None:
            return None
        model = re.sub(r"[^A-Za-z0-9._-]+", "_", self.judge.model)
        key = f"{self.rubric_sha256[:16]}-{self.lo}-{self.hi}-{model}.json"
        return self.steps_dir / "judge-steps" / key

    def _read_frozen(self, path: Path) -> list[str] | None:
        try:
            body = unseal(self.steps_secret, "judge-steps", path.name, path.read_bytes())
            if body is None:
                return None
            frozen = FrozenSteps.model_validate_json(body)
        except (OSError, ValidationError):
            return None
        if (
            frozen.version != STEPS_FILE_VERSION
            or frozen.rubric_sha256 != self.rubric_sha256
            or frozen.judge_model != self.judge.model
        ):
            return None
        return frozen.steps

    def _write_frozen(self, path: Path, steps: list[str]) -> None:
        frozen = FrozenSteps(
            rubric_sha256=self.rubric_sha256,
            judge_model=self.judge.model,
            scale=[self.lo, self.hi],
            prompt=load_prompt("rubric_steps").version,
            steps=steps,
        )
        ensure_dir(path.parent)
        body = (frozen.model_dump_json(indent=2) + "\n").encode("utf-8")
        write_atomic(path, seal(self.steps_secret, "judge-steps", path.name, body))

    async def steps(self) -> _StepsState:
        """The evaluation steps, generated at most once per process and frozen to disk."""
        if self._lock is None:  # no await before it is set: one lock even under concurrency
            import asyncio

            self._lock = asyncio.Lock()
        async with self._lock:
            if self._state.steps is not None or self._state.error is not None:
                return self._state
            path = self.steps_file()
            frozen = self._read_frozen(path) if path is not None else None
            if frozen is not None:
                self._state = _StepsState(steps=frozen, origin="frozen", file=str(path))
                return self._state
            messages = load_prompt("rubric_steps").render(
                rubric=fence("rubric", self.rubric), lo=str(self.lo), hi=str(self.hi)
            )
            reply = await ask_judge(self.judge, messages, _StepsReply)
            if reply.parsed is None:
                self._state = _StepsState(
                    error=f"could not generate evaluation steps: {reply.error}"
                )
                return self._state
            steps = [s.strip() for s in reply.parsed.steps if s.strip()]
            if not steps:
                self._state = _StepsState(error="the judge generated no evaluation step")
                return self._state
            if path is not None:
                try:
                    self._write_frozen(path, steps)
                except OSError:
                    path = None  # unwritable cache: still consistent within this run
            self._state = _StepsState(
                steps=steps, origin="generated", file=str(path) if path else None
            )
            return self._state

    # -- scoring -------------------------------------------------------------------------

    def _check(self, reply: _ScoreReply) -> str | None:
        if not self.lo <= reply.score <= self.hi:
            return f"score {reply.score} is outside the scale {self.lo}..{self.hi}"
        return None

    async def score(self, example: Example, output: Completion) -> Score:
        if not output.ok:
            return Score(None, {"error": "the output errored; not judged"})
        state = await self.steps()
        if state.steps is None:
            return Score(None, {"error": state.error})
        numbered = "\n".join(f"{i}. {step}" for i, step in enumerate(state.steps, 1))
        context = "\n\n".join(example.context) if example.context else None
        messages = load_prompt("rubric_score").render(
            rubric=fence("rubric", self.rubric),
            steps=fence("steps", numbered),
            input=fence("input", render_input(example)),
            reference=optional_fence("reference", expected_text(example)),
            context=optional_fence("context", context),
            answer=fence("answer", output.text or ""),
            lo=str(self.lo),
            hi=str(self.hi),
        )
        reply = await ask_judge(
            self.judge, messages, _ScoreReply, check=self._check, logprobs=self.logprobs
        )
        base: dict[str, Any] = {"judge": self.judge.model, "steps": state.origin}
        if state.file:
            base["steps_file"] = state.file
        if reply.parsed is None:
            return Score(None, {**base, "error": reply.error})
        raw = reply.parsed.score
        weighted = weighted_score(
            reply.completion.top_logprobs if reply.completion else None, raw, self.lo, self.hi
        )
        details: dict[str, Any] = {
            **base,
            "raw": raw,
            "weighted": round(weighted.value, 6) if weighted else None,
            "confidence": round(weighted.confidence, 6) if weighted else None,
            "reason": reply.parsed.reason.strip()[:400],
        }
        if reply.attempts > 1:
            details["attempts"] = reply.attempts
        return Score(weighted.value if weighted else float(raw), details)


def _scale(value: Any) -> tuple[int, int]:
    if value is None:
        return 1, 5
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not value[0] < value[1]
        or value[1] - value[0] > 100
    ):
        raise ValueError(f"scale must be [lo, hi] with integers lo < hi, got {value!r}")
    return int(value[0]), int(value[1])


def _read(setup: ScoreSetup, path: Any, what: str) -> str:
    if not isinstance(path, str) or not path:
        raise ValueError(f"option {what!r} must be the path of a file in the repository")
    if not setup.tree.exists(path):
        raise ValueError(f"{what} file {setup.tree.label(path)!r} not found")
    return setup.tree.read_text(path)


class RubricOptions(MetricOptions):
    rubric: Any = None
    """The Markdown rubric's path (required; the factory says so, as it reads the file)."""
    scale: Annotated[tuple[int, int], BeforeValidator(_scale)] = (1, 5)
    steps: Any = None
    """A file of evaluation steps; without it G-Eval steps are generated and frozen."""
    judge: Any = None
    """A model config path for this metric's judge; checked by ``resolve_judge``."""
    logprobs: StrictBool = True


@register("llm_rubric", options=RubricOptions)
def build_rubric(metric: MetricConfig, setup: ScoreSetup, options: RubricOptions) -> RubricScorer:
    if options.rubric is None:
        raise ValueError("needs 'rubric: <path to a Markdown rubric>'")
    rubric = _read(setup, options.rubric, "rubric")
    if not rubric.strip():
        raise ValueError(f"rubric file {options.rubric!r} is empty")
    steps = None
    if options.steps is not None:
        steps = _parse_user_steps(_read(setup, options.steps, "steps"))
        if not steps:
            raise ValueError(f"steps file {options.steps!r} lists no step")
    logprobs = options.logprobs
    judge = resolve_judge(metric, setup)
    # Without an explicit artefact directory, freeze the steps next to the response cache.
    cache = getattr(judge.runner, "cache", None)
    steps_dir = setup.cache_dir or (Path(cache.root) if cache is not None else None)
    return RubricScorer(
        metric.name,
        judge=judge,
        rubric=rubric,
        rubric_path=options.rubric,
        scale=options.scale,
        steps=steps,
        steps_path=options.steps,
        steps_dir=steps_dir,
        steps_secret=getattr(cache, "secret", None),
        logprobs=logprobs,
    )
