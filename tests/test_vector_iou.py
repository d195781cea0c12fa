"""IoU of points and polylines buffered as Labelbox does (core/iou.py), and their use in
Labelbox-style matching (core/matching.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import errorscope as es
from errorscope.core.iou import disc_iou, vector_iou, vector_iou_pairs, vector_segments
from errorscope.core.matching import Objects, match, vector_geometries

R = 70.0


def _numeric_disc_iou(d: float, r: float, n: int = 4000) -> float:
    """IoU of two discs by midpoint integration over the column x (chord lengths), written
    independently of the lens formula."""
    xs = np.linspace(-r, d + r, n + 1)
    mid = (xs[:-1] + xs[1:]) / 2
    dx = xs[1] - xs[0]

    def half(x: np.ndarray, c: float) -> np.ndarray:
        return np.sqrt(np.clip(r * r - (x - c) ** 2, 0.0, None))

    ha, hb = half(mid, 0.0), half(mid, d)
    inter = float((2 * np.minimum(ha, hb)).sum() * dx)
    union = float((2 * np.maximum(ha, hb)).sum() * dx)
    return inter / union


@pytest.mark.parametrize("d", [0.0, 1.0, 17.5, 70.0, 100.0, 139.0, 140.0, 500.0])
def test_disc_formula_equals_numeric_integration(d: float) -> None:
    exact = float(disc_iou([[3.0, 4.0]], [[3.0 + d, 4.0]], R)[0, 0])
    assert exact == pytest.approx(_numeric_disc_iou(d, R), abs=1e-5)
    if d >= 2 * R:
        assert exact == 0.0


def test_disc_iou_basics() -> None:
    pts = np.array([[0.0, 0.0], [10.0, 5.0], [300.0, 300.0]])
    m = disc_iou(pts, pts, R)
    assert np.allclose(np.diag(m), 1.0)
    assert np.allclose(m, m.T)
    assert m[0, 2] == 0.0
    with pytest.raises(ValueError, match="positive"):
        disc_iou(pts, pts, 0.0)


@pytest.mark.parametrize("d", [0.0, 5.0, 20.0, 60.0, 110.0, 135.0])
def test_raster_on_points_agrees_with_the_closed_form(d: float) -> None:
    """A point given as a tiny segment goes through the raster path."""
    exact = float(disc_iou([[0.0, 0.0]], [[d, 0.0]], R)[0, 0])
    tiny = vector_segments([[0.0, 0.0, 1e-6, 0.0]], "polyline")
    other = vector_segments([[d, 0.0, d, 1e-6]], "polyline")
    assert float(vector_iou([tiny], [other])[0, 0]) == pytest.approx(exact, abs=0.01)
    fine = float(vector_iou([tiny], [other], cells_per_radius=32)[0, 0])
    assert fine == pytest.approx(exact, abs=0.003)
    # two single points use the formula itself
    p, q = vector_segments([[0.0, 0.0]], "point"), vector_segments([[d, 0.0]], "point")
    assert float(vector_iou([p], [q])[0, 0]) == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize("shift", [0.0, 15.0, 80.0, 200.0, 260.0])
def test_shifted_segments_agree_with_the_stadium_formula(shift: float) -> None:
    """A segment of length L buffered by r is a stadium of area 2rL + pi r^2; shifted along
    itself by s <= L, the intersection is the stadium of length L - s."""
    length = 200.0
    a = vector_segments([[0.0, 0.0, length, 0.0]], "polyline")
    b = vector_segments([[shift, 0.0, shift + length, 0.0]], "polyline")
    stadium = lambda n: 2 * R * n + math.pi * R * R  # noqa: E731
    if shift <= length:
        inter = stadium(length - shift)
    else:  # two discs of the end points overlap
        d = shift - length
        inter = _lens(d)
    want = inter / (2 * stadium(length) - inter)
    assert float(vector_iou([a], [b])[0, 0]) == pytest.approx(want, abs=0.002)
    # the same line in two segments is the same geometry
    split = vector_segments([[shift, 0.0, shift + 50.0, 0.0, shift + length, 0.0]], "polyline")
    assert float(vector_iou([a], [split])[0, 0]) == pytest.approx(want, abs=0.002)


def _lens(d: float) -> float:
    d = min(d, 2 * R)
    return 2 * R * R * math.acos(d / (2 * R)) - d / 2 * math.sqrt(4 * R * R - d * d)


coords = st.floats(-500, 500, allow_nan=False)
geometry = st.one_of(
    st.tuples(coords, coords).map(lambda p: vector_segments([list(p)], "point")),
    st.lists(coords, min_size=4, max_size=10)
    .filter(lambda c: len(c) % 2 == 0)
    .map(lambda c: vector_segments([c], "polyline")),
)


@settings(max_examples=60, deadline=None)
@given(geometry, geometry)
def test_vector_iou_is_symmetric_in_unit_range_and_one_on_itself(
    a: np.ndarray, b: np.ndarray
) -> None:
    m = vector_iou([a, b], [a, b])
    assert np.all((m >= 0) & (m <= 1))
    assert m[0, 1] == m[1, 0]
    assert m[0, 0] == 1.0
    assert m[1, 1] == 1.0


def test_far_apart_and_empty_geometries() -> None:
    a = vector_segments([[0.0, 0.0, 100.0, 0.0]], "polyline")
    far = vector_segments([[0.0, 141.0, 100.0, 141.0]], "polyline")  # > 2r apart
    empty = vector_segments([], "polyline")
    assert vector_iou([a], [far, empty]).tolist() == [[0.0, 0.0]]
    assert vector_iou_pairs([a, far], [0], [1], buffer=80.0)[0] > 0  # 2 * 80 > 141
    with pytest.raises(ValueError, match="positive"):
        vector_iou([a], [a], buffer=-1.0)


def test_points_in_labelbox_matching() -> None:
    """Matching compares points by their buffered IoU, not their (empty) boxes: a point
    within d of its ground truth matches iff the lens IoU exceeds the threshold."""
    gt_xy = np.array([[100.0, 100.0], [400.0, 100.0], [700.0, 100.0], [100.0, 400.0]])
    dt_xy = gt_xy + np.array([[10.0, 0.0], [40.0, 0.0], [90.0, 0.0], [0.0, 5.0]])
    cls = np.array([0, 0, 0, 1])

    def objects(xy: np.ndarray, score: np.ndarray | None) -> Objects:
        return Objects(
            row=np.zeros(len(xy), np.int64),
            cls=cls,
            boxes=np.concatenate([xy, xy], axis=1),
            score=score,
            vectors=vector_geometries(["point"] * len(xy), [[list(p)] for p in xy]),
        )

    m = match(objects(gt_xy, None), objects(dt_xy, np.ones(4)), iou_threshold=0.5)
    ious = np.diag(disc_iou(gt_xy, dt_xy, R))
    want = np.where(ious > 0.5, "TP", "FN")
    assert m.gt_status.tolist() == want.tolist()
    assert np.allclose(m.gt_iou[ious > 0.5], ious[ious > 0.5])
    # a smaller buffer makes the same offsets relatively larger
    small = match(objects(gt_xy, None), objects(dt_xy, np.ones(4)), iou_threshold=0.5, buffer=10.0)
    want_small = np.where(np.diag(disc_iou(gt_xy, dt_xy, 10.0)) > 0.5, "TP", "FN")
    assert small.gt_status.tolist() == want_small.tolist()
    assert (small.gt_status == "TP").sum() < (m.gt_status == "TP").sum()


def test_polylines_and_boxes_in_one_matching() -> None:
    """A polyline is compared with polylines only; boxes keep the box IoU."""
    line = [[0.0, 0.0, 200.0, 0.0]]
    near = [[0.0, 10.0, 200.0, 10.0]]
    kinds = ["polyline", "bbox"]
    gt = Objects(
        row=np.zeros(2, np.int64),
        cls=np.array([0, 1]),
        boxes=np.array([[0.0, 0.0, 200.0, 0.0], [10.0, 10.0, 50.0, 50.0]]),
        vectors=vector_geometries(kinds, [line, None]),
    )
    dt = Objects(
        row=np.zeros(2, np.int64),
        cls=np.array([0, 1]),
        boxes=np.array([[0.0, 10.0, 200.0, 10.0], [12.0, 10.0, 52.0, 50.0]]),
        score=np.ones(2),
        vectors=vector_geometries(kinds, [near, None]),
    )
    m = match(gt, dt, iou_threshold=0.5)
    assert m.gt_status.tolist() == ["TP", "TP"]
    want_line = float(
        vector_iou([vector_segments(line, "polyline")], [vector_segments(near, "polyline")])[0, 0]
    )
    assert m.gt_iou[0] == pytest.approx(want_line)
    assert m.gt_iou[1] == pytest.approx(38 * 40 / (2 * 1600 - 38 * 40))
    # without vectors the polyline's flat box has no area: no match
    plain = match(Objects(gt.row, gt.cls, gt.boxes), Objects(dt.row, dt.cls, dt.boxes, dt.score))
    assert plain.gt_status.tolist() == ["FN", "TP"]


# -- end to end: Workspace.evaluate on points and polylines imported from NDJSON ------------
def test_evaluate_points_and_polylines_through_a_workspace(ws: Any, tmp_path: Path) -> None:
    def write(name: str, records: list[dict[str, Any]]) -> Path:
        path = tmp_path / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records))
        return path

    ws.import_data_rows(
        write(
            "rows.ndjson",
            [{"row_data": "https://example.invalid/a.png", "global_key": "a.png",
              "width": 1000, "height": 1000}],
        )
    )  # fmt: skip
    row = {"globalKey": "a.png"}
    gt_pts = [(100.0, 100.0), (400.0, 100.0), (700.0, 100.0)]
    dt_pts = [(110.0, 100.0), (430.0, 100.0), (790.0, 100.0)]
    gt_line = [(0.0, 500.0), (300.0, 500.0), (300.0, 800.0)]
    dt_line = [(0.0, 520.0), (310.0, 520.0), (310.0, 800.0)]

    def xy(p: tuple[float, float]) -> dict[str, float]:
        return {"x": p[0], "y": p[1]}

    labels = [
        {"uuid": f"g{i}", "dataRow": row, "name": "eye", "point": xy(p)}
        for i, p in enumerate(gt_pts)
    ]
    labels.append({"uuid": "gl", "dataRow": row, "name": "lane", "line": [xy(p) for p in gt_line]})
    preds = [
        {"uuid": f"d{i}", "dataRow": row, "name": "eye", "point": xy(p), "confidence": 0.9}
        for i, p in enumerate(dt_pts)
    ]
    preds.append({"uuid": "dl", "dataRow": row, "name": "lane", "confidence": 0.9,
                  "line": [xy(p) for p in dt_line]})  # fmt: skip
    ws.import_ndjson(write("gt.ndjson", labels))
    ws.import_ndjson(write("dt.ndjson", preds), run="vec")

    summary = ws.evaluate("vec", mode="labelbox")
    assert summary["params"]["point_buffer"] == 70.0
    ious = np.diag(disc_iou(gt_pts, dt_pts, R))
    assert summary["per_class"]["eye"]["tp"] == int((ious > 0.5).sum()) == 2
    assert summary["per_class"]["eye"]["fn"] == 1
    line_iou = float(
        vector_iou(
            [vector_segments([[c for p in gt_line for c in p]], "polyline")],
            [vector_segments([[c for p in dt_line for c in p]], "polyline")],
        )[0, 0]
    )
    assert line_iou > 0.5
    assert summary["per_class"]["lane"]["tp"] == 1
    objects = ws.evaluation_results("vec", "objects").to_pylist()
    matched = sorted(o["iou"] for o in objects if o["source"] == "label" and o["iou"] is not None)
    assert matched == pytest.approx(sorted([*ious[ious > 0.5], line_iou]))
    # a 20 px buffer: only the nearest point is still a match
    small = ws.evaluate("vec", mode="labelbox", point_buffer=20.0)
    assert small["params"]["point_buffer"] == 20.0
    assert (
        small["per_class"]["eye"]["tp"]
        == int((np.diag(disc_iou(gt_pts, dt_pts, 20.0)) > 0.5).sum())
        == 1
    )
    with pytest.raises(es.ErrorscopeError, match="point_buffer"):
        ws.evaluate("vec", mode="labelbox", point_buffer=0.0)
