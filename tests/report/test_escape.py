import random
import re

from evalbot.report import escape_cell, fenced
from evalbot.report.escape import ZWJ, plain, xml_safe

EVIL = (
    "| @octocat <script>alert(1)</script> <!-- evalbot:evalbot --> ![x](http://e) "
    "[y](https://e) #1 GH-2 ``` a\\|b \n# heading\r\n</details>\x1b[2J\u202e"
)


def unescaped_pipes(text: str) -> int:
    count, i = 0, 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        count += text[i] == "|"
        i += 1
    return count


def test_escape_cell__neutralises_everything_in_one_line():
    cell = escape_cell(EVIL, limit=1000)
    assert "\n" not in cell and "\r" not in cell
    assert unescaped_pipes(cell) == 0
    assert "<" not in cell.replace("<br>", "") and ">" not in cell.replace("<br>", "")
    assert "<!--" not in cell
    assert not re.search(r"@[A-Za-z0-9]", cell)
    assert not re.search(r"#\d|GH-\d", cell)
    assert "](" not in cell.replace("\\]", "")  # every bracket is escaped
    assert "http://" not in cell and "https://" not in cell
    assert "`" not in cell.replace("\\`", "")
    assert "\x1b" not in cell and "\u202e" not in cell
    assert cell.count("<br>") == 2


def test_escape_cell__keeps_plain_text_readable():
    assert escape_cell("support answers 82.5%") == "support answers 82.5%"
    assert escape_cell("a_b") == "a\\_b"
    assert escape_cell("x & y") == "x &amp; y"
    assert escape_cell("@bob") == "@" + ZWJ + "bob"


def test_escape_cell__truncates_before_escaping():
    cell = escape_cell("<" * 500, limit=10)
    assert cell == "&lt;" * 9 + "…"
    assert escape_cell("abc", limit=3) == "abc"


def test_escape_cell__random_strings_never_break_a_cell():
    rng = random.Random(7)
    alphabet = "|\\`<>&@#![]()\n\r*_~$-: a1"
    for _ in range(500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        cell = escape_cell(text, limit=30)
        assert unescaped_pipes(cell) == 0
        assert "\n" not in cell and "\r" not in cell
        assert "<!--" not in cell
        assert not re.search(r"@[A-Za-z0-9]|#\d", cell)


def test_fenced__fence_is_longer_than_any_backtick_run():
    block = fenced("a ```` b\n```\nc", limit=100)
    first, *_, last = block.split("\n")
    assert first == "`````text" and last == "`````"
    assert fenced("plain", limit=100) == "```text\nplain\n```"


def test_fenced__neutralises_marker_and_truncates():
    block = fenced("x <!-- evalbot:evalbot --> " + "y" * 100, limit=20)
    assert "<!--" not in block
    assert "more characters]" in block
    assert len(block) < 80


def test_plain__one_line_without_controls_or_workflow_commands():
    line = plain("::error::pwned\n\x1b[31mred")
    assert "\n" not in line and "\x1b" not in line
    assert "::" not in line


def test_xml_safe__drops_invalid_characters():
    assert xml_safe("a\x00b\x1bc\td") == "abc\td"
