"""Failure-pattern discovery on the real voc100 images, ground truth and detector: a planted
confusion on one metadata subgroup is found, described and selectable; random errors give
no significant pattern."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import errorscope as es
from errorscope.core.patterns import Units, Where, find_patterns
from errorscope.core.query import parse_filter
from tests.conftest import shared_path

pytestmark = pytest.mark.shared_data


def _rows(voc: Path, tmp: Path, night: set[str]) -> Path:
    imgs = sorted(p.name for p in (voc / "images").glob("*.jpg"))
    rows = [
        {
            "row_data": str(voc / "images" / k),
            "global_key": k,
            "media_type": "image",
            "metadata_fields": [{"name": "camera", "value": "night" if k in night else "day"}],
        }
        for k in imgs
    ]
    path = tmp / "rows.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _planted(ws: es.Workspace, tmp: Path) -> tuple[set[str], str, str]:
    """voc100 with a 'camera' metadata field (30 random images 'night'); the real
    detector's person boxes on the night images turned into dog boxes."""
    voc = shared_path("voc100")
    names = (voc / "voc.names").read_text().split()
    imgs = sorted(p.name for p in (voc / "images").glob("*.jpg"))
    night = set(np.random.default_rng(0).choice(imgs, 30, replace=False).tolist())
    a, b = names.index("person"), names.index("dog")
    dets = tmp / "dets"
    dets.mkdir()
    for f in sorted((voc / "dets" / "abs_xywh").glob("*.txt")):
        lines = []
        for line in f.read_text().splitlines():
            parts = line.split()
            if parts and int(parts[0]) == a and f"{f.stem}.jpg" in night:
                parts[0] = str(b)
            lines.append(" ".join(parts))
        (dets / f.name).write_text("\n".join(lines) + "\n")
    ws.import_data_rows(_rows(voc, tmp, night))
    ws.import_voc(voc / "gts" / "pascalvoc_format", images_dir=voc / "images")
    ws.import_yolo(
        dets, names=voc / "voc.names", images_dir=voc / "images", layout="ltwh", run="det"
    )
    ws.evaluate("det", mode="labelbox", cross_class=True)
    return night, "person", "dog"


def _ids(ws: es.Workspace, run: str, f: Any) -> set[int]:
    page = ws.query(run, f, limit=10_000)
    return {r.id for r in page.rows}


def test_planted_confusion_ranks_first_and_is_selectable(ws: es.Workspace, tmp_path: Path) -> None:
    night, a, b = _planted(ws, tmp_path)
    found = ws.patterns("det", kinds=("confusion",), top=5)
    top = found[0]
    assert top.significant
    assert top.what == {"kind": "confusion", "gt": a, "pred": b, "error": None}
    assert [(w["key"], w["value"]) for w in top.where] == [("meta:camera", "night")]
    assert "person predicted as dog" in top.description
    assert "whose camera is night" in top.description
    assert top.f1_in.value < top.f1_out
    assert top.f1_in.lo <= top.f1_in.value <= top.f1_in.hi
    assert top.p_adjusted < 1e-6
    # its rows: every night image where a person label met a dog box, a real predicate
    keys = {r["id"]: r["global_key"] for r in ws.data_rows().to_pylist()}
    assert {keys[i] for i in top.row_ids} <= night
    assert _ids(ws, "det", top.filter) == set(top.row_ids)
    assert "confusion" in json.dumps(top.to_json()["filter"])
    assert _ids(ws, "det", parse_filter(top.to_json()["filter"])) == set(top.row_ids)
    saved = ws.save_pattern(top, "night-person-dog", run="det")
    assert saved.description == top.description
    assert _ids(ws, "det", {"type": "slice", "name": "night-person-dog"}) == set(top.row_ids)
    # among all kinds of errors it is significant and in the top ten; everything ranked
    # above it is a real failure of the detector that the unplanted run has too
    every = ws.patterns("det", top=10)
    ranks = [p.rank for p in every if p.what.get("gt") == a and p.what.get("pred") == b]
    assert ranks, [p.description for p in every]
    assert every[ranks[0] - 1].significant
    assert all("camera" not in json.dumps(p.where) for p in every[: ranks[0] - 1])
    # within a slice: the day images have no such pattern
    day = ws.patterns("det", filter={"type": "metadata", "name": "camera", "equals": "day"})
    assert not any(p.what.get("pred") == b and p.what.get("gt") == a for p in day)


def test_random_errors_give_no_significant_pattern(ws: es.Workspace, tmp_path: Path) -> None:
    """A run whose errors are random: the ground-truth boxes as predictions, each
    independently given a random class (25 %), dropped (10 %) or jittered."""
    voc = shared_path("voc100")
    ws.import_data_rows(_rows(voc, tmp_path, set()))
    ws.import_voc(voc / "gts" / "pascalvoc_format", images_dir=voc / "images")
    names = sorted({c.name for c in ws.classes()})
    rng = np.random.default_rng(7)
    preds = []
    for lab in ws.labels().to_pylist():
        u = rng.random()
        if u < 0.10:
            continue
        cls = str(rng.choice(names)) if u < 0.35 else lab["class_name"]
        w, h = lab["x2"] - lab["x1"], lab["y2"] - lab["y1"]
        dx, dy = rng.normal(0, 0.03, 2) * (w, h)
        preds.append(
            {
                "row_key": lab["row_key"],
                "class_name": cls,
                "kind": "bbox",
                "x1": lab["x1"] + dx,
                "y1": lab["y1"] + dy,
                "x2": lab["x2"] + dx,
                "y2": lab["y2"] + dy,
                "confidence": float(rng.uniform(0.5, 1.0)),
            }
        )
    ws.add_predictions("random", preds)
    ws.evaluate("random", mode="labelbox", cross_class=True)
    found = ws.patterns("random", top=50)
    assert found, "the search ran and produced candidates"
    assert not [p.description for p in found if p.significant]
    assert all(p.p_adjusted >= 0.05 for p in found)


def test_find_patterns_core_on_synthetic_units() -> None:
    """A unit-level check of the ranking: a big gap in a decent group beats a tiny one."""
    rng = np.random.default_rng(0)
    n = 2000
    row = np.arange(n)
    cls = np.array(["cat"] * n, dtype=object)
    group = rng.random(n) < 0.2
    tiny = rng.random(n) < 0.01
    miss = rng.random(n) < np.where(group, 0.5, 0.05)
    status = np.where(miss, "FN", "TP").astype(object)
    other = np.where(miss, None, "cat").astype(object)
    units = Units(row, np.ones(n, bool), cls, other, status, np.full(n, "", dtype=object))
    conds = [
        (Where("g", "yes", "group"), group),
        (Where("g", "no", "group"), ~group),
        (Where("t", "yes", "tiny"), tiny),
    ]
    found, family = find_patterns(units, conds)
    assert family >= 3
    assert found[0].where == (Where("g", "yes", "group"),)
    assert found[0].significant
    assert found[0].gap_lo > 0.3
    assert all(c.where != (Where("g", "no", "group"),) or not c.significant for c in found)


def test_embedding_clusters_find_the_planted_group(ws: es.Workspace, tmp_path: Path) -> None:
    """With an embedding space whose vectors separate the night images (a model that
    'sees' the lighting), the planted confusion is found on an embedding cluster."""
    if not hasattr(ws, "add_embeddings"):
        pytest.skip("embedding spaces are not part of Workspace in this tree")
    night, a, b = _planted(ws, tmp_path)
    rows = ws.data_rows().to_pylist()
    rng = np.random.default_rng(1)
    vectors = rng.normal(0, 1, (len(rows), 8))
    is_night = np.array([r["global_key"] in night for r in rows])
    vectors[is_night, 0] += 6.0
    vectors[~is_night, 1] += 6.0
    ws.add_embeddings("lighting", vectors, ids=[r["id"] for r in rows])
    found = ws.patterns("det", kinds=("confusion",), top=20)
    clustered = [
        p for p in found
        if p.significant and p.what["gt"] == a and p.what["pred"] == b
        and any(w["key"].startswith("cluster") for w in p.where)
    ]  # fmt: skip
    assert clustered, [p.description for p in found]
    keys = {r["id"]: r["global_key"] for r in rows}
    assert {keys[i] for i in clustered[0].row_ids} <= night
    assert "embedding cluster (lighting" in clustered[0].description
    assert _ids(ws, "det", clustered[0].filter) == set(clustered[0].row_ids)


def test_span_run_patterns_and_label_issues(ws: es.Workspace) -> None:
    """The real conll2000 chunker: span error types and text attributes are candidates,
    every described pattern selects exactly its rows."""
    conll = shared_path("conll2000-chunking", "ground_truth.txt")
    ws.import_conll(conll, column=3)
    ws.import_conll(conll, column=4, run="chunker")
    ws.evaluate("chunker")
    found = ws.patterns("chunker", top=10, min_support=3)
    assert found
    kinds = {p.what["kind"] for p in found}
    assert kinds <= {"confusion", "spurious", "error_type", "any"}
    keys = {w["key"] for p in found for w in p.where}
    assert keys <= {"text_length", "rare_tokens", "split"}
    for p in found:
        assert _ids(ws, "chunker", p.filter) == set(p.row_ids), p.description
        assert 0.0 <= p.p_adjusted <= 1.0
    issues = ws.label_issues("chunker")
    spans = issues.objects.to_pylist()
    assert {o["kind"] for o in spans} <= {"", "overlooked", "swapped", "badly_located"}
    assert any(o["kind"] == "badly_located" for o in spans)
