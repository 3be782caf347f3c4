#!/usr/bin/env python3
"""Picture the "Trend on main" and slice sections of an evalbot comment.md (docs/img/trend.png).

    python scripts/render_trend_png.py OUT/comment.md docs/img/trend.png

The suite heading and everything from "**Trend on main**" to the end of the slice table's
<details> are taken verbatim from the comment, rendered with render_comment_png.py's page,
stylesheet and HTML filter, with the slice table expanded (as a reader who clicked it sees it).
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from render_comment_png import CSS, PAGE, chromium, render_markdown

MEASURE = """<script>
document.body.setAttribute('data-end', String(Math.ceil(
  document.querySelector('.timeline').getBoundingClientRect().bottom + window.scrollY)));
</script>"""


def excerpt(text: str) -> str:
    heading = re.search(r"^#### .*$", text, re.M)
    start = text.index("**Trend on main**")
    end = text.index("</details>", text.index("<details><summary>Slices", start)) + 10
    return (heading.group(0) + "\n\n" if heading else "") + text[start:end] + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("comment", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1000)
    opts = parser.parse_args()
    body = render_markdown(excerpt(opts.comment.read_text(encoding="utf-8")))
    body = body.replace("<details>", "<details open>", 1)
    workdir = Path(tempfile.mkdtemp(prefix="evalbot-trend-"))
    try:
        (workdir / "comment.css").write_text(CSS, encoding="utf-8")
        page = workdir / "comment.html"
        page.write_text(PAGE.format(body=body, extra=MEASURE), encoding="utf-8")
        dom = chromium(["--dump-dom"], page.as_uri(), opts.width, 800, capture=True)
        found = re.search(r'data-end="(\d+)"', dom)
        height = int(found.group(1)) + 16 if found else 1200
        page.write_text(PAGE.format(body=body, extra=""), encoding="utf-8")
        shot = workdir / "shot.png"
        chromium([f"--screenshot={shot}"], page.as_uri(), opts.width, height)
        opts.png.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, opts.png)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"wrote {opts.png} ({opts.width}x{height})")


if __name__ == "__main__":
    main()
