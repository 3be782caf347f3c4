"""Pydantic records: the contracts passed between pipeline stages and written to results.json.

Stages (config, detect, render, run, score, stats, report, publish) import these records and
``errors``, never each other's internals. Every record is frozen so a stage cannot mutate what an
earlier one produced.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_serializer, field_validator

from evalbot.parsing import scrub_surrogates

__all__ = [
    "AbsoluteCheck",
    "Completion",
    "DriftResult",
    "ErrorReason",
    "Example",
    "Flakiness",
    "GateStatus",
    "Message",
    "MetricComparison",
    "MetricInfo",
    "MetricKind",
    "MetricValue",
    "ModelRequest",
    "OutputsFile",
    "Record",
    "RunResult",
    "SequentialRun",
    "SideRun",
    "SliceResult",
    "SuiteResult",
    "SuiteStatus",
    "TokenLogprob",
    "Trend",
    "Usage",
    "Verdict",
]


class Record(BaseModel):
    # defer_build: a record's validator is built the first time it is used, so a command that
    # never builds a given record (most of them, on --version or validate) does not pay for it.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


# ---------------------------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------------------------


class Message(Record):
    role: Literal["system", "user", "assistant", "developer"]
    content: str


class Example(Record):
    """One golden example. Reserved keys are lifted out; every other key is a template variable."""

    id: str
    """Stable pairing key; derived from a hash of the content when the file gives none."""
    vars: dict[str, Any] = Field(default_factory=dict)
    """Template variables: every non-reserved key of the row."""
    expected: Any = None
    group: str | None = None
    """Cluster for standard errors (e.g. a conversation or a source document)."""
    context: list[str] | None = None
    """Retrieved passages, for RAG metrics."""
    metadata: dict[str, Any] = Field(default_factory=dict)
    line: int | None = None
    """1-based line (JSONL/CSV) or item index (YAML) in the golden-set file, for error messages."""
    slices: list[str] = Field(default_factory=list)
    """Slices of the golden set the example is in (its ``slice`` and ``tags``)."""


# ---------------------------------------------------------------------------------------------
# Model calls
# ---------------------------------------------------------------------------------------------


class ModelRequest(Record):
    """One generation request. Everything that determines the response is in here, so a hash of
    it (plus the provider's code version, for ``python``/``exec``) is the cache key."""

    provider: str
    """A registered provider kind (the model config it was built from was checked)."""
    model: str
    params: dict[str, Any] = Field(default_factory=dict)
    messages: list[Message]
    sample: int = 0
    """Index of the repeated generation (0..samples-1); part of the cache key."""
    vars: dict[str, Any] = Field(default_factory=dict)
    """The example's variables, passed to ``python``/``exec`` providers (the user's own app)."""
    code_version: str | None = None
    """For ``python``/``exec``: git tree id of the side whose code answers; None = uncacheable."""
    purpose: Literal["generate", "judge"] = "generate"
    """Judge calls are counted separately from the system under test."""


class TokenLogprob(Record):
    token: str
    logprob: float


class Completion(Record):
    """The answer to one ModelRequest, or the error that replaced it."""

    text: str | None = None
    error: str | None = None
    """Set when the call failed after retries; the example is then excluded, never scored."""
    input_tokens: int = 0
    output_tokens: int = 0
    latency_ms: float | None = None
    """Latency of the original call (a cache hit keeps the recorded latency)."""
    cost_usd: float | None = None
    cached: bool = False
    response_model: str | None = None
    """Model id the endpoint reported, for provenance."""
    top_logprobs: list[list[TokenLogprob]] | None = None
    """Per output token, the top alternatives, when the endpoint returns logprobs."""

    @field_validator("text", "error")
    @classmethod
    def _no_lone_surrogates(cls, value: str | None) -> str | None:
        # A model can answer "\ud800" (valid JSON, not encodable as UTF-8): results.json and
        # the comment could not be written. Replaced by U+FFFD, the text is still scored.
        return scrub_surrogates(value) if value is not None else None

    @property
    def ok(self) -> bool:
        return self.error is None and self.text is not None


class Usage(Record):
    requests: int = 0
    """Completions used (cache hits included)."""
    sent: int = 0
    """Requests actually sent to a provider."""
    cache_hits: int = 0
    errors: int = 0
    input_tokens: int = 0
    """Tokens and cost include the recorded figures of cache hits: what the evaluation uses;
    ``sent`` and ``cache_hits`` tell what was actually spent this time."""
    output_tokens: int = 0
    cost_usd: float = 0.0
    """Cost of the evaluated calls: what the answers used cost, cached ones included."""
    spent_usd: float = 0.0
    """Spent this run: the cost of the calls actually sent (cache hits cost nothing now)."""
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None

    _COUNTS: ClassVar[tuple[str, ...]] = (
        "requests", "sent", "cache_hits", "errors", "input_tokens", "output_tokens",
    )  # fmt: skip

    @classmethod
    def total(cls, usages: Iterable[Usage]) -> Usage:
        """Counts, tokens and cost added up; latency percentiles do not add, so none is set."""
        items = list(usages)
        counts = {f: sum(getattr(u, f) for u in items) for f in cls._COUNTS}
        return cls(
            **counts,
            cost_usd=sum(u.cost_usd for u in items),
            spent_usd=sum(u.spent_usd for u in items),
        )

    def since(self, before: Usage) -> Usage:
        """What was used between a snapshot ``before`` and this later one of the same counter."""
        counts = {f: getattr(self, f) - getattr(before, f) for f in self._COUNTS}
        return Usage(
            **counts,
            cost_usd=self.cost_usd - before.cost_usd,
            spent_usd=self.spent_usd - before.spent_usd,
        )


# ---------------------------------------------------------------------------------------------
# Scores, comparisons, verdicts
# ---------------------------------------------------------------------------------------------


class MetricKind(StrEnum):
    """Chooses the paired test (see evalbot.stats)."""

    BINARY = "binary"
    """0/1 pass-fail per sample: exact unconditional score test and its inversion (K=1),
    sign-flip and betting tests otherwise."""
    CONTINUOUS = "continuous"
    """Scores and ordinal judge grades: sign-flip permutation and betting tests, inverted."""
    HEAVY_TAILED = "heavy_tailed"
    """Latency, cost, tokens: Wilcoxon signed-rank (Pratt) + Hodges–Lehmann interval."""
    PAIRWISE = "pairwise"
    """Per-example head-vs-base preference in {-1, 0, +1}: exact unconditional test on wins vs
    losses, inverted for the win-rate interval."""


class Verdict(StrEnum):
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    """Shown non-inferior: the lower confidence bound of Δ is above −max_drop."""
    INCONCLUSIVE = "inconclusive"
    """Neither shown worse than the margin nor shown non-inferior."""
    REGRESSED = "regressed"
    NOT_COMPARED = "n/a"
    """No base side (new suite), or nothing left to compare."""


class GateStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WARN = "warn"
    """Inconclusive blocking metric with ``on_inconclusive: warn``."""
    INFO = "info"
    """Not a blocking metric."""
    ERROR = "error"
    """Past ``max_error_rate``."""


class MetricComparison(Record):
    """The paired comparison of one metric between base and head (produced by evalbot.stats).

    Deltas are head − base in the metric's own units; ``higher_is_better`` says which way is good.
    Intervals are two-sided at 1 − 2α, so each end is a one-sided (1 − α) bound.
    """

    metric: str
    kind: MetricKind
    higher_is_better: bool = True
    test: str
    """Name of the test shown in the comment, e.g. "exact unconditional score test"."""
    interval_method: str = ""
    n: int
    """Examples compared (pairs with a value on both sides)."""
    n_dropped: int = 0
    """Examples dropped because either side was NaN (errors, undefined scores)."""
    n_discordant: int | None = None
    samples: int = 1
    clusters: int | None = None
    base_mean: float | None = None
    head_mean: float | None = None
    delta: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    confidence: float = 0.90
    p_value: float | None = None
    """One-sided p for H0: δ ≥ −max_drop (in the good direction), i.e. evidence of regression."""
    p_two_sided: float | None = None
    """Two-sided p for H0: δ = 0 (shown in the comment's p column)."""
    p_adjusted: float | None = None
    """Holm-adjusted regression p (blocking metrics) or BH q-value (informational)."""
    max_drop: float = 0.0
    mde: float | None = None
    """Minimum detectable effect (in metric units) at 80 % power for this n and variance."""
    verdict: Verdict = Verdict.INCONCLUSIVE
    blocking: bool = False
    gate: GateStatus = GateStatus.INFO
    notes: list[str] = Field(default_factory=list)
    """Caveats shown beside the row: small n, approximate interval, single cluster, …"""
    extra: dict[str, Any] = Field(default_factory=dict)
    """Test-specific figures: b/c counts, win/tie/loss, position consistency, …"""

    @field_serializer(
        "base_mean",
        "head_mean",
        "delta",
        "ci_low",
        "ci_high",
        "p_value",
        "p_two_sided",
        "p_adjusted",
        "mde",
    )
    def _finite_or_none(self, value: float | None) -> float | None:
        # JSON has no NaN/inf; results.json must stay strictly parseable.
        if value is None or not math.isfinite(value):
            return None
        return value


class AbsoluteCheck(Record):
    """A ``min`` / ``max`` threshold checked on one side's aggregate value."""

    metric: str
    bound: Literal["min", "max"]
    limit: float
    value: float | None
    passed: bool
    note: str = ""


class MetricInfo(Record):
    name: str
    kind: MetricKind
    higher_is_better: bool = True
    type: str = ""
    """The metric's type in evalbot.yml (``contains``, ``llm_rubric``, built-in …)."""


class ErrorReason(Record):
    """One distinct reason a side's model calls failed, how often, and one example it hit."""

    reason: str
    calls: int
    example: str


class SideRun(Record):
    """Everything one side (base or head) produced for one suite."""

    side: Literal["base", "head"]
    rev: str
    """The revision as given (e.g. ``main``) or ``WORKTREE``."""
    sha: str | None
    prompt_path: str
    prompt_sha256: str
    model_path: str
    model_sha256: str
    model: str
    provider: str
    served_by: list[str] = Field(default_factory=list)
    """Models that actually answered, most frequent first: a gateway's
    ``x-litellm-model-name`` header where present, else the response's ``model``."""
    example_ids: list[str]
    groups: list[str | None] = Field(default_factory=list)
    """Cluster (``group``) of each example, aligned with example_ids; kept so ``merge`` can
    recompute clustered statistics without the golden set."""
    positions: list[int] = Field(default_factory=list)
    """Index of each example in the whole golden set, aligned with example_ids: ``merge`` puts
    shards back in this order, so its sums run in the order of a single run's (same floats)."""
    outputs: list[list[Completion]]
    """outputs[i][k]: sample k of example i."""
    scores: dict[str, list[list[float | None]]]
    """scores[metric][i][k]: None for errored or undefined (NaN) scores."""
    score_details: dict[str, list[list[dict[str, Any]]]] = Field(default_factory=dict)
    """Per-score details kept for the report (judge reasons, claim counts, …)."""
    usage: Usage = Field(default_factory=Usage)
    judge_usage: Usage = Field(default_factory=Usage)
    error_rate: float = 0.0
    """Share of examples with a failed output or a failed judge call (the error budget's rate)."""
    judge_errors: int = 0
    """Examples whose outputs were fine but a judge call on them failed (counted in
    ``error_rate``)."""
    error_reasons: list[ErrorReason] = Field(default_factory=list)
    """The most frequent distinct reasons of failed calls (kept in results.json, whose
    ``outputs`` live in the outputs file); set when results are written."""
    error_reason_kinds: int = 0
    """How many distinct reasons there were in all (``error_reasons`` keeps the first few)."""


class MetricValue(Record):
    """One side's value of a metric with its interval, where there is no base to compare with
    (``evalbot run``, a new suite)."""

    metric: str
    kind: MetricKind
    higher_is_better: bool = True
    value: float | None = None
    low: float | None = None
    high: float | None = None
    confidence: float = 0.90
    n: int = 0
    """Examples with a value."""
    samples: int = 1
    method: str = ""
    """How the interval was computed: Wilson, t, cluster-robust t."""

    @field_serializer("value", "low", "high")
    def _finite_or_none(self, value: float | None) -> float | None:
        if value is None or not math.isfinite(value):
            return None
        return value


class SuiteStatus(StrEnum):
    EVALUATED = "evaluated"
    NEW = "new"
    """Suite added in the PR: head only, absolute thresholds only."""
    SKIPPED = "skipped"
    """No changed file affects it."""
    ERROR = "error"


class DriftResult(Record):
    """The head compared with the pinned ``gate.baseline`` (the drift budget), per suite."""

    baseline_rev: str
    baseline_sha: str
    n: int
    """Examples paired (the ids the head's golden set shares with the baseline's)."""
    n_head: int
    """Examples of the head's golden set in this run."""
    comparisons: list[MetricComparison] = Field(default_factory=list)
    """baseline → head, one per metric with ``max_total_drop``; margin = ``max_total_drop``."""
    gate: GateStatus = GateStatus.PASS
    notes: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    judge_usage: Usage = Field(default_factory=Usage)
    budgets: dict[str, float] = Field(default_factory=dict)
    """Metric → ``max_total_drop`` as applied (the stricter of base and head in the action)."""
    example_ids: list[str] = Field(default_factory=list)
    scores: dict[str, list[list[float | None]]] = Field(default_factory=dict)
    """The baseline side's scores of the budgeted metrics (``merge`` recomputes from these)."""


class SliceResult(Record):
    """One blocking metric on one slice of the golden set (``tags`` / ``slice`` of its rows)."""

    slice: str
    comparison: MetricComparison
    """head − base on the slice's examples; ``p_adjusted`` is Holm over the metric's slices."""
    named: bool = False
    """A ``metric@slice`` threshold names it: it gates (fails when regressed)."""
    flagged: bool = False
    """Regressed beyond its margin after the multiplicity adjustment."""


class Flakiness(Record):
    """How much each example's scores vary with identical inputs (several samples of one side).

    An example's score is the mean absolute difference between two of its samples (for a
    pass/fail metric: the chance that two runs on the same input disagree); only examples that
    varied are listed."""

    samples: int
    source: str
    """"this run", or the revision of main whose ``evalbot run --samples K`` recorded it."""
    n: int
    scores: dict[str, dict[str, float]] = Field(default_factory=dict)
    """metric → example id → score (> 0)."""
    discordance: dict[str, float] = Field(default_factory=dict)
    """metric → mean score over all examples: the share of examples expected to change outcome
    between two runs of the same prompt (the noise floor of the discordance)."""
    sd_delta: dict[str, float] = Field(default_factory=dict)
    """metric → SD of the per-example change between two single runs of the same prompt."""


class Trend(Record):
    """One metric's recent values on main (the data branch's history), for the sparkline."""

    metric: str
    values: list[float]
    """The last values recorded on main, oldest first."""
    shas: list[str] = Field(default_factory=list)
    head: float | None = None
    """This run's head value, on the same scale."""
    chart: str | None = None
    """Where the SVG trend chart is: a URL in the Action, else ``branch:path``."""


class SequentialRun(Record):
    """How a sequential (early-stopping) evaluation of one suite went."""

    unit: Literal["example", "group"] = "example"
    """What was drawn in the seeded random order: examples, or whole groups (clusters)."""
    units_evaluated: int = 0
    units_total: int = 0
    examples_evaluated: int = 0
    examples_total: int = 0
    batches: int = 0
    stopped_early: bool = False
    reason: str = ""
    decisions: dict[str, str] = Field(default_factory=dict)
    """Per blocking metric: "regressed", "within margin", or why it waited for the end."""
    requests_saved: int = 0
    """Model and judge requests the examples left out would have taken (at this run's rate)."""
    cost_saved_usd: float = 0.0
    """What those requests would have cost (at this run's cost per example, cache hits priced)."""


class SuiteResult(Record):
    name: str
    status: SuiteStatus
    triggers: list[str] = Field(default_factory=list)
    """Why it ran: changed paths, or reasons such as "suite definition changed", "--all"."""
    samples: int = 1
    base: SideRun | None = None
    head: SideRun | None = None
    comparisons: list[MetricComparison] = Field(default_factory=list)
    absolute: list[AbsoluteCheck] = Field(default_factory=list)
    gate: GateStatus = GateStatus.PASS
    notes: list[str] = Field(default_factory=list)
    flipped: list[str] = Field(default_factory=list)
    """Example ids whose blocking-metric score changed between the sides, worst first."""
    flipped_inputs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Template variables (and ``expected``) of the flipped examples, for the comment."""
    metrics: list[MetricInfo] = Field(default_factory=list)
    """Every compared metric with its kind and direction (so ``merge`` needs no config)."""
    thresholds: dict[str, dict[str, Any]] = Field(default_factory=dict)
    files: dict[str, str] = Field(default_factory=dict)
    """Provenance: path → sha256 of the golden set, rubrics and other head-side inputs."""
    drift: DriftResult | None = None
    """The head against ``gate.baseline`` (None when no baseline or drift budget is set)."""
    slices: list[SliceResult] = Field(default_factory=list)
    """Per-slice comparisons of the blocking metrics, worst first."""
    slice_members: dict[str, list[str]] = Field(default_factory=dict)
    """Slice → example ids (so ``merge`` can recompute the slices without the golden set)."""
    flakiness: Flakiness | None = None
    """This run's flakiness (samples > 1), for ``evalbot run --samples K`` on main to record."""
    trends: list[Trend] = Field(default_factory=list)
    """Main's recent values per metric (read from the history data branch)."""
    flaky: dict[str, float] = Field(default_factory=dict)
    """Example id → flakiness score, from this run's samples or main's record: a flip of such an
    example is marked "likely noise"."""
    judge_calibrations: list[dict[str, Any]] = Field(default_factory=list)
    """Judge calibration records checked for this suite, usable or stale, with their label
    pairs (``evalbot.pipeline.judge_calibration.CalibrationUse``): ``merge`` redoes the
    correction from them."""
    sequential: SequentialRun | None = None
    """Set when the suite was evaluated sequentially (``gate.sequential`` / ``--sequential``)."""
    values: list[MetricValue] = Field(default_factory=list)
    """Head-side value and interval of every metric when there is no base side (``run``, a
    new suite); empty when ``comparisons`` hold the paired figures."""
    flipped_outputs: dict[str, dict[str, Completion]] = Field(default_factory=dict, exclude=True)
    """side → example id → first sample of the flipped examples, read back from the outputs
    file for the report when the sides' ``outputs`` were not loaded. Never written."""


class OutputsFile(Record):
    """The per-example outputs file written next to results.json (format_version 2)."""

    name: str = "outputs.jsonl.gz"
    sha256: str
    """Of the compressed file: a file from another run, or altered, is refused."""
    rows: int
    """One row per suite, side and example."""
    decompressed_bytes: int
    """Decompressed size: a reader refuses a file that decompresses to more."""


class RunResult(Record):
    """results.json: everything, with provenance (format_version 2: every side's ``outputs``
    and ``score_details`` are in the outputs file instead, see ``evalbot.report.results_io``)."""

    schema_version: int = 1
    tool_version: str
    command: str
    created_at: str
    finished_at: str | None = None
    repo_root: str | None = None
    config_path: str
    config_sha256: str | None = None
    base_rev: str | None = None
    base_sha: str | None = None
    head_rev: str | None = None
    head_sha: str | None = None
    merge_base: str | None = None
    changed_files: list[str] = Field(default_factory=list)
    shard: str | None = None
    suites: list[SuiteResult] = Field(default_factory=list)
    verdict: Literal["pass", "fail", "neutral", "error"] = "pass"
    summary: str = ""
    alpha: float = 0.05
    seed: int = 0
    notes: list[str] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    judge_usage: Usage = Field(default_factory=Usage)
    gate_config: dict[str, Any] = Field(default_factory=dict)
    """alpha, on_inconclusive, max_error_rate as used (so ``merge`` and ``publish`` agree)."""
    format_version: int = 1
    """1: per-example outputs inline; 2: in ``outputs_file`` next to results.json."""
    outputs_file: OutputsFile | None = None
