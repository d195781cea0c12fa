"""The projector's color codes (errorscope.core.pointcodes, Workspace.row_point_codes and
``GET /api/runs/{run}/points?classes=true``) on the real voc100 run, checked against an
independent computation from each row's labels, predictions and per-object results
(``Workspace`` row details, a different store path than the row index)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

import errorscope as es
from errorscope.core.pointcodes import NO_CLASS, RESULTS
from errorscope.errors import InvalidQueryError
from errorscope.sdk.rows import row_detail
from errorscope.server import create_app
from errorscope.server.points import codes_bytes
from tests.conftest import load_voc100
from tests.test_server import Client

pytestmark = pytest.mark.shared_data

PERSON = {"type": "class", "side": "label", "class_name": "person"}


def _dominant(counts: Counter[Any]) -> str | None:
    """The key with the largest count (a tuple compares in order), ties to the first name."""
    if not counts:
        return None
    return min(counts, key=lambda name: (tuple(-c for c in counts[name]), name))


def _expected(detail: dict[str, Any]) -> tuple[str | None, str | None, str]:
    """gt class, predicted class and result of one row, from its detail."""
    gt: Counter[Any] = Counter()
    for a in detail["labels"]:
        gt[a["class_name"]] += 1
    gt_counts = Counter({k: (v,) for k, v in gt.items()})
    kept: Counter[str] = Counter()
    every: Counter[str] = Counter()
    for p in detail["predictions"]:
        status = (p.get("evaluation") or {}).get("status")
        every[p["class_name"]] += 1
        kept[p["class_name"]] += status != "ignored"
    pred_counts = Counter({k: (kept[k], every[k]) for k in every})
    statuses = Counter(
        (side, (a.get("evaluation") or {}).get("status"))
        for side, items in (("label", detail["labels"]), ("prediction", detail["predictions"]))
        for a in items
    )
    fp, fn = statuses["prediction", "FP"] > 0, statuses["label", "FN"] > 0
    tp = statuses["label", "TP"] > 0
    result = "FP+FN" if fp and fn else "FP" if fp else "FN" if fn else "TP" if tp else "none"
    return _dominant(gt_counts), _dominant(pred_counts), result


@pytest.fixture(scope="module")
def voc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("codes") / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        ws.evaluate("det")
        ids = [r.id for r in ws.query("det", limit=10_000).rows]
        expected = {i: _expected(row_detail(ws, i, run="det")) for i in ids}
        codes = ws.row_point_codes("det", np.asarray(ids[::-1]))
        with pytest.raises(InvalidQueryError) as bad:
            ws.row_point_codes("det", [ids[0], 10**9])
    return {"path": path, "ids": ids, "expected": expected, "codes": codes, "bad": str(bad.value)}


@pytest.fixture(scope="module")
def client(voc: dict[str, Any]) -> Iterator[Client]:
    c = Client(create_app(voc["path"]))
    yield c
    c.close()


def _names(classes: list[str], codes: np.ndarray) -> list[str | None]:
    return [None if c == NO_CLASS else classes[c] for c in codes.tolist()]


def test_sdk_codes_equal_the_row_details(voc: dict[str, Any]) -> None:
    codes = voc["codes"]
    ids = voc["ids"][::-1]  # asked in descending order: answered in that order
    classes = list(codes.classes)
    assert classes == sorted(classes)
    assert codes.gt.dtype == np.int16
    assert codes.result.dtype == np.uint8
    got = list(
        zip(
            _names(classes, codes.gt),
            _names(classes, codes.pred),
            [RESULTS[r] for r in codes.result.tolist()],
            strict=True,
        )
    )
    assert got == [voc["expected"][i] for i in ids]
    # the real data has every kind: rows without labels or predictions, mixed results
    gts = Counter(g for g, _, _ in got)
    assert len(gts) > 10
    assert gts["person"] > 10
    assert {r for _, _, r in got} >= {"TP", "FP", "FN", "FP+FN"}
    assert None in {p for _, p, _ in got}


def test_unknown_ids_are_named(voc: dict[str, Any]) -> None:
    assert "1000000000" in voc["bad"]
    assert "'det'" in voc["bad"]


def _decode(r: Any) -> dict[str, Any]:
    n = int(r.headers["x-points"])
    body = r.content
    return {
        "ids": np.frombuffer(body, "<i8", n, 0).tolist(),
        "xs": np.frombuffer(body, "<f4", n, 8 * n),
        "gt": np.frombuffer(body, "<i2", n, 16 * n),
        "pred": np.frombuffer(body, "<i2", n, 18 * n),
        "result": np.frombuffer(body, "u1", n, 20 * n),
        "classes": json.loads(body[21 * n :]),
        "head": body[: 16 * n],
    }


def test_points_with_classes_carry_the_codes(client: Client, voc: dict[str, Any]) -> None:
    params = {"x": "iou", "y": "mean_confidence", "filter": json.dumps(PERSON)}
    plain = client.get("/api/runs/det/points", params=params)
    r = client.get("/api/runs/det/points", params={**params, "classes": "true"})
    assert r.status_code == 200, r.text
    got = _decode(r)
    # the first part is the plain answer, byte for byte (old clients read only that)
    assert got["head"] == plain.content
    assert 0 < len(got["ids"]) < len(voc["ids"])
    for i, g, p, res in zip(got["ids"], got["gt"], got["pred"], got["result"], strict=True):
        want = voc["expected"][i]
        names = got["classes"]
        assert (names[g] if g >= 0 else None, names[p] if p >= 0 else None) == want[:2]
        assert RESULTS[res] == want[2]
        assert want[0] is not None  # every row of the filter has a label
    # without a filter: every row of the run
    r = client.get("/api/runs/det/points", params={"classes": "true"})
    assert _decode(r)["ids"] == sorted(voc["ids"])


def test_codes_bytes_layout(voc: dict[str, Any]) -> None:
    codes = voc["codes"]
    body = codes_bytes(codes)
    n = len(codes.gt)
    assert len(body) == 5 * n + len(json.dumps(list(codes.classes)).replace(" ", ""))
    assert np.array_equal(np.frombuffer(body, "<i2", n, 0), codes.gt)
