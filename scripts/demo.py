"""Interim demo: load real VOC images, ground truth and a real detector's output.

The full ``errorscope demo`` (three real cases and the browser UI) is its own issue;
until it lands, this shows the foundation working on the real data in
``../shared/data/voc100`` when that folder is present.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import errorscope as es

VOC = Path(__file__).resolve().parents[2] / "shared" / "data" / "voc100"


def main(target: str) -> int:
    if not VOC.exists():
        print(
            "The full demo (real models, browser UI) is coming soon; this interim demo "
            f"needs the real data at {VOC}."
        )
        return 0
    path = Path(target)
    if path.exists():
        shutil.rmtree(path)
    with es.open_workspace(path) as ws:
        gt = ws.import_voc(VOC / "gts" / "pascalvoc_format", images_dir=VOC / "images")
        print(f"ground truth: {gt.labels} boxes on {gt.data_rows_created} images")
        dets = ws.import_yolo(
            VOC / "dets" / "abs_xywh",
            names=VOC / "voc.names",
            layout="ltwh",
            images_dir=VOC / "images",
            run="voc-dets",
            model="detector",
        )
        print(f"run voc-dets: {dets.predictions} predictions")
        ws.assign_splits("voc-dets", seed=0)
        summary = ws.evaluate("voc-dets")
        coco = summary["coco"]
        print(f"COCO AP {coco['AP']:.3f}, AP50 {coco['AP50']:.3f}, AP75 {coco['AP75']:.3f}")
    print(
        f"\nworkspace ready at {path}; try:\n  .venv/bin/errorscope info -w {path}\n"
        f"  .venv/bin/errorscope evaluate -w {path} --run voc-dets --mode labelbox\n"
        f"  .venv/bin/errorscope export coco -w {path} --run voc-dets out.json"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "demo-workspace"))
