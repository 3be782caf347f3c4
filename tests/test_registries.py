"""Each metric type is named once: in the module that registers it. Everything else (validate,
the config rules, detection, the pipeline, calibrate) asks the registry, so a new metric is one
file plus its registration. This test reads the source for quoted type names elsewhere."""

from __future__ import annotations

import re
from pathlib import Path

from evalbot.records import MetricKind
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
