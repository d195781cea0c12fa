"""Embeddings through the CLI and the REST API on the real voc100 workspace, each checked
against the SDK; the Similar filter node inside a run query."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

import errorscope as es
from errorscope.cli import cli
from errorscope.core.query import And, ClassPresent, RowMetric, Similar
from errorscope.errors import InvalidQueryError
from errorscope.server import create_app
from tests.conftest import load_voc100
from tests.test_server import Client, assert_error, ok

pytestmark = pytest.mark.shared_data

DIM = 16


@pytest.fixture(scope="module")
def voc_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """voc100 with the real detector evaluated, and 16-d vectors for its 100 images in an
    NDJSON file keyed by global key (vectors: noisy copies of one centre per first class,
    so neighbours mostly share a class)."""
    root = tmp_path_factory.mktemp("embcli")
    path = root / "ws"
    with es.open_workspace(path) as ws:
        load_voc100(ws)
        ws.evaluate("det")
        rows = ws.data_rows()
        labels = ws.labels()
    first: dict[int, str] = {}
    for r, c in zip(
        labels.column("data_row_id").to_pylist(),
        labels.column("class_name").to_pylist(),
        strict=True,
    ):
        first.setdefault(int(r), c)
    rng = np.random.default_rng(7)
    centres = {c: rng.normal(size=DIM) for c in sorted(set(first.values()))}
    with (root / "vectors.ndjson").open("w") as fh:
        for rid, key in zip(
            rows.column("id").to_pylist(), rows.column("global_key").to_pylist(), strict=True
        ):
            v = centres[first[rid]] + 0.5 * rng.normal(size=DIM)
            fh.write(json.dumps({"global_key": key, "vector": v.tolist()}) + "\n")
    result = CliRunner().invoke(
        cli, ["import", "embeddings", str(root / "vectors.ndjson"), "-w", str(path), "--space", "v"]
    )
    assert result.exit_code == 0, result.output
    assert "100 vectors of 16 dimensions" in result.output
    return path


@pytest.fixture
def voc(voc_path: Path) -> Iterator[es.Workspace]:
    with es.open_workspace(voc_path) as ws:
        yield ws


def _cli(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_cli_similar_with_filters_equals_the_sdk(voc_path: Path) -> None:
    with es.open_workspace(voc_path) as ws:
        anchor = int(ws.data_rows().column("id")[0].as_py())
        want_all = [r.to_json() for r in ws.similar("v", rows=[anchor], k=7)]
        want_fp = [
            r.to_json()
            for r in ws.similar("v", rows=[anchor], k=7, filter=RowMetric("fp", 1), run="det")
        ]
        want_person = [
            r.to_json()
            for r in ws.similar("v", rows=[anchor], k=5, filter=ClassPresent("label", "person"))
        ]
    w = str(voc_path)
    out = json.loads(
        _cli("similar", "-w", w, "--space", "v", "--rows", str(anchor), "--k", "7", "--json")
    )
    assert out["rows"] == want_all
    out = json.loads(
        _cli(
            "similar",
            "-w",
            w,
            "--space",
            "v",
            "--rows",
            str(anchor),
            "--k",
            "7",
            "--run",
            "det",
            "--where",
            "fp>=1",
            "--json",
        )
    )
    assert out["rows"] == want_fp
    assert want_fp != want_all[: len(want_fp)] or len(want_fp) < 7
    out = json.loads(
        _cli(
            "similar",
            "-w",
            w,
            "--space",
            "v",
            "--rows",
            str(anchor),
            "--k",
            "5",
            "--class",
            "person",
            "--json",
        )
    )
    assert out["rows"] == want_person
    text = _cli("similar", "-w", w, "--space", "v", "--rows", str(anchor), "--k", "3")
    assert len(text.strip().splitlines()) == 3
    bad = CliRunner().invoke(
        cli, ["similar", "-w", w, "--space", "v", "--rows", "1", "--where", "fp>=1"]
    )
    assert isinstance(bad.exception, InvalidQueryError)
    assert "--run" in str(bad.exception)


def test_cli_spaces_and_project(voc_path: Path, tmp_path: Path) -> None:
    w = str(voc_path)
    spaces = json.loads(_cli("spaces", "-w", w, "--json"))["spaces"]
    assert [(s["name"], s["count"], s["dim"], s["source"]) for s in spaces] == [
        ("v", 100, 16, "custom")
    ]
    out = _cli(
        "project", "-w", w, "--space", "v", "--method", "pca", "--output", str(tmp_path / "p.csv")
    )
    assert "100 points" in out
    with (tmp_path / "p.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    with es.open_workspace(voc_path) as ws:
        proj = ws.projection("v", "pca")
    assert [int(r["id"]) for r in rows] == proj.ids.tolist()
    assert np.allclose([[float(r["x"]), float(r["y"])] for r in rows], proj.xy, atol=1e-4)


def test_similar_filter_node_in_a_run_query(voc: es.Workspace) -> None:
    anchors = [int(i) for i in voc.data_rows().column("id").to_pylist()[:2]]
    near = {r.id for r in voc.similar("v", rows=anchors, k=30)}
    fp_rows = {r.id for r in voc.query("det", RowMetric("fp", 1), limit=1000).rows}
    page = voc.query("det", And((Similar("v", tuple(anchors), 30), RowMetric("fp", 1))), limit=1000)
    assert {r.id for r in page.rows} == near & fp_rows
    assert page.total == len(near & fp_rows)
    as_json = {"type": "similar", "space": "v", "anchors": anchors, "k": 30}
    assert {r.id for r in voc.query("det", as_json, limit=1000).rows} == near


@pytest.fixture(scope="module")
def client(voc_path: Path) -> Iterator[tuple[Client, dict[str, Any]]]:
    with es.open_workspace(voc_path) as ws:
        ids = [int(i) for i in ws.data_rows().column("id").to_pylist()]
        expected = {
            "spaces": [s.to_json() for s in ws.embedding_spaces()],
            "near": [r.to_json() for r in ws.similar("v", rows=ids[3:5], k=9)],
            "near_fn": [
                r.to_json()
                for r in ws.similar(
                    "v",
                    rows=ids[3:5],
                    k=9,
                    filter={"type": "metric", "name": "fn", "lo": 1},
                    run="det",
                )
            ],
            "union": [r.to_json() for r in ws.similar("v", rows=ids[3:5], k=9, combine="union")],
            "proj": ws.projection("v", "pca"),
            "ids": ids,
        }
    c = Client(create_app(voc_path))
    yield c, expected
    c.close()


def test_api_spaces_and_similar(client: tuple[Client, dict[str, Any]]) -> None:
    c, exp = client
    assert ok(c.get("/api/embeddings")) == {"spaces": exp["spaces"]}
    anchors = exp["ids"][3:5]
    body = ok(c.post("/api/embeddings/v/similar", json={"anchors": anchors, "k": 9}))
    assert body["rows"] == exp["near"]
    body = ok(
        c.post(
            "/api/embeddings/v/similar",
            json={
                "anchors": anchors,
                "k": 9,
                "run": "det",
                "filter": {"type": "metric", "name": "fn", "lo": 1},
            },
        )
    )
    assert body["rows"] == exp["near_fn"]
    body = ok(
        c.post("/api/embeddings/v/similar", json={"anchors": anchors, "k": 9, "combine": "union"})
    )
    assert body["rows"] == exp["union"]
    vec = ok(c.post("/api/embeddings/v/similar", json={"vector": [1.0] * DIM, "k": 3}))
    assert len(vec["rows"]) == 3
    assert_error(c.post("/api/embeddings/v/similar", json={"anchors": anchors, "text": "x"}), 400)
    assert_error(c.post("/api/embeddings/v/similar", json={"vector": [1.0, 2.0]}), 400)
    assert_error(c.post("/api/embeddings/v/similar", json={"text": "cat"}), 400)
    assert_error(c.post("/api/embeddings/nope/similar", json={"anchors": anchors}), 404)
    assert_error(c.post("/api/embeddings/v/similar", json={"anchors": anchors, "bogus": 1}), 400)


def test_api_projection_is_compact_binary(client: tuple[Client, dict[str, Any]]) -> None:
    c, exp = client
    r = c.get("/api/embeddings/v/projection", params={"method": "pca"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    n = int(r.headers["x-points"])
    assert n == 100
    assert len(r.content) == n * 16
    ids = np.frombuffer(r.content[: 8 * n], "<i8")
    xy = np.frombuffer(r.content[8 * n :], "<f4").reshape(n, 2)
    assert np.array_equal(ids, exp["proj"].ids)
    assert np.allclose(xy, exp["proj"].xy)
    assert ok(c.post("/api/embeddings/v/projection", params={"method": "pca"})) == {
        "space": "v",
        "method": "pca",
        "points": 100,
    }
    assert_error(c.get("/api/embeddings/v/projection", params={"method": "tsne"}), 400)
