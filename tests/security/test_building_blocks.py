"""The pieces the attacks rely on, one behaviour each: scrubbing spellings, signatures, prices,
the cache directory check and the policy the settings build."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from evalbot.errors import ConfigError
from evalbot.github.settings import ActionSettings
from evalbot.inputs.config import ModelConfig, Price
from evalbot.records import Completion, Message, ModelRequest
from evalbot.run.cache import ResponseCache
from evalbot.run.prices import UNKNOWN_MODEL_PRICE, cap_price, table_price
from evalbot.scrub import Scrubber, internal_error_line
from evalbot.signing import seal, unseal
from evalbot.trust import check_cache_dir, code_environment, default_allowed_hosts
from tests.gitrepo import Repo

SECRET = "sk-proj-Ab/Cd+Ef=Gh_0123456789"


@pytest.mark.parametrize(
    "spelling",
    [
        SECRET,
        SECRET.upper(),
        SECRET.lower(),
        quote(SECRET, safe=""),
        quote_plus(SECRET),
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode(b"Bearer " + SECRET.encode()).decode(),  # inside a longer encoding
        base64.urlsafe_b64encode(b"x:" + SECRET.encode()).decode(),
    ],
)
def test_scrubber_hides_every_spelling(spelling: str):
    text = Scrubber([SECRET]).text(f"before {spelling} after")
    assert spelling not in text and "***" in text
    assert text.startswith("before ") and text.endswith(" after")


def test_scrubber_leaves_short_values_and_other_text_alone():
    scrubber = Scrubber(["1", "abc", SECRET])
    assert scrubber.text("1 abc 2") == "1 abc 2"
    assert not Scrubber([])


def test_internal_error_line_never_quotes_the_arguments():
    try:
        "Bearer sk-Schlüssel".encode("ascii")
    except UnicodeEncodeError as exc:
        line = internal_error_line(exc)
    assert line.startswith("internal error: UnicodeEncodeError: 'ascii' codec")
    assert "Schl" not in line and "Bearer" not in line


def test_signatures_bind_kind_key_and_body():
    stored = seal(b"k", "completion", "abc", b"{}")
    assert unseal(b"k", "completion", "abc", stored) == b"{}"
    assert unseal(b"other", "completion", "abc", stored) is None
    assert unseal(b"k", "completion", "abd", stored) is None  # copied under another key
    assert unseal(b"k", "judge-steps", "abc", stored) is None
    assert unseal(b"k", "completion", "abc", stored.replace(b"{}", b"[]")) is None
    assert unseal(b"k", "completion", "abc", b"{}") is None  # unsigned
    assert unseal(None, "completion", "abc", b"{}") == b"{}"  # the CLI reads plain files


def test_a_signed_cache_ignores_entries_it_did_not_write(tmp_path: Path):
    request = ModelRequest(
        provider="openai", model="m", messages=[Message(role="user", content="q")]
    )
    answer = Completion(text="a")
    ResponseCache(tmp_path).put(request, answer)  # plain, as a PR could commit it
    signed = ResponseCache(tmp_path, secret=b"workflow")
    assert signed.get(request) is None
    signed.put(request, answer)
    assert signed.get(request).text == "a"
    assert ResponseCache(tmp_path, secret=b"someone else").get(request) is None


def test_prices_floor_the_configured_price():
    assert table_price("gpt-4o-mini-2024-07-18") == Price(input=0.15, output=0.60)
    assert table_price("openai/gpt-4o") == Price(input=2.5, output=10.0)
    assert table_price("my-finetune") == UNKNOWN_MODEL_PRICE
    assert cap_price("gpt-4o", Price(input=0, output=0)) == Price(input=2.5, output=10.0)
    assert cap_price("gpt-4o", Price(input=9, output=1)) == Price(input=9, output=10.0)


def test_default_allowed_hosts_follow_the_named_url_variables():
    env = {"OPENAI_BASE_URL": "https://LLM.internal:8443/v1"}
    assert default_allowed_hosts(env, ("OPENAI_API_KEY", "OPENAI_BASE_URL")) == (
        "llm.internal:8443",
    )
    assert default_allowed_hosts({}, ("OPENAI_API_KEY",)) == ("api.openai.com",)


def test_code_environment_is_minimal(tmp_path: Path):
    env = {"PATH": "/bin", "GITHUB_TOKEN": "t", "INPUT_GITHUB-TOKEN": "t", "APP_MODE": "x"}
    assert code_environment(env, ("APP_MODE",), tmp_path) == {
        "PATH": "/bin",
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
        "TEMP": str(tmp_path),
        "TMP": str(tmp_path),
        "APP_MODE": "x",
    }


def test_cache_dir_checks(tmp_path: Path):
    repo = Repo(tmp_path / "ws")
    repo.commit({"tracked/a.json": "{}", "README.md": "x"})
    ws = repo.root
    assert check_cache_dir(ws / "untracked", workspace=ws) == ws / "untracked"
    assert check_cache_dir(tmp_path / "outside", workspace=ws) == tmp_path / "outside"
    with pytest.raises(ConfigError, match="tracked by git"):
        check_cache_dir(ws / "tracked", workspace=ws)
    with pytest.raises(ConfigError, match="tracked by git"):
        check_cache_dir(ws, workspace=ws)
    os.symlink(tmp_path, ws / "link")
    with pytest.raises(ConfigError, match="symlink"):
        check_cache_dir(ws / "link" / "cache", workspace=ws)


def test_settings_build_the_policy(tmp_path: Path):
    env = {
        "GITHUB_WORKSPACE": str(tmp_path),
        "OPENAI_API_KEY": "sk-abcdef",
        "INPUT_MODEL-ENV": "OPENAI_API_KEY\nOPENAI_BASE_URL, VLLM_API_KEY",
        "INPUT_ALLOW-CODE-PROVIDERS": "true",
        "INPUT_CODE-ENV": "APP_MODE",
        "INPUT_MAX-REQUESTS": "10",
        "INPUT_ALLOWED-HOSTS": "llm.internal",
    }
    settings = ActionSettings.from_environ(env)
    assert settings.allowed_hosts == ("api.openai.com", "llm.internal")
    policy = settings.policy(env)
    assert policy.allow_code and policy.code_env == ("APP_MODE",)
    assert policy.max_requests == 10 and policy.max_examples == 2000
    assert policy.cache_secret == settings.policy(env).cache_secret  # stable between runs
    other = settings.policy({**env, "OPENAI_API_KEY": "sk-other"}).cache_secret
    assert other != policy.cache_secret
    with pytest.raises(ConfigError, match="model-env"):
        ActionSettings.from_environ({**env, "INPUT_MODEL-ENV": "not a name"})
    with pytest.raises(ConfigError, match="allow-code-providers"):
        ActionSettings.from_environ({**env, "INPUT_ALLOW-CODE-PROVIDERS": "yes please"})


def test_a_model_config_is_checked_against_the_policy():
    settings = ActionSettings.from_environ({"GITHUB_WORKSPACE": "."})
    policy = settings.policy({"OPENAI_API_KEY": "sk-abcdef"})
    env = {"OPENAI_API_KEY": "sk-abcdef"}
    policy.check_model(ModelConfig(model="m"), label="m.yaml", env=env)
    with pytest.raises(ConfigError, match=r"params\.best_of"):
        policy.check_model(ModelConfig(model="m", params={"best_of": 3}), label="m.yaml", env=env)
    with pytest.raises(ConfigError, match="allow-code-providers"):
        policy.check_model(ModelConfig(provider="exec", command=["x"]), label="m.yaml", env=env)


def test_short_and_trivial_values_are_replaced_only_as_written():
    scrubber = Scrubber(["true", "Ab12", "x" * 3])
    assert scrubber.text("true Ab12 ab12 AB12") == "true *** ab12 AB12"


def test_the_cli_signs_its_cache_when_given_a_secret(tmp_path: Path, monkeypatch):
    from evalbot.cli.app import _options as cli_options
    from evalbot.cli.app import build_parser

    args = build_parser().parse_args(["diff", "-C", str(tmp_path), "--base", "main"])
    assert cli_options(args, base="main", head=None).policy.cache_secret is None
    monkeypatch.setenv("EVALBOT_CACHE_SECRET", "s3cr3t-value")
    assert cli_options(args, base="main", head=None).policy.cache_secret is not None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux only")
def test_forbid_inspection_makes_the_process_non_dumpable():
    """``evalbot action`` (the container entrypoint) calls it first: without CAP_SYS_PTRACE
    (Docker's default) the PR's code then cannot read the parent's /proc/<pid>/environ. Checked
    in a child process, as the flag is per process."""
    probe = (
        "import ctypes; from evalbot.trust import forbid_inspection; "
        "assert forbid_inspection(); "
        "print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))"  # PR_GET_DUMPABLE
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_scrubbing_a_record_keeps_non_finite_numbers():
    record = Completion(text=f"key {SECRET}", latency_ms=float("nan"), cost_usd=float("inf"))
    cleaned = Scrubber([SECRET]).model(record)
    assert cleaned.text == "key ***" and cleaned.cost_usd == float("inf")


def test_a_secret_with_json_escapes_is_still_found_in_a_record():
    secret = 'pa"ss\\word-0123456789'
    cleaned = Scrubber([secret]).model(Completion(text=f"x {secret} y"))
    assert cleaned.text == "x *** y"
