"""Reads report.html as a browser's parser would (stdlib ``html.parser``), for the HTML tests:
every element with its attributes, the script bodies, the text of the verdict tables."""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

# Every element the report is allowed to contain: a tag outside this set is markup that came in
# from somewhere it should not have.
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "header", "h1", "h2", "h3", "h4",
    "p", "span", "strong", "section", "table", "thead", "tbody", "tr", "th", "td", "figure",
    "svg", "g", "rect", "line", "circle", "text", "div", "ul", "li", "label", "input",
    "output", "article", "details", "summary", "pre", "del", "ins", "script",
}  # fmt: skip


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.scripts: list[str] = []
        self.tables: list[list[list[str]]] = []
        """Every <table>: rows of cell texts."""
        self.articles: list[dict[str, str | None]] = []
        self.article_text: list[str] = []
        self._in_script = False
        self._cell: list[str] | None = None
        self._in_article = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.elements.append((tag, attributes))
        if tag == "script":
            self._in_script = True
            self.scripts.append("")
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "article":
            self.articles.append(attributes)
            self.article_text.append("")
            self._in_article = True

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False
        elif tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "article":
            self._in_article = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        if self._cell is not None:
            self._cell.append(data)
        if self._in_article:
            self.article_text[-1] += data

    def tags(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.elements if tag == name]

    def csp(self) -> str:
        [meta] = [m for m in self.tags("meta") if m.get("http-equiv") == "Content-Security-Policy"]
        return meta["content"] or ""

    def verdict_rows(self) -> list[list[str]]:
        """Rows (below the header) of every table whose header starts Metric | Base | Head."""
        rows = []
        for table in self.tables:
            if table and table[0][:3] == ["Metric", "Base", "Head"]:
                rows += table[1:]
        return rows


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def script_hash(body: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()


URL = re.compile(r"(?i)\b(?:https?:)?//")
