from __future__ import annotations

import hashlib
import re

import pytest

from evalbot.errors import InputError
from evalbot.inputs.render import load_prompt, render_string, resolve_value
from evalbot.records import Example

EXAMPLE = Example(
    id="q1",
    vars={
        "question": "Where is my order?",
        "customer": {"name": "Ann", "tier": "gold"},
        "items": ["boots", "hat"],
        "count": 3,
        "vip": True,
        "note": None,
    },
    expected="30 days",
    group="returns",
    context=["Passage one.", "Passage two."],
    metadata={"source": "faq"},
)


def test_text_prompt__whole_file_is_one_user_message(make_tree):
    text = (
        "Hi {{customer.name}} ({{ customer.tier }}), id {{id}}.\n"
        "Q: {{question}}\nContext:\n{{context}}\n"
        "Items: {{items}} first={{items.0}} n={{count}} vip={{vip}} meta={{metadata.source}}\n"
        "Group {{group}}, expect {{ expected }}.\n"
    )
    prompt = load_prompt(make_tree({"prompts/a.md": text}), "prompts/a.md")
    assert prompt.format == "text"
    assert prompt.sha256 == hashlib.sha256(text.encode()).hexdigest()
    assert prompt.path == "prompts/a.md"
    assert prompt.variables == {
        "customer.name",
        "customer.tier",
        "id",
        "question",
        "context",
        "items",
        "items.0",
        "count",
        "vip",
        "metadata.source",
        "group",
        "expected",
    }
    (message,) = prompt.render(EXAMPLE)
    assert message.role == "user"
    assert message.content == (
        "Hi Ann (gold), id q1.\n"
        "Q: Where is my order?\nContext:\nPassage one.\n\nPassage two.\n"
        'Items: ["boots", "hat"] first=boots n=3 vip=true meta=faq\n'
        "Group returns, expect 30 days.\n"
    )


def test_escaped_and_json_braces_stay_literal(make_tree):
    text = 'Write \\{{name}} literally. Reply {"a": {"b": 1}} or {{{question}}}.'
    prompt = load_prompt(make_tree({"p.txt": text}), "p.txt")
    (message,) = prompt.render(EXAMPLE)
    assert message.content == (
        'Write {{name}} literally. Reply {"a": {"b": 1}} or {Where is my order?}.'
    )
    assert prompt.variables == {"question"}


CHAT_YAML = """\
# A comment that mentions {{question}} must not confuse line numbers.
messages:
  - role: system
    content: |
      You help {{customer.name}}.

      Be brief.
  - role: user
    content: "Q: {{question}} / {{missing}}"
"""


def test_chat_yaml__messages_and_line_of_missing_placeholder(make_tree):
    prompt = load_prompt(make_tree({"prompts/chat.yaml": CHAT_YAML}), "prompts/chat.yaml")
    assert prompt.format == "chat"
    assert prompt.variables == {"customer.name", "question", "missing"}
    with pytest.raises(InputError) as info:
        prompt.render(EXAMPLE)
    message = str(info.value)
    assert message.startswith("prompts/chat.yaml:9: placeholder {{missing}} has no value")
    assert "example 'q1'" in message
    assert "fix: add 'missing' to the golden set or remove the placeholder" in message
    assert info.value.file == "prompts/chat.yaml" and info.value.line == 9

    ok = EXAMPLE.model_copy(update={"vars": {**EXAMPLE.vars, "missing": "here"}})
    system, user = prompt.render(ok)
    assert (system.role, system.content) == ("system", "You help Ann.\n\nBe brief.\n")
    assert (user.role, user.content) == ("user", "Q: Where is my order? / here")


def test_chat_top_level_list_and_json(make_tree):
    tree = make_tree(
        {
            "a.yml": "- {role: developer, content: 'Rules'}\n"
            "- {role: user, content: '{{question}}'}\n",
            "b.json": '{"messages": [\n  {"role": "system", "content": "S"},\n'
            '  {"role": "user", "content": "{{ nope }}"}\n]}',
        }
    )
    roles = [m.role for m in load_prompt(tree, "a.yml").render(EXAMPLE)]
    assert roles == ["developer", "user"]
    with pytest.raises(InputError, match=r"^b\.json:3: placeholder \{\{nope\}\}"):
        load_prompt(tree, "b.json").render(EXAMPLE)


def test_dotted_miss_and_null_are_missing(make_tree):
    tree = make_tree({"p.md": "line one\n{{customer.email}}\n", "q.md": "{{note}}"})
    with pytest.raises(InputError, match=r"p\.md:2: placeholder \{\{customer\.email\}\}"):
        load_prompt(tree, "p.md").render(EXAMPLE)
    with pytest.raises(InputError, match=r"q\.md:1: placeholder \{\{note\}\} has no value"):
        load_prompt(tree, "q.md").render(EXAMPLE)
    bare = Example(id="e2", vars={"q": "x"})
    with pytest.raises(InputError, match="has no value for example 'e2'"):
        render_string("{{expected}}", bare, where="metric 'm' option 'value'")


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "p.md",
            "ok\n{{ x | upper }}",
            ["p.md:2:", "invalid placeholder '{{ x | upper }}'", "\\{{"],
        ),
        ("p.md", "{% if x %}{{x}}{% endif %}\n{{ x.y() }}", ["p.md:2:", "invalid placeholder"]),
        ("p.md", "open {{ and never closed", ["p.md:1:", "invalid placeholder"]),
        ("p.md", "   \n", ["p.md:", "prompt file is empty"]),
        ("p.yaml", "messages: []\n", ["p.yaml:1:", "non-empty list of messages"]),
        ("p.yaml", "message:\n  - {role: user, content: hi}\n", ["p.yaml:1:", "'message'"]),
        (
            "p.yaml",
            "- {role: bot, content: hi}\n",
            ["p.yaml:1:", "unknown role 'bot'", "fix: use one of system"],
        ),
        ("p.yaml", "- {role: user, content: hi}\n- {role: user}\n", ["p.yaml:2:", "'content'"]),
        ("p.yaml", "- {role: user, content: hi, name: x}\n", ["only 'role' and 'content'"]),
        ("p.yaml", "messages: [\n", ["p.yaml:", "invalid YAML"]),
        ("p.json", '{"messages": [}', ["p.json:1:", "invalid JSON"]),
        ("missing.md", None, ["missing.md:", "prompt file not found", "fix:"]),
    ],
)
def test_prompt_errors(make_tree, name, text, expected):
    tree = make_tree({} if text is None else {name: text})
    with pytest.raises(InputError) as info:
        load_prompt(tree, name)
    message = str(info.value)
    assert "\n" not in message
    for part in expected:
        assert part in message


def test_render_string_and_quote():
    assert render_string("x{{ expected }}y", EXAMPLE, where="w") == "x30 daysy"
    dollars = EXAMPLE.model_copy(update={"expected": "$5.99"})
    pattern = render_string("costs {{expected}}", dollars, where="w", quote=re.escape)
    assert re.search(pattern, "it costs $5.99 now")
    assert not re.search(pattern, "it costs $5x99 now")


def test_resolve_value_keeps_raw_types():
    assert resolve_value("{{items}}", EXAMPLE, where="w") == ["boots", "hat"]
    assert resolve_value(" {{count}} ", EXAMPLE, where="w") == 3
    assert resolve_value("n={{count}}", EXAMPLE, where="w") == "n=3"
    assert resolve_value("plain", EXAMPLE, where="w") == "plain"


class _BlobTree:
    """A tree that returns text byte-for-byte, as GitTree does (no newline translation)."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def exists(self, path: str) -> bool:
        return path in self.files

    def read_text(self, path: str) -> str:
        return self.files[path]

    def label(self, path: str) -> str:
        return f"main:{path}"


def test_crlf_and_bom_render_like_the_work_tree():
    tree = _BlobTree(
        {
            "p.md": "\ufeffHi\r\n{{question}}\r\n",
            "c.yaml": "- role: user\r\n  content: |\r\n    {{question}}\r\n",
        }
    )
    assert load_prompt(tree, "p.md").render(EXAMPLE)[0].content == "Hi\nWhere is my order?\n"
    assert load_prompt(tree, "c.yaml").render(EXAMPLE)[0].content == "Where is my order?\n"
    with pytest.raises(InputError, match=r"^main:p\.md:2: placeholder \{\{question\}\}"):
        load_prompt(tree, "p.md").render(Example(id="x"))
