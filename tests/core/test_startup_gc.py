"""The CLI pauses cyclic garbage collection while a command imports (evalbot.startup); it must
always come back on: after any command, and before a run's long part."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

from evalbot.cli import main
from evalbot.startup import collection_paused, resume_collection

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "support-bot" / "repo"


def test_collection_is_back_on_after_commands() -> None:
    assert gc.isenabled()
    assert main(["--version"]) == 0
    assert gc.isenabled()
    assert main(["validate", "-C", str(EXAMPLE)]) == 0
    assert gc.isenabled()
    assert main(["validate", "-C", str(EXAMPLE / "missing")]) != 0
    assert gc.isenabled()


def test_resume_turns_collection_on_inside_the_pause() -> None:
    with collection_paused():
        assert not gc.isenabled()
        resume_collection()
        assert gc.isenabled()
    assert gc.isenabled()


def test_a_pause_inside_someone_elses_leaves_theirs_alone() -> None:
    gc.disable()
    try:
        with collection_paused():
            resume_collection()  # not paused here: must not turn it on under the caller
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


# The ``evalbot`` program (console script, ``python -m evalbot``) ends when its command returns:
# collection stays off and what the command made is frozen, so no collection walks it again.
_CONSOLE_PROBE = """
import contextlib, gc, io, json, sys
from evalbot.cli import console_main
sys.argv = ["evalbot", *json.loads(sys.argv[1])]
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = console_main()
print(json.dumps([code, gc.isenabled(), gc.get_freeze_count() > 0, out.getvalue()]))
"""


def _console(argv: list[str]) -> list:
    done = subprocess.run(
        [sys.executable, "-c", _CONSOLE_PROBE, json.dumps(argv)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_program_freezes_what_its_command_made_instead_of_collecting_it() -> None:
    code, enabled, frozen, printed = _console(["validate", "-C", str(EXAMPLE)])
    assert (code, enabled, frozen) == (0, False, True)
    assert printed.rstrip().endswith("valid: no problems found (no model was called)")
    code, enabled, frozen, _ = _console(["validate", "-C", str(EXAMPLE / "missing")])
    assert (code, enabled, frozen) == (2, False, True)


def test_python_m_evalbot_runs_the_program() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "evalbot", "validate", "-C", str(EXAMPLE)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith("valid: no problems found (no model was called)")


def test_a_run_collects_in_larger_young_steps_and_never_lowers_them() -> None:
    from evalbot.startup import RUN_YOUNG_GENERATION, collect_for_a_run

    before = gc.get_threshold()
    try:
        gc.set_threshold(700, 10, 10)
        with collection_paused():
            collect_for_a_run()
            assert gc.isenabled()
            assert gc.get_threshold() == (RUN_YOUNG_GENERATION, 10, 10)
        gc.set_threshold(RUN_YOUNG_GENERATION * 2, 5, 5)
        collect_for_a_run()
        assert gc.get_threshold() == (RUN_YOUNG_GENERATION * 2, 5, 5)
    finally:
        gc.set_threshold(*before)
