"""core.stats against scipy and hand-checked definitions (exact tests, corrections, intervals)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from errorscope.core import stats


def test_wilson_matches_closed_form_and_edges() -> None:
    lo, hi = stats.wilson_interval([0, 5, 10, 0], [10, 10, 10, 0])
    # Wilson at k=5, n=10, z=1.96: 0.2366 .. 0.7634 (textbook value)
    assert lo[1] == pytest.approx(0.2366, abs=1e-4)
    assert hi[1] == pytest.approx(0.7634, abs=1e-4)
    assert lo[0] == 0.0 < hi[0] < 0.35
    assert 0.65 < lo[2] < hi[2] == pytest.approx(1.0)
    assert np.isnan(lo[3])
    assert np.isnan(hi[3])
    binom = sps.binomtest(5, 10).proportion_ci(method="wilson")
    assert (lo[1], hi[1]) == pytest.approx((binom.low, binom.high))


def test_newcombe_contains_difference_and_shrinks_with_n() -> None:
    lo, hi = stats.newcombe_interval([8, 80], [10, 100], [2, 20], [10, 100])
    assert lo[0] < 0.6 < hi[0]
    assert lo[1] < 0.6 < hi[1]
    assert hi[1] - lo[1] < hi[0] - lo[0]
    # Newcombe (1998) table II example: 56/70 - 48/80 -> 0.0524 .. 0.3339
    lo2, hi2 = stats.newcombe_interval(56, 70, 48, 80)
    assert float(lo2) == pytest.approx(0.0524, abs=1e-4)
    assert float(hi2) == pytest.approx(0.3339, abs=1e-4)


def test_fisher_greater_equals_scipy() -> None:
    rng = np.random.default_rng(1)
    n_in = rng.integers(1, 40, 50)
    n_out = rng.integers(1, 200, 50)
    k_in = rng.integers(0, n_in + 1)
    k_out = rng.integers(0, n_out + 1)
    got = stats.fisher_greater(k_in, n_in, k_out, n_out)
    for i in range(50):
        table = [[k_in[i], n_in[i] - k_in[i]], [k_out[i], n_out[i] - k_out[i]]]
        want = sps.fisher_exact(table, alternative="greater").pvalue
        assert got[i] == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_holm_and_bh_by_hand_and_against_scipy() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    # Holm: sorted 0.005,0.01,0.03,0.04,0.5 times 5,4,3,2,1 -> 0.025,0.04,0.09,0.08->0.09,0.5
    assert stats.holm(p).tolist() == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.5])
    assert stats.benjamini_hochberg(p) == pytest.approx(sps.false_discovery_control(p))
    assert stats.holm([]).size == 0


def test_bootstrap_prf_point_and_interval() -> None:
    rng = np.random.default_rng(0)
    counts = np.column_stack(
        [rng.integers(0, 5, 300), rng.integers(0, 2, 300), rng.integers(0, 2, 300)]
    )
    est = stats.bootstrap_prf(counts, n_boot=400, seed=3)
    tp, fp, fn = counts.sum(axis=0)
    assert est["precision"].value == pytest.approx(tp / (tp + fp))
    assert est["f1"].value == pytest.approx(2 * tp / (2 * tp + fp + fn))
    for e in est.values():
        assert e.lo < e.value < e.hi
        assert e.hi - e.lo < 0.1
    again = stats.bootstrap_prf(counts, n_boot=400, seed=3)
    assert again == est  # seeded: reproducible


def test_paired_delta_of_identical_runs_is_exactly_zero() -> None:
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 4, (200, 3))
    new, old, delta = stats.paired_bootstrap_delta(counts, counts, n_boot=200)
    assert new == old
    assert (delta.value, delta.lo, delta.hi) == (0.0, 0.0, 0.0)
    worse = counts.copy()
    worse[:, 1] += 2  # two more false positives per row
    _n, _o, d = stats.paired_bootstrap_delta(worse, counts, n_boot=200)
    assert d.hi < 0.0


def test_bootstrap_ap_equals_all_point_ap_and_brackets_it() -> None:
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(5)
    n = 400
    is_tp = rng.random(n) < 0.6
    score = np.where(is_tp, rng.random(n) * 0.5 + 0.5, rng.random(n))
    row = rng.integers(0, 80, n)
    gt_rows = row[is_tp]  # every ground truth detected: AP = sklearn's AP (with interpolation)
    est = stats.bootstrap_ap(row, score, is_tp, gt_rows, n_boot=100)
    # all-point interpolated AP >= step AP of sklearn, and equal when precision is monotone
    assert est.value >= average_precision_score(is_tp, score) - 1e-12
    assert est.lo <= est.value <= est.hi
    assert np.isnan(stats.bootstrap_ap([], [], [], []).value)
