"""Settings of the GitHub Action (and of ``evalbot publish``), read from the environment.

The runner passes each input ``foo-bar`` as ``INPUT_FOO-BAR`` (hyphen kept); ``INPUT_FOO_BAR``
and ``EVALBOT_FOO_BAR`` are read as well, so the same settings work from action.yml's ``runs.env``
mapping and from a plain ``run:`` step. Every value arrives as a string and is parsed strictly.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, SecretStr

from evalbot.errors import ConfigError
from evalbot.options import DEFAULT_CHECK_NAME, check_name_problem, parse_shard
from evalbot.trust import DEFAULT_MODEL_ENV, TrustPolicy, default_allowed_hosts

__all__ = ["ActionSettings", "read_input", "secret_values"]

CheckMode = Literal["check-run", "status", "none"]
CommentMode = Literal["always", "on-change", "never"]
CHECK_MODES = ("check-run", "status", "none")
COMMENT_MODES = ("always", "on-change", "never")

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_SERVER_URL = "https://github.com"
_SECRET_NAME = re.compile(r"[-_](?:KEY|TOKEN|SECRET|PASSWORD)$")
DEFAULT_MAX_REQUESTS = 5000
"""Requests sent per run (judges included): a few suites of a few hundred examples, sampled."""
DEFAULT_MAX_EXAMPLES = 2000
"""Examples per suite per run (after sharding)."""
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_MIN_MASK_LENGTH = 4
"""Shorter values are not secrets (``1``, ``yes``) and masking them would garble every log line."""


def read_input(env: Mapping[str, str], name: str) -> str | None:
    """An action input by its kebab-case name; None when unset or blank."""
    upper = name.upper()
    snake = upper.replace("-", "_")
    for key in (f"INPUT_{upper}", f"INPUT_{snake}", f"EVALBOT_{snake}"):
        value = env.get(key)
        if value is not None and value.strip():
            return value.strip()
    return None


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (read_input(env, name) or default).lower()
    if value not in allowed:
        raise ConfigError(f"input '{name}': {value!r} is not one of {', '.join(allowed)}")
    return value


def _int(env: Mapping[str, str], name: str, *, minimum: int = 1) -> int | None:
    raw = read_input(env, name)
    if raw is None:
        return None
    if not re.fullmatch(r"\d+", raw) or int(raw) < minimum:
        raise ConfigError(f"input '{name}': expected a whole number ≥ {minimum}, got {raw!r}")
    return int(raw)


def _float(env: Mapping[str, str], name: str) -> float | None:
    raw = read_input(env, name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise ConfigError(f"input '{name}': expected a number ≥ 0, got {raw!r}")
    return value


def _bool(env: Mapping[str, str], name: str) -> bool:
    return _choice(env, name, ("true", "false"), "false") == "true"


def _names(env: Mapping[str, str], name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """A list of environment variable names (``model-env``, ``code-env``)."""
    names = _list(env, name) or default
    bad = [n for n in names if not _ENV_NAME.fullmatch(n)]
    if bad:
        raise ConfigError(
            f"input '{name}': {bad[0]!r} is not an environment variable name",
            hint="list names such as OPENAI_API_KEY, separated by commas or new lines",
        )
    return names


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    raw = read_input(env, name) or ""
    return tuple(dict.fromkeys(p.strip() for p in re.split(r"[,\n]", raw) if p.strip()))


def _retries(env: Mapping[str, str]) -> int | None:
    value = _int(env, "max-retries", minimum=0)
    if value is not None and value > 10:
        raise ConfigError(f"input 'max-retries': at most 10, got {value}")
    return value


def _shard(env: Mapping[str, str]) -> str | None:
    raw = read_input(env, "shard")
    if raw is None:
        return None
    try:
        parse_shard(raw)
    except ValueError:
        raise ConfigError(f"input 'shard': {raw!r} is not K/N with 1 ≤ K ≤ N (e.g. 2/4)") from None
    return raw


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Values to ``::add-mask::``: the token input and every ``*_KEY``/``*_TOKEN``/… variable."""
    values: list[str] = []
    for name, value in env.items():
        upper = name.upper()
        if upper in ("INPUT_GITHUB-TOKEN", "INPUT_GITHUB_TOKEN") or _SECRET_NAME.search(upper):
            values.extend(v.strip() for v in value.splitlines())
    return sorted({v for v in values if len(v) >= _MIN_MASK_LENGTH}, key=len, reverse=True)


class ActionSettings(BaseModel):
    """Inputs of action.yml plus the parts of the Actions environment evalbot uses."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True, defer_build=True)

    workspace: Path
    """``GITHUB_WORKSPACE``: the checked-out repository (``/github/workspace`` in the container)."""
    config: str = "evalbot.yml"
    github_token: SecretStr | None = None
    base: str | None = None
    """Overrides the PR's base; the pipeline still evaluates from its merge-base with head."""
    suites: tuple[str, ...] = ()
    check: CheckMode = "check-run"
    check_name: str = "evalbot"
    comment: CommentMode = "on-change"
    concurrency: int | None = None
    max_retries: int | None = None
    """Retries per model call; None: evalbot.yml's ``max_retries`` (default 4)."""
    samples: int | None = None
    shard: str | None = None
    max_cost_usd: float | None = None
    allowed_hosts: tuple[str, ...] | None = None
    """Hosts a key may go to: the hosts of the ``model-env`` endpoint variables (default: of
    ``OPENAI_BASE_URL``, else api.openai.com) plus the ``allowed-hosts`` input."""
    cache_dir: Path | None = None
    """``cache-dir`` input (workspace-relative); None: under ``RUNNER_TEMP``."""
    runner_temp: Path | None = None
    model_env: tuple[str, ...] = DEFAULT_MODEL_ENV
    """Variables model configs may name as key or endpoint."""
    allow_code_providers: bool = False
    code_env: tuple[str, ...] = ()
    """Variables passed to ``python``/``exec`` providers besides PATH, HOME, TMPDIR, LANG."""
    allow_provider_change: bool = False
    allow_multiple_choices: bool = False
    max_requests: int = DEFAULT_MAX_REQUESTS
    max_examples: int = DEFAULT_MAX_EXAMPLES
    cache_secret: SecretStr | None = None
    """Signs cache entries; default: derived from the values of the model-env key variables."""
    cache_scope: str | None = None
    out_dir: Path
    """Where results.json, comment.md and junit.xml go (``EVALBOT_OUT_DIR``, default
    ``<workspace>/evalbot-results``)."""
    github_retry_budget_s: float = 600.0
    """``EVALBOT_GITHUB_RETRY_BUDGET``: seconds evalbot may spend waiting to retry GitHub writes
    (rate limits, 5xx) in one run, all writes together."""
    bot_login: str | None = None
    """``EVALBOT_BOT_LOGIN``: whose comments count as ours when ``GET /user`` is forbidden
    (App tokens); default ``github-actions[bot]`` for ``GITHUB_TOKEN``."""
    api_url: str = DEFAULT_API_URL
    server_url: str = DEFAULT_SERVER_URL
    repository: str = ""
    run_id: str | None = None
    output_path: Path | None = None
    summary_path: Path | None = None

    @property
    def run_url(self) -> str | None:
        if not (self.repository and self.run_id):
            return None
        return f"{self.server_url.rstrip('/')}/{self.repository}/actions/runs/{self.run_id}"

    @property
    def token(self) -> str | None:
        return self.github_token.get_secret_value() if self.github_token else None

    def policy(self, env: Mapping[str, str]) -> TrustPolicy:
        """The workflow's limits, for the pipeline (see ``evalbot.trust``)."""
        return TrustPolicy(
            model_env=self.model_env,
            allow_code=self.allow_code_providers,
            code_env=self.code_env,
            allow_provider_change=self.allow_provider_change,
            allow_multiple_choices=self.allow_multiple_choices,
            max_requests=self.max_requests,
            max_examples=self.max_examples,
            price_floor=True,
            require_key=True,
            cache_secret=self._cache_key(env),
            cache_scope=self.cache_scope,
            hold_to_base=True,
        )

    def key_variables(self) -> tuple[str, ...]:
        """The ``model-env`` variables that hold keys (not endpoints)."""
        return tuple(n for n in self.model_env if not n.endswith("_URL"))

    def _cache_key(self, env: Mapping[str, str]) -> bytes:
        if self.cache_secret is not None:
            material = [self.cache_secret.get_secret_value()]
        else:
            # The keys the workflow passes: a PR can read none of them, and they stay the same
            # from run to run, so a cache restored from an earlier run still verifies.
            material = [f"{n}={env[n].strip()}" for n in self.key_variables() if env.get(n)]
            if not material:
                return os.urandom(32)  # nothing secret to derive from: trust this run only
        digest = hashlib.sha256(b"evalbot cache key\0" + "\0".join(material).encode("utf-8"))
        return digest.digest()

    @classmethod
    def from_environ(cls, env: Mapping[str, str]) -> ActionSettings:
        """Parse inputs and ``GITHUB_*`` variables; raises ConfigError naming the bad input."""
        workspace = Path(env.get("GITHUB_WORKSPACE") or ".").resolve()
        check_name = read_input(env, "check-name") or DEFAULT_CHECK_NAME
        if check_name_problem(check_name):
            raise ConfigError(
                f"input 'check-name': {check_name!r} cannot be used",
                hint="use letters, digits, spaces, '/', '_' or '-' (no '--', '<', '>')",
            )
        token = read_input(env, "github-token") or env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
        cache_dir = read_input(env, "cache-dir")
        out_dir = env.get("EVALBOT_OUT_DIR") or "evalbot-results"
        hosts = _list(env, "allowed-hosts")
        model_env = _names(env, "model-env", DEFAULT_MODEL_ENV)
        cache_secret = read_input(env, "cache-secret")
        runner_temp = (env.get("RUNNER_TEMP") or "").strip()
        output_path = env.get("GITHUB_OUTPUT")
        summary_path = env.get("GITHUB_STEP_SUMMARY")
        retry_budget = _float(env, "github-retry-budget")
        return cls(
            workspace=workspace,
            config=read_input(env, "config") or "evalbot.yml",
            github_token=SecretStr(token.strip()) if token and token.strip() else None,
            base=read_input(env, "base"),
            suites=_list(env, "suites"),
            check=cast(CheckMode, _choice(env, "check", CHECK_MODES, "check-run")),
            check_name=check_name,
            comment=cast(CommentMode, _choice(env, "comment", COMMENT_MODES, "on-change")),
            concurrency=_int(env, "concurrency"),
            max_retries=_retries(env),
            samples=_int(env, "samples"),
            shard=_shard(env),
            max_cost_usd=_float(env, "max-cost-usd"),
            allowed_hosts=tuple(
                dict.fromkeys([*default_allowed_hosts(env, model_env), *(h.lower() for h in hosts)])
            ),
            cache_dir=(workspace / cache_dir) if cache_dir else None,
            runner_temp=Path(runner_temp) if runner_temp else None,
            model_env=model_env,
            allow_code_providers=_bool(env, "allow-code-providers"),
            code_env=_names(env, "code-env"),
            allow_provider_change=_bool(env, "allow-provider-change"),
            allow_multiple_choices=_bool(env, "allow-multiple-choices"),
            max_requests=_int(env, "max-requests") or DEFAULT_MAX_REQUESTS,
            max_examples=_int(env, "max-examples") or DEFAULT_MAX_EXAMPLES,
            cache_secret=SecretStr(cache_secret) if cache_secret else None,
            cache_scope=read_input(env, "cache-scope"),
            out_dir=workspace / out_dir,
            github_retry_budget_s=600.0 if retry_budget is None else retry_budget,
            bot_login=(env.get("EVALBOT_BOT_LOGIN") or "").strip() or None,
            api_url=(env.get("GITHUB_API_URL") or DEFAULT_API_URL).rstrip("/"),
            server_url=(env.get("GITHUB_SERVER_URL") or DEFAULT_SERVER_URL).rstrip("/"),
            repository=env.get("GITHUB_REPOSITORY", ""),
            run_id=env.get("GITHUB_RUN_ID") or None,
            output_path=Path(output_path) if output_path else None,
            summary_path=Path(summary_path) if summary_path else None,
        )
