"""Issue 8.5: skipping evaluation never passes the gate."""

from __future__ import annotations

from tests.security.conftest import MODEL, VAGUE, run_action


def test_pointing_the_key_at_an_unset_variable_fails_instead_of_neutral(attack):
    ws = attack.push(
        {"prompts/answers.md": VAGUE, "models/chat.yaml": MODEL + "api_key_env: UNSET_API_KEY\n"}
    )
    out = run_action(attack.env(ws), ws, attack.github)
    assert out.code == 2, out.log
    assert out.check["conclusion"] == "failure"
    assert out.outputs["verdict"] == "error"


def test_a_named_but_unset_key_variable_is_a_config_error_not_a_skip(attack):
    ws = attack.push(
        {"prompts/answers.md": VAGUE, "models/chat.yaml": MODEL + "api_key_env: SPARE_API_KEY\n"}
    )
    env = attack.env(ws, inputs={"model-env": "OPENAI_API_KEY, SPARE_API_KEY, OPENAI_BASE_URL"})
    env["INPUT_CHECK"] = "status"
    out = run_action(env, ws, attack.github)
    assert out.code == 2, out.log
    assert "SPARE_API_KEY is not set" in out.result.summary
    assert [s["state"] for s in attack.github.statuses] == ["error"]  # never success


def test_switching_the_head_to_the_mock_provider_fails(attack):
    ws = attack.push(
        {"prompts/answers.md": VAGUE, "models/chat.yaml": "provider: mock\nmodel: m\n"}
    )
    out = run_action(attack.env(ws), ws, attack.github)
    assert out.code == 2, out.log
    assert "changes the provider from 'openai' to 'mock'" in out.result.summary
    assert out.check["conclusion"] == "failure"


def test_no_key_at_all_is_neutral_as_on_a_fork(attack):
    ws = attack.push({"prompts/answers.md": VAGUE})
    env = attack.env(ws)
    del env["OPENAI_API_KEY"]
    out = run_action(env, ws, attack.github)
    assert out.code == 0, out.log
    assert out.check["conclusion"] == "neutral"
    assert attack.llm.requests == []


def test_the_comment_names_the_provider_and_the_model_that_answered(attack):
    ws = attack.push({"prompts/answers.md": VAGUE})
    out = run_action(attack.env(ws), ws, attack.github)
    assert out.code == 1
    [comment] = attack.github.comments_on("octo/app", 7)
    assert "openai · gpt-4o-mini" in comment["body"]
