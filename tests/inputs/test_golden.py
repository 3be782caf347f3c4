from __future__ import annotations

import hashlib
import json

import pytest

from evalbot.errors import InputError
from evalbot.inputs.golden import derive_id, load_golden

JSONL = (
    '{"id": "q1", "question": "How long?", "expected": "30 days", "group": "returns",'
    ' "context": "Policy 2.1", "metadata": {"source": "faq"}}\n'
    "\n"
    '{"question": "Who pays?", "expected": ["$5.99", "5.99"], "context": ["a", "b"],'
    ' "customer": {"name": "Ann"}}\n'
)


def test_jsonl__reserved_keys_lifted_and_lines_kept(make_tree):
    golden = load_golden(make_tree({"evals/a.jsonl": JSONL}), "evals/a.jsonl")
    first, second = golden.examples
    assert first.id == "q1"
    assert first.vars == {"question": "How long?"}
    assert first.expected == "30 days"
    assert first.group == "returns"
    assert first.context == ["Policy 2.1"]
    assert first.metadata == {"source": "faq"}
    assert first.line == 1
    assert second.line == 3  # the blank line is skipped but counted
    assert second.context == ["a", "b"]
    assert second.vars == {"question": "Who pays?", "customer": {"name": "Ann"}}
    assert golden.sha256 == hashlib.sha256(JSONL.encode()).hexdigest()
    assert golden.path == "evals/a.jsonl"
    assert golden.variables == ["customer", "question"]


def test_derived_id__stable_across_formats_and_key_order(make_tree):
    tree = make_tree(
        {
            "a.jsonl": '{"q": "hi", "expected": "yo"}\n',
            "b.yaml": "- expected: yo\n  q: hi\n",
            "c.ndjson": '{"expected": "yo", "q": "hi"}\n',
        }
    )
    ids = {load_golden(tree, p).examples[0].id for p in ("a.jsonl", "b.yaml", "c.ndjson")}
    assert ids == {derive_id({"q": "hi", "expected": "yo"})}
    (only,) = ids
    assert only.startswith("h-") and len(only) == 14


def test_numeric_id_is_a_string(make_tree):
    golden = load_golden(make_tree({"a.jsonl": '{"id": 7, "q": "x"}\n'}), "a.jsonl")
    assert golden.examples[0].id == "7"


def test_csv__header_json_columns_and_lines(make_tree):
    text = (
        "id,question,expected,context,metadata,group\n"
        'c1,"Hello, world",42,"[""p1"", ""p2""]","{""k"": 1}",g\n'
        '"c2","multi\nline",plain,just one passage,,\n'
        ",no id,{not json,,,\n"
    )
    golden = load_golden(make_tree({"g.csv": text}), "g.csv")
    one, two, three = golden.examples
    assert one.vars == {"question": "Hello, world"}
    assert one.context == ["p1", "p2"] and one.metadata == {"k": 1} and one.group == "g"
    assert one.expected == "42"  # CSV cells stay strings unless they look like JSON
    assert one.line == 2
    assert two.line == 3 and two.vars["question"] == "multi\nline"
    assert two.context == ["just one passage"] and two.metadata == {} and two.group is None
    assert three.line == 5  # the quoted line break above takes two physical lines
    assert three.id.startswith("h-") and three.expected == "{not json"


def test_yaml_list__item_index_and_dates(make_tree):
    text = "# examples\n- id: y1\n  when: 2024-01-02\n  expected: 1\n- id: y2\n  when: x\n"
    golden = load_golden(make_tree({"g.yml": text}), "g.yml")
    assert [e.line for e in golden.examples] == [1, 2]
    assert golden.examples[0].vars["when"] == "2024-01-02"
    assert golden.examples[0].expected == 1


def test_json_list(make_tree):
    text = json.dumps([{"id": "a", "x": 1}, {"id": "b", "x": 2}])
    golden = load_golden(make_tree({"g.json": text}), "g.json")
    assert [e.id for e in golden.examples] == ["a", "b"]


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("g.jsonl", '{"id": "a"}\n{"id": "b",}\n', ["g.jsonl:2:", "invalid JSON", "fix:"]),
        ("g.jsonl", '{"id": "a"}\n["not", "object"]\n', ["g.jsonl:2:", "got a list", "fix:"]),
        (
            "g.jsonl",
            '{"id": "a"}\n{"id": "b"}\n{"id": "a"}\n',
            ["g.jsonl:3:", "line 3 has the same id 'a' as line 1", "fix: remove the duplicate"],
        ),
        (
            "g.jsonl",
            '{"q": "same"}\n{"q": "same"}\n',
            ["g.jsonl:2:", "line 2 has the same content as line 1"],
        ),
        ("g.jsonl", "\n\n", ["g.jsonl:", "no examples", "fix:"]),
        ("g.jsonl", '{"id": ["x"]}\n', ["g.jsonl:1:", "'id' must be a string", "fix:"]),
        ("g.jsonl", '{"context": 3}\n', ["g.jsonl:1:", "'context' must be a string or a list"]),
        ("g.jsonl", '{"context": ["a", 1]}\n', ["'context' must be"]),
        ("g.jsonl", '{"metadata": "x"}\n', ["g.jsonl:1:", "'metadata' must be a mapping"]),
        ("g.jsonl", '{"group": {"a": 1}}\n', ["'group' must be a string"]),
        ("g.txt", "x", ["g.txt:", "unsupported golden-set extension '.txt'", ".jsonl"]),
        ("g.yaml", "a: 1\n", ["g.yaml:1:", "expected a list of mappings"]),
        ("g.yaml", "- id: a\n- just text\n", ["g.yaml:2:", "item 2", "mapping"]),
        ("g.yaml", "- id: a\n- id: [1\n", ["g.yaml:", "invalid YAML"]),
        (
            "g.yaml",
            "- id: a\n  x: 1\n- id: a\n",
            ["g.yaml:3:", "item 2 has the same id 'a' as item 1"],
        ),
        ("g.json", '{"id": "a"}', ["g.json:1:", "expected a list of objects"]),
        ("g.csv", "id,q\na,1,extra\n", ["g.csv:2:", "3 fields, the header has 2", "fix:"]),
        ("g.csv", "id,id\na,b\n", ["g.csv:1:", "repeated column name"]),
        ("g.csv", "id,metadata\na,{bad\n", ["g.csv:2:", "'metadata' is not valid JSON"]),
        ("g.csv", "id,metadata\na,plain\n", ["g.csv:2:", "'metadata' must be a JSON object"]),
        ("g.csv", "", ["g.csv:", "no examples"]),
    ],
)
def test_errors_name_file_line_and_fix(make_tree, name, text, expected):
    with pytest.raises(InputError) as info:
        load_golden(make_tree({name: text}), name)
    message = str(info.value)
    assert "\n" not in message
    for part in expected:
        assert part in message


def test_missing_file(make_tree):
    with pytest.raises(InputError, match=r"evals/none.jsonl: golden set not found \(fix: check"):
        load_golden(make_tree({}), "evals/none.jsonl")


def test_csv_with_bom_keeps_the_id_column(make_tree):
    text = "\ufeffid,question\nr1,hi\n"
    golden = load_golden(make_tree({"g.csv": text}), "g.csv")
    assert golden.examples[0].id == "r1"
    assert golden.examples[0].vars == {"question": "hi"}
    assert golden.sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_tags_and_slice_are_reserved_slice_labels(make_tree):
    text = (
        '{"id": "a", "q": "x", "tags": ["lang=de", "tier=pro", "lang=de"], "slice": "topic=x"}\n'
        '{"id": "b", "q": "y", "tags": "lang=en"}\n'
        '{"id": "c", "q": "z"}\n'
    )
    a, b, c = load_golden(make_tree({"a.jsonl": text}), "a.jsonl").examples
    assert a.slices == ["topic=x", "lang=de", "tier=pro"] and a.vars == {"q": "x"}
    assert b.slices == ["lang=en"] and c.slices == []
    csv_text = 'id,q,tags,slice\nd,w,"[""lang=fr""]",\n'
    [d] = load_golden(make_tree({"b.csv": csv_text}), "b.csv").examples
    assert d.slices == ["lang=fr"] and d.vars == {"q": "w"}


@pytest.mark.parametrize("row", ['{"q": 1, "tags": {"a": 1}}', '{"q": 1, "slice": ["x"]}'])
def test_bad_tags_name_the_key_and_line(make_tree, row):
    with pytest.raises(InputError) as info:
        load_golden(make_tree({"a.jsonl": row + "\n"}), "a.jsonl")
    assert "tags" in str(info.value) or "slice" in str(info.value)
    assert info.value.line == 1
