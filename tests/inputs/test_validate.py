from __future__ import annotations

import pytest

from evalbot.errors import ConfigError, InputError
from evalbot.inputs.validate import format_report, validate
from evalbot.score import base

CONFIG = """\
version: 1
judge: {model: models/judge.yaml}
suites:
  - name: support
    prompt: prompts/support.yaml
    model: models/support.yaml
    dataset: evals/support.jsonl
    watch: ["src/support/**"]
    samples: 3
    metrics:
      - {name: correct, type: icontains, value: "{{expected}}"}
      - name: cites
        type: regex
        pattern: '\\[Policy §\\d+\\]'
      - {name: helpful, type: llm_rubric, rubric: rubrics/helpful.md, scale: [1, 5]}
    thresholds:
      correct: {min: 0.8, max_drop: 0.02}
      latency_p95_ms: {max: 4000}
  - name: triage
    prompt: prompts/classify.md
    model: models/support.yaml
    dataset: evals/tickets.csv
    metrics:
      - {name: valid, type: json_valid}
      - {name: schema_ok, type: json_schema, schema: schemas/triage.json}
"""

FILES = {
    "evalbot.yml": CONFIG,
    "prompts/support.yaml": (
        "messages:\n"
        "  - {role: system, content: Be helpful.}\n"
        "  - role: user\n"
        "    content: |\n"
        "      {{question}}\n"
        "      {{context}}\n"
    ),
    "prompts/classify.md": "Classify this ticket:\n{{ticket}}\n",
    "models/support.yaml": "provider: openai\nmodel: gpt-4o-mini\nparams: {temperature: 0}\n",
    "models/judge.yaml": "provider: openai\nmodel: gpt-4o\n",
    "evals/support.jsonl": (
        '{"id": "a", "question": "Q1", "expected": "30 days", "context": ["p"]}\n'
        '{"id": "b", "question": "Q2", "expected": "unworn", "context": "p2"}\n'
    ),
    "evals/tickets.csv": "id,ticket,expected\nt1,my order is late,shipping\n",
    "schemas/triage.json": '{"type": "object"}',
    "rubrics/helpful.md": "Is the answer helpful? 1-5.",
}


@pytest.fixture(autouse=True)
def judge_type(monkeypatch):
    """validate only needs ``llm_rubric`` to be a registered type (judges.py registers it)."""
    if "llm_rubric" not in base.registered_types():
        monkeypatch.setitem(base._REGISTRY, "llm_rubric", lambda metric, setup: None)


def check(make_tree, changes: dict[str, str | None] | None = None):
    """Validate FILES with some files replaced (a value of None deletes the file)."""
    files = {**FILES, **(changes or {})}
    return validate(make_tree({k: v for k, v in files.items() if v is not None}))


def messages(report) -> list[str]:
    return [str(p) for p in report.problems]


def test_good_config(make_tree):
    report = check(make_tree)
    assert messages(report) == []
    assert report.ok and report.exit_code == 0
    support, triage = report.suites
    assert (support.name, support.examples, support.samples) == ("support", 2, 3)
    assert support.variables == ["context", "question"]
    assert support.metrics == ["correct (icontains)", "cites (regex)", "helpful (llm_rubric)"]
    assert support.model_id == "openai gpt-4o-mini"
    assert (triage.examples, triage.variables) == (1, ["ticket"])
    text = format_report(report)
    assert text.splitlines()[0] == "evalbot.yml: 2 suite(s)"
    assert "ok    support: 2 examples x 3 sample(s)" in text
    assert "built-ins: latency_ms, output_tokens, cost_usd, error" in text
    assert text.endswith("valid: no problems found (no model was called)")


def test_missing_config(make_tree):
    report = validate(make_tree({}))
    assert report.exit_code == 2
    (problem,) = report.problems
    assert isinstance(problem, ConfigError)
    assert str(problem).startswith("evalbot.yml: config file not found (fix:")
    assert format_report(report).splitlines()[0].startswith("error: evalbot.yml")


def test_config_schema_error_has_line(make_tree):
    report = check(make_tree, {"evalbot.yml": CONFIG.replace("samples: 3", "sample: 3")})
    (problem,) = messages(report)
    assert problem.startswith("evalbot.yml:9: suites.0.sample: unknown key")


def test_placeholder_without_value__every_example_counted(make_tree):
    prompt = "Classify:\n{{ticket}} from {{channel}}\n"
    csv = "id,ticket\nt1,late\nt2,lost\nt3,broken\n"
    report = check(make_tree, {"prompts/classify.md": prompt, "evals/tickets.csv": csv})
    (problem,) = messages(report)
    assert problem == (
        "prompts/classify.md:2: placeholder {{channel}} has no value for example 't1' "
        "(and 2 more examples) (fix: add 'channel' to the golden set or remove the placeholder)"
    )
    assert report.exit_code == 2
    assert "error triage:" in format_report(report)


def test_problems_in_several_files_are_all_collected(make_tree):
    report = check(
        make_tree,
        {
            "evals/support.jsonl": '{"id": "a", "question": "Q1"}\n{"id": "a"\n',
            "models/support.yaml": "provider: python\nmodel: x\n",
            "schemas/triage.json": None,
        },
    )
    found = messages(report)
    assert len(found) == 3, found
    assert found[0].startswith("models/support.yaml: (top level): provider 'python' needs target")
    assert found[1].startswith("evals/support.jsonl:2: invalid JSON")
    assert found[2].startswith("evalbot.yml:25: metric 'schema_ok' (json_schema): schema file")
    assert "1 problem" not in format_report(report)
    assert format_report(report).endswith(
        "3 problem(s) found; fix them and run evalbot validate again"
    )


def test_metric_option_errors_point_at_the_metric_line(make_tree):
    config = CONFIG.replace(r"'\[Policy §\d+\]'", "'(unclosed'").replace(
        'value: "{{expected}}"', 'value: "{{answer}}"'
    )
    report = check(make_tree, {"evalbot.yml": config})
    correct, cites = report.problems
    assert isinstance(correct, InputError)
    assert str(correct) == (
        "evalbot.yml:11: metric 'correct' option 'value': placeholder {{answer}} has no value "
        "for example 'a' (and 1 more example) "
        "(fix: add 'answer' to the golden set or remove the placeholder)"
    )
    assert str(cites).startswith("evalbot.yml:12: metric 'cites' (regex): invalid regex")


def test_judged_metric_needs_judge_and_rubric(make_tree):
    config = CONFIG.replace("judge: {model: models/judge.yaml}\n", "")
    report = check(make_tree, {"evalbot.yml": config, "rubrics/helpful.md": None})
    judge, rubric = messages(report)
    assert judge.startswith("evalbot.yml:14: metric 'helpful' (llm_rubric) needs a judge model")
    assert "fix: add 'judge: {model: models/judge.yaml}'" in judge
    assert rubric.startswith("rubrics/helpful.md: rubric file not found (fix: check option")


def test_broken_judge_model_reported_once(make_tree):
    report = check(make_tree, {"models/judge.yaml": "provider: openai\n"})
    (problem,) = messages(report)
    assert problem.startswith("models/judge.yaml: (top level): provider 'openai' needs model")


def test_unknown_metric_type(make_tree):
    config = CONFIG.replace("type: json_valid", "type: jsn_valid")
    (problem,) = messages(check(make_tree, {"evalbot.yml": config}))
    assert problem.startswith("evalbot.yml:24: metric 'valid': unknown type 'jsn_valid'")
    assert "json_valid" in problem


def test_thresholds_builtin_names_and_watch_globs(make_tree):
    config = CONFIG.replace(
        'watch: ["src/support/**"]', 'watch: ["src/**/*.{py,md}", "/abs/**"]'
    ).replace("{name: valid, type: json_valid}", "{name: error, type: json_valid}")
    found = messages(check(make_tree, {"evalbot.yml": config}))
    assert len(found) == 3, found
    assert found[0].startswith("evalbot.yml:8: suite 'support': watch glob 'src/**/*.{py,md}' uses")
    assert "fix: list one glob per alternative" in found[0]
    assert found[1].startswith("evalbot.yml:8: suite 'support': watch glob '/abs/**' is absolute")
    assert found[2].startswith("evalbot.yml:24: suite 'triage': metric name 'error' is a built-in")


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("correct: {min: 0.8,", "correct: {max: 0.5, min: 0.8,", "min 0.8 > max 0.5"),
        ("latency_p95_ms: {max: 4000}", "latency_p95_ms: {max_drop: 100}", "only min/max"),
    ],
)
def test_threshold_rules_live_in_the_config_model(make_tree, before, after, expected):
    """The same rule, from the model, for validate and for every command that loads the config."""
    from evalbot.inputs.config import load_config

    files = {**FILES, "evalbot.yml": CONFIG.replace(before, after)}
    (problem,) = messages(check(make_tree, files))
    assert problem.startswith("evalbot.yml:") and expected in problem
    with pytest.raises(ConfigError, match=expected):
        load_config(make_tree(files))


def test_cli_validate_exit_codes(make_tree, capsys):
    pytest.importorskip("evalbot.stats.power")
    pytest.importorskip("evalbot.pipeline.calibrate")
    from evalbot.cli import main

    tree = make_tree(FILES)
    assert main(["validate", "-C", str(tree.root)]) == 0
    (tree.root / "prompts/classify.md").write_text("{{nope}}", encoding="utf-8")
    assert main(["validate", "-C", str(tree.root)]) == 2
    assert "prompts/classify.md:1: placeholder {{nope}}" in capsys.readouterr().out


def test_a_judge_metric_option_a_run_rejects_is_reported_by_validate(make_tree):
    """validate builds the judge metric's scorer the way a run does (with no judge call)."""
    from evalbot.inputs.config import MetricConfig
    from evalbot.score import ScoreSetup, build_scorer

    bad = "{name: helpful, type: llm_rubric, rubric: rubrics/helpful.md, scale: [1, 5], colour: 1}"
    config = CONFIG.replace(
        "{name: helpful, type: llm_rubric, rubric: rubrics/helpful.md, scale: [1, 5]}", bad
    )
    (problem,) = messages(check(make_tree, {"evalbot.yml": config}))
    assert problem.startswith("evalbot.yml:") and "colour" in problem
    metric = MetricConfig.model_validate(
        {"name": "helpful", "type": "llm_rubric", "rubric": "rubrics/helpful.md", "colour": 1}
    )
    with pytest.raises(ConfigError, match="colour"):  # what the run says
        build_scorer(metric, ScoreSetup(tree=make_tree(FILES)), where="evalbot.yml")
