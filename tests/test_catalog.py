"""The catalog (every data row, no model run) through the SDK, the REST API and the CLI on
real voc100 data: the VOC ground truth of only some images is imported, so the unlabeled
rows are a known set, computed here from the file names; a text dataset with metadata
sits beside it, and an embedding space made from the real pixels serves similarity."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import errorscope as es
from errorscope.cli import cli
from errorscope.server import create_app
from tests.conftest import shared_path
from tests.test_server import Client, assert_error, ok

NOTES = [
    ("note-1", "The cat sat on the mat", "a", 3),
    ("note-2", "A dog chased the CAT", "b", 1),
    ("note-3", "Nothing here '; DROP TABLE data_rows; --", "a", 2),
]


def _xml_classes(path: Path) -> set[str]:
    return {str(o.findtext("name")) for o in ET.parse(path).getroot().iter("object")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    voc = shared_path("voc100")
    tmp = tmp_path_factory.mktemp("catalog")
    xmls = sorted((voc / "gts" / "pascalvoc_format").glob("*.xml"))
    labeled = [p for i, p in enumerate(xmls) if i % 4 != 0]  # 3 of 4 images get their GT
    gt_dir = tmp / "gt"
    gt_dir.mkdir()
    for p in labeled:
        shutil.copy(p, gt_dir / p.name)
    images = sorted((voc / "images").glob("*.jpg"))
    labeled_keys = {p.stem + ".jpg" for p in labeled}
    path = tmp / "ws"
    with es.open_workspace(path) as ws:
        for name in (voc / "voc.names").read_text().split():
            ws.add_class(name, "bbox")
        ws.import_voc(gt_dir, images_dir=voc / "images")
        rest = []
        for img in images:
            if img.name in labeled_keys:
                continue
            with Image.open(img) as im:
                w, h = im.size
            rest.append(
                {
                    "global_key": img.name,
                    "media_type": "image",
                    "uri": str(img),
                    "width": w,
                    "height": h,
                }
            )
        ws.add_data_rows(rest)
        ws.import_yolo(
            voc / "dets" / "abs_xywh",
            names=voc / "voc.names",
            images_dir=voc / "images",
            layout="ltwh",
            run="det",
        )
        ws.evaluate("det")
        notes = tmp / "notes.ndjson"
        notes.write_text(
            "".join(
                json.dumps(
                    {
                        "global_key": key,
                        "row_data": text,
                        "media_type": "text",
                        "metadata_fields": [
                            {"name": "source", "value": source},
                            {"name": "rank", "value": rank},
                        ],
                    }
                )
                + "\n"
                for key, text, source, rank in NOTES
            )
        )
        ws.import_data_rows(notes, dataset="notes")
        # a small real embedding: each image's 8x8 RGB thumbnail
        table = ws.data_rows().to_pylist()
        img_rows = [r for r in table if r["media_type"] == "image"]
        vectors = np.stack(
            [
                np.asarray(Image.open(r["uri"]).convert("RGB").resize((8, 8)), np.float32).ravel()
                / 255
                for r in img_rows
            ]
        )
        ws.add_embeddings("pix", vectors, ids=[r["id"] for r in img_rows], dataset="default")
        key_of = {int(r["id"]): r["global_key"] for r in table}
    return {
        "path": path,
        "key_of": key_of,
        "id_of": {k: i for i, k in key_of.items()},
        "unlabeled_images": {p.name for p in images} - labeled_keys,
        "labeled_classes": {p.stem + ".jpg": _xml_classes(p) for p in labeled},
        "vectors": vectors,
        "vector_ids": [r["id"] for r in img_rows],
    }


@pytest.fixture
def ws(built: dict[str, Any]) -> Iterator[es.Workspace]:
    with es.open_workspace(built["path"]) as workspace:
        yield workspace


def _keys(built: dict[str, Any], ids: list[int]) -> set[str]:
    return {built["key_of"][i] for i in ids}


def _all(ws: es.Workspace, filter: Any = None, **kwargs: Any) -> list[int]:
    """Every matching id, page by page (and the pages agree on the total)."""
    out: list[int] = []
    cursor = None
    totals = set()
    while True:
        page = ws.catalog(filter, limit=7, cursor=cursor, **kwargs)
        out += [r.id for r in page.rows]
        totals.add(page.total)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert totals == {len(out)}
    assert len(set(out)) == len(out)
    return out


# -- SDK -------------------------------------------------------------------------------------
def test_every_row_of_every_dataset_page_by_page(ws: es.Workspace, built: dict[str, Any]) -> None:
    ids = _all(ws)
    assert ids == sorted(built["key_of"])  # by id, every row of both datasets
    assert ws.catalog().total == 100 + len(NOTES)
    assert _keys(built, _all(ws, datasets=["notes"])) == {k for k, *_ in NOTES}
    assert ws.catalog(datasets=["default", "notes"]).total == 100 + len(NOTES)
    with pytest.raises(es.NotFoundError, match="no dataset named 'nope'"):
        ws.catalog(datasets=["nope"])


def test_unlabeled_rows_are_exactly_those_without_ground_truth(
    ws: es.Workspace, built: dict[str, Any]
) -> None:
    images = _all(ws, datasets=["default"], unlabeled=True)
    assert _keys(built, images) == built["unlabeled_images"]
    assert len(images) == 25
    # the flag is the filter "no label of any class"; text rows have no labels either
    none = {"type": "class", "side": "label", "class_name": None, "present": False}
    everywhere = _all(ws, none)
    assert _keys(built, everywhere) == built["unlabeled_images"] | {k for k, *_ in NOTES}
    assert _all(ws, unlabeled=True) == everywhere
    summary = ws.catalog_summary()
    assert summary["datasets"] == [
        {"dataset": "default", "total": 100, "labeled": 75, "unlabeled": 25},
        {"dataset": "notes", "total": 3, "labeled": 0, "unlabeled": 3},
    ]
    classes = set().union(*built["labeled_classes"].values())
    assert summary["classes"] == sorted(classes)
    assert summary["metadata_fields"] == [
        {"name": "rank", "type": "number"},
        {"name": "source", "type": "string"},
    ]


def test_class_present_and_absent(ws: es.Workspace, built: dict[str, Any]) -> None:
    truth = built["labeled_classes"]
    person = {"type": "class", "side": "label", "class_name": "person"}
    assert _keys(built, _all(ws, person)) == {k for k, c in truth.items() if "person" in c}
    no_person = {"type": "not", "filter": person}
    got = _keys(built, _all(ws, no_person, datasets=["default"]))
    assert got == {k for k, c in truth.items() if "person" not in c} | built["unlabeled_images"]
    either = {
        "type": "or",
        "filters": [person, {"type": "class", "side": "label", "class_name": "dog"}],
    }
    want = {k for k, c in truth.items() if c & {"person", "dog"}}
    assert _keys(built, _all(ws, either)) == want


def test_metadata_text_ids_and_metadata_sort(ws: es.Workspace, built: dict[str, Any]) -> None:
    source_a = {"type": "metadata", "name": "source", "equals": "a"}
    assert _keys(built, _all(ws, source_a)) == {k for k, _, s, _ in NOTES if s == "a"}
    cat = {"type": "text", "text": "cat"}
    assert _keys(built, _all(ws, cat)) == {k for k, t, *_ in NOTES if "cat" in t.lower()}
    some = sorted(built["key_of"])[5:9]
    assert _all(ws, {"type": "ids", "ids": some}) == some
    page = ws.catalog(datasets=["notes"], sort="meta(rank):desc")
    assert [built["key_of"][r.id] for r in page.rows] == [
        k for k, *_ in sorted(NOTES, key=lambda n: -n[3])
    ]
    assert [r.sort_value for r in page.rows] == [3, 2, 1]
    # SQL in a value is a value: nothing matches, nothing is dropped
    drop = {"type": "text", "text": "x'; DROP TABLE data_rows; --"}
    assert ws.catalog(drop).total == 0
    assert ws.catalog().total == 100 + len(NOTES)


@pytest.mark.parametrize(
    ("leaf", "named"),
    [
        ({"type": "split", "values": ["train"]}, "split"),
        ({"type": "class", "side": "prediction", "class_name": "dog"}, "prediction class"),
        ({"type": "metric", "name": "iou", "hi": 0.5}, "metric filter on 'iou'"),
        ({"type": "confusion", "gt_class": "dog", "pred_class": None}, "confusion"),
        ({"type": "object", "side": "prediction", "status": "FP"}, "object filter"),
        ({"type": "custom_metric", "name": "m", "lo": 0}, "custom metric"),
        ({"type": "slice", "name": "low_f1"}, "slice 'low_f1'"),
    ],
)
def test_filters_that_need_a_run_are_refused_by_name(
    ws: es.Workspace, leaf: dict[str, Any], named: str
) -> None:
    nested = {
        "type": "and",
        "filters": [{"type": "text", "text": "x"}, {"type": "not", "filter": leaf}],
    }
    with pytest.raises(es.InvalidQueryError, match=named):
        ws.catalog(nested)
    with pytest.raises(es.InvalidQueryError, match="meta"):
        ws.catalog(sort="iou:asc")


def test_saved_slices_without_run_filters_work(ws: es.Workspace, built: dict[str, Any]) -> None:
    ws.save_slice("notes-a", {"type": "metadata", "name": "source", "equals": "a"})
    ws.save_slice("bad-iou", {"type": "metric", "name": "iou", "hi": 0.5})
    got = _all(ws, {"type": "slice", "name": "notes-a"})
    assert _keys(built, got) == {k for k, _, s, _ in NOTES if s == "a"}
    with pytest.raises(es.InvalidQueryError, match="slice 'bad-iou' needs a model run"):
        ws.catalog({"type": "slice", "name": "bad-iou"})


def test_similar_rows_keep_the_other_filters(ws: es.Workspace, built: dict[str, Any]) -> None:
    vectors, ids = built["vectors"], np.asarray(built["vector_ids"])
    anchor = int(ids[0])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit[0]
    order = [int(i) for i in ids[np.argsort(-sims, kind="stable")] if int(i) != anchor]
    nearest = set(order[:10])
    similar = {"type": "similar", "space": "pix", "anchors": [anchor], "k": 10}
    assert set(_all(ws, similar)) == nearest
    both = {"type": "and", "filters": [similar]}
    got = set(_all(ws, both, unlabeled=True))
    assert got == {i for i in nearest if built["key_of"][i] in built["unlabeled_images"]}


def test_saved_slice_with_a_similar_filter(built: dict[str, Any]) -> None:
    """Similarity needs no run: a saved slice holding one works in the catalog, in a
    batch without a run and in ``errorscope catalog --slice``; its run-only sibling does
    not, and the refusal names the slice."""
    vectors, ids = built["vectors"], np.asarray(built["vector_ids"])
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    order = [int(i) for i in ids[np.argsort(-(unit @ unit[1]), kind="stable")]]
    nearest = set([i for i in order if i != int(ids[1])][:6])
    similar = {"type": "similar", "space": "pix", "anchors": [int(ids[1])], "k": 6}
    with es.open_workspace(built["path"]) as ws:
        ws.save_slice("near", similar)
        ws.save_slice(
            "near-unlabeled",
            {
                "type": "and",
                "filters": [
                    {"type": "slice", "name": "near"},
                    {"type": "class", "side": "label", "class_name": None, "present": False},
                ],
            },
        )
        ws.save_slice(
            "near-fp",
            {
                "type": "and",
                "filters": [
                    {"type": "slice", "name": "near"},
                    {"type": "object", "side": "prediction", "status": "FP"},
                ],
            },
        )
        assert set(_all(ws, {"type": "slice", "name": "near"})) == nearest
        unlabeled = {i for i in nearest if built["key_of"][i] in built["unlabeled_images"]}
        assert set(_all(ws, {"type": "slice", "name": "near-unlabeled"})) == unlabeled
        with pytest.raises(es.InvalidQueryError, match="slice 'near-fp' needs a model run"):
            ws.catalog(
                {
                    "type": "or",
                    "filters": [
                        {"type": "slice", "name": "near"},
                        {"type": "slice", "name": "near-fp"},
                    ],
                }
            )
        ws.create_labeling_project("near-review", backend="files")
        report = ws.create_batch("near rows", project="near-review", slice="near")
        assert set(report.rows) == nearest
        assert ws.batch("near rows").run is None
    done = CliRunner().invoke(
        cli, ["catalog", "-w", str(built["path"]), "--slice", "near", "--json"]
    )
    assert done.exit_code == 0, done.output
    assert {r["id"] for r in json.loads(done.stdout)["rows"]} == nearest


def test_send_the_unlabeled_rows_to_labeling(ws: es.Workspace, built: dict[str, Any]) -> None:
    ws.create_labeling_project("catalog-review", backend="files")
    none = {"type": "class", "side": "label", "class_name": None, "present": False}
    report = ws.create_batch("unlabeled images", project="catalog-review", filter=none)
    assert _keys(built, report.rows) == built["unlabeled_images"] | {k for k, *_ in NOTES}
    batch = ws.batch("unlabeled images")
    assert batch.run is None
    assert batch.rows == len(report.rows)
    with pytest.raises(es.InvalidQueryError, match="metric"):
        ws.create_batch(
            "bad", project="catalog-review", filter={"type": "metric", "name": "iou", "lo": 0}
        )


def test_pages_follow_data_changes(tmp_path: Path) -> None:
    """Matching ids are kept between pages; new labels and rows show on the next query."""
    with es.open_workspace(tmp_path / "fresh") as ws:
        ids = ws.add_data_rows(
            [
                {"global_key": f"r{i}.txt", "media_type": "text", "text": f"row {i}"}
                for i in range(5)
            ]
        )
        first = ws.catalog(unlabeled=True, limit=2)
        assert [r.id for r in first.rows] == ids[:2]
        assert first.total == 5
        span = {"kind": "text_span", "class_name": "thing", "span_start": 0, "span_end": 3}
        ws.add_labels([{**span, "row_key": "r2.txt"}, {**span, "row_key": "r0.txt"}])
        after = ws.catalog(unlabeled=True, limit=2, cursor=first.next_cursor)
        assert [r.id for r in after.rows] == [ids[3], ids[4]]
        assert after.total == 3
        assert after.next_cursor is None
        assert ws.catalog_summary()["datasets"][0]["unlabeled"] == 3
        ws.add_data_rows([{"global_key": "r9.txt", "media_type": "text", "text": "new"}])
        assert ws.catalog_ids(unlabeled=True) == [ids[1], ids[3], ids[4], ids[4] + 1]
        assert ws.catalog_summary()["datasets"][0] == {
            "dataset": "default",
            "total": 6,
            "labeled": 2,
            "unlabeled": 4,
        }


# -- REST ------------------------------------------------------------------------------------
@pytest.fixture
def client(built: dict[str, Any]) -> Iterator[Client]:
    c = Client(create_app(built["path"]))
    yield c
    c.close()


def test_rest_catalog(client: Client, built: dict[str, Any]) -> None:
    summary = ok(client.get("/api/catalog"))
    assert summary["datasets"][0] == {
        "dataset": "default",
        "total": 100,
        "labeled": 75,
        "unlabeled": 25,
    }
    body = ok(
        client.post(
            "/api/catalog/rows",
            json={"datasets": ["default"], "unlabeled": True, "limit": 10_000},
        )
    )
    assert body["total"] == 25
    assert {r["global_key"] for r in body["rows"]} == built["unlabeled_images"]
    assert body["next_cursor"] is None
    first = ok(client.get("/api/catalog/rows", params={"limit": 2, "dataset": "notes"}))
    assert [r["global_key"] for r in first["rows"]] == ["note-1", "note-2"]
    second = ok(
        client.get(
            "/api/catalog/rows",
            params={"limit": 2, "dataset": "notes", "cursor": first["next_cursor"]},
        )
    )
    assert [r["global_key"] for r in second["rows"]] == ["note-3"]
    person = json.dumps({"type": "class", "side": "label", "class_name": "person"})
    got = ok(client.get("/api/catalog/rows", params={"filter": person, "limit": 10_000}))
    want = {k for k, c in built["labeled_classes"].items() if "person" in c}
    assert {r["global_key"] for r in got["rows"]} == want


def test_rest_catalog_errors_and_injection(client: Client) -> None:
    message = assert_error(
        client.post("/api/catalog/rows", json={"filter": {"type": "metric", "name": "iou"}}),
        400,
    )
    assert "metric" in message
    assert_error(client.post("/api/catalog/rows", json={"sort": "id; DROP TABLE data_rows"}), 400)
    assert_error(
        client.post(
            "/api/catalog/rows",
            json={"filter": {"type": "class", "side": "label' OR 1=1 --", "class_name": None}},
        ),
        400,
    )
    assert_error(client.post("/api/catalog/rows", json={"bogus": 1}), 400)
    assert_error(client.get("/api/catalog/rows", params={"filter": "{not json"}), 400)
    assert_error(client.get("/api/catalog/rows", params={"dataset": "nope"}), 404)
    assert ok(client.get("/api/catalog/rows"))["total"] == 100 + len(NOTES)


# -- CLI -------------------------------------------------------------------------------------
def test_cli_catalog(built: dict[str, Any]) -> None:
    runner = CliRunner()
    ws = str(built["path"])
    done = runner.invoke(
        cli,
        ["catalog", "-w", ws, "--dataset", "default", "--unlabeled", "--limit", "1000", "--json"],
    )
    assert done.exit_code == 0, done.output
    body = json.loads(done.stdout)
    assert {r["global_key"] for r in body["rows"]} == built["unlabeled_images"]
    done = runner.invoke(cli, ["catalog", "-w", ws, "--class", "person", "--limit", "3"])
    assert done.exit_code == 0, done.output
    want = sum("person" in c for c in built["labeled_classes"].values())
    assert f"3 of {want} matching rows" in done.stderr
    assert len(done.stdout.splitlines()) == 3
    done = runner.invoke(cli, ["catalog", "-w", ws, "--counts"])
    assert done.exit_code == 0, done.output
    assert "default\t100\t75\t25" in done.stdout
    done = runner.invoke(cli, ["catalog", "-w", ws, "--filter", '{"type": "split", "values": []}'])
    assert isinstance(done.exception, es.InvalidQueryError)
    assert "split" in str(done.exception)
    done = runner.invoke(cli, ["catalog", "-w", ws, "--filter", "{not json"])
    assert isinstance(done.exception, es.InvalidQueryError)
    assert str(done.exception).startswith("--filter: malformed JSON")
    # --class and --filter together: all of them
    cat = '{"type": "dataset", "names": ["default"]}'
    done = runner.invoke(
        cli, ["catalog", "-w", ws, "--class", "dog", "--filter", cat, "--limit", "1000", "--json"]
    )
    assert done.exit_code == 0, done.output
    dogs = {k for k, c in built["labeled_classes"].items() if "dog" in c}
    assert {r["global_key"] for r in json.loads(done.stdout)["rows"]} == dogs
