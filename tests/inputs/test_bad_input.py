"""Bad input through the command line: one clear line, exit 2, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalbot import cli
from evalbot.errors import ConfigError
from evalbot.inputs.config import load_config, load_model_config
from evalbot.inputs.model_params import check_params
from tests.gitrepo import Repo

CONFIG = """\
version: 1
suites:
  - name: support
    prompt: prompts/support.md
    model: models/support.yaml
    dataset: evals/support.jsonl
    metrics:
      - {name: correct, type: contains, value: "{{expected}}"}
"""
FILES = {
    "evalbot.yml": CONFIG,
    "prompts/support.md": "Answer: {{question}}\n",
    "models/support.yaml": "provider: openai\nmodel: gpt-4o-mini\nparams:\n  temperature: 0\n",
    "evals/support.jsonl": '{"id": "1", "question": "hi", "expected": "hello"}\n',
}


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    repo = Repo(tmp_path / "repo")
    repo.commit(FILES, "base")
    return repo


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_out_pointing_at_a_file_is_exit_2_naming_it(repo: Repo, tmp_path: Path, capsys):
    taken = tmp_path / "results.txt"
    taken.write_text("mine\n")
    for out in (taken, taken / "sub"):
        code, _, err = _run(
            ["diff", "-C", str(repo.root), "--base", "HEAD", "--out", str(out)], capsys
        )
        assert code == 2
        [line] = err.strip().splitlines()
        assert str(out) in line and "must be a directory" in line
    assert taken.read_text() == "mine\n"


def test_validate_rejects_a_temperature_that_is_not_a_number(repo: Repo, capsys):
    model = "provider: openai\nmodel: gpt-4o-mini\nparams:\n  seed: 1\n  temperature: hot\n"
    repo.write({"models/support.yaml": model})
    code, out, _ = _run(["validate", "-C", str(repo.root)], capsys)
    assert code == 2
    [line] = [x for x in out.splitlines() if x.startswith("error:")]
    assert "models/support.yaml:5: params.temperature: expected a number from 0 to 2" in line


def test_validate_suggests_the_known_parameter_for_a_typo(repo: Repo, capsys):
    repo.write({"models/support.yaml": "provider: openai\nmodel: m\nparams: {temprature: 0.2}\n"})
    code, out, _ = _run(["validate", "-C", str(repo.root)], capsys)
    assert code == 2
    assert "params.temprature: unknown parameter; did you mean temperature?" in out


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"temperature": 2.5}, "temperature: 2.5 is out of range"),
        ({"top_p": "1"}, "top_p: expected a number"),
        ({"max_tokens": 0}, "max_tokens: 0 is out of range"),
        ({"max_tokens": 1.5}, "max_tokens: expected a whole number"),
        ({"seed": True}, "seed: expected a whole number"),
        ({"presence_penalty": -3}, "presence_penalty: -3 is out of range"),
        ({"frequency_penalty": "none"}, "frequency_penalty: expected a number"),
        ({"stop": ["a", 1]}, "stop: expected a string or a list"),
        ({"logprobs": "yes"}, "logprobs: expected true or false"),
        ({"top_logprobs": 21}, "top_logprobs: 21 is out of range"),
        ({"logit_bias": {"50256": 200}}, "bias of token '50256'"),
        ({"max_token": 10}, "did you mean max_tokens?"),
    ],
)
def test_known_parameters_are_checked(params, fragment):
    with pytest.raises(ValueError, match=fragment.replace("?", r"\?")):
        check_params(params)


def test_valid_and_unknown_parameters_pass():
    check_params(
        {
            "temperature": 0,
            "top_p": 1.0,
            "max_tokens": 300,
            "seed": 7,
            "stop": ["\n\n"],
            "response_format": {"type": "json_object"},
            "logit_bias": {"50256": -100},
            "repetition_penalty": 1.1,  # a vLLM extra: not ours to judge
            "top_k": 40,  # not a typo of top_p
        }
    )


def test_python_provider_params_are_the_apps_own(make_tree):
    tree = make_tree(
        {"m.yaml": "provider: python\ntarget: app:answer\nparams: {temperature: warm}\n"}
    )
    config, _ = load_model_config(tree, "m.yaml")
    assert config.params == {"temperature": "warm"}


def test_misspelt_suite_key_names_the_key_its_line_and_the_fix(repo: Repo, capsys):
    repo.write({"evalbot.yml": CONFIG.replace("dataset:", "datset:")})
    code, out, _ = _run(["validate", "-C", str(repo.root)], capsys)
    assert code == 2
    [line] = [x for x in out.splitlines() if x.startswith("error:")]
    assert "evalbot.yml:6: suites.0.datset: unknown key 'datset'" in line
    assert "did you mean dataset?" in line


def test_misspelt_optional_key_gets_a_suggestion_too(repo: Repo, capsys):
    repo.write({"evalbot.yml": "version: 1\ngate: {alpah: 0.1}\n" + CONFIG.split("\n", 1)[1]})
    code, out, _ = _run(["validate", "-C", str(repo.root)], capsys)
    assert code == 2
    assert "evalbot.yml:2: gate.alpah: unknown key 'alpah' (fix: did you mean alpha?)" in out


def test_unknown_key_without_a_near_miss_says_how_to_fix_it(make_tree):
    tree = make_tree({"evalbot.yml": "version: 1\nsuites: []\ncolour: blue\n"})
    with pytest.raises(ConfigError, match=r"unknown key 'colour' \(fix: remove it"):
        load_config(tree)


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["diff"], "usage: evalbot diff --base BASE [options]  (see evalbot diff --help)"),
        (["diff", "--base", "x", "--shard", "5/2"], "usage: evalbot diff --base BASE [options]"),
        (["merge"], "usage: evalbot merge DIRS ... --out OUT [options]"),
        (["frobnicate"], "usage: evalbot COMMAND  (see evalbot --help)"),
    ],
)
def test_usage_errors_are_two_lines(argv, usage, capsys):
    code, out, err = _run(argv, capsys)
    assert code == 2 and out == ""
    error, second = err.strip().splitlines()
    assert ": error: " in error
    assert second.startswith(usage)
