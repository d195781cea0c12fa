"""Per-object embedding spaces without a model: custom object vectors (NDJSON by uuid or
annotation_id, .npy + id list, arrays) on the real voc100 ground truth and detections,
all-or-nothing errors naming file, line and field; search over objects and over the
rows containing them, equal to exact search and combined with filters; the ``similar``
filter node; projections with each point's object and row; the crop geometry."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from PIL import Image

import errorscope as es
from errorscope.core.query import ClassPresent, Similar
from errorscope.embed.crops import crop_inputs, object_boxes
from errorscope.errors import InvalidInputError, InvalidQueryError
from errorscope.sdk.attributes import embedding_clusters, load_frame
from errorscope.store.embeddings import EMBEDDINGS_DIR
from tests.conftest import load_voc100, shared_path, snapshot

pytestmark = pytest.mark.shared_data

DIM = 12


def _load_coco_gt(ws: es.Workspace) -> None:
    """voc100's ground truth from its COCO file (annotations get uuids: the COCO ids)."""
    voc = shared_path("voc100")
    ws.import_coco(voc / "gts" / "coco_format_v1" / "instances_default.json")


def _vectors(n: int, seed: int = 0) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def _ndjson(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def _exact(vectors: np.ndarray[Any, Any], query: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.asarray(1.0 - unit.astype(np.float64) @ (query / np.linalg.norm(query)))


def _fails(ws: es.Workspace, call: Callable[[], object]) -> InvalidInputError:
    before = snapshot(ws)
    with pytest.raises(InvalidInputError) as info:
        call()
    assert snapshot(ws) == before
    assert ws.embedding_spaces() == []
    root = ws.path / EMBEDDINGS_DIR
    assert not root.exists() or not any(root.iterdir())
    return info.value


def test_ndjson_by_uuid_makes_an_object_space(ws: es.Workspace, tmp_path: Path) -> None:
    _load_coco_gt(ws)
    labels = ws.labels()
    uuids = labels.column("uuid").to_pylist()
    ids = labels.column("id").to_pylist()
    rows = labels.column("data_row_id").to_pylist()
    assert len(uuids) == 273
    assert all(uuids)
    vecs = _vectors(len(uuids))
    # by uuid, in reverse order, every other line by annotation_id
    recs: list[dict[str, Any]] = []
    for j in reversed(range(len(uuids))):
        key = {"uuid": uuids[j]} if j % 2 else {"annotation_id": ids[j]}
        recs.append({**key, "vector": vecs[j].tolist()})
    info = ws.import_embeddings(_ndjson(tmp_path / "o.ndjson", recs), space="o", objects="gt")
    assert (info.level, info.objects, info.run, info.count, info.dim) == (
        "object",
        "gt",
        None,
        273,
        DIM,
    )
    assert info.to_json()["level"] == "object"
    (directory,) = (ws.path / EMBEDDINGS_DIR).iterdir()
    stored_ids = np.load(directory / "ids.npy")
    order = np.argsort(ids)
    assert stored_ids.tolist() == sorted(ids)
    assert np.load(directory / "rows.npy").tolist() == np.asarray(rows)[order].tolist()
    np.testing.assert_array_equal(np.load(directory / "vectors.npy"), vecs[order])

    # nearest objects = exact cosine search, anchor excluded, with row, class and uuid
    anchor = 5
    got = ws.similar_objects("o", objects=[ids[anchor]], k=8)
    dist = _exact(vecs, vecs[anchor])
    ref = sorted((d, i) for i, d in zip(ids, dist.tolist(), strict=True) if i != ids[anchor])[:8]
    assert [o.id for o in got] == [i for _, i in ref]
    np.testing.assert_allclose([o.distance for o in got], [d for d, _ in ref], atol=1e-5)
    names = labels.column("class_name").to_pylist()
    keys = labels.column("row_key").to_pylist()
    for o in got:
        j = ids.index(o.id)
        assert (o.uuid, o.data_row_id, o.class_name, o.global_key) == (
            uuids[j],
            rows[j],
            names[j],
            keys[j],
        )
    # other_rows: nothing on the anchor's row
    others = ws.similar_objects("o", objects=[ids[anchor]], k=20, other_rows=True)
    assert others
    assert all(o.data_row_id != rows[anchor] for o in others)

    # rows containing the nearest objects: each row at its nearest object's distance
    best: dict[int, float] = {}
    for i, d in sorted(zip(ids, dist.tolist(), strict=True), key=lambda t: (t[1], t[0])):
        if i != ids[anchor]:
            best.setdefault(rows[ids.index(i)], d)
    ref_rows = sorted(best.items(), key=lambda t: (t[1], t[0]))[:10]
    got_rows = ws.similar("o", objects=[ids[anchor]], k=10)
    assert [r.id for r in got_rows] == [r for r, _ in ref_rows]
    np.testing.assert_allclose([r.distance for r in got_rows], [d for _, d in ref_rows], atol=1e-5)
    assert got_rows[0].global_key == keys[rows.index(got_rows[0].id)]


def test_object_search_combines_with_filters_and_the_similar_node(
    ws: es.Workspace, tmp_path: Path
) -> None:
    load_voc100(ws)
    labels = ws.labels()
    ids = labels.column("id").to_pylist()
    rows = labels.column("data_row_id").to_pylist()
    names = labels.column("class_name").to_pylist()
    vecs = _vectors(len(ids), seed=3)
    ws.add_embeddings("o", vecs, ids=ids, objects="gt")
    dog_rows = {r for r, c in zip(rows, names, strict=True) if c == "dog"}
    anchor = ids[names.index("cat")]
    dogs = ClassPresent("label", "dog")
    # objects: only objects on rows with a dog label, in the order of the full search
    got = ws.similar_objects("o", objects=[anchor], k=5, filter=dogs)
    assert got
    assert {o.data_row_id for o in got} <= dog_rows
    everything = ws.similar_objects("o", objects=[anchor], k=len(ids))
    assert [o.id for o in got] == [o.id for o in everything if o.data_row_id in dog_rows][:5]
    # rows: only rows in the filter
    got_rows = ws.similar("o", objects=[anchor], k=4, filter=dogs)
    all_rows = ws.similar("o", objects=[anchor], k=100)
    assert [r.id for r in got_rows] == [r.id for r in all_rows if r.id in dog_rows][:4]
    # the similar filter node on an object space selects those rows
    near = {r.id for r in ws.similar("o", objects=[anchor], k=7)}
    scope = {r.id for r in ws.query("det", None, limit=1000).rows}
    page = ws.query("det", Similar("o", (anchor,), 7), limit=1000)
    assert {r.id for r in page.rows} == near & scope
    assert len(near) == 7
    # row anchors on an object space (and object anchors on a row space) are errors
    with pytest.raises(InvalidQueryError, match="per object"):
        ws.similar("o", rows=[rows[0]])
    ws.add_embeddings("r", _vectors(100), ids=sorted(set(ws.data_rows().column("id").to_pylist())))
    with pytest.raises(InvalidQueryError, match="per data row"):
        ws.similar("r", objects=[anchor])
    with pytest.raises(InvalidQueryError, match="not per object"):
        ws.similar_objects("r", vector=[0.0] * DIM)
    with pytest.raises(InvalidQueryError, match="object 999999 has no vector"):
        ws.similar_objects("o", objects=[999999])
    # analyses that want a vector per row leave object spaces alone
    ws.evaluate("det")
    clusters = [a.key for a in embedding_clusters(ws.db, load_frame(ws.db, "det"))]
    assert clusters
    assert all(name.endswith(":r") for name in clusters)
    with pytest.raises(InvalidQueryError, match="per object"):
        ws.label_issues("det", space="o")


def test_prediction_spaces_and_projection(ws: es.Workspace, tmp_path: Path) -> None:
    load_voc100(ws)
    preds = ws.predictions("det")
    pids = preds.column("id").to_pylist()
    prows = preds.column("data_row_id").to_pylist()
    np.save(tmp_path / "p.npy", _vectors(len(pids), seed=5))
    (tmp_path / "p.txt").write_text("".join(f"{i}\n" for i in pids))
    info = ws.import_embeddings(
        tmp_path / "p.npy", ids=tmp_path / "p.txt", space="p", objects="predictions", run="det"
    )
    assert (info.objects, info.run, info.count) == ("predictions", "det", 452)
    proj = ws.projection("p")
    assert proj.rows is not None
    by_id = dict(zip(pids, prows, strict=True))
    assert proj.ids.tolist() == sorted(pids)
    assert proj.rows.tolist() == [by_id[i] for i in proj.ids.tolist()]
    assert proj.xy.shape == (452, 2)
    assert np.isfinite(proj.xy).all()
    raw = proj.to_bytes()
    n = len(pids)
    assert len(raw) == n * (8 + 8 + 8)
    assert np.frombuffer(raw[n * 16 :], "<i8").tolist() == proj.rows.tolist()
    found = ws.similar_objects("p", objects=[pids[0]], k=3)
    assert all(o.class_name for o in found)
    # an id that is no prediction of the run
    big = max(pids) + 1
    err = _fails_keep(
        ws,
        lambda: ws.add_embeddings("p2", _vectors(1), ids=[big], objects="predictions", run="det"),
    )
    assert f"unknown annotation id {big} (not in the predictions of run 'det')" in str(err)


def _fails_keep(ws: es.Workspace, call: Callable[[], object]) -> InvalidInputError:
    """Like :func:`_fails` in a workspace that already has spaces: nothing changes."""
    before = (snapshot(ws), ws.embedding_spaces(), sorted((ws.path / EMBEDDINGS_DIR).iterdir()))
    with pytest.raises(InvalidInputError) as info:
        call()
    after = (snapshot(ws), ws.embedding_spaces(), sorted((ws.path / EMBEDDINGS_DIR).iterdir()))
    assert after == before
    return info.value


@pytest.mark.parametrize(
    ("line", "record", "field", "message"),
    [
        (2, {"uuid": "no-such-uuid", "vector": [0.5] * DIM}, "uuid", "unknown uuid"),
        (2, {"annotation_id": 10**9, "vector": [0.5] * DIM}, "annotation_id", "unknown"),
        (2, {"uuid": None, "vector": [0.5] * DIM}, "uuid", "non-empty string"),
        (2, {"annotation_id": -3, "vector": [0.5] * DIM}, "annotation_id", "non-negative"),
        (2, {"id": 1, "vector": [0.5] * DIM}, "annotation_id", "'annotation_id' or a 'uuid'"),
        (2, {"uuid": "FIRST", "vector": [0.5] * (DIM + 1)}, "vector", "13 dimensions"),
        (2, {"uuid": "FIRST", "vector": [0.5, "x"] + [0.0] * (DIM - 2)}, "vector", "numbers"),
    ],
)
def test_bad_object_vectors_name_file_line_field_and_change_nothing(
    ws: es.Workspace, tmp_path: Path, line: int, record: dict[str, Any], field: str, message: str
) -> None:
    _load_coco_gt(ws)
    uuids = ws.labels().column("uuid").to_pylist()
    first = {"uuid": uuids[0], "vector": [0.1] * DIM}
    if record.get("uuid") == "FIRST":
        record = {**record, "uuid": uuids[1]}
    path = _ndjson(tmp_path / "bad.ndjson", [first, record])
    err = _fails(ws, lambda: ws.import_embeddings(path, space="o", objects="gt"))
    assert (err.path, err.line, err.field) == (str(path), line, field)
    assert message in str(err)


def test_nan_duplicates_and_id_lists(ws: es.Workspace, tmp_path: Path) -> None:
    _load_coco_gt(ws)
    labels = ws.labels()
    uuids = labels.column("uuid").to_pylist()
    ids = labels.column("id").to_pylist()
    path = tmp_path / "nan.ndjson"
    path.write_text(
        f'{{"uuid": "{uuids[0]}", "vector": [1, 2]}}\n\n'
        f'{{"uuid": "{uuids[1]}", "vector": [1, NaN]}}\n'
    )
    err = _fails(ws, lambda: ws.import_embeddings(path, space="o", objects="gt"))
    assert (err.line, err.field) == (3, "vector")
    assert "NaN" in str(err)
    dup = _ndjson(
        tmp_path / "dup.ndjson",
        [
            {"uuid": uuids[0], "vector": [1.0, 2.0]},
            {"uuid": uuids[1], "vector": [1.0, 2.0]},
            {"annotation_id": ids[0], "vector": [3.0, 2.0]},
        ],
    )
    err = _fails(ws, lambda: ws.import_embeddings(dup, space="o", objects="gt"))
    assert (err.line, err.field) == (3, "annotation_id")
    assert "already" in str(err)
    # .npy + a text id list of uuids: a bad uuid is named by its line in the id list
    np.save(tmp_path / "v.npy", _vectors(3))
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text(f"{uuids[0]}\n{uuids[1]}\nnot-a-uuid\n")
    err = _fails(
        ws, lambda: ws.import_embeddings(tmp_path / "v.npy", ids=ids_file, space="o", objects="gt")
    )
    assert (err.path, err.line, err.field) == (str(ids_file), 3, "uuid")
    ids_file.write_text(f"{uuids[0]}\n{uuids[1]}\n")
    err = _fails(
        ws, lambda: ws.import_embeddings(tmp_path / "v.npy", ids=ids_file, space="o", objects="gt")
    )
    assert err.field == "annotation_id"
    assert "2 ids for 3 vectors" in str(err)
    # NaN in the .npy matrix: its row
    bad = _vectors(3)
    bad[1, 4] = np.nan
    np.save(tmp_path / "v.npy", bad)
    ids_file.write_text(f"{uuids[0]}\n{uuids[1]}\n{uuids[2]}\n")
    err = _fails(
        ws, lambda: ws.import_embeddings(tmp_path / "v.npy", ids=ids_file, space="o", objects="gt")
    )
    assert (err.location, err.field) == ("row 2", "vector")
    # predictions need a run, the ground truth takes none
    err = _fails(ws, lambda: ws.import_embeddings(dup, space="o", objects="predictions"))
    assert err.field == "run"
    with pytest.raises(es.NotFoundError):
        ws.import_embeddings(dup, space="o", objects="predictions", run="nope")
    # the good file, by uuid, in a .npy with a JSON id list
    (tmp_path / "ids.json").write_text(json.dumps(uuids[:3]))
    np.save(tmp_path / "v.npy", _vectors(3))
    info = ws.import_embeddings(
        tmp_path / "v.npy", ids=tmp_path / "ids.json", space="o", objects="gt"
    )
    assert (info.level, info.count) == ("object", 3)


def test_crop_geometry_on_real_shapes() -> None:
    """Boxes from polygons and masks (the COCO fixture's real segmentations, with the
    stored box hidden) are the COCO boxes; crops keep the aspect ratio on grey."""
    coco = json.loads(shared_path("coco-val2014-100", "instances_val2014_100.json").read_text())
    polys = [a for a in coco["annotations"] if isinstance(a["segmentation"], list)][:50]
    table = pa.table(
        {
            "x1": pa.nulls(len(polys), pa.float64()),
            "y1": pa.nulls(len(polys), pa.float64()),
            "x2": pa.nulls(len(polys), pa.float64()),
            "y2": pa.nulls(len(polys), pa.float64()),
            "coords": pa.array(
                [a["segmentation"] for a in polys], pa.list_(pa.list_(pa.float64()))
            ),
            "rle_counts": pa.nulls(len(polys), pa.string()),
            "rle_h": pa.nulls(len(polys), pa.int32()),
            "rle_w": pa.nulls(len(polys), pa.int32()),
        }
    )
    boxes = object_boxes(table)
    want = np.asarray([a["bbox"] for a in polys], dtype=np.float64)
    want[:, 2:] += want[:, :2]
    np.testing.assert_allclose(boxes, want, atol=1.0)

    photo = sorted(shared_path("voc100", "images").iterdir())[0]
    with Image.open(photo) as img:
        rgb = img.convert("RGB")
    wide = np.asarray([[100.0, 100.0, 300.0, 150.0]])  # 200 x 50, square crop 240 x 240
    tall = np.asarray([[0.0, 100.0, 10.0, 300.0]])  # at the left edge: clipped
    out = crop_inputs(rgb, np.concatenate([wide, tall]), margin=0.1)
    assert out.shape == (2, 3, 224, 224)
    assert out.dtype == np.float32
    assert np.abs(out[0]).max() > 0.1  # picture everywhere: the square fits the image
    # the tall crop (125 x 240 once clipped) sits on grey bands left and right
    assert np.all(out[1][:, :, :50] == 0.0)
    assert np.all(out[1][:, :, -50:] == 0.0)
    assert np.abs(out[1][:, :, 100:124]).max() > 0.1


def test_parquet_object_vectors_and_embed_argument_errors(ws: es.Workspace, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    _load_coco_gt(ws)
    labels = ws.labels()
    ids = labels.column("id").to_pylist()
    vecs = _vectors(len(ids), seed=9)
    table = pa.table({"annotation_id": ids, "vector": [v.tolist() for v in vecs]})
    pq.write_table(table, tmp_path / "o.parquet")
    info = ws.import_embeddings(tmp_path / "o.parquet", space="o", objects="gt")
    assert (info.level, info.count) == ("object", len(ids))
    bad = pa.table({"annotation_id": [ids[0], 10**9], "vector": [vecs[0].tolist()] * 2})
    pq.write_table(bad, tmp_path / "bad.parquet")
    err = _fails_keep(
        ws, lambda: ws.import_embeddings(tmp_path / "bad.parquet", space="o2", objects="gt")
    )
    assert (err.location, err.field) == ("row 2", "annotation_id")
    no_ids = pa.table({"id": [ids[0]], "vector": [vecs[0].tolist()]})
    pq.write_table(no_ids, tmp_path / "rowids.parquet")
    err = _fails_keep(
        ws, lambda: ws.import_embeddings(tmp_path / "rowids.parquet", space="o2", objects="gt")
    )
    assert "no 'annotation_id' or 'uuid' column" in str(err)
    # crops need the image model; a run goes with predictions only
    err = _fails_keep(ws, lambda: ws.embed("x", "text-minilm", objects="gt"))
    assert err.field == "model"
    err = _fails_keep(ws, lambda: ws.embed("x", "image-effnet", objects="gt", run="det"))
    assert err.field == "run"
