from __future__ import annotations

from pathlib import Path

import pytest

from evalbot.errors import ConfigError
from evalbot.github.settings import ActionSettings, read_input, secret_values


def test_inputs_are_read_with_hyphen_underscore_or_evalbot_prefix(tmp_path: Path):
    env = {"GITHUB_WORKSPACE": str(tmp_path), "INPUT_CHECK-NAME": "evals / gate"}
    assert read_input(env, "check-name") == "evals / gate"
    assert read_input({"INPUT_CHECK_NAME": "x"}, "check-name") == "x"
    assert read_input({"EVALBOT_MAX_COST_USD": "2"}, "max-cost-usd") == "2"
    assert read_input({"INPUT_BASE": "  "}, "base") is None


def test_from_environ_parses_every_input(tmp_path: Path):
    env = {
        "GITHUB_WORKSPACE": str(tmp_path),
        "GITHUB_REPOSITORY": "o/r",
        "GITHUB_RUN_ID": "12",
        "GITHUB_SERVER_URL": "https://ghe.example.com",
        "GITHUB_API_URL": "https://ghe.example.com/api/v3/",
        "INPUT_GITHUB-TOKEN": "ghs_s3cr3t",
        "INPUT_SUITES": "a, b\nc",
        "INPUT_CHECK": "status",
        "INPUT_COMMENT": "never",
        "INPUT_CONCURRENCY": "4",
        "INPUT_SAMPLES": "3",
        "INPUT_SHARD": "2/4",
        "INPUT_MAX-COST-USD": "1.5",
        "INPUT_ALLOWED-HOSTS": "API.openai.com,llm.internal",
        "INPUT_CACHE-DIR": ".cache/evalbot",
    }
    s = ActionSettings.from_environ(env)
    assert s.suites == ("a", "b", "c")
    assert (s.check, s.comment, s.concurrency, s.samples, s.shard) == (
        "status",
        "never",
        4,
        3,
        "2/4",
    )
    assert s.max_cost_usd == 1.5
    assert s.allowed_hosts == ("api.openai.com", "llm.internal")
    assert s.cache_dir == tmp_path.resolve() / ".cache/evalbot"
    assert s.api_url == "https://ghe.example.com/api/v3"
    assert s.run_url == "https://ghe.example.com/o/r/actions/runs/12"
    assert s.token == "ghs_s3cr3t"
    assert "ghs_s3cr3t" not in repr(s)


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("CHECK", "checks", "not one of"),
        ("COMMENT", "sometimes", "not one of"),
        ("SAMPLES", "0", "whole number"),
        ("CONCURRENCY", "four", "whole number"),
        ("SHARD", "5/4", "K/N"),
        ("MAX-COST-USD", "-1", "number ≥ 0"),
        ("CHECK-NAME", "a--b", "cannot be used"),
    ],
)
def test_bad_inputs_name_the_input(tmp_path: Path, name: str, value: str, match: str):
    with pytest.raises(ConfigError, match=match) as info:
        ActionSettings.from_environ({"GITHUB_WORKSPACE": str(tmp_path), f"INPUT_{name}": value})
    assert name.lower() in str(info.value)


def test_secret_values_cover_token_and_keys_but_not_trivia():
    env = {
        "INPUT_GITHUB-TOKEN": "ghs_abcdef",
        "OPENAI_API_KEY": "sk-123456",
        "ANTHROPIC_KEY": "multi\nline-secret",
        "SOME_TOKEN": "1",  # too short to be a secret; masking it would garble logs
        "PATH": "/usr/bin",
    }
    assert set(secret_values(env)) == {"ghs_abcdef", "sk-123456", "multi", "line-secret"}


@pytest.mark.parametrize(("raw", "expected"), [(None, None), ("0", 0), ("2", 2), ("10", 10)])
def test_max_retries_input(tmp_path, raw, expected):
    env = {"GITHUB_WORKSPACE": str(tmp_path)}
    if raw is not None:
        env["INPUT_MAX-RETRIES"] = raw
    assert ActionSettings.from_environ(env).max_retries == expected


@pytest.mark.parametrize("raw", ["-1", "11", "three"])
def test_max_retries_input_rejects_nonsense(tmp_path, raw):
    env = {"GITHUB_WORKSPACE": str(tmp_path), "INPUT_MAX-RETRIES": raw}
    with pytest.raises(ConfigError, match="max-retries"):
        ActionSettings.from_environ(env)


def test_github_retry_budget_from_the_environment(tmp_path: Path):
    base = {"GITHUB_WORKSPACE": str(tmp_path)}
    assert ActionSettings.from_environ(base).github_retry_budget_s == 600.0
    env = {**base, "EVALBOT_GITHUB_RETRY_BUDGET": "90"}
    assert ActionSettings.from_environ(env).github_retry_budget_s == 90.0
    assert (
        ActionSettings.from_environ(
            {**base, "EVALBOT_GITHUB_RETRY_BUDGET": "0"}
        ).github_retry_budget_s
        == 0.0
    )
    with pytest.raises(ConfigError, match="github-retry-budget"):
        ActionSettings.from_environ({**base, "EVALBOT_GITHUB_RETRY_BUDGET": "ten minutes"})
