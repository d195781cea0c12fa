"""Workspace.evaluate and ``errorscope evaluate`` end to end on real data, checked against
pycocotools, seqeval, scikit-learn and an independent matcher written here."""

from __future__ import annotations

import contextlib
import io
import json
import math
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import errorscope as es
from errorscope.cli import cli
from tests.conftest import load_voc100, shared_path, snapshot

pytestmark = pytest.mark.shared_data

STATS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def voc100(*parts: str) -> Path:
    return shared_path("voc100", *parts)


def conll() -> Path:
    return shared_path("conll2000-chunking", "ground_truth.txt")


# -- voc100: COCO stats and per-object status --------------------------------------------------
def _pycocotools(ws: es.Workspace, tmp_path: Path) -> Any:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    ws.export_coco(tmp_path / "gt.json")
    ws.export_coco(tmp_path / "dt.json", run="det", results=True)
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(tmp_path / "gt.json"))
        dt = gt.loadRes(str(tmp_path / "dt.json"))
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev


Key = tuple[int, int, tuple[float, ...], str]


def _statuses(ws: es.Workspace, source: str) -> Counter[Key]:
    """(row, class id, box, status) of every evaluated object of one side."""
    objects = ws.evaluation_results("det", "objects").to_pylist()
    table = ws.labels() if source == "label" else ws.predictions("det")
    boxes = {
        r["id"]: tuple(round(r[c], 2) for c in ("x1", "y1", "x2", "y2")) for r in table.to_pylist()
    }
    return Counter(
        (o["data_row_id"], o["class_id"], boxes[o["annotation_id"]], o["status"])
        for o in objects
        if o["source"] == source
    )


def test_voc100_coco_stats_and_statuses_equal_pycocotools(ws: es.Workspace, tmp_path: Path) -> None:
    load_voc100(ws)
    summary = ws.evaluate("det", confidence=0.0)
    ref = _pycocotools(ws, tmp_path)
    for name, value in zip(STATS, ref.stats, strict=True):
        assert summary["coco"][name] == pytest.approx(value, abs=1e-6), name
    assert summary["coco"]["AP50"] == pytest.approx(0.610, abs=5e-4)  # data README

    # per-object status at IoU 0.5 from pycocotools' evalImgs (area "all", maxDets 100)
    gt_doc = json.loads((tmp_path / "gt.json").read_text())
    dt_doc = json.loads((tmp_path / "dt.json").read_text())
    gt_box = {a["id"]: (a["image_id"], a["category_id"], a["bbox"]) for a in gt_doc["annotations"]}
    dt_box = {i + 1: (d["image_id"], d["category_id"], d["bbox"]) for i, d in enumerate(dt_doc)}

    def key(entry: tuple[int, int, list[float]], status: str) -> Key:
        row, cls, (x, y, w, h) = entry
        return (row, cls, tuple(round(v, 2) for v in (x, y, x + w, y + h)), status)

    want_gt: Counter[Key] = Counter()
    want_dt: Counter[Key] = Counter()
    for e in ref.evalImgs:
        if e is None or e["aRng"] != [0, 1e10]:
            continue
        for j, gid in enumerate(e["gtIds"]):
            status = "ignored" if e["gtIgnore"][j] else "TP" if e["gtMatches"][0][j] else "FN"
            want_gt[key(gt_box[gid], status)] += 1
        for j, did in enumerate(e["dtIds"]):
            status = "ignored" if e["dtIgnore"][0][j] else "TP" if e["dtMatches"][0][j] else "FP"
            want_dt[key(dt_box[did], status)] += 1
    assert _statuses(ws, "label") == want_gt
    assert _statuses(ws, "prediction") == want_dt
    assert sum(want_gt.values()) == 273
    assert sum(want_dt.values()) == 452


def _read_voc_truth() -> list[tuple[str, str, tuple[float, ...]]]:
    out = []
    for xml in sorted(voc100("gts", "pascalvoc_format").glob("*.xml")):
        root = ET.parse(xml).getroot()
        for obj in root.iter("object"):
            bb = obj.find("bndbox")
            assert bb is not None
            box = tuple(float(bb.findtext(t, "nan")) for t in ("xmin", "ymin", "xmax", "ymax"))
            out.append((xml.stem, str(obj.findtext("name")), box))
    return out


def _read_voc_dets() -> list[tuple[str, str, tuple[float, ...], float]]:
    names = voc100("voc.names").read_text().split()
    out = []
    for txt in sorted(voc100("dets", "abs_xywh").glob("*.txt")):
        for line in txt.read_text().splitlines():
            if not line.strip():
                continue
            c, s, x, y, w, h = line.split()
            box = (float(x), float(y), float(x) + float(w), float(y) + float(h))
            out.append((txt.stem, names[int(c)], box, float(s)))
    return out


def _iou(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.mark.parametrize("confidence", [0.0, 0.5])
def test_voc100_labelbox_statuses_agree_with_an_independent_greedy_matcher(
    ws: es.Workspace, confidence: float
) -> None:
    """Straight from the VOC XML and the detection txt files, greedy by IoU in plain Python."""
    load_voc100(ws)
    summary = ws.evaluate("det", mode="labelbox", confidence=confidence)
    truth = _read_voc_truth()
    dets = [d for d in _read_voc_dets() if d[3] >= confidence]
    pairs = [
        (_iou(g[2], d[2]), gi, di)
        for gi, g in enumerate(truth)
        for di, d in enumerate(dets)
        if g[0] == d[0] and g[1] == d[1]
    ]
    g_done: set[int] = set()
    d_done: set[int] = set()
    for iou, gi, di in sorted(pairs, key=lambda p: -p[0]):
        if iou > 0.5 and gi not in g_done and di not in d_done:
            g_done.add(gi)
            d_done.add(di)
    tp, fn, fp = len(g_done), len(truth) - len(g_done), len(dets) - len(d_done)
    assert summary["counts"]["tp"] == tp
    assert summary["counts"]["fn"] == fn
    assert summary["counts"]["fp"] == fp

    # the same per object: (image, class, box) -> status
    classes = {c.id: c.name for c in ws.classes()}
    keys = {r["id"]: r["global_key"].rsplit(".", 1)[0] for r in ws.data_rows().to_pylist()}

    def mine(source: str) -> Counter[tuple[str, str, tuple[float, ...], str]]:
        return Counter(
            (keys[row], classes[cls], box, status)
            for row, cls, box, status in _statuses(ws, source).elements()
            if status != "ignored"
        )

    rnd = lambda b: tuple(round(v, 2) for v in b)  # noqa: E731
    assert mine("label") == Counter(
        (g[0], g[1], rnd(g[2]), "TP" if i in g_done else "FN") for i, g in enumerate(truth)
    )
    assert mine("prediction") == Counter(
        (d[0], d[1], rnd(d[2]), "TP" if i in d_done else "FP") for i, d in enumerate(dets)
    )
    # per class: the JSON's counts equal the stored class table and add up to the run's
    per_class = summary["per_class"]
    assert sum(v["tp"] for v in per_class.values()) == tp
    assert per_class["person"]["tp"] == sum(1 for i in g_done if truth[i][1] == "person")


def test_results_are_stored_and_replaced(ws: es.Workspace) -> None:
    load_voc100(ws)
    with pytest.raises(es.NotFoundError, match="has not been evaluated"):
        ws.evaluation("det")
    first = ws.evaluate("det", mode="labelbox", iou=0.3, confidence=0.2)
    objects = ws.evaluation_results("det", "objects")
    assert objects.num_rows == 273 + 452
    again = ws.evaluate("det", mode="labelbox", iou=0.3, confidence=0.2)
    assert again == first
    assert ws.evaluation_results("det", "objects").num_rows == 273 + 452
    stored = ws.evaluation("det")
    assert stored["params"] == {
        "iou": 0.3,
        "confidence": 0.2,
        "mode": "labelbox",
        "iou_type": "bbox",
        "cross_class": False,
        "legacy_iou": False,
        "class_iou": {},
        "class_confidence": {},
        "point_buffer": 70.0,
    }
    assert json.loads(json.dumps(first)) == stored

    # the per-row table is the objects table grouped by row
    by_row: dict[int, list[int]] = {}
    for o in objects.to_pylist():
        counts = by_row.setdefault(o["data_row_id"], [0, 0, 0])
        if o["source"] == "label" and o["status"] in ("TP", "FN"):
            counts[0 if o["status"] == "TP" else 2] += 1
        if o["source"] == "prediction" and o["status"] == "FP":
            counts[1] += 1
    rows = ws.evaluation_results("det", "rows").to_pylist()
    assert {r["data_row_id"]: [r["tp"], r["fp"], r["fn"]] for r in rows} == by_row
    assert len(rows) == 100  # every image, also the two the detector found nothing on
    for r in rows:
        tp, fp = r["tp"], r["fp"]
        assert r["precision"] == (pytest.approx(tp / (tp + fp)) if tp + fp else None)
    classes = ws.evaluation_results("det", "classes").to_pylist()
    assert {c["name"]: c["tp"] for c in classes} == {
        n: v["tp"] for n, v in first["per_class"].items()
    }
    assert all(c["ap"] is not None for c in classes)
    # matched ids point at the other side's annotation
    labels = {o["annotation_id"]: o for o in objects.to_pylist() if o["source"] == "label"}
    preds = {o["annotation_id"]: o for o in objects.to_pylist() if o["source"] == "prediction"}
    for p in preds.values():
        if p["status"] == "TP":
            g = labels[p["matched_id"]]
            assert g["matched_id"] == p["annotation_id"]
            assert g["iou"] == p["iou"] > 0.3


def test_confusion_matrix_and_tide_errors_on_voc100(ws: es.Workspace) -> None:
    load_voc100(ws)
    s = ws.evaluate("det", mode="labelbox", confidence=0.0)
    cm = s["confusion_matrix"]
    assert cm["labels"][-1] == "None"
    assert cm["labels"][:-1] == sorted(c.name for c in ws.classes())
    matrix = cm["matrix"]
    assert sum(map(sum, matrix[:-1])) == 273  # every label once
    assert sum(row[i] for row in matrix for i in range(len(row) - 1)) == 452
    diag = sum(matrix[i][i] for i in range(len(matrix) - 1))
    assert diag >= s["counts"]["tp"]  # cross-class matching can only add pairs
    errors = Counter(
        (o["source"], o["error_type"]) for o in ws.evaluation_results("det").to_pylist()
    )
    fp = s["counts"]["fp"]
    tide = ("classification", "localisation", "both", "duplicate", "background")
    assert sum(errors["prediction", t] for t in tide) == fp
    assert errors["label", "missed"] <= s["counts"]["fn"]


def test_cross_class_and_legacy_iou_on_voc100(ws: es.Workspace) -> None:
    load_voc100(ws)
    plain = ws.evaluate("det", mode="labelbox", confidence=0.0)
    cross = ws.evaluate("det", mode="labelbox", confidence=0.0, cross_class=True)
    objects = ws.evaluation_results("det").to_pylist()
    labels = {o["annotation_id"]: o for o in objects if o["source"] == "label"}
    preds = {o["annotation_id"]: o for o in objects if o["source"] == "prediction"}
    confused = [o for o in labels.values() if o["matched_id"] is not None and o["status"] == "FN"]
    assert confused  # the detector confuses some classes (cow/dog, bicycle/motorbike, ...)
    for g in confused:
        p = preds[g["matched_id"]]
        assert p["class_id"] != g["class_id"]
        assert (g["error_type"], p["error_type"], p["status"]) == (
            "classification",
            "classification",
            "FP",
        )
    # each cross-class pair is an off-diagonal cell of the confusion matrix
    m = cross["confusion_matrix"]["matrix"]
    off = sum(m[i][j] for i in range(len(m) - 1) for j in range(len(m) - 1) if i != j)
    assert off == len(confused)
    assert cross["counts"]["tp"] + cross["counts"]["fn"] == 273
    assert cross["counts"]["tp"] <= plain["counts"]["tp"]

    # the legacy +1 IoU, recomputed here for every matched pair
    ws.evaluate("det", mode="labelbox", confidence=0.0, legacy_iou=True)
    gt_box = {r["id"]: r for r in ws.labels().to_pylist()}  # ids are per table
    dt_box = {r["id"]: r for r in ws.predictions("det").to_pylist()}

    def legacy(a: dict[str, Any], b: dict[str, Any]) -> float:
        iw = min(a["x2"], b["x2"]) - max(a["x1"], b["x1"]) + 1
        ih = min(a["y2"], b["y2"]) - max(a["y1"], b["y1"]) + 1
        inter = max(iw, 0) * max(ih, 0)

        def area(r: dict[str, Any]) -> float:
            return float((r["x2"] - r["x1"] + 1) * (r["y2"] - r["y1"] + 1))

        return inter / (area(a) + area(b) - inter)

    matched = [
        o
        for o in ws.evaluation_results("det").to_pylist()
        if o["source"] == "label" and o["status"] == "TP"
    ]
    assert len(matched) > 200
    for o in matched:
        want = legacy(gt_box[o["annotation_id"]], dt_box[o["matched_id"]])
        assert o["iou"] == pytest.approx(want, abs=1e-12)
        assert want > 0.5
    with pytest.raises(es.ErrorscopeError, match="mode 'labelbox' only"):
        ws.evaluate("det", cross_class=True)


def test_bad_parameters(ws: es.Workspace) -> None:
    load_voc100(ws)
    with pytest.raises(es.ErrorscopeError, match=r"0\.50, 0\.55"):
        ws.evaluate("det", iou=0.42)  # COCO matching has fixed thresholds
    with pytest.raises(es.NotFoundError, match="no model run named 'nope'"):
        ws.evaluate("nope")
    with pytest.raises(es.ErrorscopeError, match="mode must be"):
        ws.evaluate("det", mode="voc")  # type: ignore[arg-type]
    with pytest.raises(es.ErrorscopeError, match="confidence threshold"):
        ws.evaluate("det", confidence=2.0)
    ws.create_run("empty")
    with pytest.raises(es.ErrorscopeError, match="no predictions"):
        ws.evaluate("empty")


# -- conll2000: entity scores --------------------------------------------------------------
def _seqeval_tags() -> tuple[list[list[str]], list[list[str]]]:
    gold: list[list[str]] = [[]]
    pred: list[list[str]] = [[]]
    for line in conll().read_text().splitlines():
        if not line.strip():
            if gold[-1]:
                gold.append([])
                pred.append([])
            continue
        cols = line.split()
        gold[-1].append(cols[2])
        pred[-1].append(cols[3])
    return [g for g in gold if g], [p for p in pred if p]


def test_conll2000_entity_scores_equal_conlleval_and_seqeval(ws: es.Workspace) -> None:
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    ws.import_conll(conll(), column=3)
    ws.import_conll(conll(), column=4, run="chunker")
    s = ws.evaluate("chunker")
    e = s["entity"]
    assert (e["gold"], e["predicted"], e["correct"]) == (459, 539, 371)
    assert (round(e["precision"] * 100, 2), round(e["recall"] * 100, 2)) == (68.83, 80.83)
    assert round(e["f1"] * 100, 2) == 74.35
    readme = {
        "ADJP": (0.0, 0.0, 0.0),
        "ADVP": (45.45, 62.50, 52.63),
        "NP": (64.98, 78.63, 71.16),
        "PP": (83.18, 98.89, 90.36),
        "SBAR": (66.67, 33.33, 44.44),
        "VP": (69.00, 79.31, 73.80),
    }
    for name, (p, r, f) in readme.items():
        got = s["per_class"][name]
        assert (round(got["precision"] * 100, 2), round(got["recall"] * 100, 2)) == (p, r)
        assert round(got["f1"] * 100, 2) == f

    gold, pred = _seqeval_tags()
    assert e["precision"] == pytest.approx(precision_score(gold, pred), abs=1e-9)
    assert e["recall"] == pytest.approx(recall_score(gold, pred), abs=1e-9)
    assert e["f1"] == pytest.approx(f1_score(gold, pred), abs=1e-9)
    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    for name in readme:
        assert s["per_class"][name]["f1"] == pytest.approx(report[name]["f1-score"], abs=1e-9)
        assert s["per_class"][name]["tp"] + s["per_class"][name]["fn"] == report[name]["support"]
    assert "coco" not in s
    assert "classification" not in s
    # every span is accounted for, with a span error type on each miss
    objects = ws.evaluation_results("chunker").to_pylist()
    status = Counter((o["source"], o["status"]) for o in objects)
    assert status == {
        ("label", "TP"): 371,
        ("label", "FN"): 88,
        ("prediction", "TP"): 371,
        ("prediction", "FP"): 168,
    }
    span_errors = {"wrong_type", "boundary", "wrong_type_and_boundary", "missed", "spurious"}
    assert {o["error_type"] for o in objects if o["status"] != "TP"} <= span_errors
    cm = s["confusion_matrix"]
    assert sum(cm["matrix"][i][i] for i in range(len(cm["labels"]) - 1)) == 371


# -- radio classification -------------------------------------------------------------------
def test_radio_classification_equals_scikit_learn(ws: es.Workspace, tmp_path: Path) -> None:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

    truth = ["cat", "dog", "cat", "bird", "dog", "cat", "bird", "dog"]
    guess = ["cat", "cat", "cat", "bird", "dog", None, "dog", "dog"]  # None: no prediction
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "".join(
            json.dumps({"global_key": f"t{i}", "text": f"text {i}", "label": t}) + "\n"
            for i, t in enumerate(truth)
        )
    )
    pred = tmp_path / "pred.jsonl"
    pred.write_text(
        "".join(
            json.dumps({"global_key": f"t{i}", "label": g, "confidence": 0.9}) + "\n"
            for i, g in enumerate(guess)
            if g is not None
        )
    )
    ws.import_jsonl(gold)
    ws.import_jsonl(pred, run="clf")
    s = ws.evaluate("clf")
    y_pred = [g or "None" for g in guess]
    assert s["classification"]["accuracy"] == pytest.approx(accuracy_score(truth, y_pred))
    assert s["classification"]["macro_f1"] == pytest.approx(
        f1_score(truth, y_pred, average="macro", zero_division=0)
    )
    labels = sorted(set(truth) | set(y_pred))
    p, r, f, _support = precision_recall_fscore_support(
        truth, y_pred, labels=labels, zero_division=0
    )
    for i, name in enumerate(labels):
        assert s["per_class"][name]["precision"] == pytest.approx(p[i])
        assert s["per_class"][name]["recall"] == pytest.approx(r[i])
        assert s["per_class"][name]["f1"] == pytest.approx(f[i])
    assert s["confusion_matrix"]["labels"] == labels
    assert s["counts"]["tp"] == sum(t == g for t, g in zip(truth, guess, strict=True))


def test_checklist_classification_equals_scikit_learn_multilabel(
    ws: es.Workspace, tmp_path: Path
) -> None:
    from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
    from sklearn.preprocessing import MultiLabelBinarizer

    truth = [["film", "acting"], [], ["music", "plot"], ["music"], ["plot"], ["acting"]]
    guess: list[list[str] | None] = [
        ["film", "acting"],  # exact
        ["plot"],  # spurious answer
        ["music"],  # one missed
        None,  # no prediction
        ["plot"],  # exact
        ["film"],  # wrong
    ]
    gold = tmp_path / "gold.jsonl"
    gold.write_text(
        "".join(
            json.dumps(
                {"global_key": f"t{i}", "text": f"text {i}", "classification": "topics", "label": t}
            )
            + "\n"
            for i, t in enumerate(truth)
        )
    )
    pred = tmp_path / "pred.jsonl"
    pred.write_text(
        "".join(
            json.dumps({"global_key": f"t{i}", "classification": "topics", "label": g}) + "\n"
            for i, g in enumerate(guess)
            if g is not None
        )
    )
    ws.import_jsonl(gold)
    ws.import_jsonl(pred, run="tagger")
    s = ws.evaluate("tagger")
    binarizer = MultiLabelBinarizer().fit(truth + [g or [] for g in guess])
    y_true = binarizer.transform(truth)
    y_pred = binarizer.transform([g or [] for g in guess])
    assert s["classification"]["accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    assert s["classification"]["macro_f1"] == pytest.approx(
        f1_score(y_true, y_pred, average="macro", zero_division=0)
    )
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    for i, name in enumerate(binarizer.classes_):
        got = s["per_class"][name]
        assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((p[i], r[i], f[i]))
        assert got["support"] == support[i]
    objects = ws.evaluation_results("tagger").to_pylist()
    labels = sorted(
        (o["annotation_id"], o["status"], o["error_type"], o["iou"])
        for o in objects
        if o["source"] == "label"
    )
    assert [x[1:3] for x in labels] == [
        ("TP", ""),
        ("FN", "classification"),
        ("FN", "classification"),
        ("FN", "missed"),
        ("TP", ""),
        ("FN", "classification"),
    ]
    assert [x[3] for x in labels] == [1.0, 0.0, 0.5, None, 1.0, 0.0]  # Jaccard


# -- CLI ---------------------------------------------------------------------------------------
def test_cli_evaluate_json_and_table(tmp_path: Path) -> None:
    path = tmp_path / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        before = snapshot(ws)
    runner = CliRunner()
    result = runner.invoke(cli, ["evaluate", "-w", str(path), "--run", "det", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"coco", "per_class", "confusion_matrix"}
    assert list(data["coco"]) == list(STATS)
    assert data["coco"]["AP"] == pytest.approx(0.347, abs=5e-4)
    assert set(data["per_class"]["dog"]) >= {"precision", "recall", "f1", "tp", "fp", "fn", "ap"}
    result = runner.invoke(
        cli,
        ["evaluate", "-w", str(path), "--run", "det", "--mode", "labelbox", "--iou", "0.6"],
    )
    assert result.exit_code == 0, result.output
    assert "mode labelbox, IoU 0.6" in result.output
    assert "AP50" in result.output
    assert "dog" in result.output
    with es.open_workspace(path) as ws:
        assert snapshot(ws) == before  # evaluating leaves the inputs alone
    result = runner.invoke(
        cli,
        ["evaluate", "-w", str(path), "--run", "det", "--mode", "labelbox", "--cross-class",
         "--legacy-iou", "--confidence", "0.3", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    params = json.loads(result.output)["params"]
    assert (params["cross_class"], params["legacy_iou"], params["confidence"]) == (True, True, 0.3)
    result = runner.invoke(cli, ["evaluate", "-w", str(path), "--run", "x"])
    assert result.exit_code != 0
    assert "no model run named 'x'" in str(result.exception) + result.output


def test_nan_free_json(ws: es.Workspace) -> None:
    load_voc100(ws)
    text = json.dumps(ws.evaluate("det", confidence=0.99))
    assert "NaN" not in text
    assert all(
        v is None or not math.isnan(v)
        for entry in json.loads(text)["per_class"].values()
        for v in entry.values()
    )


# -- coco-val2014-100: the COCO API's own fixture, boxes and masks ----------------------------
EXPECTED = {
    "bbox": [
        0.5045806987, 0.6969727247, 0.5729816670, 0.5856257209, 0.5193996948, 0.5013978986,
        0.3868127796, 0.5936795763, 0.5953529829, 0.6398109626, 0.5664205979, 0.5642905983,
    ],
    "segm": [
        0.3195452759, 0.5622883973, 0.2989265341, 0.3873740316, 0.3101827240, 0.3269339071,
        0.2682297226, 0.4154486811, 0.4168394992, 0.4694498623, 0.3767592267, 0.3814715100,
    ],
}  # fmt: skip


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_coco_val2014_100_through_the_workspace(ws: es.Workspace, iou_type: str) -> None:
    coco = shared_path("coco-val2014-100")
    gt = coco / "instances_val2014_100.json"
    ws.import_coco(gt)
    ws.import_coco(coco / f"instances_val2014_fake{iou_type}100_results.json", gt=gt, run="r")
    s = ws.evaluate("r", confidence=0.0, iou_type="segm" if iou_type == "segm" else "bbox")
    for name, want in zip(STATS, EXPECTED[iou_type], strict=True):
        assert s["coco"][name] == pytest.approx(want, abs=1e-6), name
    objects = ws.evaluation_results("r").to_pylist()
    crowd = [o for o in objects if o["source"] == "label" and o["status"] == "ignored"]
    assert len(crowd) == 9  # COCO matching ignores crowd ground truth
    lb = ws.evaluate("r", confidence=0.0, mode="labelbox", iou_type=s["params"]["iou_type"])
    assert lb["coco"] == s["coco"]  # AP/AR do not depend on the per-object matching
    assert lb["counts"]["tp"] + lb["counts"]["fn"] == 839  # Labelbox counts crowds too
    assert lb["counts"]["tp"] + lb["counts"]["fp"] == 734


def test_a_version_1_workspace_gains_the_result_tables(tmp_path: Path) -> None:
    import duckdb

    from errorscope.store.schema import MIGRATIONS

    path = tmp_path / "old"
    path.mkdir()
    con = duckdb.connect(str(path / "errorscope.duckdb"))
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    con.close()
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        assert ws.evaluate("det")["coco"]["AP50"] == pytest.approx(0.610, abs=5e-4)
        assert ws.evaluation_results("det", "rows").num_rows == 100
