"""Claim-level RAG metrics: ``faithfulness``, ``answer_relevance``, ``context_precision`` and
``context_recall`` (formulas after Ragas and DeepEval; see docs/judges.md).

Every metric is a ratio per output, kept with its counts in the details. A ratio with nothing to
count (an answer with no claims, no useful passage) is ``None``: undefined, never a free 1.0,
because an answer that says nothing must not "improve" faithfulness (statistics spec S8).

The retrieved passages are ``example.context`` from the golden set, or, with ``context_key``,
the list under that key of an output that is a JSON object (an app that returns what it
retrieved); ``answer_key`` likewise picks the answer text out of such an output.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationInfo,
    field_validator,
)

from evalbot.inputs.config import MetricConfig
from evalbot.parsing import ParseProblem, load_json
from evalbot.records import Completion, Example, MetricKind
from evalbot.score.base import MetricOptions, Score, ScoreSetup, register
from evalbot.score.judge_io import (
    Judge,
    ask_judge,
    expected_text,
    fence,
    load_prompt,
    optional_fence,
    resolve_judge,
)

__all__ = [
    "AnswerRagOptions",
    "AnswerRelevanceScorer",
    "ContextPrecisionScorer",
    "ContextRecallScorer",
    "FaithfulnessScorer",
    "RagOptions",
    "build_rag",
    "context_precision",
]

MAX_ITEMS = 40
"""Claims or statements judged per output; longer lists are cut (and the cut is reported)."""


class _Claims(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    claims: list[str] = Field(default_factory=list)


class _Statements(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    statements: list[str] = Field(default_factory=list)


class _Verdict(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    reason: str = ""
    verdict: Literal["yes", "no", "idk"]

    @field_validator("verdict", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


class _Verdicts(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    verdicts: list[_Verdict]


class _Useful(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)
    reason: str = ""
    verdict: Literal["yes", "no"]

    @field_validator("verdict", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


def context_precision(useful: list[bool]) -> float | None:
    """Ragas: Σₖ precision@k·vₖ / Σₖ vₖ over passages in retrieval order; None if none useful."""
    hits, total = 0, 0.0
    for k, v in enumerate(useful, 1):
        if v:
            hits += 1
            total += hits / k
    return total / hits if hits else None


def _numbered(items: list[str]) -> str:
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


def _passages(context: list[str]) -> str:
    return "\n\n".join(f"[{i}] {passage}" for i, passage in enumerate(context, 1))


class _RagScorer:
    kind = MetricKind.CONTINUOUS
    higher_is_better = True
    needs_context = True
    idk_counts = False
    """Whether an "idk" verdict counts in the numerator."""

    def __init__(
        self,
        name: str,
        *,
        judge: Judge,
        question_var: str = "question",
        answer_key: str | None = None,
        context_key: str | None = None,
        idk_counts: bool | None = None,
    ) -> None:
        self.name = name
        self.judge = judge
        self.question_var = question_var
        self.answer_key = answer_key
        self.context_key = context_key
        if idk_counts is not None:
            self.idk_counts = idk_counts

    def _question(self, example: Example) -> str | None:
        value = example.vars.get(self.question_var)
        if value is None or value == "":
            return None
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    def _unpack(self, output: Completion) -> tuple[str, list[str] | None, str | None]:
        """(answer, context from the output or None, error)."""
        text = output.text or ""
        if self.answer_key is None and self.context_key is None:
            return text, None, None
        try:
            data = load_json(text)
        except ParseProblem:
            data = None
        if not isinstance(data, dict):
            return text, None, "the output is not a JSON object (answer_key/context_key are set)"
        answer = text
        if self.answer_key is not None:
            value = data.get(self.answer_key)
            if not isinstance(value, str):
                return text, None, f"the output has no string {self.answer_key!r}"
            answer = value
        context = None
        if self.context_key is not None:
            value = data.get(self.context_key)
            if not isinstance(value, list):
                return answer, None, f"the output has no list {self.context_key!r}"
            context = [str(p) for p in value]
        return answer, context, None

    async def _extract(
        self, prompt: str, text: str, question: str | None
    ) -> tuple[list[str] | None, str | None, bool]:
        """Claims or statements of ``text``: (items, error, truncated)."""
        schema: type[_Claims] | type[_Statements] = _Claims if prompt == "claims" else _Statements
        messages = load_prompt(prompt).render(
            question=optional_fence("question", question), text=fence("text", text)
        )
        reply = await ask_judge(self.judge, messages, schema)
        if reply.parsed is None:
            return None, reply.error, False
        raw = reply.parsed.claims if isinstance(reply.parsed, _Claims) else reply.parsed.statements
        items = [item.strip() for item in raw if item.strip()]
        return items[:MAX_ITEMS], None, len(items) > MAX_ITEMS

    async def _verdicts(
        self, prompt: str, items: list[str], **values: str
    ) -> tuple[list[_Verdict] | None, str | None]:
        key = "claims" if prompt == "claim_verdicts" else "statements"
        messages = load_prompt(prompt).render(
            **values, **{key: fence(key, _numbered(items))}, count=str(len(items))
        )

        def same_length(reply: _Verdicts) -> str | None:
            if len(reply.verdicts) != len(items):
                return f"expected {len(items)} verdicts, got {len(reply.verdicts)}"
            return None

        reply = await ask_judge(self.judge, messages, _Verdicts, check=same_length)
        return (reply.parsed.verdicts if reply.parsed else None), reply.error

    def _counts(self, verdicts: list[_Verdict]) -> tuple[int, dict[str, int]]:
        tally = {v: sum(1 for x in verdicts if x.verdict == v) for v in ("yes", "no", "idk")}
        return tally["yes"] + (tally["idk"] if self.idk_counts else 0), tally

    async def score(self, example: Example, output: Completion) -> Score:
        if not output.ok:
            return Score(None, {"error": "the output errored; not judged"})
        answer, output_context, error = self._unpack(output)
        if error:
            return Score(None, {"error": error})
        context = output_context if self.context_key else example.context
        if self.needs_context and not context:
            return Score(None, {"note": "no context for this example; metric undefined"})
        return await self._score(example, answer, context or [])

    async def _score(self, example: Example, answer: str, context: list[str]) -> Score:
        raise NotImplementedError


class FaithfulnessScorer(_RagScorer):
    """Share of the answer's claims supported by the context ("idk" = unsupported by default)."""

    async def _score(self, example: Example, answer: str, context: list[str]) -> Score:
        claims, error, cut = await self._extract("claims", answer, self._question(example))
        if claims is None:
            return Score(None, {"error": error})
        if not claims:
            return Score(None, {"total": 0, "note": "the answer makes no claim: undefined"})
        verdicts, error = await self._verdicts(
            "claim_verdicts", claims, context=fence("context", _passages(context))
        )
        if verdicts is None:
            return Score(None, {"error": error, "total": len(claims)})
        supported, tally = self._counts(verdicts)
        unsupported = [c for c, v in zip(claims, verdicts, strict=True) if v.verdict == "no"]
        return Score(
            supported / len(claims),
            {
                "supported": supported,
                "total": len(claims),
                "contradicted": tally["no"],
                "unknown": tally["idk"],
                "contradicted_claims": [c[:200] for c in unsupported[:5]],
                **({"truncated": True} if cut else {}),
            },
        )


class AnswerRelevanceScorer(_RagScorer):
    """Share of the answer's statements relevant to the question ("idk" counts as relevant)."""

    needs_context = False
    idk_counts = True

    async def _score(self, example: Example, answer: str, context: list[str]) -> Score:
        question = self._question(example)
        if question is None:
            return Score(None, {"note": f"no {self.question_var!r} variable; metric undefined"})
        statements, error, cut = await self._extract("statements", answer, question)
        if statements is None:
            return Score(None, {"error": error})
        if not statements:
            return Score(None, {"total": 0, "note": "the answer makes no statement: undefined"})
        verdicts, error = await self._verdicts(
            "relevance_verdicts", statements, question=fence("question", question)
        )
        if verdicts is None:
            return Score(None, {"error": error, "total": len(statements)})
        relevant, tally = self._counts(verdicts)
        off_topic = [s for s, v in zip(statements, verdicts, strict=True) if v.verdict == "no"]
        return Score(
            relevant / len(statements),
            {
                "relevant": relevant,
                "total": len(statements),
                "irrelevant": tally["no"],
                "irrelevant_statements": [s[:200] for s in off_topic[:5]],
                **({"truncated": True} if cut else {}),
            },
        )


class ContextPrecisionScorer(_RagScorer):
    """Ragas context precision of the retrieved passages against ``expected``."""

    async def _useful(self, question: str | None, reference: str, passage: str) -> _Useful | str:
        messages = load_prompt("context_useful").render(
            question=optional_fence("question", question),
            reference=fence("reference", reference),
            passage=fence("passage", passage),
        )
        reply = await ask_judge(self.judge, messages, _Useful)
        return reply.parsed if reply.parsed is not None else str(reply.error)

    async def _score(self, example: Example, answer: str, context: list[str]) -> Score:
        reference = expected_text(example)
        if reference is None:
            return Score(None, {"note": "no expected answer for this example; metric undefined"})
        question = self._question(example)
        import asyncio  # here, not at import: `validate` builds scorers but never awaits one

        replies = await asyncio.gather(*(self._useful(question, reference, p) for p in context))
        errors = [r for r in replies if isinstance(r, str)]
        if errors:
            return Score(None, {"error": errors[0], "total": len(context)})
        useful = [r.verdict == "yes" for r in replies if isinstance(r, _Useful)]
        value = context_precision(useful)
        details = {
            "useful": sum(useful),
            "total": len(useful),
            "verdicts": [int(u) for u in useful],
        }
        if value is None:
            details["note"] = "no retrieved passage is useful: undefined"
        return Score(value, details)


class ContextRecallScorer(_RagScorer):
    """Share of the claims of ``expected`` attributable to the retrieved passages."""

    async def _score(self, example: Example, answer: str, context: list[str]) -> Score:
        reference = expected_text(example)
        if reference is None:
            return Score(None, {"note": "no expected answer for this example; metric undefined"})
        claims, error, cut = await self._extract("claims", reference, self._question(example))
        if claims is None:
            return Score(None, {"error": error})
        if not claims:
            return Score(None, {"total": 0, "note": "the expected answer makes no claim"})
        verdicts, error = await self._verdicts(
            "claim_verdicts", claims, context=fence("context", _passages(context))
        )
        if verdicts is None:
            return Score(None, {"error": error, "total": len(claims)})
        attributable, _ = self._counts(verdicts)
        return Score(
            attributable / len(claims),
            {
                "attributable": attributable,
                "total": len(claims),
                **({"truncated": True} if cut else {}),
            },
        )


_KINDS: dict[str, type[_RagScorer]] = {
    "faithfulness": FaithfulnessScorer,
    "answer_relevance": AnswerRelevanceScorer,
    "context_precision": ContextPrecisionScorer,
    "context_recall": ContextRecallScorer,
}


def _nonempty(value: Any, info: ValidationInfo) -> str | None:
    if value is not None and not (isinstance(value, str) and value):
        raise ValueError(f"option {info.field_name!r} must be a non-empty string")
    return value


_Key = Annotated[str | None, BeforeValidator(_nonempty)]


class RagOptions(MetricOptions):
    """``context_precision`` and ``context_recall``."""

    judge: Any = None
    """A model config path for this metric's judge; checked by ``resolve_judge``."""
    question_var: _Key = None
    answer_key: _Key = None
    context_key: _Key = None


class AnswerRagOptions(RagOptions):
    """``faithfulness`` and ``answer_relevance``: they also judge "I don't know" answers."""

    idk_counts: StrictBool | None = None


def build_rag(metric: MetricConfig, setup: ScoreSetup, options: RagOptions) -> _RagScorer:
    return _KINDS[metric.type](
        metric.name,
        judge=resolve_judge(metric, setup),
        question_var=options.question_var or "question",
        answer_key=options.answer_key,
        context_key=options.context_key,
        idk_counts=options.idk_counts if isinstance(options, AnswerRagOptions) else None,
    )


register("faithfulness", "answer_relevance", options=AnswerRagOptions)(build_rag)
register("context_precision", "context_recall", options=RagOptions)(build_rag)
