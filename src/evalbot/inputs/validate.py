"""``evalbot validate``: check the config, prompts, models, golden sets and metrics, no model call.

Every problem is collected (not just the first), each as a one-line ``UserError`` naming the file,
the line and the fix; the CLI prints the report and exits 2 when there is any problem.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from evalbot.errors import EXIT_OK, EXIT_USAGE, ConfigError, InputError, UserError, Where
from evalbot.inputs.config import (
    BUILTIN_METRICS,
    EvalbotConfig,
    MetricConfig,
    SuiteConfig,
    load_config,
    load_model_config,
)
from evalbot.inputs.golden import GoldenSet, load_golden
from evalbot.inputs.render import PromptTemplate, load_prompt
from evalbot.inputs.tree import FileTree
from evalbot.records import Example
from evalbot.score import ScoreSetup, build_scorer, check_judge_metric, metric_type
from evalbot.score.base import unknown_type_hint
from evalbot.score.builtins import builtin_scorers

__all__ = ["SuiteReport", "ValidationReport", "format_report", "validate"]

BUILTIN_SCORED = tuple(s.name for s in builtin_scorers())
_MAX_PER_CHECK = 5


@dataclass
class SuiteReport:
    name: str
    prompt: str
    model: str
    dataset: str
    samples: int
    examples: int | None = None
    """None when the golden set could not be loaded."""
    variables: list[str] = field(default_factory=list)
    """Placeholders the prompt uses."""
    metrics: list[str] = field(default_factory=list)
    """``name (type)`` of each configured metric; the built-ins come on top."""
    model_id: str = ""
    problems: list[UserError] = field(default_factory=list)


@dataclass
class ValidationReport:
    config_path: str
    suites: list[SuiteReport] = field(default_factory=list)
    config_problems: list[UserError] = field(default_factory=list)
    """Problems outside any one suite: the config file itself, the default judge."""

    @property
    def problems(self) -> list[UserError]:
        return self.config_problems + [p for s in self.suites for p in s.problems]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return EXIT_OK if self.ok else EXIT_USAGE


def validate(tree: FileTree, config_path: str = "evalbot.yml") -> ValidationReport:
    """Check everything a run needs, without calling a model or running the user's code.

    Problems are collected, never raised: see ``ValidationReport.problems`` and ``exit_code``.
    """
    label = tree.label(config_path)
    report = ValidationReport(config_path=label)
    try:
        config = load_config(tree, config_path)
    except UserError as exc:
        report.config_problems.append(exc)
        return report
    checker = _Checker(tree, config, label, tree.read_text(config_path))
    if config.judge is not None:
        checker.model(config.judge.model, report.config_problems)
    report.suites = [checker.suite(suite) for suite in config.suites]
    return report


class _Checker:
    def __init__(self, tree: FileTree, config: EvalbotConfig, label: str, text: str) -> None:
        self.tree = tree
        self.config = config
        self.label = label
        self.text = text
        self.models: dict[str, UserError | None] = {}

    def model(self, path: str, problems: list[UserError]) -> str:
        """Check a model config once per path; returns a short description."""
        try:
            model, _ = load_model_config(self.tree, path)
        except UserError as exc:
            if path not in self.models:
                problems.append(exc)
            self.models[path] = exc
            return ""
        first = path not in self.models
        self.models[path] = None
        if first and model.target:  # the python provider's module:function
            problems += _python_target(self.tree, path, model.target)
        return f"{model.provider} {model.model or model.target or ' '.join(model.command or [])}"

    def suite(self, suite: SuiteConfig) -> SuiteReport:
        report = SuiteReport(
            name=suite.name,
            prompt=suite.prompt,
            model=suite.model,
            dataset=suite.dataset,
            samples=suite.samples,
            metrics=[f"{m.name} ({m.type})" for m in suite.metrics],
        )
        problems = report.problems
        prompt = _attempt(lambda: load_prompt(self.tree, suite.prompt), problems)
        report.model_id = self.model(suite.model, problems)
        golden: GoldenSet | None = _attempt(lambda: load_golden(self.tree, suite.dataset), problems)
        if prompt is not None:
            report.variables = sorted(prompt.variables)
        examples = golden.examples if golden is not None else []
        if golden is not None:
            report.examples = len(examples)
        if prompt is not None:
            problems += _per_example(examples, _render_check(prompt))
        for metric in suite.metrics:
            problems += self.metric(suite, metric, examples)
        problems += self.watch(suite)
        return report

    def metric(
        self, suite: SuiteConfig, metric: MetricConfig, examples: list[Example]
    ) -> list[UserError]:
        line = self.line_of(suite.name, rf"name:\s*['\"]?{re.escape(metric.name)}['\"]?\s*[,}}\n]")
        at: Where = {"file": self.label, "line": line}
        if metric.name in BUILTIN_METRICS:
            return [
                ConfigError(
                    f"suite {suite.name!r}: metric name {metric.name!r} is a built-in",
                    **at,
                    hint="rename the metric; built-ins are always measured",
                )
            ]
        known = metric_type(metric.type)  # its scorer module is imported only to build it
        if known is not None and not known.needs_judge:
            try:
                scorer = build_scorer(metric, ScoreSetup(tree=self.tree), where=self.label)
            except UserError as exc:
                return [type(exc)(exc.message, **at, hint=exc.hint)]
            check = getattr(scorer, "check", None)
            if check is None:
                return []

            def located(example: Example) -> None:
                try:
                    check(example)
                except UserError as exc:
                    raise type(exc)(exc.message, **at, hint=exc.hint) from None

            return _per_example(examples, located)
        if known is None:
            return [
                ConfigError(
                    f"metric {metric.name!r}: unknown type {metric.type!r}",
                    **at,
                    hint=unknown_type_hint(metric.type),
                )
            ]
        return self.judged(suite, metric, at)

    def judged(self, suite: SuiteConfig, metric: MetricConfig, at: Where) -> list[UserError]:
        """LLM-graded metrics: the judge config and the rubric file must exist; nothing is sent."""
        problems: list[UserError] = []
        judge = self.config.judge_for(suite)
        if judge is None:
            problems.append(
                ConfigError(
                    f"metric {metric.name!r} ({metric.type}) needs a judge model",
                    **at,
                    hint="add 'judge: {model: models/judge.yaml}' at the top level or to the suite",
                )
            )
        else:
            self.model(judge.model, problems)
        rubric = metric.options.get("rubric")
        if isinstance(rubric, str) and not self.tree.exists(rubric):
            problems.append(
                InputError(
                    "rubric file not found",
                    file=self.tree.label(rubric),
                    hint=f"check option 'rubric' of metric {metric.name!r} in {self.label}",
                )
            )
            return problems
        try:  # the factory's own option checks, exactly as a run builds the scorer
            check_judge_metric(metric, self.tree, where=self.label)
        except UserError as exc:
            problems.append(type(exc)(exc.message, **at, hint=exc.hint))
        return problems

    def watch(self, suite: SuiteConfig) -> list[UserError]:
        problems: list[UserError] = []
        for glob in suite.watch:
            problem = _glob_problem(glob)
            if problem:
                problems.append(
                    ConfigError(
                        f"suite {suite.name!r}: watch glob {glob!r} {problem[0]}",
                        file=self.label,
                        line=self.line_of(suite.name, re.escape(glob)),
                        hint=problem[1],
                    )
                )
        return problems

    def line_of(self, suite_name: str, pattern: str) -> int | None:
        """Best-effort line of ``pattern`` after the suite's ``name:`` line in evalbot.yml."""
        start = re.search(
            rf"name:\s*['\"]?{re.escape(suite_name)}['\"]?\s*$", self.text, re.MULTILINE
        )
        begin = start.start() if start else 0
        match = re.compile(pattern).search(self.text, begin)
        if match is None:
            return self.text.count("\n", 0, begin) + 1 if start else None
        return self.text.count("\n", 0, match.start()) + 1


def _python_target(tree: FileTree, path: str, target: str) -> list[UserError]:
    from evalbot.inputs.python_target import target_problem

    problem = target_problem(tree, target)
    if problem is None:
        return []
    hint = "set target to module:function importable from the repository root, e.g. "
    hint += "app.answer:reply for def reply(payload) in app/answer.py"
    return [ConfigError(problem, file=tree.label(path), hint=hint)]


def _attempt(load: Callable[[], Any], problems: list[UserError]) -> Any:
    try:
        return load()
    except UserError as exc:
        problems.append(exc)
        return None


def _render_check(prompt: PromptTemplate) -> Callable[[Example], None]:
    def check(example: Example) -> None:
        prompt.render(example)

    return check


def _per_example(examples: Iterable[Example], check: Callable[[Example], None]) -> list[UserError]:
    """Run ``check`` on every example; one error per distinct problem, with a count."""
    first: dict[tuple[Any, ...], UserError] = {}
    counts: dict[tuple[Any, ...], int] = {}
    for example in examples:
        try:
            check(example)
        except UserError as exc:
            key = (type(exc), exc.file, exc.line, exc.hint)
            first.setdefault(key, exc)
            counts[key] = counts.get(key, 0) + 1
    out: list[UserError] = []
    for key, error in list(first.items())[:_MAX_PER_CHECK]:
        more = counts[key] - 1
        message = error.message + (f" (and {more} more example{'s' * (more > 1)})" if more else "")
        out.append(type(error)(message, file=error.file, line=error.line, hint=error.hint))
    return out


def _glob_problem(glob: str) -> tuple[str, str] | None:
    """Why a ``watch`` glob can never match (as detect.glob_match reads it), with the fix."""
    if not glob.strip():
        return "is empty", "remove it"
    if glob.startswith("/") or re.match(r"^[A-Za-z]:", glob):
        return "is absolute", "write it relative to the repository root, e.g. src/app/**"
    if "\\" in glob:
        return "uses backslashes", "use forward slashes"
    if ".." in glob.split("/"):
        return "leaves the repository", "remove the '..' part"
    if re.search(r"\{[^}]*,[^}]*\}", glob):
        return "uses {a,b} alternatives", "list one glob per alternative"
    if "[" in glob and "]" in glob:
        return "uses [...] character classes", "list the paths, or use * and ?"
    if "***" in glob:
        return "has '***'", "use ** to cross directories"
    return None


def format_report(report: ValidationReport) -> str:
    """The terminal report: one line per suite, then one line per problem, then the verdict."""
    lines: list[str] = []
    if report.suites:
        lines.append(f"{report.config_path}: {len(report.suites)} suite(s)")
    for suite in report.suites:
        status = "ok   " if not suite.problems else "error"
        count = "?" if suite.examples is None else str(suite.examples)
        variables = ", ".join(suite.variables) or "none"
        metrics = ", ".join(suite.metrics) or "none"
        model = f"{suite.model} ({suite.model_id})" if suite.model_id else suite.model
        lines += [
            f"  {status} {suite.name}: {count} examples x {suite.samples} sample(s)",
            f"        prompt {suite.prompt} (variables: {variables})",
            f"        model {model}; golden set {suite.dataset}",
            f"        metrics: {metrics}; built-ins: {', '.join(BUILTIN_SCORED)}",
        ]
    problems = report.problems
    lines += [f"error: {problem}" for problem in problems]
    if problems:
        lines.append(f"{len(problems)} problem(s) found; fix them and run evalbot validate again")
    else:
        lines.append("valid: no problems found (no model was called)")
    return "\n".join(lines)
