"""Each metric type is named once: in the module that registers it. Everything else (validate,
the config rules, detection, the pipeline, calibrate) asks the registry, so a new metric is one
file plus its registration. This test reads the source for quoted type names elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from evalbot.inputs.config import ModelConfig
from evalbot.records import MetricKind
from evalbot.run.providers import provider_kinds, provider_spec
from evalbot.score import metric_specs

SRC = Path(__file__).resolve().parents[1] / "src" / "evalbot"
METRIC_MODULES = SRC / "score"
"""The metric implementations (each names its own types when it registers and builds them)."""


def _quoted(names: set[str], text: str) -> list[str]:
    alternatives = "|".join(re.escape(n) for n in sorted(names))
    return re.findall(rf"[\"']({alternatives})[\"']", text)


def test_metric_types_are_named_only_where_they_are_registered():
    # "pairwise" is also a MetricKind value (the statistics vocabulary), checked by its enum.
    types = {s.type for s in metric_specs()} - {k.value for k in MetricKind}
    strays = {
        str(path.relative_to(SRC)): found
        for path in sorted(SRC.rglob("*.py"))
        if not path.is_relative_to(METRIC_MODULES)
        if (found := _quoted(types, path.read_text(encoding="utf-8")))
    }
    assert strays == {}, f"metric types named outside score/ (ask the registry): {strays}"


def test_the_scan_would_see_a_stray_list(tmp_path):
    planted = 'DETERMINISTIC = ("equals", "contains")\n'
    assert _quoted({s.type for s in metric_specs()}, planted) == ["equals", "contains"]


# Provider kinds: each is named only by the module that implements and registers it.
PROVIDER_MODULES = {SRC / "run" / "providers.py"} | set((SRC / "run").glob("*_provider.py"))


def _provider_strays(text: str) -> list[str]:
    return _quoted(set(provider_kinds()), text)


def test_provider_kinds_are_named_only_where_they_are_registered():
    strays = {
        str(path.relative_to(SRC)): found
        for path in sorted(SRC.rglob("*.py"))
        if path not in PROVIDER_MODULES
        if (found := _provider_strays(path.read_text(encoding="utf-8")))
    }
    assert strays == {}, (
        f"provider kinds named outside run/*_provider.py (ask the registry): {strays}"
    )


def test_the_provider_scan_would_see_a_stray_comparison():
    planted = 'provider: Literal["mock"]\nif config.provider in ("python", "exec"):\n'
    assert _provider_strays(planted) == ["mock", "python", "exec"]


def test_a_model_config_takes_exactly_the_registered_provider_kinds():
    for kind in provider_kinds():
        fields = {"model": "m", "target": "app:main", "command": ["true"]}
        try:
            ModelConfig.model_validate({"provider": kind, **fields})
        except ValidationError as exc:  # a kind may refuse another kind's fields, never the kind
            assert "unknown provider" not in str(exc), kind
    with pytest.raises(ValidationError, match="unknown provider 'gemini'; use one of "):
        ModelConfig.model_validate({"provider": "gemini", "model": "m"})


def test_each_provider_spec_states_its_facts():
    code = {k for k in provider_kinds() if provider_spec(k).runs_user_code}
    assert code == {"python", "exec"}
    assert {k for k in provider_kinds() if not provider_spec(k).cached} == {"mock"}
    assert provider_spec("openai").env_fields == ("api_key_env", "base_url_env")


def test_every_metric_type_declares_an_options_model():
    from evalbot.score import MetricOptions, metric_specs

    assert [spec.type for spec in metric_specs() if spec.options is None] == []
    for spec in metric_specs():
        assert spec.options is not None and issubclass(spec.options, MetricOptions)
        assert spec.options.model_config.get("extra") == "forbid"


def test_an_options_model_refuses_unknown_keys_in_one_line_naming_metric_type_and_key(tmp_path):
    from evalbot.errors import ConfigError
    from evalbot.inputs.config import MetricConfig
    from evalbot.inputs.tree import WorkTree
    from evalbot.score import ScoreSetup, build_scorer

    metric = MetricConfig.model_validate({"name": "correct", "type": "regex", "value": "x"})
    with pytest.raises(ConfigError) as caught:
        build_scorer(metric, ScoreSetup(tree=WorkTree(tmp_path)), where="evalbot.yml")
    assert caught.value.message == (
        "metric 'correct' (regex): unknown option 'value'; 'regex' takes flags, fullmatch, pattern"
    )
