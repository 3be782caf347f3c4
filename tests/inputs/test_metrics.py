from __future__ import annotations

import asyncio
import json

import pytest

from evalbot.errors import ConfigError, InputError
from evalbot.inputs.config import MetricConfig
from evalbot.records import Completion, Example, MetricKind
from evalbot.score import metric_specs
from evalbot.score.base import Score, Scorer, ScoreSetup, build_scorer
from evalbot.score.metrics import builtin_scorers, extract_number

DETERMINISTIC_TYPES = [s.type for s in metric_specs() if not s.needs_judge]

EX = Example(
    id="e1",
    vars={"city": "Paris", "answers": ["yes", "yep"], "price": "$5.99", "n": 42},
    expected="30 days",
)
ERRORED = Completion(error="HTTP 500 after 3 retries", latency_ms=812.0)


def build(tree, **spec) -> Scorer:
    metric = MetricConfig.model_validate({"name": "m", **spec})
    scorer = build_scorer(metric, ScoreSetup(tree=tree), where="evalbot.yml")
    assert isinstance(scorer, Scorer)
    return scorer


def run(scorer: Scorer, text: str | None, example: Example = EX) -> Score:
    output = ERRORED if text is None else Completion(text=text)
    return asyncio.run(scorer.score(example, output))


@pytest.fixture
def tree(make_tree):
    return make_tree(
        {
            "schemas/triage.json": json.dumps(
                {
                    "type": "object",
                    "required": ["category"],
                    "properties": {"category": {"enum": ["returns", "billing"]}},
                }
            ),
            "schemas/triage.yaml": "type: object\nrequired: [category]\n",
            "schemas/broken.json": '{"type": 12}',
        }
    )


@pytest.mark.parametrize(
    ("spec", "text", "value"),
    [
        ({"type": "equals"}, "  30 days\n", 1.0),
        ({"type": "equals", "strip": False}, "  30 days\n", 0.0),
        ({"type": "equals"}, "30 Days", 0.0),
        ({"type": "equals", "ignore_case": True}, "30 Days", 1.0),
        ({"type": "contains"}, "You have 30 days.", 1.0),
        ({"type": "contains"}, "You have 30 Days.", 0.0),
        ({"type": "icontains"}, "You have 30 DAYS.", 1.0),
        ({"type": "contains", "value": "{{city}}"}, "Off to Paris", 1.0),
        ({"type": "contains", "value": ["Lyon", "{{city}}"]}, "Off to Paris", 1.0),
        ({"type": "contains", "value": ["Lyon", "{{city}}"], "all": True}, "Paris", 0.0),
        ({"type": "contains", "value": "{{answers}}"}, "yep, sure", 1.0),
        ({"type": "contains", "value": 42}, "the answer is 42", 1.0),
        ({"type": "not_contains", "value": ["sorry", "as an AI"]}, "Sure!", 1.0),
        ({"type": "not_contains", "value": "sorry"}, "I'm sorry", 0.0),
        ({"type": "regex", "pattern": r"\d+ days"}, "in 30 days", 1.0),
        ({"type": "regex", "pattern": "^yes$", "flags": "im"}, "well\nYES\n", 1.0),
        ({"type": "regex", "pattern": "^yes$"}, "well\nYES\n", 0.0),
        ({"type": "regex", "pattern": "costs {{price}}"}, "it costs $5.99", 1.0),
        ({"type": "regex", "pattern": "costs {{price}}"}, "it costs $5x99", 0.0),
        ({"type": "regex", "pattern": "[a-z]+", "fullmatch": True}, " abc ", 1.0),
        ({"type": "regex", "pattern": "[a-z]+", "fullmatch": True}, "abc1", 0.0),
        ({"type": "json_valid"}, '{"a": 1}', 1.0),
        ({"type": "json_valid"}, '```json\n{"a": 1}\n```', 0.0),
        ({"type": "json_valid", "allow_fences": True}, '```json\n{"a": 1}\n```', 1.0),
        ({"type": "json_schema", "schema": "schemas/triage.json"}, '{"category": "returns"}', 1.0),
        ({"type": "json_schema", "schema": "schemas/triage.json"}, '{"category": "other"}', 0.0),
        ({"type": "json_schema", "schema": "schemas/triage.json"}, "not json", 0.0),
        ({"type": "json_schema", "schema": "schemas/triage.yaml"}, "{}", 0.0),
        ({"type": "json_schema", "schema": {"type": "array"}}, "[1]", 1.0),
        ({"type": "json_schema", "schema": '{"type": "array"}'}, "{}", 0.0),
        ({"type": "numeric_close", "value": "{{n}}"}, "About 42 items", 1.0),
        ({"type": "numeric_close", "value": "{{n}}"}, "About 43 items", 0.0),
        ({"type": "numeric_close", "value": "{{n}}", "tolerance": 1}, "About 43", 1.0),
        ({"type": "numeric_close", "value": 1000, "rel_tolerance": 0.01}, "$1,009.50", 1.0),
        ({"type": "numeric_close", "value": 1000, "rel_tolerance": 0.01}, "$1,011", 0.0),
        ({"type": "numeric_close", "value": -2.5}, "it is -2.5 degrees", 1.0),
        ({"type": "numeric_close", "value": 3}, "no digits here", 0.0),
    ],
)
def test_pass_and_fail(tree, spec, text, value):
    scorer = build(tree, **spec)
    assert scorer.kind == MetricKind.BINARY
    assert scorer.higher_is_better is True
    result = run(scorer, text)
    assert result.value == value
    assert all(len(str(v)) <= 200 for v in result.details.values())


def test_details_say_what_matched_or_missed(tree):
    assert run(build(tree, type="contains"), "30 days").details == {"matched": "30 days"}
    missed = run(build(tree, type="equals"), "31 days").details
    assert missed == {"missed": ["30 days"], "got": "31 days"}
    assert run(build(tree, type="not_contains", value="x"), "xyz").details == {"found": "x"}
    schema = build(tree, type="json_schema", schema="schemas/triage.json")
    assert "category" in run(schema, '{"category": 1}').details["missed"]
    assert run(build(tree, type="numeric_close", value=2), "2.0").details == {
        "got": 2.0,
        "expected": 2.0,
    }
    long = run(build(tree, type="equals"), "x" * 500).details["got"]
    assert len(long) == 120 and long.endswith("…")


@pytest.mark.parametrize("kind", DETERMINISTIC_TYPES)
def test_errored_output_scores_none(tree, kind):
    spec = {"value": "x"} if kind == "not_contains" else {}
    spec |= {"pattern": "x"} if kind == "regex" else {}
    spec |= {"schema": {"type": "object"}} if kind == "json_schema" else {}
    result = run(build(tree, type=kind, **spec), None)
    assert result.value is None
    assert result.details == {"error": "HTTP 500 after 3 retries"}


def test_empty_value_for_contains_is_undefined(tree):
    blank = EX.model_copy(update={"expected": ""})
    assert run(build(tree, type="contains"), "anything", blank).value is None


def test_higher_is_better_override(tree):
    scorer = build(tree, type="contains", value="sorry", higher_is_better=False)
    assert scorer.higher_is_better is False


def test_missing_placeholder_names_metric_and_example(tree):
    scorer = build(tree, type="contains", value="{{nope}}")
    with pytest.raises(InputError) as info:
        run(scorer, "text")
    message = str(info.value)
    assert "metric 'm' option 'value': placeholder {{nope}} has no value for example 'e1'" in (
        message
    )
    assert "fix: add 'nope' to the golden set" in message
    with pytest.raises(InputError):
        scorer.check(EX)  # the same check, without an output (used by validate)


def test_numeric_value_not_a_number(tree):
    scorer = build(tree, type="numeric_close", value="{{city}}")
    with pytest.raises(InputError, match=r"'Paris' is not a number for example 'e1'"):
        scorer.check(EX)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": "regex", "pattern": "(unclosed"}, "invalid regex '(unclosed'"),
        ({"type": "regex"}, "option 'pattern' is required"),
        ({"type": "regex", "pattern": "a", "flags": "q"}, "unknown flag 'q'"),
        ({"type": "regex", "pattern": "{{ a | b }}"}, "invalid placeholder"),
        ({"type": "contains", "valu": "x"}, "unknown option 'valu'"),
        ({"type": "not_contains"}, "option 'value' is required"),
        ({"type": "contains", "value": []}, "must not be an empty list"),
        ({"type": "contains", "value": {"a": 1}}, "must be a string or a list"),
        ({"type": "equals", "strip": "yes"}, "'strip' must be true or false"),
        ({"type": "json_schema"}, "option 'schema' is required"),
        ({"type": "json_schema", "schema": "schemas/none.json"}, "schema file 'schemas/none.json'"),
        ({"type": "json_schema", "schema": "schemas/broken.json"}, "invalid JSON Schema"),
        ({"type": "json_schema", "schema": {"$ref": "https://x.test/s.json"}}, "not local"),
        ({"type": "json_schema", "schema": "{bad"}, "not valid inline JSON"),
        ({"type": "numeric_close", "tolerance": -1}, "'tolerance' must be a number >= 0"),
        ({"type": "numeric_close", "value": [1, 2]}, "not a list"),
        ({"type": "no_such_type"}, "unknown type 'no_such_type'"),
    ],
)
def test_bad_options_are_config_errors_at_build_time(tree, spec, expected):
    with pytest.raises(ConfigError) as info:
        build(tree, **spec)
    message = str(info.value)
    assert message.startswith("evalbot.yml: metric 'm'")
    assert expected in message
    assert "fix:" in message


def test_builtins():
    ok = Completion(text="hi", output_tokens=7, latency_ms=120.0, cost_usd=0.002)
    unpriced = Completion(text="hi", output_tokens=7, latency_ms=90.0)
    scorers = builtin_scorers()
    assert [s.name for s in scorers] == ["latency_ms", "output_tokens", "cost_usd", "error"]
    assert all(isinstance(s, Scorer) and not s.higher_is_better for s in scorers)
    kinds = [s.kind for s in scorers]
    assert kinds == [MetricKind.HEAVY_TAILED] * 3 + [MetricKind.BINARY]

    def values(output: Completion) -> list[float | None]:
        return [asyncio.run(s.score(EX, output)).value for s in scorers]

    assert values(ok) == [120.0, 7.0, 0.002, 0.0]
    assert values(unpriced) == [90.0, 7.0, None, 0.0]
    assert values(ERRORED) == [812.0, None, None, 1.0]


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("42", 42.0),
        ("costs $1,234.50 total", 1234.5),
        ("-3 degrees", -3.0),
        ("item-3", 3.0),
        (".5 cups", 0.5),
        ("2e-3 s", 0.002),
        ("v1.2.3", None),
        ("none", None),
    ],
)
def test_extract_number(text, number):
    assert extract_number(text) == number
