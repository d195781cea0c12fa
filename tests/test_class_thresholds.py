"""Per-class IoU and confidence thresholds of ``Workspace.evaluate`` / ``errorscope evaluate``
on voc100: an override changes exactly its class's results, and those equal an independent
computation at the overriding threshold; evaluation reports its progress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import errorscope as es
from errorscope.cli import cli
from errorscope.core.progress import progress_to
from tests.test_evaluate import _iou, _read_voc_dets, _read_voc_truth, load_voc100

pytestmark = pytest.mark.shared_data

COUNTS = ("tp", "fp", "fn")


def _counts(summary: dict[str, Any], name: str) -> tuple[int, ...]:
    entry = summary["per_class"].get(name, {"tp": 0, "fp": 0, "fn": 0})
    return tuple(int(entry[k]) for k in COUNTS)


def _greedy(cls: str, iou: float, confidence: float) -> tuple[int, int, int]:
    """TP, FP, FN of one class, straight from the VOC XML and the detection files."""
    truth = [g for g in _read_voc_truth() if g[1] == cls]
    dets = [d for d in _read_voc_dets() if d[1] == cls and d[3] >= confidence]
    pairs = [
        (_iou(g[2], d[2]), gi, di)
        for gi, g in enumerate(truth)
        for di, d in enumerate(dets)
        if g[0] == d[0]
    ]
    g_done: set[int] = set()
    d_done: set[int] = set()
    for v, gi, di in sorted(pairs, key=lambda p: -p[0]):
        if v > iou and gi not in g_done and di not in d_done:
            g_done.add(gi)
            d_done.add(di)
    return len(g_done), len(dets) - len(d_done), len(truth) - len(g_done)


def test_labelbox_class_overrides_change_only_their_class(ws: es.Workspace) -> None:
    load_voc100(ws)
    base = ws.evaluate("det", mode="labelbox")
    names = set(base["per_class"])
    assert {"person", "dog"} <= names
    over = ws.evaluate(
        "det", mode="labelbox", class_iou={"person": 0.7}, class_confidence={"dog": 0.2}
    )
    assert over["params"]["class_iou"] == {"person": 0.7}
    assert over["params"]["class_confidence"] == {"dog": 0.2}
    assert ws.evaluation("det")["params"]["class_iou"] == {"person": 0.7}
    for name in names - {"person", "dog"}:
        assert _counts(over, name) == _counts(base, name), name
    assert _counts(over, "person") == _greedy("person", 0.7, 0.5)
    assert _counts(over, "dog") == _greedy("dog", 0.5, 0.2)
    assert _counts(base, "person") == _greedy("person", 0.5, 0.5)
    assert _counts(over, "person") != _counts(base, "person")  # the override matters
    assert _counts(over, "dog") != _counts(base, "dog")
    assert over["coco"] == base["coco"]  # AP/AR keep COCO's definition
    # the stored per-object statuses add up to the per-class counts
    objects = ws.evaluation_results("det", "objects").to_pylist()
    person = next(c.id for c in ws.classes() if c.name == "person")
    statuses = [o["status"] for o in objects if o["class_id"] == person]
    tp, fp, fn = _counts(over, "person")
    assert statuses.count("FN") == fn
    assert statuses.count("FP") == fp
    assert statuses.count("TP") == 2 * tp
    # the run's totals and the per-row table follow the overrides too
    assert over["counts"]["tp"] == sum(v["tp"] for v in over["per_class"].values())
    rows = ws.evaluation_results("det", "rows")
    assert sum(rows.column("fn").to_pylist()) == over["counts"]["fn"]


def test_coco_class_overrides_equal_a_run_level_evaluation(ws: es.Workspace) -> None:
    """COCO matching is per class, so a class at its own threshold must equal a whole run
    evaluated at that threshold."""
    load_voc100(ws)
    base = ws.evaluate("det")
    at_75 = ws.evaluate("det", iou=0.75)
    at_02 = ws.evaluate("det", confidence=0.2)
    over = ws.evaluate("det", class_iou={"person": 0.75}, class_confidence={"car": 0.2})
    for name in set(base["per_class"]) - {"person", "car"}:
        assert _counts(over, name) == _counts(base, name), name
    assert _counts(over, "person") == _counts(at_75, "person") != _counts(base, "person")
    assert _counts(over, "car") == _counts(at_02, "car") != _counts(base, "car")
    assert over["coco"] == base["coco"]
    # an override equal to the run-level value changes nothing
    same = ws.evaluate("det", class_iou={"person": 0.5}, class_confidence={"car": 0.5})
    assert same["per_class"] == base["per_class"]
    assert same["confusion_matrix"] == base["confusion_matrix"]


def test_bad_class_overrides(ws: es.Workspace) -> None:
    load_voc100(ws)
    with pytest.raises(es.ErrorscopeError, match=r"class_iou: unknown class 'persn'.*person"):
        ws.evaluate("det", class_iou={"persn": 0.7})
    with pytest.raises(es.ErrorscopeError, match=r"class_confidence: unknown class 'x'"):
        ws.evaluate("det", class_confidence={"x": 0.7})
    with pytest.raises(es.ErrorscopeError, match=r"0\.50, 0\.55"):
        ws.evaluate("det", class_iou={"person": 0.42})  # COCO mode: COCO's thresholds
    with pytest.raises(es.ErrorscopeError, match=r"IoU threshold of 'person'"):
        ws.evaluate("det", mode="labelbox", class_iou={"person": 1.5})
    with pytest.raises(es.ErrorscopeError, match=r"confidence threshold of 'dog'"):
        ws.evaluate("det", class_confidence={"dog": -0.1})


def test_evaluate_reports_progress(ws: es.Workspace) -> None:
    load_voc100(ws)
    seen: list[tuple[str, int, int]] = []
    with progress_to(lambda stage, done, total: seen.append((stage, done, total))):
        ws.evaluate("det")
    stages = [s for s, _, _ in seen]
    assert "evaluating boxes" in stages
    assert stages[-1] == "saving results"
    for stage in set(stages):
        last = [(d, t) for s, d, t in seen if s == stage][-1]
        assert last[0] == last[1], stage  # every stage finishes


def test_cli_class_thresholds(tmp_path: Path) -> None:
    path = tmp_path / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        want = ws.evaluate(
            "det", mode="labelbox", class_iou={"person": 0.7}, class_confidence={"dog": 0.2}
        )
    runner = CliRunner()
    args = ["evaluate", "-w", str(path), "--run", "det", "--mode", "labelbox"]
    result = runner.invoke(
        cli,
        [*args, "--class-iou", "person=0.7", "--class-confidence", "dog=0.2", "--json",
         "--point-buffer", "50"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["params"]["class_iou"] == {"person": 0.7}
    assert data["params"]["point_buffer"] == 50.0
    assert data["per_class"] == want["per_class"]
    result = runner.invoke(cli, [*args, "--class-iou", "person:0.7"])
    assert result.exit_code != 0
    assert "NAME=NUMBER" in result.output
    result = runner.invoke(cli, [*args, "--class-iou", "nobody=0.7"])
    assert result.exit_code != 0
    assert "unknown class 'nobody'" in str(result.exception) + result.output
