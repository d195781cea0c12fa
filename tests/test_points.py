"""GET /api/runs/{run}/points and Workspace.row_metric_columns on the real voc100 run:
the values are those the query engine sorts by, the filter is respected, bad metrics and
filters are 400s of the standard error shape."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import errorscope as es
from errorscope.errors import InvalidQueryError
from errorscope.server import create_app
from tests.conftest import load_voc100
from tests.test_server import Client, assert_error

pytestmark = pytest.mark.shared_data

PERSON = {"type": "class", "side": "label", "class_name": "person"}


@pytest.fixture(scope="module")
def voc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("points") / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        ws.evaluate("det")
        sorted_by: dict[str, dict[int, float | None]] = {}
        for metric in ("iou", "mean_confidence", "fp"):
            page = ws.query("det", sort=f"{metric}:asc", limit=10_000)
            sorted_by[metric] = {r.id: r.sort_value for r in page.rows}
        person = [r.id for r in ws.query("det", PERSON, limit=10_000).rows]
        columns = ws.row_metric_columns("det", ["iou", "fp"], PERSON)
        with pytest.raises(InvalidQueryError) as bad:
            ws.row_metric_columns("det", ["iou", "bogus"])
    return {
        "path": path,
        "sorted_by": sorted_by,
        "person": person,
        "columns": columns,
        "bad_metric": str(bad.value),
    }


@pytest.fixture(scope="module")
def client(voc: dict[str, Any]) -> Iterator[Client]:
    c = Client(create_app(voc["path"]))
    yield c
    c.close()


def _decode(body: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    assert len(body) % 16 == 0
    n = len(body) // 16
    ids = np.frombuffer(body, "<i8", n, 0)
    xs = np.frombuffer(body, "<f4", n, 8 * n)
    ys = np.frombuffer(body, "<f4", n, 12 * n)
    return ids, xs, ys


def _same(got: float, want: float | None) -> bool:
    if want is None:
        return math.isnan(got)
    return math.isclose(got, want, rel_tol=1e-6, abs_tol=1e-6)


def test_points_are_the_query_engines_values(client: Client, voc: dict[str, Any]) -> None:
    r = client.get("/api/runs/det/points", params={"x": "iou", "y": "mean_confidence"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    ids, xs, ys = _decode(r.content)
    assert int(r.headers["x-points"]) == len(ids)
    iou, conf = voc["sorted_by"]["iou"], voc["sorted_by"]["mean_confidence"]
    assert sorted(iou) == ids.tolist()  # every row of the run, ascending ids
    for i in range(len(ids)):
        assert _same(float(xs[i]), iou[int(ids[i])]), int(ids[i])
        assert _same(float(ys[i]), conf[int(ids[i])]), int(ids[i])
    assert not np.isnan(xs).all()


def test_filter_is_respected(client: Client, voc: dict[str, Any]) -> None:
    params = {"x": "fp", "y": "iou", "filter": json.dumps(PERSON)}
    ids, xs, ys = _decode(client.get("/api/runs/det/points", params=params).content)
    assert ids.tolist() == sorted(voc["person"])
    assert 0 < len(ids) < len(voc["sorted_by"]["iou"])
    fp, iou = voc["sorted_by"]["fp"], voc["sorted_by"]["iou"]
    assert all(_same(float(x), fp[int(i)]) for i, x in zip(ids, xs, strict=True))
    assert all(_same(float(y), iou[int(i)]) for i, y in zip(ids, ys, strict=True))
    # the SDK's columns are the same rows and values, in float64
    sdk_ids, (sdk_iou, sdk_fp) = voc["columns"]
    assert sdk_ids.tolist() == ids.tolist()
    assert np.allclose(sdk_fp, xs, equal_nan=True)
    assert np.allclose(sdk_iou, ys, equal_nan=True)


@pytest.mark.parametrize(
    "params",
    [
        {"x": "nope"},
        {"y": "accuracy"},
        {"filter": "{not json"},
        {"filter": json.dumps({"type": "metric", "name": "nope"})},
    ],
)
def test_bad_metrics_and_filters_are_400(client: Client, params: dict[str, str]) -> None:
    message = assert_error(client.get("/api/runs/det/points", params=params), 400)
    assert message


def test_unknown_run_is_404(client: Client) -> None:
    assert_error(client.get("/api/runs/nope/points"), 404)


def test_sdk_names_the_unknown_metric(voc: dict[str, Any]) -> None:
    assert "'bogus'" in voc["bad_metric"]
    assert "mean_confidence" in voc["bad_metric"]  # and lists the metrics there are
