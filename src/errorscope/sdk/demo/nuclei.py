"""Demo case ``nuclei``: the fluorescence microscopy image of cell nuclei with its 125
hand-labelled instance masks that ship in the ``stardist`` wheel (``stardist/data/images/
img2d.tif`` and ``mask2d.tif``; the package is only read, never imported), cut into 16
tiles of 128x128 pixels (one data row each; a nucleus on a tile border is cut with it).

The model is a classical watershed with scikit-image: Gaussian smoothing, Otsu
threshold, hole filling, distance transform, one marker per local maximum, watershed.
It has no score, so each object's confidence is how far its mean intensity lies above
the Otsu threshold (relative to the image's 99th percentile), in [0.01, 1]; it is
evaluated with confidence threshold 0. Embeddings:
EfficientNet-Lite0 ImageNet features of the tiles (``image-effnet``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from errorscope.core.progress import report
from errorscope.errors import ErrorscopeError
from errorscope.sdk.workspace import Workspace

__all__ = ["DATASET", "RUN", "SPACE", "build", "source_files", "watershed"]

DATASET = "nuclei"
RUN = "nuclei-watershed"
SPACE = "nuclei-effnet"
TILE = 128
MIN_AREA = 10  # pixels of an object inside a tile, for ground truth and predictions alike

Labels = npt.NDArray[np.int32]


def source_files() -> tuple[Path, Path]:
    """The image and the instance-label image inside the installed ``stardist`` wheel."""
    spec = importlib.util.find_spec("stardist")
    if spec is None or not spec.submodule_search_locations:
        raise ErrorscopeError("the demo needs the 'stardist' package: pip install errorscope[demo]")
    images = Path(next(iter(spec.submodule_search_locations))) / "data" / "images"
    return images / "img2d.tif", images / "mask2d.tif"


def watershed(image: npt.NDArray[Any]) -> tuple[Labels, dict[int, float]]:
    """Instance labels of ``image`` and each label's confidence."""
    from scipy import ndimage as ndi
    from skimage import feature, filters, measure, segmentation

    smooth = filters.gaussian(image.astype(np.float64), sigma=1.5, preserve_range=True)
    threshold = float(filters.threshold_otsu(smooth))
    blobs, _ = ndi.label(smooth > threshold)
    sizes = np.bincount(blobs.ravel())
    fg = ndi.binary_fill_holes((sizes[blobs] >= 20) & (blobs > 0))
    distance = ndi.distance_transform_edt(fg)
    peaks = feature.peak_local_max(distance, min_distance=5, labels=measure.label(fg))
    markers = np.zeros(image.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    labels = np.asarray(segmentation.watershed(-distance, markers, mask=fg), dtype=np.int32)
    top = float(np.percentile(image, 99))
    ids = np.arange(1, int(labels.max()) + 1)
    means = ndi.mean(image.astype(np.float64), labels=labels, index=ids)
    scores = np.clip((np.asarray(means) - threshold) / max(top - threshold, 1e-9), 0.01, 1.0)
    return labels, {int(i): float(s) for i, s in zip(ids, scores, strict=True)}


def _objects(labels: Labels, key: str, scores: dict[int, float] | None) -> list[dict[str, Any]]:
    from pycocotools import mask as cocomask

    out = []
    for value in np.unique(labels):
        if value == 0:
            continue
        binary = labels == value
        area = int(binary.sum())
        if area < MIN_AREA:
            continue
        ys, xs = np.nonzero(binary)
        rle = cocomask.encode(np.asfortranarray(binary.astype(np.uint8)))
        record: dict[str, Any] = {
            "row_key": key,
            "class_name": "nucleus",
            "kind": "mask",
            "x1": float(xs.min()),
            "y1": float(ys.min()),
            "x2": float(xs.max() + 1),
            "y2": float(ys.max() + 1),
            "rle_counts": rle["counts"].decode("ascii"),
            "rle_h": binary.shape[0],
            "rle_w": binary.shape[1],
            "area": float(area),
        }
        if scores is not None:
            record["confidence"] = scores[int(value)]
        out.append(record)
    return out


def build(ws: Workspace, media: Path) -> dict[str, Any]:
    import tifffile
    from PIL import Image

    image_file, mask_file = source_files()
    image = np.asarray(tifffile.imread(image_file))
    truth = np.asarray(tifffile.imread(mask_file)).astype(np.int32)
    report("nuclei: watershed", 0, 1)
    predicted, scores = watershed(image)
    report("nuclei: watershed", 1, 1)
    lo, hi = np.percentile(image, [0.5, 99.8])
    display = (np.clip((image - lo) / max(hi - lo, 1e-9), 0, 1) * 255).astype(np.uint8)
    media.mkdir(parents=True, exist_ok=True)
    rows, gt, pred = [], [], []
    h, w = image.shape
    for ty in range(0, h, TILE):
        for tx in range(0, w, TILE):
            key = f"nuclei-y{ty:03d}-x{tx:03d}.png"
            window = (slice(ty, ty + TILE), slice(tx, tx + TILE))
            Image.fromarray(display[window]).save(media / key)
            rows.append(
                {
                    "global_key": key,
                    "media_type": "image",
                    "uri": str(media / key),
                    "width": TILE,
                    "height": TILE,
                }
            )
            gt += _objects(truth[window], key, None)
            pred += _objects(predicted[window], key, scores)
    ws.add_data_rows(rows, dataset=DATASET, source=str(image_file))
    ws.add_labels(gt, source=str(mask_file))
    ws.create_run(
        RUN,
        model="skimage-watershed",
        config={"sigma": 1.5, "threshold": "otsu", "min_distance": 5},
    )
    ws.add_predictions(RUN, pred, source="scikit-image watershed")
    ws.assign_splits(RUN, seed=0)
    summary = ws.evaluate(RUN, iou_type="segm", confidence=0.0)
    report("nuclei: image embeddings", 0, 1)
    ws.embed(SPACE, "image-effnet", dataset=DATASET)
    ws.projection(SPACE, "pca")
    report("nuclei: image embeddings", 1, 1)
    return {
        "dataset": DATASET,
        "run": RUN,
        "rows": len(rows),
        "labels": len(gt),
        "predictions": len(pred),
        "instances": int(len(np.unique(truth)) - 1),
        "spaces": [SPACE],
        "metrics": {k: summary["coco"][k] for k in ("AP", "AP50", "AP75", "AR100")},
    }
