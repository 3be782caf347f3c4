from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

from evalbot.records import Completion, Message, ModelRequest
from evalbot.run.cache import DB_NAME, ResponseCache, cacheable, request_key
from evalbot.signing import seal

ROOT = Path(__file__).resolve().parents[2]


def _request(**fields: object) -> ModelRequest:
    base: dict[str, object] = {
        "provider": "openai",
        "model": "gpt-4o-mini",
        "params": {"temperature": 0, "seed": 7},
        "messages": [Message(role="user", content="hi")],
    }
    return ModelRequest.model_validate({**base, **fields})


def test_key__ignores_purpose_and_param_order() -> None:
    a = _request(params={"temperature": 0, "seed": 7})
    b = _request(params={"seed": 7, "temperature": 0}, purpose="judge")
    assert request_key(a) == request_key(b)


def test_key__depends_on_every_answer_field() -> None:
    base = request_key(_request())
    variants = [
        _request(model="gpt-4o"),
        _request(params={"temperature": 1, "seed": 7}),
        _request(messages=[Message(role="user", content="hi!")]),
        _request(sample=1),
    ]
    assert len({base, *(request_key(v) for v in variants)}) == 5
    assert request_key(_request(), scope="openai:https://a/v1") != base


def test_key__vars_and_code_version_only_for_code_providers() -> None:
    assert request_key(_request(vars={"x": 1})) == request_key(_request(vars={"x": 2}))
    py = {"provider": "python", "model": "", "code_version": "tree1"}
    assert request_key(_request(**py, vars={"x": 1})) != request_key(_request(**py, vars={"x": 2}))
    assert request_key(_request(**py)) != request_key(_request(**{**py, "code_version": "tree2"}))


def test_cacheable__code_providers_need_a_code_version() -> None:
    assert cacheable(_request())
    assert cacheable(_request(provider="python", code_version="abc"))
    assert not cacheable(_request(provider="python"))
    assert not cacheable(_request(provider="exec"))


def test_get_put__round_trip_marks_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    request = _request()
    assert cache.get(request) is None
    done = Completion(text="hello", input_tokens=3, output_tokens=1, latency_ms=12.5)
    assert cache.put(request, done)
    hit = cache.get(request)
    assert hit == done.model_copy(update={"cached": True})
    key = cache.key_for(request)
    cache.close()
    [(entry,)] = _rows(tmp_path, "SELECT entry FROM entries WHERE key = ?", key)
    stored = json.loads(entry)
    assert stored["text"] == "hello" and "cached" not in stored
    assert list(cache.keys()) == [key]


def test_put__never_stores_errors_or_uncacheable(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    assert not cache.put(_request(), Completion(error="HTTP 500"))
    assert not cache.put(_request(provider="exec"), Completion(text="x"))
    assert cache.get(_request()) is None
    assert not any(tmp_path.rglob("*.json"))
    assert list(cache.keys()) == []


def test_get__corrupt_legacy_entry_is_a_miss_and_is_replaced(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    request = _request()
    path = cache.path_for(cache.key_for(request))
    path.parent.mkdir(parents=True)
    path.write_text('{"text": "trunc')
    assert cache.get(request) is None
    cache.put(request, Completion(text="fixed"))
    assert cache.get(request).text == "fixed"


def test_put__concurrent_writers_and_readers_see_whole_entries(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path)
    request = _request()
    big = "x" * 200_000  # large enough that a non-atomic write would be seen half-done
    seen: list[str | None] = []
    failures: list[BaseException] = []

    def write(i: int) -> None:
        try:
            for _ in range(20):
                cache.put(request, Completion(text=f"{i}{big}"))
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    def read() -> None:
        for _ in range(200):
            hit = cache.get(request)
            seen.append(hit.text if hit else None)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    threads += [threading.Thread(target=read) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures
    assert all(s is None or (len(s) == 200_001 and s[1:] == big) for s in seen)
    assert list(cache.keys()) == [cache.key_for(request)]
    cache.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [DB_NAME]  # the log folded back in


def _rows(root: Path, query: str, *args: object) -> list[tuple]:
    with sqlite3.connect(root / DB_NAME) as db:
        return db.execute(query, args).fetchall()


def _legacy_entry(root: Path, key: str, data: bytes) -> Path:
    """An entry as the previous layout stored it: one file per key."""
    path = root / key[:2] / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_legacy_layout__read_plain_and_signed_and_never_written(tmp_path: Path) -> None:
    plain, signed = _request(), _request(sample=1)
    body = Completion(text="recorded", input_tokens=2).model_dump_json(exclude={"cached"})
    _legacy_entry(tmp_path, request_key(plain), body.encode())
    key = request_key(signed)
    _legacy_entry(tmp_path, key, seal(b"s", "completion", key, body.encode()))
    assert ResponseCache(tmp_path).get(plain).text == "recorded"  # the CLI, no secret
    assert ResponseCache(tmp_path, secret=b"s").get(signed).text == "recorded"
    assert ResponseCache(tmp_path, secret=b"s").get(plain) is None  # unsigned: a miss
    assert ResponseCache(tmp_path, secret=b"other").get(signed) is None
    assert not (tmp_path / DB_NAME).exists()  # reading creates nothing in the directory
    cache = ResponseCache(tmp_path)
    assert cache.contains(plain) and not cache.contains(_request(sample=2))
    assert sorted(cache.keys()) == sorted([request_key(plain), key])


def test_shipped_example_recordings__still_answer(tmp_path: Path) -> None:
    recorded = ROOT / "examples" / "support-bot" / "recorded"
    files = sorted(recorded.glob("??/*.json"))
    assert len(files) > 100
    entries = dict(ResponseCache(recorded).entries())
    assert set(entries) == {f.stem for f in files}  # every recorded answer still reads back
    assert all(c.cached and c.ok for c in entries.values())
    assert not (recorded / DB_NAME).exists()


def test_database_entry_wins_over_legacy_file(tmp_path: Path) -> None:
    request = _request()
    _legacy_entry(tmp_path, request_key(request), b'{"text": "old"}')
    cache = ResponseCache(tmp_path)
    cache.put(request, Completion(text="new"))
    assert cache.get(request).text == "new"


def test_signed_entries__wrong_key_or_edited_body_is_a_miss(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path, secret=b"workflow")
    a, b = _request(), _request(sample=1)
    cache.put(a, Completion(text="answer a"))
    cache.close()
    [(entry,)] = _rows(tmp_path, "SELECT entry FROM entries")
    with sqlite3.connect(tmp_path / DB_NAME) as db:  # an entry copied under another key
        db.execute("INSERT INTO entries VALUES (?, ?)", (request_key(b), entry))
    assert ResponseCache(tmp_path, secret=b"workflow").get(b) is None
    with sqlite3.connect(tmp_path / DB_NAME) as db:  # an entry edited in a restored cache
        db.execute("UPDATE entries SET entry = ? WHERE key = ?", (entry[:-3], request_key(a)))
    assert ResponseCache(tmp_path, secret=b"workflow").get(a) is None
    assert ResponseCache(tmp_path, secret=b"other").get(a) is None


def test_torn_entry__a_miss_never_garbage(tmp_path: Path) -> None:
    """Bytes cut anywhere (what a crash mid-write could leave) never read back as an answer."""
    request = _request()
    for secret in (None, b"workflow"):
        cache = ResponseCache(tmp_path / str(secret), secret=secret)
        cache.put(request, Completion(text="a whole answer", input_tokens=5))
        cache.close()
        [(entry,)] = _rows(cache.root, "SELECT entry FROM entries")
        key = request_key(request)
        reader = ResponseCache(cache.root, secret=secret)
        with sqlite3.connect(cache.db_path, isolation_level=None) as db:
            for cut in [*range(1, 90), *range(90, len(entry), 7)]:
                db.execute("UPDATE entries SET entry = ? WHERE key = ?", (entry[:cut], key))
                hit = reader.get(request)
                assert hit is None or hit.text == "a whole answer", (secret, cut)
        reader.close()


def test_not_a_database__misses_and_the_run_goes_on(tmp_path: Path) -> None:
    (tmp_path / DB_NAME).write_bytes(b"planted: not sqlite" * 100)
    cache = ResponseCache(tmp_path, secret=b"s")
    assert cache.get(_request()) is None
    assert cache.put(_request(), Completion(text="x")) is False
    assert list(cache.keys()) == []


def test_files_are_world_readable_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        cache = ResponseCache(tmp_path / "new" / "cache")
        cache.put(_request(), Completion(text="x"))
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in cache.root.iterdir()}
        assert modes and set(modes.values()) == {0o644}, modes  # the db and its -wal/-shm
        assert stat.S_IMODE(cache.root.stat().st_mode) == 0o755
        cache.close()
    finally:
        os.umask(old)


_WRITER = """
import sys
from pathlib import Path
from evalbot.records import Completion, Message, ModelRequest
from evalbot.run.cache import ResponseCache

root, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
cache = ResponseCache(root, secret=b"workflow")
for i in range(count):
    request = ModelRequest(provider="openai", model="m", params={},
                           messages=[Message(role="user", content=f"{tag} {i}")])
    assert cache.put(request, Completion(text=f"{tag} answer {i}" + "x" * 2000))
    if i == 5:
        print("started", flush=True)
cache.close()
"""


def _writer(root: Path, tag: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(root), tag, str(count)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )


def _written(root: Path, tag: str, count: int) -> list[str | None]:
    cache = ResponseCache(root, secret=b"workflow")
    found: list[str | None] = []
    for i in range(count):
        request = ModelRequest(
            provider="openai",
            model="m",
            params={},
            messages=[Message(role="user", content=f"{tag} {i}")],
        )
        hit = cache.get(request)
        found.append(None if hit is None else hit.text)
    cache.close()
    return found


def test_two_writer_processes_on_one_directory__every_entry_whole(tmp_path: Path) -> None:
    """Two shards (processes) filling one cache directory at the same time."""
    writers = [_writer(tmp_path, tag, 200) for tag in ("base", "head")]
    for w in writers:
        assert w.wait(timeout=120) == 0
    for tag in ("base", "head"):
        assert _written(tmp_path, tag, 200) == [
            f"{tag} answer {i}" + "x" * 2000 for i in range(200)
        ]


def test_writer_killed_mid_run__later_reads_are_whole_answers_or_misses(tmp_path: Path) -> None:
    writer = _writer(tmp_path, "killed", 100_000)
    assert writer.stdout is not None and writer.stdout.readline().strip() == "started"
    time.sleep(0.2)
    writer.send_signal(signal.SIGKILL)  # no chance to finish a transaction or close
    writer.wait(timeout=30)
    found = _written(tmp_path, "killed", 400)
    assert found[0] == "killed answer 0" + "x" * 2000
    assert all(t is None or t == f"killed answer {i}" + "x" * 2000 for i, t in enumerate(found))
    # The database is still usable after the crash: a new writer adds to it.
    cache = ResponseCache(tmp_path, secret=b"workflow")
    assert cache.put(_request(), Completion(text="after"))
    assert cache.get(_request()).text == "after"
    cache.close()
