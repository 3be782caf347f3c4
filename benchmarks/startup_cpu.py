"""Start-up CPU of the three commands that should feel instant: `evalbot --version`, `evalbot
validate` on the support-bot example, and `evalbot action` on a pull request that touches no eval
input (a passing check, no model call; tests/noop_action.py, against the loopback fakes).

    python benchmarks/startup_cpu.py [--runs 7]

Each run is a fresh `python -m evalbot` process; its CPU is user + system time of that process
alone (os.wait4), so the load of other processes on the machine barely moves it. Prints the
median and every run. Set PYTHONPATH to another checkout's src/ to measure that one instead.
The no-op run is checked (exit 0, one passing check, no model request), so a broken path cannot
give a fast figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for tests.*

from tests.noop_action import EXAMPLE, noop_action  # noqa: E402


def _cpu(
    argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> tuple[float, int]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalbot", *argv],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, proc.returncode


def _line(label: str, runs: list[float]) -> str:
    every = " ".join(f"{r:.3f}" for r in runs)
    return f"{label:<10} median {statistics.median(runs):.3f} s CPU of {len(runs)} runs ({every})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    version = [_cpu(["--version"]) for _ in range(args.runs)]
    validate = [_cpu(["validate", "-C", str(EXAMPLE)]) for _ in range(args.runs)]
    for label, runs in (("--version", version), ("validate", validate)):
        if any(code != 0 for _, code in runs):
            sys.exit(f"{label} failed: exit codes {[code for _, code in runs]}")
    action: list[float] = []
    with tempfile.TemporaryDirectory() as top, noop_action(Path(top)) as noop:
        env = {"PATH": os.environ["PATH"], "HOME": top, **noop.env}
        if "PYTHONPATH" in os.environ:
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        for _ in range(args.runs):
            noop.reset()
            cpu, code = _cpu(["action"], env=env, cwd=noop.workspace)
            problem = noop.problem(code)
            if problem:
                sys.exit(f"the no-op action run was not a clean pass: {problem}")
            action.append(cpu)
    print(_line("--version", [cpu for cpu, _ in version]))
    print(_line("validate", [cpu for cpu, _ in validate]))
    print(_line("no-op action", action))


if __name__ == "__main__":
    main()
