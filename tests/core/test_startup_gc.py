"""The CLI pauses cyclic garbage collection while a command imports (evalbot.startup); it must
always come back on: after any command, and before a run's long part."""

from __future__ import annotations

import gc
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
