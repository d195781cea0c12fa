"""Embedding spaces: custom vector import (NDJSON, .npy + ids, Parquet), all-or-nothing
errors naming file, line and field, compact storage, similarity search (anchors, vector,
mean/union) combined with filters, the Similar filter node, PCA projections."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import errorscope as es
from errorscope.core.query import And, Ids, Similar, TextContains
from errorscope.core.queryparse import filter_to_json, parse_filter
from errorscope.errors import InvalidInputError, InvalidQueryError
from errorscope.store.embeddings import EMBEDDINGS_DIR
from tests.conftest import snapshot

N, DIM = 60, 8


def _rows(ws: es.Workspace, n: int = N) -> list[int]:
    return ws.add_data_rows(
        [
            {
                "global_key": f"t{i}.txt",
                "media_type": "text",
                "text": f"row {i} {'even' * (i % 2 == 0)}",
            }
            for i in range(n)
        ]
    )


def _vectors(n: int = N, dim: int = DIM, seed: int = 0) -> np.ndarray[Any, np.dtype[np.float32]]:
    return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def _ndjson(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def exact(
    vectors: np.ndarray[Any, Any], ids: list[int], query: np.ndarray[Any, Any]
) -> list[tuple[int, float]]:
    """Cosine distances of every row to ``query``, best first (ties by id): the reference."""
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    q = query / np.linalg.norm(query)
    dist = 1.0 - unit.astype(np.float64) @ q.astype(np.float64)
    return sorted(zip(ids, dist.tolist(), strict=True), key=lambda t: (t[1], t[0]))


@pytest.fixture
def space(ws: es.Workspace, tmp_path: Path) -> tuple[list[int], np.ndarray[Any, Any]]:
    ids = _rows(ws)
    vecs = _vectors()
    recs = [{"id": i, "vector": v.tolist()} for i, v in zip(ids, vecs, strict=True)]
    ws.import_embeddings(_ndjson(tmp_path / "v.ndjson", recs), space="s")
    return ids, vecs


def test_ndjson_import_stores_compact_float32_files(
    ws: es.Workspace, space: tuple[list[int], np.ndarray[Any, Any]]
) -> None:
    ids, vecs = space
    [info] = ws.embedding_spaces()
    assert (info.name, info.dim, info.source, info.dtype, info.count) == (
        "s",
        DIM,
        "custom",
        "float32",
        N,
    )
    (directory,) = (ws.path / EMBEDDINGS_DIR).iterdir()
    stored = np.load(directory / "vectors.npy")
    assert stored.dtype == np.float32
    assert stored.shape == (N, DIM)
    assert np.array_equal(np.load(directory / "ids.npy"), np.asarray(sorted(ids)))
    order = np.argsort(ids)
    assert np.array_equal(stored, vecs[order])
    assert (directory / "vectors.npy").stat().st_size < N * DIM * 4 + 1024


def test_similar_by_rows_vector_and_union_equal_exact_search(
    ws: es.Workspace, space: tuple[list[int], np.ndarray[Any, Any]]
) -> None:
    ids, vecs = space
    got = ws.similar("s", rows=[ids[3]], k=10)
    ref = [r for r in exact(vecs, ids, vecs[3]) if r[0] != ids[3]][:10]
    assert [r.id for r in got] == [i for i, _ in ref]
    assert [r.distance for r in got] == pytest.approx([d for _, d in ref], abs=1e-5)
    assert got[0].global_key == f"t{ids.index(got[0].id)}.txt"
    # a raw vector: the row itself comes first at distance 0
    by_vec = ws.similar("s", vector=vecs[5].tolist(), k=3)
    assert by_vec[0].id == ids[5]
    assert by_vec[0].distance == pytest.approx(0, abs=1e-6)
    # mean of anchors: the mean of their unit vectors
    unit = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
    anchors = [ids[1], ids[2], ids[7]]
    mean = unit[[1, 2, 7]].mean(axis=0)
    ref = [r for r in exact(vecs, ids, mean) if r[0] not in anchors][:5]
    assert [r.id for r in ws.similar("s", rows=anchors, k=5)] == [i for i, _ in ref]
    # union: every row at its smallest distance to any anchor
    best: dict[int, float] = {}
    for a in (1, 2, 7):
        for i, d in exact(vecs, ids, vecs[a]):
            if i not in anchors:
                best[i] = min(best.get(i, 9.0), d)
    ref = sorted(best.items(), key=lambda t: (t[1], t[0]))[:5]
    union = ws.similar("s", rows=anchors, k=5, combine="union")
    assert [r.id for r in union] == [i for i, _ in ref]


def test_filtered_search_returns_only_matching_rows_best_first(
    ws: es.Workspace, space: tuple[list[int], np.ndarray[Any, Any]]
) -> None:
    ids, vecs = space
    even = [i for n, i in enumerate(ids) if n % 2 == 0]
    got = ws.similar("s", rows=[ids[1]], k=8, filter=TextContains("even"))
    assert {r.id for r in got} <= set(even)
    ref = [r for r in exact(vecs, ids, vecs[1]) if r[0] in set(even)][:8]
    assert [r.id for r in got] == [i for i, _ in ref]
    assert [r.distance for r in got] == sorted(r.distance for r in got)
    # the JSON form, combined with an id list
    subset = even[:5]
    got = ws.similar("s", rows=[ids[1]], k=20, filter={"type": "ids", "ids": subset})
    assert sorted(r.id for r in got) == sorted(subset)


def test_similar_filter_node_parses_and_resolves_to_ids(
    ws: es.Workspace, space: tuple[list[int], np.ndarray[Any, Any]]
) -> None:
    ids, _ = space
    node = parse_filter({"type": "similar", "space": "s", "anchors": [ids[0], ids[4]], "k": 6})
    assert node == Similar("s", (ids[0], ids[4]), 6)
    assert parse_filter(filter_to_json(node)) == node
    want = [r.id for r in ws.similar("s", rows=[ids[0], ids[4]], k=6)]
    # used inside another search's filter: only those rows (without anchor 9) come back
    got = ws.similar("s", rows=[ids[9]], k=50, filter=And((node, TextContains("row"))))
    assert sorted(r.id for r in got) == sorted(set(want) - {ids[9]})
    with pytest.raises(InvalidQueryError, match="anchors"):
        parse_filter({"type": "similar", "space": "s", "anchors": ["x"]})
    with pytest.raises(InvalidQueryError, match="1 to 20"):
        parse_filter({"type": "similar", "space": "s", "anchors": list(range(21))})
    assert isinstance(Ids((1,)), Ids)


def test_npy_with_key_list_and_parquet_and_float16(ws: es.Workspace, tmp_path: Path) -> None:
    ids = _rows(ws)
    vecs = _vectors()
    np.save(tmp_path / "v.npy", vecs)
    (tmp_path / "keys.txt").write_text("".join(f"t{i}.txt\n" for i in range(N)))
    a = ws.import_embeddings(tmp_path / "v.npy", ids=tmp_path / "keys.txt", space="npy")
    table = pa.table({"id": pa.array(ids, pa.int64()), "vector": [v.tolist() for v in vecs]})
    pq.write_table(table, tmp_path / "v.parquet")
    b = ws.import_embeddings(tmp_path / "v.parquet", space="pq", dtype="float16")
    assert (a.count, b.count, a.dtype, b.dtype) == (N, N, "float32", "float16")
    r1 = [r.id for r in ws.similar("npy", rows=[ids[2]], k=10)]
    r2 = [r.id for r in ws.similar("pq", rows=[ids[2]], k=10)]
    # float16 keeps the order of well-separated neighbours
    assert len(set(r1) & set(r2)) >= 9
    with pytest.raises(es.ConflictError):
        ws.import_embeddings(tmp_path / "v.parquet", space="pq")
    ws.import_embeddings(tmp_path / "v.parquet", space="pq", replace=True)
    assert ws.embedding_space("pq").dtype == "float32"
    assert len(list((ws.path / EMBEDDINGS_DIR).iterdir())) == 2
    ws.delete_embedding_space("npy")
    assert [s.name for s in ws.embedding_spaces()] == ["pq"]


def _fails(ws: es.Workspace, call: Callable[[], object]) -> InvalidInputError:
    before = snapshot(ws)
    with pytest.raises(InvalidInputError) as info:
        call()
    assert snapshot(ws) == before
    assert ws.embedding_spaces() == []
    root = ws.path / EMBEDDINGS_DIR
    assert not root.exists() or not any(root.iterdir())
    return info.value


@pytest.mark.parametrize(
    ("line3", "field", "message"),
    [
        ({"id": "ID", "vector": [1.0, 2.0]}, "vector", "2 dimensions, expected 3"),
        ({"id": "ID", "vector": [1.0, float("nan"), 2.0]}, "vector", "NaN"),
        ({"id": "ID", "vector": [1.0, float("inf"), 2.0]}, "vector", "inf"),
        ({"id": 999_999, "vector": [1.0, 2.0, 3.0]}, "id", "unknown data row id 999999"),
        ({"global_key": "nope.txt", "vector": [1.0, 2.0, 3.0]}, "global_key", "unknown global key"),
        ({"id": "FIRST", "vector": [1.0, 2.0, 3.0]}, "id", "has a vector already"),
        ({"vector": [1.0, 2.0, 3.0]}, "id", "'id' or a 'global_key'"),
        ({"id": "ID", "vector": "abc"}, "vector", "list of numbers"),
    ],
)
def test_bad_ndjson_names_file_line_field_and_writes_nothing(
    ws: es.Workspace, tmp_path: Path, line3: dict[str, Any], field: str, message: str
) -> None:
    ids = _rows(ws, 5)
    line3 = {k: (ids[2] if v == "ID" else ids[0] if v == "FIRST" else v) for k, v in line3.items()}
    path = tmp_path / "bad.ndjson"
    lines = [
        json.dumps({"id": ids[0], "vector": [0.1, 0.2, 0.3]}),
        json.dumps({"global_key": "t1.txt", "vector": [0.3, 0.2, 0.1]}),
        json.dumps(line3),
        json.dumps({"id": ids[3], "vector": [1, 1, 1]}),
    ]
    path.write_text("\n".join(lines) + "\n")
    err = _fails(ws, lambda: ws.import_embeddings(path, space="bad"))
    assert (err.path, err.line, err.field) == (str(path), 3, field)
    assert message in str(err)
    assert f"{path}:3" in str(err)


def test_bad_npy_and_parquet_name_the_row(ws: es.Workspace, tmp_path: Path) -> None:
    ids = _rows(ws, 4)
    vecs = _vectors(4, 3)
    vecs[2, 1] = np.nan
    np.save(tmp_path / "v.npy", vecs)
    (tmp_path / "ids.txt").write_text("".join(f"{i}\n" for i in ids))
    err = _fails(
        ws, lambda: ws.import_embeddings(tmp_path / "v.npy", ids=tmp_path / "ids.txt", space="x")
    )
    assert (err.location, err.field) == ("row 3", "vector")
    np.save(tmp_path / "v.npy", _vectors(4, 3))
    (tmp_path / "ids.txt").write_text(f"{ids[0]}\n{ids[1]}\nmissing.txt\n{ids[3]}\n")
    err = _fails(
        ws, lambda: ws.import_embeddings(tmp_path / "v.npy", ids=tmp_path / "ids.txt", space="x")
    )
    assert (err.path, err.line, err.field) == (str(tmp_path / "ids.txt"), 3, "global_key")
    table = pa.table(
        {"id": pa.array(ids, pa.int64()), "vector": [[1.0, 2.0], [1.0, 2.0], [1.0], [3.0, 4.0]]}
    )
    pq.write_table(table, tmp_path / "v.parquet")
    err = _fails(ws, lambda: ws.import_embeddings(tmp_path / "v.parquet", space="x"))
    assert (err.path, err.location, err.field) == (str(tmp_path / "v.parquet"), "row 3", "vector")
    big = np.zeros((1, 2049), np.float32)
    np.save(tmp_path / "big.npy", big)
    (tmp_path / "one.txt").write_text(f"{ids[0]}\n")
    err = _fails(
        ws, lambda: ws.import_embeddings(tmp_path / "big.npy", ids=tmp_path / "one.txt", space="x")
    )
    assert "2049 dimensions" in str(err)


def test_query_errors(ws: es.Workspace, space: tuple[list[int], np.ndarray[Any, Any]]) -> None:
    ids, _ = space
    with pytest.raises(InvalidQueryError, match="exactly one"):
        ws.similar("s", k=3)
    with pytest.raises(InvalidQueryError, match="dimensions"):
        ws.similar("s", vector=[1.0, 2.0], k=3)
    with pytest.raises(InvalidQueryError, match="no vector"):
        ws.similar("s", rows=[10**9], k=3)
    with pytest.raises(InvalidQueryError, match="text model"):
        ws.similar("s", text="hello", k=3)
    with pytest.raises(es.NotFoundError, match="no embedding space"):
        ws.similar("nope", rows=[ids[0]])


def test_pca_projection_matches_sklearn_and_is_cached(
    ws: es.Workspace, space: tuple[list[int], np.ndarray[Any, Any]]
) -> None:
    from sklearn.decomposition import PCA

    ids, vecs = space
    proj = ws.projection("s", "pca")
    order = np.argsort(ids)
    ref = PCA(2, svd_solver="full").fit_transform(vecs[order].astype(np.float64))
    for axis in range(2):
        sign = np.sign(ref[:, axis] @ proj.xy[:, axis])
        assert np.allclose(proj.xy[:, axis], sign * ref[:, axis], atol=1e-4)
    assert np.array_equal(proj.ids, np.sort(ids))
    raw = proj.to_bytes()
    assert len(raw) == N * 16
    assert np.array_equal(np.frombuffer(raw[: N * 8], "<i8"), proj.ids)
    cached = next((ws.path / EMBEDDINGS_DIR).iterdir()) / "projection-pca.npy"
    assert cached.exists()
    again = ws.projection("s", "pca", recompute=True)
    assert np.allclose(again.xy, proj.xy)
    with pytest.raises(InvalidQueryError, match="method"):
        ws.projection("s", "tsne")
