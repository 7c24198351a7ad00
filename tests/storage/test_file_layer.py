"""The file layer: the TinyDB storage, chunked encoding, atomic replace, journal lines."""
from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import orjson
import pytest
from tinydb import TinyDB

from storage import atomic, journal
from storage.atomic import AtomicJSONStorage, atomic_write, iter_tables


def test_chunked_encoding_writes_exactly_what_orjson_would() -> None:
    data: dict[str, dict[str, Any]] = {
        "_meta": {"1": {"schema_version": 1}},
        "devices": {str(n): {"mac": f"m{n}", "history": [{"at": n}], "ü": None} for n in range(1, 3500)},
        "records": {},
    }
    assert b"".join(iter_tables(data)) == orjson.dumps(data)


def test_atomic_storage_is_a_tinydb_storage_with_private_files(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    with TinyDB(path, storage=AtomicJSONStorage) as db:
        db.table("devices").insert({"mac": "00-1B-00-00-00-01"})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"]
    with TinyDB(path, access_mode="r") as plain:  # TinyDB's own JSON storage reads it
        assert plain.table("devices").all() == [{"mac": "00-1B-00-00-00-01"}]


def test_a_write_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "db.json"
    atomic_write(path, [b'{"old": {}}'])

    def pieces():
        yield b'{"new": {"1": '
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(path, pieces())
    assert path.read_bytes() == b'{"old": {}}'
    assert [p.name for p in tmp_path.iterdir()] == ["db.json"]


def test_temporary_names_are_recognised_for_clean_up(tmp_path: Path) -> None:
    temp = atomic.temp_path_for(tmp_path / "tenant-ab.json")
    assert temp.parent == tmp_path and atomic.is_temp_file(temp.name)
    assert not atomic.is_temp_file("tenant-ab.json")


def test_journal_lines_round_trip_and_a_torn_last_line_is_not_a_record(tmp_path: Path) -> None:
    path = tmp_path / "t.wal"
    first = journal.encode_record(1, 10, [["devices", "m1", {"mac": "m1"}]])
    second = journal.encode_record(2, 20, [["records", ["kind", "key"], None]])
    size = journal.append(path, 0, first)
    size = journal.append(path, size, second)
    with open(path, "ab") as handle:
        handle.write(journal.encode_record(3, 30, [])[:-5])

    scan = journal.scan(path)
    assert [(r.batch, r.audit_size, r.changes) for r in scan.records] == [
        (1, 10, [["devices", "m1", {"mac": "m1"}]]),
        (2, 20, [["records", ["kind", "key"], None]]),
    ]
    assert scan.valid_end == size < scan.size
    # The next append cuts the torn tail before writing.
    journal.append(path, size, journal.encode_record(3, 30, []))
    assert [r.batch for r in journal.scan(path).records] == [1, 2, 3]
