"""Issue 8.2 and 8.4: the PR's code runs only when the workflow opts in, with a minimal
environment; no secret reaches anything evalbot writes or posts."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from urllib.parse import quote

from tests.security.conftest import KEY, TOKEN, Attack, run_action

# The PR's "app": it records its environment, tries the file commands, answers with secrets.
APP = """\
import base64, json, os, sys, urllib.parse
from pathlib import Path
json.load(sys.stdin)
OUT = Path({out!r})
(OUT / "ran").write_text("1")
(OUT / "env.json").write_text(json.dumps(dict(os.environ)))
for name in ("GITHUB_OUTPUT", "GITHUB_ENV"):
    if os.environ.get(name):
        with open(os.environ[name], "a") as handle:
            handle.write("verdict=pass\\n")
key = os.environ.get("OPENAI_API_KEY", "") + os.environ.get("INPUT_GITHUB-TOKEN", "")
loot = [key, key.upper(), urllib.parse.quote(key, safe=""), base64.b64encode(key.encode()).decode()]
print(json.dumps({{"output": "It is " + " ".join(loot)}}))
"""


def _exec_model() -> str:
    return (
        json.dumps({"provider": "exec", "command": [sys.executable, "-S", "app/steal.py"]}) + "\n"
    )


def _push_code_pr(attack: Attack):
    loot = attack.tmp / "loot"
    loot.mkdir(exist_ok=True)
    return attack.push(
        {
            "models/chat.yaml": _exec_model(),
            "app/steal.py": APP.format(out=str(loot)),
            "prompts/answers.md": "Answer {{n}}: w{{n}}\n\n",
        }
    )


def test_code_providers_do_not_run_unless_the_workflow_opts_in(attack):
    ws = _push_code_pr(attack)
    out = run_action(attack.env(ws), ws, attack.github)
    assert out.code == 2, out.log
    assert "allow-code-providers" in out.result.summary
    assert out.check["conclusion"] == "failure"
    assert not (attack.tmp / "loot" / "ran").exists()


def test_opted_in_code_gets_a_minimal_environment_and_cannot_set_outputs(attack):
    ws = _push_code_pr(attack)
    env = attack.env(ws, inputs={"allow-code-providers": "true", "allow-provider-change": "true"})
    out = run_action(env, ws, attack.github)
    seen = json.loads((attack.tmp / "loot" / "env.json").read_text())
    assert set(seen) <= {
        "PATH",
        "HOME",
        "TMPDIR",
        "TEMP",
        "TMP",
        "LANG",
        "LC_ALL",
        "LC_CTYPE",
        "TZ",
    }
    assert KEY not in json.dumps(seen) and TOKEN not in json.dumps(seen)
    assert "verdict=pass" not in Path(out.env["GITHUB_OUTPUT"]).read_text().splitlines()
    assert out.outputs["verdict"] == "fail"  # the app's answers are wrong: the gate says so
    everything = out.everything_written_or_posted()
    assert KEY not in everything and TOKEN not in everything


def test_a_key_the_workflow_passes_to_the_app_is_scrubbed_in_every_spelling(attack):
    ws = _push_code_pr(attack)
    inputs = {
        "allow-code-providers": "true",
        "allow-provider-change": "true",
        "code-env": "OPENAI_API_KEY",
    }
    out = run_action(attack.env(ws, inputs=inputs), ws, attack.github)
    assert out.code in (0, 1), out.log
    seen = json.loads((attack.tmp / "loot" / "env.json").read_text())
    assert seen["OPENAI_API_KEY"] == KEY  # named by the workflow, so given
    everything = out.everything_written_or_posted()
    for spelling in (
        KEY,
        KEY.upper(),
        KEY.lower(),
        quote(KEY, safe=""),
        base64.b64encode(KEY.encode()).decode(),
    ):
        assert spelling not in everything
    assert "***" in out.result.suites[0].head.outputs[0][0].text


def test_an_exception_carrying_the_key_is_never_posted_with_its_repr(attack):
    """A key that cannot go in a header made httpx raise UnicodeEncodeError, whose repr (the
    whole 'Bearer …' header) was posted. Now: a config error naming the variable."""
    ws = attack.push({"prompts/answers.md": "Answer briefly {{n}}: w{{n}}\n"})
    secret = "sk-Geheimnis-Schlüssel-0123456789"
    out = run_action(attack.env(ws, extra={"OPENAI_API_KEY": secret}), ws, attack.github)
    assert out.code == 2, out.log
    assert "OPENAI_API_KEY holds characters" in out.result.summary
    everything = out.everything_written_or_posted()
    assert "Geheimnis" not in everything and "Bearer" not in everything
    assert quote(secret, safe="") not in everything


PY_APP = """\
import json, os
from pathlib import Path


def answer(payload):
    Path({out!r}).joinpath("py-env.json").write_text(json.dumps(dict(os.environ)))
    return "It is " + payload["prompt"].split()[-1]
"""


def test_the_python_provider_also_gets_the_minimal_environment(attack):
    loot = attack.tmp / "loot"
    loot.mkdir()
    ws = attack.push(
        {
            "models/chat.yaml": "provider: python\ntarget: app.main:answer\n",
            "app/__init__.py": "",
            "app/main.py": PY_APP.format(out=str(loot)),
            "prompts/answers.md": "Answer {{n}}: w{{n}}\n\n",
        }
    )
    inputs = {"allow-code-providers": "true", "allow-provider-change": "true"}
    out = run_action(attack.env(ws, inputs=inputs), ws, attack.github)
    assert out.code == 0, out.log  # the app answers right: nothing regressed
    seen = json.loads((loot / "py-env.json").read_text())
    assert not {"GITHUB_TOKEN", "OPENAI_API_KEY", "GITHUB_OUTPUT", "INPUT_GITHUB-TOKEN"} & set(seen)
    assert not [name for name in seen if name.startswith(("INPUT_", "ACTIONS_", "GITHUB_"))]
    assert KEY not in out.everything_written_or_posted()
