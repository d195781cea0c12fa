"""PASCAL VOC AP (core/vocap.py): hand cases, random sets and voc100 against the classic
py-faster-rcnn ``voc_eval.py`` algorithm written out below (per class loop, sorted
confidences, per-image ground truth with difficult flags, ``voc_ap``)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

import numpy as np
import pytest

import errorscope as es
from errorscope.core.vocap import voc_ap, voc_evaluate
from tests.conftest import load_voc100, shared_path

Box = tuple[float, float, float, float]
Gts = dict[str, list[tuple[str, Box, bool]]]
Dets = list[tuple[str, str, Box, float]]


# -- the reference: py-faster-rcnn's voc_eval.py, kept close to the original ----------------
def ref_voc_ap(rec: Any, prec: Any, use_07_metric: bool = False) -> float:
    if use_07_metric:
        ap = 0.0
        for t in np.arange(0.0, 1.1, 0.1):
            p = 0.0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap = ap + p / 11.0
        return float(ap)
    mrec = np.concatenate(([0.0], rec, [1.0]))
    mpre = np.concatenate(([0.0], prec, [0.0]))
    for i in range(mpre.size - 1, 0, -1):
        mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
    i = np.where(mrec[1:] != mrec[:-1])[0]
    return float(np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1]))


def ref_voc_eval(
    gts: Gts, dets: Dets, classname: str, ovthresh: float = 0.5, legacy: bool = False
) -> dict[str, Any]:
    """One class. The devkit's ``ovmax >= minoverlap`` (py-faster-rcnn writes ``>``; the
    voc100 scores have no exact 0.5 overlaps either way) and a stable sort (no tied
    scores within a class in voc100)."""
    one = 1.0 if legacy else 0.0
    class_recs = {}
    npos = 0
    for img, objs in gts.items():
        r = [o for o in objs if o[0] == classname]
        bbox = np.array([o[1] for o in r], dtype=float).reshape(-1, 4)
        difficult = np.array([o[2] for o in r], dtype=bool)
        npos = npos + int(np.sum(~difficult))
        class_recs[img] = {"bbox": bbox, "difficult": difficult, "det": [False] * len(r)}
    mine = [d for d in dets if d[1] == classname]
    image_ids = [d[0] for d in mine]
    confidence = np.array([d[3] for d in mine], dtype=float)
    bb_all = np.array([d[2] for d in mine], dtype=float).reshape(-1, 4)
    sorted_ind = np.argsort(-confidence, kind="stable")
    bb_all = bb_all[sorted_ind, :]
    image_ids = [image_ids[x] for x in sorted_ind]
    nd = len(image_ids)
    tp = np.zeros(nd)
    fp = np.zeros(nd)
    for d in range(nd):
        rec = class_recs[image_ids[d]]
        bb = bb_all[d, :]
        ovmax = -np.inf
        bbgt = rec["bbox"]
        jmax = -1
        if bbgt.size > 0:
            ixmin = np.maximum(bbgt[:, 0], bb[0])
            iymin = np.maximum(bbgt[:, 1], bb[1])
            ixmax = np.minimum(bbgt[:, 2], bb[2])
            iymax = np.minimum(bbgt[:, 3], bb[3])
            iw = np.maximum(ixmax - ixmin + one, 0.0)
            ih = np.maximum(iymax - iymin + one, 0.0)
            inters = iw * ih
            uni = (
                (bb[2] - bb[0] + one) * (bb[3] - bb[1] + one)
                + (bbgt[:, 2] - bbgt[:, 0] + one) * (bbgt[:, 3] - bbgt[:, 1] + one)
                - inters
            )
            overlaps = inters / uni
            ovmax = np.max(overlaps)
            jmax = int(np.argmax(overlaps))
        if ovmax >= ovthresh:
            if not rec["difficult"][jmax]:
                if not rec["det"][jmax]:
                    tp[d] = 1.0
                    rec["det"][jmax] = True
                else:
                    fp[d] = 1.0
        else:
            fp[d] = 1.0
    counted = (tp + fp) > 0  # the points of the detections not ignored
    fp = np.cumsum(fp)
    tp = np.cumsum(tp)
    rec_ = tp / float(npos) if npos else np.full(nd, np.nan)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    out = {"npos": npos, "rec": rec_[counted], "prec": prec[counted]}
    out["ap11"] = ref_voc_ap(rec_, prec, True) if npos else math.nan
    out["ap"] = ref_voc_ap(rec_, prec, False) if npos else math.nan
    return out


def _run(gts: Gts, dets: Dets, legacy: bool = False) -> tuple[Any, dict[str, int]]:
    """voc_evaluate on the same data, with class names numbered in sorted order."""
    names = sorted({o[0] for objs in gts.values() for o in objs} | {d[1] for d in dets})
    cid = {n: i for i, n in enumerate(names)}
    imgs = {img: i for i, img in enumerate(gts)}
    g = [(imgs[img], cid[c], b, dif) for img, objs in gts.items() for c, b, dif in objs]
    ev = voc_evaluate(
        np.array([x[0] for x in g], np.int64),
        np.array([x[1] for x in g], np.int64),
        np.array([x[2] for x in g], np.float64).reshape(-1, 4),
        np.array([x[3] for x in g], bool),
        np.array([imgs[d[0]] for d in dets], np.int64),
        np.array([cid[d[1]] for d in dets], np.int64),
        np.array([d[2] for d in dets], np.float64).reshape(-1, 4),
        np.array([d[3] for d in dets], np.float64),
        legacy=legacy,
    )
    return ev, cid


def _assert_equal_to_reference(gts: Gts, dets: Dets, legacy: bool = False) -> float:
    ev, cid = _run(gts, dets, legacy)
    aps = []
    for name, k in cid.items():
        ref = ref_voc_eval(gts, dets, name, legacy=legacy)
        assert ev.class_ids[k] == k
        assert ev.npos[k] == ref["npos"], name
        for mine, want in ((ev.ap11[k], ref["ap11"]), (ev.ap[k], ref["ap"])):
            assert (math.isnan(mine) and math.isnan(want)) or mine == pytest.approx(
                want, abs=1e-9
            ), name
        np.testing.assert_allclose(ev.recall[k], ref["rec"], atol=1e-9, rtol=0)
        np.testing.assert_allclose(ev.precision[k], ref["prec"], atol=1e-9, rtol=0)
        if ref["npos"]:
            aps.append(ref["ap"])
    assert ev.map_all == pytest.approx(float(np.mean(aps)), abs=1e-9)
    return ev.map_all


# -- hand cases -------------------------------------------------------------------------------
def test_difficult_ground_truth_is_neither_found_nor_missed() -> None:
    gts: Gts = {"a": [("cat", (0, 0, 10, 10), False), ("cat", (20, 20, 30, 30), True)]}
    dets: Dets = [
        ("a", "cat", (20, 20, 30, 30), 0.9),  # on the difficult box: ignored
        ("a", "cat", (0, 0, 10, 10), 0.8),  # TP
        ("a", "cat", (50, 50, 60, 60), 0.7),  # FP
    ]
    ev, _ = _run(gts, dets)
    assert ev.dt_status.tolist() == ["ignored", "TP", "FP"]
    assert ev.npos.tolist() == [1]
    assert ev.recall[0].tolist() == [1.0, 1.0]
    assert ev.precision[0].tolist() == [1.0, 0.5]
    assert ev.ap[0] == 1.0
    assert ev.ap11[0] == pytest.approx(1.0)
    _assert_equal_to_reference(gts, dets)


def test_a_duplicate_is_a_false_positive_even_when_another_box_is_free() -> None:
    gts: Gts = {"a": [("cat", (0, 0, 10, 10), False), ("cat", (0, 0, 10, 8), False)]}
    dets: Dets = [
        ("a", "cat", (0, 0, 10, 10), 0.9),  # TP on the first box
        ("a", "cat", (0, 0, 10, 9.5), 0.8),  # best IoU with the taken box: FP, not the second
    ]
    ev, _ = _run(gts, dets)
    assert ev.dt_status.tolist() == ["TP", "FP"]
    assert ev.dt_match.tolist() == [0, -1]
    assert ev.recall[0].tolist() == [0.5, 0.5]
    assert ev.precision[0].tolist() == [1.0, 0.5]
    assert ev.ap[0] == pytest.approx(0.5)
    assert ev.ap11[0] == pytest.approx(6 / 11)
    _assert_equal_to_reference(gts, dets)


def test_a_class_without_detections_or_without_ground_truth() -> None:
    gts: Gts = {
        "a": [("cat", (0, 0, 10, 10), False), ("dog", (0, 0, 10, 10), False)],
        "b": [("cow", (0, 0, 5, 5), True)],  # only difficult cows: AP undefined
    }
    dets: Dets = [("a", "cat", (0, 0, 10, 10), 0.9), ("b", "cow", (0, 0, 5, 5), 0.5)]
    ev, cid = _run(gts, dets)
    assert ev.ap[cid["cat"]] == 1.0
    assert ev.ap[cid["dog"]] == 0.0
    assert ev.ap11[cid["dog"]] == 0.0
    assert len(ev.recall[cid["dog"]]) == 0
    assert math.isnan(ev.ap[cid["cow"]])
    assert math.isnan(ev.ap11[cid["cow"]])
    assert ev.dt_status.tolist() == ["TP", "ignored"]
    assert ev.map_all == pytest.approx(0.5)  # mean of cat and dog
    assert ev.map_11 == pytest.approx(0.5)
    _assert_equal_to_reference(gts, dets)


def test_threshold_is_inclusive_and_legacy_boxes_count_pixels() -> None:
    gts: Gts = {"a": [("cat", (0, 0, 10, 10), False)], "b": [("cat", (0, 0, 9, 9), False)]}
    dets: Dets = [("a", "cat", (0, 0, 10, 5), 0.9), ("b", "cat", (0, 0, 9, 4), 0.8)]
    continuous, _ = _run(gts, dets)
    assert continuous.dt_status.tolist() == ["TP", "FP"]  # IoU 0.5 exactly; then 36/81
    legacy, _ = _run(gts, dets, legacy=True)
    assert legacy.dt_status.tolist() == ["TP", "TP"]  # 66/121; then 50/100 exactly
    _assert_equal_to_reference(gts, dets)
    _assert_equal_to_reference(gts, dets, legacy=True)


def test_no_input_at_all() -> None:
    ev, _ = _run({"a": []}, [])
    assert len(ev.class_ids) == 0
    assert math.isnan(ev.map_all)


def test_voc_ap_function_equals_the_reference() -> None:
    rng = np.random.default_rng(3)
    for _ in range(50):
        n = int(rng.integers(0, 30))
        rec = np.sort(rng.random(n))
        prec = rng.random(n)
        for use_07 in (True, False):
            assert voc_ap(rec, prec, use_07_metric=use_07) == pytest.approx(
                ref_voc_ap(rec, prec, use_07), abs=1e-12
            )


def _random_set(seed: int) -> tuple[Gts, Dets]:
    rng = np.random.default_rng(seed)
    classes = ["a", "b", "c", "d"]
    gts: Gts = {}
    dets: Dets = []
    for i in range(40):
        img = f"im{i}"
        objs = []
        for _ in range(int(rng.integers(0, 6))):
            x, y = rng.uniform(0, 80, 2)
            w, h = rng.uniform(5, 30, 2)
            objs.append((str(rng.choice(classes)), (x, y, x + w, y + h), bool(rng.random() < 0.2)))
        gts[img] = objs
        for c, (x1, y1, x2, y2), _dif in objs:  # jittered copies, some duplicated
            for _ in range(int(rng.integers(0, 3))):
                j = rng.normal(0, 3, 4)
                box = (x1 + j[0], y1 + j[1], x2 + j[2], y2 + j[3])
                dets.append((img, c if rng.random() < 0.85 else "b", box, float(rng.random())))
        for _ in range(int(rng.integers(0, 3))):  # background
            x, y = rng.uniform(0, 80, 2)
            dets.append(
                (img, str(rng.choice(classes)), (x, y, x + 10, y + 10), float(rng.random()))
            )
    return gts, dets


@pytest.mark.parametrize("seed", range(6))
def test_random_sets_equal_the_reference_and_ignore_input_order(seed: int) -> None:
    gts, dets = _random_set(seed)
    m = _assert_equal_to_reference(gts, dets)
    _assert_equal_to_reference(gts, dets, legacy=True)
    rng = np.random.default_rng(seed + 100)
    shuffled = [dets[i] for i in rng.permutation(len(dets))]
    ev, _ = _run(gts, shuffled)
    assert ev.map_all == pytest.approx(m, abs=1e-12)


# -- voc100 -----------------------------------------------------------------------------------
def voc100(*parts: str) -> Any:
    return shared_path("voc100", *parts)


def _voc100_truth() -> Gts:
    gts: Gts = {}
    for xml in sorted(voc100("gts", "pascalvoc_format").glob("*.xml")):
        root = ET.parse(xml).getroot()
        objs = []
        for obj in root.iter("object"):
            bb = obj.find("bndbox")
            assert bb is not None
            box = tuple(float(bb.findtext(t, "nan")) for t in ("xmin", "ymin", "xmax", "ymax"))
            objs.append((str(obj.findtext("name")), box, obj.findtext("difficult") == "1"))
        gts[str(root.findtext("filename"))] = objs  # type: ignore[assignment]
    return gts


def _voc100_dets() -> Dets:
    names = voc100("voc.names").read_text().split()
    out: Dets = []
    for txt in sorted(voc100("dets", "abs_xywh").glob("*.txt")):
        for line in txt.read_text().splitlines():
            if line.strip():
                c, s, x, y, w, h = line.split()
                box = (float(x), float(y), float(x) + float(w), float(y) + float(h))
                out.append((f"{txt.stem}.jpg", names[int(c)], box, float(s)))
    return out


def test_voc100_core_equals_the_reference() -> None:
    gts, dets = _voc100_truth(), _voc100_dets()
    assert sum(o[2] for objs in gts.values() for o in objs) == 38  # difficult boxes
    assert all(d[0] in gts for d in dets)
    _assert_equal_to_reference(gts, dets)
    _assert_equal_to_reference(gts, dets, legacy=True)


@pytest.mark.parametrize("legacy", [False, True])
def test_voc100_workspace_evaluate_equals_the_reference(ws: es.Workspace, legacy: bool) -> None:
    load_voc100(ws)
    assert sum(ws.labels().column("difficult").to_pylist()) == 38
    mode = "labelbox" if legacy else "coco"
    summary = ws.evaluate("det", confidence=0.9, mode=mode, legacy_iou=legacy)
    gts, dets = _voc100_truth(), _voc100_dets()
    names = sorted({o[0] for objs in gts.values() for o in objs} | {d[1] for d in dets})
    refs = {n: ref_voc_eval(gts, dets, n, legacy=legacy) for n in names}
    with_gt = [r for r in refs.values() if r["npos"]]
    assert summary["voc"]["iou"] == 0.5
    assert summary["voc"]["map_all"] == pytest.approx(np.mean([r["ap"] for r in with_gt]), abs=1e-9)
    assert summary["voc"]["map_11"] == pytest.approx(
        np.mean([r["ap11"] for r in with_gt]), abs=1e-9
    )
    for n, ref in refs.items():
        got = summary["per_class"][n]["voc_ap"]
        assert (got is None and math.isnan(ref["ap"])) or got == pytest.approx(ref["ap"], abs=1e-9)
    assert ws.evaluation("det")["voc"] == summary["voc"]  # stored with the summary

    # the stored VOC curves are the reference's points, class by class
    curves = ws.pr_curves("det", curve="voc").to_pylist()
    for n, ref in refs.items():
        pts = [c for c in curves if c["class_name"] == n]
        assert [c["point"] for c in pts] == list(range(len(ref["prec"])))
        np.testing.assert_allclose([c["precision"] for c in pts], ref["prec"], atol=1e-9, rtol=0)
        rec = [math.nan if c["recall"] is None else c["recall"] for c in pts]
        np.testing.assert_allclose(rec, ref["rec"], atol=1e-9, rtol=0)
        assert all(c["iou"] == 0.5 for c in pts)
        scores = [c["score"] for c in pts]
        assert scores == sorted(scores, reverse=True)
