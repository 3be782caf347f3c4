"""Give the example repository a history of main on its ``evalbot-data`` branch. DEMO DATA.

    python examples/support-bot/make_repo.py DIR
    python examples/support-bot/make_history.py DIR [--nights 12]
    (cd DIR && evalbot diff --base main --head pr --offline)   # now with "Trend on main"

Each "night" is a real ``evalbot run --rev main --suite support-answers`` of the example's main
branch against the scripted stand-in model (``demo_model.py``, served on 127.0.0.1 in this
process), followed by ``evalbot history record --local``. The stand-in is deterministic, so each
night salts its random draws with the night's number (``DEMO_NIGHT``): the nights differ the way
repeated runs of a sampling model differ, and nothing else changes. The values are the stand-in's,
not a real model's. Needs evalbot on PATH.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import demo_model  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("the demo model did not start")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repo", type=Path, help="the directory make_repo.py built")
    parser.add_argument("--nights", type=int, default=12)
    args = parser.parse_args(argv)
    port = _free_port()
    threading.Thread(target=demo_model.serve, args=(port,), daemon=True).start()
    _wait(port)
    env = {
        **os.environ,
        "OPENAI_BASE_URL": f"http://127.0.0.1:{port}/v1",
        "OPENAI_API_KEY": "demo",
    }
    env.pop("GITHUB_EVENT_NAME", None)
    with tempfile.TemporaryDirectory(prefix="evalbot-nights-") as tmp:
        for night in range(1, args.nights + 1):
            os.environ["DEMO_NIGHT"] = str(night)  # read by the in-process server
            demo_model.reset()
            out = Path(tmp) / f"night{night}"
            run = ["evalbot", "run", "-C", str(args.repo), "--rev", "main"]
            run += ["--suite", "support-answers", "--out", str(out), "--quiet"]
            run += ["--cache-dir", str(Path(tmp) / f"cache{night}"), "--allowed-hosts", "127.0.0.1"]
            subprocess.run(run, env=env, check=False, stdout=subprocess.DEVNULL)
            if not (out / "results.json").exists():
                raise SystemExit(f"night {night}: evalbot run wrote no results")
            record = ["evalbot", "history", "record", str(out), "-C", str(args.repo), "--local"]
            subprocess.run(record, env=env, check=True)
    os.environ.pop("DEMO_NIGHT", None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
