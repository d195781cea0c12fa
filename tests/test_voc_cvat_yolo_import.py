"""VOC, CVAT and YOLO importers on voc100, the same ground truth in four formats."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import errorscope as es
from errorscope.sdk.report import ImportReport
from tests.conftest import shared_path, snapshot

pytestmark = pytest.mark.shared_data

Key = tuple[str, str]


def voc100(*parts: str) -> Path:
    return shared_path("voc100", *parts)


def import_voc(ws: es.Workspace) -> ImportReport:
    return ws.import_voc(voc100("gts", "pascalvoc_format"), images_dir=voc100("images"))


def import_coco(ws: es.Workspace) -> ImportReport:
    return ws.import_coco(voc100("gts", "coco_format_v1", "instances_default.json"))


def import_yolo(ws: es.Workspace) -> ImportReport:
    return ws.import_yolo(
        voc100("gts", "yolo_format", "obj_train_data"),
        names=voc100("gts", "yolo_format", "obj.names"),
        images_dir=voc100("images"),
    )


def import_cvat(ws: es.Workspace) -> ImportReport:
    return ws.import_cvat(voc100("gts", "cvat_format", "annotations.xml"))


FORMATS: dict[str, Callable[[es.Workspace], ImportReport]] = {
    "voc": import_voc,
    "coco": import_coco,
    "yolo": import_yolo,
    "cvat": import_cvat,
}


def boxes(table: object) -> tuple[list[Key], np.ndarray]:
    """(row key, class) per annotation and its xyxy box, sorted by key, class, box."""
    import pyarrow as pa

    assert isinstance(table, pa.Table)
    cols = table.to_pydict()
    recs = sorted(
        zip(
            cols["row_key"],
            cols["class_name"],
            *(np.round(np.asarray(cols[c], dtype=float), 1) for c in ("x1", "y1", "x2", "y2")),
            *(cols[c] for c in ("x1", "y1", "x2", "y2")),
            strict=True,
        )
    )
    return [r[:2] for r in recs], np.array([r[6:] for r in recs], dtype=float)


def sizes(ws: es.Workspace) -> dict[str, tuple[int, int]]:
    rows = ws.data_rows().to_pydict()
    return {
        k: (w, h) for k, w, h in zip(rows["global_key"], rows["width"], rows["height"], strict=True)
    }


def test_four_formats_give_the_same_ground_truth(tmp_path: Path) -> None:
    found: dict[str, tuple[list[Key], np.ndarray]] = {}
    rows: dict[str, dict[str, tuple[int, int]]] = {}
    classes: dict[str, set[str]] = {}
    for name, importer in FORMATS.items():
        with es.open_workspace(tmp_path / name) as ws:
            report = importer(ws)
            assert (report.data_rows_created, report.labels) == (100, 273), name
            assert report.classes_created == 20, name
            found[name] = boxes(ws.labels())
            rows[name] = sizes(ws)
            classes[name] = {c.name for c in ws.classes()}
            if name == "voc":
                assert sum(ws.labels().column("difficult").to_pylist()) == 38
                uris = ws.data_rows().column("uri").to_pylist()
                assert all(Path(u).is_file() for u in uris)
    ref_keys, ref_boxes = found["voc"]
    assert len({k for k, _ in ref_keys}) == 100
    for name in ("coco", "cvat"):
        keys, xyxy = found[name]
        assert keys == ref_keys, name
        np.testing.assert_array_equal(xyxy, ref_boxes, err_msg=name)
    keys, xyxy = found["yolo"]
    assert keys == ref_keys
    np.testing.assert_allclose(xyxy, ref_boxes, atol=0.5)
    # image sizes: VOC <size>, COCO/CVAT attributes and YOLO's Pillow header reads agree
    assert rows["voc"] == rows["coco"] == rows["cvat"] == rows["yolo"]
    assert all(w > 0 and h > 0 for w, h in rows["voc"].values())
    assert classes["voc"] == classes["coco"] == classes["cvat"] == classes["yolo"]


@pytest.mark.parametrize("name", ["voc", "yolo", "cvat"])
def test_importing_twice_gives_identical_workspaces(tmp_path: Path, name: str) -> None:
    snaps = []
    for attempt in ("a", "b"):
        with es.open_workspace(tmp_path / attempt) as ws:
            FORMATS[name](ws)
            snap = snapshot(ws)
            # datasets carry their creation time; everything else must be equal
            snap["datasets"] = [row[:2] for row in ws.db.rows("SELECT * FROM datasets")]
            snaps.append(snap)
    assert snaps[0] == snaps[1]
    assert len(snaps[0]["labels"]) == 273  # type: ignore[arg-type]


def test_reimporting_into_the_same_workspace_reuses_rows(ws: es.Workspace) -> None:
    import_voc(ws)
    report = import_yolo(ws)
    assert (report.data_rows_created, report.data_rows_reused, report.classes_created) == (
        0,
        100,
        0,
    )
    assert report.labels == 273
    assert ws.info()["labels"] == 546


def parse_det_line(line: str) -> tuple[int, float, float, float, float, float]:
    idx, score, left, top, w, h = line.split()
    return int(idx), float(score), float(left), float(top), float(w), float(h)


def test_detections_in_ltwh_layout(ws: es.Workspace) -> None:
    import_voc(ws)
    before = snapshot(ws)
    report = ws.import_yolo(
        voc100("dets", "abs_xywh"), names=voc100("voc.names"), layout="ltwh", run="voc-dets"
    )
    assert report.predictions == 452
    assert (report.data_rows_created, report.classes_created, report.labels) == (0, 0, 0)
    after = snapshot(ws)
    for table in ("data_rows", "classes", "labels"):
        assert after[table] == before[table]
    preds = ws.predictions("voc-dets")
    scores = np.asarray(preds.column("confidence").to_pylist())
    assert 0.40 <= scores.min() < 0.41  # README: scores run from 0.40 to 0.99995
    assert round(float(scores.max()), 5) == 0.99995
    assert len(set(preds.column("row_key").to_pylist())) == 98
    assert sum(ws.splits("voc-dets").values()) == 98

    # one specific line round-trips: the last line of the file with the most detections
    files = sorted(voc100("dets", "abs_xywh").glob("*.txt"))
    longest = max(files, key=lambda p: len(p.read_text().splitlines()))
    lines = longest.read_text().splitlines()
    idx, score, left, top, w, h = parse_det_line(lines[-1])
    names = voc100("voc.names").read_text().split()
    key = longest.stem + ".jpg"
    got = [
        r
        for r in preds.to_pylist()
        if r["row_key"] == key and r["confidence"] == pytest.approx(score, abs=1e-12)
    ]
    assert len(got) == 1
    rec = got[0]
    assert rec["class_name"] == names[idx]
    assert (rec["x1"], rec["y1"], rec["x2"], rec["y2"]) == (left, top, left + w, top + h)
    assert sum(1 for r in preds.to_pylist() if r["row_key"] == key) == len(lines)


def test_ltwh_detections_match_their_coco_form(tmp_path: Path) -> None:
    """The txt detections equal the COCO-form copy of them (scores there at full precision)."""
    coco = json.loads(voc100("dets", "coco_format", "coco_dets.json").read_text())
    files = {im["id"]: im["file_name"] for im in coco["images"]}
    cats = {c["id"]: c["name"] for c in coco["categories"]}
    expected = sorted(
        (files[a["image_id"]], cats[a["category_id"]], *a["bbox"], a["score"])
        for a in coco["annotations"]
    )
    with es.open_workspace(tmp_path / "ws") as ws:
        import_voc(ws)
        # with images_dir the row key is the image file actually found there
        ws.import_yolo(
            voc100("dets", "abs_xywh"),
            names=voc100("voc.names"),
            layout="ltwh",
            images_dir=voc100("images"),
            run="dets",
        )
        preds = ws.predictions("dets").to_pylist()
    got = sorted(
        (
            p["row_key"],
            p["class_name"],
            p["x1"],
            p["y1"],
            p["x2"] - p["x1"],
            p["y2"] - p["y1"],
            p["confidence"],
        )
        for p in preds
    )
    assert len(got) == len(expected) == 452
    assert [g[:2] for g in got] == [e[:2] for e in expected]
    np.testing.assert_allclose(
        np.array([g[2:] for g in got]), np.array([e[2:] for e in expected]), atol=1e-6
    )


def test_ltwh_detections_before_their_ground_truth_fail_cleanly(ws: es.Workspace) -> None:
    before = snapshot(ws)
    with pytest.raises(es.InvalidInputError) as info:
        ws.import_yolo(
            voc100("dets", "abs_xywh"), names=voc100("voc.names"), layout="ltwh", run="dets"
        )
    assert "unknown data row" in str(info.value) or "unknown class" in str(info.value)
    assert snapshot(ws) == before
