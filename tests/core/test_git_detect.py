from __future__ import annotations

import subprocess

import pytest
import yaml

from evalbot.errors import ConfigError, GitError
from evalbot.inputs.config import EvalbotConfig
from evalbot.inputs.detect import glob_match, select_suites
from evalbot.inputs.git import Git
from evalbot.inputs.tree import GitTree, WorkTree
from tests.gitrepo import Repo


def _config(**overrides: object) -> dict:
    suites = [
        {
            "name": name,
            "prompt": f"prompts/{name}.md",
            "model": "models/m.yaml",
            "dataset": f"evals/{name}.jsonl",
            "metrics": [{"name": "ok", "type": "contains", "value": "x"}],
        }
        for name in ("alpha", "beta", "gamma")
    ]
    data = {"version": 1, "suites": suites}
    data.update(overrides)
    return data


def _files(config: dict) -> dict[str, str]:
    files = {"evalbot.yml": yaml.safe_dump(config, sort_keys=False), "models/m.yaml": "model: m\n"}
    for suite in config["suites"]:
        files[suite["prompt"]] = "Q: {{q}}\n"
        files[suite["dataset"]] = '{"q": "hi"}\n'
    return files


@pytest.fixture
def repo(tmp_path):
    repo = Repo(tmp_path / "r")
    repo.commit(_files(_config()), "base")
    repo.branch("pr")
    return repo


def _select(repo: Repo, **kwargs):
    git = Git(repo.root)
    mb = git.merge_base("main", "pr")
    head = EvalbotConfig.model_validate(yaml.safe_load((repo.root / "evalbot.yml").read_text()))
    base = EvalbotConfig.model_validate(
        yaml.safe_load(GitTree(git, "main", mb).read_text("evalbot.yml"))
    )
    changes = git.changes(mb, git.rev_parse("pr"))
    chosen = select_suites(head, base, changes, config_path="evalbot.yml", **kwargs)
    return {s.suite.name: s.reasons for s in chosen if s.selected}


def test_only_the_suite_whose_prompt_changed_runs(repo):
    repo.commit({"prompts/beta.md": "Answer briefly. Q: {{q}}\n"})
    assert _select(repo) == {"beta": ["prompts/beta.md"]}


def test_shared_model_file_triggers_every_suite_using_it(repo):
    repo.commit({"models/m.yaml": "model: m2\n"})
    assert set(_select(repo)) == {"alpha", "beta", "gamma"}


def test_rename_and_delete_count_on_both_paths(repo):
    repo.git("mv", "evals/gamma.jsonl", "evals/gamma2.jsonl")
    config = _config()
    config["suites"][2]["dataset"] = "evals/gamma2.jsonl"
    repo.commit({"evalbot.yml": yaml.safe_dump(config, sort_keys=False)})
    selected = _select(repo)
    assert set(selected) == {"gamma"}
    assert "evals/gamma2.jsonl" in selected["gamma"]
    assert "suite definition changed in evalbot.yml" in selected["gamma"]


def test_config_edit_reruns_only_the_changed_suite(repo):
    config = _config()
    config["suites"][0]["samples"] = 3
    repo.commit({"evalbot.yml": yaml.safe_dump(config, sort_keys=False)})
    assert _select(repo) == {"alpha": ["suite definition changed in evalbot.yml"]}


def test_watch_globs_and_new_suites(repo):
    config = _config()
    config["suites"][1]["watch"] = ["src/support/**"]
    config["suites"].append(
        {
            "name": "delta",
            "prompt": "prompts/alpha.md",
            "model": "models/m.yaml",
            "dataset": "evals/alpha.jsonl",
        }
    )
    repo.commit(
        {
            "evalbot.yml": yaml.safe_dump(config, sort_keys=False),
            "src/support/deep/app.py": "x = 1\n",
        }
    )
    selected = _select(repo)
    assert "src/support/deep/app.py" in selected["beta"]
    assert selected["delta"][0] == "new suite"
    assert "alpha" not in selected


def test_all_and_suite_overrides(repo):
    assert set(_select(repo, run_all=True)) == {"alpha", "beta", "gamma"}
    assert _select(repo, requested=["gamma"]) == {"gamma": ["--suite"]}
    with pytest.raises(ConfigError, match="unknown suites"):
        _select(repo, requested=["nope"])


@pytest.mark.parametrize(
    ("path", "pattern", "expected"),
    [
        ("src/a.py", "src/*.py", True),
        ("src/x/a.py", "src/*.py", False),
        ("src/x/a.py", "src/**", True),
        ("src/x/a.py", "src/**/*.py", True),
        ("src/a.py", "src/**/*.py", True),
        ("src/a.py", "src/", True),
        ("other/src/a.py", "src/**", False),
        ("prompts/a.md", "./prompts/*.md", True),
    ],
)
def test_glob_match(path, pattern, expected):
    assert glob_match(path, pattern) is expected


def test_base_files_are_read_without_touching_the_work_tree(repo):
    repo.commit({"prompts/alpha.md": "HEAD VERSION {{q}}\n"})
    git = Git(repo.root)
    base = GitTree(git, "main")
    assert base.read_text("prompts/alpha.md") == "Q: {{q}}\n"
    assert WorkTree(repo.root).read_text("prompts/alpha.md") == "HEAD VERSION {{q}}\n"
    assert base.label("prompts/alpha.md") == "main:prompts/alpha.md"
    exported = base.materialize()
    assert (exported / "prompts/alpha.md").read_text() == "Q: {{q}}\n"
    assert repo.git("status", "--porcelain") == ""


def test_work_tree_changes_and_untracked_files_are_detected(repo):
    (repo.root / "prompts/alpha.md").write_text("edited {{q}}\n")
    (repo.root / "prompts/new.md").write_text("new\n")
    git = Git(repo.root)
    paths = {c.path for c in git.changes(git.rev_parse("main"), None)}
    assert paths == {"prompts/alpha.md", "prompts/new.md"}


def test_shallow_clone_error_says_to_fetch_full_history(repo, tmp_path):
    repo.commit({"prompts/alpha.md": "1 {{q}}\n"})
    repo.commit({"prompts/alpha.md": "2 {{q}}\n"})
    shallow = tmp_path / "shallow"
    subprocess.run(
        [
            "git",
            "clone",
            "-q",
            "--depth",
            "1",
            "--branch",
            "pr",
            f"file://{repo.root}",
            str(shallow),
        ],
        check=True,
    )
    with pytest.raises(GitError, match="fetch-depth: 0"):
        Git(shallow).merge_base("origin/main", "HEAD")


def _judged(repo: Repo) -> dict:
    """beta grades with an LLM judge (models/judge.yaml); alpha and gamma are deterministic."""
    config = _config(judge={"model": "models/judge.yaml"})
    config["suites"][1]["metrics"].append(
        {"name": "helpful", "type": "llm_rubric", "rubric": "Is it helpful?"}
    )
    repo.git("checkout", "-q", "main")
    repo.commit({**_files(config), "models/judge.yaml": "model: j\n"}, "judge")
    repo.git("checkout", "-q", "pr")
    repo.git("merge", "-q", "main")
    return config


def test_a_judge_model_change_reruns_only_the_suites_it_grades(repo):
    _judged(repo)
    repo.commit({"models/judge.yaml": "model: j2\n"})
    assert _select(repo) == {"beta": ["models/judge.yaml"]}


def test_a_judge_change_in_the_config_reruns_only_the_suites_it_grades(repo):
    config = _judged(repo)
    repo.commit({"models/judge2.yaml": "model: j2\n"})
    config["judge"] = {"model": "models/judge2.yaml"}
    repo.commit({"evalbot.yml": yaml.safe_dump(config, sort_keys=False)})
    assert _select(repo) == {"beta": ["models/judge2.yaml", "judge changed in evalbot.yml"]}


def test_a_docs_only_change_selects_no_suite_even_with_a_judge(repo):
    _judged(repo)
    repo.commit({"docs/usage.md": "How to ask.\n"})
    assert _select(repo) == {}
