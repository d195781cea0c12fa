"""The in-memory row index of a run: filters, sorts, pages and aggregations in numpy.

The gallery asks the same kind of question on every click — which rows match, how many,
the next 50 in some order, and how they are distributed — over up to millions of rows.
:class:`RowIndex` holds what those questions read, as flat numpy arrays built once from
the store (:mod:`errorscope.store.queryindex`):

* per data row, in id order: id, split and dataset codes, and every row metric of
  :data:`~errorscope.core.query.ROW_METRICS` (NaN where a row has no value; TP/FP/FN
  are 0 there);
* per (row, side, class) with a label or a prediction: counts (``n``) and kept counts
  (predictions not ignored by the evaluation), sorted by (side, class, row);
* per (row, class) with an evaluated object: TP/FP/FN, IoU sum and the per-class
  metrics, sorted by (class, row);
* per (row, confusion-matrix cell): object counts, sorted by (gt, pred, row).

A filter evaluates to a boolean mask over the rows. Leaves the index does not hold
(metadata, text, object-level conditions, custom metrics) are answered by a callback
with the ids of the rows that match, so every leaf is two-valued and ``Not`` is plain
negation — the same semantics as the SQL of :mod:`errorscope.store.query`, which the
tests hold it to. Pages are selected in O(n) with a partition, never a full sort, and
ties are broken by id because every array is in id order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from errorscope.core.query import (
    And,
    ClassPresent,
    Confusion,
    Dataset,
    Filter,
    Ids,
    Not,
    Or,
    RowMetric,
    Split,
)

__all__ = [
    "CELL_COLUMNS",
    "COUNT_COLUMNS",
    "GROUP_STRIDE",
    "SCORE_COLUMNS",
    "ClassTable",
    "LeafIds",
    "RowIndex",
    "bin_counts",
    "select_page",
]

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
Mask = npt.NDArray[np.bool_]

#: Answers a leaf the index does not hold: the ids of the rows that match it.
LeafIds = Callable[[Filter], I64]

SIDES = ("label", "prediction")
#: Group codes of two parts: ``major * GROUP_STRIDE + minor`` (side and class id in
#: :attr:`RowIndex.classes`; gt and predicted class id + 1, 0 for none, in
#: :attr:`RowIndex.confusion`).
GROUP_STRIDE = 2**32
#: The columns the aggregations sum: of :attr:`RowIndex.classes` (per-class counts),
#: :attr:`RowIndex.per_class` (metric bars) and :attr:`RowIndex.confusion` (cells).
COUNT_COLUMNS = ("kept", "has_kept")
SCORE_COLUMNS = ("tp", "fp", "fn", "iou_sum")
CELL_COLUMNS = ("n",)


@dataclass
class ClassTable:
    """Rows of a per-(row, group) table sorted by group then row: ``row`` holds row
    positions (into :attr:`RowIndex.ids`, of ``n_rows`` rows), ``group`` the group code,
    ``values`` the columns. Derived on construction: ``ptr``, each group's slice (for
    "the rows of group g"), and a by-row view (``by_row`` entry order, ``indptr`` per
    row) so that aggregating over a few rows touches only their entries."""

    row: npt.NDArray[np.int32]
    group: npt.NDArray[np.int64]
    values: dict[str, F64]
    n_rows: int
    ptr: dict[int, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.group):
            starts = np.flatnonzero(np.r_[True, self.group[1:] != self.group[:-1]])
            ends = np.r_[starts[1:], len(self.group)].astype(np.int64)
        else:
            starts = ends = np.zeros(0, np.int64)
        self.codes = self.group[starts]
        self.ptr = {
            int(c): (int(s), int(e)) for c, s, e in zip(self.codes, starts, ends, strict=True)
        }
        self.dense = np.repeat(np.arange(len(starts), dtype=np.int32), ends - starts)
        self.by_row = np.argsort(self.row, kind="stable")
        self.indptr = np.searchsorted(self.row[self.by_row], np.arange(self.n_rows + 1))
        self._totals: dict[str, F64] = {}
        self._by_row: dict[str, npt.NDArray[Any]] = {}
        self._plane_cache: dict[str, _Planes | None] = {}
        self._csr_cache: dict[str, Any] = {}
        self._split: tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], Mask] | None = None

    def rows_of(self, group: int) -> npt.NDArray[np.int32]:
        s, e = self.ptr.get(group, (0, 0))
        return self.row[s:e]

    def column_of(self, group: int, name: str) -> F64:
        s, e = self.ptr.get(group, (0, 0))
        return self.values[name][s:e]

    def entries(self, mask: Mask) -> npt.NDArray[np.intp] | None:
        """The positions, in the by-row view, of the entries of the rows in ``mask``
        (None: every entry): runs of consecutive positions, one per row."""
        rows = np.flatnonzero(mask)
        if len(rows) == self.n_rows:
            return None
        start = self.indptr[rows]
        length = self.indptr[rows + 1] - start
        total = int(length.sum())
        shift = np.repeat(start - np.r_[0, np.cumsum(length)[:-1]], length)
        found: npt.NDArray[np.intp] = np.arange(total) + shift
        return found

    def by_row_column(self, name: str) -> npt.NDArray[Any]:
        """A column in the by-row order (``""``: the dense group number), made on first
        use: reading a few rows' entries then reads consecutive memory."""
        if name not in self._by_row:
            source = self.dense if name == "" else self.values[name]
            self._by_row[name] = source[self.by_row]
        return self._by_row[name]

    def _sums(self, mask: Mask | None, columns: tuple[str, ...]) -> tuple[I64, dict[str, F64]]:
        """Per group: the rows in ``mask`` (None: all, cached) and the sums of ``columns``,
        from the entries of those rows (O(their entries))."""
        n = len(self.codes)
        if mask is None:
            if "" not in self._totals:
                self._totals[""] = np.bincount(self.dense, minlength=n).astype(np.float64)
            for c in columns:
                if c not in self._totals:
                    self._totals[c] = np.bincount(
                        self.dense, weights=self.values[c], minlength=n
                    ).astype(np.float64)
            return self._totals[""].astype(np.int64), {c: self._totals[c] for c in columns}
        idx = self.entries(mask)
        dense = self.dense if idx is None else self.by_row_column("")[idx]
        sums: dict[str, F64] = {}
        for c in columns:
            weights = self.values[c] if idx is None else self.by_row_column(c)[idx]
            sums[c] = np.bincount(dense, weights=weights, minlength=n).astype(np.float64)
        return np.bincount(dense, minlength=n).astype(np.int64), sums

    def _planes(self, name: str) -> _Planes | None:
        """The bit planes of ``name`` (``""``: presence) over the dense groups, made on
        first use; None for a column that is not a small non-negative integer."""
        if name not in self._plane_cache:
            self._plane_cache[name] = _Planes.of(self, name)
        return self._plane_cache[name]

    def _dense_csr(self, name: str) -> Any:
        """``name`` of the dense groups' entries as a (group, row) sparse matrix."""
        key = f"csr:{name}"
        if key not in self._csr_cache:
            from scipy.sparse import csr_array  # only float columns need it

            pos = self._layout()[0]
            self._csr_cache[key] = csr_array(
                (self.values[name][pos], (self.dense[pos], self.row[pos])),
                shape=(len(self.codes), self.n_rows),
            )
        return self._csr_cache[key]

    def _layout(self) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], Mask]:
        """Entry positions of the dense groups and of the sparse ones, and which groups
        are dense: those with at least one row in :data:`DENSE_FRACTION` of all rows,
        where a bitmap of the rows (n/8 bytes) is no bigger than a list of them."""
        if self._split is None:
            counts = np.bincount(self.dense, minlength=len(self.codes))
            dense_group = counts * DENSE_FRACTION >= max(self.n_rows, 1)
            on = dense_group[self.dense]
            self._split = (np.flatnonzero(on), np.flatnonzero(~on), dense_group)
        return self._split

    def _sums_bitmaps(self, mask: Mask, columns: tuple[str, ...]) -> tuple[I64, dict[str, F64]]:
        """:meth:`_sums` in O(groups x rows / 64), whatever the mask: dense groups by
        popcounts of their bit planes against the packed mask (a float column by a sparse
        product), sparse groups from their few entries."""
        n = len(self.codes)
        _, sparse_pos, _ = self._layout()
        words = pack_mask(mask)
        presence = self._planes("")
        assert presence is not None
        rows = presence.sums(words, n)
        sums: dict[str, F64] = {}
        for c in columns:
            planes = self._planes(c)
            if planes is not None:
                sums[c] = planes.sums(words, n)
            else:
                sums[c] = np.asarray(self._dense_csr(c) @ mask.astype(np.float64), np.float64)
        if len(sparse_pos):
            hit = sparse_pos[mask[self.row[sparse_pos]]]
            d = self.dense[hit]
            rows += np.bincount(d, minlength=n)
            for c in columns:
                sums[c] += np.bincount(d, weights=self.values[c][hit], minlength=n)
        return np.rint(rows).astype(np.int64), sums

    def prepare(self, columns: tuple[str, ...]) -> None:
        """Make the bitmaps that aggregating ``columns`` over many rows reads (else the
        first such aggregation makes them)."""
        for c in ("", *columns):
            if self._planes(c) is None:
                self._dense_csr(c)

    def grouped(self, mask: Mask, columns: tuple[str, ...]) -> tuple[I64, I64, dict[str, F64]]:
        """Over the entries of rows in ``mask``: each group present, how many rows it
        has, and the sums of ``columns``, in group order. A few rows are read entry by
        entry; many rows by popcounts over bitmaps (:meth:`_sums_bitmaps`)."""
        selected = int(mask.sum())
        if selected == self.n_rows:
            rows, sums = self._sums(None, columns)
        elif selected * FEW_ROWS < self.n_rows:
            rows, sums = self._sums(mask, columns)
        else:
            rows, sums = self._sums_bitmaps(mask, columns)
        present = rows > 0
        return (
            self.codes[present],
            rows[present].astype(np.int64),
            {c: v[present] for c, v in sums.items()},
        )


#: A group gets bitmaps when it has a row in this many rows or more (see ClassTable).
DENSE_FRACTION = 32
#: Masks with fewer than one row in this many are aggregated entry by entry.
FEW_ROWS = 64


def pack_mask(mask: Mask) -> npt.NDArray[np.uint64]:
    """``mask`` as a little-endian bitmap of 64-bit words (zero padded)."""
    packed = np.packbits(mask, bitorder="little")
    pad = (-len(packed)) % 8
    if pad:
        packed = np.r_[packed, np.zeros(pad, np.uint8)]
    return packed.view(np.uint64)


@dataclass
class _Planes:
    """Bitmaps of a :class:`ClassTable` column over its dense groups: bit ``b`` of the
    column's value in each row of group ``group[i]`` is plane ``i`` (``weight[i] =
    2**b``), so the column's sum over a mask is a weighted popcount of plane & mask.
    The presence column (``""``) has one plane per group, of weight 1."""

    bits: npt.NDArray[np.uint64]  # (planes, words)
    group: npt.NDArray[np.intp]
    weight: F64

    @classmethod
    def of(cls, table: ClassTable, name: str) -> _Planes | None:
        _, _, dense_group = table._layout()
        column = None if name == "" else table.values[name]
        planes: list[npt.NDArray[np.uint64]] = []
        owner: list[int] = []
        weight: list[float] = []
        for g in np.flatnonzero(dense_group):  # each group is a slice of the table
            s, e = table.ptr[int(table.codes[g])]
            r = table.row[s:e]
            if column is None:
                v = np.ones(e - s, np.int64)
            else:
                raw = column[s:e]
                if raw.min() < 0 or raw.max() >= 2**31 or not np.array_equal(raw, np.floor(raw)):
                    return None
                v = raw.astype(np.int64)
            for b in range(int(v.max()).bit_length()):
                on = np.zeros(table.n_rows, bool)
                on[r[((v >> b) & 1).astype(bool)]] = True
                planes.append(pack_mask(on))
                owner.append(int(g))
                weight.append(float(2**b))
        words = (table.n_rows + 63) // 64
        bits = np.stack(planes) if planes else np.zeros((0, words), np.uint64)
        return cls(bits, np.asarray(owner, np.intp), np.asarray(weight, np.float64))

    def sums(self, words: npt.NDArray[np.uint64], n_groups: int) -> F64:
        """Per group, the column's sum over the rows set in ``words``."""
        counts = np.empty(len(self.bits), np.float64)
        for s in range(0, len(self.bits), 32):  # bounded temporaries
            counts[s : s + 32] = np.bitwise_count(self.bits[s : s + 32] & words).sum(
                axis=1, dtype=np.int64
            )
        out = np.bincount(self.group, weights=counts * self.weight, minlength=n_groups)
        return out.astype(np.float64)


@dataclass
class RowIndex:
    """See the module docstring. Class codes are class ids; ``class_ids`` maps names."""

    ids: I64
    global_keys: Any  # a pyarrow string array in id order (taken for a page only)
    split: npt.NDArray[np.int8]
    split_names: tuple[str, ...]
    dataset: npt.NDArray[np.int16]
    dataset_names: tuple[str, ...]
    metrics: dict[str, F64]
    class_ids: dict[str, int]
    classes: ClassTable  # group = side * GROUP_STRIDE + class id; values n, kept
    per_class: ClassTable  # group = class id; values tp, fp, fn, iou_sum, metrics
    confusion: ClassTable  # group = (gt + 1) * GROUP_STRIDE + (pred + 1), 0 = None; values n
    evaluated: bool = False  # the run has a stored evaluation
    #: Results computed from the index alone, kept with it (e.g. the projector's codes).
    derived: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        return len(self.ids)

    def prepare(self) -> None:
        """Make the bitmaps of the aggregated columns now (see :meth:`ClassTable.prepare`)."""
        self.classes.prepare(COUNT_COLUMNS)
        self.per_class.prepare(SCORE_COLUMNS)
        self.confusion.prepare(CELL_COLUMNS)

    def positions(self, ids: I64) -> npt.NDArray[np.intp]:
        """Positions of those ``ids`` that are rows of the index."""
        ids = np.asarray(ids, np.int64)
        pos = np.searchsorted(self.ids, ids)
        pos = np.minimum(pos, max(self.n - 1, 0))
        return pos[(self.n > 0) & (self.ids[pos] == ids)] if self.n else pos[:0]

    def mask_of_ids(self, ids: I64) -> Mask:
        mask = np.zeros(self.n, bool)
        mask[self.positions(ids)] = True
        return mask

    def class_code(self, name: str) -> int:
        """The class id of ``name``, -1 for a class nobody uses (it matches nothing)."""
        return self.class_ids.get(name, -1)

    # -- filters ---------------------------------------------------------------------
    def mask(self, f: Filter | None, leaf: LeafIds) -> Mask:
        """The rows matching ``f`` (all rows for None)."""
        if f is None:
            return np.ones(self.n, bool)
        if isinstance(f, And):
            out = np.ones(self.n, bool)
            for x in f.filters:
                out &= self.mask(x, leaf)
            return out
        if isinstance(f, Or):
            out = np.zeros(self.n, bool)
            for x in f.filters:
                out |= self.mask(x, leaf)
            return out
        if isinstance(f, Not):
            return ~self.mask(f.filter, leaf)
        if isinstance(f, Split):
            return _any_of(self.split, [i for i, s in enumerate(self.split_names) if s in f.values])
        if isinstance(f, Dataset):
            return _any_of(
                self.dataset, [i for i, s in enumerate(self.dataset_names) if s in f.names]
            )
        if isinstance(f, Ids):
            return self.mask_of_ids(np.asarray(f.ids, np.int64))
        if isinstance(f, ClassPresent):
            return self._class_present(f)
        if isinstance(f, RowMetric):
            return self._metric(f)
        if isinstance(f, Confusion):
            gt = 0 if f.gt_class is None else self.class_code(f.gt_class) + 1
            pred = 0 if f.pred_class is None else self.class_code(f.pred_class) + 1
            out = np.zeros(self.n, bool)
            unknown = (f.gt_class is not None and gt == 0) or (
                f.pred_class is not None and pred == 0
            )
            if not unknown:
                out[self.confusion.rows_of(gt * GROUP_STRIDE + pred)] = True
            return out
        return self.mask_of_ids(leaf(f))

    def _class_present(self, f: ClassPresent) -> Mask:
        side = SIDES.index(f.side)
        out = np.zeros(self.n, bool)
        if f.class_name is None:
            lo, hi = side * GROUP_STRIDE, (side + 1) * GROUP_STRIDE
            sel = (self.classes.group >= lo) & (self.classes.group < hi)
            out[self.classes.row[sel]] = True
        else:
            code = self.class_code(f.class_name)
            if code >= 0:
                out[self.classes.rows_of(side * GROUP_STRIDE + code)] = True
        return out if f.present else ~out

    def _metric(self, f: RowMetric) -> Mask:
        if f.class_name is None:
            return _in_range(self.metrics[f.name], f)
        out = np.zeros(self.n, bool)
        code = self.class_code(f.class_name)
        if code >= 0:
            values = self.per_class.column_of(code, f.name)
            out[self.per_class.rows_of(code)[_in_range(values, f)]] = True
        return out

    def class_metric(self, name: str, class_name: str) -> F64:
        """``name`` of ``class_name`` per row (NaN where the class has no object)."""
        out = np.full(self.n, np.nan)
        code = self.class_code(class_name)
        if code >= 0:
            out[self.per_class.rows_of(code)] = self.per_class.column_of(code, name)
        return out


def _any_of(codes: npt.NDArray[Any], wanted: list[int]) -> Mask:
    """``codes`` equal to one of a few ``wanted`` codes (faster than ``np.isin`` here)."""
    out = np.zeros(len(codes), bool)
    for c in wanted:
        out |= codes == c
    return out


def _in_range(values: F64, f: RowMetric) -> Mask:
    with np.errstate(invalid="ignore"):
        out = ~np.isnan(values)
        if f.lo is not None:
            out &= values >= f.lo if f.lo_inclusive else values > f.lo
        if f.hi is not None:
            out &= values <= f.hi if f.hi_inclusive else values < f.hi
    return out


def select_page(
    mask: Mask,
    key: F64 | None,
    *,
    descending: bool,
    limit: int,
    after: tuple[float | None, int] | None,
    ids: I64,
) -> npt.NDArray[np.intp]:
    """Positions of the next ``limit`` matching rows in the order ``key`` (NaN last),
    then id, strictly after ``after = (key value or None, id)``; ``key=None`` orders by
    id alone. O(n): a partition finds the page, only the page is sorted."""
    pos = np.flatnonzero(mask)
    if key is None:
        if after is not None:
            pos = pos[ids[pos] > after[1]]
        return pos[:limit]
    k = key[pos]
    null = np.isnan(k)
    s = -k if descending else k
    if after is not None:
        value, last_id = after
        later = ids[pos] > last_id
        if value is None:
            keep = null & later
        else:
            sv = -float(value) if descending else float(value)
            with np.errstate(invalid="ignore"):
                keep = null | (s > sv) | ((s == sv) & later)
        pos, s, null = pos[keep], s[keep], null[keep]
    valued, sv_all = pos[~null], s[~null]
    if len(valued) > limit:
        t = np.partition(sv_all, limit - 1)[limit - 1]
        below = valued[sv_all < t]
        below = below[np.argsort(sv_all[sv_all < t], kind="stable")]
        ties = valued[sv_all == t][: limit - len(below)]  # already in id order
        return np.concatenate([below, ties])
    order = valued[np.argsort(sv_all, kind="stable")]
    return np.concatenate([order, pos[null][: limit - len(order)]])


def bin_counts(values: F64, edges: list[float]) -> list[int]:
    """How many ``values`` fall in each bin ``[edges[i], edges[i+1])``, the last bin
    closed; NaN and values outside are in none. The same comparisons as the bins'
    :class:`~errorscope.core.query.RowMetric` filters."""
    bins = len(edges) - 1
    v = values[~np.isnan(values)]
    e = np.asarray(edges, np.float64)
    v = v[(v >= e[0]) & (v <= e[-1])]
    b = np.searchsorted(e, v, side="right") - 1
    b = np.minimum(b, bins - 1)
    return [int(x) for x in np.bincount(b, minlength=bins)[:bins]]
