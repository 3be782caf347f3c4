"""The live bar as a person sees it: the CLI under a pseudo-terminal against a slow local server.

The bar redraws itself with ``\\r`` on stderr while calls are in flight; ``NO_COLOR`` leaves no
colour escape on either stream (the bar has none of its own; the summary drops its colours).
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

from tests.fakes.openai_server import FakeOpenAI
from tests.integration.test_progress_cli import N, _repo

BAR = re.compile(r"evalbot:\s+\d+%\|.*?\| *(\d+)/(\d+) \[")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")


def _terminal(columns: int = 120) -> tuple[int, int]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, columns, 0, 0))
    return master, slave


def _drain(fd: int, into: bytearray, timeout: float) -> bool:
    """Read what is there (waiting up to ``timeout``); False once the other end closed."""
    ready, _, _ = select.select([fd], [], [], timeout)
    if not ready:
        return True
    try:
        chunk = os.read(fd, 65536)
    except OSError:  # EIO: the child closed its end of the terminal
        return False
    into.extend(chunk)
    return bool(chunk)


def _run_in_terminal(tmp_path, fake: FakeOpenAI, *, no_color: bool, watch):
    """Run ``evalbot diff`` with stdout and stderr on two pseudo-terminals; ``watch(err, proc)``
    is called on stderr's bytes as they come."""
    repo_root = _repo(tmp_path).root if not (tmp_path / "repo").exists() else tmp_path / "repo"
    env = {**os.environ, "OPENAI_BASE_URL": fake.base_url, "OPENAI_API_KEY": "test-key"}
    env.update({"TERM": "xterm-256color", "COLUMNS": "120"})
    env.pop("GITHUB_ACTIONS", None)
    env.pop("NO_COLOR", None)
    if no_color:
        env["NO_COLOR"] = "1"
    args = ["diff", "-C", str(repo_root), "--base", "main", "--head", "pr"]
    args += ["--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path / "cache")]
    args += ["--concurrency", "1"]
    out_master, out_slave = _terminal()
    err_master, err_slave = _terminal()
    proc = subprocess.Popen(
        [sys.executable, "-m", "evalbot", *args],
        stdin=subprocess.DEVNULL,
        stdout=out_slave,
        stderr=err_slave,
        env=env,
    )
    os.close(out_slave)
    os.close(err_slave)
    out, err = bytearray(), bytearray()
    open_fds = {out_master: out, err_master: err}
    try:
        while open_fds:
            for fd, buffer in list(open_fds.items()):
                if not _drain(fd, buffer, 0.05):
                    del open_fds[fd]
            watch(err, proc)
            if proc.poll() is not None and not any(
                select.select([fd], [], [], 0)[0] for fd in open_fds
            ):
                break
        code = proc.wait(timeout=120)
    finally:
        os.close(out_master)
        os.close(err_master)
    return code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")


def test_the_live_bar_redraws_on_stderr_while_the_run_is_going_and_no_color_holds(tmp_path):
    seen_running: list[tuple[int, int]] = []

    def watch(err: bytearray, proc: subprocess.Popen) -> None:
        # The bar's updates so far, each a redraw after a carriage return.
        updates = [m for m in BAR.finditer(err.decode("utf-8", "replace"))]
        if proc.poll() is None and len(updates) >= 2 and not seen_running:
            seen_running.append((len(updates), int(updates[-1].group(1))))

    with FakeOpenAI(latency_s=0.05) as fake:
        code, out, err = _run_in_terminal(tmp_path, fake, no_color=True, watch=watch)
        sent_in_first_run = len(fake.requests)
    assert code == 0, out + err
    # Two or more redraws arrived before the process ended, while calls were still to come.
    assert seen_running and seen_running[0][1] < 2 * N
    frames = err.split("\r")
    assert len(frames) > 3
    counts = [int(m.group(1)) for m in BAR.finditer(err)]
    assert counts == sorted(counts) and counts[-1] == 2 * N == sent_in_first_run
    assert any(f"{2 * N}/{2 * N}" in f and "cached 0, errors 0, spent $" in f for f in frames)
    assert "evalbot: plan support" in err and "evalbot: plan" not in out
    assert not BAR.search(out)  # stdout stays the report
    assert not COLOUR.search(out) and not COLOUR.search(err)  # NO_COLOR

    # Without NO_COLOR, the same terminal gets the summary's colours (so the check above means
    # something); the second run is answered from the cache.
    with FakeOpenAI() as fake:
        code, out, _ = _run_in_terminal(tmp_path, fake, no_color=False, watch=lambda *a: None)
    assert code == 0 and COLOUR.search(out)
