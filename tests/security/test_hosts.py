"""Issue 8.3: keys and endpoints come only from variables the workflow names, go only to the
hosts it allows, and a redirect is not followed."""

from __future__ import annotations

from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.security.conftest import KEY, MODEL, VAGUE, run_action


def test_an_endpoint_variable_the_workflow_did_not_name_is_refused(attack):
    with FakeOpenAI(api_key=None) as evil:
        ws = attack.push(
            {
                "prompts/answers.md": VAGUE,
                "models/chat.yaml": MODEL + "base_url_env: EVIL_BASE_URL\n",
            }
        )
        env = attack.env(ws, extra={"EVIL_BASE_URL": evil.base_url})
        out = run_action(env, ws, attack.github)
        assert out.code == 2, out.log
        assert "EVIL_BASE_URL is not a variable this workflow allows" in out.result.summary
        assert out.check["conclusion"] == "failure"
        assert evil.requests == [] and attack.llm.requests == []


def test_the_github_api_url_cannot_serve_as_the_model_endpoint(attack):
    ws = attack.push(
        {"prompts/answers.md": VAGUE, "models/chat.yaml": MODEL + "base_url_env: GITHUB_API_URL\n"}
    )
    out = run_action(attack.env(ws), ws, attack.github)
    assert out.code == 2, out.log
    assert "GITHUB_API_URL" in out.result.summary
    assert not [r for r in attack.github.requests if "chat/completions" in r.path]
    assert KEY not in repr(attack.github.requests)


def test_another_secret_cannot_serve_as_the_bearer(attack):
    ws = attack.push(
        {
            "prompts/answers.md": VAGUE,
            "models/chat.yaml": MODEL + "api_key_env: AWS_SECRET_ACCESS_KEY\n",
        }
    )
    aws = "aws-secret-0123456789abcdefghij"
    out = run_action(attack.env(ws, extra={"AWS_SECRET_ACCESS_KEY": aws}), ws, attack.github)
    assert out.code == 2, out.log
    assert "AWS_SECRET_ACCESS_KEY is not a variable this workflow allows" in out.result.summary
    assert attack.llm.requests == []
    assert not any(aws in h for h in attack.llm.auth_headers)


def test_a_second_endpoint_the_workflow_names_is_allowed_on_its_own_host(attack):
    """``model-env`` names SECOND_BASE_URL: its host joins the default allowed hosts."""
    with FakeOpenAI(api_key=None) as other:
        model = MODEL + "base_url_env: SECOND_BASE_URL\n"
        ws = attack.push({"prompts/answers.md": VAGUE, "models/chat.yaml": model})
        other_url = other.base_url  # same address, another port: its own host:port entry
        inputs = {"model-env": "OPENAI_API_KEY, OPENAI_BASE_URL, SECOND_BASE_URL"}
        env = attack.env(ws, inputs=inputs, extra={"SECOND_BASE_URL": other_url})
        out = run_action(env, ws, attack.github)
        assert out.code in (0, 1), out.log
        assert len(other.requests) > 0


def test_a_redirect_to_another_host_is_not_followed(attack):
    with FakeOpenAI(api_key=None) as evil:
        attack.llm.responder = lambda body: Reply(
            status=307, headers={"Location": evil.base_url + "/chat/completions"}
        )
        ws = attack.push({"prompts/answers.md": VAGUE})
        out = run_action(attack.env(ws), ws, attack.github)
        assert out.code == 3, out.log
        assert "redirects are not followed" in out.result.summary
        assert out.check["conclusion"] == "failure"
        assert evil.requests == []
