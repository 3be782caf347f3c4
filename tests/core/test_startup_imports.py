"""Start-up stays cheap: the CLI entry point, ``--version`` and ``validate`` import none of the
heavy packages (scipy, numpy, openai, aiohttp, PyGithub); they load only on the path that uses
them. The no-op path of ``evalbot action`` (a PR touching no eval input) posts its check with
PyGithub but loads no statistics, no model SDK and no HTTP client of model calls.

Each check runs in a fresh interpreter, since this test process has imported everything already.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.noop_action import noop_action

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "support-bot" / "repo"
HEAVY = ("scipy", "numpy", "openai", "aiohttp", "github")
EVALUATION_ONLY = ("scipy", "numpy", "openai", "aiohttp")
LIGHT_SCORE = ("evalbot.score.base", "evalbot.score.catalog")
"""What the config rules read (which metric types are proportions, judged): no scorer."""

_PROBE = """
import contextlib, io, json, sys
from evalbot.cli import main
argv = json.loads(sys.argv[1])
code = None
if argv is not None:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(argv)
print(json.dumps({"code": code, "modules": sorted(sys.modules)}))
"""


def _loaded(argv: list[str] | None) -> tuple[int | None, set[str]]:
    """The exit code and every module (submodules too) a fresh interpreter loaded."""
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(argv)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["code"], set(result["modules"])


@pytest.mark.parametrize(
    "argv",
    [None, ["--version"], ["validate", "-C", str(EXAMPLE)], ["diff", "--help"]],
    ids=["import", "version", "validate", "diff-help"],
)
def test_entry_point_does_not_import_heavy_modules(argv: list[str] | None) -> None:
    code, modules = _loaded(argv)
    modules = {m for m in modules if "." not in m}
    assert code in (None, 0)
    assert modules.isdisjoint(HEAVY), sorted(modules & set(HEAVY))


# ``validate`` reads the metric and provider registries (score/catalog.py, run/providers.py), which
# describe every type without importing its implementation: only the scorers the config's metrics
# use are imported (to check their options and files), and no provider module (they import
# asyncio) nor the report stack.
SCORERS_UNUSED_BY_THE_EXAMPLE = (
    "evalbot.score.pairwise",
    "evalbot.score.rag",
    "evalbot.score.word_count",
)
NOT_FOR_VALIDATE = (
    "asyncio",
    "evalbot.run.openai_provider",
    "evalbot.run.python_provider",
    "evalbot.run.exec_provider",
    "evalbot.run.runner",
    "evalbot.report",
    "tabulate",
    *SCORERS_UNUSED_BY_THE_EXAMPLE,
)


def test_validate_loads_only_the_scorers_its_metrics_use() -> None:
    code, modules = _loaded(["validate", "-C", str(EXAMPLE)])
    assert code == 0
    assert modules.isdisjoint(NOT_FOR_VALIDATE), sorted(modules & set(NOT_FOR_VALIDATE))
    # icontains, regex, json_valid, json_schema and llm_rubric: their modules are what validate
    # checks the options with (the rubric file, the regex, the JSON schema).
    assert {"evalbot.score.metrics", "evalbot.score.rubric", "jsonschema"} <= modules


def test_validate_without_a_json_schema_metric_does_not_load_jsonschema(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    shutil.copytree(EXAMPLE, repo)
    config = repo / "evalbot.yml"
    text = config.read_text()
    assert "type: json_schema" in text
    config.write_text("\n".join(ln for ln in text.splitlines() if "json_schema" not in ln))
    code, modules = _loaded(["validate", "-C", str(repo)])
    assert code == 0
    assert "jsonschema" not in modules
    assert modules.isdisjoint(NOT_FOR_VALIDATE), sorted(modules & set(NOT_FOR_VALIDATE))


def test_commands_that_need_scipy_still_get_their_options() -> None:
    # power's options live next to its scipy code: asking for them loads it.
    code, modules = _loaded(["power", "--help"])
    assert code == 0
    assert "scipy" in modules


# ``evalbot action`` as the container runs it (the console script calls ``main()``), then the
# top-level modules it loaded, written to a file: the action prints workflow commands on stdout.
_ACTION_PROBE = """
import json, sys
from evalbot.cli import main
code = main(["action"])
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
sys.exit(code)
"""


def test_noop_action_loads_no_statistics_and_no_model_sdk(tmp_path: Path) -> None:
    with noop_action(tmp_path) as noop:
        listing = tmp_path / "modules.json"
        env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), **noop.env}
        done = subprocess.run(
            [sys.executable, "-c", _ACTION_PROBE, str(listing)],
            env=env,
            cwd=noop.workspace,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert noop.problem(done.returncode) is None, done.stdout[-2000:] + done.stderr[-2000:]
    modules = set(json.loads(listing.read_text()))
    assert "github" in modules  # the check was posted through the real client
    assert modules.isdisjoint(EVALUATION_ONLY), sorted(modules & set(EVALUATION_ONLY))
    # Nor what only evaluating or drawing a table needs: the event loop, a provider, a scorer.
    unused = ("asyncio", "tabulate", "regex", "jsonschema", "evalbot.run.providers")
    assert modules.isdisjoint(unused), sorted(modules & set(unused))
    assert not any(m.startswith("evalbot.score.") and m not in LIGHT_SCORE for m in modules)
