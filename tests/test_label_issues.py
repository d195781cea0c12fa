"""Label-mistake scores: flipped labels on real digits (vs cleanlab), and planted wrong-class
and missing boxes in the real voc100 ground truth under the real detector."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import errorscope as es
from errorscope.core import labelissues as li
from tests.conftest import shared_path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from label_errors import digits_pixels, errorscope_flags, noisy_digits, prf


def test_digits_flipped_labels_at_least_cleanlab_f1(tmp_path: Path) -> None:
    pytest.importorskip("cleanlab")
    from cleanlab.filter import find_label_issues

    y, probs, flipped = noisy_digits(0.05, 0)
    ours, _secs = errorscope_flags(y, probs, 0.05, tmp_path)
    mine = np.zeros(len(y), bool)
    mine[ours] = True
    assert mine.sum() == flipped.sum()
    p, r, f = prf(mine, flipped)
    _cp, _cr, cf = prf(find_label_issues(y, probs), flipped)
    assert f >= cf, (p, r, f, cf)
    assert p > 0.7


def test_scores_in_unit_interval_and_direction() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    s = li.label_quality_scores([0, 0, 1], probs)
    assert s.tolist() == pytest.approx([0.1, 0.8, 0.6])
    adj = li.label_quality_scores([0, 0, 1], probs, adjust=True)
    assert ((adj >= 0) & (adj <= 1)).all()
    vectors = [[1, 0], [1, 0.01], [0, 1], [0.01, 1]]
    assert li.neighbour_disagreement(["a", "a", "b", "b"], vectors, k=1).tolist() == [0] * 4
    nd = li.neighbour_disagreement(["a", "b", "b", "b"], vectors, k=1)
    assert nd.tolist() == pytest.approx([1.0, 1.0, 0.0, 0.0])  # a 'b' among the 'a's


@pytest.mark.shared_data
def test_voc_planted_swapped_and_overlooked_labels_rank_high(
    ws: es.Workspace, tmp_path: Path
) -> None:
    voc = shared_path("voc100")
    gts = tmp_path / "gts"
    shutil.copytree(voc / "gts" / "pascalvoc_format", gts)
    # the real detector's confident, well-placed boxes (TPs of the untouched ground truth)
    # pick the images whose labels we corrupt
    with es.open_workspace(tmp_path / "clean") as clean:
        clean.import_voc(gts, images_dir=voc / "images")
        clean.import_yolo(
            voc / "dets" / "abs_xywh",
            names=voc / "voc.names",
            images_dir=voc / "images",
            layout="ltwh",
            run="det",
        )
        clean.evaluate("det", mode="labelbox", cross_class=True)
        objs = clean.evaluation_results("det", "objects").to_pylist()
        keys = {r["id"]: r["global_key"] for r in clean.data_rows().to_pylist()}
    good = sorted(
        {keys[o["data_row_id"]] for o in objs if o["source"] == "prediction"
         and o["status"] == "TP" and (o["confidence"] or 0) > 0.9}
    )  # fmt: skip
    rng = np.random.default_rng(3)
    picked = rng.choice(good, 10, replace=False).tolist()
    swapped, dropped = set(picked[:5]), set(picked[5:])
    for key in swapped:  # every object of the image gets the wrong class 'cow'/'sheep'
        xml = gts / f"{Path(key).stem}.xml"
        text = xml.read_text()
        text = re.sub(r"<name>(?!cow)[^<]+</name>", "<name>cow</name>", text)
        xml.write_text(text)
    for key in dropped:  # every object removed: the boxes are now unlabelled
        xml = gts / f"{Path(key).stem}.xml"
        xml.write_text(re.sub(r"<object>[\s\S]*?</object>", "", xml.read_text()))
    ws.import_voc(gts, images_dir=voc / "images")
    ws.import_yolo(
        voc / "dets" / "abs_xywh",
        names=voc / "voc.names",
        images_dir=voc / "images",
        layout="ltwh",
        run="det",
    )
    ws.evaluate("det", mode="labelbox", cross_class=True)
    issues = ws.label_issues("det")
    assert issues.method == "matches"
    rows = issues.rows.to_pylist()
    assert all(0.0 <= r["score"] <= 1.0 for r in rows)
    top = [r["global_key"] for r in rows[:20]]
    assert len((swapped | dropped) & set(top)) >= 8, top
    kinds = {r["global_key"]: r["kind"] for r in rows}
    assert sum(kinds[k] == "overlooked" for k in dropped) >= 4
    assert sum(kinds[k] == "swapped" for k in swapped) >= 3
    objects = issues.objects.to_pylist()
    assert objects[0]["score"] >= objects[-1]["score"]
    assert {o["kind"] for o in objects} <= {"", "overlooked", "swapped", "badly_located"}


def test_digits_neighbour_agreement_in_an_embedding_space(tmp_path: Path) -> None:
    """The digits' pixels as an embedding space: neighbour agreement sharpens the ranking."""
    if not hasattr(es.Workspace, "add_embeddings"):
        pytest.skip("embedding spaces are not part of Workspace in this tree")
    y, probs, flipped = noisy_digits(0.05, 1)
    plain, _ = errorscope_flags(y, probs, 0.05, tmp_path / "plain")
    near, _ = errorscope_flags(y, probs, 0.05, tmp_path / "near", digits_pixels())
    f_plain = prf(np.isin(np.arange(len(y)), plain), flipped)[2]
    f_near = prf(np.isin(np.arange(len(y)), near), flipped)[2]
    assert f_near > f_plain
    assert f_near > 0.9
