#!/usr/bin/env python3
"""Size and render time of report.html for a large run: 20,000 examples, both sides, outputs
of ~2,500 characters that differ everywhere (the diff's worst realistic case).

    python benchmarks/report_html.py [--examples 20000]

Prints the page's size and the time ``render_html`` took; the caps (MAX_EXAMPLES per suite,
MAX_OUTPUT_CHARS per output) are what keep both bounded.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalbot.report.html import MAX_EXAMPLES, MAX_OUTPUT_CHARS, render_html
from tests.report.factories import make_result, make_side, make_suite


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20_000)
    n = parser.parse_args().examples
    rng = random.Random(1)
    vocabulary = [f"word{i}" for i in range(5_000)]
    ids = [f"e{i}" for i in range(n)]

    def text() -> str:
        return " ".join(rng.choice(vocabulary) for _ in range(300))

    base = make_side("base", outputs={i: text() for i in ids}, scores={"correct": [1.0] * n})
    head = make_side("head", outputs={i: text() for i in ids}, scores={"correct": [0.0] * n})
    result = make_result(make_suite(base=base, head=head, flipped=ids[: n // 4]))
    started = time.perf_counter()
    page = render_html(result)
    took = time.perf_counter() - started
    size = len(page.encode("utf-8"))
    print(f"examples {n:,} (shown {min(n, MAX_EXAMPLES):,}, outputs cut at {MAX_OUTPUT_CHARS:,})")
    print(f"report.html {size / 1e6:.1f} MB, rendered in {took:.1f} s")


if __name__ == "__main__":
    main()
