from __future__ import annotations

import errorscope as es
from errorscope.ingest.coco import parse_coco, parse_coco_results
from tests.conftest import shared_path


def test_coco_ground_truth_and_both_result_files(ws: es.Workspace) -> None:
    gt = shared_path("coco-val2014-100", "instances_val2014_100.json")
    report = ws.ingest(parse_coco(gt))
    assert (report.data_rows_created, report.labels, report.classes_created) == (100, 839, 80)
    labels = ws.labels()
    assert sum(labels.column("iscrowd").to_pylist()) == 9
    kinds = set(labels.column("kind").to_pylist())
    assert kinds == {"polygon", "mask"}
    for name in ("fakebbox", "fakesegm"):
        results = shared_path("coco-val2014-100", f"instances_val2014_{name}100_results.json")
        report = ws.ingest(parse_coco_results(results, gt=gt), run=name)
        assert report.predictions == 734
        scores = ws.predictions(name).column("confidence").to_pylist()
        assert all(0 <= s <= 1 for s in scores)
        assert len(set(scores)) > 1
