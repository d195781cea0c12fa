"""Failure-pattern discovery on the real voc100 images, ground truth and detector: a planted
confusion on one metadata subgroup is found, described and selectable; random errors give
no significant pattern."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

import errorscope as es
from errorscope.core.patterns import Units, Where, find_patterns
from errorscope.core.queryparse import parse_filter
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


def _darkest_third(images: Path) -> set[str]:
    """The third of the images with the lowest mean luma, computed here at full
    resolution with PIL's own grey conversion (the product bins a 64-px thumbnail)."""
    luma = {
        p.name: float(np.asarray(Image.open(p).convert("L"), np.float64).mean())
        for p in sorted(images.glob("*.jpg"))
    }
    ranked = sorted(luma, key=lambda k: luma[k])
    return set(ranked[: len(ranked) // 3])


def _planted(
    ws: es.Workspace, tmp: Path, planted: set[str] | None = None
) -> tuple[set[str], str, str]:
    """voc100 with its real detector, whose person boxes on the planted images (default:
    the darkest third) are turned into dog boxes. The rows carry a 'camera' metadata
    field, 'night' on 30 random images (unrelated to the plant unless passed as it)."""
    voc = shared_path("voc100")
    names = (voc / "voc.names").read_text().split()
    imgs = sorted(p.name for p in (voc / "images").glob("*.jpg"))
    night = set(np.random.default_rng(0).choice(imgs, 30, replace=False).tolist())
    plant = _darkest_third(voc / "images") if planted is None else planted
    a, b = names.index("person"), names.index("dog")
    dets = tmp / "dets"
    dets.mkdir()
    for f in sorted((voc / "dets" / "abs_xywh").glob("*.txt")):
        lines = []
        for line in f.read_text().splitlines():
            parts = line.split()
            if parts and int(parts[0]) == a and f"{f.stem}.jpg" in plant:
                parts[0] = str(b)
            lines.append(" ".join(parts))
        (dets / f.name).write_text("\n".join(lines) + "\n")
    ws.import_data_rows(_rows(voc, tmp, night))
    ws.import_voc(voc / "gts" / "pascalvoc_format", images_dir=voc / "images")
    ws.import_yolo(
        dets, names=voc / "voc.names", images_dir=voc / "images", layout="ltwh", run="det"
    )
    ws.evaluate("det", mode="labelbox", cross_class=True)
    return plant, "person", "dog"


def _ids(ws: es.Workspace, run: str, f: Any) -> set[int]:
    page = ws.query(run, f, limit=10_000)
    return {r.id for r in page.rows}


def _person_images(plant: set[str]) -> set[str]:
    """The planted images with a person in the ground truth and a person box from the
    real detector (read from the VOC XML and the detection files, not the product)."""
    voc = shared_path("voc100")
    person = (voc / "voc.names").read_text().split().index("person")
    boxed = {
        f"{f.stem}.jpg"
        for f in (voc / "dets" / "abs_xywh").glob("*.txt")
        if any(line.split()[:1] == [str(person)] for line in f.read_text().splitlines())
    }
    labelled = {
        f"{f.stem}.jpg"
        for f in (voc / "gts" / "pascalvoc_format").glob("*.xml")
        if "<name>person</name>" in f.read_text().replace(" ", "")
    }
    return plant & boxed & labelled


def test_planted_confusion_on_dark_images_ranks_first(ws: es.Workspace, tmp_path: Path) -> None:
    """Person boxes turned into dogs on the darkest third of the images: among every kind
    of pattern, the planted one ranks first and names A, B and the subgroup."""
    plant, a, b = _planted(ws, tmp_path)
    every = ws.patterns("det", top=10)
    top = every[0]
    assert top.significant, top.description
    assert top.p_adjusted < 1e-6
    assert top.what == {"kind": "confusion", "gt": a, "pred": b, "error": None}
    assert [(w["key"], w["value"]) for w in top.where] == [("brightness", "dark")]
    assert "person predicted as dog" in top.description
    assert "whose image brightness is dark" in top.description
    assert top.f1_in.value < top.f1_out
    assert top.f1_in.lo <= top.f1_in.value <= top.f1_in.hi
    assert top.gap_ci[0] > 0.3
    # its rows are planted images with a person and a person box, most of them
    keys = {r["id"]: r["global_key"] for r in ws.data_rows().to_pylist()}
    rows = {keys[i] for i in top.row_ids}
    assert rows <= _person_images(plant)
    assert len(rows) >= 0.75 * len(_person_images(plant)), sorted(_person_images(plant) - rows)
    assert _ids(ws, "det", top.filter) == set(top.row_ids)
    # the runner-up is a real failure of the detector: the unplanted run has it too
    voc = shared_path("voc100")
    ws.import_yolo(
        voc / "dets" / "abs_xywh",
        names=voc / "voc.names",
        images_dir=voc / "images",
        layout="ltwh",
        run="clean",
    )
    ws.evaluate("clean", mode="labelbox", cross_class=True)
    clean = ws.patterns("clean", top=10, significant_only=True)
    assert (every[1].what, every[1].where) in [(p.what, p.where) for p in clean]
    assert not any(p.what.get("gt") == a and p.what.get("pred") == b for p in clean)
    # a pattern that a more specific one explains is not listed: classification errors
    # on dark images are the planted confusions
    assert not any(
        p.what["kind"] == "error_type" and [w["value"] for w in p.where] == ["dark"] for p in every
    ), [p.description for p in every]


def test_planted_confusion_on_a_metadata_value_is_selectable(
    ws: es.Workspace, tmp_path: Path
) -> None:
    """Planted on the 30 images whose 'camera' metadata is 'night': the pattern's rows are
    a real query filter (confusion and metadata) that can be saved as a slice."""
    voc = shared_path("voc100")
    imgs = sorted(p.name for p in (voc / "images").glob("*.jpg"))
    night = set(np.random.default_rng(0).choice(imgs, 30, replace=False).tolist())
    _, a, b = _planted(ws, tmp_path, night)
    found = ws.patterns("det", top=5)
    top = found[0]
    assert top.significant
    assert top.what == {"kind": "confusion", "gt": a, "pred": b, "error": None}
    assert [(w["key"], w["value"]) for w in top.where] == [("meta:camera", "night")]
    assert "person predicted as dog" in top.description
    assert "whose camera is night" in top.description
    keys = {r["id"]: r["global_key"] for r in ws.data_rows().to_pylist()}
    assert {keys[i] for i in top.row_ids} <= night
    assert _ids(ws, "det", top.filter) == set(top.row_ids)
    assert "confusion" in json.dumps(top.to_json()["filter"])
    assert _ids(ws, "det", parse_filter(top.to_json()["filter"])) == set(top.row_ids)
    saved = ws.save_pattern(top, "night-person-dog", run="det")
    assert saved.description == top.description
    assert _ids(ws, "det", {"type": "slice", "name": "night-person-dog"}) == set(top.row_ids)
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


def test_ranking_keeps_the_most_specific_explanation() -> None:
    """Cat boxes predicted as dogs in one group of rows, plus misses at the same 10 % rate
    everywhere: the confusion in the group ranks first, its generalisations (any error in
    the group) are replaced by it, and the uniform misses make no pattern."""
    rng = np.random.default_rng(1)
    rows, per = 400, 5
    row = np.repeat(np.arange(rows), per)
    n = len(row)
    cls = np.where(rng.random(n) < 0.5, "cat", "dog").astype(object)
    in_g = row < 100
    confused = in_g & (cls == "cat") & (rng.random(n) < 0.6)
    missed = ~confused & (rng.random(n) < 0.1)
    status = np.where(confused | missed, "FN", "TP").astype(object)
    other = np.where(confused, "dog", np.where(missed, None, cls)).astype(object)
    error = np.where(confused, "classification", np.where(missed, "missed", "")).astype(object)
    units = Units(row, np.ones(n, bool), cls, other, status, error)
    group = np.isin(row, np.arange(100))
    conds = [(Where("g", "yes", "group"), group), (Where("g", "no", "group"), ~group)]
    found, _ = find_patterns(units, conds)
    top = found[0]
    assert (top.what.kind, top.what.gt, top.what.pred) == ("confusion", "cat", "dog")
    assert top.where == (Where("g", "yes", "group"),)
    # point excess = observed - expected at the rest's rate, computed here
    k_in = int((confused & group).sum())
    n_in = int((group & (cls == "cat")).sum())
    assert top.excess == pytest.approx(k_in - n_in * 0.0)
    assert 0 < top.score <= top.excess
    in_group = [c for c in found if c.where == (Where("g", "yes", "group"),)]
    assert not [c for c in in_group if c.what.kind in ("any", "error_type") and c.significant]
    assert not [c for c in found if c.what.error == "missed" and c.significant]
    assert not [c for c in found if c.what.pred is None and c.significant]
