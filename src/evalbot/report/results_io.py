"""results.json and its per-example outputs file: the one place that writes and reads them.

Layout (``format_version`` 2): ``results.json`` holds the summary, comparisons, provenance and the
per-example scores; every side's ``outputs`` (texts, tokens, latencies, errors) and
``score_details`` (judge reasons, …) go to ``outputs.jsonl.gz`` next to it, one JSON line per
suite, side and example, in the order of the side's ``example_ids``. The compact file stays a
few MB at 20,000 examples and is all the verdict depends on; the outputs file is streamed.

Results are read back from artifacts that another workflow run uploaded, so reading is
untrusted-input handling: both files are size-capped (the outputs file by its compressed size,
its decompressed size and the length of each line, so a gzip bomb stops early), parsed with
``evalbot.parsing.load_json``, validated by the records, and the outputs file must be the one
results.json names (its sha256, row count and decompressed size) with rows in the expected
order. Any mismatch is an ``OutputsProblem``; callers decide what it means (``merge`` refuses,
``publish`` says so and never passes).

results.json files of format 1 (outputs inline) still load everywhere.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, Literal

from pydantic import Field, ValidationError

from evalbot.errors import InputError
from evalbot.fsio import open_atomic, write_atomic
from evalbot.parsing import MAX_DEPTH, ParseProblem, load_json
from evalbot.records import (
    Completion,
    ErrorReason,
    OutputsFile,
    Record,
    RunResult,
    SideRun,
    SuiteResult,
)

__all__ = [
    "FORMAT_VERSION",
    "MAX_OUTPUTS_BYTES",
    "MAX_OUTPUTS_GZ_BYTES",
    "MAX_RESULTS_BYTES",
    "MAX_ROW_BYTES",
    "OUTPUTS_NAME",
    "ExampleOutputs",
    "OutputRow",
    "OutputsProblem",
    "hydrate",
    "iter_examples",
    "load_full",
    "load_results",
    "with_flipped_outputs",
    "write_results",
]

FORMAT_VERSION = 2
OUTPUTS_NAME = "outputs.jsonl.gz"
MAX_RESULTS_BYTES = 64 * 1024 * 1024
"""results.json (format 2 is ~250 bytes per example and side; format 1 files are larger)."""
MAX_OUTPUTS_GZ_BYTES = 1024 * 1024 * 1024
MAX_OUTPUTS_BYTES = 4 * 1024 * 1024 * 1024
"""Decompressed: also capped by the size results.json declares, whichever is smaller."""
MAX_ROW_BYTES = 16 * 1024 * 1024
"""One example's samples and details on one side."""
MAX_REASONS = 20
"""Distinct failure reasons kept per side in results.json (the comment shows three)."""


class OutputRow(Record):
    """One line of the outputs file: one example on one side of one suite."""

    suite: str
    side: Literal["base", "head"]
    index: int
    """Position in the side's ``example_ids``."""
    id: str
    outputs: list[Completion]
    """outputs[k]: sample k."""
    score_details: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    """metric → per-sample details (judge reasons, …)."""


class ExampleOutputs(Record):
    """What ``iter_examples`` yields: one example on one side, with its scores and outputs."""

    suite: str
    side: Literal["base", "head"]
    index: int
    id: str
    position: int | None = None
    """Index in the whole golden set (differs from ``index`` in a shard)."""
    group: str | None = None
    scores: dict[str, list[float | None]] = Field(default_factory=dict)
    """metric → per-sample score (None: errored or undefined)."""
    outputs: list[Completion] = Field(default_factory=list)
    score_details: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)


class OutputsProblem(InputError):
    """The outputs file is missing, too large, corrupt, or not the one results.json names."""


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _sides(result: RunResult) -> Iterator[tuple[SuiteResult, SideRun]]:
    for suite in result.suites:
        for side in (suite.base, suite.head):
            if side is not None:
                yield suite, side


def _loaded(side: SideRun) -> bool:
    """Whether the side carries its per-example outputs (not a compact record read back)."""
    return len(side.outputs) == len(side.example_ids)


def _reasons(side: SideRun) -> tuple[list[ErrorReason], int]:
    seen: dict[str, list[Any]] = {}
    for example_id, row in zip(side.example_ids, side.outputs, strict=False):
        for completion in row:
            if completion.error:
                entry = seen.setdefault(completion.error, [0, example_id])
                entry[0] += 1
    ranked = sorted(seen.items(), key=lambda item: -item[1][0])
    kept = [ErrorReason(reason=r, calls=n, example=e) for r, (n, e) in ranked[:MAX_REASONS]]
    return kept, len(ranked)


def _rows(result: RunResult) -> Iterator[OutputRow]:
    for suite, side in _sides(result):
        for i, example_id in enumerate(side.example_ids):
            yield OutputRow.model_construct(
                suite=suite.name,
                side=side.side,
                index=i,
                id=example_id,
                outputs=side.outputs[i] if i < len(side.outputs) else [],
                score_details={
                    m: rows[i] for m, rows in side.score_details.items() if i < len(rows)
                },
            )


class _Hashing:
    """A write-only file object that hashes and counts what passes through it."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def _compact_side(side: SideRun) -> SideRun:
    reasons, kinds = _reasons(side)
    return side.model_copy(
        update={
            "outputs": [],
            # Keys kept: a metric with details (even none) is told apart from one without.
            "score_details": {m: [] for m in side.score_details},
            "error_reasons": reasons,
            "error_reason_kinds": kinds,
        }
    )


def write_results(result: RunResult, out_dir: Path) -> RunResult:
    """Write ``outputs.jsonl.gz`` then ``results.json`` (format 2) into ``out_dir``, each
    atomically (temporary file, 0644, rename); returns the compact record written.

    A compact record read back (its sides' outputs not loaded) is written as it is: its
    outputs file is the one already there, never replaced by an empty one.
    """
    sides = list(_sides(result))
    if result.outputs_file is not None and not all(_loaded(s) for _, s in sides):
        write_atomic(out_dir / "results.json", result.model_dump_json() + "\n", fsync=True)
        return result
    rows = decompressed = 0
    with open_atomic(out_dir / OUTPUTS_NAME, fsync=True) as handle:
        hashing = _Hashing(handle)
        # mtime 0: the same outputs give the same bytes (and the same sha256).
        with gzip.GzipFile(fileobj=hashing, mode="wb", compresslevel=6, mtime=0) as gz:
            for row in _rows(result):
                line = row.model_dump_json(exclude_defaults=True).encode("utf-8") + b"\n"
                gz.write(line)
                rows += 1
                decompressed += len(line)
    compact_suites = [
        suite.model_copy(
            update={
                "base": _compact_side(suite.base) if suite.base else None,
                "head": _compact_side(suite.head) if suite.head else None,
            }
        )
        for suite in result.suites
    ]
    compact = result.model_copy(
        update={
            "suites": compact_suites,
            "format_version": FORMAT_VERSION,
            "outputs_file": OutputsFile(
                name=OUTPUTS_NAME,
                sha256=hashing.sha.hexdigest(),
                rows=rows,
                decompressed_bytes=decompressed,
            ),
        }
    )
    write_atomic(out_dir / "results.json", compact.model_dump_json() + "\n", fsync=True)
    return compact


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def load_results(results_dir: Path | str) -> RunResult:
    """``results.json`` of a results directory: capped in size, parsed safely, validated.
    Format 2 sides come back compact (no ``outputs``); ``load_full`` adds them."""
    path = Path(results_dir) / "results.json"
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError("no results.json here", file=str(results_dir)) from exc
    if not path.is_file() or size > MAX_RESULTS_BYTES:
        raise InputError(
            f"results.json is larger than {MAX_RESULTS_BYTES // 2**20} MiB or not a file",
            file=str(path),
        )
    try:
        data = load_json(path.read_bytes().decode("utf-8"))
        result = RunResult.model_validate(data)
    except (ParseProblem, UnicodeDecodeError) as exc:
        raise InputError(f"not an evalbot results.json: {exc}", file=str(path)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(top level)"
        raise InputError(
            f"not an evalbot results.json: {where}: {first.get('msg')}", file=str(path)
        ) from None
    if result.format_version > FORMAT_VERSION:
        raise InputError(
            f"results.json has format_version {result.format_version}, newer than this evalbot "
            f"reads ({FORMAT_VERSION})",
            file=str(path),
            hint="use the evalbot version that wrote it",
        )
    if result.format_version >= 2 and result.outputs_file is None:
        raise InputError("results.json of format 2 names no outputs file", file=str(path))
    names = [s.name for s in result.suites]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise InputError(f"results.json lists the suite {twice!r} twice", file=str(path))
    return result


class _Counting:
    """A read-only file object that hashes what is read and refuses past ``limit`` bytes."""

    def __init__(self, handle: BinaryIO, path: Path) -> None:
        self.handle = handle
        self.path = path
        self.sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.handle.read(size)
        self.sha.update(data)
        return data

    def readable(self) -> bool:
        return True


def _stream_rows(results_dir: Path | str, result: RunResult) -> Iterator[OutputRow]:
    """Rows of the outputs file named by ``result``, checked against it (order, count, size,
    sha256: the last checks happen after the last row)."""
    declared = result.outputs_file
    assert declared is not None
    name = declared.name
    if name != OUTPUTS_NAME:  # a path from the artifact is never opened as given
        raise OutputsProblem(f"results.json names the outputs file {name!r}, not {OUTPUTS_NAME}")
    path = Path(results_dir) / OUTPUTS_NAME
    try:
        size = path.stat().st_size
    except OSError:
        raise OutputsProblem(f"{OUTPUTS_NAME} is missing", file=str(results_dir)) from None
    if not path.is_file() or size > MAX_OUTPUTS_GZ_BYTES:
        raise OutputsProblem(
            f"larger than {MAX_OUTPUTS_GZ_BYTES // 2**20} MiB or not a file", file=str(path)
        )
    limit = min(declared.decompressed_bytes, MAX_OUTPUTS_BYTES)
    expected = (
        (s.name, side.side, i, eid)
        for s, side in _sides(result)
        for i, eid in enumerate(side.example_ids)
    )
    total = rows = 0
    with path.open("rb") as raw:
        counting = _Counting(raw, path)
        try:
            with gzip.GzipFile(fileobj=counting, mode="rb") as gz:  # type: ignore[call-overload]
                while True:
                    line = gz.readline(MAX_ROW_BYTES + 1)
                    if not line:
                        break
                    total += len(line)
                    rows += 1
                    if total > limit:
                        raise OutputsProblem(
                            f"decompresses to more than the {limit:,} bytes results.json "
                            "declares (refused: a damaged file or a compression bomb)",
                            file=str(path),
                        )
                    if len(line) > MAX_ROW_BYTES:
                        raise OutputsProblem(
                            f"row {rows} is longer than {MAX_ROW_BYTES // 2**20} MiB",
                            file=str(path),
                        )
                    row = _parse_row(line, rows, path)
                    want = next(expected, None)
                    got = (row.suite, row.side, row.index, row.id)
                    if want != got:
                        raise OutputsProblem(
                            f"row {rows} is {got[0]!r} {got[1]} example {got[3]!r}, but "
                            f"results.json expects {_describe(want)}: not the outputs of "
                            "this results.json",
                            file=str(path),
                        )
                    yield row
        except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
            raise OutputsProblem(f"not a readable gzip file ({exc})", file=str(path)) from None
        # The rest of the compressed bytes (trailer) count for the hash too.
        while counting.read(1 << 20):
            pass
    missing = next(expected, None)
    if missing is not None or rows != declared.rows:
        raise OutputsProblem(
            f"has {rows:,} rows, results.json expects {declared.rows:,}", file=str(path)
        )
    if total != declared.decompressed_bytes or counting.sha.hexdigest() != declared.sha256:
        raise OutputsProblem(
            "does not match the sha256 or size results.json records for it (altered, or from "
            "another run)",
            file=str(path),
        )


def _describe(want: tuple[str, str, int, str] | None) -> str:
    if want is None:
        return "no more rows"
    return f"{want[0]!r} {want[1]} example {want[3]!r}"


def _parse_row(line: bytes, number: int, path: Path) -> OutputRow:
    try:
        if line.count(b"[") + line.count(b"{") <= MAX_DEPTH and b"\\u" not in line:
            # Shallow for certain and no escape that could be a lone surrogate: pydantic's
            # own parser (bounded, no Python recursion) is twice as fast as the general path.
            return OutputRow.model_validate_json(line)
        return OutputRow.model_validate(load_json(line.decode("utf-8")))
    except (ParseProblem, UnicodeDecodeError) as exc:
        raise OutputsProblem(f"row {number}: {exc}", file=str(path)) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "(top level)"
        raise OutputsProblem(
            f"row {number}: not an evalbot outputs row: {where}: {first.get('msg')}",
            file=str(path),
        ) from None


def _scored(side: SideRun, i: int) -> dict[str, list[float | None]]:
    return {m: rows[i] for m, rows in side.scores.items() if i < len(rows)}


def iter_examples(results_dir: Path | str) -> Iterator[ExampleOutputs]:
    """Every example of every side of every suite in a results directory, with its scores,
    outputs and score details, in results.json order; reads format 1 and 2, streaming the
    outputs file (raises ``InputError``/``OutputsProblem`` on a bad artifact)."""
    result = load_results(results_dir)
    sides = {(s.name, side.side): side for s, side in _sides(result)}
    if result.outputs_file is None:
        for suite, side in _sides(result):
            for i, example_id in enumerate(side.example_ids):
                yield _example(suite.name, side, i, example_id, None)
        return
    for row in _stream_rows(results_dir, result):
        yield _example(row.suite, sides[(row.suite, row.side)], row.index, row.id, row)


def _example(
    suite: str, side: SideRun, i: int, example_id: str, row: OutputRow | None
) -> ExampleOutputs:
    if row is None:
        outputs = side.outputs[i] if i < len(side.outputs) else []
        details = {m: rows[i] for m, rows in side.score_details.items() if i < len(rows)}
    else:
        outputs, details = row.outputs, row.score_details
    return ExampleOutputs.model_construct(
        suite=suite,
        side=side.side,
        index=i,
        id=example_id,
        position=side.positions[i] if i < len(side.positions) else None,
        group=side.groups[i] if i < len(side.groups) else None,
        scores=_scored(side, i),
        outputs=outputs,
        score_details=details,
    )


def load_full(results_dir: Path | str) -> RunResult:
    """results.json with every side's outputs and score details put back (``merge``)."""
    return hydrate(load_results(results_dir), results_dir)


def hydrate(result: RunResult, results_dir: Path | str) -> RunResult:
    """``result`` (as ``load_results`` read it from ``results_dir``) with every side's outputs
    and score details read back from the outputs file; a format-1 result as it is."""
    if result.outputs_file is None or all(_loaded(side) for _, side in _sides(result)):
        return result
    outputs: dict[tuple[str, str], list[list[Completion]]] = {}
    details: dict[tuple[str, str], dict[str, list[list[dict[str, Any]]]]] = {}
    for suite, side in _sides(result):
        outputs[(suite.name, side.side)] = []
        details[(suite.name, side.side)] = {m: [] for m in side.score_details}
    for row in _stream_rows(results_dir, result):
        key = (row.suite, row.side)
        outputs[key].append(row.outputs)
        per_metric = details[key]
        for metric, samples in row.score_details.items():
            if metric not in per_metric:
                raise OutputsProblem(
                    f"row of {row.suite!r} {row.side} example {row.id!r} has details of "
                    f"{metric!r}, which results.json does not list",
                    file=str(Path(results_dir) / OUTPUTS_NAME),
                )
            per_metric[metric].append(samples)

    def full(suite: SuiteResult, side: SideRun | None) -> SideRun | None:
        if side is None:
            return None
        key = (suite.name, side.side)
        return side.model_copy(update={"outputs": outputs[key], "score_details": details[key]})

    return result.model_copy(
        update={
            "suites": [
                s.model_copy(update={"base": full(s, s.base), "head": full(s, s.head)})
                for s in result.suites
            ]
        }
    )


def with_flipped_outputs(result: RunResult, results_dir: Path | str) -> RunResult:
    """The compact ``result`` with the first sample of each flipped example (both sides) read
    from the outputs file into ``SuiteResult.flipped_outputs``, for the comment. Reads and
    checks the whole file; raises ``OutputsProblem`` when it is missing or does not match."""
    if result.outputs_file is None:
        return result
    wanted = {s.name: set(s.flipped) for s in result.suites}
    found: dict[str, dict[str, dict[str, Completion]]] = {s.name: {} for s in result.suites}
    for row in _stream_rows(results_dir, result):
        if row.id in wanted[row.suite] and row.outputs:
            found[row.suite].setdefault(row.side, {})[row.id] = row.outputs[0]
    return result.model_copy(
        update={
            "suites": [
                s.model_copy(update={"flipped_outputs": found[s.name]}) if found[s.name] else s
                for s in result.suites
            ]
        }
    )
