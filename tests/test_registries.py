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


# The light registries (score/catalog.py, run/providers.py) describe each type without importing
# its implementation; these tests keep the descriptions and the implementations in step.

_REGISTERS = """
import importlib, json, sys
from evalbot.score import base
from evalbot.run import providers
out = {}
for module in json.loads(sys.argv[1]):
    before_m, before_p = set(base._REGISTRY), set(providers._BUILDERS)
    importlib.import_module(module)
    new = (set(base._REGISTRY) - before_m) | (set(providers._BUILDERS) - before_p)
    out[module] = sorted(new)
print(json.dumps(out))
"""


def test_each_implementation_module_registers_exactly_what_its_registry_entry_names():
    import json
    import subprocess
    import sys

    from evalbot.score import metric_types

    wanted: dict[str, set[str]] = {}
    for t in metric_types():
        wanted.setdefault(f"evalbot.score.{t.module}", set()).add(t.type)
    for kind in provider_kinds():
        module = provider_spec(kind).module
        if module != "evalbot.run.providers":  # mock is built here, registered at import
            wanted.setdefault(module, set()).add(kind)
    # A fresh interpreter: here every module is imported already.
    done = subprocess.run(
        [sys.executable, "-c", _REGISTERS, json.dumps(sorted(wanted))],
        capture_output=True,
        text=True,
        check=True,
    )
    registered = {m: set(names) for m, names in json.loads(done.stdout).items()}
    assert registered == wanted


def test_the_registries_answer_without_importing_an_implementation():
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from evalbot.score import judged_types, proportion_types, metric_type, registered_types\n"
        "from evalbot.run.providers import provider_kinds, provider_spec\n"
        "judged_types(); proportion_types(); registered_types(); metric_type('regex')\n"
        "[provider_spec(k).runs_user_code for k in provider_kinds()]\n"
        "loaded = [m for m in sys.modules if m.startswith(('evalbot.score.', 'evalbot.run.'))]\n"
        "print(sorted(loaded))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(
        ["evalbot.run.providers", "evalbot.score.base", "evalbot.score.catalog"]
    )


def test_a_built_scorer_has_the_kind_and_direction_its_catalog_entry_states(tmp_path):
    from types import SimpleNamespace

    from evalbot.inputs.config import MetricConfig
    from evalbot.inputs.tree import WorkTree
    from evalbot.score import JudgeRuntime, ScoreSetup, build_scorer, metric_types

    (tmp_path / "rubric.md").write_text("# Helpful\n\n- 5: right.\n- 1: wrong.\n")
    options = {
        "equals": {"value": "x"},
        "contains": {"value": "x"},
        "icontains": {"value": "x"},
        "not_contains": {"value": "x"},
        "regex": {"pattern": "x"},
        "json_schema": {"schema": {"type": "object"}},
        "llm_rubric": {"rubric": "rubric.md"},
    }
    judge = JudgeRuntime(
        runner=SimpleNamespace(),  # building a scorer calls no model
        model=ModelConfig(provider="mock", model="judge"),
        model_path="models/judge.yaml",
    )
    setup = ScoreSetup(tree=WorkTree(tmp_path), judge=judge, cache_dir=tmp_path / "steps")
    for t in metric_types():
        metric = MetricConfig.model_validate(
            {"name": "m", "type": t.type, **options.get(t.type, {})}
        )
        scorer = build_scorer(metric, setup, where="evalbot.yml")
        assert (scorer.kind, scorer.higher_is_better) == (t.kind, t.higher_is_better), t.type


def test_openai_is_the_default_provider_kind_its_module_builds():
    from evalbot.run import openai_provider, providers

    assert openai_provider.PROVIDER_KIND == providers.DEFAULT_KIND
    assert ModelConfig.model_validate({"model": "m"}).provider == providers.DEFAULT_KIND


def test_a_metric_type_outside_the_catalog_cannot_be_registered():
    from evalbot.score import register

    with pytest.raises(RuntimeError, match=r"'frobnicate' is not in evalbot\.score\.catalog"):
        register("frobnicate")(lambda metric, setup, options: None)
    with pytest.raises(
        RuntimeError, match=r"registered by tests\.test_registries, but the catalog"
    ):
        register("regex")(lambda metric, setup, options: None)
