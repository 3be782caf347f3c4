#!/usr/bin/env python3
"""Render an evalbot comment.md to a PNG that looks roughly like the sticky PR comment on GitHub.

Used to make the README pictures (docs/img/comment.png, docs/img/comment-details.png):

    rm -rf /tmp/shot && python examples/support-bot/make_repo.py /tmp/shot --force
    (cd /tmp/shot && evalbot diff --base main --head pr --offline --out /tmp/shot/out)  # exits 1
    python scripts/render_comment_png.py /tmp/shot/out/comment.md docs/img/comment.png
    python scripts/render_comment_png.py /tmp/shot/out/comment.md docs/img/comment-details.png \\
        --open-first-details

Needs Debian's chromium (``apt-get install -y chromium``; ``/usr/bin/chromium``) and, for the
emoji in the comment, ``fonts-noto-color-emoji``. Python: stdlib + markdown-it-py.

The markdown is rendered as GitHub-flavoured markdown (CommonMark + tables + strikethrough) with
markdown-it-py, then raw HTML is filtered the way GitHub does for the tags evalbot uses: only
``<details>``, ``<summary>``, ``<sub>`` and ``<br>`` survive, HTML comments are dropped, any other
tag is shown as escaped text. The page styling is our own small stylesheet (light theme, system
font stack), not GitHub's CSS. It is an approximation, not a pixel copy of github.com.

By default the picture is the top of the comment, cut just below the "Notes" list (measured in a
first headless run); ``--height`` sets the height by hand. ``--open-first-details`` expands the
first ``<details>`` and pictures it from its summary to the end of its first example.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from markdown_it import MarkdownIt

CHROMIUM = "/usr/bin/chromium"
ALLOWED_TAGS = {"details", "summary", "sub", "br"}

CSS = """\
* { box-sizing: border-box; }
html { background: #ffffff; }
body {
  margin: 0; padding: 20px 16px 24px 16px; color: #1f2328;
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial,
    sans-serif, "Apple Color Emoji", "Segoe UI Emoji", "Noto Color Emoji";
  font-size: 14px; line-height: 1.5;
}
.timeline { display: flex; gap: 12px; align-items: flex-start; }
.avatar {
  flex: none; width: 40px; height: 40px; border-radius: 50%; background: #2f80ed;
  color: #fff; font-weight: 600; font-size: 15px; display: flex; align-items: center;
  justify-content: center;
}
.comment { flex: 1; min-width: 0; border: 1px solid #d1d9e0; border-radius: 6px; }
.comment-header {
  background: #f6f8fa; border-bottom: 1px solid #d1d9e0; border-radius: 6px 6px 0 0;
  padding: 8px 16px; color: #59636e;
}
.comment-header b { color: #1f2328; }
.comment-header .label {
  border: 1px solid #d1d9e0; border-radius: 2em; padding: 0 7px; font-size: 12px;
  font-weight: 500; margin: 0 4px;
}
.markdown-body { padding: 16px; overflow-wrap: break-word; }
.markdown-body > :first-child { margin-top: 0; }
.markdown-body h3, .markdown-body h4 { margin: 24px 0 16px; font-weight: 600; line-height: 1.25; }
.markdown-body h3 { font-size: 1.25em; }
.markdown-body h4 { font-size: 1em; }
.markdown-body p, .markdown-body ul, .markdown-body table, .markdown-body pre,
.markdown-body details { margin: 0 0 16px; }
.markdown-body ul { padding-left: 2em; }
.markdown-body li + li { margin-top: 4px; }
.markdown-body sub { font-size: 75%; line-height: 0; vertical-align: baseline; }
.markdown-body code, .markdown-body pre {
  font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono",
    "DejaVu Sans Mono", monospace;
  font-size: 85%;
}
.markdown-body code { background: #eff1f3; border-radius: 6px; padding: .2em .4em; }
.markdown-body pre {
  background: #f6f8fa; border-radius: 6px; padding: 16px; overflow: auto; line-height: 1.45;
}
.markdown-body pre code { background: none; padding: 0; font-size: 100%; white-space: pre; }
.markdown-body table {
  display: block; width: max-content; max-width: 100%; overflow: auto;
  border-collapse: collapse; border-spacing: 0; font-variant-numeric: tabular-nums;
}
.markdown-body th, .markdown-body td { border: 1px solid #d1d9e0; padding: 6px 13px; }
.markdown-body th { font-weight: 600; }
.markdown-body tr { background: #ffffff; border-top: 1px solid #d1d9e0; }
.markdown-body tr:nth-child(2n) { background: #f6f8fa; }
.markdown-body summary { cursor: pointer; }
.markdown-body details[open] > summary { margin-bottom: 16px; }
"""

PAGE = """\
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>evalbot comment</title>
<link rel="stylesheet" href="comment.css">
</head><body>
<div class="timeline">
  <div class="avatar" aria-hidden="true">GA</div>
  <div class="comment">
    <div class="comment-header"><b>github-actions</b> <span class="label">bot</span> commented</div>
    <div class="markdown-body">
{body}
    </div>
  </div>
</div>
{extra}
</body></html>
"""

# First pass: measure where the picture should start and end and report it through the DOM that
# --dump-dom prints. Top picture: from the page top to the bottom of the list after the "Notes"
# paragraph (else of the first table). Details picture: from just above the first <details> to
# just above its second example. (Headless --screenshot does not honour scrolling, so the second
# pass shifts the page up by the measured start instead.)
MEASURE_SCRIPT = """\
<script>
(function () {
  function bottom(el) { return el.getBoundingClientRect().bottom + window.scrollY; }
  function top(el) { return el.getBoundingClientRect().top + window.scrollY; }
  var start = 0, end = null;
  var details = document.getElementById('first-details');
  if (details) {
    start = top(details) - 12;
    var ps = details.querySelectorAll('p');
    for (var i = 0; i < ps.length; i++) {
      if (/^2\\. /.test(ps[i].textContent)) { end = top(ps[i]) - 8; break; }
    }
    if (end === null) { end = bottom(details); }
  } else {
    var paras = document.querySelectorAll('.markdown-body > p');
    for (var j = 0; j < paras.length; j++) {
      if (paras[j].textContent.trim() === 'Notes' && paras[j].nextElementSibling) {
        end = bottom(paras[j].nextElementSibling);
      }
    }
    if (end === null) {
      var table = document.querySelector('.markdown-body table');
      end = table ? bottom(table) : document.body.scrollHeight;
    }
  }
  document.body.setAttribute('data-start', String(Math.floor(start)));
  document.body.setAttribute('data-end', String(Math.ceil(end)));
})();
</script>"""

_TAG = re.compile(r"<!--.*?-->|<(/?)([A-Za-z][A-Za-z0-9-]*)\b([^>]*)>", re.S)
_BARE_AMP = re.compile(r"&(?!#?[A-Za-z0-9]+;)")


def _escape_text(text: str) -> str:
    """Escape stray markup in text inside a raw-HTML chunk, leaving entities alone."""
    return _BARE_AMP.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def sanitize_html(raw: str) -> str:
    """Keep only the allowed tags (attributes dropped), drop comments, escape everything else."""
    out: list[str] = []
    pos = 0
    for m in _TAG.finditer(raw):
        out.append(_escape_text(raw[pos : m.start()]))
        pos = m.end()
        if m.group(0).startswith("<!--"):
            continue
        closing, name = m.group(1), m.group(2).lower()
        if name in ALLOWED_TAGS:
            out.append(f"<{closing}{name}>" if name != "br" else "<br>")
        else:
            out.append(html.escape(m.group(0), quote=False))
    out.append(_escape_text(raw[pos:]))
    return "".join(out)


def render_markdown(text: str) -> str:
    md = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

    def raw_html(renderer, tokens, idx, options, env):
        return sanitize_html(tokens[idx].content)

    md.add_render_rule("html_block", raw_html)
    md.add_render_rule("html_inline", raw_html)
    return md.render(text)


def chromium(args: list[str], url: str, width: int, height: int, capture: bool = False) -> str:
    profile = tempfile.mkdtemp(prefix="evalbot-chromium-")
    try:
        cmd = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            *args,
            url,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            sys.exit(f"chromium failed ({done.returncode}):\n{done.stderr[-2000:]}")
        return done.stdout if capture else ""
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("comment", type=Path, help="comment.md written by evalbot")
    parser.add_argument("png", type=Path, help="PNG to write")
    parser.add_argument("--width", type=int, default=1000, help="window width in px (1000)")
    parser.add_argument("--height", type=int, help="window height in px (default: measured)")
    parser.add_argument(
        "--open-first-details",
        action="store_true",
        help="expand the first <details> and scroll the picture to it",
    )
    parser.add_argument("--html", type=Path, help="also keep the rendered HTML page here")
    opts = parser.parse_args()
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} not found: apt-get update && apt-get install -y chromium")

    body = render_markdown(opts.comment.read_text(encoding="utf-8"))
    if opts.open_first_details:
        body = body.replace("<details>", '<details open id="first-details">', 1)

    workdir = Path(tempfile.mkdtemp(prefix="evalbot-render-"))
    try:
        (workdir / "comment.css").write_text(CSS, encoding="utf-8")
        page = workdir / "comment.html"
        url = page.as_uri()
        page.write_text(PAGE.format(body=body, extra=MEASURE_SCRIPT), encoding="utf-8")
        dom = chromium(["--dump-dom"], url, opts.width, 800, capture=True)
        found = re.search(r'data-start="(-?\d+)" data-end="(\d+)"', dom)
        if not found:
            sys.exit("could not measure the page (no data-start/data-end in the dumped DOM)")
        start, end = max(0, int(found.group(1))), int(found.group(2))
        height = opts.height or end - start + 12
        shift = f"<style>.timeline {{ margin-top: -{start}px; }}</style>" if start else ""
        page.write_text(PAGE.format(body=body, extra=shift), encoding="utf-8")
        if opts.html:
            opts.html.write_text(page.read_text(encoding="utf-8"), encoding="utf-8")
            (opts.html.parent / "comment.css").write_text(CSS, encoding="utf-8")
        opts.png.parent.mkdir(parents=True, exist_ok=True)
        shot = workdir / "shot.png"
        chromium([f"--screenshot={shot}"], url, opts.width, height)
        shutil.copyfile(shot, opts.png)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"wrote {opts.png} ({opts.width}x{height}, {opts.png.stat().st_size:,} bytes)")


if __name__ == "__main__":
    main()
