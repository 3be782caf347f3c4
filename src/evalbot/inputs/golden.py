"""Golden sets: JSONL, CSV, YAML or JSON files of examples, loaded into ``Example`` records.

One object per example. Reserved keys are lifted out of the row (``id``, ``expected``, ``group``,
``context``, ``metadata``, ``tags``, ``slice``); every other key becomes a template variable in
``Example.vars``.

``Example.line`` is the 1-based line of the row (JSONL, CSV) or the 1-based item index (YAML and
JSON lists). Every problem raises ``InputError`` naming the file, the line and the fix.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from evalbot.errors import InputError, Where
from evalbot.inputs.tree import FileTree
from evalbot.parsing import ParseProblem, check_size, compose_yaml, load_json
from evalbot.records import Example

__all__ = ["RESERVED_KEYS", "SUPPORTED_EXTENSIONS", "GoldenSet", "derive_id", "load_golden"]

RESERVED_KEYS = ("id", "expected", "group", "context", "metadata", "tags", "slice")
MAX_GOLDEN_BYTES = 256 * 1024 * 1024

_FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".csv": "csv",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".json": "json",
}
SUPPORTED_EXTENSIONS = tuple(_FORMATS)

_Row = tuple[int, int | None, str, dict[str, Any]]

_ROW_HINT = (
    'write one JSON object per line, e.g. {"id": "q1", "question": "...", "expected": "..."}'
)


@dataclass(frozen=True)
class GoldenSet:
    """A loaded golden set."""

    path: str
    """The file as named in messages (``tree.label(path)``)."""
    examples: list[Example]
    """In file order; ids are unique."""
    sha256: str
    """sha256 of the file's text, recorded as provenance in results.json."""

    @property
    def variables(self) -> list[str]:
        """Every template variable some example defines, sorted."""
        return sorted({key for example in self.examples for key in example.vars})


def derive_id(content: dict[str, Any]) -> str:
    """A stable id for a row without one: ``h-`` + 12 hex digits of the sha256 of its canonical
    JSON (sorted keys, no whitespace), so reordering rows or keys keeps every id."""
    canonical = json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return "h-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def load_golden(tree: FileTree, path: str) -> GoldenSet:
    """Load and check a golden set; the format comes from the extension.

    Returns:
        A ``GoldenSet``: ``.examples`` in file order, ``.sha256`` of the file's text (provenance
        for results.json) and ``.path`` as labelled by the tree.

    Raises:
        InputError: missing file, unsupported extension, a row that is not an object or is not
            valid JSON, a reserved key of the wrong type, duplicate ids, or no examples at all.
    """
    label = tree.label(path)
    suffix = "." + path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
    fmt = _FORMATS.get(suffix)
    if fmt is None:
        raise InputError(
            f"unsupported golden-set extension {suffix or '(none)'!r}",
            file=label,
            hint=f"use one of {', '.join(SUPPORTED_EXTENSIONS)}",
        )
    if not tree.exists(path):
        raise InputError(
            "golden set not found", file=label, hint="check the suite's 'dataset' path"
        )
    raw = tree.read_text(path)
    try:
        check_size(raw, max_bytes=MAX_GOLDEN_BYTES, what="the golden set")
    except ParseProblem as exc:
        raise InputError(str(exc), file=label, hint="split it into several suites") from None
    text = raw.removeprefix("\ufeff")  # spreadsheet exports often start with a BOM
    rows = {"jsonl": _jsonl_rows, "csv": _csv_rows, "yaml": _yaml_rows, "json": _json_rows}[fmt]
    examples: list[Example] = []
    seen: dict[str, str] = {}
    for line, file_line, where, row in rows(text, label):
        at: Where = {"file": label, "line": file_line}
        example = _example(row, line=line, where=where, at=at, csv_cells=fmt == "csv")
        if example.id in seen:
            derived = row.get("id") in (None, "")
            what = "the same content as" if derived else f"the same id {example.id!r} as"
            raise InputError(
                f"duplicate example: {where} has {what} {seen[example.id]}",
                **at,
                hint="remove the duplicate or give each example its own 'id'",
            )
        seen[example.id] = where
        examples.append(example)
    if not examples:
        raise InputError("golden set has no examples", file=label, hint=_ROW_HINT)
    return GoldenSet(path=label, examples=examples, sha256=hashlib.sha256(raw.encode()).hexdigest())


# --------------------------------------------------------------------------------------------
# Formats: each yields (Example.line, line in the file or None, "line N"/"item N", row)
# --------------------------------------------------------------------------------------------


def _jsonl_rows(text: str, label: str) -> Iterator[_Row]:
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            row = load_json(raw)
        except ParseProblem as exc:
            raise InputError(
                exc.reason.replace(f"(line {exc.line}, ", "("),
                file=label,
                line=number,
                hint=_ROW_HINT,
            ) from None
        _require_object(row, label=label, line=number)
        yield number, number, f"line {number}", row


def _json_rows(text: str, label: str) -> Iterator[_Row]:
    try:
        data = load_json(text)
    except ParseProblem as exc:
        raise InputError(
            exc.reason,
            file=label,
            line=exc.line,
            hint="a .json golden set is one list of objects; for one object per line use .jsonl",
        ) from None
    if not isinstance(data, list):
        raise InputError(
            f"expected a list of objects, got {_kind(data)}",
            file=label,
            line=1,
            hint="wrap the examples in [ ... ], or use .jsonl with one object per line",
        )
    for index, row in enumerate(data, 1):
        _require_object(row, label=label, line=None, where=f"item {index}")
        yield index, None, f"item {index}", row


def _yaml_rows(text: str, label: str) -> Iterator[_Row]:
    try:
        data, node = compose_yaml(text)
    except ParseProblem as exc:
        raise InputError(
            exc.reason,
            file=label,
            line=exc.line,
            hint="fix the YAML syntax; a golden set is a list of mappings",
        ) from None
    if data is None:
        return
    if not isinstance(data, list):
        raise InputError(
            f"expected a list of mappings, got {_kind(data)}",
            file=label,
            line=1,
            hint="start each example with '- ' (a YAML list of mappings)",
        )
    lines = [item.start_mark.line + 1 for item in node.value] if node is not None else []
    for index, row in enumerate(data, 1):
        file_line = lines[index - 1] if index <= len(lines) else None
        _require_object(row, label=label, line=file_line, where=f"item {index}")
        yield index, file_line, f"item {index}", _plain(row)


def _csv_rows(text: str, label: str) -> Iterator[_Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            return
        header = [name.strip() for name in header]
        if "" in header or len(set(header)) != len(header):
            raise InputError(
                "the header row has an empty or repeated column name",
                file=label,
                line=1,
                hint="give every column a unique name in the first row",
            )
        start = reader.line_num + 1
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) != len(header):
                raise InputError(
                    f"row has {len(cells)} fields, the header has {len(header)}",
                    file=label,
                    line=line,
                    hint="quote fields that contain commas or line breaks",
                )
            yield line, line, f"line {line}", dict(zip(header, cells, strict=True))
    except csv.Error as exc:
        raise InputError(
            f"invalid CSV: {exc}", file=label, line=reader.line_num, hint="check the quoting"
        ) from None


# --------------------------------------------------------------------------------------------
# Rows → examples
# --------------------------------------------------------------------------------------------


def _example(row: dict[str, Any], *, line: int, where: str, at: Where, csv_cells: bool) -> Example:
    def bad(key: str, wanted: str, value: Any) -> InputError:
        return InputError(
            f"{where}: {key!r} must be {wanted}, got {_kind(value)}",
            **at,
            hint=f"fix {key!r} or rename the column if it is a template variable",
        )

    if csv_cells:
        row = _parse_csv_cells(row, where=where, at=at)
    content = {k: v for k, v in row.items() if k != "id"}

    raw_id = row.get("id")
    if raw_id is None or raw_id == "":
        example_id = derive_id(content)
    elif isinstance(raw_id, bool) or not isinstance(raw_id, str | int):
        raise bad("id", "a string", raw_id)
    else:
        example_id = str(raw_id).strip()
        if not example_id:
            raise bad("id", "a non-blank string", raw_id)

    group = row.get("group")
    if isinstance(group, int) and not isinstance(group, bool):
        group = str(group)
    if group is not None and not isinstance(group, str):
        raise bad("group", "a string", group)

    context = row.get("context")
    if isinstance(context, str):
        context = [context]
    elif context is not None and not (
        isinstance(context, list) and all(isinstance(p, str) for p in context)
    ):
        raise bad("context", "a string or a list of strings", context)

    metadata = row.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise bad("metadata", "a mapping", metadata)

    slices = _slice_labels(row, bad)
    return Example(
        id=example_id,
        slices=slices,
        vars={k: v for k, v in row.items() if k not in RESERVED_KEYS},
        expected=row.get("expected"),
        group=group or None,
        context=context,
        metadata=metadata,
        line=line,
    )


def _slice_labels(row: dict[str, Any], bad: Any) -> list[str]:
    """``slice`` (one label) and ``tags`` (a list): the slices the example belongs to."""
    labels: list[str] = []
    one = row.get("slice")
    if one is not None and one != "":
        if isinstance(one, bool) or not isinstance(one, str | int):
            raise bad("slice", "a string", one)
        labels.append(str(one).strip())
    tags = row.get("tags")
    if isinstance(tags, str):
        tags = [tags] if tags.strip() else []
    if tags is not None and not (
        isinstance(tags, list)
        and all(isinstance(t, str | int) and not isinstance(t, bool) for t in tags)
    ):
        raise bad("tags", "a list of strings", tags)
    labels += [str(t).strip() for t in tags or []]
    return [label for label in dict.fromkeys(labels) if label]


def _parse_csv_cells(row: dict[str, str], *, where: str, at: Where) -> dict[str, Any]:
    """CSV cells are strings; empty reserved cells mean "absent", and ``context``, ``metadata``
    and ``expected`` holding JSON (``[...]``, ``{...}``) are parsed."""
    out: dict[str, Any] = dict(row)
    for key in ("id", "group", "context", "metadata", "expected", "tags", "slice"):
        if key in out and out[key].strip() == "":
            out[key] = None
    for key in ("context", "metadata", "expected", "tags"):
        cell = out.get(key)
        if not isinstance(cell, str) or cell.strip()[:1] not in ("[", "{"):
            continue
        try:
            out[key] = load_json(cell)
        except ParseProblem as exc:
            if key == "metadata":
                reason = exc.reason.removeprefix("invalid JSON: ")
                raise InputError(
                    f"{where}: 'metadata' is not valid JSON: {reason}",
                    **at,
                    hint='write metadata as a JSON object, e.g. {"source": "faq"}',
                ) from None
    if isinstance(out.get("metadata"), str):
        raise InputError(
            f"{where}: 'metadata' must be a JSON object",
            **at,
            hint='write metadata as a JSON object, e.g. {"source": "faq"}',
        )
    return out


def _require_object(row: Any, *, label: str, line: int | None, where: str | None = None) -> None:
    if not isinstance(row, dict):
        prefix = f"{where}: " if where else ""
        raise InputError(
            f"{prefix}expected an object with the example's fields, got {_kind(row)}",
            file=label,
            line=line,
            hint=_ROW_HINT if where is None else "make every item a mapping of field: value",
        )
    for key in row:
        if not isinstance(key, str):
            prefix = f"{where}: " if where else ""
            raise InputError(
                f"{prefix}field name {key!r} is not a string",
                file=label,
                line=line,
                hint="quote the field name",
            )


def _plain(value: Any) -> Any:
    """YAML dates and timestamps as ISO strings, so rows stay JSON (results.json, ids)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)
