"""report.html against hostile text, as an attacker supplies it: model outputs and error messages
through ``evalbot diff``, example ids and inputs through the golden set, every name and note
through a forged results.json given to ``evalbot report --html``, and a model echoing the API
key through ``evalbot action``. Every payload must arrive as text, never as markup."""

from __future__ import annotations

import io
import json
from pathlib import Path

import yaml

from evalbot.cli import main
from evalbot.github import action
from tests.action.conftest import PR, REPO, Workspace, actions_env, fast_github
from tests.fakes.github_server import FakeGitHub
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.gitrepo import Repo
from tests.report.factories import example_result
from tests.report.htmlcheck import ALLOWED_TAGS, parse

PAYLOAD = (
    '<script>document.title="pwned"</script></textarea></pre></article>'
    '<img src=x onerror=alert(1)><a href="javascript:alert(1)">click</a>'
    "<svg onload=alert(2)></svg><!-- x --><style>body{display:none}</style>"
    '<meta http-equiv=refresh content="0;url=https://evil.example">"\' \u202eevil'
)
HOSTILE_ID = '"><script>alert("id")</script>'
KEY = "sk-test-0123456789abcdef"


def assert_inert(text: str) -> None:
    """Only the report's own markup: its tags, its one script, no handlers, no javascript: URL,
    and the payload visible as text."""
    page = parse(text)
    assert {tag for tag, _ in page.elements} <= ALLOWED_TAGS, {t for t, _ in page.elements}
    assert len(page.tags("script")) == 1 and page.tags("script")[0] == {}
    assert len(page.tags("meta")) == 4  # charset, CSP, referrer, viewport: none injected
    assert len(page.tags("style")) == 1
    for _, attrs in page.elements:
        assert not any(name.startswith("on") for name in attrs), attrs
        assert not any("javascript:" in (value or "") for value in attrs.values()), attrs
    assert "<script>document" not in text and "<img" not in text
    assert "&lt;script&gt;document.title=&quot;pwned&quot;&lt;/script&gt;" in text
    assert "\u202e" not in text  # no bidi override: what you read is what is there


def _repo(tmp_path: Path) -> Repo:
    config = {
        "version": 1,
        "suites": [
            {
                "name": "support",
                "prompt": "prompts/support.md",
                "model": "models/m.yaml",
                "dataset": "evals/support.jsonl",
                "metrics": [{"name": "said", "type": "contains", "value": "{{expected}}"}],
                "thresholds": {"said": {"max_drop": 0.5}},
            }
        ],
    }
    rows = [{"id": f"q{i}", "question": f"question {i}", "expected": "fine"} for i in range(6)]
    rows.append({"id": HOSTILE_ID, "question": PAYLOAD, "expected": "fine"})
    repo = Repo(tmp_path / "repo")
    repo.commit(
        {
            "evalbot.yml": yaml.safe_dump(config, sort_keys=False),
            "prompts/support.md": "Answer: {{question}}\n",
            "models/m.yaml": "provider: openai\nmodel: fake-model\n",
            "evals/support.jsonl": "\n".join(json.dumps(r) for r in rows) + "\n",
        },
        "base",
    )
    repo.branch("pr")
    repo.commit({"prompts/support.md": "Answer briefly: {{question}}\n"}, "tweak")
    return repo


def _hostile_model(body: dict) -> Reply | str:
    prompt = body["messages"][-1]["content"]
    if "briefly" not in prompt:
        return "fine"
    if "question 3" in prompt:
        return Reply(status=400, content=f"Unrecognized request argument: {PAYLOAD}")
    return f"{PAYLOAD} {KEY}"  # the head's model answers with markup and a copy of the key


def test_model_outputs_errors_ids_and_inputs_are_inert_in_the_diff_report(
    tmp_path, monkeypatch, capsys
):
    repo = _repo(tmp_path)
    out = tmp_path / "out"
    with FakeOpenAI(_hostile_model, api_key=KEY) as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
        args = ["diff", "-C", str(repo.root), "--base", "main", "--head", "pr", "--out", str(out)]
        code = main([*args, "--cache-dir", str(tmp_path / "cache"), "--concurrency", "1"])
    assert code == 3, capsys.readouterr()  # 1 of 7 head calls failed: past the error budget
    text = (out / "report.html").read_text(encoding="utf-8")
    assert_inert(text)
    page = parse(text)
    by_id = {body.split("flipped")[0].split("error")[0]: body for body in page.article_text}
    hostile = next(body for eid, body in by_id.items() if eid.startswith('"><script>'))
    assert PAYLOAD.replace("\u202e", "") in hostile  # shown in full, as text (input and output)
    assert "error: Error code: 400" in by_id["q3"] or "400" in by_id["q3"]
    assert "Unrecognized request argument: <script>" in by_id["q3"]
    assert KEY not in text  # scrubbed like every other file evalbot writes


def test_a_forged_results_json_cannot_inject_markup_through_any_name(tmp_path, capsys):
    result = example_result()
    data = json.loads(result.model_dump_json())
    data["notes"] = [PAYLOAD]
    data["head_rev"] = PAYLOAD
    data["tool_version"] = PAYLOAD
    data["summary"] = PAYLOAD
    for suite in data["suites"]:
        suite["name"] = PAYLOAD + suite["name"]
        suite["triggers"] = [PAYLOAD]
        suite["notes"] = [PAYLOAD]
        for c in suite["comparisons"]:
            c["metric"] = PAYLOAD + c["metric"]
            c["notes"] = [PAYLOAD]
        for v in suite["values"]:
            v["metric"] = PAYLOAD + v["metric"]
            v["method"] = PAYLOAD
        for side in ("base", "head"):
            if suite.get(side):
                suite[side]["model"] = PAYLOAD
                suite[side]["example_ids"] = [HOSTILE_ID + e for e in suite[side]["example_ids"]]
                scores = suite[side]["scores"]
                suite[side]["scores"] = {PAYLOAD + k: v for k, v in scores.items()}
        suite["flipped"] = [HOSTILE_ID + e for e in suite["flipped"]]
        suite["flipped_inputs"] = {
            HOSTILE_ID + k: {PAYLOAD: PAYLOAD} for k in suite["flipped_inputs"]
        }
    (tmp_path / "results.json").write_text(json.dumps(data))
    assert main(["report", "--html", str(tmp_path)]) == 0, capsys.readouterr()
    text = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert_inert(text)
    plotted = [s for s in data["suites"] if s["status"] != "skipped" and s["comparisons"]]
    assert text.count("<svg") == len(plotted) and "</script><script>" not in text


def test_the_action_writes_report_html_next_to_results_json_escaped_and_scrubbed(tmp_path):
    repo = _repo(tmp_path)
    base = repo.git("rev-parse", "main").strip()
    head = repo.git("rev-parse", "pr").strip()
    ws = Workspace(repo=repo, base_sha=base, head_sha=head)
    with FakeGitHub() as github, FakeOpenAI(_hostile_model, api_key=KEY) as llm:
        github.add_repo(REPO)
        github.add_pull(REPO, PR, head_sha=head, base_sha=base)
        env = actions_env(
            tmp_path,
            ws,
            github,
            extra={"OPENAI_BASE_URL": llm.base_url, "OPENAI_API_KEY": KEY},
            inputs={"allowed-hosts": "127.0.0.1"},
        )
        stdout = io.StringIO()
        code = action.main(env, github_factory=fast_github, stdout=stdout)
    assert code == 3, stdout.getvalue()[-3000:]  # the error budget, as in the CLI
    out = repo.root / "evalbot-results"
    text = (out / "report.html").read_text(encoding="utf-8")
    assert_inert(text)
    assert KEY not in text and "***" in text
    assert parse(text).verdict_rows()[0][0] == "said"
