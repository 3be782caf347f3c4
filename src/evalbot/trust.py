"""What the trusted side (the workflow: its inputs and ``env:``) allows a pull request to do.

Everything in the repository, ``evalbot.yml`` and model configs included, is written by the PR
author. The ``TrustPolicy`` is built from the workflow only (``ActionSettings``) and checked
against every model config before the first model call: which variables may serve as key or
endpoint, whether the user's code may run, whether the head may change provider, which request
params may multiply spend. The CLI on a developer's machine uses ``TrustPolicy.local()``, which
trusts the repository (it is the developer's own).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from evalbot.errors import ConfigError

if TYPE_CHECKING:  # annotations only: the CLI starts without pydantic
    from evalbot.inputs.config import ModelConfig
    from evalbot.run.providers import ProviderSpec

__all__ = [
    "DEFAULT_MODEL_ENV",
    "MULTIPLYING_PARAMS",
    "TrustPolicy",
    "check_cache_dir",
    "code_environment",
    "default_allowed_hosts",
    "forbid_inspection",
]

DEFAULT_MODEL_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL")
MULTIPLYING_PARAMS = ("n", "best_of")
"""Request params that make one request pay for several answers."""
_OPENAI_HOST = "api.openai.com"
_PR_SET_DUMPABLE = 4
_BASIC_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "PYTHONIOENCODING", "SYSTEMROOT")
"""What any program needs to start and read text; nothing here is a secret."""


@dataclass(frozen=True)
class TrustPolicy:
    """The workflow's limits on what the repository's files may make evalbot do."""

    model_env: tuple[str, ...] | None = None
    """Variables a model config may name as ``api_key_env`` / ``base_url_env`` (None: any)."""
    allow_code: bool = True
    """Whether ``python`` / ``exec`` providers (the user's code) may run."""
    code_env: tuple[str, ...] | None = None
    """Variables passed to the user's code besides the basics (None: the whole environment)."""
    allow_provider_change: bool = True
    """Whether the head side may use another provider kind than the base side (or ``mock``)."""
    allow_multiple_choices: bool = True
    """Whether request params ``n`` / ``best_of`` above 1 are allowed."""
    max_requests: int | None = None
    """Requests sent to providers (judges included) before the run stops with an error."""
    max_examples: int | None = None
    """Examples per suite (after sharding) above which the run is refused."""
    price_floor: bool = False
    """The cost cap counts ``openai`` calls at no less than the built-in price table."""
    require_key: bool = False
    """An ``openai`` model whose key variable is unset is a config error (not a skip)."""
    cache_secret: bytes | None = field(default=None, repr=False)
    """Signs cache entries and frozen judge steps; unsigned or forged ones are misses."""
    cache_scope: str | None = None
    """Replaces the endpoint URL in the cache key, to share answers between endpoints."""
    hold_to_base: bool = False
    """The PR's ``evalbot.yml`` may tighten the gate but not loosen it
    (``evalbot.pipeline.strictest``): the stricter of base and head applies, renamed and removed
    suites are still compared, and a base side that cannot be prepared is an error instead of a
    head-only run."""

    @classmethod
    def local(cls) -> TrustPolicy:
        return cls()

    def check_model(
        self, config: ModelConfig, *, label: str, env: Mapping[str, str], side: str = "head"
    ) -> None:
        """Raise ConfigError (naming ``label``, the model config file) for anything the
        workflow does not allow; nothing has been sent yet when this is called."""
        spec = _spec(config)
        if spec.runs_user_code and not self.allow_code:
            raise ConfigError(
                f"provider {config.provider!r} runs code from the repository, and this workflow "
                f"does not allow it ({side} side)",
                file=label,
                hint="set the action input allow-code-providers: true in the workflow if the "
                "PR's code may run in this job",
            )
        if not self.allow_multiple_choices:
            for name in MULTIPLYING_PARAMS:
                value = config.params.get(name)
                if value is not None and value != 1:
                    raise ConfigError(
                        f"params.{name}: {value!r} multiplies the cost of every request",
                        file=label,
                        hint=f"remove {name} (use the suite's samples), or set the action input "
                        "allow-multiple-choices: true",
                    )
        if not spec.env_fields:
            return
        if self.model_env is not None:
            for key in spec.env_fields:
                name = getattr(config, key)
                if name not in self.model_env:
                    raise ConfigError(
                        f"{key}: {name} is not a variable this workflow allows for models "
                        f"(model-env: {', '.join(self.model_env)})",
                        file=label,
                        hint=f"use one of those, or add {name} to the action input model-env",
                    )
        if self.require_key and not (env.get(config.api_key_env) or "").strip():
            raise ConfigError(
                f"api_key_env: {config.api_key_env} is not set in this step",
                file=label,
                hint=f"pass {config.api_key_env} in the workflow's env, or use a key variable "
                "that is set",
            )

    def check_provider_change(self, base: ModelConfig, head: ModelConfig, *, label: str) -> None:
        if self.allow_provider_change or base.provider == head.provider:
            return
        raise ConfigError(
            f"the head side changes the provider from {base.provider!r} to {head.provider!r}",
            file=label,
            hint="keep the provider, or set the action input allow-provider-change: true",
        )

    def check_new_suite(self, head: ModelConfig, *, label: str) -> None:
        if self.allow_provider_change or _spec(head).cached:
            return
        raise ConfigError(
            f"a suite the PR adds uses the offline {head.provider!r} provider, which calls no "
            "model",
            file=label,
            hint="use a real provider, or set the action input allow-provider-change: true",
        )


def _spec(config: ModelConfig) -> ProviderSpec:
    # Imported when a model is checked: the CLI starts without pydantic, which run/ loads.
    from evalbot.run.providers import provider_spec

    return provider_spec(config.provider)


def _host_entry(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    try:
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname.lower()
    return f"{host}:{port}" if port is not None else host


def default_allowed_hosts(env: Mapping[str, str], model_env: Sequence[str]) -> tuple[str, ...]:
    """The hosts of the endpoint variables the workflow names (``*_URL`` in ``model-env``);
    a named variable left unset means the openai default, api.openai.com."""
    hosts: list[str] = []
    urls = [name for name in model_env if name.endswith("_URL")] or ["OPENAI_BASE_URL"]
    for name in urls:
        value = (env.get(name) or "").strip()
        entry = _host_entry(value) if value else _OPENAI_HOST
        if entry:
            hosts.append(entry)
    return tuple(dict.fromkeys(hosts))


def code_environment(env: Mapping[str, str], names: Sequence[str], tmpdir: Path) -> dict[str, str]:
    """The whole environment of a ``python`` / ``exec`` subprocess: the basics, a private
    temporary directory as HOME and TMPDIR, and the variables the workflow names."""
    minimal = {name: env[name] for name in _BASIC_ENV if name in env}
    minimal.setdefault("PATH", os.defpath)
    minimal.update(HOME=str(tmpdir), TMPDIR=str(tmpdir), TEMP=str(tmpdir), TMP=str(tmpdir))
    for name in names:
        if name in env:
            minimal[name] = env[name]
    return minimal


def forbid_inspection() -> bool:
    """Mark this process non-dumpable (Linux ``prctl(PR_SET_DUMPABLE, 0)``): processes of the
    same user without CAP_SYS_PTRACE (Docker's default) can then neither attach to it nor read
    its ``/proc/<pid>/environ`` or memory, where the step's secrets live. It guards against the
    user's code (``python``/``exec`` providers) reading the parent. Returns whether it took."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # (the commands that run user code ask; others start without it)

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _tracked(workspace: Path, rel: str) -> bool:
    """Whether git tracks anything at or under ``rel`` in the index or at HEAD."""
    for args in (["ls-files", "--", rel], ["ls-tree", "-r", "--name-only", "HEAD", "--", rel]):
        proc = subprocess.run(
            ["git", "-C", str(workspace), *args], capture_output=True, text=True, check=False
        )
        if proc.returncode == 0 and proc.stdout.strip():
            return True
    return False


def check_cache_dir(path: Path, *, workspace: Path, head: str | None = None) -> Path:
    """``path`` as a cache directory the PR cannot have planted: not a symlink nor under one
    (within the workspace, where the PR's files are), and not tracked by git. Returns it
    absolute; raises ConfigError otherwise."""
    path = Path(os.path.abspath(path))
    workspace = Path(os.path.abspath(workspace))
    inside = path == workspace or workspace in path.parents
    # Outside the workspace the directories are the runner's, not the PR's: only the cache
    # directory itself is checked there.
    probes = [path]
    if inside:
        probes = [
            workspace.joinpath(*path.relative_to(workspace).parts[: i + 1])
            for i in range(len(path.relative_to(workspace).parts))
        ]
    for probe in probes:
        if probe.is_symlink():
            raise ConfigError(
                f"cache directory {path} passes through the symlink {probe}",
                hint="point the action input cache-dir at a real directory outside the "
                "repository's files (default: under RUNNER_TEMP)",
            )
    if inside:
        rel = path.relative_to(workspace).as_posix()
        tracked = rel == "." or _tracked(workspace, rel)
        if not tracked and head:
            proc = subprocess.run(
                ["git", "-C", str(workspace), "ls-tree", "-r", "--name-only", head, "--", rel],
                capture_output=True,
                text=True,
                check=False,
            )
            tracked = proc.returncode == 0 and bool(proc.stdout.strip())
        if tracked:
            raise ConfigError(
                f"cache directory {rel} holds files tracked by git, which the PR controls",
                hint="use a directory git does not track (add it to .gitignore), or leave "
                "cache-dir unset (default: under RUNNER_TEMP)",
            )
    return path
