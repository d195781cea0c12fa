"""Data rows from NDJSON: real images, text rows, typed metadata, bad input.

Every bad-input test checks that the message names ``file:line`` and the field, and that
the workspace is exactly as before the failed import.
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

import errorscope as es
from errorscope.ingest.datarows import (
    _ROW_SCHEMA,
    _fast_metadata,
    _parse_lines,
    _string_values,
    parse_data_rows,
)
from errorscope.ingest.lines import arrays, read_chunks, read_json_chunk
from tests.conftest import shared_path, snapshot


def write_ndjson(path: Path, records: list[Any], *, dumps: Any = None) -> Path:
    """One record per line; a ``str`` record is written as is (blank or broken lines)."""
    dump = dumps or (lambda r: orjson.dumps(r).decode())
    path.write_text("\n".join(r if isinstance(r, str) else dump(r) for r in records) + "\n")
    return path


def metadata_by_key(ws: es.Workspace) -> dict[str, dict[str, tuple[Any, ...]]]:
    """``{global_key: {field: (type, value)}}`` read back from the workspace."""
    rows = ws.data_rows()
    keys = dict(
        zip(rows.column("id").to_pylist(), rows.column("global_key").to_pylist(), strict=True)
    )
    out: dict[str, dict[str, tuple[Any, ...]]] = {}
    for m in ws.metadata().to_pylist():
        value = {"number": m["num_value"], "datetime": m["time_value"]}.get(
            m["type"], m["str_value"]
        )
        out.setdefault(keys[m["data_row_id"]], {})[m["name"]] = (m["type"], value)
    return out


@pytest.mark.shared_data
def test_real_images_sizes_and_typed_metadata(ws: es.Workspace, tmp_path: Path) -> None:
    images = shared_path("voc100", "images")
    files = sorted(images.glob("*.jpg"))[:12]
    records: list[Any] = []
    for i, f in enumerate(files):
        rec: dict[str, Any] = {"row_data": f.name, "global_key": f.name}
        if i % 2:
            rec["media_type"] = "Image"
        if i == 3:
            rec |= {"width": 999, "height": 888}  # given sizes win over the file's
        rec["metadata_fields"] = [
            {"name": "city", "value": ["Paris", "Rome"][i % 2]},
            {"name": "captured", "value": f"2024-05-{i + 1:02d}T10:00:00+02:00"},
            {"name": "score", "value": i / 4},
            {"name": "weather", "value": "sunny", "type": "enum"},
        ]
        records.append(rec)
        if i == 5:
            records.append("")
    path = write_ndjson(tmp_path / "rows.ndjson", records)
    report = ws.import_data_rows(path, media_root=images)
    assert (report.data_rows_created, report.labels) == (len(files), 0)

    rows = ws.data_rows().to_pylist()
    assert [r["global_key"] for r in rows] == [f.name for f in files]
    for i, (r, f) in enumerate(zip(rows, files, strict=True)):
        assert (r["media_type"], r["uri"], r["text"]) == ("image", str(images / f.name), None)
        with Image.open(f) as img:
            assert (r["width"], r["height"]) == ((999, 888) if i == 3 else img.size)
    meta = metadata_by_key(ws)
    for i, f in enumerate(files):
        assert meta[f.name] == {
            "city": ("string", ["Paris", "Rome"][i % 2]),
            "captured": ("datetime", datetime(2024, 5, i + 1, 8, 0)),  # stored as UTC
            "score": ("number", i / 4),
            "weather": ("enum", "sunny"),
        }


def test_text_rows_and_stated_types(ws: es.Workspace, tmp_path: Path) -> None:
    path = write_ndjson(
        tmp_path / "rows.ndjson",
        [
            {"row_data": "Alice met Bob.", "global_key": "t1", "media_type": "text",
             "metadata_fields": [{"name": "code", "value": "2024-01-01", "type": "string"},
                                 {"name": "lang", "value": "en", "type": "ENUM"},
                                 {"name": "n", "value": 3, "type": "number"}]},
            {"text": "Bonjour.", "global_key": "t2", "row_data": "docs/t2.txt",
             "metadata_fields": [{"name": "code", "value": "x"},
                                 {"name": "when", "value": "2024-01-02", "type": "datetime"}]},
            {"row_data": "https://example.invalid/x.jpg", "global_key": "img",
             "metadata_fields": [{"name": "when", "value": "2024-03-04 05:06:07"}]},
            {"row_data": "no/such/file.jpg"},
        ],
    )  # fmt: skip
    ws.import_data_rows(path, media_root=tmp_path)
    rows = {r["global_key"]: r for r in ws.data_rows().to_pylist()}
    assert (rows["t1"]["media_type"], rows["t1"]["text"], rows["t1"]["uri"]) == (
        "text",
        "Alice met Bob.",
        None,
    )
    assert (rows["t2"]["media_type"], rows["t2"]["text"], rows["t2"]["uri"]) == (
        "text",
        "Bonjour.",
        "docs/t2.txt",
    )
    # a URL is kept as is and not read; a missing local file leaves the size unknown
    assert (rows["img"]["uri"], rows["img"]["width"]) == ("https://example.invalid/x.jpg", None)
    assert (rows[None]["uri"], rows[None]["height"]) == (f"{tmp_path}/no/such/file.jpg", None)
    assert metadata_by_key(ws) == {
        "t1": {"code": ("string", "2024-01-01"), "lang": ("enum", "en"), "n": ("number", 3.0)},
        "t2": {"code": ("string", "x"), "when": ("datetime", datetime(2024, 1, 2))},
        "img": {"when": ("datetime", datetime(2024, 3, 4, 5, 6, 7))},
    }


WHEN = [
    "2024-02-{day:02d}T01:02:03Z",
    "2024-02-{day:02d}",
    "2024-02-{day:02d} 23:59",
    "2024-02-{day:02d}T01:02:03.{f:06d}+05:30",
    "2024-02-{day:02d}T01:02:03.{f}-0800",
    "2024-02-{day:02d}T01:02:03.{f:07d}",
]


def random_rows(rng: random.Random, n: int) -> list[Any]:
    out: list[Any] = []
    for i in range(n):
        rec: dict[str, Any] = {"row_data": f"img/{i}.jpg", "global_key": f"k{i}"}
        if rng.random() < 0.3:
            rec = {"row_data": f"text number {i}", "global_key": f"k{i}", "media_type": "TEXT"}
        elif rng.random() < 0.5:
            rec |= {"width": rng.randint(1, 999), "height": rng.randint(1, 999)}
        fields = []
        if rng.random() < 0.7:
            fields.append({"name": "score", "value": rng.choice([rng.random(), rng.randint(0, 9)])})
        if rng.random() < 0.7:
            fields.append({"name": "city", "value": rng.choice(["Paris", "Rome", "2024-13-01"])})
        if rng.random() < 0.5:
            day = rng.randint(1, 31)  # 2024-02-30 and -31 are strings, not datetimes
            when = rng.choice(WHEN).format(day=day, f=rng.randint(0, 999999))
            fields.append({"name": "when" if day < 29 else "note", "value": when})
        if rng.random() < 0.3:
            fields.append({"name": "tier", "value": rng.choice(["a", "b"]), "type": "enum"})
        if fields:
            rec["metadata_fields"] = fields
        out.append(rec)
        if rng.random() < 0.02:
            out.append("  ")
    return out


@pytest.mark.parametrize("dumps", [None, json.dumps], ids=["compact", "spaced"])
def test_vectorised_path_equals_per_line_parser(tmp_path: Path, dumps: Any) -> None:
    path = write_ndjson(tmp_path / "rows.ndjson", random_rows(random.Random(3), 500), dumps=dumps)
    chunk = next(read_chunks(path, 1 << 30))
    raw = read_json_chunk(chunk, _ROW_SCHEMA, _string_values)
    assert raw is not None  # the vectorised path takes this file
    lines = chunk.row_lines(raw.num_rows)
    assert lines is not None
    assert _fast_metadata(arrays(raw), lines) is not None
    parsed = parse_data_rows(path, media_root=tmp_path)
    rows, meta = _parse_lines(path, chunk, tmp_path)
    assert parsed.rows is not None
    assert parsed.metadata is not None
    assert parsed.rows.to_pylist() == rows.to_pylist()
    got = parsed.metadata.to_pylist()
    assert [{k: v for k, v in m.items() if k != "row_index"} for m in got] == meta.to_pylist()
    row_lines = parsed.rows.column("line").to_pylist()
    assert all(row_lines[m["row_index"]] == m["line"] for m in got)
    assert {m["type"] for m in got} == {"number", "string", "datetime", "enum"}


def expect_error(ws: es.Workspace, path: Path, line: int, field: str) -> es.InvalidInputError:
    before = snapshot(ws)
    with pytest.raises(es.InvalidInputError) as info:
        ws.import_data_rows(path)
    err = info.value
    assert f"{path}:{line}:" in str(err)
    assert f"field {field!r}" in str(err)
    assert (err.line, err.field) == (line, field)
    assert snapshot(ws) == before
    return err


def row(i: int, **extra: Any) -> dict[str, Any]:
    return {"row_data": f"https://example.invalid/{i}.jpg", "global_key": f"k{i}", **extra}


def test_duplicate_global_keys(ws: es.Workspace, tmp_path: Path) -> None:
    ws.import_data_rows(write_ndjson(tmp_path / "first.ndjson", [row(0), row(1)]))
    dup = write_ndjson(tmp_path / "dup.ndjson", [row(2), row(3), "", row(2)])
    err = expect_error(ws, dup, 1, "global_key")
    assert "'k2'" in err.message
    assert "line 4" in err.message
    again = write_ndjson(tmp_path / "again.ndjson", [row(5), "", row(1)])
    err = expect_error(ws, again, 3, "global_key")
    assert "already exists" in err.message


def meta(*fields: dict[str, Any]) -> dict[str, Any]:
    return {"metadata_fields": list(fields)}


@pytest.mark.parametrize(
    ("bad", "field", "needle"),
    [
        ('{"row_data": "x.jpg", "global_key": ', None, "malformed JSON"),
        (row(9, width=640.5), "width", "whole number"),
        (row(9, row_data={"url": "x"}), "row_data", "string"),
        (row(9, media_type="VIDEO"), "media_type", "'video'"),
        ({"global_key": "k9"}, "row_data", "no file path"),
        ({"global_key": "k9", "media_type": "text"}, "row_data", "no text"),
        (row(9, **meta({"name": "flag", "value": True})), "metadata_fields.flag", "string or"),
        (row(9, **meta({"name": "a", "value": None})), "metadata_fields.a", "string or"),
        (row(9, **meta({"name": "t", "value": "x", "type": "color"})), "metadata_fields.t",
         "unknown metadata type"),
        (row(9, **meta({"name": "t", "value": 3, "type": "enum"})), "metadata_fields.t",
         "string value"),
        (row(9, **meta({"name": "t", "value": "3", "type": "number"})), "metadata_fields.t",
         "number value"),
        (row(9, **meta({"name": "t", "value": "May 1st", "type": "datetime"})),
         "metadata_fields.t", "ISO-8601"),
        (row(9, **meta({"value": 3})), "metadata_fields", "name"),
        (row(9, **meta({"name": "a", "value": 1}, {"name": "a", "value": 2})),
         "metadata_fields.a", "twice"),
        (row(9, **meta({"name": "score", "value": "high"})), "metadata_fields.score",
         "of type number"),
    ],
)  # fmt: skip
def test_bad_rows(
    ws: es.Workspace, tmp_path: Path, bad: Any, field: str | None, needle: str
) -> None:
    ws.import_data_rows(
        write_ndjson(tmp_path / "first.ndjson", [row(0, **meta({"name": "score", "value": 1}))])
    )
    good = [row(100 + i, **meta({"name": "score", "value": i})) for i in range(40)]
    path = write_ndjson(tmp_path / "bad.ndjson", [*good, "", bad, row(99)])
    before = snapshot(ws)
    with pytest.raises(es.InvalidInputError) as info:
        ws.import_data_rows(path)
    err = info.value
    assert f"{path}:42:" in str(err)
    assert (err.line, err.field) == (42, field)
    if field is not None:
        assert f"field {field!r}" in str(err)
    assert needle in err.message
    assert snapshot(ws) == before


def test_metadata_type_clash_within_file(ws: es.Workspace, tmp_path: Path) -> None:
    path = write_ndjson(
        tmp_path / "clash.ndjson",
        [row(1, **meta({"name": "s", "value": 1})), row(2, **meta({"name": "s", "value": "x"}))],
    )
    err = expect_error(ws, path, 2, "metadata_fields.s")
    assert "type number" in err.message


def test_unreadable_local_image(ws: es.Workspace, tmp_path: Path) -> None:
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    path = write_ndjson(tmp_path / "rows.ndjson", [{"row_data": str(tmp_path / "broken.jpg")}])
    err = expect_error(ws, path, 1, "row_data")
    assert "not a readable image" in err.message
