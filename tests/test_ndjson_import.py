"""Labelbox-style NDJSON annotations: every geometry kind, real VOC data, bad input.

Every bad-input test checks that the message names ``file:line`` and the field, and that
the workspace is exactly as before the failed import.
"""

from __future__ import annotations

import base64
import io
import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest
from PIL import Image
from pycocotools import mask as mask_utils

import errorscope as es
from errorscope.core.geometry import decode_rle
from errorscope.ingest import lines as lines_mod
from errorscope.ingest.lines import arrays, read_chunks, read_json_chunk
from errorscope.ingest.ndjson import _FAST_SCHEMA, _parse_lines, _slow_rows, parse_ndjson
from tests.conftest import shared_path, snapshot

TEXT = "Alice met Bob in Paris."


def write_ndjson(path: Path, records: list[Any], *, sep: str = "\n") -> Path:
    """One record per line; a ``str`` record is written as is (blank or broken lines)."""
    out = [r if isinstance(r, str) else orjson.dumps(r).decode() for r in records]
    path.write_text(sep.join(out) + sep, encoding="utf-8")
    return path


def png_b64(mask: np.ndarray[Any, Any], mode: str = "L") -> str:
    img = Image.fromarray((mask * 255).astype(np.uint8)).convert(mode)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def known_mask(h: int = 6, w: int = 8) -> np.ndarray[Any, Any]:
    m = np.zeros((h, w), dtype=np.uint8)
    m[1:4, 2:5] = 1
    m[5, 7] = 1
    return m


@pytest.fixture
def rows(ws: es.Workspace, tmp_path: Path) -> dict[str, int]:
    """Two image rows (8x6 and 20x10, sizes given) and one text row; key -> id."""
    path = write_ndjson(
        tmp_path / "rows.ndjson",
        [
            {"row_data": "https://example.invalid/a.png", "global_key": "a.png",
             "width": 8, "height": 6},
            {"row_data": "https://example.invalid/b.png", "global_key": "b.png",
             "media_type": "IMAGE", "width": 20, "height": 10},
            {"row_data": TEXT, "global_key": "doc1", "media_type": "TEXT"},
        ],
    )  # fmt: skip
    ws.import_data_rows(path)
    table = ws.data_rows()
    return dict(
        zip(table.column("global_key").to_pylist(), table.column("id").to_pylist(), strict=True)
    )


def by_uuid(table: pa.Table) -> dict[str, dict[str, Any]]:
    return {r["uuid"]: r for r in table.to_pylist()}


def test_every_kind_as_labels_then_predictions(
    ws: es.Workspace, rows: dict[str, int], tmp_path: Path
) -> None:
    mask = known_mask()
    rle = mask_utils.encode(np.asfortranarray(mask))
    a, b = {"globalKey": "a.png"}, {"id": rows["b.png"]}
    records = [
        {"uuid": "box", "dataRow": a, "name": "car",
         "bbox": {"top": 1, "left": 2, "height": 3, "width": 4.5}},
        {"uuid": "poly", "dataRow": b, "name": "roof",
         "polygon": [{"x": 1, "y": 1}, {"x": 9, "y": 1}, {"x": 9, "y": 5}]},
        {"uuid": "pt", "dataRow": b, "name": "eye", "point": {"x": 3.5, "y": 2}},
        {"uuid": "ln", "dataRow": b, "name": "lane", "line": [{"x": 0, "y": 9}, {"x": 19, "y": 0}]},
        {"uuid": "png", "dataRow": a, "name": "blob", "mask": {"png": png_b64(mask)}},
        {"uuid": "rle", "dataRow": a, "name": "blob",
         "mask": {"rle": {"counts": rle["counts"].decode(), "size": [6, 8]}}},
        {"uuid": "raw", "dataRow": a, "name": "blob",
         "mask": {"rle": {"counts": [8, 2, 4, 3, 3, 3, 25], "size": [6, 8]}}},
        {"uuid": "bob", "dataRow": {"globalKey": "doc1"}, "name": "PER",
         "location": {"start": 10, "end": 12}},
        {"uuid": "dot", "dataRow": {"globalKey": "doc1"}, "name": "PUNCT",
         "location": {"start": 22, "end": 22}},
        {"uuid": "day", "dataRow": a, "name": "daytime", "answer": {"name": "yes"}},
        {"uuid": "tags", "dataRow": b, "name": "tags", "answer": [{"name": "x"}, {"name": "y"}]},
    ]  # fmt: skip
    gt = write_ndjson(tmp_path / "gt.ndjson", records)
    report = ws.import_ndjson(gt)
    assert (report.labels, report.classes_created) == (len(records), 9)
    kinds = {c.name: c.kind for c in ws.classes()}
    assert kinds == {
        "car": "bbox", "roof": "polygon", "eye": "point", "lane": "polyline", "blob": "mask",
        "PER": "text_span", "PUNCT": "text_span", "daytime": "radio", "tags": "checklist",
    }  # fmt: skip
    got = by_uuid(ws.labels())
    box = got["box"]
    assert (box["x1"], box["y1"], box["x2"], box["y2"]) == (2, 1, 6.5, 4)
    assert got["poly"]["coords"] == [[1, 1, 9, 1, 9, 5]]
    assert (got["poly"]["x1"], got["poly"]["y2"], got["poly"]["area"]) == (1, 5, 16)
    assert got["pt"]["coords"] == [[3.5, 2]]
    assert (got["pt"]["x1"], got["pt"]["y1"], got["pt"]["x2"]) == (3.5, 2, 3.5)
    assert got["ln"]["kind"] == "polyline"
    assert got["ln"]["coords"] == [[0, 9, 19, 0]]
    for key in ("png", "rle"):
        r = got[key]
        assert (r["rle_h"], r["rle_w"]) == (6, 8)
        assert np.array_equal(decode_rle(r["rle_counts"], 6, 8), mask), key
        assert (r["x1"], r["y1"], r["x2"], r["y2"], r["area"]) == (2, 1, 8, 6, 10)
    # uncompressed counts run column-major: 8 off, 2 on, 4 off, 3 on, ...
    raw = decode_rle(got["raw"]["rle_counts"], 6, 8)
    assert raw.sum() == 2 + 3 + 3
    assert raw.T.ravel()[8:10].tolist() == [1, 1]
    # Labelbox's end is inclusive: "Bob" is 10..12, stored as [10, 13)
    bob = got["bob"]
    assert TEXT[bob["span_start"] : bob["span_end"]] == "Bob"
    assert TEXT[got["dot"]["span_start"] : got["dot"]["span_end"]] == "."
    assert (got["day"]["kind"], got["day"]["answers"]) == ("radio", ["yes"])
    assert (got["tags"]["kind"], got["tags"]["answers"]) == ("checklist", ["x", "y"])
    assert {r["row_key"] for r in got.values()} == {"a.png", "b.png", "doc1"}

    scores = {r["uuid"]: round(0.05 + 0.9 * i / len(records), 3) for i, r in enumerate(records)}
    preds = [
        {**r, "uuid": "p-" + r["uuid"], "confidence": scores[r["uuid"]],
         "customMetrics": [{"name": "iou", "value": i / 10}, {"name": "hard", "value": 1}]}
        for i, r in enumerate(records)
    ]  # fmt: skip
    report = ws.import_ndjson(write_ndjson(tmp_path / "pred.ndjson", preds), run="r1")
    assert (report.predictions, report.classes_created, report.labels) == (len(records), 0, 0)
    pred = by_uuid(ws.predictions("r1"))
    for i, r in enumerate(records):
        p = pred["p-" + r["uuid"]]
        assert p["confidence"] == scores[r["uuid"]]
        assert dict(p["custom_metrics"]) == {"iou": i / 10, "hard": 1.0}
        assert p["kind"] == got[r["uuid"]]["kind"]
        assert p["coords"] == got[r["uuid"]]["coords"]
    assert ws.labels().num_rows == len(records)  # ground truth untouched


def test_ground_truth_drops_confidence_and_keeps_true_lines(
    ws: es.Workspace, rows: dict[str, int], tmp_path: Path
) -> None:
    box = {"dataRow": {"globalKey": "a.png"}, "name": "car",
           "bbox": {"top": 0, "left": 0, "height": 1, "width": 1}}  # fmt: skip
    path = write_ndjson(
        tmp_path / "gt.ndjson",
        ["", {**box, "uuid": "u1", "confidence": 0.3}, "   ", "", {**box, "uuid": "u2"}],
        sep="\r\n",
    )
    parsed = parse_ndjson(path)
    assert parsed.annotations.column("line").to_pylist() == [2, 5]
    assert parsed.annotations.column("confidence").null_count == 2
    assert parse_ndjson(path, scored=True).annotations.column("confidence").to_pylist() == [
        0.3,
        None,
    ]
    assert ws.import_ndjson(path).labels == 2


def voc_records(xml_dir: Path, n: int) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """NDJSON boxes from the first ``n`` VOC XML files, and the (key, name, xyxy) expected."""
    records, expected = [], []
    for xml in sorted(xml_dir.glob("*.xml"))[:n]:
        root = ET.parse(xml).getroot()
        key = root.findtext("filename")
        for obj in root.iter("object"):
            bb = obj.find("bndbox")
            assert bb is not None
            x1, y1, x2, y2 = (
                float(bb.findtext(k) or "nan") for k in ("xmin", "ymin", "xmax", "ymax")
            )
            records.append(
                {"uuid": f"{key}-{len(records)}", "dataRow": {"globalKey": key},
                 "name": obj.findtext("name"),
                 "bbox": {"top": y1, "left": x1, "height": y2 - y1, "width": x2 - x1}}
            )  # fmt: skip
            expected.append((key, obj.findtext("name"), x1, y1, x2, y2))
    return records, expected


@pytest.mark.shared_data
def test_real_voc_images_boxes_and_detections(ws: es.Workspace, tmp_path: Path) -> None:
    images = shared_path("voc100", "images")
    files = sorted(images.glob("*.jpg"))[:20]
    rows = [{"row_data": f.name, "global_key": f.name} for f in files]
    ws.import_data_rows(write_ndjson(tmp_path / "rows.ndjson", rows), media_root=images)
    table = ws.data_rows()
    for key, w, h in zip(
        *(table.column(c).to_pylist() for c in ("global_key", "width", "height")), strict=True
    ):
        with Image.open(images / key) as img:
            assert (w, h) == img.size

    records, expected = voc_records(shared_path("voc100", "gts", "pascalvoc_format"), len(files))
    assert ws.import_ndjson(write_ndjson(tmp_path / "gt.ndjson", records)).labels == len(expected)
    labels = ws.labels()
    got = sorted(
        zip(
            *(
                labels.column(c).to_pylist()
                for c in ("row_key", "class_name", "x1", "y1", "x2", "y2")
            ),
            strict=True,
        )
    )
    assert got == sorted(expected)

    names = shared_path("voc100", "voc.names").read_text().split()
    dets: list[dict[str, Any]] = []
    for f in files:
        txt = shared_path("voc100", "dets", "abs_xywh") / (f.stem + ".txt")
        for row in txt.read_text().split("\n") if txt.exists() else []:
            if row.strip():
                c, s, x, y, w, h = row.split()
                box = {"top": float(y), "left": float(x), "height": float(h), "width": float(w)}
                dets.append(
                    {"dataRow": {"globalKey": f.name}, "name": names[int(c)],
                     "confidence": float(s), "bbox": box}
                )  # fmt: skip
    known = {c.name for c in ws.classes()}
    dets = [d for d in dets if d["name"] in known]
    assert dets
    report = ws.import_ndjson(write_ndjson(tmp_path / "dets.ndjson", dets), run="det")
    assert report.predictions == len(dets)
    pred = ws.predictions("det")
    assert sorted(pred.column("confidence").to_pylist()) == sorted(d["confidence"] for d in dets)
    widths = np.array(pred.column("x2").to_pylist()) - np.array(pred.column("x1").to_pylist())
    assert sorted(widths.round(6)) == sorted(round(d["bbox"]["width"], 6) for d in dets)

    # a mask whose size is not the image's
    first = files[0].name
    with Image.open(files[0]) as img:
        w, h = img.size
    bad = write_ndjson(
        tmp_path / "mask.ndjson",
        [records[0] | {"uuid": "m0"},
         {"uuid": "m1", "dataRow": {"globalKey": first}, "name": "person",
          "mask": {"png": png_b64(known_mask(h + 1, w))}}],
    )  # fmt: skip
    err = expect_error(ws, lambda: ws.import_ndjson(bad), bad, 2, "mask")
    assert f"{w}x{h}" in err.message


def random_records(rng: random.Random, n: int, ids: list[int]) -> list[Any]:
    out: list[Any] = []
    for i in range(n):
        rec: dict[str, Any] = {"uuid": f"u{i}", "name": rng.choice(["car", "dog", "cat"])}
        rec["dataRow"] = {"id": rng.choice(ids)} if i % 3 else {"globalKey": "b.png"}
        pick = rng.random()
        pts = [{"x": rng.uniform(0, 20), "y": rng.uniform(0, 10)} for _ in range(rng.randint(3, 6))]
        if pick < 0.6:
            rec["bbox"] = {"top": rng.uniform(0, 5), "left": rng.randint(0, 9),
                           "height": rng.uniform(0, 5), "width": rng.uniform(0, 9)}  # fmt: skip
        elif pick < 0.7:
            rec["polygon"] = pts
        elif pick < 0.8:
            rec["line"] = pts[:2]
        elif pick < 0.9:
            rec["point"] = pts[0]
        elif pick < 0.95:
            rec["mask"] = {"png": png_b64(known_mask(10, 20), "RGB")}
        else:
            rec["answer"] = [{"name": "x"}]
        if rng.random() < 0.5:
            rec["confidence"] = rng.random()
        if rng.random() < 0.3:
            rec["customMetrics"] = [{"name": "iou", "value": rng.random()}]
        out.append(rec)
        if rng.random() < 0.02:
            out.append("")
    return out


@pytest.mark.parametrize("chunk", [4096, 64 << 20])
def test_vectorised_path_equals_per_line_parser(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(lines_mod, "CHUNK_BYTES", chunk)  # 4 KiB: many chunks, masks longer
    records = random_records(random.Random(7), 600, [1, 2])
    noise = np.random.default_rng(0).integers(0, 2, (150, 200))
    records.insert(100, {"dataRow": {"id": 1}, "name": "big", "mask": {"png": png_b64(noise)}})
    path = write_ndjson(tmp_path / "mix.ndjson", records)
    assert max(map(len, path.read_bytes().split(b"\n"))) > 4096  # a line longer than a chunk
    # the vectorised path takes every line but masks and classifications
    raw = read_json_chunk(next(read_chunks(path, 1 << 30)), _FAST_SCHEMA)
    assert raw is not None
    per_line = sum(isinstance(r, dict) and ("mask" in r or "answer" in r) for r in records)
    assert 0 < _slow_rows(arrays(raw), raw.num_rows).sum() == per_line < raw.num_rows / 5
    for scored in (False, True):
        fast = parse_ndjson(path, scored=scored).annotations
        slow_tables = []
        for c in read_chunks(path, 1 << 30):
            slow_tables.extend(_parse_lines(path, c.lines(), scored))
        slow = pa.concat_tables(slow_tables)
        assert fast.num_rows == slow.num_rows == 601
        assert fast.to_pylist() == slow.to_pylist()


def expect_error(
    ws: es.Workspace, do: Any, path: Path, line: int, field: str | None
) -> es.InvalidInputError:
    before = snapshot(ws)
    with pytest.raises(es.InvalidInputError) as info:
        do()
    err = info.value
    assert f"{path}:{line}:" in str(err)
    assert (err.path, err.line, err.field) == (str(path), line, field)
    if field is not None:
        assert f"field {field!r}" in str(err)
    assert snapshot(ws) == before
    return err


GOOD = {"uuid": "g", "dataRow": {"globalKey": "a.png"}, "name": "car",
        "bbox": {"top": 1, "left": 1, "height": 2, "width": 2}}  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "field", "needle"),
    [
        (
            '{"uuid": "x", "dataRow": {"globalKey": "a.png"}, "name": "car", "bbox": {',
            None,
            "malformed JSON",
        ),
        ("[1, 2]", None, "JSON object"),
        ({"uuid": "x", "name": "car", "bbox": GOOD["bbox"]}, "dataRow", "missing dataRow"),
        (
            {"uuid": "x", "dataRow": {"id": "ckabc"}, "name": "car", "bbox": GOOD["bbox"]},
            "dataRow",
            "integer",
        ),
        (
            {"uuid": "x", "dataRow": {"globalKey": "a.png"}, "bbox": GOOD["bbox"]},
            "name",
            "missing class name",
        ),
        (
            {**GOOD, "uuid": "x", "bbox": {"top": 1, "left": 1, "height": 2, "width": -2}},
            "bbox",
            "negative size",
        ),
        (
            {**GOOD, "uuid": "x", "bbox": {"top": 1, "left": "1", "height": 2, "width": 2}},
            "bbox",
            "numbers",
        ),
        ({**GOOD, "uuid": "x", "bbox": {"top": 1, "left": 1, "height": 2}}, "bbox", "width"),
        (
            {"uuid": "x", "dataRow": {"globalKey": "a.png"}, "name": "car", "rectangle": {}},
            "rectangle",
            "unknown geometry",
        ),
        (
            {"uuid": "x", "dataRow": {"globalKey": "a.png"}, "name": "car"},
            "geometry",
            "no geometry",
        ),
        ({**GOOD, "uuid": "x", "point": {"x": 1, "y": 2}}, "point", "more than one geometry"),
        (
            {**GOOD, "uuid": "x", "bbox": None, "polygon": [{"x": 1, "y": 1}, {"x": 2, "y": 2}]},
            "polygon",
            "at least 3",
        ),
        ({**GOOD, "uuid": "x", "bbox": None, "mask": {"png": "not base64!"}}, "mask", "base64"),
        (
            {
                **GOOD,
                "uuid": "x",
                "bbox": None,
                "mask": {"png": base64.b64encode(b"GIF89a").decode()},
            },
            "mask",
            "PNG",
        ),
        (
            {
                **GOOD,
                "uuid": "x",
                "bbox": None,
                "mask": {"rle": {"counts": [1, 2], "size": [6, 8]}},
            },
            "mask",
            "covers 3 pixels",
        ),
        (
            {**GOOD, "uuid": "x", "bbox": None, "mask": {"instanceURI": "https://x/m.png"}},
            "mask",
            "not fetched",
        ),
        ({**GOOD, "uuid": "x", "bbox": None, "answer": "free text"}, "answer", "free-text"),
        ({**GOOD, "uuid": "x", "customMetrics": [{"name": "iou"}]}, "customMetrics", "name"),
        ({**GOOD, "uuid": "x", "confidence": "high"}, "confidence", "number"),
    ],
)
def test_bad_lines(
    ws: es.Workspace, rows: dict[str, int], tmp_path: Path, bad: Any, field: str | None, needle: str
) -> None:
    # many good lines first, so the bad one is found inside a chunk pyarrow handled
    good = [{**GOOD, "uuid": f"g{i}"} for i in range(50)]
    path = write_ndjson(tmp_path / "bad.ndjson", [*good, "", bad, {**GOOD, "uuid": "last"}])
    err = expect_error(ws, lambda: ws.import_ndjson(path, run="r"), path, 52, field)
    assert needle in err.message


def test_bad_text_span(ws: es.Workspace, rows: dict[str, int], tmp_path: Path) -> None:
    span = {"dataRow": {"globalKey": "doc1"}, "name": "PER"}
    path = write_ndjson(
        tmp_path / "span.ndjson",
        [
            {**span, "location": {"start": 10, "end": 12}},
            {**span, "location": {"start": 5, "end": 4}},
        ],
    )
    expect_error(ws, lambda: ws.import_ndjson(path), path, 2, "location")
    past = write_ndjson(tmp_path / "past.ndjson", [{**span, "location": {"start": 20, "end": 23}}])
    err = expect_error(ws, lambda: ws.import_ndjson(past), past, 1, "location")
    assert "past the end" in err.message


def test_nan_and_out_of_range_confidence(
    ws: es.Workspace, rows: dict[str, int], tmp_path: Path
) -> None:
    ws.import_ndjson(write_ndjson(tmp_path / "gt.ndjson", [GOOD]))
    lines = [json.dumps({**GOOD, "uuid": f"p{i}", "confidence": 0.5}) for i in range(3)]
    nan = tmp_path / "nan.ndjson"
    nan.write_text("\n".join([*lines, json.dumps({**GOOD, "confidence": float("nan")})]) + "\n")
    assert "NaN" in nan.read_text()  # what Python's json writes
    err = expect_error(ws, lambda: ws.import_ndjson(nan, run="r1"), nan, 4, "confidence")
    assert "finite" in err.message
    high = write_ndjson(
        tmp_path / "high.ndjson", [*map(json.loads, lines), "", {**GOOD, "confidence": 1.5}]
    )
    err = expect_error(ws, lambda: ws.import_ndjson(high, run="r1"), high, 5, "confidence")
    assert "[0, 1]" in err.message


def test_unknown_row_unknown_class_duplicate_uuid(
    ws: es.Workspace, rows: dict[str, int], tmp_path: Path
) -> None:
    ws.import_ndjson(write_ndjson(tmp_path / "gt.ndjson", [GOOD]))
    other = {**GOOD, "uuid": "o"}
    path = write_ndjson(
        tmp_path / "row.ndjson", [other, {**GOOD, "dataRow": {"globalKey": "zz.png"}}]
    )
    err = expect_error(ws, lambda: ws.import_ndjson(path), path, 2, "dataRow")
    assert "'zz.png'" in err.message
    path = write_ndjson(
        tmp_path / "rid.ndjson", [other, {**GOOD, "uuid": "r", "dataRow": {"id": 999}}]
    )
    err = expect_error(ws, lambda: ws.import_ndjson(path), path, 2, "dataRow")
    assert "999" in err.message

    path = write_ndjson(
        tmp_path / "cls.ndjson", [other, "", {**GOOD, "uuid": "t", "name": "truck"}]
    )
    err = expect_error(ws, lambda: ws.import_ndjson(path, run="r1"), path, 3, "class")
    assert "'truck'" in err.message

    path = write_ndjson(
        tmp_path / "dup.ndjson", [{**GOOD, "uuid": "d"}, other, {**GOOD, "uuid": "d"}]
    )
    err = expect_error(ws, lambda: ws.import_ndjson(path, run="r1"), path, 1, "uuid")
    assert "line 3" in err.message
    path = write_ndjson(tmp_path / "again.ndjson", [other, GOOD])  # "g" is stored already
    err = expect_error(ws, lambda: ws.import_ndjson(path), path, 2, "uuid")
    assert "already stored" in err.message


def test_missing_file(ws: es.Workspace, tmp_path: Path) -> None:
    with pytest.raises(es.InvalidInputError, match="file not found"):
        ws.import_ndjson(tmp_path / "nope.ndjson")
    empty = tmp_path / "empty.ndjson"
    empty.write_text("\n\n")
    assert ws.import_ndjson(empty).labels == 0
